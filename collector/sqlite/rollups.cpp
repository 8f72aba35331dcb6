#include "collector/sqlite/rollups.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "collector/sqlite/housekeeping.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;

Result<bool> has_old_table(sqlite3* db) {
  auto stmt = Statement::prepare(
      db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'rollups'");
  if (!stmt) return stmt.status();
  if (stmt->step() != SQLITE_ROW) return sqlite::error(db, "read the schema");
  return stmt->int64(0) != 0;
}

}  // namespace

void merge_bucket(RollupBucket& into, const RollupBucket& add) {
  into.min = std::min(into.min, add.min);
  into.max = std::max(into.max, add.max);
  into.sum = sum_exactly(into.sum, add.sum);
  into.n += add.n;
}

Result<RollupWriter> RollupWriter::prepare(sqlite3* db) {
  RollupWriter w(db);
  const struct {
    Statement* stmt;
    const char* sql;
  } table[] = {
      {&w.find_,
       "SELECT id, buckets FROM rollup_blocks WHERE tier = ?1 AND series_id = ?2"
       " AND start_ms = ?3"},
      {&w.insert_,
       "INSERT INTO rollup_blocks (tier, series_id, start_ms, buckets) VALUES (?1,?2,?3,?4)"},
      {&w.update_, "UPDATE rollup_blocks SET buckets = ?2 WHERE id = ?1"},
  };
  for (const auto& entry : table) {
    auto stmt = Statement::prepare(db, entry.sql);
    if (!stmt) return stmt.status();
    *entry.stmt = std::move(*stmt);
  }
  return w;
}

Status RollupWriter::merge(std::int64_t tier, std::int64_t series, std::int64_t span_start,
                           const std::vector<RollupBucket>& buckets) {
  stored_.clear();
  find_.reset();
  find_.bind(1, tier).bind(2, series).bind(3, span_start);
  const int rc = find_.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::error(db_, "read rollups");
  const std::int64_t id = rc == SQLITE_ROW ? find_.int64(0) : 0;
  if (rc == SQLITE_ROW) {
    // A damaged row cannot be merged into: it is replaced by the new buckets (what it
    // held is lost either way), and the loss is logged.
    if (Status d = decode_rollups(find_.blob(1), span_start, tier, stored_); !d) {
      log::error("storage: rollups of series " + std::to_string(series) + " at " +
                 std::to_string(span_start) + ": " + d.message());
      stored_.clear();
    }
  }
  find_.reset();
  for (const RollupBucket& b : buckets) {
    auto it = std::lower_bound(stored_.begin(), stored_.end(), b.ts_ms,
                               [](const RollupBucket& s, std::int64_t ts) { return s.ts_ms < ts; });
    if (it != stored_.end() && it->ts_ms == b.ts_ms) merge_bucket(*it, b);
    else stored_.insert(it, b);
  }
  if (stored_.empty()) return Status::ok();
  const std::string blob = encode_rollups(stored_, span_start, tier);
  Statement& write = id != 0 ? update_ : insert_;
  write.reset();
  if (id != 0) write.bind(1, id).bind_blob(2, blob);
  else write.bind(1, tier).bind(2, series).bind(3, span_start).bind_blob(4, blob);
  const int wrc = write.step();
  write.reset();
  if (wrc != SQLITE_DONE) return sqlite::error(db_, "store rollups");
  return Status::ok();
}

Result<RollupReader> RollupReader::prepare(sqlite3* db) {
  RollupReader r(db);
  auto blocks = Statement::prepare(db,
                                   "SELECT start_ms, buckets FROM rollup_blocks"
                                   " WHERE tier = ?1 AND series_id = ?2 AND start_ms >= ?3"
                                   " AND start_ms <= ?4 ORDER BY start_ms");
  if (!blocks) return blocks.status();
  r.blocks_ = std::move(*blocks);
  auto old = has_old_table(db);
  if (!old) return old.status();
  if (*old) {
    auto rows = Statement::prepare(
        db,
        "SELECT bucket_ms, min_value, max_value, sum_value, n FROM rollups"
        " WHERE tier = ?1 AND series_id = ?2 AND bucket_ms >= ?3 AND bucket_ms <= ?4");
    if (!rows) return rows.status();
    r.old_rows_ = std::move(*rows);
  }
  return r;
}

