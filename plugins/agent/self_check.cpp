#include "plugins/agent/self_check.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>

#include "common/file.hpp"
#include "common/human_text.hpp"
#include "common/time.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::agent {
namespace {

constexpr std::int64_t kDropWindowMs = 60 * 60'000;  // new drops keep WARNING this long

double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

class SelfCheck final : public Check {
 public:
  explicit SelfCheck(std::function<AgentHealth()> health) : health_(std::move(health)) {}

  void attach(const Environment& env) override { now_ = env.now; }

  Status configure(const nlohmann::json& params) override { return check_parameters(params, {}); }

  Outcome run(const RunContext&) override {
    Outcome out;
    const std::int64_t now =
        now_ ? std::chrono::duration_cast<std::chrono::milliseconds>(now_().time_since_epoch())
                   .count()
             : wall_ms();
    const std::uint64_t rss = resident_bytes();
    const std::string version = std::string("vigie-agent ") + VIGIE_VERSION;
    if (!health_) {
      out.status = State::kOk;
      out.summary = version + ", " + std::to_string(rss >> 20) +
                    " MiB resident (spool and sending: only under vigie-agent run)";
      out.metrics.push_back({"rss", static_cast<double>(rss), "B", {}, {}, 0.0, {}});
      return out;
    }
    AgentHealth h = health_();
    const std::int64_t oldest_age =
        h.spool_oldest_ms > 0 ? std::max<std::int64_t>(0, now - h.spool_oldest_ms) : 0;
    const std::int64_t last_send_age =
        now - (h.last_sent_ms > 0 ? h.last_sent_ms : (h.started_ms > 0 ? h.started_ms : now));
    if (h.spool_dropped > dropped_seen_) {
      if (initialised_) last_drop_ms_ = now;  // grew while we watched
      dropped_seen_ = h.spool_dropped;
    }
    if (h.spool_quarantined > quarantined_seen_) {
      if (initialised_) last_quarantine_ms_ = now;
      quarantined_seen_ = h.spool_quarantined;
    }
    initialised_ = true;
    const bool recent_drops = last_drop_ms_ > 0 && now - last_drop_ms_ < kDropWindowMs;
    const bool recent_quarantine =
        last_quarantine_ms_ > 0 && now - last_quarantine_ms_ < kDropWindowMs;
    const std::size_t runs = h.check_durations_ms.size();
    const std::int64_t latency_max =
        runs ? *std::max_element(h.check_durations_ms.begin(), h.check_durations_ms.end()) : 0;
    const std::int64_t latency_p95 = percentile(h.check_durations_ms, 95);

    std::vector<std::string> problems;
    out.status = State::kOk;
    if (h.sending_halted) {
      out.status = State::kCritical;
      problems.push_back("the collector rejects the agent's token: sending stopped");
    }
    if (oldest_age > kSelfCritAgeMs) {
      out.status = State::kCritical;
      problems.push_back("oldest unsent result " + age_text(std::chrono::milliseconds(oldest_age)) +
                         " old");
    } else if (oldest_age > kSelfWarnAgeMs) {
      out.status = worst(out.status, State::kWarning);
      problems.push_back("oldest unsent result " + age_text(std::chrono::milliseconds(oldest_age)) +
                         " old");
    }
    if (recent_drops) {
      out.status = worst(out.status, State::kWarning);
      problems.push_back(std::to_string(h.spool_dropped) +
                         " results dropped by the spool (full or too old)");
    }
    if (recent_quarantine) {
      out.status = worst(out.status, State::kWarning);
      problems.push_back(std::to_string(h.spool_quarantined) +
                         " results refused by the collector and quarantined (vigie-agent spool)");
    }
    if (h.traps && !h.traps->listening && h.started_ms > 0 && now - h.started_ms > 60'000) {
      out.status = worst(out.status, State::kWarning);
      problems.push_back("the SNMP trap receiver is not listening (see the agent's log)");
    }
    std::string summary;
    for (const auto& p : problems) summary += (summary.empty() ? "" : "; ") + p;
    if (summary.empty()) {
      summary = h.spool_depth == 0 ? "sending, nothing waiting"
                                   : std::to_string(h.spool_depth) + " results waiting, oldest " +
                                         age_text(std::chrono::milliseconds(oldest_age)) + " old";
    }
    out.summary = version + ": " + summary;
    out.details =
        "spool: " + std::to_string(h.spool_depth) + " results, oldest " +
        (h.spool_oldest_ms ? age_text(std::chrono::milliseconds(oldest_age)) : std::string("-")) +
        ", " + std::to_string(h.spool_dropped) + " dropped, " +
        std::to_string(h.spool_quarantined) + " results quarantined\n" +
        "last acknowledged send: " +
        (h.last_sent_ms ? age_text(std::chrono::milliseconds(now - h.last_sent_ms)) + " ago"
                        : std::string("none since the start")) +
        "\ncheck runs: " + std::to_string(runs) + ", slowest " + std::to_string(latency_max) +
        " ms, p95 " + std::to_string(latency_p95) +
        " ms\nresident memory: " + std::to_string(rss / 1024) + " KiB";
    out.metrics = {
        {"spool_depth", static_cast<double>(h.spool_depth), "", {}, {}, 0.0, {}},
        {"spool_oldest_age",
         seconds(oldest_age),
         "s",
         Range{0, seconds(kSelfWarnAgeMs)},
         Range{0, seconds(kSelfCritAgeMs)},
         0.0,
         {}},
        {"spool_dropped", static_cast<double>(h.spool_dropped), "c", {}, {}, 0.0, {}},
        {"spool_quarantined", static_cast<double>(h.spool_quarantined), "c", {}, {}, 0.0, {}},
        {"last_send_age", seconds(std::max<std::int64_t>(0, last_send_age)), "s", {}, {}, 0.0, {}},
        {"check_latency_max", static_cast<double>(latency_max), "ms", {}, {}, 0.0, {}},
        {"check_latency_p95", static_cast<double>(latency_p95), "ms", {}, {}, 0.0, {}},
        {"check_runs", static_cast<double>(runs), "", {}, {}, 0.0, {}},
        {"rss", static_cast<double>(rss), "B", {}, {}, 0.0, {}},
    };
    if (h.traps) {
      out.details += "\nSNMP traps: " + std::to_string(h.traps->accepted) + " accepted, " +
                     std::to_string(h.traps->dropped) + " dropped, " +
                     (h.traps->listening ? "listening" : "NOT listening");
      out.metrics.push_back(
          {"traps_accepted", static_cast<double>(h.traps->accepted), "c", {}, {}, 0.0, {}});
      out.metrics.push_back(
          {"traps_dropped", static_cast<double>(h.traps->dropped), "c", {}, {}, 0.0, {}});
    }
    return out;
  }

