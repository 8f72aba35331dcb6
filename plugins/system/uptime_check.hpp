#pragma once
// `system/uptime`: how long since the machine started, from /proc/uptime. A recent
// start is a WARNING, so that a power cut or a crash in the night is noticed.
//
// Parameters (optional):
//   "min"  uptime below which the check is WARNING (a reboot). Default "15m".
//   "max"  uptime above which the check is WARNING (not rebooted for kernel updates
//          for too long). Default: none.
// instance() is "": one per agent.

#include <filesystem>
#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::system {

inline constexpr MetricSpec kUptimeMetrics[] = {
    {"uptime", "s", "time since the machine started"},
};

std::unique_ptr<Check> make_uptime_check();
// For tests: reads <proc_root>/uptime.
std::unique_ptr<Check> make_uptime_check(std::filesystem::path proc_root);

}  // namespace vigie::plugins::system
