#include "plugins/backup/avamar_server_check.hpp"

#include <time.h>

#include <charconv>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/duration.hpp"
#include "plugins/backup/mccli.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxOutput = 1 << 20;

// What one of the three readings says.
struct Part {
  State state = State::kOk;
  std::string summary;  // "" when it has nothing to say
  std::vector<Metric> metrics;
  std::string details;

  void raise(State s, const std::string& text) {
    state = worst(state, s);
    summary += (summary.empty() ? "" : "; ") + text;
  }
};

Part unknown_part(const std::string& why) {
  Part p;
  p.raise(State::kUnknown, why);
  return p;
}

std::optional<double> parse_number(std::string_view text) {
  text = trim_blank(text);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "cp.20161201191440": its time, UTC.
std::optional<std::int64_t> checkpoint_time(std::string_view tag) {
  if (tag.size() != 17 || !tag.starts_with("cp.") ||
      tag.substr(3).find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  const std::string d(tag.substr(3));
  const std::string iso = d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) + "T" +
                          d.substr(8, 2) + ":" + d.substr(10, 2) + ":" + d.substr(12, 2) + "Z";
  return parse_timestamp(iso, false);
}

// "Sun Jan 23 17:07:26 2013", local time.
std::optional<std::int64_t> dpn_time(std::string_view text) {
  const std::string s(trim_blank(text));
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a %b %d %H:%M:%S %Y", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(t);
}

// The text inside a line's last parentheses: "(OK)" -> "OK".
std::optional<std::string> last_parenthesized(std::string_view line) {
  line = trim_blank(line);
  if (!line.ends_with(')')) return std::nullopt;
  const auto open = line.rfind('(');
  if (open == std::string_view::npos) return std::nullopt;
  return std::string(line.substr(open + 1, line.size() - open - 2));
}

class AvamarServerCheck final : public Check {
 public:
  void attach(const Environment& env) override { now_ = env.now; }
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  std::int64_t now() const {
    const auto t = now_ ? now_() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  }
  // Runs one of the three commands: its output, or why it cannot be read.
  Result<std::string> output_of(const std::vector<std::string>& argv, const std::string& what,
                                const RunContext& context) const;
  Part capacity(std::string_view out) const;
  Part checkpoints(std::string_view out) const;
  Part status_dpn(std::string_view out) const;

  std::function<std::chrono::system_clock::time_point()> now_;
  std::vector<std::string> show_prop_ = {"mccli", "server", "show-prop"};
  std::vector<std::string> checkpoint_ = {"mccli", "checkpoint", "show"};
  std::vector<std::string> status_ = {"status.dpn"};
  double warn_ = 80, crit_ = 90;
  std::chrono::seconds checkpoint_warn_{36 * 3600}, checkpoint_crit_{72 * 3600};
  std::chrono::seconds gc_warn_{50 * 3600};
};

Status AvamarServerCheck::configure(const json& params) {
  if (Status s = check_parameters(
          params, {"command", "show_prop_command", "checkpoint_command", "status_command", "warn",
                   "crit", "checkpoint_warn", "checkpoint_crit", "gc_warn"});
      !s)
    return s;
  std::vector<std::string> prefix;
  if (Status s = read_command(params, "command", prefix); !s) return s;
  auto show_prop = show_prop_, checkpoint = checkpoint_, status = status_;
  for (auto* argv : {&show_prop, &checkpoint, &status})
    argv->insert(argv->begin(), prefix.begin(), prefix.end());
  if (Status s = read_command(params, "show_prop_command", show_prop); !s) return s;
  if (Status s = read_command(params, "checkpoint_command", checkpoint); !s) return s;
  if (Status s = read_command(params, "status_command", status); !s) return s;
  double warn = warn_, crit = crit_;
  if (params.contains("warn") || params.contains("crit")) {
    if (Status s = read_percent_thresholds(params, warn, crit); !s) return s;
  }
  auto cp_warn = checkpoint_warn_, cp_crit = checkpoint_crit_, gc_warn = gc_warn_;
  if (Status s = read_duration(params, "checkpoint_warn", {}, cp_warn); !s) return s;
  if (Status s = read_duration(params, "checkpoint_crit", {}, cp_crit); !s) return s;
  if (Status s = check_order(cp_warn, cp_crit, "checkpoint_warn", "checkpoint_crit"); !s) return s;
  if (Status s = read_duration(params, "gc_warn", {}, gc_warn); !s) return s;
  show_prop_ = std::move(show_prop);
  checkpoint_ = std::move(checkpoint);
  status_ = std::move(status);
  warn_ = warn;
  crit_ = crit;
  checkpoint_warn_ = cp_warn;
  checkpoint_crit_ = cp_crit;
  gc_warn_ = gc_warn;
  return Status::ok();
}

Result<std::string> AvamarServerCheck::output_of(const std::vector<std::string>& argv,
                                                 const std::string& what,
                                                 const RunContext& context) const {
  const auto process = run_until(argv, context.deadline, default_environment(), kMaxOutput);
  if (!process) return process.status().with_context(what);
  if (process->truncated)
    return Status::too_large(what + ": output larger than " + bytes_text(kMaxOutput));
  if (process->ending != ProcessResult::Ending::kExited || process->exit_code != 0) {
    if (auto said = parse_mccli(process->out, what);
        !said && said.status().code() == Code::kUnavailable)
      return said.status().with_context(what);
    const auto why = last_line(process->err);
    return Status::unavailable(what + ": " + argv[0] + " failed" +
                               (process->ending == ProcessResult::Ending::kExited
                                    ? " with code " + std::to_string(process->exit_code)
                                    : std::string()) +
                               ": " + (why.empty() ? std::string("no reason given") : why));
  }
  return process->out;
}

Part AvamarServerCheck::capacity(std::string_view out) const {
  const std::string what = "mccli server show-prop";
  auto table = parse_mccli(out, what);
  if (!table) return unknown_part(table.status().message());
  if (!table->has_column("Attribute") || !table->has_column("Value"))
    return unknown_part(what + ": not an Attribute/Value table");
  std::map<std::string, std::pair<std::string, const MccliRow*>, std::less<>> values;
  for (const auto& row : table->rows) {
    values.emplace(std::string(row.cell("Attribute")),
                   std::pair(std::string(row.cell("Value")), &row));
  }
  Part part;
  std::optional<double> total, used_bytes, percent;
  const auto bytes = [&](const char* name, const char* metric, std::optional<double>& out_value) {
    const auto it = values.find(name);
    if (it == values.end()) return true;
    out_value = parse_avamar_bytes(it->second.first);
    if (!out_value) {
      part.raise(State::kUnknown, what + ": unreadable " + it->second.second->where());
      return false;
    }
    part.metrics.push_back(threshold_metric(metric, *out_value, "B", std::nullopt, std::nullopt));
    return true;
  };
  std::optional<double> protected_bytes;
  if (!bytes("Total capacity", "capacity", total) ||
      !bytes("Capacity used", "used_bytes", used_bytes) ||
      !bytes("Bytes protected", "protected", protected_bytes))
    return part;
  if (const auto it = values.find("Server utilization"); it != values.end()) {
    std::string_view text = trim_blank(it->second.first);
    if (text.ends_with('%')) text.remove_suffix(1);
    percent = parse_number(text);
    if (!percent) return unknown_part(what + ": unreadable " + it->second.second->where());
  } else if (total && used_bytes && *total > 0) {
    percent = *used_bytes / *total * 100;
  }
  if (!percent) {
    return unknown_part(what +
                        ": neither \"Server utilization\" nor \"Capacity used\" and \"Total "
                        "capacity\"");
  }
  std::string note;
  const State state = above(*percent, warn_, crit_, "%", note);
  std::string text = number_text(std::round(*percent * 10) / 10) + "% used";
  if (total && used_bytes)
    text += " (" + bytes_text(*used_bytes) + " of " + bytes_text(*total) + ")";
  part.raise(state, text + note);
  part.metrics.insert(part.metrics.begin(),
                      threshold_metric("used", *percent, "%", warn_, crit_, 0, 100));
  return part;
}

Part AvamarServerCheck::checkpoints(std::string_view out) const {
  const std::string what = "mccli checkpoint show";
  auto table = parse_mccli(out, what);
  if (!table) return unknown_part(table.status().message());
  if (!table->rows.empty() && (!table->has_column("Tag") || !table->has_column("Validated")))
    return unknown_part(what + ": no Tag or Validated column");
  std::optional<std::int64_t> validated, newest;
  std::string validated_tag, newest_tag, newest_state;
  for (const auto& row : table->rows) {
    const auto when = checkpoint_time(row.cell("Tag"));
    if (!when) return unknown_part(what + ": unreadable tag in " + row.where());
    const auto state = row.cell("Validated");
    if (state != "Validated" && !state.empty() && state != "In Progress")
      return unknown_part(what + ": Validated " + quote(state) + " not understood in " +
                          row.where());
    if (!newest || *when > *newest) {
      newest = when;
      newest_tag = std::string(row.cell("Tag"));
      newest_state = std::string(state);
    }
    if (state == "Validated" && (!validated || *when > *validated)) {
      validated = when;
      validated_tag = std::string(row.cell("Tag"));
    }
  }
  Part part;
  const auto count = static_cast<double>(table->rows.size());
  if (!validated) {
    part.raise(State::kCritical, "no validated checkpoint among " + number_text(count));
    part.metrics.push_back(threshold_metric("checkpoints", count, "", std::nullopt, std::nullopt));
    return part;
  }
  const std::int64_t age = std::max<std::int64_t>(0, now() - *validated);
  std::string note;
  const State state = older_than(age, checkpoint_warn_, checkpoint_crit_, note);
  std::string text = "last validated checkpoint " + validated_tag + " " +
                     age_text(std::chrono::seconds(age)) + " ago" + note;
  if (newest_tag != validated_tag) {
    text += ", newest " + newest_tag + " " +
            (newest_state.empty() ? std::string("not validated") : "validation in progress");
  }
  part.raise(state, text);
  part.metrics.push_back(threshold_metric("checkpoint_age", static_cast<double>(age), "s",
                                          static_cast<double>(checkpoint_warn_.count()),
                                          static_cast<double>(checkpoint_crit_.count())));
  part.metrics.push_back(threshold_metric("checkpoints", count, "", std::nullopt, std::nullopt));
  return part;
}

Part AvamarServerCheck::status_dpn(std::string_view out) const {
  Part part;
  const auto unreadable = [&](std::string_view line) {
    return unknown_part("status.dpn: line not understood: " + quote(trim_blank(line)));
  };
  std::optional<std::string> system_status, access_status;
  std::optional<std::int64_t> gc_finished;
  std::optional<double> gc_recovered;
  std::string gc_result;
  std::size_t nodes = 0;
  std::vector<std::string> offline, degraded, warnings;
  bool in_nodes = false;
  for (std::string_view rest = out; !rest.empty();) {
    const auto newline = rest.find('\n');
    const std::string_view line = trim_blank(rest.substr(0, newline));
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (line.empty()) {
      in_nodes = false;
      continue;
    }
    if (line.starts_with("Node ") && line.find("State") != std::string_view::npos) {
      in_nodes = true;
      continue;
    }
    if (in_nodes) {
      if (line.starts_with("Srvr+Root+User")) {
        in_nodes = false;
      } else {
        // "0.0  10.20.30.41  6.1.0-402  ONLINE fullaccess mhpu+0hpu+0hpu  1 false ..."
        const std::vector<std::string> f = split_words(line);
        const auto letters = [](const std::string& w, const char* also) {
          return !w.empty() && w.find_first_not_of(std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                               "abcdefghijklmnopqrstuvwxyz") +
                                                   also) == std::string::npos;
        };
        if (f.size() < 8 || f[0].find_first_not_of("0123456789.") != std::string::npos ||
            !letters(f[3], "_-") || !letters(f[4], "_-") || (f[7] != "true" && f[7] != "false"))
          return unreadable(line);
        ++nodes;
        if (f[3] != "ONLINE") offline.push_back("node " + f[0] + " " + f[3]);
        else if (f[4] != "fullaccess") degraded.push_back("node " + f[0] + " runlevel " + f[4]);
        if (f[7] != "false") degraded.push_back("node " + f[0] + " suspended (" + f[7] + ")");
        continue;
      }
    }
    if (line.find("WARNING:") != std::string_view::npos) {
      warnings.push_back(quote(line));
    } else if (line.starts_with("System-Status:")) {
      system_status = std::string(trim_blank(line.substr(14)));
    } else if (line.starts_with("Access-Status:")) {
      access_status = std::string(trim_blank(line.substr(14)));
    } else if (line.starts_with("Last GC:")) {
      // "Last GC: finished Sun Jan 23 17:07:26 2013 after 01m 25s >> recovered 342.02 MB (OK)"
      const auto finished = line.find("finished ");
      const auto after = line.find(" after ");
      const auto result = last_parenthesized(line);
      if (finished == std::string_view::npos || after == std::string_view::npos || !result ||
          after < finished)
        return unreadable(line);
      gc_finished = dpn_time(line.substr(finished + 9, after - finished - 9));
      if (!gc_finished) return unreadable(line);
      gc_result = *result;
      if (const auto r = line.find(">> recovered "); r != std::string_view::npos) {
        const auto size_end = line.rfind('(');
        gc_recovered = parse_avamar_bytes(line.substr(r + 13, size_end - r - 13));
        if (!gc_recovered) return unreadable(line);
      }
    } else if (line.starts_with("Last checkpoint:") || line.starts_with("Last hfscheck:")) {
      const auto result = last_parenthesized(line);
      if (!result) return unreadable(line);
      if (*result != "OK") warnings.push_back(quote(line));
    }
  }
  if (!system_status) return unknown_part("status.dpn: no \"System-Status:\" line");
  if (!gc_finished) return unknown_part("status.dpn: no \"Last GC:\" line");
  if (nodes == 0) return unknown_part("status.dpn: no node listed");

  if (*system_status != "ok") part.raise(State::kCritical, "System-Status " + *system_status);
  for (const auto& n : offline) part.raise(State::kCritical, n);
  if (access_status && *access_status != "full") {
    part.raise(State::kWarning,
               "Access-Status " + *access_status + " (lower while maintenance runs)");
  }
  for (const auto& d : degraded) part.raise(State::kWarning, d);
  for (const auto& w : warnings) part.raise(State::kWarning, "status.dpn: " + w);
  const std::int64_t gc_age = std::max<std::int64_t>(0, now() - *gc_finished);
  std::string gc = "last GC " + age_text(std::chrono::seconds(gc_age)) + " ago (" + gc_result;
  if (gc_recovered) gc += ", recovered " + bytes_text(*gc_recovered);
  gc += ")";
  State gc_state = gc_result == "OK" ? State::kOk : State::kCritical;
  if (gc_age > gc_warn_.count()) {
    gc_state = worst(gc_state, State::kWarning);
    gc += " (WARNING > " + format_duration(gc_warn_) + ")";
  }
  part.raise(gc_state, gc);
  part.metrics = {
      threshold_metric("gc_age", static_cast<double>(gc_age), "s",
                       static_cast<double>(gc_warn_.count()), std::nullopt),
      threshold_metric("nodes", static_cast<double>(nodes), "", std::nullopt, std::nullopt),
      threshold_metric("nodes_offline", static_cast<double>(offline.size()), "", std::nullopt, 0),
  };
  if (gc_recovered) {
    part.metrics.push_back(
        threshold_metric("gc_recovered", *gc_recovered, "B", std::nullopt, std::nullopt));
  }
  return part;
}

Outcome AvamarServerCheck::run(const RunContext& context) {
  Outcome outcome;
  outcome.status = State::kOk;
  const struct {
    const std::vector<std::string>* argv;
    const char* what;
    Part (AvamarServerCheck::*read)(std::string_view) const;
  } parts[] = {{&show_prop_, "mccli server show-prop", &AvamarServerCheck::capacity},
               {&checkpoint_, "mccli checkpoint show", &AvamarServerCheck::checkpoints},
               {&status_, "status.dpn", &AvamarServerCheck::status_dpn}};
  for (const auto& p : parts) {
    auto out = output_of(*p.argv, p.what, context);
    const Part part = out ? (this->*p.read)(*out) : unknown_part(out.status().message());
    outcome.status = worst(outcome.status, part.state);
    if (!part.summary.empty())
      outcome.summary += (outcome.summary.empty() ? "" : "; ") + part.summary;
    outcome.metrics.insert(outcome.metrics.end(), part.metrics.begin(), part.metrics.end());
    outcome.details += part.details;
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_avamar_server_check() { return std::make_unique<AvamarServerCheck>(); }

}  // namespace vigie::plugins::backup
