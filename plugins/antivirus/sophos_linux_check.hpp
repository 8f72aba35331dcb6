#pragma once
// `antivirus/sophos`: Sophos Protection for Linux (SPL) is installed, running, updating,
// and what it found recently, from its install folder and logs.
//
// What SPL documents or its public tests show (docs/checks.md lists the sources):
//   <root>/plugins/av                        the anti-virus plugin
//   <root>/logs/base/suldownloader.log       updates: "Update success",
//                                            "Update failed, with code: N"
//   <root>/plugins/av/log/av.log             detections: "Found '<threat>' in '<path>'"
//   log lines: "<ms> [<ISO local time>] <LEVEL> [<thread>] <logger> <> <message>"
// Running means a process of each name in "processes" runs from under <root>.
//
// Parameters (all optional):
//   "root"          the install folder. Default /opt/sophos-spl.
//   "processes"     program names that must run. Default ["sophos_watchdog",
//                   "sophos_threat_detector"].
//   "update_warn", "update_crit"  age of the last successful update past which the check
//                   is WARNING / CRITICAL. Defaults "2d" and "7d".
//   "detections_window"  detections newer than this are a WARNING. Default "24h".
// instance() is "": one per agent.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::antivirus {

inline constexpr MetricSpec kSophosLinuxMetrics[] = {
    {"update_age", "s", "time since the last successful update, with the thresholds"},
    {"detections", "", "threats found within detections_window (av.log)"},
    {"processes_missing", "", "expected processes not running"},
};

std::unique_ptr<Check> make_sophos_linux_check();

}  // namespace vigie::plugins::antivirus
