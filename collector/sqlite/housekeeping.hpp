#pragma once
// Background work on the collector database, in slices the writer runs between
// groups of reports: rolling raw samples up into the 5-minute, 1-hour and 1-day tiers
// (rollups.hpp),
// compacting sample blocks, folding the replay guard's rows into ranges of seqs
// (replay_guard.hpp), then deleting what each tier's retention lets go. The
// rollup buckets are shared with the series queries (queries.cpp), which add the
// blocks not rolled up yet.
//
// Compaction re-encodes an agent's blocks per series (sample_block.hpp, encoding 2),
// where samples of one series side by side compress well, in two passes:
// - fresh: once an agent has sent kFreshBlocks reports not rolled up yet (a backlog, a
//   busy agent), those blocks become one (level 1);
// - settled: the blocks of an agent whose samples start in an hour that is over and
//   that are rolled up become one block for that agent and hour (level 2), merged
//   with the one already there when late samples come;
// - day: an hour after a UTC day is over, an agent's hour blocks of that day become
//   one block for the agent and day (level 4), merged with the one already there when
//   late samples come: the per-series headers (first value, modes, lengths) once a
//   day instead of once an hour. A one-hour read decodes that series' day.
// The merged block takes the largest id of the blocks it replaces, all of them on one
// side of the rollup cursor: what was rolled up stays so, what was not is rolled up
// once. Blocks written by earlier versions (level 0, encoding 1) go the same way.

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collector/day_zone.hpp"
#include "collector/rollup_block.hpp"
#include "collector/storage.hpp"
#include "collector/writer_times.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

struct HousekeepingLimits {
  Retention retention;
  std::chrono::milliseconds budget{50};  // of one slice, reading and writing
  DayZone day_zone;                      // the daily tier's days (day_zone.hpp)
};

// Reports an agent sends before its fresh blocks are compacted.
inline constexpr std::size_t kFreshBlocks = 16;

// The blocks ingest wrote, by agent row id, until the fresh pass takes them. Writer
// thread only; forgotten on restart and after a rollback (the settled pass then finds
// the blocks).
class FreshBlocks {
 public:
  void wrote(std::int64_t agent, std::int64_t block);
  void clear() {
    blocks_.clear();
    ready_.clear();
  }
  bool has_ready() const { return !ready_.empty(); }
  // An agent with kFreshBlocks blocks or more, and its blocks, taken out.
  std::pair<std::int64_t, std::vector<std::int64_t>> take();

 private:
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> blocks_;
  std::vector<std::int64_t> ready_;
};

// One slice of rollups, compaction and retention on the writer's connection, inside
// its transaction; sets *more when work is left for another slice, and *work (if not
// null) to what it did. `fresh` may be null.
Status housekeeping_slice(sqlite3* db, const HousekeepingLimits& limits, std::int64_t now_ms,
                          bool* more, FreshBlocks* fresh = nullptr, SliceWork* work = nullptr);

// The last sample block rolled up (0: none yet): later blocks are not in the tiers.
Result<std::int64_t> rollup_cursor(sqlite3* db);

}  // namespace vigie::collector
