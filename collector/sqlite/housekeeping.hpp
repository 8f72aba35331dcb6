#pragma once
// Background work on the collector database, in slices the writer runs between
// groups of reports: rolling raw samples up into the 5-minute and 1-hour tiers, then
// deleting what each tier's retention lets go. The rollup buckets are shared with the
// series queries (queries.cpp), which add the blocks not rolled up yet.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

#include "collector/storage.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

struct HousekeepingLimits {
  Retention retention;
  std::chrono::milliseconds budget{50};  // of one slice, reading and writing
};

// One slice of rollups and retention on the writer's connection, inside its
// transaction; sets *more when work is left for another slice.
Status housekeeping_slice(sqlite3* db, const HousekeepingLimits& limits, std::int64_t now_ms,
                          bool* more);

// The last sample block rolled up (0: none yet): later blocks are not in the tiers.
Result<std::int64_t> rollup_cursor(sqlite3* db);

// The start of the bucket of `width` ms that holds `ts`: floor, also before 1970.
inline std::int64_t bucket_of(std::int64_t ts, std::int64_t width) {
  const std::int64_t b = ts / width * width;
  return ts < 0 && b != ts ? b - width : b;
}

// What a bucket keeps of its samples.
struct Aggregate {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  std::int64_t n = 0;
  void add(double v, std::int64_t count = 1) {
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v * static_cast<double>(count);
    n += count;
  }
};

}  // namespace vigie::collector