Status RollupReader::read(std::int64_t tier, std::int64_t series, std::int64_t from,
                          std::int64_t to, std::vector<RollupBucket>& out) {
  out.clear();
  const std::int64_t span = rollup_span(tier);
  blocks_.reset();
  blocks_.bind(1, tier).bind(2, series).bind(3, bucket_of(from, span)).bind(4, to);
  int rc;
  // Spans in ascending order, each one's buckets ascending: `out` is sorted as it grows.
  while ((rc = blocks_.step()) == SQLITE_ROW) {
    decoded_.clear();
    const std::int64_t start = blocks_.int64(0);
    if (Status d = decode_rollups(blocks_.blob(1), start, tier, decoded_); !d) {
      blocks_.reset();
      return d.with_context("series " + std::to_string(series));
    }
    for (const RollupBucket& b : decoded_)
      if (b.ts_ms >= from && b.ts_ms <= to) out.push_back(b);
  }
  blocks_.reset();
  if (rc != SQLITE_DONE) return sqlite::error(db_, "read rollups");
  if (!old_rows_.ready()) return Status::ok();
  // While a version 9 database's rows are being moved: both, merged by bucket.
  BucketMap merged;
  for (const RollupBucket& b : out) merged.emplace(b.ts_ms, b);
  old_rows_.reset();
  old_rows_.bind(1, tier).bind(2, series).bind(3, from).bind(4, to);
  while ((rc = old_rows_.step()) == SQLITE_ROW) {
    const RollupBucket b{old_rows_.int64(0), old_rows_.real(1), old_rows_.real(2),
                         old_rows_.real(3), old_rows_.int64(4)};
    if (b.n <= 0) continue;
    auto [it, fresh] = merged.try_emplace(b.ts_ms, b);
    if (!fresh) merge_bucket(it->second, b);
  }
  old_rows_.reset();
  if (rc != SQLITE_DONE) return sqlite::error(db_, "read rollups");
  out.clear();
  for (const auto& [ts, b] : merged) out.push_back(b);
  return Status::ok();
}

Status store_buckets(sqlite3* db,
                     const std::map<std::pair<std::int64_t, std::int64_t>, BucketMap>& by_series) {
  auto writer = RollupWriter::prepare(db);
  if (!writer) return writer.status();
  std::vector<RollupBucket> group;
  for (const auto& [key, buckets] : by_series) {
    const auto [tier, series] = key;
    const std::int64_t span = rollup_span(tier);
    group.clear();
    std::int64_t span_start = 0;
    for (const auto& [ts, b] : buckets) {
      const std::int64_t s = bucket_of(ts, span);
      if (!group.empty() && s != span_start) {
        if (Status st = writer->merge(tier, series, span_start, group); !st) return st;
        group.clear();
      }
      span_start = s;
      group.push_back(b);
    }
    if (!group.empty()) {
      if (Status st = writer->merge(tier, series, span_start, group); !st) return st;
    }
  }
  return Status::ok();
}

