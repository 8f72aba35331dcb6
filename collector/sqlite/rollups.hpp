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
#include <vector>

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

// One slice of the move of table rollups (schema 9 and before) into rollup_blocks, until
// `deadline`; sets *more when rows are left. Drops the table once empty.
Status migrate_old_rollups(sqlite3* db, std::chrono::steady_clock::time_point deadline, bool* more);

}  // namespace vigie::collector
