#include "plugins/system/unit_check.hpp"

#include <charconv>
#include <map>
#include <string>
#include <vector>

#include "plugins/check_support.hpp"

namespace vigie::plugins::system {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxOutput = 64 << 10;
constexpr std::size_t kMaxUnitName = 256;

// "Key=Value" lines; a line without '=' is malformed.
Result<std::map<std::string, std::string>> parse_show(std::string_view out) {
  std::map<std::string, std::string> values;
  while (!out.empty()) {
    const auto newline = out.find('\n');
    const auto line = out.substr(0, newline);
    out.remove_prefix(newline == std::string_view::npos ? out.size() : newline + 1);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return Status(Code::kCorruption, "systemctl show: unexpected line " + quote(line));
    values[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  for (const char* key : {"LoadState", "ActiveState", "SubState"}) {
    if (!values.contains(key))
      return Status(Code::kCorruption, "systemctl show: no " + std::string(key) + "=");
  }
  return values;
}

class UnitCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return unit_; }
  Outcome run(const RunContext& context) override;

 private:
  std::string unit_;
  bool expect_active_ = true;
  std::vector<std::string> systemctl_{"systemctl"};
};

Status UnitCheck::configure(const json& params) {
  if (Status s = check_parameters(params, {"unit", "expect", "systemctl"}); !s) return s;
  std::string unit;
  if (Status s = read_string(params, "unit", unit, {.required = true}); !s) return s;
  if (unit.size() > kMaxUnitName || unit.starts_with('-') ||
      unit.find_first_of(" \t\n/") != std::string::npos)
    return Status::invalid("unit: " + quote(unit) + " is not a unit name");
  if (unit.find('.') == std::string::npos) unit += ".service";
  std::string expect = "active";
  if (Status s = read_string(params, "expect", expect); !s) return s;
  if (expect != "active" && expect != "inactive")
    return Status::invalid("expect: must be \"active\" or \"inactive\"");
  std::vector<std::string> systemctl = systemctl_;
  if (Status s = read_command(params, "systemctl", systemctl); !s) return s;
  unit_ = std::move(unit);
  expect_active_ = expect == "active";
  systemctl_ = std::move(systemctl);
  return Status::ok();
}

Outcome UnitCheck::run(const RunContext& context) {
  if (unit_.empty()) return unknown_outcome("check not configured: no unit");
  auto argv = systemctl_;
  argv.insert(argv.end(), {"show", "--no-pager",
                           "--property=Id,LoadState,ActiveState,SubState,Result,NRestarts,"
                           "UnitFileState,ActiveEnterTimestamp",
                           "--", unit_});
  const auto process = run_until(argv, context.deadline, default_environment(), kMaxOutput);
  if (!process) return unknown_outcome(process.status().message());
  if (process->ending != ProcessResult::Ending::kExited || process->exit_code != 0) {
    const auto why = last_line(process->err);
    return unknown_outcome("systemctl show failed: " + (why.empty() ? "no reason given" : why));
  }
  if (process->truncated)
    return unknown_outcome("systemctl show: output larger than " + bytes_text(kMaxOutput));
  const auto values = parse_show(process->out);
  if (!values) return unknown_outcome(values.status().message());

  const auto& load = values->at("LoadState");
  const auto& active = values->at("ActiveState");
  const auto& sub = values->at("SubState");
  const auto get = [&](const char* key) {
    const auto it = values->find(key);
    return it == values->end() ? std::string() : it->second;
  };
  Outcome outcome;
  if (const auto restarts = get("NRestarts"); !restarts.empty()) {
    unsigned long long count = 0;
    const auto [end, ec] =
        std::from_chars(restarts.data(), restarts.data() + restarts.size(), count);
    if (ec == std::errc() && end == restarts.data() + restarts.size()) {
      Metric metric;
      metric.label = "restarts";
      metric.value = static_cast<double>(count);
      metric.unit = "c";
      outcome.metrics.push_back(std::move(metric));
    }
  }
  std::string summary = unit_ + " " + active + " (" + sub + ")";
  const auto since = get("ActiveEnterTimestamp");
  if (active == "active" && !since.empty()) summary += " since " + since;
  const auto result = get("Result");
  if (!result.empty() && result != "success") summary += ", last result " + result;

  if (load == "not-found") {
    outcome.status = State::kCritical;
    outcome.summary = unit_ + " not found (not installed?)";
  } else if (load == "masked") {
    outcome.status = expect_active_ ? State::kCritical : State::kOk;
    outcome.summary = unit_ + " masked";
  } else if (load != "loaded") {
    outcome.status = State::kCritical;
    outcome.summary = unit_ + " could not be loaded (" + load + ")";
  } else if (active == "failed") {
    outcome.status = State::kCritical;
    outcome.summary = summary;
  } else if (active == "active") {
    outcome.status = expect_active_ ? State::kOk : State::kWarning;
    outcome.summary = summary + (expect_active_ ? "" : " (expected inactive)");
  } else if (active == "inactive") {
    outcome.status =
        expect_active_ || (!result.empty() && result != "success") ? State::kCritical : State::kOk;
    outcome.summary = summary;
  } else {
    // activating, deactivating, reloading, refreshing: passing through.
    outcome.status = State::kWarning;
    outcome.summary = summary;
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_unit_check() { return std::make_unique<UnitCheck>(); }

}  // namespace vigie::plugins::system
