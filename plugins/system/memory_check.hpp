#pragma once
// `system/memory` and `system/swap`, from /proc/meminfo.
//
// system/memory: memory in use is MemTotal - MemAvailable (what the kernel could not give
// to a new program without swapping), as free(1)'s "available" counts it.
// system/swap: swap in use is SwapTotal - SwapFree; a machine without swap is OK.
// Parameters (optional): "warn", "crit": percentage in use above which the check is
// WARNING / CRITICAL. Defaults 90 and 95 for memory, 50 and 80 for swap.
// instance() is "": one per agent.

#include <filesystem>
#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::system {

inline constexpr MetricSpec kMemoryMetrics[] = {
    {"used_pct", "%", "memory in use (total - available), with warn/crit"},
    {"used", "B", "memory in use"},
    {"total", "B", "memory the kernel manages"},
};

inline constexpr MetricSpec kSwapMetrics[] = {
    {"used_pct", "%", "swap in use, with warn/crit (absent without swap)"},
    {"used", "B", "swap in use"},
    {"total", "B", "swap space configured"},
};

std::unique_ptr<Check> make_memory_check();
std::unique_ptr<Check> make_swap_check();
// For tests: read <proc_root>/meminfo.
std::unique_ptr<Check> make_memory_check(std::filesystem::path proc_root);
std::unique_ptr<Check> make_swap_check(std::filesystem::path proc_root);

}  // namespace vigie::plugins::system
