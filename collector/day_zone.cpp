#include "collector/day_zone.hpp"

#include <cctz/civil_time.h>

#include <chrono>

namespace vigie::collector {
namespace {

constexpr std::int64_t kDay = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

std::int64_t ms_of(const cctz::time_point<cctz::seconds>& tp) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

}  // namespace

DayZone::DayZone() : zone_(cctz::utc_time_zone()) {}

Result<DayZone> DayZone::named(std::string_view name) {
  DayZone z;
  if (name.empty() || name == "UTC") return z;
  if (!cctz::load_time_zone(std::string(name), &z.zone_))
    return Status::invalid("time zone \"" + std::string(name) +
                           "\": unknown (e.g. Europe/Paris, UTC)");
  z.name_ = std::string(name);
  z.utc_ = false;
  return z;
}

std::int64_t DayZone::day_of(std::int64_t ts_ms) const {
  if (utc_) return floor_div(ts_ms, kDay) * kDay;
  if (ts_ms >= cached_from_ && ts_ms < cached_to_) return cached_key_;
  const cctz::time_point<cctz::seconds> tp{cctz::seconds(floor_div(ts_ms, 1000))};
  const cctz::civil_day day(cctz::convert(tp, zone_));
  const std::int64_t key = (day - cctz::civil_day(1970, 1, 1)) * kDay;
  cached_key_ = key;
  cached_from_ = start_of(key);
  cached_to_ = start_of(key + kDay);
  return key;
}

std::int64_t DayZone::start_of(std::int64_t key) const {
  if (utc_) return key;
  const cctz::civil_day day = cctz::civil_day(1970, 1, 1) + floor_div(key, kDay);
  // Where midnight is skipped, the day starts when the clocks jump (kind SKIPPED:
  // `trans`); where it repeats, at its first occurrence (`pre`).
  const cctz::time_zone::civil_lookup at = zone_.lookup(cctz::civil_second(day));
  return ms_of(at.kind == cctz::time_zone::civil_lookup::SKIPPED ? at.trans : at.pre);
}

}  // namespace vigie::collector
