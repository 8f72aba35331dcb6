#include "plugins/system/disk_check.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <string>
#include <system_error>

#include "common/human_text.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::system {
namespace {

struct Thresholds {
  double warn;  // percent used
  double crit;
};

std::string percent_text(double percent) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", percent);
  return buffer;
}

double round2(double value) { return std::round(value * 100) / 100; }

Status read_thresholds(const nlohmann::json& params, const std::string& prefix, Thresholds& out) {
  if (Status s = read_number(params, prefix + "warn", 0, 100, out.warn); !s) return s;
  if (Status s = read_number(params, prefix + "crit", 0, 100, out.crit); !s) return s;
  if (out.warn > out.crit) {
    return Status::invalid(prefix + "warn: " + percent_text(out.warn) + "% is above " + prefix +
                           "crit (" + percent_text(out.crit) + "%)");
  }
  return Status::ok();
}

// A percentage as df shows it: rounded up, so that anything past a whole-number
// threshold reads as past it.
std::string used_text(double percent) { return percent_text(std::ceil(percent)) + "% used"; }

// Adds the metric, and returns the state its thresholds give.
State add_percent(std::string_view label, double percent, const Thresholds& thresholds,
                  Outcome& outcome) {
  Metric metric;
  metric.label = label;
  metric.value = round2(percent);
  metric.unit = "%";
  metric.warn = Range{0, thresholds.warn};
  metric.crit = Range{0, thresholds.crit};
  metric.min = 0;
  metric.max = 100;
  outcome.metrics.push_back(std::move(metric));
  if (Range{0, thresholds.crit}.alerts(percent)) return State::kCritical;
  if (Range{0, thresholds.warn}.alerts(percent)) return State::kWarning;
  return State::kOk;
}

// " (CRITICAL > 90%)", or "" for OK.
std::string verdict(State state, const Thresholds& thresholds) {
  if (state == State::kOk) return {};
  const double threshold = state == State::kCritical ? thresholds.crit : thresholds.warn;
  return " (" + std::string(state_name(state)) + " > " + percent_text(threshold) + "%)";
}

class DiskCheck final : public Check {
 public:
  Status configure(const nlohmann::json& params) override;
  std::string instance() const override { return path_; }
  Outcome run(const RunContext& context) override;

 private:
  std::string path_;
  Thresholds space_{80, 90};
  Thresholds inodes_{80, 90};
};

Status DiskCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"path", "warn", "crit", "inodes_warn", "inodes_crit"});
      !s) {
    return s;
  }
  std::string text;
  if (Status s = read_absolute_path(params, "path", text, /*required=*/true); !s) return s;
  Thresholds space{80, 90};
  Thresholds inodes{80, 90};
  if (Status s = read_thresholds(params, "", space); !s) return s;
  if (Status s = read_thresholds(params, "inodes_", inodes); !s) return s;

  // One spelling per filesystem, so that "/srv/" and "/srv" are the same check id.
  std::string normal = std::filesystem::path(text).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  path_ = std::move(normal);
  space_ = space;
  inodes_ = inodes;
  return Status::ok();
}

Outcome DiskCheck::run(const RunContext&) {
  Outcome outcome;
  outcome.status = State::kUnknown;
  if (path_.empty()) {
    outcome.summary = "check not configured: no path";
    return outcome;
  }
  struct statvfs fs {};
  if (::statvfs(path_.c_str(), &fs) != 0) {
    outcome.summary = "cannot check " + path_ + ": " + std::generic_category().message(errno);
    return outcome;
  }
  const double block = static_cast<double>(fs.f_frsize != 0 ? fs.f_frsize : fs.f_bsize);
  const double size = static_cast<double>(fs.f_blocks) * block;
  const double used =
      static_cast<double>(fs.f_blocks >= fs.f_bfree ? fs.f_blocks - fs.f_bfree : 0) * block;
  const double available = static_cast<double>(fs.f_bavail) * block;
  const double used_pct = used + available > 0 ? used / (used + available) * 100 : 0;

  outcome.metrics.push_back(Metric{"used", used, "B", std::nullopt, std::nullopt, 0, size});
  outcome.metrics.push_back(
      Metric{"size", size, "B", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  const State space_state = add_percent("used_pct", used_pct, space_, outcome);
  outcome.status = space_state;
  outcome.summary = path_ + " " + used_text(used_pct) + verdict(space_state, space_) + ", " +
                    bytes_text(available) + " free";

  if (fs.f_files > 0) {
    const auto files = static_cast<double>(fs.f_files);
    const auto free_files = static_cast<double>(std::min(fs.f_ffree, fs.f_files));
    const double inodes_pct = (files - free_files) / files * 100;
    const State inodes_state = add_percent("inodes_used_pct", inodes_pct, inodes_, outcome);
    outcome.status = worst(outcome.status, inodes_state);
    if (inodes_state != State::kOk)
      outcome.summary += ", inodes " + used_text(inodes_pct) + verdict(inodes_state, inodes_);
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_disk_check() { return std::make_unique<DiskCheck>(); }

}  // namespace vigie::plugins::system
