#pragma once
// `system/load`: the 1-, 5- and 15-minute load averages against thresholds per CPU, as
// check_load -r does.
//
// Parameters (all optional):
//   "warn"  per-CPU load above which the check is WARNING: one number for the three
//           averages, or an array [1-min, 5-min, 15-min]. Default [3, 2, 1.5].
//   "crit"  the same for CRITICAL. Default [6, 4, 3].
// Each warn threshold must not exceed its crit one. The thresholds in the metrics are
// totals (per-CPU threshold x CPUs), like the load values.
//
// Reads <proc_root>/loadavg, and counts the online CPUs as the "cpuN" lines of
// <proc_root>/stat. instance() is "": one per agent.

#include <filesystem>
#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::system {

inline constexpr MetricSpec kLoadMetrics[] = {
    {"load1", "", "1-minute load average (runnable and uninterruptible tasks)"},
    {"load5", "", "5-minute load average"},
    {"load15", "", "15-minute load average"},
};

std::unique_ptr<Check> make_load_check();
// For tests: reads a fixture tree laid out like /proc.
std::unique_ptr<Check> make_load_check(std::filesystem::path proc_root);

}  // namespace vigie::plugins::system
