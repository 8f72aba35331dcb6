#include "plugins/antivirus/sophos_linux_check.hpp"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/duration.hpp"
#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::antivirus {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// SPL rotates its logs at 1 MB: the end of a file is what matters, and a bound keeps a
// runaway log from costing memory.
constexpr std::size_t kMaxLogTail = 2 << 20;
constexpr std::size_t kMaxCmdline = 4096;
constexpr int kMaxProcesses = 100'000;

// The last `max` bytes of `path` (whole lines only), or nullopt when it does not exist.
Result<std::optional<std::string>> read_tail(const fs::path& path, std::size_t max) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec == std::errc::no_such_file_or_directory) return std::optional<std::string>();
  const std::uint64_t start = !ec && size > max ? size - max : 0;
  auto text = read_part(path.string(), start, max);
  if (!text) return text.status();
  if (start > 0) text->erase(0, std::min(text->size(), text->find('\n') + 1));
  return std::optional<std::string>(std::move(*text));
}

// "180688  [2023-09-15T14:17:40.125]    INFO [92636] SulDownloaderSDDS3 <> message":
// the time (local, as SPL writes it) and the message.
struct LogLine {
  std::int64_t time = 0;
  std::string_view message;
};

std::optional<LogLine> parse_line(std::string_view line) {
  const auto open = line.find('[');
  const auto close = line.find(']', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) return std::nullopt;
  const auto time = parse_timestamp(line.substr(open + 1, close - open - 1), true);
  if (!time) return std::nullopt;
  const auto marker = line.find(" <> ", close);
  if (marker == std::string_view::npos) return std::nullopt;
  return LogLine{*time, line.substr(marker + 4)};
}

template <class Visit>
void each_line(std::string_view text, Visit visit) {
  while (!text.empty()) {
    const auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (const auto parsed = parse_line(line)) visit(*parsed);
  }
}

class SophosLinuxCheck final : public Check {
 public:
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  std::vector<std::string> missing_processes() const;

  std::string root_ = "/opt/sophos-spl";
  std::vector<std::string> processes_{"sophos_watchdog", "sophos_threat_detector"};
  std::chrono::seconds update_warn_{2 * 86400};
  std::chrono::seconds update_crit_{7 * 86400};
  std::chrono::seconds window_{86400};
};

Status SophosLinuxCheck::configure(const json& params) {
  if (Status s = check_parameters(
          params, {"root", "processes", "update_warn", "update_crit", "detections_window"});
      !s) {
    return s;
  }
  std::string root = root_;
  if (Status s = read_absolute_path(params, "root", root); !s) return s;
  std::vector<std::string> processes = processes_;
  if (Status s = read_strings(params, "processes", processes); !s) return s;
  for (std::size_t i = 0; i < processes.size(); ++i) {
    if (processes[i].find('/') != std::string::npos) {
      return field_error(item_path("processes", i),
                         quote(processes[i]) + ": must be a program name, without a '/'");
    }
  }
  auto warn = update_warn_;
  auto crit = update_crit_;
  auto window = window_;
  if (Status s = read_duration(params, "update_warn", {}, warn); !s) return s;
  if (Status s = read_duration(params, "update_crit", {}, crit); !s) return s;
  if (Status s = check_order(warn, crit, "update_warn", "update_crit"); !s) return s;
  if (Status s = read_duration(params, "detections_window", {}, window); !s) return s;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  root_ = std::move(root);
  processes_ = std::move(processes);
  update_warn_ = warn;
  update_crit_ = crit;
  window_ = window;
  return Status::ok();
}

