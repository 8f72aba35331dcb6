#include "plugins/backup/avamar_check.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/protocol_rules.hpp"
#include "plugins/backup/freshness.hpp"
#include "plugins/backup/mccli.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxOutput = 4 << 20;
constexpr std::string_view kWhat = "mccli activity show";
// Domains of no member: retired clients, the server's own, replicas ([SKW] and others
// leave them out). Their clients are listed only when a `sites` key names them.
constexpr std::string_view kSkippedDomains[] = {"/MC_RETIRED", "/MC_SYSTEM", "/REPLICATE"};

enum class Kind { kCompleted, kException, kRunning, kFailed };

// The statuses public Avamar tools know ([MSC]'s list, grouped as it does); anything
// else is not judged.
std::optional<Kind> classify(std::string_view status) {
  if (status == "Completed") return Kind::kCompleted;
  if (status.starts_with("Completed w/")) return Kind::kException;
  if (status == "Running" || status == "Queued" || status == "Waiting" ||
      status.starts_with("Running-") || status.starts_with("Waiting-"))
    return Kind::kRunning;
  static constexpr std::string_view kFailures[] = {"Failed",
                                                   "Canceled",
                                                   "Cancelled",
                                                   "No Proxy",
                                                   "No Data",
                                                   "No DD",
                                                   "No vm",
                                                   "No Eligible Proxies",
                                                   "Client Not Registered",
                                                   "Client Backup Disabled",
                                                   "Dropped Session",
                                                   "Config Files Only",
                                                   "Unsupported Backup",
                                                   "Vm Disk Capacity 0"};
  for (const auto failure : kFailures) {
    if (status == failure) return Kind::kFailed;
  }
  if (status.starts_with("Timed Out")) return Kind::kFailed;
  return std::nullopt;
}

// "0.8%", "<0.05%", "0%": percent.
std::optional<double> parse_percent(std::string_view text) {
  text = trim_blank(text);
  if (text.starts_with('<')) text.remove_prefix(1);
  if (!text.ends_with('%')) return std::nullopt;
  text.remove_suffix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct Activity {
  std::string status;
  Kind kind = Kind::kFailed;
  long long error_code = 0;
  std::int64_t start = 0;
  std::optional<std::int64_t> end;
  std::optional<double> bytes;
  std::optional<double> new_bytes;  // percent
  std::string client;
  std::string domain;
};

// The client's path: its domain and name, "/clients/onesse/srv-mairie01".
std::string client_path(const Activity& a) {
  std::string domain = a.domain;
  while (domain.ends_with('/')) domain.pop_back();
  return domain + "/" + a.client;
}

// The columns a reading needs, by their printed names.
Status check_columns(const MccliOutput& output, bool grid) {
  static constexpr std::pair<std::string_view, std::string_view> kNeeded[] = {
      {"Status", "Status"},    {"ErrorCode", "Error Code"}, {"StartTime", "Start Time"},
      {"EndTime", "End Time"}, {"Client", "Client"},        {"Domain", "Domain"}};
  for (const auto& [column, printed] : kNeeded) {
    if (column == "Domain" && !grid) continue;
    if (!output.has_column(column)) {
      return Status::corruption(std::string(kWhat) + ": no \"" +
                                std::string(output.xml ? column : printed) + "\" column");
    }
  }
  return Status::ok();
}

// One row as an activity; the error names the row. `note` gets what is left out.
Result<Activity> read_activity(const MccliRow& row, std::string& note) {
  const auto fail = [&](const std::string& why) {
    return Status::corruption(std::string(kWhat) + ": row " + std::to_string(row.number) + ": " +
                              why + " in " + quote(row.text));
  };
  Activity a;
  a.status = std::string(row.cell("Status"));
  const auto kind = classify(a.status);
  if (!kind) return fail("unknown status " + quote(a.status));
  a.kind = *kind;
  const auto code = row.cell("ErrorCode");
  const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), a.error_code);
  if (code.empty() || ec != std::errc() || end != code.data() + code.size())
    return fail("error code " + quote(code) + " is not a number");
  const auto start = parse_avamar_time(row.cell("StartTime"));
  if (!start) return fail("unreadable start time " + quote(row.cell("StartTime")));
  a.start = *start;
  const auto end_text = row.cell("EndTime");
  if (!end_text.empty() && end_text != "N/A") {
    a.end = parse_avamar_time(end_text);
    if (!a.end) return fail("unreadable end time " + quote(end_text));
  }
  if (const auto bytes = row.cell("ProgressBytes"); !bytes.empty()) {
    a.bytes = parse_avamar_bytes(bytes);
    if (!a.bytes && note.empty()) note = "size left out: unreadable Progress Bytes " + quote(bytes);
  }
  if (const auto fresh = row.cell("NewBytes"); !fresh.empty()) a.new_bytes = parse_percent(fresh);
  a.client = std::string(row.cell("Client"));
  a.domain = std::string(row.cell("Domain"));
  return a;
}

