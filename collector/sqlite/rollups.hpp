#pragma once
// The tiers on SQLite: table rollup_blocks, a row per (tier, series, span) whose blob
// holds the span's buckets (rollup_block.hpp). Housekeeping merges new buckets into
// them (RollupWriter); the series queries and reports read them (RollupReader).
//
// Databases of schema version 9 and before kept a row per bucket in table `rollups`:
// housekeeping moves those rows into rollup_blocks in bounded slices, oldest tier and
// series first, adding the hourly ones to the daily tier as it goes, then drops the
// table; until then every read adds the rows still there, so that a bucket reads the
// same before, during and after.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collector/day_zone.hpp"
#include "collector/rollup_block.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// The tiers, finest first: 5 minutes, 1 hour, 1 day.
inline constexpr std::int64_t kTiers[] = {kFiveMinutesMs, kHourMs, kDayMs};

// A bucket's start and what it holds, merged from wherever it is stored.
using BucketMap = std::map<std::int64_t, RollupBucket>;

// Adds a bucket's aggregate into `into` (min, max, n added, the sum exactly).
void merge_bucket(RollupBucket& into, const RollupBucket& add);

class RollupWriter {
 public:
  static Result<RollupWriter> prepare(sqlite3* db);
  // Merges `buckets` (of one span of `tier`, any order) into the stored row.
  Status merge(std::int64_t tier, std::int64_t series, std::int64_t span_start,
               const std::vector<RollupBucket>& buckets);

 private:
  explicit RollupWriter(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  sqlite::Statement find_, insert_, update_;
  std::vector<RollupBucket> stored_;
};

class RollupReader {
 public:
  // On a read or the writer's connection, inside its transaction if any.
  static Result<RollupReader> prepare(sqlite3* db);
  // The buckets of `series` in `tier` starting in [from, to] (bucket starts or any
  // times), in ascending time, each once: `out` is replaced.
  Status read(std::int64_t tier, std::int64_t series, std::int64_t from, std::int64_t to,
              std::vector<RollupBucket>& out);

 private:
  explicit RollupReader(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  sqlite::Statement blocks_, old_rows_;  // old_rows_: only while table rollups is there
  std::vector<RollupBucket> decoded_;
};

// Groups buckets by (tier, series, span) and merges each group (RollupWriter).
Status store_buckets(sqlite3* db,
                     const std::map<std::pair<std::int64_t, std::int64_t>, BucketMap>& by_series);

// The time zone of the daily tier's days (day_zone.hpp), in table housekeeping: rows
// 'day_zone' (absent: UTC, as every database before it), and while the tier is rebuilt
// into another zone 'day_zone_next' and 'day_zone_series' (the last series rebuilt).
struct DailyTierZone {
  std::string zone = "UTC";
  std::string next;                  // "" unless a rebuild is under way
  std::int64_t rebuilt_through = 0;  // series ids up to this one are in `next`
  // The zone the daily buckets of `series` are in; "" while they are being rebuilt
  // (days of two zones mixed: read the hourly tier instead).
  std::string_view zone_of(std::int64_t series) const {
    if (next.empty()) return zone;
    return series <= rebuilt_through ? std::string_view(next) : std::string_view();
  }
  // The zone new daily buckets are written in.
  const std::string& target() const { return next.empty() ? zone : next; }
};
Result<DailyTierZone> read_daily_tier_zone(sqlite3* db);

// One slice of the daily tier's move to `zone` (the collector's --day-zone), until
// `deadline`; sets *more when series are left. A series at a time: its daily buckets
// made again from its hourly ones by local day, the days older than its first hour
// kept as they were (the hourly tier's retention is shorter). Nothing to do when the
// tier is already in `zone`. Housekeeping runs it before rolling new samples up, and
// those go into `zone`'s days from then on.
Status rebuild_daily_tier(sqlite3* db, const DayZone& zone,
                          std::chrono::steady_clock::time_point deadline, bool* more);

// One slice of the move of table rollups (schema 9 and before) into rollup_blocks, until
// `deadline`; sets *more when rows are left. Drops the table once empty.
Status migrate_old_rollups(sqlite3* db, std::chrono::steady_clock::time_point deadline, bool* more);

}  // namespace vigie::collector
