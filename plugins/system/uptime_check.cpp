#include "plugins/system/uptime_check.hpp"

#include <charconv>
#include <cmath>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include "common/duration.hpp"
#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::system {
namespace {

constexpr std::size_t kMaxProcFile = 4096;

class UptimeCheck final : public Check {
 public:
  explicit UptimeCheck(std::filesystem::path proc_root) : proc_root_(std::move(proc_root)) {}
  Status configure(const nlohmann::json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  std::filesystem::path proc_root_;
  std::chrono::seconds min_{15 * 60};
  std::optional<std::chrono::seconds> max_;
};

Status UptimeCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"min", "max"}); !s) return s;
  std::chrono::seconds min = min_;
  if (Status s = read_duration(params, "min", {}, min); !s) return s;
  std::optional<std::chrono::seconds> max;
  if (params.contains("max")) {
    std::chrono::seconds value{0};
    if (Status s = read_duration(params, "max", {}, value); !s) return s;
    if (value <= min)
      return Status::invalid("max: " + format_duration(value) + " is not above min (" +
                             format_duration(min) + ")");
    max = value;
  }
  min_ = min;
  max_ = max;
  return Status::ok();
}

Outcome UptimeCheck::run(const RunContext&) {
  const auto path = (proc_root_ / "uptime").string();
  const auto text = read_file(path, kMaxProcFile);
  if (!text) return unknown_outcome(text.status().message());
  // "350735.47 234388.90": seconds up, then idle seconds summed over the CPUs.
  const std::string_view first = std::string_view(*text).substr(0, text->find_first_of(" \n"));
  double seconds = 0;
  const auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), seconds);
  if (ec != std::errc() || end != first.data() + first.size() || !std::isfinite(seconds) ||
      seconds < 0)
    return unknown_outcome(path + ": expected seconds, got " + quote(first));

  const auto up = static_cast<std::int64_t>(seconds);
  Outcome outcome;
  Metric metric = threshold_metric("uptime", std::floor(seconds), "s", std::nullopt, std::nullopt);
  // Both bounds alert outside [min, max]: one perfdata range.
  metric.warn = Range{static_cast<double>(min_.count()),
                      max_ ? static_cast<double>(max_->count()) : INFINITY};
  outcome.metrics.push_back(std::move(metric));
  const std::int64_t since = static_cast<std::int64_t>(std::time(nullptr)) - up;
  outcome.summary = "up " + age_text(std::chrono::seconds(up)) + " (since " + utc_text(since) + ")";
  outcome.status = State::kOk;
  if (up < min_.count()) {
    outcome.status = State::kWarning;
    outcome.summary = "rebooted " + age_text(std::chrono::seconds(up)) + " ago (" +
                      utc_text(since) + ") (WARNING < " + format_duration(min_) + ")";
  } else if (max_ && up > max_->count()) {
    outcome.status = State::kWarning;
    outcome.summary +=
        ": not restarted for updates for too long (WARNING > " + format_duration(*max_) + ")";
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_uptime_check() { return make_uptime_check("/proc"); }

std::unique_ptr<Check> make_uptime_check(std::filesystem::path proc_root) {
  return std::make_unique<UptimeCheck>(std::move(proc_root));
}

}  // namespace vigie::plugins::system
