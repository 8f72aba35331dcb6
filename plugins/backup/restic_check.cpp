#include "plugins/backup/restic_check.hpp"

#include <algorithm>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "plugins/backup/freshness.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

using nlohmann::json;

// `restic snapshots --json` takes about 300 bytes a snapshot (1 KiB with a summary):
// this holds tens of thousands of them.
constexpr std::size_t kMaxSnapshotsOutput = 16 << 20;
constexpr std::size_t kMaxStatsOutput = 64 << 10;

struct Listed {
  std::string id;
  std::int64_t time = 0;
  std::optional<double> size;  // from the summary of restic >= 0.17
};

// restic says why it failed on a line with "Fatal: ".
std::string restic_reason(std::string_view err) {
  std::string_view rest = err;
  while (!rest.empty()) {
    const auto newline = rest.find('\n');
    const auto line = rest.substr(0, newline);
    if (line.find("Fatal: ") != std::string_view::npos) {
      const auto reason = first_line(line.starts_with("Fatal: ") ? line.substr(7) : line);
      if (!reason.empty()) return reason;
    }
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  }
  const auto last = last_line(err);
  return last.empty() ? std::string("no reason given") : last;
}

Result<std::vector<Listed>> parse_snapshots(std::string_view out) {
  auto parsed = parse_json_output(out, "restic snapshots");
  if (!parsed) return parsed.status();
  if (!parsed->is_array())
    return Status(Code::kCorruption, "restic snapshots: expected a JSON array of snapshots");
  std::vector<Listed> snapshots;
  snapshots.reserve(parsed->size());
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    const auto& item = (*parsed)[i];
    const std::string where = "restic snapshots: snapshot " + std::to_string(i);
    if (!item.is_object()) return Status(Code::kCorruption, where + " is not an object");
    const auto time = item.find("time");
    if (time == item.end() || !time->is_string())
      return Status(Code::kCorruption, where + " has no \"time\"");
    const auto seconds = parse_timestamp(time->get_ref<const std::string&>(), false);
    if (!seconds) {
      return Status(Code::kCorruption,
                    where + ": unreadable time " + quote(time->get_ref<const std::string&>()));
    }
    const auto id = item.find("id");
    if (id == item.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
      return Status(Code::kCorruption, where + " has no \"id\"");
    Listed listed{id->get<std::string>(), *seconds, std::nullopt};
    if (const auto summary = item.find("summary"); summary != item.end() && summary->is_object()) {
      const auto bytes = summary->find("total_bytes_processed");
      if (bytes != summary->end() && bytes->is_number() && bytes->get<double>() >= 0)
        listed.size = bytes->get<double>();
    }
    snapshots.push_back(std::move(listed));
  }
  return snapshots;
}

Result<double> parse_stats(std::string_view out) {
  auto parsed = parse_json_output(out, "restic stats");
  if (!parsed) return parsed.status();
  if (!parsed->is_object())
    return Status(Code::kCorruption, "restic stats: expected a JSON object");
  const auto size = parsed->find("total_size");
  if (size == parsed->end() || !size->is_number() || size->get<double>() < 0)
    return Status(Code::kCorruption, "restic stats: no \"total_size\" number");
  return size->get<double>();
}

class ResticCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return repository_; }
  Outcome run(const RunContext& context) override;

 private:
  // restic with the global options, then `args`.
  std::vector<std::string> command(std::vector<std::string> args) const;
  // Runs restic; on failure `failed` is the outcome to return.
  Result<ProcessResult> run_restic(std::vector<std::string> args, const RunContext& context,
                                   std::size_t max_output, Outcome& failed) const;

  std::string repository_;
  std::string password_file_;
  std::string cache_dir_;
  std::vector<std::string> filters_;  // --host H --path P --tag T
  std::vector<std::string> restic_{"restic"};
  std::vector<std::string> environment_ = default_environment();
  FreshnessPolicy policy_;
  std::chrono::seconds verify_every_{0};
  std::mutex mutex_;  // guards verified_ and sizes_: runs may overlap
  std::optional<Verification> verified_;
  // Snapshots never change: the sizes `restic stats` gave for the newest two, by id,
  // spare walking their trees again at the next run.
  std::map<std::string, double> sizes_;
};

