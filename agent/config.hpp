#pragma once
// The agent's configuration file (/etc/vigie/agent.json by default): JSON with
// comments, loaded and validated in one go.
//
//   { "agent":     { "id": "onesse-mairie-01", "site": "onesse-et-laharie" },
//     "collector": { "url": "https://supervision.example.org:8443",
//                    "ca_file": "...", "token_file": "...",
//                    "client_cert": "...", "client_key": "...",
//                    "batch_max": 500, "send_interval": "5s", "retry_max": "5m" },
//     "spool":     { "path": "/var/lib/vigie/spool.db", "max_mb": 64, "max_age": "7d" },
//     "defaults":  { "interval": "60s", "timeout": "10s", "splay": "6s" },
//     "devices":   { ... },
//     "traps":     { "listen": "0.0.0.0:10162", "rate": 5, "burst": 50 },
//     "checks":    [ { "name": "load", "type": "system/load", "interval": "30s" }, ... ] }
//
// Every error names the file, the line, the field by its path and the reason, e.g.
//   /etc/vigie/agent.json:31: checks[2].interval: "0s": must be at least 1s
// (for a missing field, the line of the object that lacks it)
//   /etc/vigie/agent.json:4:17: syntax error while parsing object - ...
// Unknown keys are refused with the nearest known one suggested (a typo must not
// silently fall back to a default): in "agent", "collector", "spool", "defaults", at the
// top level and in "devices" here (common/config_fields.hpp); a check's own parameters
// by the check's configure(), likewise.
//
// Decisions worth knowing:
// - A check's timeout may not exceed its interval. A timeout written on the check
//   itself that does is an error; the default timeout is clamped to the interval, so
//   "defaults.timeout": "10s" and a check every "5s" run with a 5 s timeout.
// - splay (how late, at random, the first run may start, so that the checks of an
//   agent do not all start at once) defaults to a tenth of the interval, at most 1 min,
//   and may not exceed the interval.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.hpp"
#include "plugins/check.hpp"

namespace vigie::agent {

inline constexpr std::string_view kDefaultConfigPath = "/etc/vigie/agent.json";
// The agent's own check: added by the agent, refused in a configuration.
inline constexpr std::string_view kSelfCheckType = "agent/self";

struct CollectorConfig {
  std::string url;              // http(s)://host[:port][/base], no trailing '/'
  std::string ca_file;          // PEM bundle the collector's certificate must chain to; "": system
  std::string token_file;       // file holding the agent's bearer token; "": none sent
  std::size_t batch_max = 500;  // results per report, 1..5000
  std::chrono::milliseconds send_interval{5000};  // how long results gather before a send
  std::chrono::milliseconds retry_max{300'000};   // longest wait between retries, 1 s..1 h
  // PEM certificate and key the agent shows when the collector asks for one; both or none.
  std::string client_cert;
  std::string client_key;
  // A managed agent (enroll --managed): how often it asks the collector for its
  // configuration, 1 s.. (default 60 s); an unchanged one costs one small request.
  std::chrono::milliseconds config_poll{60'000};
};

// Where results wait while the collector cannot be reached (agent/spool.hpp).
struct SpoolConfig {
  std::string path;    // "": spool.db in the state folder (--state-dir)
  double max_mb = 64;  // of stored results (MiB), 0.01..1048576
  std::chrono::milliseconds max_age{7LL * 86'400'000};  // at least 1 minute
};

// Receiving SNMP traps and informs from the devices (agent/traps.hpp): present when the
// configuration has a "traps" block.
struct TrapsConfig {
  std::string listen = "0.0.0.0:10162";  // UDP, "ADDR:PORT" or "[ADDR]:PORT"; port 0: any
  double rate = 5;                       // traps per second per device, on average (0.01..10000)...
  double burst = 50;  // ...after a burst of this many (1..100000); past it they are dropped
  // The agent's own SNMPv3 engine id (bytes), which devices send their v3 informs to;
  // default 0x80001f8804 followed by "vigie:" and the agent id (RFC 3411's text form).
  std::string engine_id;
  // A trap polls its device's checks at once, this long after it (the traps of one
  // burst share that poll)...
  std::chrono::milliseconds poll_delay{2000};
  // ...and at most once per poll_gap per device, however many traps come.
  std::chrono::milliseconds poll_gap{30'000};
};

// One configured check, ready to run.
struct ConfiguredCheck {
  std::string name;  // unique in the file, e.g. "ping-gw"
  std::string type;  // registry type name, e.g. "system/disk"
  std::string id;    // type[:instance], e.g. "system/disk:/srv"; "external:<name>" for external
  std::chrono::milliseconds interval{60'000};
  std::chrono::milliseconds timeout{10'000};  // <= interval
  std::chrono::milliseconds splay{6'000};     // <= interval
  std::unique_ptr<plugins::Check> check;      // configured, never null
  std::string device;  // the SNMP device it reads ("device" parameter), "" for none
};

struct Config {
  std::string path;  // the file it came from, as given
  std::string agent_id;
  std::string site;
  // Checks running at the same time, at most (1..64): the rest wait their turn, so a
  // burst of due checks never loads the box more than this.
  std::size_t max_concurrent_checks = 4;
  CollectorConfig collector;
  SpoolConfig spool;
  nlohmann::json devices = nlohmann::json::object();  // raw, for the SNMP devices; an object
  // The same, validated and shared by the checks that read them; null when none.
  std::shared_ptr<plugins::snmp::Devices> snmp_devices;
  std::optional<TrapsConfig> traps;
  std::vector<ConfiguredCheck> checks;  // in file order, at least one
};

// The members of a configuration that a managed agent takes from the centre.
inline constexpr std::string_view kCentralKeys[] = {"defaults", "devices", "checks"};

// A managed agent's configuration: its own file `text` gives its identity, collector
// and spool, and `central` (the centre's document, agent/central_config.hpp) replaces
// the file's "defaults", "devices" and "checks"; the same validation as load_config().
// Without `central` (none received yet), the file's own checks run, and it may list
// none. An error in the centre's part is prefixed with `central_origin` and its path
// ("central configuration 3f2a...: checks[1].type: unknown check type ..."); one in
// the file, with the file and line as parse_config() does.
Result<Config> parse_managed_config(std::string_view text, std::string_view origin,
                                    const nlohmann::json* central, std::string_view central_origin);

// Reads and validates `path`. kNotFound when the file does not exist, kIoError when it
// cannot be read, kInvalidArgument for anything wrong inside (message as above).
Result<Config> load_config(const std::filesystem::path& path);

// Validates the text of a config file; `origin` names it in error messages.
Result<Config> parse_config(std::string_view text, std::string_view origin);

}  // namespace vigie::agent