// Whether a row is a backup: the Type column, when there is one, says so ("Scheduled
// Backup", "On-Demand Backup"); restores and replications are not judged here.
bool is_backup(const MccliRow& row) {
  const auto it = row.cells.find("Type");
  if (it == row.cells.end() || it->second.empty()) return true;
  std::string type = it->second;
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type.find("backup") != std::string::npos;
}

// The outcome for one client's (or all clients') activities, newest first.
Outcome judge(std::vector<Activity> rows, const FreshnessPolicy& policy, std::int64_t now,
              const std::string& whose) {
  std::sort(rows.begin(), rows.end(),
            [](const Activity& a, const Activity& b) { return a.start > b.start; });
  if (rows.empty()) {
    Outcome outcome;
    outcome.status = State::kCritical;
    outcome.summary = "no backup activity" + whose;
    return outcome;
  }
  const Activity* finished = nullptr;
  const Activity* running = nullptr;
  std::vector<const Activity*> completed;
  std::size_t failures = 0, exceptions = 0;
  for (const auto& row : rows) {
    failures += row.kind == Kind::kFailed ? 1 : 0;
    exceptions += row.kind == Kind::kException ? 1 : 0;
    if (row.kind == Kind::kRunning) {
      if (running == nullptr) running = &row;
      continue;
    }
    if (finished == nullptr) finished = &row;
    if ((row.kind == Kind::kCompleted || row.kind == Kind::kException) && row.end)
      completed.push_back(&row);
  }
  std::optional<RestorePoint> latest;
  std::optional<RestorePoint> previous;
  if (!completed.empty()) latest = RestorePoint{*completed[0]->end, completed[0]->bytes};
  if (completed.size() > 1) previous = RestorePoint{*completed[1]->end, completed[1]->bytes};
  auto outcome =
      judge_freshness("completed backup", completed.size(), latest, previous, policy, now);
  if (!latest) outcome.summary += whose;

  if (finished != nullptr) {
    outcome.metrics.push_back(threshold_metric("error_code",
                                               static_cast<double>(finished->error_code), "",
                                               std::nullopt, std::nullopt, std::nullopt));
    State state = State::kOk;
    if (finished->kind == Kind::kFailed) {
      state = State::kCritical;
    } else if (finished->kind == Kind::kException || finished->error_code != 0) {
      state = State::kWarning;
    }
    if (state != State::kOk) {
      outcome.status = worst(outcome.status, state);
      outcome.summary = "last backup" + whose + " " + finished->status + " (error code " +
                        std::to_string(finished->error_code) + ", started " +
                        utc_text(finished->start) + ") (" + std::string(state_name(state)) + "); " +
                        outcome.summary;
    }
  }
  // Earlier failures and exceptions than the last finished backup, which is named already.
  std::size_t earlier_failures = failures, earlier_exceptions = exceptions;
  if (finished != nullptr && finished->kind == Kind::kFailed) --earlier_failures;
  if (finished != nullptr && finished->kind == Kind::kException) --earlier_exceptions;
  if (earlier_failures > 0 || earlier_exceptions > 0) {
    outcome.summary += "; also listed: ";
    if (earlier_failures > 0) outcome.summary += std::to_string(earlier_failures) + " failed";
    if (earlier_failures > 0 && earlier_exceptions > 0) outcome.summary += ", ";
    if (earlier_exceptions > 0)
      outcome.summary += std::to_string(earlier_exceptions) + " with exceptions";
  }
  outcome.details += "listed: " + std::to_string(rows.size()) + " backups, " +
                     std::to_string(failures) + " failed, " + std::to_string(exceptions) +
                     " with exceptions\n";
  outcome.metrics.push_back(
      threshold_metric("failures", static_cast<double>(failures), "", std::nullopt, std::nullopt));
  outcome.metrics.push_back(threshold_metric("exceptions", static_cast<double>(exceptions), "",
                                             std::nullopt, std::nullopt));
  if (!completed.empty() && completed[0]->new_bytes) {
    outcome.metrics.push_back(threshold_metric("new_bytes", *completed[0]->new_bytes, "%",
                                               std::nullopt, std::nullopt, 0, 100));
  }
  if (running != nullptr)
    outcome.summary += "; " + running->status + " since " + utc_text(running->start);
  return outcome;
}

