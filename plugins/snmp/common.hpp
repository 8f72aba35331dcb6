#pragma once
// What the SNMP checks share (besides plugins/check_support.hpp): the "device" parameter, IF-MIB
// interfaces, their traffic rates, and the wording of a device that cannot be read.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/check.hpp"
#include "plugins/check_support.hpp"
#include "plugins/snmp/devices.hpp"
#include "plugins/snmp/rates.hpp"
#include "plugins/snmp/session.hpp"

namespace vigie::plugins::snmp {

// The device a check reads ("device" parameter), subscribed with `request`.
struct DeviceLink {
  std::shared_ptr<Devices> devices;
  std::string name;

  // Reads params["device"], checks it against env.devices and subscribes `request`.
  Status configure(const nlohmann::json& params, const Environment& env, const Request& request);
  // The device's latest answer; the error says "device fw (192.0.2.1:161): ...".
  Result<std::shared_ptr<const Snapshot>> snapshot(std::chrono::steady_clock::time_point deadline);
};

inline const Oid kSysObjectId = oid("1.3.6.1.2.1.1.2.0");
inline const Oid kSysUpTime = oid("1.3.6.1.2.1.1.3.0");
inline const Oid kSysName = oid("1.3.6.1.2.1.1.5.0");

struct Interface {
  std::uint32_t index = 0;
  std::string name;        // ifName, else ifDescr, else "if<index>"
  std::int64_t type = 0;   // IANAifType
  std::int64_t admin = 0;  // 1 up, 2 down, 3 testing
  std::int64_t oper = 0;   // 1 up ... 7 lowerLayerDown
  std::optional<std::uint64_t> in_octets, out_octets;
  int counter_bits = 64;  // 64 from ifHC*, 32 from ifIn/OutOctets
};

// GETBULK walks of the IF-MIB columns read_interfaces() needs.
Request if_mib_request(bool traffic);
std::vector<Interface> read_interfaces(const Snapshot& snapshot);
// up(1) and dormant(5) count as up (a dormant radio waits for traffic).
inline bool oper_up(std::int64_t oper) { return oper == 1 || oper == 5; }
std::string oper_name(std::int64_t oper);

// Adds "<name>_in_bps" / "<name>_out_bps" metrics for the interface when a rate is
// known (from the second poll on).
void add_traffic(RateTracker& rates, const Interface& interface, Outcome& outcome);

// sysUpTime in ticks, nullopt when missing.
std::optional<std::uint64_t> uptime_ticks(const Snapshot& snapshot);
// "45 d 03:00", "2 h 05 min".
std::string uptime_text(std::uint64_t ticks);

}  // namespace vigie::plugins::snmp
