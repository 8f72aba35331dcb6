#include "common/check_result.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace vigie {

std::string_view state_name(State state) {
  switch (state) {
    case State::kOk: return "OK";
    case State::kWarning: return "WARNING";
    case State::kCritical: return "CRITICAL";
    case State::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::optional<State> state_from_code(long long code) {
  if (code < 0 || code > 3) return std::nullopt;
  return static_cast<State>(code);
}

std::optional<State> state_from_name(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper == "OK") return State::kOk;
  if (upper == "WARNING" || upper == "WARN") return State::kWarning;
  if (upper == "CRITICAL" || upper == "CRIT") return State::kCritical;
  if (upper == "UNKNOWN") return State::kUnknown;
  return std::nullopt;
}

int severity(State state) {
  switch (state) {
    case State::kOk: return 0;
    case State::kWarning: return 1;
    case State::kUnknown: return 2;
    case State::kCritical: return 3;
  }
  return 2;
}

State worst(State a, State b) { return severity(a) >= severity(b) ? a : b; }

bool Range::alerts(double value) const {
  const bool within = value >= start && value <= end;
  return inside ? within : !within;
}

}  // namespace vigie