// The expected processes no process runs as: argv[0] under the install folder, with that
// name. /proc/<pid>/cmdline is readable for every process, whoever runs the agent.
std::vector<std::string> SophosLinuxCheck::missing_processes() const {
  std::set<std::string> running;
  std::error_code ec;
  int seen = 0;
  for (fs::directory_iterator it("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (++seen > kMaxProcesses) break;
    const auto cmdline = read_part((it->path() / "cmdline").string(), 0, kMaxCmdline + 1);
    if (!cmdline) continue;  // ended since, or not ours to read
    const std::string argv0 = cmdline->substr(0, cmdline->find('\0'));
    if (argv0.size() > kMaxCmdline || !argv0.starts_with(root_ + "/")) continue;
    running.insert(fs::path(argv0).filename().string());
  }
  std::vector<std::string> missing;
  for (const auto& name : processes_) {
    if (!running.contains(name)) missing.push_back(name);
  }
  return missing;
}

Outcome SophosLinuxCheck::run(const RunContext&) {
  Outcome outcome;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    outcome.status = State::kCritical;
    outcome.summary = "Sophos Protection for Linux is not installed (no " + root_ + ")";
    return outcome;
  }
  if (!fs::is_directory(root_ + "/plugins/av", ec)) {
    outcome.status = State::kCritical;
    outcome.summary =
        "Sophos Protection for Linux has no anti-virus plugin (no " + root_ + "/plugins/av)";
    return outcome;
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  State state = State::kOk;
  std::vector<std::string> parts;

  const auto missing = missing_processes();
  outcome.metrics.push_back(threshold_metric(
      "processes_missing", static_cast<double>(missing.size()), "", std::nullopt, 0));
  if (missing.empty()) {
    parts.push_back("running");
  } else {
    state = State::kCritical;
    std::string names;
    for (const auto& name : missing) names += (names.empty() ? "" : ", ") + name;
    parts.push_back("not running: " + names + " (CRITICAL)");
  }

  // Updates: the newest success, and a failure after it.
  const fs::path update_log = root_ + "/logs/base/suldownloader.log";
  std::optional<std::int64_t> success;
  std::optional<std::pair<std::int64_t, std::string>> failure;
  for (const auto& file : {update_log.string() + ".1", update_log.string()}) {
    const auto text = read_tail(file, kMaxLogTail);
    if (!text) return unknown_outcome(text.status().message());
    if (!*text) continue;
    each_line(**text, [&](const LogLine& line) {
      if (line.message.starts_with("Update success")) {
        success = std::max(success.value_or(line.time), line.time);
      } else if (line.message.starts_with("Update failed")) {
        if (!failure || line.time >= failure->first)
          failure = {line.time, std::string(line.message)};
      }
    });
  }
  if (!success) {
    state = State::kCritical;
    parts.push_back("no successful update in " + update_log.string() + " (CRITICAL)");
  } else {
    const std::int64_t age = std::max<std::int64_t>(now - *success, 0);
    outcome.metrics.push_back(threshold_metric("update_age", static_cast<double>(age), "s",
                                               static_cast<double>(update_warn_.count()),
                                               static_cast<double>(update_crit_.count())));
    std::string note;
    state = worst(state, older_than(age, update_warn_, update_crit_, note));
    parts.push_back("updated " + age_text(std::chrono::seconds(age)) + " ago" + note);
  }
  if (failure && (!success || failure->first > *success)) {
    state = worst(state, State::kWarning);
    parts.push_back("last update attempt failed at " + utc_text(failure->first) + ": " +
                    first_line(failure->second));
  }

  // Detections within the window.
  const fs::path av_log = root_ + "/plugins/av/log/av.log";
  std::size_t detections = 0;
  std::string first;
  for (const auto& file : {av_log.string() + ".1", av_log.string()}) {
    const auto text = read_tail(file, kMaxLogTail);
    if (!text) return unknown_outcome(text.status().message());
    if (!*text) continue;
    each_line(**text, [&](const LogLine& line) {
      if (!line.message.starts_with("Found '") || now - line.time > window_.count()) return;
      ++detections;
      first = std::string(line.message.substr(6, 200));
    });
  }
  outcome.metrics.push_back(
      threshold_metric("detections", static_cast<double>(detections), "", 0, std::nullopt));
  if (detections > 0) {
    state = worst(state, State::kWarning);
    parts.push_back(std::to_string(detections) + (detections == 1 ? " detection" : " detections") +
                    " in the last " + format_duration(window_) + ", the latest " + first);
  } else {
    parts.push_back("no detection in the last " + format_duration(window_));
  }

  outcome.status = state;
  outcome.summary = "Sophos Protection for Linux";
  for (std::size_t i = 0; i < parts.size(); ++i)
    outcome.summary += (i == 0 ? " " : ", ") + parts[i];
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_sophos_linux_check() { return std::make_unique<SophosLinuxCheck>(); }

}  // namespace vigie::plugins::antivirus
