#include "collector/sqlite/housekeeping.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "collector/sample_block.hpp"
#include "collector/sqlite/replay_guard.hpp"
#include "collector/sqlite/rollups.hpp"
#include "common/log.hpp"
#include "common/sqlite.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;
using Clock = std::chrono::steady_clock;

struct BucketKey {
  std::int64_t tier, series, bucket;
  bool operator==(const BucketKey&) const = default;
};
struct BucketKeyHash {
  std::size_t operator()(const BucketKey& k) const {
    return std::hash<std::int64_t>()(k.series * 1'000'003 + k.bucket / 1000 + k.tier);
  }
};
using Buckets = std::unordered_map<BucketKey, Aggregate, BucketKeyHash>;

// How far ahead of the collector an agent's clock may be before its samples are
// rolled up without waiting for their bucket to close.
constexpr std::int64_t kFutureSlackMs = 600'000;
// Sample blocks read per query.
constexpr int kBlocksPerRead = 256;
// Rows one retention delete removes at most: more left means another slice.
constexpr int kDeleteChunk = 2000;

// Adds the sample blocks after *cursor to `buckets` of both tiers, in id order, and
// moves *cursor past them. Only blocks whose 5-minute buckets are over: a series'
// bucket is then written once, not once a slice while it fills. Stops at the first
// block still filling (every block after it waits too: the cursor is an id), and at
// `stop_reading` with *more set.
Status aggregate_closed_blocks(sqlite3* db, std::int64_t now, const DayZone& zone,
                               Clock::time_point stop_reading, std::int64_t* cursor,
                               Buckets& buckets, bool* more, std::int64_t* blocks_read) {
  const std::int64_t closed_before = bucket_of(now, kFiveMinutesMs);
  auto blocks = Statement::prepare(
      db,
      "SELECT id, t_min, t_max, samples FROM sample_blocks WHERE id > ?1 ORDER BY id LIMIT 256");
  if (!blocks) return blocks.status();
  std::vector<Sample> samples;
  for (;;) {
    blocks->reset();
    blocks->bind(1, *cursor);
    int rows = 0;
    int rc;
    while ((rc = blocks->step()) == SQLITE_ROW) {
      // A clock far ahead must not hold the tiers back for ever.
      const std::int64_t t_max = blocks->int64(2);
      if (t_max >= closed_before && t_max <= now + kFutureSlackMs) return Status::ok();
      ++rows;
      ++*blocks_read;
      *cursor = blocks->int64(0);
      samples.clear();
      // A damaged block cannot be rolled up; say so and move past it.
      if (Status d = decode_samples(blocks->blob(3), blocks->int64(1), samples); !d)
        log::error("storage: sample block " + std::to_string(*cursor) + ": " + d.message());
      for (const auto& sample : samples) {
        for (std::int64_t tier : kTiers) {
          const std::int64_t bucket =
              tier == kDayMs ? zone.day_of(sample.ts_ms) : bucket_of(sample.ts_ms, tier);
          buckets[{tier, sample.series, bucket}].add(sample.value);
        }
      }
    }
    if (rc != SQLITE_DONE) return sqlite::error(db, "read sample blocks");
    if (rows < kBlocksPerRead) return Status::ok();
    if (Clock::now() >= stop_reading) {
      *more = true;
      return Status::ok();
    }
  }
}

