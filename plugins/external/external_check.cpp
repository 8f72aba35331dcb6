#include "plugins/external/external_check.hpp"

#include <string.h>  // sigabbrev_np
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/perfdata.hpp"
#include "common/protocol.hpp"
#include "common/utf8.hpp"
#include "plugins/check_support.hpp"
#include "plugins/process.hpp"

namespace vigie::plugins::external {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxOutput = 64 * 1024;  // of stdout, and of stderr
// A result past the collector's limits would get the agent's whole batch refused.
constexpr protocol::Limits kLimits{};
constexpr std::string_view kBlank = " \t\r\n\v\f";

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlank) - first + 1);
}

// Drops the blank lines around `text` and its trailing blanks, keeping the indentation
// of its first line.
void trim_lines(std::string& text) {
  const auto start = text.find_first_not_of(kBlank);
  if (start == std::string::npos) {
    text.clear();
    return;
  }
  text.erase(text.find_last_not_of(kBlank) + 1);
  const auto newline = text.rfind('\n', start);
  text.erase(0, newline == std::string::npos ? 0 : newline + 1);
}

void append_line(std::string& text, std::string_view line) {
  if (line.empty()) return;
  if (!text.empty()) text += '\n';
  text += line;
}

// Cuts `text` to at most `max` bytes at a character boundary, marking the cut.
void clamp(std::string& text, std::size_t max) {
  constexpr std::string_view kMark = "\xE2\x80\xA6";  // U+2026 HORIZONTAL ELLIPSIS
  if (text.size() <= max) return;
  text = cut_utf8(std::move(text), max < kMark.size() ? 0 : max - kMark.size());
  if (max >= kMark.size()) text += kMark;
}

// A plugin's stdout split per the guidelines:
//   TEXT | PERFDATA
//   LONG TEXT...
//   LONG TEXT | PERFDATA
//   PERFDATA...
struct PluginOutput {
  std::string text;       // the first line, left of '|'
  std::string long_text;  // the next lines, up to the '|' of a later line
  std::string perfdata;   // every part right of a '|', then every line after that
};

void append_perfdata(std::string& perfdata, std::string_view part) {
  part = trim(part);
  if (part.empty()) return;
  if (!perfdata.empty()) perfdata += ' ';
  perfdata += part;
}

PluginOutput split_output(std::string_view out) {
  PluginOutput parsed;
  bool first = true;
  bool perfdata_only = false;
  while (!out.empty()) {
    const auto newline = out.find('\n');
    auto line = out.substr(0, newline);
    out = newline == std::string_view::npos ? std::string_view() : out.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (perfdata_only) {
      append_perfdata(parsed.perfdata, line);
      continue;
    }
    const auto bar = line.find('|');
    if (bar != std::string_view::npos) append_perfdata(parsed.perfdata, line.substr(bar + 1));
    const auto text = line.substr(0, bar);
    if (first) {
      parsed.text = trim(text);
      first = false;
      continue;
    }
    parsed.long_text += text;
    parsed.long_text += '\n';
    perfdata_only = bar != std::string_view::npos;
  }
  trim_lines(parsed.long_text);
  return parsed;
}

// "10" for 10 s, "1.5" for 1500 ms (to the tenth).
std::string seconds_text(milliseconds duration) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", static_cast<double>(duration.count()) / 1000.0);
  std::string text(buffer);
  if (text.ends_with(".0")) text.resize(text.size() - 2);
  return text;
}

std::string signal_text(int signal) {
  std::string text = "signal " + std::to_string(signal);
  if (const char* name = ::sigabbrev_np(signal)) text += std::string(" (SIG") + name + ")";
  return text;
}

Outcome unknown(std::string summary) {
  Outcome outcome;
  outcome.status = State::kUnknown;
  outcome.summary = std::move(summary);
  clamp(outcome.summary, kLimits.max_summary);
  return outcome;
}

// Parses the perfdata into `outcome`, or says in `notes` why it was left out.
void add_metrics(const std::string& perfdata, Outcome& outcome, std::vector<std::string>& notes) {
  auto metrics = parse_perfdata(perfdata);
  if (!metrics) {
    notes.push_back("perfdata ignored: " + metrics.status().message());
    return;
  }
  const bool long_label = std::any_of(metrics->begin(), metrics->end(), [](const Metric& m) {
    return m.label.size() > kLimits.max_string;
  });
  if (long_label) {
    notes.push_back("perfdata ignored: a label is longer than " +
                    std::to_string(kLimits.max_string) + " bytes");
    return;
  }
  if (metrics->size() > kLimits.max_metrics) {
    notes.push_back("perfdata: kept the first " + std::to_string(kLimits.max_metrics) + " of " +
                    std::to_string(metrics->size()) + " metrics");
    metrics->resize(kLimits.max_metrics);
  }
  outcome.metrics = std::move(*metrics);
}

