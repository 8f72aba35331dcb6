#pragma once
// `system/clock`: the system clock is kept in time, as the kernel knows it
// (ntp_adjtime(2), read-only): whether a time daemon (systemd-timesyncd, chrony, ntpd)
// synchronizes it, the offset the kernel is still correcting, and the maximum error the
// daemon vouches for. Without a daemon the kernel marks the clock unsynchronized and the
// maximum error grows to 16 s.
//
// Parameters (optional):
//   "warn", "crit"  maximum error above which the check is WARNING / CRITICAL.
//                   Defaults "500ms" and "2s".
// An unsynchronized clock is WARNING at least. instance() is "": one per agent.

#include <functional>
#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::system {

inline constexpr MetricSpec kClockMetrics[] = {
    {"offset", "s", "offset the kernel is still slewing away (0 under chrony, which slews itself)"},
    {"max_error", "s",
     "maximum error of the clock as the time daemon estimates it, with warn/crit"},
    {"synchronized", "", "1 when a time daemon synchronizes the clock, 0 otherwise"},
};

// What ntp_adjtime(2) tells, in plain units.
struct KernelClock {
  bool synchronized = false;  // neither TIME_ERROR nor STA_UNSYNC
  double offset_s = 0;
  double max_error_s = 0;
  double est_error_s = 0;
};

std::unique_ptr<Check> make_clock_check();
// For tests: `read` stands for the kernel (an error for a failing system call).
std::unique_ptr<Check> make_clock_check(std::function<Result<KernelClock>()> read);

// The kernel's view, read with ntp_adjtime (modes 0: changes nothing).
Result<KernelClock> read_kernel_clock();

}  // namespace vigie::plugins::system