Status migrate_old_rollups(sqlite3* db, std::chrono::steady_clock::time_point deadline,
                           bool* more) {
  auto old = has_old_table(db);
  if (!old) return old.status();
  if (!*old) return Status::ok();
  // 4,096 rows a query, in key order, each query's rows deleted once stored.
  auto read = Statement::prepare(db,
                                 "SELECT tier, series_id, bucket_ms, min_value, max_value,"
                                 " sum_value, n FROM rollups ORDER BY tier, series_id, bucket_ms"
                                 " LIMIT 4096");
  if (!read) return read.status();
  auto remove = Statement::prepare(db,
                                   "DELETE FROM rollups WHERE (tier, series_id, bucket_ms) IN"
                                   " (SELECT tier, series_id, bucket_ms FROM rollups"
                                   " ORDER BY tier, series_id, bucket_ms LIMIT 4096)");
  if (!remove) return remove.status();
  for (;;) {
    std::map<std::pair<std::int64_t, std::int64_t>, BucketMap> by_series;
    int rows = 0;
    int rc;
    read->reset();
    while ((rc = read->step()) == SQLITE_ROW) {
      ++rows;
      const std::int64_t tier = read->int64(0);
      const RollupBucket b{read->int64(2), read->real(3), read->real(4), read->real(5),
                           read->int64(6)};
      // A bucket of no samples (never written so) or of a tier no longer kept: dropped.
      if (b.n <= 0 || std::find(std::begin(kTiers), std::end(kTiers), tier) == std::end(kTiers))
        continue;
      const auto add = [&](std::int64_t into_tier, const RollupBucket& bucket) {
        auto [it, fresh] = by_series[{into_tier, read->int64(1)}].try_emplace(bucket.ts_ms, bucket);
        if (!fresh) merge_bucket(it->second, bucket);
      };
      add(tier, b);
      // The daily tier did not exist: made from the hourly one.
      if (tier == kHourMs) {
        RollupBucket day = b;
        day.ts_ms = bucket_of(b.ts_ms, kDayMs);
        add(kDayMs, day);
      }
    }
    read->reset();
    if (rc != SQLITE_DONE) return sqlite::error(db, "read old rollups");
    if (rows > 0) {
      if (Status s = store_buckets(db, by_series); !s) return s;
      remove->reset();
      if (remove->step() != SQLITE_DONE) return sqlite::error(db, "remove old rollups");
      remove->reset();
    }
    if (rows < 4096) {
      if (Status s = sqlite::exec(db, "DROP TABLE rollups"); !s) return s;
      if (rows > 0) log::notice("storage: rollups moved to the packed tiers (schema version 10)");
      return Status::ok();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      *more = true;
      return Status::ok();
    }
  }
}

Result<DailyTierZone> read_daily_tier_zone(sqlite3* db) {
  // The housekeeping table's values are integers but for these, names (the column
  // has integer affinity: a text that is no number stays text).
  auto get = Statement::prepare(
      db,
      "SELECT key, value FROM housekeeping WHERE key IN ('day_zone', 'day_zone_next',"
      " 'day_zone_series')");
  if (!get) return get.status();
  DailyTierZone z;
  int rc;
  while ((rc = get->step()) == SQLITE_ROW) {
    const std::string key = get->text(0);
    if (key == "day_zone") z.zone = get->text(1);
    else if (key == "day_zone_next") z.next = get->text(1);
    else z.rebuilt_through = get->int64(1);
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read the daily tier's zone");
  return z;
}

namespace {

Status set_housekeeping(sqlite3* db, const char* key, const std::string* text, std::int64_t n) {
  return sqlite::exec(db,
                      "INSERT INTO housekeeping (key, value) VALUES (?1, ?2)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      [&](Statement& st) {
                        st.bind(1, std::string(key));
                        if (text != nullptr) st.bind(2, *text);
                        else st.bind(2, n);
                      });
}

// Series rebuilt per query.
constexpr int kRebuildSeries = 64;
constexpr std::int64_t kAllTime = std::int64_t{1} << 60;

// The daily buckets of `series` made again in `zone` from its hourly ones.
Status rebuild_series_days(sqlite3* db, RollupReader& reader, Statement& remove,
                           std::int64_t series, const DayZone& zone) {
  std::vector<RollupBucket> hours, days;
  if (Status s = reader.read(kHourMs, series, -kAllTime, kAllTime, hours); !s) return s;
  if (Status s = reader.read(kDayMs, series, -kAllTime, kAllTime, days); !s) return s;
  std::map<std::pair<std::int64_t, std::int64_t>, BucketMap> rebuilt;
  BucketMap& into = rebuilt[{kDayMs, series}];
  // Days before the first hour left: as they were (in the zone they were made in).
  const std::int64_t first = hours.empty() ? kAllTime : zone.day_of(hours.front().ts_ms);
  for (const RollupBucket& d : days)
    if (d.ts_ms < first) into.emplace(d.ts_ms, d);
  for (RollupBucket h : hours) {
    h.ts_ms = zone.day_of(h.ts_ms);
    auto [it, fresh] = into.try_emplace(h.ts_ms, h);
    if (!fresh) merge_bucket(it->second, h);
  }
  remove.reset();
  remove.bind(1, kDayMs).bind(2, series);
  if (remove.step() != SQLITE_DONE) return sqlite::error(db, "remove daily rollups");
  remove.reset();
  if (into.empty()) return Status::ok();
  return store_buckets(db, rebuilt);
}

}  // namespace

