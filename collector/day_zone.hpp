#pragma once
// The days of the daily tier: the collector's local days (--day-zone, docs/operations.md),
// midnight to midnight in its time zone, so that a report's days (whole days in its
// --tz) are whole daily buckets. A day is 23 or 25 hours long when the clocks change.
//
// A daily bucket is stored under its day's key: that date's midnight read as if it were
// UTC (2026-03-29 in Europe/Paris: 1774742400000, though the day starts at 23:00 UTC the
// evening before). Keys are thus a day apart whatever the zone, the tier's packed blocks
// (rollup_block.hpp) hold them as they hold UTC days, and in UTC a key is the day's start.

#include <cstdint>
#include <string>
#include <string_view>

#include <cctz/time_zone.h>

#include "common/status.hpp"

namespace vigie::collector {

class DayZone {
 public:
  // UTC.
  DayZone();
  // A tz database name; "" and "UTC" are UTC. kInvalidArgument for an unknown zone.
  static Result<DayZone> named(std::string_view name);

  // "UTC" or the name given.
  const std::string& name() const { return name_; }
  bool is_utc() const { return utc_; }

  // The key of the local day holding `ts_ms`.
  std::int64_t day_of(std::int64_t ts_ms) const;
  // The instant the local day of `key` starts (its local midnight, or the first instant
  // after it where midnight does not exist).
  std::int64_t start_of(std::int64_t key) const;

 private:
  cctz::time_zone zone_;
  std::string name_ = "UTC";
  bool utc_ = true;
  // The last day looked up, [from, to) and its key: samples come in time order, so most
  // lookups fall in it. Not shared between threads (a DayZone is copied, cheaply).
  mutable std::int64_t cached_from_ = 0, cached_to_ = 0, cached_key_ = 0;
};

}  // namespace vigie::collector