Status ResticCheck::configure(const json& params) {
  if (Status s = check_parameters(
          params, {"repository", "password_file", "cache_dir", "host", "path", "tag", "restic",
                   "env", "warn", "crit", "shrink_warn", "verify_every"});
      !s)
    return s;
  std::string repository;
  std::string password_file;
  std::string cache_dir;
  if (Status s = read_string(params, "repository", repository, {.required = true}); !s) return s;
  if (Status s = read_absolute_path(params, "password_file", password_file, /*required=*/true); !s)
    return s;
  if (Status s = read_absolute_path(params, "cache_dir", cache_dir); !s) return s;
  std::vector<std::string> filters;
  for (const std::string key : {"host", "path", "tag"}) {
    std::string value;
    if (Status s = read_string(params, key, value); !s) return s;
    if (!value.empty()) {
      filters.push_back("--" + key);
      filters.push_back(value);
    }
  }
  std::vector<std::string> restic = restic_;
  if (Status s = read_command(params, "restic", restic); !s) return s;
  std::vector<std::string> environment = default_environment();
  if (Status s = read_environment(params, "env", environment); !s) return s;
  FreshnessPolicy policy;
  if (Status s = read_policy(params, policy); !s) return s;
  std::chrono::seconds verify_every{0};
  if (Status s = read_verify_every(params, verify_every); !s) return s;

  verify_every_ = verify_every;
  repository_ = std::move(repository);
  password_file_ = std::move(password_file);
  cache_dir_ = std::move(cache_dir);
  filters_ = std::move(filters);
  restic_ = std::move(restic);
  environment_ = std::move(environment);
  policy_ = policy;
  return Status::ok();
}

std::vector<std::string> ResticCheck::command(std::vector<std::string> args) const {
  std::vector<std::string> argv = restic_;
  argv.insert(argv.end(), {"--repo", repository_, "--password-file", password_file_, "--no-lock",
                           "--json", "--quiet"});
  if (cache_dir_.empty()) {
    argv.push_back("--no-cache");
  } else {
    argv.insert(argv.end(), {"--cache-dir", cache_dir_});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Result<ProcessResult> ResticCheck::run_restic(std::vector<std::string> args,
                                              const RunContext& context, std::size_t max_output,
                                              Outcome& failed) const {
  const std::string what = "restic " + args.front();
  return run_backup_program(command(std::move(args)), what, context.deadline, environment_,
                            max_output, 0, &restic_reason, failed);
}

Outcome ResticCheck::run(const RunContext& context) {
  if (repository_.empty()) return unknown_outcome("check not configured: no repository");
  Outcome failed;
  std::vector<std::string> args = {"snapshots"};
  args.insert(args.end(), filters_.begin(), filters_.end());
  const auto listing = run_restic(std::move(args), context, kMaxSnapshotsOutput, failed);
  if (!listing) return failed;
  auto snapshots = parse_snapshots(listing->out);
  if (!snapshots) return unknown_outcome(snapshots.status().message());

  // The repository check, when due, comes before the sizes: a damaged repository may
  // fail `restic stats`, and the check says why.
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::optional<Verification> verified;
  std::string unfinished;
  {
    std::lock_guard lock(mutex_);
    verified = verified_;
  }
  if (verify_every_.count() > 0 && (!verified || now - verified->time >= verify_every_.count())) {
    auto process = run_until(command({"check"}), context.deadline, environment_, 64 << 10);
    if (!process) {
      unfinished = "repository check did not finish: " + process.status().message();
    } else if (process->ending != ProcessResult::Ending::kExited) {
      unfinished = "restic check killed by signal " + std::to_string(process->signal);
    } else {
      verified = Verification{static_cast<std::int64_t>(std::time(nullptr)),
                              process->exit_code == 0, restic_reason(process->err)};
      std::lock_guard lock(mutex_);
      verified_ = verified;
    }
  }
  const auto damaged = [&](Outcome failed) {
    if (verified && !verified->ok) add_verification(failed, verified, now);
    return failed;
  };

  std::sort(snapshots->begin(), snapshots->end(),
            [](const Listed& a, const Listed& b) { return a.time > b.time; });
  std::optional<RestorePoint> latest;
  std::optional<RestorePoint> previous;
  std::map<std::string, double> known;
  {
    std::lock_guard lock(mutex_);
    known = sizes_;
  }
  std::map<std::string, double> sizes;
  for (std::size_t i = 0; i < std::min<std::size_t>(2, snapshots->size()); ++i) {
    Listed& listed = (*snapshots)[i];
    if (!listed.size && known.contains(listed.id)) listed.size = known.at(listed.id);
    if (!listed.size) {
      const auto stats = run_restic({"stats", listed.id}, context, kMaxStatsOutput, failed);
      if (!stats) return damaged(failed);
      auto size = parse_stats(stats->out);
      if (!size) return unknown_outcome(size.status().message());
      listed.size = *size;
    }
    sizes[listed.id] = *listed.size;
    (i == 0 ? latest : previous) = RestorePoint{listed.time, listed.size};
  }
  {
    std::lock_guard lock(mutex_);
    sizes_ = std::move(sizes);
  }
  auto outcome = judge_freshness("snapshot", snapshots->size(), latest, previous, policy_,
                                 static_cast<std::int64_t>(std::time(nullptr)));
  if (!latest && !filters_.empty()) outcome.summary += " matching the filters";
  if (!latest) outcome.summary += " in " + repository_;
  add_verification(outcome, verified, now);
  if (!unfinished.empty()) {
    outcome.status = worst(outcome.status, State::kWarning);
    outcome.summary += "; " + unfinished + " (WARNING)";
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_restic_check() { return std::make_unique<ResticCheck>(); }

}  // namespace vigie::plugins::backup