Status rebuild_daily_tier(sqlite3* db, const DayZone& zone,
                          std::chrono::steady_clock::time_point deadline, bool* more) {
  auto state = read_daily_tier_zone(db);
  if (!state) return state.status();
  if (state->next.empty() && state->zone == zone.name()) return Status::ok();
  if (state->next != zone.name()) {
    // A new rebuild (or one towards another zone than the one under way): from the first
    // series. From now on new samples go into `zone`'s days.
    if (Status s = set_housekeeping(db, "day_zone_next", &zone.name(), 0); !s) return s;
    if (Status s = set_housekeeping(db, "day_zone_series", nullptr, 0); !s) return s;
    state->rebuilt_through = 0;
    log::notice("storage: the daily tier's days move from " + state->zone + " to " + zone.name());
  }
  // The rows of a version 9 database first: they add UTC days.
  auto old = has_old_table(db);
  if (!old) return old.status();
  if (*old) {
    *more = true;
    return Status::ok();
  }
  auto reader = RollupReader::prepare(db);
  if (!reader) return reader.status();
  auto list = Statement::prepare(db, "SELECT id FROM series WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!list) return list.status();
  auto remove =
      Statement::prepare(db, "DELETE FROM rollup_blocks WHERE tier = ?1 AND series_id = ?2");
  if (!remove) return remove.status();
  std::int64_t cursor = state->rebuilt_through;
  std::vector<std::int64_t> ids;
  for (;;) {
    ids.clear();
    list->reset();
    list->bind(1, cursor).bind(2, std::int64_t{kRebuildSeries});
    int rc;
    while ((rc = list->step()) == SQLITE_ROW) ids.push_back(list->int64(0));
    list->reset();
    if (rc != SQLITE_DONE) return sqlite::error(db, "read series");
    for (const std::int64_t id : ids) {
      if (Status s = rebuild_series_days(db, *reader, *remove, id, zone); !s) return s;
      cursor = id;
      if (std::chrono::steady_clock::now() >= deadline) break;
    }
    if (ids.size() < static_cast<std::size_t>(kRebuildSeries) &&
        (ids.empty() || cursor == ids.back())) {
      // Every series done: the tier is in `zone`.
      if (Status s = set_housekeeping(db, "day_zone", &zone.name(), 0); !s) return s;
      if (Status s = sqlite::exec(db,
                                  "DELETE FROM housekeeping WHERE key IN ('day_zone_next',"
                                  " 'day_zone_series')");
          !s)
        return s;
      log::notice("storage: the daily tier's days are in " + zone.name());
      return Status::ok();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (Status s = set_housekeeping(db, "day_zone_series", nullptr, cursor); !s) return s;
      *more = true;
      return Status::ok();
    }
  }
}

}  // namespace vigie::collector