// A `sites` entry: a domain or client path, its site and the schedule's thresholds.
struct Mapping {
  std::string path;  // without a trailing '/'
  std::string site;
  FreshnessPolicy policy;
};

bool under(std::string_view path, std::string_view prefix) {
  return path == prefix || (path.starts_with(prefix) && path.size() > prefix.size() &&
                            (prefix.ends_with('/') || path[prefix.size()] == '/'));
}

class AvamarCheck final : public Check {
 public:
  void attach(const Environment& env) override { now_ = env.now; }
  Status configure(const json& params) override;
  std::string instance() const override { return client_; }
  Outcome run(const RunContext& context) override;
  std::vector<Outcome> run_all(const RunContext& context) override;

 private:
  std::int64_t now() const {
    const auto t = now_ ? now_() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  }
  // The command's output read as a table, or the outcome that says why not.
  Result<MccliOutput> listing(const RunContext& context) const;
  std::vector<Outcome> grid(const MccliOutput& output) const;

  std::function<std::chrono::system_clock::time_point()> now_;
  std::vector<std::string> command_;
  std::string client_;
  FreshnessPolicy policy_;
  std::vector<Mapping> sites_;  // grid mode when not empty
};

Status AvamarCheck::configure(const json& params) {
  if (Status s =
          check_parameters(params, {"command", "client", "warn", "crit", "shrink_warn", "sites"});
      !s)
    return s;
  std::vector<std::string> command;
  if (Status s = read_command(params, "command", command); !s) return s;
  if (command.empty())
    return Status::invalid(
        "command: required, e.g. [\"ssh\", \"admin@avamar\", \"mccli\", "
        "\"activity\", \"show\"]");
  std::string client;
  if (Status s = read_string(params, "client", client); !s) return s;
  FreshnessPolicy policy;
  if (Status s = read_policy(params, policy); !s) return s;
  std::vector<Mapping> sites;
  if (const auto it = params.find("sites"); it != params.end()) {
    if (!client.empty())
      return Status::invalid("sites: not with client (sites reads every client)");
    if (!it->is_object() || it->empty())
      return Status::invalid("sites: must be an object of \"/domain/or/client\": \"site\"");
    for (const auto& [key, value] : it->items()) {
      Mapping m{.policy = policy};
      const std::string where = "sites: \"" + key.substr(0, 60) + "\": ";
      if (!key.starts_with('/') || key.size() > 500 ||
          !protocol::rules::is_check_id("a/b:" + key).is_ok())
        return Status::invalid(where + "must be a domain or client path starting with '/'");
      m.path = key;
      while (m.path.size() > 1 && m.path.ends_with('/')) m.path.pop_back();
      if (value.is_string()) {
        m.site = value.get<std::string>();
      } else if (value.is_object()) {
        if (Status s = check_keys(value, {"site", "warn", "crit", "shrink_warn"}); !s)
          return Status::invalid(where + s.message());
        if (Status s = read_string(value, "site", m.site, {.required = true}); !s)
          return Status::invalid(where + s.message());
        if (Status s = read_policy(value, m.policy); !s)
          return Status::invalid(where + s.message());
      } else {
        return Status::invalid(where + "must be a site name, or {\"site\": ..., \"warn\": ...}");
      }
      if (!protocol::rules::is_identifier(m.site))
        return Status::invalid(where + "\"" + m.site.substr(0, 60) + "\" is not a site name");
      for (const auto& other : sites) {
        if (other.path == m.path) return Status::invalid(where + "given twice");
      }
      sites.push_back(std::move(m));
    }
  }
  command_ = std::move(command);
  client_ = std::move(client);
  policy_ = policy;
  sites_ = std::move(sites);
  return Status::ok();
}

