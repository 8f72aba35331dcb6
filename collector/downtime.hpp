#pragma once
// When a downtime (state.hpp) is in force, with weekly schedules in the site's time
// zone (cctz reads the system's zoneinfo, so daylight-saving changes follow the
// rules of the zone: a nightly 01:00-04:00 window stays 01:00-04:00 local time).

#include <cstdint>
#include <string_view>

#include "collector/calendar.hpp"
#include "collector/state.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// Checks the fields: a known time zone for a weekly one, start before end, a window
// of 1 minute to 7 days, a start minute within the day; for one by calendar, a known
// schedule and a calendar of `calendars`.
Status validate_downtime(const Downtime& downtime, const CalendarSet* calendars = nullptr);

// Whether the downtime holds at `now_ms`. A recurring downtime whose time zone cannot
// be loaded, or whose calendar is not in `calendars` (the calendars file lost it since),
// never holds (validate_downtime() refuses both first).
bool downtime_active(const Downtime& downtime, std::int64_t now_ms,
                     const CalendarSet* calendars = nullptr);

// The schedules of downtimes by calendar.
inline constexpr std::string_view kEveryPublicHoliday = "public-holidays";
inline constexpr std::string_view kEveryOutsideHours = "outside-working-hours";

// "mon,wed,fri" <-> bits (bit 0 Monday); also "daily", "weekdays", "weekend".
Result<int> parse_weekdays(std::string_view text);
std::string weekdays_text(int weekdays);

}  // namespace vigie::collector
