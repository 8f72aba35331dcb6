#pragma once
// The check-result model shared by the agent, the collector and the console.
// It is Nagios-compatible: a status 0..3, a one-line summary, optional details and
// performance data (see perfdata.hpp for the text form).

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigie {

enum class State : int { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

// "OK", "WARNING", "CRITICAL", "UNKNOWN".
std::string_view state_name(State state);
// The state for a Nagios status code 0..3, nullopt for anything else.
std::optional<State> state_from_code(long long code);
// The state named by "OK"/"ok"/"WARNING"/"warn"..., nullopt for anything else.
std::optional<State> state_from_name(std::string_view name);
// How bad a state is, for sorting "most severe first": CRITICAL 3, UNKNOWN 2,
// WARNING 1, OK 0 (UNKNOWN sorts above WARNING: we cannot tell it is fine).
int severity(State state);
// The worse of two states by severity().
State worst(State a, State b);

// A Nagios threshold range: "10" (0..10), "10:" (>= 10), "~:10" (<= 10), "10:20",
// and "@10:20" (alert when inside). A value "alerts" when it is outside the range,
// or inside it for an inverted (@) range.
struct Range {
  double start = 0;
  double end = std::numeric_limits<double>::infinity();  // +inf: no upper bound
  bool inside = false;                                   // the '@' form
  bool operator==(const Range&) const = default;
  bool alerts(double value) const;
};

// One performance-data item: 'label'=value[UOM];[warn];[crit];[min];[max].
struct Metric {
  std::string label;
  std::optional<double> value;  // nullopt: the plugin printed "U" (undetermined)
  std::string unit;             // "", s, ms, us, %, B, KB, MB, GB, TB or c
  std::optional<Range> warn;
  std::optional<Range> crit;
  std::optional<double> min;
  std::optional<double> max;
  bool operator==(const Metric&) const = default;
};

// One run of one check, as the agent reports it.
struct CheckResult {
  std::string name;   // the check's name in the agent config, e.g. "backup"
  std::string check;  // stable id family/type[:instance], e.g. "system/disk:/srv"
  State status = State::kUnknown;
  std::string summary;  // one line for a human
  std::string details;  // optional longer text
  std::vector<Metric> metrics;
  std::int64_t ts_ms = 0;  // when the run started, ms since the epoch, agent clock
  std::int64_t duration_ms = 0;
  std::int64_t interval_s = 0;  // how often the agent runs it (staleness needs it)
  int max_attempts = 0;         // failures in a row before a hard state; 0: the collector's
  // The member site the result is about, when it is not the agent's own (a central
  // poller's results: Sophos Central tenants, Avamar clients, websites); "": the
  // agent's site.
  std::string site;
  bool operator==(const CheckResult&) const = default;
};

}  // namespace vigie