Result<MccliOutput> AvamarCheck::listing(const RunContext& context) const {
  if (command_.empty())
    return Status(Code::kFailedPrecondition, "check not configured: no command");
  const auto process = run_until(command_, context.deadline, default_environment(), kMaxOutput);
  if (!process) return process.status();
  if (process->truncated)
    return Status::too_large(std::string(kWhat) + ": output larger than " + bytes_text(kMaxOutput));
  if (process->ending != ProcessResult::Ending::kExited || process->exit_code != 0) {
    // mccli says why on its status line, when it got that far.
    if (auto said = parse_mccli(process->out, kWhat);
        !said && said.status().code() == Code::kUnavailable)
      return said.status();
    const auto why = last_line(process->err);
    return Status::unavailable(command_[0] + " failed" +
                               (process->ending == ProcessResult::Ending::kExited
                                    ? " with code " + std::to_string(process->exit_code)
                                    : std::string()) +
                               ": " + (why.empty() ? std::string("no reason given") : why));
  }
  auto output = parse_mccli(process->out, kWhat);
  if (!output) return output.status();
  if (Status s = check_columns(*output, !sites_.empty()); !s) return s;
  return output;
}

Outcome AvamarCheck::run(const RunContext& context) {
  if (!sites_.empty()) return run_all(context).front();
  auto output = listing(context);
  if (!output) return unknown_outcome(output.status().message());
  std::vector<Activity> rows;
  std::string note;
  std::size_t others = 0;
  for (const auto& row : output->rows) {
    if (!client_.empty() && row.cell("Client") != client_) continue;
    if (!is_backup(row)) {
      ++others;
      continue;
    }
    auto activity = read_activity(row, note);
    if (!activity) return unknown_outcome(activity.status().message());
    rows.push_back(std::move(*activity));
  }
  auto outcome =
      judge(std::move(rows), policy_, now(), client_.empty() ? std::string() : " for " + client_);
  if (!note.empty()) outcome.details += note + "\n";
  if (others > 0) outcome.details += std::to_string(others) + " activities other than backups\n";
  return outcome;
}

std::vector<Outcome> AvamarCheck::run_all(const RunContext& context) {
  if (sites_.empty()) return {run(context)};
  auto output = listing(context);
  if (!output) return {unknown_outcome(output.status().message())};
  return grid(*output);
}

