#pragma once
// `system/cpu`: how busy the CPUs were since the previous run, from the "cpu" line of
// /proc/stat (the first run compares two readings half a second apart).
//
// Parameters (optional): "warn", "crit": busy percentage (everything but idle and
// iowait) above which the check is WARNING / CRITICAL. Defaults 90 and 98.
// instance() is "": one per agent.

#include <filesystem>
#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::system {

inline constexpr MetricSpec kCpuMetrics[] = {
    {"busy_pct", "%", "CPU time not idle nor waiting for I/O, over all CPUs, with warn/crit"},
    {"iowait_pct", "%", "CPU time idle while waiting for I/O (slow disks show here)"},
    {"steal_pct", "%", "CPU time a hypervisor gave to other guests"},
};

std::unique_ptr<Check> make_cpu_check();
// For tests: reads <proc_root>/stat.
std::unique_ptr<Check> make_cpu_check(std::filesystem::path proc_root);

}  // namespace vigie::plugins::system
