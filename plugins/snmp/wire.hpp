#pragma once
// The protocol between the agent and its SNMP helper, vigie-snmp: one poll per run of
// the helper. The agent writes a PollRequest on the helper's stdin (JSON, with the
// communities and passphrases: never on its command line, which any local user can
// read); the helper answers one JSON line per job on its stdout as each job ends.
//
// The helper keeps net-snmp, and the shared OpenSSL it loads, out of the agent's
// process: an agent that polls no device maps neither, and a fault in the SNMP library
// costs one poll, not the agent.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.hpp"
#include "common/status.hpp"
#include "plugins/snmp/session.hpp"

namespace vigie::plugins::snmp {

struct PollRequest {
  struct Job {
    Target target;
    Request request;
  };
  std::vector<Job> jobs;
  std::chrono::milliseconds budget{0};  // the poll ends this long after it starts
  std::size_t max_varbinds = 20000;
  std::size_t max_in_flight = kMaxInFlight;
};

std::string encode_request(const PollRequest& request);
// kInvalidArgument naming the field that is missing or wrong.
Result<PollRequest> decode_request(std::string_view text);

// One job's outcome: a line without its newline.
std::string encode_result(std::size_t job, const Result<Snapshot>& result);
struct JobResult {
  std::size_t job = 0;
  Result<Snapshot> result = Status::internal("no result");
};
// kCorruption naming what is wrong with the line.
Result<JobResult> decode_result(std::string_view line);

// Where the helper is: next to the running program (a build tree, or a copy of both), in
// the libexec folder beside its bin folder (whatever the prefix), or where the build
// meant to install it. kUnavailable naming every place it looked.
Result<std::string> helper_path();

// What open_session() refuses before any packet is sent (kInvalidArgument), so that
// the agent says it at once rather than after a run of the helper.
Status validate(const Target& target);

// The helper's receiving mode, `vigie-snmp --traps`: one long-lived process that the
// agent starts, supervises and restarts. The agent writes TrapListenOptions on its
// stdin as one line (the devices' communities and passphrases with them: never on the
// command line) and keeps stdin open; the helper exits when it closes (the agent is
// gone). The helper writes one line per accepted trap or inform on its stdout (an
// event, as in a report, without its check), its counters when they changed, and a
// first line once it listens.

// A device traps are accepted from: its source address must be one of the addresses
// `target.host` resolves to, and it must know the community, or be the v3 user with its
// passphrases at the device's security level (authPriv when a privacy passphrase is
// set, authNoPriv with auth only).
struct TrapDevice {
  std::string name;
  Target target;
  // The device's snmpEngineID (bytes), which its v3 traps are authenticated under;
  // "": learned from the device's own traps (see trap_receiver.hpp).
  std::string engine_id;
};

struct TrapListenOptions {
  std::string listen = "0.0.0.0:10162";  // ADDR:PORT or [ADDR]:PORT; port 0: any free one
  // The receiver's own snmpEngineID (bytes): the one v3 informs are sent to.
  std::string engine_id;
  std::uint32_t boots = 1;                         // its snmpEngineBoots: one more at each start
  double rate = 5;                                 // traps per second per device, on average...
  double burst = 50;                               // ...after a burst of this many
  std::chrono::milliseconds counters_every{1000};  // counters at most this often
  std::vector<TrapDevice> devices;
};

std::string encode_trap_options(const TrapListenOptions& options);
// kInvalidArgument naming what is missing or wrong.
Result<TrapListenOptions> decode_trap_options(std::string_view line);

// Traps received and what became of them, since the helper started.
struct TrapCounters {
  std::uint64_t accepted = 0;        // passed on (rate_limited ones not included)
  std::uint64_t unknown_source = 0;  // from an address that is no device's
  std::uint64_t bad_community = 0;   // v2c, a community not the device's
  std::uint64_t bad_user = 0;        // v3, another user, or below the device's security level
  std::uint64_t auth_failed = 0;     // v3, refused by USM (digest, decryption, unknown user...)
  std::uint64_t rate_limited = 0;    // over a device's rate
  std::uint64_t malformed = 0;       // not SNMP, or not a notification (a GET, a v1 trap...)
  std::map<std::string, std::uint64_t> rate_limited_by_device;
  std::uint64_t dropped() const {
    return unknown_source + bad_community + bad_user + auth_failed + rate_limited + malformed;
  }
  bool operator==(const TrapCounters&) const = default;
};

struct TrapLine {
  enum class Kind { kReady, kEvent, kCounters, kWarning };
  Kind kind = Kind::kWarning;
  std::string listen;     // kReady: the address it listens on, port resolved
  std::string engine_id;  // kReady: its snmpEngineID (bytes)
  protocol::Event event;  // kEvent
  TrapCounters counters;  // kCounters
  std::string message;    // kWarning
};

// Lines without their newline.
std::string encode_ready(std::string_view listen, std::string_view engine_id);
std::string encode_event(const protocol::Event& event);
std::string encode_counters(const TrapCounters& counters);
std::string encode_warning(std::string_view message);
// kCorruption naming what is wrong with the line; an event is held to the protocol's
// limits (a line past them is refused).
Result<TrapLine> decode_trap_line(std::string_view line);

// "80001f88..." for the bytes of an engine id; the reverse, which also takes a leading
// "0x" and refuses anything that is not 5 to 32 bytes of hexadecimal.
std::string engine_id_hex(std::string_view bytes);
Result<std::string> parse_engine_id(std::string_view text);

}  // namespace vigie::plugins::snmp
