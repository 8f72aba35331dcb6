#include "common/duration.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace vigie {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ms;
};

// Longest suffixes first, so that "ms" is not read as "m" followed by junk.
constexpr Unit kUnits[] = {{"ms", 1},        {"s", 1000},       {"m", 60'000},
                           {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000}};

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) on "\"" + std::string.
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.append(1, '"').append(text).append(1, '"');
  // A digit first: from_chars alone would take a sign, and "-0s" would pass.
  if (text.empty() || text[0] < '0' || text[0] > '9') {
    return Status::invalid(quoted +
                           ": expected a duration such as \"90s\", \"5m\", \"26h\", \"7d\"");
  }
  std::int64_t number = 0;
  const char* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, number);
  if (ec == std::errc::result_out_of_range) return Status::invalid(quoted + ": number too large");
  const std::string_view suffix(end, static_cast<std::size_t>(last - end));
  if (suffix.empty()) return Status::invalid(quoted + ": missing unit (ms, s, m, h, d or w)");
  if (suffix[0] == '.') {
    return Status::invalid(
        quoted + ": not a whole number (use a smaller unit: \"90m\" rather than \"1.5h\")");
  }
  for (const auto& unit : kUnits) {
    if (suffix == unit.suffix) {
      if (number > std::numeric_limits<std::int64_t>::max() / unit.ms)
        return Status::invalid(quoted + ": duration too large");
      return std::chrono::milliseconds(number * unit.ms);
    }
  }
  return Status::invalid(quoted + ": unknown unit \"" + std::string(suffix) +
                         "\" (ms, s, m, h, d or w)");
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    if (ms % it->ms == 0) return std::to_string(ms / it->ms) + std::string(it->suffix);
  }
  return std::to_string(ms) + "ms";
}

std::string human_duration(std::chrono::milliseconds d) {
  const std::int64_t total = std::max<std::int64_t>(0, d.count() / 1000);
  const std::int64_t days = total / 86400, hours = total / 3600 % 24, minutes = total / 60 % 60,
                     seconds = total % 60;
  char buffer[48];
  if (days > 0)
    std::snprintf(buffer, sizeof buffer, "%lldd %lldh", static_cast<long long>(days),
                  static_cast<long long>(hours));
  else if (hours > 0)
    std::snprintf(buffer, sizeof buffer, "%lldh %02lldm", static_cast<long long>(hours),
                  static_cast<long long>(minutes));
  else if (minutes > 0)
    std::snprintf(buffer, sizeof buffer, "%lldm %02llds", static_cast<long long>(minutes),
                  static_cast<long long>(seconds));
  else std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(seconds));
  return buffer;
}

}  // namespace vigie