Outcome interpret(const ProcessResult& process, milliseconds timeout) {
  // Plugins print in whatever their locale gives (Latin-1 is common on French systems) and
  // may be cut mid-character by the output cap: a result must be UTF-8.
  const PluginOutput output = split_output(valid_utf8(process.out));
  const std::string err(trim(valid_utf8(process.err)));
  std::string text = output.text;
  if (text.empty()) {
    text = err.empty() ? "(no output)"
                       : "(no output on stdout) stderr: " + err.substr(0, err.find('\n'));
  }

  Outcome outcome;
  outcome.status = State::kUnknown;
  std::string body = output.long_text;
  std::vector<std::string> notes;
  switch (process.ending) {
    case ProcessResult::Ending::kExited:
      if (const auto state = state_from_code(process.exit_code)) {
        outcome.status = *state;
        outcome.summary = text;
        add_metrics(output.perfdata, outcome, notes);
      } else {
        outcome.summary =
            "plugin exited with code " + std::to_string(process.exit_code) + ": " + text;
      }
      break;
    case ProcessResult::Ending::kSignaled:
      outcome.summary = "plugin killed by " + signal_text(process.signal);
      body = output.text + "\n" + body;
      break;
    case ProcessResult::Ending::kTimedOut:
      outcome.summary = "timed out after " + seconds_text(timeout) + " s";
      body = output.text + "\n" + body;
      break;
  }
  if (!err.empty()) append_line(body, "stderr: " + err);
  if (process.truncated) notes.push_back("(output truncated)");

  // The notes say what happened to the output: they survive a cut of the body.
  std::string tail;
  for (const auto& note : notes) append_line(tail, note);
  trim_lines(body);
  clamp(body, kLimits.max_details - std::min(kLimits.max_details, tail.size() + 1));
  append_line(body, tail);
  clamp(body, kLimits.max_details);
  outcome.details = std::move(body);
  clamp(outcome.summary, kLimits.max_summary);
  return outcome;
}

class ExternalCheck final : public Check {
 public:
  Status configure(const nlohmann::json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  std::vector<std::string> command_;
  std::vector<std::string> environment_;
  std::optional<RunAs> user_;
  std::vector<Capability> capabilities_;
};

// The capabilities a plugin may be given, by their systemd names.
constexpr std::pair<std::string_view, Capability> kPluginCapabilities[] = {
    {"CAP_NET_ADMIN", Capability::kNetAdmin},
    {"CAP_NET_RAW", Capability::kNetRaw},
};

Status ExternalCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"command", "env", "user", "capabilities"}); !s) return s;
  // An array only: a string would be read as one program name, spaces and all.
  const auto command = params.find("command");
  if (command == params.end() || !command->is_array()) {
    return Status::invalid(
        "command: required, an array of strings (the program, then its "
        "arguments)");
  }
  std::vector<std::string> argv;
  if (Status s = read_command(params, "command", argv); !s) return s;

  std::vector<std::string> environment = default_environment();
  if (Status s = read_environment(params, "env", environment); !s) return s;
  std::optional<RunAs> user;
  std::string user_name;
  if (Status s = read_string(params, "user", user_name); !s) return s;
  if (!user_name.empty()) {
    auto found = find_user(user_name);
    if (!found) return Status::invalid("user: " + found.status().message());
    // The agent may switch users to lower a plugin's rights, never to raise them.
    if (found->uid == 0)
      return Status::invalid("user: \"" + found->name +
                             "\" is uid 0: a plugin never runs as root (name an unprivileged "
                             "user)");
    // What a login as that user would set, unless "env" says otherwise.
    for (const auto& [variable, value] : {std::pair<std::string, std::string>{"HOME", found->home},
                                          {"USER", found->name},
                                          {"LOGNAME", found->name}}) {
      const std::string prefix = variable + "=";
      if (std::none_of(environment.begin(), environment.end(),
                       [&](const std::string& e) { return e.starts_with(prefix); }))
        environment.push_back(prefix + value);
    }
    user = std::move(*found);
  }
  std::vector<Capability> capabilities;
  if (const auto list = params.find("capabilities"); list != params.end()) {
    if (!list->is_array())
      return Status::invalid("capabilities: must be an array such as [\"CAP_NET_RAW\"]");
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto& item = (*list)[i];
      const std::string where = "capabilities[" + std::to_string(i) + "]";
      const auto known = std::find_if(
          std::begin(kPluginCapabilities), std::end(kPluginCapabilities), [&](const auto& c) {
            return item.is_string() && item.get_ref<const std::string&>() == c.first;
          });
      if (known == std::end(kPluginCapabilities))
        return Status::invalid(
            where + ": " +
            (item.is_string() ? "\"" + item.get<std::string>() + "\"" : item.dump()) +
            " cannot be given to a plugin (CAP_NET_ADMIN or CAP_NET_RAW)");
      capabilities.push_back(known->second);
    }
    if (!capabilities.empty() && user)
      return Status::invalid(
          "capabilities: not with \"user\" (a plugin run as another user gets none)");
  }
  command_ = std::move(argv);
  environment_ = std::move(environment);
  user_ = std::move(user);
  capabilities_ = std::move(capabilities);
  return Status::ok();
}

Outcome ExternalCheck::run(const RunContext& context) {
  if (command_.empty()) return unknown("check not configured: no command");
  const auto now = Clock::now();
  if (context.deadline <= now) return unknown("no time left before the deadline to start");

  ProcessOptions options;
  options.timeout = std::chrono::duration_cast<milliseconds>(context.deadline - now);
  options.max_output = kMaxOutput;
  options.environment = environment_;
  options.run_as = user_;
  options.capabilities = capabilities_;
  auto argv = command_;
  // Looked up at each run, so that a plugin installed after the agent started is found.
  const bool bare = argv[0].find('/') == std::string::npos;
  if (bare) {
    const std::string in_plugin_dir = std::string(kNagiosPluginDir) + "/" + argv[0];
    if (::access(in_plugin_dir.c_str(), F_OK) == 0) argv[0] = in_plugin_dir;
  }
  const auto process = run_process(argv, options);
  if (!process) {
    std::string reason = process.status().message();
    if (bare && process.status().code() == Code::kNotFound)
      reason += "; not in " + std::string(kNagiosPluginDir) + " either";
    return unknown(std::move(reason));
  }
  return interpret(*process, options.timeout);
}

}  // namespace

std::unique_ptr<Check> make_external_check() { return std::make_unique<ExternalCheck>(); }

}  // namespace vigie::plugins::external
