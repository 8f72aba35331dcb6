#include "collector/downtime.hpp"

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

namespace vigie::collector {
namespace {

constexpr const char* kDayNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr int kMaxDurationMinutes = 7 * 24 * 60;

// Loading a zone reads a file: keep each one loaded (cctz's time_zone is a cheap
// handle to an immutable, shared implementation).
bool load_zone(const std::string& name, cctz::time_zone* zone) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::pair<bool, cctz::time_zone>> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(name);
  if (it == cache.end()) {
    cctz::time_zone loaded;
    const bool ok = cctz::load_time_zone(name, &loaded);
    it = cache.emplace(name, std::pair{ok, loaded}).first;
  }
  *zone = it->second.second;
  return it->second.first;
}

int weekday_index(cctz::weekday day) {
  switch (day) {
    case cctz::weekday::monday: return 0;
    case cctz::weekday::tuesday: return 1;
    case cctz::weekday::wednesday: return 2;
    case cctz::weekday::thursday: return 3;
    case cctz::weekday::friday: return 4;
    case cctz::weekday::saturday: return 5;
    case cctz::weekday::sunday: return 6;
  }
  return 0;
}

std::int64_t to_ms(const cctz::time_point<cctz::seconds>& t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

bool Downtime::covers(std::string_view s, std::string_view a, std::string_view c) const {
  if (site != s) return false;
  if (!agent.empty() && agent != a) return false;
  if (!check.empty() && check != c) return false;
  return true;
}

Status validate_downtime(const Downtime& d, const CalendarSet* calendars) {
  if (d.site.empty()) return Status::invalid("site: required");
  if (d.comment.empty()) return Status::invalid("comment: required (say why)");
  if (!d.every.empty()) {
    if (d.weekly()) return Status::invalid("every and weekly: give one or the other");
    if (d.every != kEveryPublicHoliday && d.every != kEveryOutsideHours)
      return Status::invalid("every: expected \"" + std::string(kEveryPublicHoliday) + "\" or \"" +
                             std::string(kEveryOutsideHours) + "\", got \"" + d.every + "\"");
    if (d.calendar.empty()) return Status::invalid("calendar: required with every");
    if (!calendars || !calendars->find(d.calendar))
      return Status::invalid("calendar: no calendar named \"" + d.calendar + "\" (calendars: " +
                             (calendars ? calendars->names() : std::string("none")) + ")");
    if (d.end_ms != 0 && d.end_ms <= d.start_ms) return Status::invalid("end: must be after start");
    return Status::ok();
  }
  if (!d.calendar.empty()) return Status::invalid("calendar: only with every");
  if (!d.recurring()) {
    if (d.end_ms <= d.start_ms) return Status::invalid("end: must be after start");
    return Status::ok();
  }
  if (d.weekdays < 0 || d.weekdays > 0x7f) return Status::invalid("days: unknown day bits");
  if (d.start_minute < 0 || d.start_minute >= 24 * 60)
    return Status::invalid("at: expected a time of day HH:MM");
  if (d.duration_minutes < 1 || d.duration_minutes > kMaxDurationMinutes)
    return Status::invalid("duration: expected 1 minute to 7 days");
  if (d.end_ms != 0 && d.end_ms <= d.start_ms) return Status::invalid("end: must be after start");
  cctz::time_zone zone;
  if (d.time_zone.empty()) return Status::invalid("time_zone: required for a weekly downtime");
  if (!load_zone(d.time_zone, &zone))
    return Status::invalid("time_zone: unknown time zone \"" + d.time_zone + "\"");
  return Status::ok();
}

bool downtime_active(const Downtime& d, std::int64_t now_ms, const CalendarSet* calendars) {
  if (now_ms < d.start_ms) return false;
  if (!d.recurring()) return now_ms < d.end_ms;
  if (d.end_ms != 0 && now_ms >= d.end_ms) return false;
  if (!d.every.empty()) {
    const Calendar* calendar = calendars ? calendars->find(d.calendar) : nullptr;
    if (!calendar) return false;
    if (d.every == kEveryOutsideHours) return !calendar->working_at(now_ms);
    return calendar->public_holiday_at(now_ms).has_value();
  }
  cctz::time_zone zone;
  if (!load_zone(d.time_zone, &zone)) return false;
  const auto now = std::chrono::time_point_cast<cctz::seconds>(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms)));
  const cctz::civil_day today = cctz::civil_day(cctz::convert(now, zone));
  // A window that began on one of the last 8 days may still be open (up to 7 days long).
  for (int back = 0; back <= 8; ++back) {
    const cctz::civil_day day = today - back;
    if ((d.weekdays & (1 << weekday_index(cctz::get_weekday(day)))) == 0) continue;
    const cctz::civil_second start =
        cctz::civil_second(day) + static_cast<cctz::diff_t>(d.start_minute) * 60;
    const cctz::civil_second end = start + static_cast<cctz::diff_t>(d.duration_minutes) * 60;
    // Local wall-clock times: a start or end inside a daylight-saving gap is taken at
    // the transition, a repeated hour at its first occurrence.
    const auto start_at = zone.lookup(start);
    const auto end_at = zone.lookup(end);
    const auto begin_tp =
        start_at.kind == cctz::time_zone::civil_lookup::SKIPPED ? start_at.trans : start_at.pre;
    const auto end_tp =
        end_at.kind == cctz::time_zone::civil_lookup::SKIPPED ? end_at.trans : end_at.pre;
    if (to_ms(begin_tp) <= now_ms && now_ms < to_ms(end_tp)) return true;
  }
  return false;
}

Result<int> parse_weekdays(std::string_view text) {
  if (text == "daily") return 0x7f;
  if (text == "weekdays") return 0x1f;
  if (text == "weekend") return 0x60;
  int bits = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string_view name = text.substr(pos, comma - pos);
    int found = -1;
    for (int i = 0; i < 7; ++i) {
      if (name == kDayNames[i]) found = i;
    }
    if (found < 0) {
      return Status::invalid("days: unknown day \"" + std::string(name) +
                             "\" (expected mon,tue,wed,thu,fri,sat,sun, daily, weekdays or "
                             "weekend)");
    }
    bits |= 1 << found;
    pos = comma + 1;
  }
  return bits;
}

std::string weekdays_text(int weekdays) {
  std::string out;
  for (int i = 0; i < 7; ++i) {
    if ((weekdays & (1 << i)) == 0) continue;
    if (!out.empty()) out += ',';
    out += kDayNames[i];
  }
  return out;
}

}  // namespace vigie::collector
