#include "plugins/backup/avamar_check.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugins/backup/freshness.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxOutput = 4 << 20;
constexpr std::size_t kMaxRows = 20'000;

enum class Kind { kCompleted, kException, kRunning, kFailed };

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// The statuses public Avamar scripts know; anything else is not judged.
std::optional<Kind> classify(std::string_view status) {
  if (status == "Completed") return Kind::kCompleted;
  if (status.starts_with("Completed w/")) return Kind::kException;
  if (status == "Running" || status == "Queued" || status.starts_with("Running-") ||
      status.starts_with("Waiting-") || status == "Waiting")
    return Kind::kRunning;
  if (status == "Failed" || status == "Canceled" || status == "Cancelled" ||
      status.find("Dropped") != std::string_view::npos ||
      status.find("Timed Out") != std::string_view::npos ||
      status.find("Timed-Out") != std::string_view::npos ||
      status.find("Timed out") != std::string_view::npos)
    return Kind::kFailed;
  return std::nullopt;
}

// "2026-11-29 01:02 CET" or "2026-11-29 01:02:03 UTC": UTC and GMT are read as such, other
// zone abbreviations (ambiguous the world over) as the agent's local time.
std::optional<std::int64_t> parse_time(std::string_view text) {
  text = trim(text);
  std::string_view clock = text.substr(0, std::min(text.find(' ', 11), text.size()));
  const std::string_view zone = trim(text.substr(clock.size()));
  std::string iso(clock);
  if (iso.size() == 16) iso += ":00";
  if (iso.size() != 19) return std::nullopt;
  // mccli writes a zone: a time without one is not its layout (or a cut line).
  if (zone.empty()) return std::nullopt;
  const bool utc = zone == "UTC" || zone == "GMT" || zone == "Z";
  return parse_timestamp(utc ? iso + "Z" : iso, !utc);
}

// "1.3 GB", "512 MB", "0 bytes", "2,048 KB": bytes (units of 1024, as Avamar counts).
std::optional<double> parse_bytes(std::string_view text) {
  text = trim(text);
  std::string digits;
  std::size_t i = 0;
  for (;
       i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.' || text[i] == ',');
       ++i) {
    if (text[i] != ',') digits += text[i];
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return std::nullopt;
  const std::string_view unit = trim(text.substr(i));
  static constexpr std::pair<std::string_view, double> kUnits[] = {{"", 1},
                                                                   {"B", 1},
                                                                   {"bytes", 1},
                                                                   {"KB", 1024.0},
                                                                   {"MB", 1048576.0},
                                                                   {"GB", 1073741824.0},
                                                                   {"TB", 1099511627776.0},
                                                                   {"PB", 1125899906842624.0}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return value * factor;
  }
  return std::nullopt;
}

struct Row {
  std::string status;
  Kind outcome = Kind::kFailed;
  long long error_code = 0;
  std::int64_t start = 0;
  std::optional<std::int64_t> end;
  std::optional<double> bytes;
  std::string client;
};

struct Activities {
  std::vector<Row> rows;
  std::vector<std::string> notes;
};

Result<Activities> parse_activities(std::string_view out) {
  const auto bad = [](const std::string& why) {
    return Status(Code::kCorruption, "mccli activity show: " + why);
  };
  std::vector<std::string_view> lines;
  while (!out.empty()) {
    const auto newline = out.find('\n');
    auto line = out.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!trim(line).empty()) lines.push_back(line);
    out.remove_prefix(newline == std::string_view::npos ? out.size() : newline + 1);
    if (lines.size() > kMaxRows + 3) return bad("more than " + std::to_string(kMaxRows) + " rows");
  }
  if (lines.empty()) return bad("empty output");

  // "0,23000,CLI command completed successfully."
  const auto status_line = lines[0];
  const auto comma = status_line.find(',');
  const auto second = comma == std::string_view::npos ? comma : status_line.find(',', comma + 1);
  if (second == std::string_view::npos)
    return bad("the first line " + quote(status_line) + " is not \"<code>,<event>,<message>\"");
  const auto code = status_line.substr(0, comma);
  if (code != "0") {
    return Status(Code::kUnavailable,
                  "mccli failed: " + std::string(trim(status_line.substr(second + 1))) + " (code " +
                      std::string(code) + ", event " +
                      std::string(status_line.substr(comma + 1, second - comma - 1)) + ")");
  }
  if (lines.size() < 3) return bad("no table after the status line");
  const auto header = lines[1];
  const auto dashes = lines[2];
  if (dashes.find_first_not_of("- ") != std::string_view::npos ||
      dashes.find('-') == std::string_view::npos)
    return bad("no dashed line under the header " + quote(header));
  // Column i spans from the start of its dashes to the start of the next column's.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < dashes.size(); ++i) {
    if (dashes[i] == '-' && (i == 0 || dashes[i - 1] == ' ')) starts.push_back(i);
  }
  const auto cell = [&](std::string_view line, std::size_t column) {
    const std::size_t from = starts[column];
    if (from >= line.size()) return std::string_view();
    const std::size_t to = column + 1 < starts.size() ? starts[column + 1] : line.size();
    return trim(line.substr(from, to - from));
  };
  std::map<std::string, std::size_t, std::less<>> columns;
  for (std::size_t i = 0; i < starts.size(); ++i) columns[std::string(cell(header, i))] = i;
  for (const char* name : {"Status", "Error Code", "Start Time", "End Time", "Client"}) {
    if (!columns.contains(name)) return bad("no \"" + std::string(name) + "\" column");
  }
  constexpr std::size_t kNoColumn = static_cast<std::size_t>(-1);
  const std::size_t bytes_column =
      columns.contains("Progress Bytes") ? columns.at("Progress Bytes") : kNoColumn;

  Activities activities;
  for (std::size_t i = 3; i < lines.size(); ++i) {
    const auto line = lines[i];
    const std::string where = "row " + std::to_string(i - 2);
    if (line.size() <= starts.back()) return bad(where + " is cut short");
    Row row;
    row.status = std::string(cell(line, columns.at("Status")));
    const auto outcome = classify(row.status);
    if (!outcome) return bad(where + ": unknown status " + quote(row.status));
    row.outcome = *outcome;
    const auto code_text = cell(line, columns.at("Error Code"));
    const auto [end, ec] =
        std::from_chars(code_text.data(), code_text.data() + code_text.size(), row.error_code);
    if (ec != std::errc() || end != code_text.data() + code_text.size())
      return bad(where + ": error code " + quote(code_text) + " is not a number");
    const auto start = parse_time(cell(line, columns.at("Start Time")));
    if (!start)
      return bad(where + ": unreadable start time " + quote(cell(line, columns.at("Start Time"))));
    row.start = *start;
    const auto end_text = cell(line, columns.at("End Time"));
    if (!end_text.empty() && end_text != "N/A") {
      row.end = parse_time(end_text);
      if (!row.end) return bad(where + ": unreadable end time " + quote(end_text));
    }
    if (bytes_column != kNoColumn) {
      const auto text = cell(line, bytes_column);
      row.bytes = parse_bytes(text);
      if (!row.bytes && !text.empty() && activities.notes.empty())
        activities.notes.push_back("size left out: unreadable Progress Bytes " + quote(text));
    }
    row.client = std::string(cell(line, columns.at("Client")));
    activities.rows.push_back(std::move(row));
  }
  return activities;
}

class AvamarCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return client_; }
  Outcome run(const RunContext& context) override;

 private:
  std::vector<std::string> command_;
  std::string client_;
  FreshnessPolicy policy_;
};

Status AvamarCheck::configure(const json& params) {
  if (Status s = check_parameters(params, {"command", "client", "warn", "crit", "shrink_warn"}); !s)
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
  command_ = std::move(command);
  client_ = std::move(client);
  policy_ = policy;
  return Status::ok();
}

Outcome AvamarCheck::run(const RunContext& context) {
  if (command_.empty()) return unknown_outcome("check not configured: no command");
  const auto process = run_until(command_, context.deadline, default_environment(), kMaxOutput);
  if (!process) return unknown_outcome(process.status().message());
  if (process->ending != ProcessResult::Ending::kExited || process->exit_code != 0) {
    const auto why = last_line(process->err);
    return unknown_outcome(command_[0] + " failed" +
                           (process->ending == ProcessResult::Ending::kExited
                                ? " with code " + std::to_string(process->exit_code)
                                : std::string()) +
                           ": " + (why.empty() ? std::string("no reason given") : why));
  }
  if (process->truncated)
    return unknown_outcome("mccli activity show: output larger than " + bytes_text(kMaxOutput));
  auto activities = parse_activities(process->out);
  if (!activities) return unknown_outcome(activities.status().message());

  std::vector<Row> rows;
  for (auto& row : activities->rows) {
    if (client_.empty() || row.client == client_) rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.start > b.start; });
  const std::string whose = client_.empty() ? std::string() : " for " + client_;
  if (rows.empty()) {
    Outcome outcome;
    outcome.status = State::kCritical;
    outcome.summary = "no backup activity" + whose;
    return outcome;
  }

  const Row* finished = nullptr;
  const Row* running = nullptr;
  std::vector<const Row*> completed;
  for (const auto& row : rows) {
    if (row.outcome == Kind::kRunning) {
      if (running == nullptr) running = &row;
      continue;
    }
    if (finished == nullptr) finished = &row;
    if ((row.outcome == Kind::kCompleted || row.outcome == Kind::kException) && row.end)
      completed.push_back(&row);
  }
  std::optional<RestorePoint> latest;
  std::optional<RestorePoint> previous;
  if (!completed.empty()) latest = RestorePoint{*completed[0]->end, completed[0]->bytes};
  if (completed.size() > 1) previous = RestorePoint{*completed[1]->end, completed[1]->bytes};
  auto outcome = judge_freshness("completed backup", completed.size(), latest, previous, policy_,
                                 static_cast<std::int64_t>(std::time(nullptr)));
  if (!latest) outcome.summary += whose;

  if (finished != nullptr) {
    outcome.metrics.push_back(threshold_metric("error_code",
                                               static_cast<double>(finished->error_code), "",
                                               std::nullopt, std::nullopt, std::nullopt));
    std::string verdict;
    State state = State::kOk;
    if (finished->outcome == Kind::kFailed) {
      state = State::kCritical;
    } else if (finished->outcome == Kind::kException || finished->error_code != 0) {
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
  if (running != nullptr)
    outcome.summary += "; " + running->status + " since " + utc_text(running->start);
  for (const auto& note : activities->notes) outcome.details += note + "\n";
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_avamar_check() { return std::make_unique<AvamarCheck>(); }

}  // namespace vigie::plugins::backup
