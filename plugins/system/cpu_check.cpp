#include "plugins/system/cpu_check.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::system {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxProcFile = 4 << 20;
// The first run has no previous reading: it takes two, this far apart.
constexpr milliseconds kFirstSample{500};

struct CpuTimes {
  std::uint64_t total = 0;
  std::uint64_t idle = 0;  // idle + iowait
  std::uint64_t iowait = 0;
  std::uint64_t steal = 0;
};

// The "cpu  user nice system idle iowait irq softirq steal [guest guest_nice]" line of
// /proc/stat, in clock ticks. guest time is already counted in user time.
Result<CpuTimes> parse_stat(std::string_view stat, const std::string& path) {
  const auto bad = [&](const std::string& why) {
    return Status(Code::kCorruption, path + ": " + why);
  };
  if (!stat.starts_with("cpu ")) return bad("no \"cpu\" line first");
  std::string_view line = stat.substr(0, stat.find('\n')).substr(4);
  std::array<std::uint64_t, 8> fields{};
  std::size_t count = 0;
  while (count < fields.size()) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const auto end = line.find(' ');
    const auto token = line.substr(0, end);
    const auto [ptr, ec] =
        std::from_chars(token.data(), token.data() + token.size(), fields[count]);
    if (ec != std::errc() || ptr != token.data() + token.size())
      return bad("unexpected field " + quote(token) + " on the \"cpu\" line");
    ++count;
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  }
  // Kernels before 2.6.11 had no steal field: 4 fields at least are needed.
  if (count < 4) return bad("the \"cpu\" line has " + std::to_string(count) + " fields");
  CpuTimes times;
  for (std::size_t i = 0; i < count; ++i) {
    if (fields[i] > UINT64_MAX - times.total) return bad("CPU times overflow");
    times.total += fields[i];
  }
  times.iowait = count > 4 ? fields[4] : 0;
  times.idle = fields[3] + times.iowait;
  times.steal = count > 7 ? fields[7] : 0;
  return times;
}

double percent(std::uint64_t part, std::uint64_t whole) {
  return std::round(static_cast<double>(part) / static_cast<double>(whole) * 10000) / 100;
}

std::string one_decimal(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

class CpuCheck final : public Check {
 public:
  explicit CpuCheck(std::filesystem::path proc_root) : proc_root_(std::move(proc_root)) {}
  Status configure(const nlohmann::json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  Result<CpuTimes> read() const;

  std::filesystem::path proc_root_;
  double warn_ = 90;
  double crit_ = 98;
  std::mutex mutex_;  // guards previous_: runs of one check may overlap
  std::optional<CpuTimes> previous_;
};

Status CpuCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"warn", "crit"}); !s) return s;
  return read_percent_thresholds(params, warn_, crit_);
}

Result<CpuTimes> CpuCheck::read() const {
  const auto path = (proc_root_ / "stat").string();
  const auto text = read_file(path, kMaxProcFile);
  if (!text) return text.status();
  return parse_stat(*text, path);
}

Outcome CpuCheck::run(const RunContext& context) {
  std::optional<CpuTimes> before;
  {
    std::lock_guard lock(mutex_);
    before = previous_;
  }
  if (!before) {
    auto first = read();
    if (!first) return unknown_outcome(first.status().message());
    before = *first;
    const auto wake = std::min(Clock::now() + kFirstSample, context.deadline - milliseconds(50));
    std::this_thread::sleep_until(wake);
  }
  const auto now = read();
  if (!now) return unknown_outcome(now.status().message());
  {
    std::lock_guard lock(mutex_);
    previous_ = *now;
  }
  if (now->total < before->total || now->idle < before->idle || now->iowait < before->iowait ||
      now->steal < before->steal)
    return unknown_outcome("CPU times went backwards in /proc/stat; measuring again next run");
  const std::uint64_t total = now->total - before->total;
  if (total == 0) return unknown_outcome("no CPU time counted between two readings of /proc/stat");
  const std::uint64_t idle = std::min(now->idle - before->idle, total);
  const double busy = percent(total - idle, total);
  const double iowait = percent(std::min(now->iowait - before->iowait, total), total);
  const double steal = percent(std::min(now->steal - before->steal, total), total);

  Outcome outcome;
  outcome.metrics = {
      threshold_metric("busy_pct", busy, "%", warn_, crit_, 0, 100),
      threshold_metric("iowait_pct", iowait, "%", std::nullopt, std::nullopt, 0, 100),
      threshold_metric("steal_pct", steal, "%", std::nullopt, std::nullopt, 0, 100)};
  std::string note;
  outcome.status = above(busy, warn_, crit_, "%", note);
  outcome.summary = "CPU " + one_decimal(busy) + "% busy" + note + ", iowait " +
                    one_decimal(iowait) + "%, steal " + one_decimal(steal) + "%";
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_cpu_check() { return make_cpu_check("/proc"); }

std::unique_ptr<Check> make_cpu_check(std::filesystem::path proc_root) {
  return std::make_unique<CpuCheck>(std::move(proc_root));
}

}  // namespace vigie::plugins::system
