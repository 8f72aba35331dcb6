#include "plugins/backup/freshness.hpp"

#include <cmath>

#include "common/duration.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

// A snapshot dated further ahead than this is a clock problem on one side or the other.
constexpr std::int64_t kFutureTolerance = 3600;

std::string plural(std::uint64_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

}  // namespace

Status read_policy(const nlohmann::json& params, FreshnessPolicy& policy) {
  FreshnessPolicy read = policy;
  if (Status s = read_duration(params, "warn", {}, read.warn); !s) return s;
  if (Status s = read_duration(params, "crit", {}, read.crit); !s) return s;
  if (Status s = check_order(read.warn, read.crit, "warn", "crit"); !s) return s;
  if (Status s = read_number(params, "shrink_warn", 0, 100, read.shrink_warn); !s) return s;
  policy = read;
  return Status::ok();
}

Outcome judge_freshness(std::string_view noun, std::uint64_t count,
                        const std::optional<RestorePoint>& latest,
                        const std::optional<RestorePoint>& previous, const FreshnessPolicy& policy,
                        std::int64_t now) {
  Outcome outcome;
  const auto warn = static_cast<double>(policy.warn.count());
  const auto crit = static_cast<double>(policy.crit.count());
  if (!latest) {
    outcome.status = State::kCritical;
    outcome.summary = "no " + std::string(noun);
    outcome.metrics.push_back(threshold_metric("count", 0, "", std::nullopt, std::nullopt));
    return outcome;
  }

  const std::int64_t age = now - latest->time;
  outcome.metrics.push_back(threshold_metric(
      "age", static_cast<double>(std::max<std::int64_t>(age, 0)), "s", warn, crit));
  outcome.metrics.push_back(
      threshold_metric("count", static_cast<double>(count), "", std::nullopt, std::nullopt));

  State state = State::kOk;
  std::string summary = "last " + std::string(noun) + " ";
  if (age < -kFutureTolerance) {
    state = State::kWarning;
    summary += "dated " + age_text(std::chrono::seconds(-age)) + " in the future (" +
               utc_text(latest->time) + "): check the clocks (WARNING)";
  } else {
    std::string note;
    state = older_than(age, policy.warn, policy.crit, note);
    summary += age_text(std::chrono::seconds(std::max<std::int64_t>(age, 0))) + " ago (" +
               utc_text(latest->time) + ")" + note;
  }
  summary += ", " + plural(count, noun);

  if (latest->size) {
    outcome.metrics.push_back(
        threshold_metric("size", *latest->size, "B", std::nullopt, std::nullopt));
    summary += ", " + bytes_text(*latest->size);
    if (previous && previous->size && *previous->size > 0) {
      const double change = (*latest->size - *previous->size) / *previous->size * 100;
      Metric metric;
      metric.label = "size_change";
      metric.value = std::round(change * 100) / 100;
      metric.unit = "%";
      if (policy.shrink_warn > 0) metric.warn = Range{-policy.shrink_warn, INFINITY};
      outcome.metrics.push_back(std::move(metric));
      const long rounded = std::lround(change);
      if (policy.shrink_warn > 0 && change < -policy.shrink_warn) {
        state = worst(state, State::kWarning);
        summary += ", " + std::to_string(-rounded) + "% smaller than the previous one (WARNING > " +
                   number_text(policy.shrink_warn) + "%)";
      } else {
        summary += " (" + std::string(rounded >= 0 ? "+" : "") + std::to_string(rounded) +
                   "% from the previous one)";
      }
    }
  }
  outcome.status = state;
  outcome.summary = std::move(summary);
  return outcome;
}

Status read_verify_every(const nlohmann::json& params, std::chrono::seconds& every) {
  return read_duration(params, "verify_every", {}, every);
}

void add_verification(Outcome& outcome, const std::optional<Verification>& verification,
                      std::int64_t now) {
  if (!verification) return;
  const std::string when =
      age_text(std::chrono::seconds(std::max<std::int64_t>(now - verification->time, 0))) + " ago";
  if (verification->ok) {
    outcome.summary += "; checked " + when + ": no errors";
    return;
  }
  outcome.status = State::kCritical;
  outcome.summary =
      "repository check failed " + when + ": " + verification->reason + "; " + outcome.summary;
}

Result<ProcessResult> run_backup_program(const std::vector<std::string>& argv,
                                         const std::string& what,
                                         std::chrono::steady_clock::time_point deadline,
                                         const std::vector<std::string>& environment,
                                         std::size_t max_output, int max_ok_exit,
                                         std::string (*reason)(std::string_view err),
                                         Outcome& failed) {
  constexpr std::size_t kMaxErrorDetails = 4 << 10;
  auto process = run_until(argv, deadline, environment, max_output);
  if (!process) {
    failed = unknown_outcome(process.status().message());
    return process.status();
  }
  if (process->ending == ProcessResult::Ending::kSignaled) {
    failed = unknown_outcome(what + " killed by signal " + std::to_string(process->signal),
                             process->err.substr(0, kMaxErrorDetails));
    return Status::io_error(failed.summary);
  }
  if (process->exit_code > max_ok_exit) {
    failed = Outcome{};
    failed.status = State::kCritical;
    failed.summary = what + " failed: " + reason(process->err);
    failed.details = process->err.substr(0, kMaxErrorDetails);
    return Status::unavailable(failed.summary);
  }
  if (process->truncated) {
    failed = unknown_outcome(what + ": output larger than " +
                             bytes_text(static_cast<double>(max_output)) + ", not read");
    return Status::too_large(failed.summary);
  }
  return process;
}

}  // namespace vigie::plugins::backup