// Merges `buckets` into the tiers (late samples join the buckets already there) and
// records `cursor` as rolled up.
Status store_rollups(sqlite3* db, const Buckets& buckets, std::int64_t cursor) {
  std::map<std::pair<std::int64_t, std::int64_t>, BucketMap> by_series;
  for (const auto& [key, agg] : buckets) {
    by_series[{key.tier, key.series}][key.bucket] =
        RollupBucket{key.bucket, agg.min, agg.max, agg.sum, agg.n};
  }
  if (Status s = store_buckets(db, by_series); !s) return s;
  return sqlite::exec(db,
                      "INSERT INTO housekeeping (key, value) VALUES ('rollup_cursor', ?1)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      [&](Statement& st) { st.bind(1, cursor); });
}

// The start of the oldest span of `tier` a retention cutoff keeps: every row before it
// ends before the cutoff.
std::int64_t span_cutoff(std::int64_t cutoff, std::int64_t tier) {
  return bucket_of(cutoff, rollup_span(tier));
}

// Retention, oldest first, in bounded deletes, until `deadline`. Raw blocks go only
// once rolled up (up to `cursor`).
Status apply_retention(sqlite3* db, const Retention& retention, std::int64_t now,
                       std::int64_t cursor, Clock::time_point deadline, bool* more,
                       std::int64_t* deleted) {
  const struct {
    const char* sql;
    std::int64_t cutoff;
    std::int64_t extra;
  } deletes[] = {
      {"DELETE FROM sample_blocks WHERE id IN (SELECT id FROM sample_blocks"
       " WHERE t_max < ?1 AND id <= ?2 ORDER BY t_max LIMIT 2000)",
       now - retention.raw.count(), cursor},
      // A tier's row goes once its whole span is past the tier's retention.
      {"DELETE FROM rollup_packs WHERE id IN (SELECT id FROM rollup_packs"
       " WHERE tier = ?2 AND start_ms < ?1 LIMIT 2000)",
       span_cutoff(now - retention.five_minutes.count(), kFiveMinutesMs), kFiveMinutesMs},
      {"DELETE FROM rollup_packs WHERE id IN (SELECT id FROM rollup_packs"
       " WHERE tier = ?2 AND start_ms < ?1 LIMIT 2000)",
       span_cutoff(now - retention.hour.count(), kHourMs), kHourMs},
      {"DELETE FROM rollup_packs WHERE id IN (SELECT id FROM rollup_packs"
       " WHERE tier = ?2 AND start_ms < ?1 LIMIT 2000)",
       span_cutoff(now - retention.day.count(), kDayMs), kDayMs},
      // Replay protection: rows past the raw retention (an older database's, not folded
      // yet) go into each agent's high-water mark, raised before they go.
      {"UPDATE agents SET pruned_seq = MAX(pruned_seq, old.seq),"
       " pruned_received_ms = MAX(pruned_received_ms, old.received) FROM (SELECT agent_id,"
       " MAX(seq) AS seq, MAX(received_ms) AS received FROM batches WHERE received_ms < ?1"
       " GROUP BY agent_id) AS old WHERE agents.id = old.agent_id",
       now - retention.raw.count(), 0},
      {"DELETE FROM batches WHERE (agent_id, seq) IN (SELECT agent_id, seq FROM batches"
       " WHERE received_ms < ?1 LIMIT 2000)",
       now - retention.raw.count(), 0},
      // The same for the ranges the rows are folded into (replay_guard.hpp), once the
      // newest report of a range is past.
      {"UPDATE agents SET pruned_seq = MAX(pruned_seq, old.seq),"
       " pruned_received_ms = MAX(pruned_received_ms, old.received) FROM (SELECT agent_id,"
       " MAX(last_seq) AS seq, MAX(received_ms) AS received FROM batch_ranges"
       " WHERE received_ms < ?1 GROUP BY agent_id) AS old WHERE agents.id = old.agent_id",
       now - retention.raw.count(), 0},
      {"DELETE FROM batch_ranges WHERE (agent_id, first_seq) IN (SELECT agent_id, first_seq"
       " FROM batch_ranges WHERE received_ms < ?1 LIMIT 2000)",
       now - retention.raw.count(), 0},
      {"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE recorded_ms < ?1"
       " ORDER BY recorded_ms LIMIT 2000)",
       now - retention.events.count(), 0},
      {"DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE ts_ms < ?1"
       " ORDER BY ts_ms LIMIT 2000)",
       now - retention.notifications.count(), 0},
      {"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_ms < ?1"
       " ORDER BY created_ms LIMIT 2000)",
       now - retention.outbox.count(), 0},
  };
  for (const auto& d : deletes) {
    if (Clock::now() >= deadline) {
      *more = true;
      break;
    }
    Status s =
        sqlite::exec(db, d.sql, [&](Statement& st) { st.bind(1, d.cutoff).bind(2, d.extra); });
    if (!s) return s;
    if (std::string_view(d.sql).starts_with("DELETE")) {
      *deleted += sqlite3_changes(db);
      if (sqlite3_changes(db) >= kDeleteChunk) *more = true;
    }
  }
  return Status::ok();
}

// Compaction ------------------------------------------------------------------------

constexpr int kLevelFresh = 1;
constexpr int kLevelSettled = 2;
// A block that did not decode: kept as it is, never merged again.
constexpr int kLevelDamaged = 3;
constexpr int kLevelDay = 4;
// How long after a UTC day ends its hours are merged: its last hour's late reports
// have come by then, and been settled.
constexpr std::int64_t kDaySettleMs = kHourMs;
// Blocks the settled pass looks at in one query.
constexpr int kSettledScan = 512;

struct BlockRow {
  std::int64_t id = 0;
  std::int64_t agent = 0;
  std::int64_t t_min = 0;
  int level = 0;
};

class Compactor {
 public:
  static Result<Compactor> prepare(sqlite3* db) {
    Compactor c(db);
    const struct {
      Statement* stmt;
      const char* sql;
    } table[] = {
        {&c.read_, "SELECT agent_id, t_min, samples, level FROM sample_blocks WHERE id = ?1"},
        {&c.remove_, "DELETE FROM sample_blocks WHERE id = ?1"},
        {&c.insert_,
         "INSERT INTO sample_blocks (id, agent_id, t_min, t_max, samples, level)"
         " VALUES (?1,?2,?3,?4,?5,?6)"},
        {&c.mark_damaged_, "UPDATE sample_blocks SET level = ?2 WHERE id = ?1"},
        {&c.settled_of_hour_,
         "SELECT id FROM sample_blocks WHERE agent_id = ?1 AND t_max >= ?2 AND level = 2"
         " AND t_min >= ?2 AND t_min < ?3"},
        {&c.day_of_,
         "SELECT id FROM sample_blocks WHERE agent_id = ?1 AND t_max >= ?2 AND level = 4"
         " AND t_min >= ?2 AND t_min < ?3"},
        {&c.hours_of_day_,
         "SELECT id FROM sample_blocks WHERE agent_id = ?1 AND t_max >= ?2 AND level = 2"
         " AND t_min >= ?2 AND t_min < ?3 AND id <= ?4"},
        {&c.promote_, "UPDATE sample_blocks SET level = ?2 WHERE id = ?1"},
    };
    for (const auto& entry : table) {
      auto stmt = Statement::prepare(db, entry.sql);
      if (!stmt) return stmt.status();
      *entry.stmt = std::move(*stmt);
    }
    return c;
  }

  // Merges the blocks `ids` of `agent` (those still there, of that agent and below
  // `max_level`) into one of `level`. Blocks that do not decode are marked damaged
  // and left out.
  Status merge(std::int64_t agent, const std::vector<std::int64_t>& ids, int max_level, int level) {
    samples_.clear();
    merged_.clear();
    for (const std::int64_t id : ids) {
      read_.reset();
      read_.bind(1, id);
      const int rc = read_.step();
      if (rc == SQLITE_DONE) continue;
      if (rc != SQLITE_ROW) return sqlite::error(db_, "read sample block");
      if (read_.int64(0) != agent || read_.int64(3) > max_level) continue;
      const std::size_t before = samples_.size();
      if (Status d = decode_samples(read_.blob(2), read_.int64(1), samples_); !d) {
        samples_.resize(before);
        log::error("storage: sample block " + std::to_string(id) + ": " + d.message());
        read_.reset();
        mark_damaged_.reset();
        mark_damaged_.bind(1, id).bind(2, static_cast<std::int64_t>(kLevelDamaged));
        if (mark_damaged_.step() != SQLITE_DONE) return sqlite::error(db_, "mark damaged block");
        mark_damaged_.reset();
        continue;
      }
      merged_.push_back(id);
    }
    read_.reset();
    if (merged_.size() < 2 && level != kLevelSettled) return Status::ok();
    if (merged_.empty() || samples_.empty()) return Status::ok();
    // A single settled-hour candidate is re-encoded alone (a block of an earlier
    // version, or the last of its hour); a level-2 block alone is left as it is.
    std::int64_t t_min = samples_.front().ts_ms;
    std::int64_t t_max = t_min;
    for (const Sample& s : samples_) {
      t_min = std::min(t_min, s.ts_ms);
      t_max = std::max(t_max, s.ts_ms);
    }
    const std::string block = encode_series_block(samples_, t_min);
    std::int64_t id = 0;
    for (const std::int64_t m : merged_) {
      id = std::max(id, m);
      remove_.reset();
      remove_.bind(1, m);
      if (remove_.step() != SQLITE_DONE) return sqlite::error(db_, "remove sample block");
    }
    remove_.reset();
    insert_.reset();
    insert_.bind(1, id).bind(2, agent).bind(3, t_min).bind(4, t_max).bind_blob(5, block);
    insert_.bind(6, static_cast<std::int64_t>(level));
    if (insert_.step() != SQLITE_DONE) return sqlite::error(db_, "store compacted block");
    insert_.reset();
    merged_blocks_ += static_cast<std::int64_t>(merged_.size());
    return Status::ok();
  }
  // Blocks merged into others since prepare().
  std::int64_t merged_blocks() const { return merged_blocks_; }

  // The level-2 block of `agent` for the hour starting at `hour`, if any.
  Result<std::vector<std::int64_t>> settled_of_hour(std::int64_t agent, std::int64_t hour) {
    return ids_of(settled_of_hour_, agent, hour, hour + kHourMs);
  }
  // The level-4 block of `agent` for the UTC day starting at `day`, if any.
  Result<std::vector<std::int64_t>> day_of(std::int64_t agent, std::int64_t day) {
    return ids_of(day_of_, agent, day, day + kDayMs);
  }
  // The hour blocks (level 2) of `agent` whose samples start in the UTC day starting at
  // `day`, rolled up (up to `cursor`).
  Result<std::vector<std::int64_t>> hours_of_day(std::int64_t agent, std::int64_t day,
                                                 std::int64_t cursor) {
    return ids_of(hours_of_day_, agent, day, day + kDayMs, cursor);
  }
  // A block alone in its day becomes that day's block as it is.
  Status promote(std::int64_t id, int level) {
    promote_.reset();
    promote_.bind(1, id).bind(2, static_cast<std::int64_t>(level));
    const int rc = promote_.step();
    promote_.reset();
    if (rc != SQLITE_DONE) return sqlite::error(db_, "mark a day's block");
    return Status::ok();
  }

 private:
  explicit Compactor(sqlite3* db) : db_(db) {}
  // The ids `query` finds for (agent, from, to), and `up_to` as its fourth parameter if
  // it has one.
  Result<std::vector<std::int64_t>> ids_of(Statement& query, std::int64_t agent, std::int64_t from,
                                           std::int64_t to,
                                           std::optional<std::int64_t> up_to = std::nullopt) {
    std::vector<std::int64_t> ids;
    query.reset();
    query.bind(1, agent).bind(2, from).bind(3, to);
    if (up_to) query.bind(4, *up_to);
    int rc;
    while ((rc = query.step()) == SQLITE_ROW) ids.push_back(query.int64(0));
    query.reset();
    if (rc != SQLITE_DONE) return sqlite::error(db_, "read compacted blocks");
    return ids;
  }
  sqlite3* db_;
  Statement read_, remove_, insert_, mark_damaged_, settled_of_hour_, day_of_, hours_of_day_,
      promote_;
  std::vector<Sample> samples_;
  std::vector<std::int64_t> merged_;
  std::int64_t merged_blocks_ = 0;
};

// The fresh pass: agents with kFreshBlocks blocks written since, those not rolled up
// yet merged into one block each.
Status compact_fresh(Compactor& compactor, FreshBlocks& fresh, std::int64_t cursor,
                     Clock::time_point deadline, bool* more) {
  while (fresh.has_ready()) {
    if (Clock::now() >= deadline) {
      *more = true;
      return Status::ok();
    }
    auto [agent, ids] = fresh.take();
    std::erase_if(ids, [&](std::int64_t id) { return id <= cursor; });
    if (ids.size() < 2) continue;
    if (Status s = compactor.merge(agent, ids, 0, kLevelFresh); !s) return s;
  }
  return Status::ok();
}

// The settled pass: the oldest blocks of level 0 or 1 that are rolled up and whose
// samples start in an hour that is over, merged per agent and hour with the level-2
// block already there.
Status compact_settled(sqlite3* db, Compactor& compactor, std::int64_t now, std::int64_t cursor,
                       Clock::time_point deadline, bool* more) {
  const std::int64_t this_hour = bucket_of(now, kHourMs);
  auto scan = Statement::prepare(db,
                                 "SELECT id, agent_id, t_min, level FROM sample_blocks"
                                 " WHERE level < 2 AND t_max < ?1 AND id <= ?2"
                                 " ORDER BY t_max LIMIT 512");
  if (!scan) return scan.status();
  scan->bind(1, this_hour).bind(2, cursor);
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::int64_t>> groups;
  int rows = 0;
  int rc;
  while ((rc = scan->step()) == SQLITE_ROW) {
    ++rows;
    const std::int64_t hour = bucket_of(scan->int64(2), kHourMs);
    groups[{scan->int64(1), hour}].push_back(scan->int64(0));
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read blocks to compact");
  scan->reset();
  for (auto& [key, ids] : groups) {
    if (Clock::now() >= deadline) {
      *more = true;
      return Status::ok();
    }
    auto settled = compactor.settled_of_hour(key.first, key.second);
    if (!settled) return settled.status();
    ids.insert(ids.end(), settled->begin(), settled->end());
    if (Status s = compactor.merge(key.first, ids, kLevelSettled, kLevelSettled); !s) return s;
  }
  if (rows == kSettledScan) *more = true;
  return Status::ok();
}

// The day pass: an agent's hour blocks (level 2) of a UTC day over for kDaySettleMs,
// merged into one block for that agent and day (level 4), with the one already there
// when late samples come. A day's block holds 24 times the samples of an hour's for
// the same per-series headers (the first value, the timestamps' and values' modes).
// The scan finds the days to merge; each is merged whole, once, all its hours at once.
Status compact_days(sqlite3* db, Compactor& compactor, std::int64_t now, std::int64_t cursor,
                    Clock::time_point deadline, bool* more) {
  const std::int64_t days_before = bucket_of(now - kDaySettleMs, kDayMs);
  auto scan = Statement::prepare(db,
                                 "SELECT agent_id, t_min FROM sample_blocks"
                                 " WHERE level = 2 AND t_max < ?1 AND id <= ?2"
                                 " ORDER BY t_max LIMIT 512");
  if (!scan) return scan.status();
  scan->bind(1, days_before).bind(2, cursor);
  std::set<std::pair<std::int64_t, std::int64_t>> days;  // agent, day
  int rows = 0;
  int rc;
  while ((rc = scan->step()) == SQLITE_ROW) {
    ++rows;
    const std::int64_t day = bucket_of(scan->int64(1), kDayMs);
    if (day < days_before) days.emplace(scan->int64(0), day);
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read blocks to compact");
  scan->reset();
  for (const auto& [agent, day] : days) {
    if (Clock::now() >= deadline) {
      *more = true;
      return Status::ok();
    }
    auto ids = compactor.hours_of_day(agent, day, cursor);
    if (!ids) return ids.status();
    if (ids->empty()) continue;
    auto merged = compactor.day_of(agent, day);
    if (!merged) return merged.status();
    ids->insert(ids->end(), merged->begin(), merged->end());
    // An hour alone in its day (an agent that reported for an hour) is its day's block.
    if (ids->size() == 1) {
      if (Status s = compactor.promote(ids->front(), kLevelDay); !s) return s;
      continue;
    }
    if (Status s = compactor.merge(agent, *ids, kLevelDay, kLevelDay); !s) return s;
  }
  if (rows == kSettledScan) *more = true;
  return Status::ok();
}

}  // namespace

void FreshBlocks::wrote(std::int64_t agent, std::int64_t block) {
  auto& ids = blocks_[agent];
  // A bound, in case housekeeping falls far behind: the settled pass takes the rest.
  if (ids.size() >= 4 * kFreshBlocks) return;
  ids.push_back(block);
  if (ids.size() == kFreshBlocks) ready_.push_back(agent);
}

std::pair<std::int64_t, std::vector<std::int64_t>> FreshBlocks::take() {
  const std::int64_t agent = ready_.back();
  ready_.pop_back();
  auto node = blocks_.extract(agent);
  return {agent, node.empty() ? std::vector<std::int64_t>{} : std::move(node.mapped())};
}

Result<std::int64_t> rollup_cursor(sqlite3* db) {
  auto get = Statement::prepare(db, "SELECT value FROM housekeeping WHERE key = 'rollup_cursor'");
  if (!get) return get.status();
  return get->step() == SQLITE_ROW ? get->int64(0) : std::int64_t{0};
}

namespace {

// The free pages a database keeps for the rows that come next: a 64th of its pages,
// 16 to 256 (1 MB at 4 KiB pages); and those it gives back in one slice at most (8 MB:
// a few milliseconds).
constexpr std::int64_t kFreePagesKeptShare = 64;
constexpr std::int64_t kFreePagesKeptLeast = 16;
constexpr std::int64_t kFreePagesKeptMost = 256;
constexpr std::int64_t kFreePagesPerSlice = 2048;

// Gives the free pages past those kept back to the file system, in a database made with
// auto_vacuum = INCREMENTAL (others have nothing to give: a no-op). Sets *more when more
// are left.
Status return_free_pages(sqlite3* db, bool* more) {
  const auto read = [db](const char* sql) -> Result<std::int64_t> {
    auto stmt = Statement::prepare(db, sql);
    if (!stmt) return stmt.status();
    if (stmt->step() != SQLITE_ROW) return sqlite::error(db, sql);
    return stmt->int64(0);
  };
  auto mode = read("PRAGMA auto_vacuum");
  if (!mode) return mode.status();
  if (*mode != 2) return Status::ok();
  auto free_pages = read("PRAGMA freelist_count");
  if (!free_pages) return free_pages.status();
  auto pages = read("PRAGMA page_count");
  if (!pages) return pages.status();
  const std::int64_t kept =
      std::clamp(*pages / kFreePagesKeptShare, kFreePagesKeptLeast, kFreePagesKeptMost);
  const std::int64_t surplus = *free_pages - kept;
  if (surplus <= 0) return Status::ok();
  const std::int64_t given = std::min(surplus, kFreePagesPerSlice);
  if (Status s =
          sqlite::exec(db, ("PRAGMA incremental_vacuum(" + std::to_string(given) + ")").c_str());
      !s)
    return s;
  if (surplus > given) *more = true;
  return Status::ok();
}

}  // namespace

Status housekeeping_slice(sqlite3* db, const HousekeepingLimits& limits, std::int64_t now_ms,
                          bool* more, FreshBlocks* fresh, SliceWork* work) {
  SliceWork ignored;
  if (work == nullptr) work = &ignored;
  *work = {};
  const auto start = Clock::now();
  *more = false;
  // The daily tier into the collector's zone first (nothing to do once it is there):
  // the samples rolled up below go into that zone's days.
  if (Status s = rebuild_daily_tier(db, limits.day_zone, start + limits.budget / 4, more); !s)
    return s;
  auto cursor = rollup_cursor(db);
  if (!cursor) return cursor.status();
  Buckets buckets;
  const auto rollup_start = Clock::now();
  // Half the budget at most for reading, the rest for writing what was read.
  if (Status s = aggregate_closed_blocks(db, now_ms, limits.day_zone, start + limits.budget / 2,
                                         &*cursor, buckets, more, &work->blocks_rolled_up);
      !s)
    return s;
  if (!buckets.empty()) {
    if (Status s = store_rollups(db, buckets, *cursor); !s) return s;
  }
  const auto compaction_start = Clock::now();
  work->rollup = compaction_start - rollup_start;
  // Compaction: a quarter of the budget at most, so that reports waiting for the
  // writer wait little longer than without it (it catches up when ingest is idle,
  // when slices run back to back).
  auto compactor = Compactor::prepare(db);
  if (!compactor) return compactor.status();
  const auto compact_until = std::min(Clock::now() + limits.budget / 4, start + limits.budget);
  if (fresh != nullptr) {
    if (Status s = compact_fresh(*compactor, *fresh, *cursor, compact_until, more); !s) return s;
  }
  if (Status s = compact_settled(db, *compactor, now_ms, *cursor, compact_until, more); !s)
    return s;
  if (Status s = compact_days(db, *compactor, now_ms, *cursor, compact_until, more); !s) return s;
  work->blocks_compacted = compactor->merged_blocks();
  work->compaction = Clock::now() - compaction_start;
  // The tiers of a database of schema 12 or before, into the packs.
  const auto migrate_until = std::min(Clock::now() + limits.budget / 4, start + limits.budget);
  if (Status s = migrate_old_rollups(db, migrate_until, more); !s) return s;
  // The replay guard's rows past their first minutes, into ranges of seqs.
  const auto fold_until = std::min(Clock::now() + limits.budget / 4, start + limits.budget);
  if (Status s = fold_replay_guard(db, now_ms, limits.retention, fold_until, more); !s) return s;
  const auto retention_start = Clock::now();
  if (Status s = apply_retention(db, limits.retention, now_ms, *cursor, start + limits.budget, more,
                                 &work->rows_deleted);
      !s)
    return s;
  work->retention = Clock::now() - retention_start;
  return return_free_pages(db, more);
}

}  // namespace vigie::collector
