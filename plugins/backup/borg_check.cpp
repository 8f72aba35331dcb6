#include "plugins/backup/borg_check.hpp"

#include <algorithm>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "plugins/backup/freshness.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

using nlohmann::json;

// `borg list --json` takes about 250 bytes an archive.
constexpr std::size_t kMaxListOutput = 16 << 20;
constexpr std::size_t kMaxInfoOutput = 1 << 20;
constexpr std::size_t kMaxPassphraseFile = 4 << 10;
constexpr std::string_view kDefaultBaseDir = "/var/lib/vigie/borg";

struct Listed {
  std::string name;
  std::int64_t time = 0;
  std::string id;  // "" when borg did not give one
};

struct Sized {
  std::string id;
  RestorePoint snapshot;
};

// borg prints its error first: alone, or before a traceback and a platform report. Python
// warnings (GetPassWarning...) may come before it.
std::string borg_reason(std::string_view err) {
  while (!err.empty()) {
    const auto newline = err.find('\n');
    const auto line = first_line(err.substr(0, newline));
    err.remove_prefix(newline == std::string_view::npos ? err.size() : newline + 1);
    if (line.empty() || line.find("Warning") != std::string::npos) continue;
    return line;
  }
  return "no reason given";
}

// The "archives" array of `borg list --json` / `borg info --json`, checked.
Result<const json*> archives_of(const json& document, const std::string& what) {
  if (!document.is_object()) return Status(Code::kCorruption, what + ": expected a JSON object");
  const auto archives = document.find("archives");
  if (archives == document.end() || !archives->is_array())
    return Status(Code::kCorruption, what + ": no \"archives\" array");
  return &*archives;
}

Result<std::int64_t> archive_time(const json& archive, const std::string& where) {
  if (!archive.is_object()) return Status(Code::kCorruption, where + " is not an object");
  const auto start = archive.find("start");
  if (start == archive.end() || !start->is_string())
    return Status(Code::kCorruption, where + " has no \"start\"");
  // borg writes local time without a zone.
  const auto seconds = parse_timestamp(start->get_ref<const std::string&>(), true);
  if (!seconds) {
    return Status(Code::kCorruption,
                  where + ": unreadable start " + quote(start->get_ref<const std::string&>()));
  }
  return *seconds;
}

Result<std::vector<Listed>> parse_list(std::string_view out) {
  auto parsed = parse_json_output(out, "borg list");
  if (!parsed) return parsed.status();
  auto archives = archives_of(*parsed, "borg list");
  if (!archives) return archives.status();
  std::vector<Listed> listed;
  listed.reserve((*archives)->size());
  for (std::size_t i = 0; i < (*archives)->size(); ++i) {
    const auto& archive = (**archives)[i];
    const std::string where = "borg list: archive " + std::to_string(i);
    auto time = archive_time(archive, where);
    if (!time) return time.status();
    const auto name = archive.find("name");
    if (name == archive.end() || !name->is_string())
      return Status(Code::kCorruption, where + " has no \"name\"");
    const auto id = archive.find("id");
    listed.push_back(Listed{name->get<std::string>(), *time,
                            id != archive.end() && id->is_string() ? id->get<std::string>() : ""});
  }
  return listed;
}

// The newest two archives of `borg info --json --last 2`, newest first.
Result<std::vector<Sized>> parse_info(std::string_view out) {
  auto parsed = parse_json_output(out, "borg info");
  if (!parsed) return parsed.status();
  auto archives = archives_of(*parsed, "borg info");
  if (!archives) return archives.status();
  std::vector<Sized> snapshots;
  for (std::size_t i = 0; i < (*archives)->size(); ++i) {
    const auto& archive = (**archives)[i];
    const std::string where = "borg info: archive " + std::to_string(i);
    auto time = archive_time(archive, where);
    if (!time) return time.status();
    const auto stats = archive.find("stats");
    if (stats == archive.end() || !stats->is_object())
      return Status(Code::kCorruption, where + " has no \"stats\"");
    const auto size = stats->find("original_size");
    if (size == stats->end() || !size->is_number() || size->get<double>() < 0)
      return Status(Code::kCorruption, where + " has no \"stats.original_size\" number");
    const auto id = archive.find("id");
    snapshots.push_back(Sized{id != archive.end() && id->is_string() ? id->get<std::string>() : "",
                              RestorePoint{*time, size->get<double>()}});
  }
  std::sort(snapshots.begin(), snapshots.end(),
            [](const Sized& a, const Sized& b) { return a.snapshot.time > b.snapshot.time; });
  return snapshots;
}

class BorgCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return repository_; }
  Outcome run(const RunContext& context) override;

 private:
  std::vector<std::string> command(std::vector<std::string> args) const;

  std::string repository_;
  std::string passphrase_file_;
  std::string archives_;
  std::vector<std::string> borg_{"borg"};
  std::vector<std::string> environment_;
  FreshnessPolicy policy_;
  std::chrono::seconds verify_every_{0};
  std::mutex mutex_;  // guards verified_ and sizes_: runs may overlap
  std::optional<Verification> verified_;
  // Archives never change: the sizes `borg info` gave for the newest two, by archive id,
  // spare the next runs that call while no new archive comes.
  std::map<std::string, double> sizes_;
};

Status BorgCheck::configure(const json& params) {
  if (Status s =
          check_parameters(params, {"repository", "passphrase_file", "archives", "base_dir", "borg",
                                    "env", "warn", "crit", "shrink_warn", "verify_every"});
      !s)
    return s;
  std::string repository;
  std::string passphrase_file;
  std::string archives;
  std::string base_dir{kDefaultBaseDir};
  if (Status s = read_string(params, "repository", repository, {.required = true}); !s) return s;
  if (Status s = read_absolute_path(params, "passphrase_file", passphrase_file); !s) return s;
  if (Status s = read_string(params, "archives", archives); !s) return s;
  if (Status s = read_absolute_path(params, "base_dir", base_dir); !s) return s;
  std::vector<std::string> borg = borg_;
  if (Status s = read_command(params, "borg", borg); !s) return s;
  // borg must never wait for an answer: a question it would ask is answered here, and
  // the passphrase is always given (empty for an unencrypted repository).
  std::vector<std::string> environment = default_environment();
  environment.insert(environment.end(),
                     {"BORG_BASE_DIR=" + base_dir, "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes",
                      "BORG_RELOCATED_REPO_ACCESS_IS_OK=yes", "BORG_DISPLAY_PASSPHRASE=no"});
  if (Status s = read_environment(params, "env", environment); !s) return s;
  FreshnessPolicy policy;
  if (Status s = read_policy(params, policy); !s) return s;
  std::chrono::seconds verify_every{0};
  if (Status s = read_verify_every(params, verify_every); !s) return s;

  verify_every_ = verify_every;
  repository_ = std::move(repository);
  passphrase_file_ = std::move(passphrase_file);
  archives_ = std::move(archives);
  borg_ = std::move(borg);
  environment_ = std::move(environment);
  policy_ = policy;
  return Status::ok();
}

std::vector<std::string> BorgCheck::command(std::vector<std::string> args) const {
  std::vector<std::string> argv = borg_;
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--json", "--bypass-lock"});
  if (!archives_.empty()) argv.insert(argv.end(), {"--glob-archives", archives_});
  argv.push_back(repository_);
  return argv;
}

