#pragma once
// The tiers on SQLite: table rollup_packs, a row per (tier, agent, span) whose blob
// (rollup_pack.hpp) holds each of the agent's series' buckets of the span in a rollup
// block (rollup_block.hpp). Housekeeping merges new buckets into them (RollupWriter,
// store_buckets); the series queries and reports read them (RollupReader).
//
// Older databases are moved in bounded slices by housekeeping, every read adding what
// is still in the old tables, so that a bucket reads the same before, during and after:
// - schema 10 to 12 kept a row per (tier, series, span) in table rollup_blocks, each a
//   rollup block: moved an agent at a time, the blocks copied into packs as they are;
// - schema 9 and before kept a row per bucket in table rollups: moved oldest tier and
//   series first, the hourly ones added to the daily tier as they go.
// Each old table is dropped once empty.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "collector/day_zone.hpp"
#include "collector/rollup_block.hpp"
#include "collector/rollup_pack.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// The tiers, finest first: 5 minutes, 1 hour, 1 day.
inline constexpr std::int64_t kTiers[] = {kFiveMinutesMs, kHourMs, kDayMs};

// A bucket's start and what it holds, merged from wherever it is stored.
using BucketMap = std::map<std::int64_t, RollupBucket>;

// The agent of each series (table series), looked up once.
class SeriesAgents {
 public:
  static Result<SeriesAgents> prepare(sqlite3* db);
  // The agent's id; 0 when the series is not there.
  Result<std::int64_t> of(std::int64_t series);

 private:
  explicit SeriesAgents(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  sqlite::Statement find_;
  std::unordered_map<std::int64_t, std::int64_t> known_;
};

class RollupWriter {
 public:
  static Result<RollupWriter> prepare(sqlite3* db);

  using Part = PackPart;
  using Mode = PackMerger::Mode;
  // Writes `parts` (ascending, distinct series) into the pack of (tier, agent, span).
  Status write(std::int64_t tier, std::int64_t agent, std::int64_t span_start,
               const std::vector<Part>& parts, Mode mode);

 private:
  explicit RollupWriter(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  sqlite::Statement find_, insert_, update_, remove_;
  std::string stored_pack_;
  PackMerger merger_;
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
  explicit RollupReader(sqlite3* db, SeriesAgents agents) : db_(db), agents_(std::move(agents)) {}
  // The series' buckets in the pack of row `id`, appended to decoded_.
  Status read_pack(std::int64_t id, std::int64_t start, std::int64_t tier, std::int64_t series);
  sqlite3* db_;
  SeriesAgents agents_;
  sqlite::Statement packs_;
  // While an older database's tiers are moved: its rows too (rollup_blocks, rollups).
  sqlite::Statement old_blocks_, old_rows_;
  sqlite::BlobReader blob_;
  std::string head_, block_;
  std::vector<PackEntry> entries_;
  std::vector<RollupBucket> decoded_;
};

// Groups buckets by (tier, agent, span) and merges each group into its pack.
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
// `deadline`; sets *more when series are left. Each series' daily buckets are made
// again from its hourly ones by local day, the days older than its first hour kept as
// they were (the hourly tier's retention is shorter); up to 64 series a step, each
// agent's packs rewritten once a step. Nothing to do when the tier is already in `zone`.
// Housekeeping runs it before rolling new samples up, and those go into `zone`'s days
// from then on. It waits for an older database's tiers to be moved first.
Status rebuild_daily_tier(sqlite3* db, const DayZone& zone,
                          std::chrono::steady_clock::time_point deadline, bool* more);

// One slice of the move of an older database's tiers into rollup_packs (table
// rollup_blocks, an agent at a time, then table rollups), until `deadline`; sets *more
// when rows are left. Drops each table once empty.
Status migrate_old_rollups(sqlite3* db, std::chrono::steady_clock::time_point deadline, bool* more);

}  // namespace vigie::collector
