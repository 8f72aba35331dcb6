#include "plugins/system/load_check.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::system {
namespace {

using Loads = std::array<double, 3>;  // 1-, 5-, 15-minute

constexpr std::array<std::string_view, 3> kWindows = {"1-min", "5-min", "15-min"};
constexpr Loads kDefaultWarn = {3.0, 2.0, 1.5};
constexpr Loads kDefaultCrit = {6.0, 4.0, 3.0};
// /proc/stat holds a few lines per CPU: even a very large machine stays far below this.
constexpr std::size_t kMaxProcFile = 4 << 20;

std::optional<double> parse_load(std::string_view token) {
  double value = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc() || end != token.data() + token.size() || !std::isfinite(value) || value < 0)
    return std::nullopt;
  return value;
}

// "0.52 0.48 0.40 2/345 6789": the first three fields.
std::optional<Loads> parse_loadavg(std::string_view text) {
  Loads loads{};
  for (double& load : loads) {
    const auto start = text.find_first_not_of(" \t\n");
    if (start == std::string_view::npos) return std::nullopt;
    text.remove_prefix(start);
    const auto end = text.find_first_of(" \t\n");
    const auto value = parse_load(text.substr(0, end));
    if (!value) return std::nullopt;
    load = *value;
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  }
  return loads;
}

// The "cpuN ..." lines of /proc/stat, one per online CPU (the first line, "cpu ...", is
// the total).
int count_cpus(std::string_view stat) {
  int cpus = 0;
  while (!stat.empty()) {
    const auto newline = stat.find('\n');
    const auto line = stat.substr(0, newline);
    if (line.size() > 3 && line.starts_with("cpu") && line[3] >= '0' && line[3] <= '9') ++cpus;
    stat.remove_prefix(newline == std::string_view::npos ? stat.size() : newline + 1);
  }
  return cpus;
}

std::string fixed2(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  return buffer;
}

Status read_thresholds(const nlohmann::json& params, const std::string& key, Loads& out) {
  const auto it = params.find(key);
  if (it == params.end()) return Status::ok();
  const auto usage = key + ": must be a per-CPU load (a number >= 0) or an array of three " +
                     "[1-min, 5-min, 15-min]";
  const auto read = [](const nlohmann::json& item) -> std::optional<double> {
    if (!item.is_number()) return std::nullopt;
    const auto value = item.get<double>();
    if (!std::isfinite(value) || value < 0) return std::nullopt;
    return value;
  };
  if (it->is_number()) {
    const auto value = read(*it);
    if (!value) return Status::invalid(usage);
    out = {*value, *value, *value};
    return Status::ok();
  }
  if (!it->is_array() || it->size() != 3) return Status::invalid(usage);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto value = read((*it)[i]);
    if (!value) return Status::invalid(usage);
    out[i] = *value;
  }
  return Status::ok();
}

class LoadCheck final : public Check {
 public:
  explicit LoadCheck(std::filesystem::path proc_root) : proc_root_(std::move(proc_root)) {}

  Status configure(const nlohmann::json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  std::filesystem::path proc_root_;
  Loads warn_ = kDefaultWarn;  // per CPU
  Loads crit_ = kDefaultCrit;
};

Status LoadCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"warn", "crit"}); !s) return s;
  Loads warn = kDefaultWarn;
  Loads crit = kDefaultCrit;
  if (Status s = read_thresholds(params, "warn", warn); !s) return s;
  if (Status s = read_thresholds(params, "crit", crit); !s) return s;
  for (std::size_t i = 0; i < 3; ++i) {
    if (warn[i] > crit[i]) {
      return Status::invalid("warn: the " + std::string(kWindows[i]) + " threshold " +
                             fixed2(warn[i]) + " is above crit's " + fixed2(crit[i]));
    }
  }
  warn_ = warn;
  crit_ = crit;
  return Status::ok();
}

Outcome LoadCheck::run(const RunContext&) {
  Outcome outcome;
  outcome.status = State::kUnknown;
  const auto loadavg_path = proc_root_ / "loadavg";
  const auto loadavg = read_file(loadavg_path.string(), kMaxProcFile);
  if (!loadavg) {
    outcome.summary = loadavg.status().message();
    return outcome;
  }
  const auto loads = parse_loadavg(*loadavg);
  if (!loads) {
    outcome.summary = loadavg_path.string() + ": expected three load averages, got \"" +
                      std::string(loadavg->substr(0, loadavg->find('\n')).substr(0, 80)) + "\"";
    return outcome;
  }
  const auto stat_path = proc_root_ / "stat";
  const auto stat = read_file(stat_path.string(), kMaxProcFile);
  if (!stat) {
    outcome.summary = stat.status().message();
    return outcome;
  }
  const int cpus = count_cpus(*stat);
  if (cpus == 0) {
    outcome.summary = stat_path.string() + ": no \"cpuN\" line, cannot count the CPUs";
    return outcome;
  }

  outcome.status = State::kOk;
  for (std::size_t i = 0; i < 3; ++i) {
    Metric metric;
    metric.label = kLoadMetrics[i].name;
    metric.value = (*loads)[i];
    metric.warn = Range{0, warn_[i] * cpus};
    metric.crit = Range{0, crit_[i] * cpus};
    metric.min = 0;
    if (metric.crit->alerts((*loads)[i])) {
      outcome.status = State::kCritical;
    } else if (metric.warn->alerts((*loads)[i])) {
      outcome.status = worst(outcome.status, State::kWarning);
    }
    outcome.metrics.push_back(std::move(metric));
  }

  outcome.summary = "load " + fixed2((*loads)[0]) + ", " + fixed2((*loads)[1]) + ", " +
                    fixed2((*loads)[2]) + " (" + std::to_string(cpus) +
                    (cpus == 1 ? " CPU)" : " CPUs)");
  if (outcome.status != State::kOk) {
    // Name every average past the threshold of the state reached.
    std::string over;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto& metric = outcome.metrics[i];
      const auto& range = outcome.status == State::kCritical ? metric.crit : metric.warn;
      if (!range->alerts(*metric.value)) continue;
      over += (over.empty() ? ": " : ", ") + std::string(kWindows[i]) + " > " + fixed2(range->end);
    }
    outcome.summary += over + " (" + std::string(state_name(outcome.status)) + ")";
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_load_check() { return make_load_check("/proc"); }

std::unique_ptr<Check> make_load_check(std::filesystem::path proc_root) {
  return std::make_unique<LoadCheck>(std::move(proc_root));
}

}  // namespace vigie::plugins::system