 private:
  std::function<AgentHealth()> health_;
  std::function<std::chrono::system_clock::time_point()> now_;
  bool initialised_ = false;
  std::uint64_t dropped_seen_ = 0;
  std::int64_t last_drop_ms_ = 0;
  std::uint64_t quarantined_seen_ = 0;
  std::int64_t last_quarantine_ms_ = 0;
};

}  // namespace

std::unique_ptr<Check> make_self_check(std::function<AgentHealth()> health) {
  return std::make_unique<SelfCheck>(std::move(health));
}

std::unique_ptr<Check> make_self_check() { return std::make_unique<SelfCheck>(nullptr); }

std::int64_t percentile(std::vector<std::int64_t>& values, double p) {
  if (values.empty()) return 0;
  const double rank =
      std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size()));
  const std::size_t index = static_cast<std::size_t>(std::max(rank, 1.0)) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
  return values[index];
}

std::uint64_t resident_bytes() {
  const auto status = read_part("/proc/self/status", 0, 64 << 10);
  if (!status) return 0;
  // "VmRSS:     3120 kB"
  const auto at = status->find("\nVmRSS:");
  if (at == std::string::npos) return 0;
  const std::size_t start = status->find_first_not_of(" \t", at + 7);
  if (start == std::string::npos) return 0;
  std::uint64_t kib = 0;
  const auto [end, ec] =
      std::from_chars(status->data() + start, status->data() + status->size(), kib);
  return ec == std::errc() ? kib * 1024 : 0;
}

}  // namespace vigie::plugins::agent
