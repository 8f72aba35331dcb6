#pragma once
// Durations as a sysadmin writes them in a config file or on a command line:
// a number and a unit, "500ms", "90s", "5m", "26h", "7d", "2w". A bare number is
// refused: a unit is always required, so "60" is never read as 60 ms or 60 minutes.

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace vigie {

Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// The shortest exact form: 90000ms -> "90s", 3600000ms -> "1h", 1500ms -> "1500ms".
std::string format_duration(std::chrono::milliseconds d);
// For a human, two units at most: "45s", "3m 07s", "2h 05m", "3d 4h". Below a
// second: "0s". Negative durations are shown as 0s.
std::string human_duration(std::chrono::milliseconds d);

}  // namespace vigie
