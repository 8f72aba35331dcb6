#include "plugins/system/clock_check.hpp"

#include <sys/timex.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>

#include "common/duration.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::system {
namespace {

std::string seconds_text(double seconds) {
  char buffer[32];
  if (std::fabs(seconds) < 1) {
    std::snprintf(buffer, sizeof buffer, "%.1f ms", seconds * 1000);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f s", seconds);
  }
  return buffer;
}

class ClockCheck final : public Check {
 public:
  explicit ClockCheck(std::function<Result<KernelClock>()> read) : read_(std::move(read)) {}
  Status configure(const nlohmann::json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  std::function<Result<KernelClock>()> read_;
  std::chrono::milliseconds warn_{500};
  std::chrono::milliseconds crit_{2000};
};

Status ClockCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"warn", "crit"}); !s) return s;
  auto warn = warn_;
  auto crit = crit_;
  constexpr DurationRule kOffset{.min = std::chrono::milliseconds(0)};
  if (Status s = read_duration(params, "warn", kOffset, warn); !s) return s;
  if (Status s = read_duration(params, "crit", kOffset, crit); !s) return s;
  if (warn > crit)
    return Status::invalid("warn: " + format_duration(warn) + " is above crit (" +
                           format_duration(crit) + ")");
  warn_ = warn;
  crit_ = crit;
  return Status::ok();
}

Outcome ClockCheck::run(const RunContext&) {
  const auto clock = read_();
  if (!clock) return unknown_outcome(clock.status().message());
  const double warn = std::chrono::duration<double>(warn_).count();
  const double crit = std::chrono::duration<double>(crit_).count();
  Outcome outcome;
  outcome.metrics = {
      threshold_metric("offset", clock->offset_s, "s", std::nullopt, std::nullopt, std::nullopt),
      threshold_metric("max_error", clock->max_error_s, "s", warn, crit),
      threshold_metric("synchronized", clock->synchronized ? 1 : 0, "", std::nullopt, std::nullopt,
                       0, 1)};
  std::string note;
  outcome.status = above(clock->max_error_s, warn, crit, "", note);
  if (!note.empty()) {
    note = " (" + std::string(state_name(outcome.status)) + " > " +
           format_duration(outcome.status == State::kCritical ? crit_ : warn_) + ")";
  }
  if (clock->synchronized) {
    outcome.summary = "clock synchronized, offset " + seconds_text(clock->offset_s) +
                      ", max error " + seconds_text(clock->max_error_s) + note;
  } else {
    outcome.status = worst(outcome.status, State::kWarning);
    outcome.summary =
        "clock not synchronized (no time daemon, or it lost its servers), max "
        "error " +
        seconds_text(clock->max_error_s) + note;
  }
  return outcome;
}

}  // namespace

Result<KernelClock> read_kernel_clock() {
  timex tx{};
  tx.modes = 0;  // read only
  const int state = ::ntp_adjtime(&tx);
  if (state < 0) return Status::io_error("ntp_adjtime: " + std::generic_category().message(errno));
  KernelClock clock;
  clock.synchronized = state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
  const double unit = (tx.status & STA_NANO) != 0 ? 1e-9 : 1e-6;
  clock.offset_s = static_cast<double>(tx.offset) * unit;
  clock.max_error_s = static_cast<double>(tx.maxerror) * 1e-6;
  clock.est_error_s = static_cast<double>(tx.esterror) * 1e-6;
  return clock;
}

std::unique_ptr<Check> make_clock_check() { return make_clock_check(&read_kernel_clock); }

std::unique_ptr<Check> make_clock_check(std::function<Result<KernelClock>()> read) {
  return std::make_unique<ClockCheck>(std::move(read));
}

}  // namespace vigie::plugins::system
