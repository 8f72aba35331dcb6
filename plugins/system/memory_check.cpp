#include "plugins/system/memory_check.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::system {
namespace {

constexpr std::size_t kMaxProcFile = 1 << 20;

// The "Name:   12345 kB" lines of /proc/meminfo that `wanted` names, in bytes.
Result<std::map<std::string, double>> parse_meminfo(std::string_view text,
                                                    std::initializer_list<std::string_view> wanted,
                                                    const std::string& path) {
  std::map<std::string, double> values;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = line.substr(0, colon);
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    std::string_view rest = line.substr(colon + 1);
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos)
      return Status(Code::kCorruption, path + ": no value for " + std::string(name));
    rest.remove_prefix(start);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    const std::string_view unit = rest.substr(static_cast<std::size_t>(end - rest.data()));
    if (ec != std::errc() || (unit != " kB" && !unit.empty()))
      return Status(Code::kCorruption,
                    path + ": unexpected value " + quote(rest) + " for " + std::string(name));
    values[std::string(name)] = static_cast<double>(value) * (unit.empty() ? 1 : 1024);
  }
  for (const auto name : wanted) {
    if (!values.contains(std::string(name)))
      return Status(Code::kCorruption, path + ": no " + std::string(name) + " line");
  }
  return values;
}

double round2(double value) { return std::round(value * 100) / 100; }

enum class Kind { kMemory, kSwap };

class MemoryCheck final : public Check {
 public:
  MemoryCheck(Kind kind, std::filesystem::path proc_root)
      : kind_(kind), proc_root_(std::move(proc_root)) {
    if (kind_ == Kind::kSwap) {
      warn_ = 50;
      crit_ = 80;
    }
  }
  Status configure(const nlohmann::json& params) override {
    if (Status s = check_parameters(params, {"warn", "crit"}); !s) return s;
    return read_percent_thresholds(params, warn_, crit_);
  }
  Outcome run(const RunContext& context) override;

 private:
  Kind kind_;
  std::filesystem::path proc_root_;
  double warn_ = 90;
  double crit_ = 95;
};

Outcome MemoryCheck::run(const RunContext&) {
  const auto path = (proc_root_ / "meminfo").string();
  const auto text = read_file(path, kMaxProcFile);
  if (!text) return unknown_outcome(text.status().message());
  const bool memory = kind_ == Kind::kMemory;
  const auto values = memory ? parse_meminfo(*text, {"MemTotal", "MemAvailable"}, path)
                             : parse_meminfo(*text, {"SwapTotal", "SwapFree"}, path);
  if (!values) return unknown_outcome(values.status().message());
  const double total = values->at(memory ? "MemTotal" : "SwapTotal");
  const double free = values->at(memory ? "MemAvailable" : "SwapFree");
  const std::string what = memory ? "memory" : "swap";
  if (free > total) return unknown_outcome(path + ": more " + what + " free than there is");

  Outcome outcome;
  const double used = total - free;
  if (total == 0) {
    if (memory) return unknown_outcome(path + ": MemTotal is 0");
    outcome.status = State::kOk;
    outcome.summary = "no swap configured";
    outcome.metrics = {threshold_metric("used", 0, "B", std::nullopt, std::nullopt),
                       threshold_metric("total", 0, "B", std::nullopt, std::nullopt)};
    return outcome;
  }
  const double pct = round2(used / total * 100);
  std::string note;
  outcome.status = above(pct, warn_, crit_, "%", note);
  outcome.metrics = {threshold_metric("used_pct", pct, "%", warn_, crit_, 0, 100),
                     threshold_metric("used", used, "B", std::nullopt, std::nullopt, 0, total),
                     threshold_metric("total", total, "B", std::nullopt, std::nullopt)};
  outcome.summary = what + " " + number_text(std::ceil(pct)) + "% used" + note + ", " +
                    bytes_text(free) + (memory ? " available of " : " free of ") +
                    bytes_text(total);
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_memory_check() { return make_memory_check("/proc"); }
std::unique_ptr<Check> make_swap_check() { return make_swap_check("/proc"); }

std::unique_ptr<Check> make_memory_check(std::filesystem::path proc_root) {
  return std::make_unique<MemoryCheck>(Kind::kMemory, std::move(proc_root));
}

std::unique_ptr<Check> make_swap_check(std::filesystem::path proc_root) {
  return std::make_unique<MemoryCheck>(Kind::kSwap, std::move(proc_root));
}

}  // namespace vigie::plugins::system
