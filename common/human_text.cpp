#include "common/human_text.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>

namespace vigie {

std::string bytes_text(double bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t unit = 0;
  while (std::fabs(bytes) >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit > 0 && std::fabs(bytes) < 10 ? "%.1f %s" : "%.0f %s",
                bytes, kUnits[unit]);
  return buffer;
}

std::string age_text(std::chrono::milliseconds age) {
  if (age.count() < 0) {
    return "-" + age_text(age == age.min() ? age.max() : -age);
  }
  const std::int64_t seconds = age.count() / 1000;
  if (seconds < 60) return std::to_string(seconds) + "s";
  // Hours up to three days, as backup schedules and thresholds are written ("26h").
  const std::int64_t minutes = seconds / 60;
  if (minutes < 60) return std::to_string(minutes) + "m";
  const std::int64_t hours = minutes / 60;
  if (hours < 10 && minutes % 60 != 0)
    return std::to_string(hours) + "h" + std::to_string(minutes % 60) + "m";
  if (hours < 72) return std::to_string(hours) + "h";
  const std::int64_t days = hours / 24;
  if (days < 10 && hours % 24 != 0)
    return std::to_string(days) + "d" + std::to_string(hours % 24) + "h";
  return std::to_string(days) + "d";
}

std::string short_age_text(std::chrono::milliseconds age) {
  const std::int64_t s = age.count() < 0 ? 0 : age.count() / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

}  // namespace vigie
