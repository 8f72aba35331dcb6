#pragma once
// "Mon-Fri 08:00-18:00": when someone is expected to use a public hotspot.

#include <chrono>
#include <string_view>

#include "common/status.hpp"

namespace vigie::plugins::wifi {

struct OfficeHours {
  unsigned first_day = 1;  // 0 Sunday .. 6 Saturday
  unsigned last_day = 5;
  int from_minute = 8 * 60;
  int to_minute = 18 * 60;

  // Days "Mon", "Mon-Fri", "Sat-Sun"; hours "HH:MM-HH:MM" with from < to.
  static Result<OfficeHours> parse(std::string_view text);
  // Whether `now`, in the machine's local time, falls inside.
  bool contains(std::chrono::system_clock::time_point now) const;
};

}  // namespace vigie::plugins::wifi
