#pragma once
// When a downtime (state.hpp) is in force, with weekly schedules in the site's time
// zone (cctz reads the system's zoneinfo, so daylight-saving changes follow the
// rules of the zone: a nightly 01:00-04:00 window stays 01:00-04:00 local time).

#include <cstdint>
#include <string_view>

#include "collector/state.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// Checks the fields: a known time zone for a recurring one, start before end, a
// window of 1 minute to 7 days, a start minute within the day.
Status validate_downtime(const Downtime& downtime);

// Whether the downtime holds at `now_ms`. A recurring downtime whose time zone
// cannot be loaded never holds (validate_downtime() refuses it first).
bool downtime_active(const Downtime& downtime, std::int64_t now_ms);

// "mon,wed,fri" <-> bits (bit 0 Monday); also "daily", "weekdays", "weekend".
Result<int> parse_weekdays(std::string_view text);
std::string weekdays_text(int weekdays);

}  // namespace vigie::collector
