#include "collector/sqlite/housekeeping.hpp"

#include <sqlite3.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "collector/sample_block.hpp"
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
Status aggregate_closed_blocks(sqlite3* db, std::int64_t now, Clock::time_point stop_reading,
                               std::int64_t* cursor, Buckets& buckets, bool* more) {
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
      *cursor = blocks->int64(0);
      samples.clear();
      // A damaged block cannot be rolled up; say so and move past it.
      if (Status d = decode_samples(blocks->blob(3), blocks->int64(1), samples); !d)
        log::error("storage: sample block " + std::to_string(*cursor) + ": " + d.message());
      for (const auto& sample : samples) {
        for (std::int64_t tier : {kFiveMinutesMs, kHourMs})
          buckets[{tier, sample.series, bucket_of(sample.ts_ms, tier)}].add(sample.value);
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
  auto upsert = Statement::prepare(
      db,
      "INSERT INTO rollups (tier, series_id, bucket_ms, min_value, max_value, sum_value, n)"
      " VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT (tier, series_id, bucket_ms) DO UPDATE SET"
      " min_value = min(min_value, excluded.min_value),"
      " max_value = max(max_value, excluded.max_value),"
      " sum_value = sum_value + excluded.sum_value, n = n + excluded.n");
  if (!upsert) return upsert.status();
  for (const auto& [key, agg] : buckets) {
    upsert->reset();
    upsert->bind(1, key.tier).bind(2, key.series).bind(3, key.bucket);
    upsert->bind(4, agg.min).bind(5, agg.max).bind(6, agg.sum).bind(7, agg.n);
    if (upsert->step() != SQLITE_DONE) return sqlite::error(db, "store rollup");
  }
  return sqlite::exec(db,
                      "INSERT INTO housekeeping (key, value) VALUES ('rollup_cursor', ?1)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      [&](Statement& st) { st.bind(1, cursor); });
}

// Retention, oldest first, in bounded deletes, until `deadline`. Raw blocks go only
// once rolled up (up to `cursor`).
Status apply_retention(sqlite3* db, const Retention& retention, std::int64_t now,
                       std::int64_t cursor, Clock::time_point deadline, bool* more) {
  const struct {
    const char* sql;
    std::int64_t cutoff;
    std::int64_t extra;
  } deletes[] = {
      {"DELETE FROM sample_blocks WHERE id IN (SELECT id FROM sample_blocks"
       " WHERE t_max < ?1 AND id <= ?2 ORDER BY t_max LIMIT 2000)",
       now - retention.raw.count(), cursor},
      {"DELETE FROM rollups WHERE (tier, series_id, bucket_ms) IN (SELECT tier, series_id,"
       " bucket_ms FROM rollups WHERE tier = ?2 AND bucket_ms < ?1 LIMIT 2000)",
       now - retention.five_minutes.count(), kFiveMinutesMs},
      {"DELETE FROM rollups WHERE (tier, series_id, bucket_ms) IN (SELECT tier, series_id,"
       " bucket_ms FROM rollups WHERE tier = ?2 AND bucket_ms < ?1 LIMIT 2000)",
       now - retention.hour.count(), kHourMs},
      // Replay protection: the batches of the last 8 days, and for older ones each
      // agent's high-water mark, raised before they go.
      {"UPDATE agents SET pruned_seq = MAX(pruned_seq, old.seq),"
       " pruned_received_ms = MAX(pruned_received_ms, old.received) FROM (SELECT agent_id,"
       " MAX(seq) AS seq, MAX(received_ms) AS received FROM batches WHERE received_ms < ?1"
       " GROUP BY agent_id) AS old WHERE agents.id = old.agent_id",
       now - retention.raw.count(), 0},
      {"DELETE FROM batches WHERE (agent_id, seq) IN (SELECT agent_id, seq FROM batches"
       " WHERE received_ms < ?1 LIMIT 2000)",
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
    if (std::string_view(d.sql).starts_with("DELETE") && sqlite3_changes(db) >= kDeleteChunk)
      *more = true;
  }
  return Status::ok();
}

}  // namespace

Result<std::int64_t> rollup_cursor(sqlite3* db) {
  auto get = Statement::prepare(db, "SELECT value FROM housekeeping WHERE key = 'rollup_cursor'");
  if (!get) return get.status();
  return get->step() == SQLITE_ROW ? get->int64(0) : std::int64_t{0};
}

Status housekeeping_slice(sqlite3* db, const HousekeepingLimits& limits, std::int64_t now_ms,
                          bool* more) {
  const auto start = Clock::now();
  *more = false;
  auto cursor = rollup_cursor(db);
  if (!cursor) return cursor.status();
  Buckets buckets;
  // Half the budget at most for reading, the rest for writing what was read.
  if (Status s =
          aggregate_closed_blocks(db, now_ms, start + limits.budget / 2, &*cursor, buckets, more);
      !s)
    return s;
  if (!buckets.empty()) {
    if (Status s = store_rollups(db, buckets, *cursor); !s) return s;
  }
  return apply_retention(db, limits.retention, now_ms, *cursor, start + limits.budget, more);
}

}  // namespace vigie::collector
