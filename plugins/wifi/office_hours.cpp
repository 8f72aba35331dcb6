#include "plugins/wifi/office_hours.hpp"

#include <time.h>

#include <array>
#include <optional>
#include <string>

namespace vigie::plugins::wifi {
namespace {

std::optional<unsigned> day_number(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                            "Thu", "Fri", "Sat"};
  for (unsigned i = 0; i < kDays.size(); ++i) {
    if (name == kDays[i]) return i;
  }
  return std::nullopt;
}

std::optional<int> minute_of_day(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (std::size_t i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 24 || minutes > 59 || (hours == 24 && minutes != 0)) return std::nullopt;
  return hours * 60 + minutes;
}

}  // namespace

Result<OfficeHours> OfficeHours::parse(std::string_view text) {
  const auto bad = [&] {
    return Status::invalid("\"" + std::string(text.substr(0, 40)) +
                           "\": expected days and hours such as \"Mon-Fri 08:00-18:00\"");
  };
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return bad();
  const std::string_view days = text.substr(0, space);
  const std::string_view hours = text.substr(space + 1);
  OfficeHours out;
  const std::size_t dash = days.find('-');
  const auto first = day_number(days.substr(0, dash));
  const auto last = dash == std::string_view::npos ? first : day_number(days.substr(dash + 1));
  if (!first || !last) return bad();
  const std::size_t hour_dash = hours.find('-');
  if (hour_dash == std::string_view::npos) return bad();
  const auto from = minute_of_day(hours.substr(0, hour_dash));
  const auto to = minute_of_day(hours.substr(hour_dash + 1));
  if (!from || !to || *from >= *to) return bad();
  out.first_day = *first;
  out.last_day = *last;
  out.from_minute = *from;
  out.to_minute = *to;
  return out;
}

bool OfficeHours::contains(std::chrono::system_clock::time_point now) const {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  const auto day = static_cast<unsigned>(tm.tm_wday);
  // "Fri-Mon" wraps over the week-end.
  const bool day_in = first_day <= last_day ? day >= first_day && day <= last_day
                                            : day >= first_day || day <= last_day;
  const int minute = tm.tm_hour * 60 + tm.tm_min;
  return day_in && minute >= from_minute && minute < to_minute;
}

}  // namespace vigie::plugins::wifi
