#pragma once
// The receiving end of SNMP traps and informs, with net-snmp, for `vigie-snmp --traps`
// (the agent's helper: plugins/snmp/wire.hpp). net-snmp stays behind this header: only
// trap_receiver.cpp includes it.
//
// What it accepts: SNMPv2c and SNMPv3 notifications (SNMPv2-Trap and InformRequest PDUs)
// from the configured devices only. A packet from an address that is no device's is
// dropped before it is parsed. A v2c notification must carry the device's community; a
// v3 one must be the device's user, authenticated and decrypted by net-snmp's USM, at
// the device's security level or above. Informs are acknowledged (the Response goes
// back to the sender) once they pass those checks, even when the device is over its
// rate, so that a device does not retry them into a storm.
//
// SNMPv3 engine ids. A v3 trap is authenticated under the sender's snmpEngineID (it is
// the authoritative engine), as snmptrapd's `createUser -e ENGINEID` says: the device's
// `engine_id` when configured; else the receiver learns it from the device's own traps:
// the engine id in the header of a v3 message from the device's address, which gets the
// device's user with keys localized to it, before net-snmp authenticates the message.
// Learning costs an attacker nothing it could use (without the passphrases the message
// fails authentication) and is bounded: at most kMaxLearnedEngines per device, those
// never authenticated given up first. A v3 inform is sent to the receiver's own engine
// id (the options' `engine_id`, with its `boots`): the sender discovers it, and the
// device's user exists under it as well. Two v3 devices that send informs with the
// same user name must share its passphrases.
//
// Bounds: each device has a token bucket (`rate` per second after a burst of `burst`);
// over it, notifications are counted and dropped. At most 64 variables of a trap are
// passed on, each value cut to 1,024 bytes.

#include <functional>
#include <string_view>

#include "common/protocol.hpp"
#include "common/status.hpp"
#include "plugins/snmp/wire.hpp"

namespace vigie::plugins::snmp {

inline constexpr std::size_t kMaxLearnedEngines = 4;

struct TrapHandlers {
  // Listening: the address with its port, and the receiver's engine id.
  std::function<void(std::string_view listen, std::string_view engine_id)> ready;
  std::function<void(const protocol::Event&)> event;  // an accepted notification
  std::function<void(const TrapCounters&)> counters;  // when they changed, at most so often
  std::function<void(std::string_view)> warning;      // a device that cannot be resolved...
};

// Listens and receives until `stop_fd` is readable and reads end of file (or fails):
// then returns OK. kInvalidArgument for options it cannot use, kUnavailable when it
// cannot listen (the address in use, not the machine's). Once per process: net-snmp's
// state is global.
Status receive_traps(const TrapListenOptions& options, int stop_fd, const TrapHandlers& handlers);

}  // namespace vigie::plugins::snmp