Outcome BorgCheck::run(const RunContext& context) {
  if (repository_.empty()) return unknown_outcome("check not configured: no repository");
  std::vector<std::string> environment = environment_;
  std::string passphrase;
  if (!passphrase_file_.empty()) {
    // Read at each run, so that a changed passphrase needs no restart.
    auto text = read_file(passphrase_file_, kMaxPassphraseFile);
    if (!text) return unknown_outcome("passphrase_file: " + text.status().message());
    passphrase = text->substr(0, text->find_first_of("\r\n"));
  }
  environment.push_back("BORG_PASSPHRASE=" + passphrase);

  Outcome failed;
  // Exit code 1 is a borg warning: the listing is still complete.
  const auto listing = run_backup_program(command({"list"}), "borg list", context.deadline,
                                          environment, kMaxListOutput, 1, &borg_reason, failed);
  if (!listing) return failed;
  const auto archives = parse_list(listing->out);
  if (!archives) return unknown_outcome(archives.status().message());

  // The repository check, when due, comes before `borg info`: a damaged repository may
  // fail it, and the check says why. It needs the repository's lock: while a backup holds
  // it, the check waits for a later run.
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::optional<Verification> verified;
  std::string unfinished;
  {
    std::lock_guard lock(mutex_);
    verified = verified_;
  }
  if (verify_every_.count() > 0 && (!verified || now - verified->time >= verify_every_.count())) {
    auto argv = borg_;
    argv.insert(argv.end(), {"check", "--repository-only", "--lock-wait", "1", repository_});
    auto process = run_until(argv, context.deadline, environment, 64 << 10);
    if (!process) {
      unfinished = "repository check did not finish: " + process.status().message();
    } else if (process->ending != ProcessResult::Ending::kExited) {
      unfinished = "borg check killed by signal " + std::to_string(process->signal);
    } else if (process->exit_code != 0 &&
               process->err.find("Failed to create/acquire the lock") != std::string::npos) {
      unfinished = "repository check postponed: the repository is locked (a backup running?)";
    } else {
      verified = Verification{static_cast<std::int64_t>(std::time(nullptr)),
                              process->exit_code == 0, borg_reason(process->err)};
      std::lock_guard lock(mutex_);
      verified_ = verified;
    }
  }

  std::optional<RestorePoint> latest;
  std::optional<RestorePoint> previous;
  // Newest first; the sizes of the newest two may be known from a previous run.
  std::vector<Listed> newest_listed = *archives;
  std::sort(newest_listed.begin(), newest_listed.end(),
            [](const Listed& a, const Listed& b) { return a.time > b.time; });
  if (newest_listed.size() > 2) newest_listed.resize(2);
  std::map<std::string, double> known;
  {
    std::lock_guard lock(mutex_);
    known = sizes_;
  }
  const bool all_known =
      !newest_listed.empty() && std::all_of(newest_listed.begin(), newest_listed.end(),
                                            [&](const Listed& a) { return known.contains(a.id); });
  if (all_known) {
    latest = RestorePoint{newest_listed[0].time, known.at(newest_listed[0].id)};
    if (newest_listed.size() > 1)
      previous = RestorePoint{newest_listed[1].time, known.at(newest_listed[1].id)};
  } else if (!archives->empty()) {
    const auto info =
        run_backup_program(command({"info", "--last", "2"}), "borg info", context.deadline,
                           environment, kMaxInfoOutput, 1, &borg_reason, failed);
    if (!info) {
      if (verified && !verified->ok) add_verification(failed, verified, now);
      return failed;
    }
    const auto newest = parse_info(info->out);
    if (!newest) return unknown_outcome(newest.status().message());
    if (newest->empty())
      return unknown_outcome("borg info: no archive, though borg list showed " +
                             std::to_string(archives->size()));
    latest = (*newest)[0].snapshot;
    if (newest->size() > 1) previous = (*newest)[1].snapshot;
    std::map<std::string, double> sizes;
    for (const auto& sized : *newest) {
      if (!sized.id.empty()) sizes[sized.id] = *sized.snapshot.size;
    }
    std::lock_guard lock(mutex_);
    sizes_ = std::move(sizes);
  }
  auto outcome = judge_freshness("archive", archives->size(), latest, previous, policy_,
                                 static_cast<std::int64_t>(std::time(nullptr)));
  if (!latest && !archives_.empty()) outcome.summary += " matching " + quote(archives_);
  if (!latest) outcome.summary += " in " + repository_;
  add_verification(outcome, verified, now);
  if (!unfinished.empty()) {
    outcome.status = worst(outcome.status, State::kWarning);
    outcome.summary += "; " + unfinished + " (WARNING)";
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_borg_check() { return std::make_unique<BorgCheck>(); }

}  // namespace vigie::plugins::backup