std::vector<Outcome> AvamarCheck::grid(const MccliOutput& output) const {
  // Each client's activities, or the first row of it that could not be read.
  std::map<std::string, std::vector<Activity>> clients;
  std::map<std::string, std::string> unreadable;
  std::map<std::string, std::string> notes;
  std::size_t others = 0;
  for (const auto& row : output.rows) {
    if (!is_backup(row)) {
      ++others;
      continue;
    }
    std::string note;
    auto activity = read_activity(row, note);
    if (!activity) {
      // A row that names its client makes that client UNKNOWN; one that does not, the
      // whole listing: which client it was about cannot be told.
      if (row.cell("Client").empty() || !row.cell("Domain").starts_with('/'))
        return {unknown_outcome(activity.status().message())};
      Activity named{.client = std::string(row.cell("Client")),
                     .domain = std::string(row.cell("Domain"))};
      unreadable.emplace(client_path(named), activity.status().message());
      continue;
    }
    const std::string path = client_path(*activity);
    if (!note.empty()) notes.emplace(path, note);
    clients[path].push_back(std::move(*activity));
  }
  for (const auto& [path, why] : unreadable) clients.try_emplace(path);

  // Longest prefix wins.
  const auto mapping_of = [&](const std::string& path) -> const Mapping* {
    const Mapping* best = nullptr;
    for (const auto& m : sites_) {
      if (under(path, m.path) && (best == nullptr || m.path.size() > best->path.size())) best = &m;
    }
    return best;
  };
  std::vector<Outcome> out(1);
  std::vector<std::string> unmapped;
  std::set<const Mapping*> used;
  const std::int64_t when = now();
  for (auto& [path, rows] : clients) {
    const Mapping* m = mapping_of(path);
    if (m == nullptr) {
      const bool skipped =
          std::any_of(std::begin(kSkippedDomains), std::end(kSkippedDomains),
                      // named, not captured: clang 14 cannot capture a binding
                      [&client = path](std::string_view d) { return under(client, d); });
      if (!skipped) unmapped.push_back(path);
      continue;
    }
    used.insert(m);
    Outcome o;
    if (const auto it = unreadable.find(path); it != unreadable.end()) {
      o = unknown_outcome(it->second);
    } else {
      o = judge(std::move(rows), m->policy, when, "");
      if (const auto it = notes.find(path); it != notes.end()) o.details += it->second + "\n";
    }
    o.target = path;
    o.site = m->site;
    out.push_back(std::move(o));
  }
  // A key under which nothing is listed: the member's clients are not backed up.
  for (const auto& m : sites_) {
    if (used.contains(&m) || clients.contains(m.path)) continue;
    Outcome o;
    o.status = State::kCritical;
    o.summary = "no backup activity listed under " + m.path;
    o.target = m.path;
    o.site = m.site;
    out.push_back(std::move(o));
  }

  Outcome& own = out.front();
  std::vector<std::string> silent;  // sites entries with nothing listed
  for (const auto& o : out) {
    if (o.status == State::kCritical && o.summary.starts_with("no backup activity listed under"))
      silent.push_back(o.target);
  }
  own.status = unmapped.empty() ? State::kOk : State::kWarning;
  own.summary = std::to_string(clients.size()) + " clients in the listing (" +
                std::to_string(output.rows.size()) + " activities" + (output.xml ? ", XML" : "") +
                "): " + std::to_string(out.size() - 1 - silent.size()) + " filed under their site";
  if (!silent.empty()) {
    own.summary +=
        "; " + std::to_string(silent.size()) + " sites entr" + (silent.size() == 1 ? "y" : "ies") +
        " with no activity listed: " + silent.front() + (silent.size() > 1 ? " and more" : "");
  }
  if (!unmapped.empty()) {
    own.summary += "; " + std::to_string(unmapped.size()) + " client" +
                   (unmapped.size() == 1 ? "" : "s") + " without a site: ";
    for (std::size_t i = 0; i < unmapped.size() && i < 5; ++i)
      own.summary += (i ? ", " : "") + unmapped[i];
    if (unmapped.size() > 5) own.summary += " and " + std::to_string(unmapped.size() - 5) + " more";
  }
  for (const auto& path : unmapped) own.details += "without a site: " + path + "\n";
  if (others > 0) own.details += std::to_string(others) + " activities other than backups\n";
  own.metrics = {
      threshold_metric("clients", static_cast<double>(clients.size()), "", std::nullopt,
                       std::nullopt),
      threshold_metric("unmapped", static_cast<double>(unmapped.size()), "", 0, std::nullopt)};
  return out;
}

}  // namespace

std::unique_ptr<Check> make_avamar_check() { return std::make_unique<AvamarCheck>(); }

}  // namespace vigie::plugins::backup
