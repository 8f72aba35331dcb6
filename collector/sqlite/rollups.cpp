#include "collector/sqlite/rollups.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <tuple>

#include "collector/sqlite/housekeeping.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;

Result<bool> has_table(sqlite3* db, const char* name) {
  auto stmt = Statement::prepare(
      db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
  if (!stmt) return stmt.status();
  stmt->bind(1, std::string_view(name));
  if (stmt->step() != SQLITE_ROW) return sqlite::error(db, "read the schema");
  return stmt->int64(0) != 0;
}

// Sets a row of table housekeeping to `text`, or when it is null to `n`.
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

// A pack's first bytes read at once: the directory of a hundred series or so, and often
// the block wanted with it.
constexpr std::size_t kPackHeadBytes = 1024;

}  // namespace

Result<SeriesAgents> SeriesAgents::prepare(sqlite3* db) {
  SeriesAgents a(db);
  auto find = Statement::prepare(db, "SELECT agent_id FROM series WHERE id = ?1");
  if (!find) return find.status();
  a.find_ = std::move(*find);
  return a;
}

Result<std::int64_t> SeriesAgents::of(std::int64_t series) {
  if (auto it = known_.find(series); it != known_.end()) return it->second;
  find_.reset();
  find_.bind(1, series);
  const int rc = find_.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::error(db_, "read series");
  const std::int64_t agent = rc == SQLITE_ROW ? find_.int64(0) : 0;
  find_.reset();
  // A series never changes agent; one not there may come later: not remembered.
  if (agent != 0) known_.emplace(series, agent);
  return agent;
}

Result<RollupWriter> RollupWriter::prepare(sqlite3* db) {
  RollupWriter w(db);
  const struct {
    Statement* stmt;
    const char* sql;
  } table[] = {
      {&w.find_,
       "SELECT id, buckets FROM rollup_packs WHERE tier = ?1 AND agent_id = ?2"
       " AND start_ms = ?3"},
      {&w.insert_,
       "INSERT INTO rollup_packs (tier, agent_id, start_ms, buckets) VALUES (?1,?2,?3,?4)"},
      {&w.update_, "UPDATE rollup_packs SET buckets = ?2 WHERE id = ?1"},
      {&w.remove_, "DELETE FROM rollup_packs WHERE id = ?1"},
  };
  for (const auto& entry : table) {
    auto stmt = Statement::prepare(db, entry.sql);
    if (!stmt) return stmt.status();
    *entry.stmt = std::move(*stmt);
  }
  return w;
}

Status RollupWriter::write(std::int64_t tier, std::int64_t agent, std::int64_t span_start,
                           const std::vector<Part>& parts, Mode mode) {
  find_.reset();
  find_.bind(1, tier).bind(2, agent).bind(3, span_start);
  const int rc = find_.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::error(db_, "read rollups");
  const std::int64_t id = rc == SQLITE_ROW ? find_.int64(0) : 0;
  stored_pack_.clear();
  if (rc == SQLITE_ROW) stored_pack_ = find_.blob(1);
  find_.reset();
  const std::string pack =
      merger_.merge(stored_pack_, tier, span_start, parts, mode,
                    "agent " + std::to_string(agent) + ", tier " + std::to_string(tier) + " at " +
                        std::to_string(span_start));
  Statement* write = nullptr;
  if (pack.empty()) {
    if (id == 0) return Status::ok();
    write = &remove_;
    write->reset();
    write->bind(1, id);
  } else {
    write = id != 0 ? &update_ : &insert_;
    write->reset();
    if (id != 0) write->bind(1, id).bind_blob(2, pack);
    else write->bind(1, tier).bind(2, agent).bind(3, span_start).bind_blob(4, pack);
  }
  const int wrc = write->step();
  write->reset();
  if (wrc != SQLITE_DONE) return sqlite::error(db_, "store rollups");
  return Status::ok();
}

Result<RollupReader> RollupReader::prepare(sqlite3* db) {
  auto agents = SeriesAgents::prepare(db);
  if (!agents) return agents.status();
  RollupReader r(db, std::move(*agents));
  auto packs = Statement::prepare(db,
                                  "SELECT id, start_ms FROM rollup_packs"
                                  " WHERE tier = ?1 AND agent_id = ?2 AND start_ms >= ?3"
                                  " AND start_ms <= ?4 ORDER BY start_ms");
  if (!packs) return packs.status();
  r.packs_ = std::move(*packs);
  auto blocks = has_table(db, "rollup_blocks");
  if (!blocks) return blocks.status();
  if (*blocks) {
    auto old = Statement::prepare(db,
                                  "SELECT start_ms, buckets FROM rollup_blocks"
                                  " WHERE tier = ?1 AND series_id = ?2 AND start_ms >= ?3"
                                  " AND start_ms <= ?4");
    if (!old) return old.status();
    r.old_blocks_ = std::move(*old);
  }
  auto rows = has_table(db, "rollups");
  if (!rows) return rows.status();
  if (*rows) {
    auto old = Statement::prepare(
        db,
        "SELECT bucket_ms, min_value, max_value, sum_value, n FROM rollups"
        " WHERE tier = ?1 AND series_id = ?2 AND bucket_ms >= ?3 AND bucket_ms <= ?4");
    if (!old) return old.status();
    r.old_rows_ = std::move(*old);
  }
  return r;
}

Status RollupReader::read_pack(std::int64_t id, std::int64_t start, std::int64_t tier,
                               std::int64_t series) {
  if (Status s = blob_.open(db_, "rollup_packs", "buckets", id); !s) return s;
  const std::size_t size = blob_.size();
  if (Status s = blob_.read(0, std::min(size, kPackHeadBytes), head_); !s) return s;
  const auto directory = pack_directory_bytes(head_, size);
  if (!directory) return Status::corruption("rollup pack: unknown format");
  if (*directory > head_.size()) {
    if (Status s = blob_.read(0, *directory, head_); !s) return s;
  }
  if (Status s = parse_pack(head_, size, entries_); !s) return s;
  const PackEntry* entry = find_in_pack(entries_, series);
  if (entry == nullptr) return Status::ok();
  std::string_view block;
  if (entry->offset + entry->length <= head_.size()) {
    block = std::string_view(head_).substr(entry->offset, entry->length);
  } else {
    if (Status s = blob_.read(entry->offset, entry->length, block_); !s) return s;
    block = block_;
  }
  return decode_rollups(block, start, tier, decoded_);
}

Status RollupReader::read(std::int64_t tier, std::int64_t series, std::int64_t from,
                          std::int64_t to, std::vector<RollupBucket>& out) {
  out.clear();
  const std::int64_t first_span = bucket_of(from, rollup_span(tier));
  auto agent = agents_.of(series);
  if (!agent) return agent.status();
  const auto context = [&] { return "series " + std::to_string(series); };
  int rc = SQLITE_DONE;
  if (*agent != 0) {
    packs_.reset();
    packs_.bind(1, tier).bind(2, *agent).bind(3, first_span).bind(4, to);
    // Spans in ascending order, each one's buckets ascending: `out` is sorted as it grows.
    while ((rc = packs_.step()) == SQLITE_ROW) {
      decoded_.clear();
      if (Status d = read_pack(packs_.int64(0), packs_.int64(1), tier, series); !d) {
        packs_.reset();
        blob_.close();
        return d.with_context(context());
      }
      for (const RollupBucket& b : decoded_)
        if (b.ts_ms >= from && b.ts_ms <= to) out.push_back(b);
    }
    packs_.reset();
    blob_.close();
    if (rc != SQLITE_DONE) return sqlite::error(db_, "read rollups");
  }
  if (!old_blocks_.ready() && !old_rows_.ready()) return Status::ok();
  // While an older database's tiers are being moved: theirs too, merged by bucket.
  BucketMap merged;
  for (const RollupBucket& b : out) merged.emplace(b.ts_ms, b);
  const auto add = [&](const RollupBucket& b) {
    if (b.n <= 0 || b.ts_ms < from || b.ts_ms > to) return;
    auto [it, fresh] = merged.try_emplace(b.ts_ms, b);
    if (!fresh) merge_bucket(it->second, b);
  };
  if (old_blocks_.ready()) {
    old_blocks_.reset();
    old_blocks_.bind(1, tier).bind(2, series).bind(3, first_span).bind(4, to);
    while ((rc = old_blocks_.step()) == SQLITE_ROW) {
      decoded_.clear();
      if (Status d = decode_rollups(old_blocks_.blob(1), old_blocks_.int64(0), tier, decoded_);
          !d) {
        old_blocks_.reset();
        return d.with_context(context());
      }
      for (const RollupBucket& b : decoded_) add(b);
    }
    old_blocks_.reset();
    if (rc != SQLITE_DONE) return sqlite::error(db_, "read rollups");
  }
  if (old_rows_.ready()) {
    old_rows_.reset();
    old_rows_.bind(1, tier).bind(2, series).bind(3, from).bind(4, to);
    while ((rc = old_rows_.step()) == SQLITE_ROW) {
      add(RollupBucket{old_rows_.int64(0), old_rows_.real(1), old_rows_.real(2), old_rows_.real(3),
                       old_rows_.int64(4)});
    }
    old_rows_.reset();
    if (rc != SQLITE_DONE) return sqlite::error(db_, "read rollups");
  }
  out.clear();
  for (const auto& [ts, b] : merged) out.push_back(b);
  return Status::ok();
}

Status store_buckets(sqlite3* db,
                     const std::map<std::pair<std::int64_t, std::int64_t>, BucketMap>& by_series) {
  auto writer = RollupWriter::prepare(db);
  if (!writer) return writer.status();
  auto agents = SeriesAgents::prepare(db);
  if (!agents) return agents.status();
  // (tier, agent, span) -> its series' parts; by_series iterates series in ascending
  // order within a tier, so each group's parts ascend.
  PackParts groups;
  std::vector<RollupBucket> buckets;
  for (const auto& [key, by_time] : by_series) {
    const auto [tier, series] = key;
    auto agent = agents->of(series);
    if (!agent) return agent.status();
    if (*agent == 0) {
      log::error("storage: rollups of series " + std::to_string(series) +
                 ", which is not in table series: dropped");
      continue;
    }
    buckets.clear();
    for (const auto& [ts, b] : by_time) buckets.push_back(b);
    add_to_packs(groups, tier, *agent, series, buckets);
  }
  for (const auto& [key, parts] : groups) {
    const auto [tier, agent, span_start] = key;
    if (Status s = writer->write(tier, agent, span_start, parts, RollupWriter::Mode::kMerge); !s)
      return s;
  }
  return Status::ok();
}

namespace {

constexpr const char* kPackCursor = "rollup_packs_agent";

// One agent's rows of table rollup_blocks into its packs, the blocks copied as they
// are (merged with what a pack holds already for the same series and span).
Status pack_agent_blocks(sqlite3* db, RollupWriter& writer, Statement& read, Statement& remove,
                         std::int64_t agent, std::int64_t* moved) {
  std::vector<std::string> blocks;
  std::vector<std::pair<std::int64_t, std::int64_t>> where;  // span, series
  std::vector<std::int64_t> ids;
  std::vector<RollupWriter::Part> parts;
  for (const std::int64_t tier : kTiers) {
    // The agent's blocks of the tier, by span then series.
    blocks.clear();
    where.clear();
    read.reset();
    read.bind(1, tier).bind(2, agent);
    int rc;
    while ((rc = read.step()) == SQLITE_ROW) {
      ids.push_back(read.int64(0));
      where.emplace_back(read.int64(2), read.int64(1));
      blocks.emplace_back(read.blob(3));
    }
    read.reset();
    if (rc != SQLITE_DONE) return sqlite::error(db, "read rollup blocks");
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      parts.push_back({.series = where[i].second, .block = blocks[i]});
      if (i + 1 == blocks.size() || where[i + 1].first != where[i].first) {
        if (Status s = writer.write(tier, agent, where[i].first, parts, RollupWriter::Mode::kMerge);
            !s)
          return s;
        parts.clear();
      }
    }
  }
  *moved += static_cast<std::int64_t>(ids.size());
  for (const std::int64_t id : ids) {
    remove.reset();
    remove.bind(1, id);
    if (remove.step() != SQLITE_DONE) return sqlite::error(db, "remove rollup blocks");
  }
  remove.reset();
  return Status::ok();
}

// One slice of the move of table rollup_blocks (schema 10 to 12) into rollup_packs.
Status migrate_rollup_blocks(sqlite3* db, std::chrono::steady_clock::time_point deadline,
                             bool* more) {
  auto exists = has_table(db, "rollup_blocks");
  if (!exists) return exists.status();
  if (!*exists) return Status::ok();
  auto cursor = Statement::prepare(db, "SELECT value FROM housekeeping WHERE key = ?1");
  if (!cursor) return cursor.status();
  cursor->bind(1, std::string_view(kPackCursor));
  std::int64_t after = cursor->step() == SQLITE_ROW ? cursor->int64(0) : 0;
  cursor->reset();
  const bool resumed = after != 0;
  auto next = Statement::prepare(
      db, "SELECT agent_id FROM series WHERE agent_id > ?1 ORDER BY agent_id LIMIT 1");
  if (!next) return next.status();
  auto read = Statement::prepare(db,
                                 "SELECT b.id, b.series_id, b.start_ms, b.buckets FROM series s"
                                 " JOIN rollup_blocks b ON b.tier = ?1 AND b.series_id = s.id"
                                 " WHERE s.agent_id = ?2 ORDER BY b.start_ms, b.series_id");
  if (!read) return read.status();
  auto remove = Statement::prepare(db, "DELETE FROM rollup_blocks WHERE id = ?1");
  if (!remove) return remove.status();
  auto writer = RollupWriter::prepare(db);
  if (!writer) return writer.status();
  std::int64_t moved = 0;
  // An empty table (a new database made it on its way to this version) needs no walk
  // through the agents: dropped at once.
  auto any = Statement::prepare(db, "SELECT EXISTS (SELECT 1 FROM rollup_blocks)");
  if (!any) return any.status();
  if (any->step() != SQLITE_ROW) return sqlite::error(db, "read rollup blocks");
  const bool empty = any->int64(0) == 0;
  any->reset();
  while (!empty) {
    next->reset();
    next->bind(1, after);
    const int rc = next->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::error(db, "read series");
    if (rc == SQLITE_DONE) break;
    after = next->int64(0);
    next->reset();
    if (Status s = pack_agent_blocks(db, *writer, *read, *remove, after, &moved); !s) return s;
    if (std::chrono::steady_clock::now() >= deadline) {
      *more = true;
      return set_housekeeping(db, kPackCursor, nullptr, after);
    }
  }
  next->reset();
  // Every agent's rows moved; any left belong to no series (unreadable): dropped.
  auto left = Statement::prepare(db, "SELECT count(*) FROM rollup_blocks");
  if (!left) return left.status();
  if (left->step() != SQLITE_ROW) return sqlite::error(db, "count rollup blocks");
  const std::int64_t orphans = left->int64(0);
  left->reset();
  if (orphans > 0)
    log::warning("storage: " + std::to_string(orphans) + " rollup blocks of no series dropped");
  if (Status s = sqlite::exec(db, "DROP TABLE rollup_blocks"); !s) return s;
  if (Status s = sqlite::exec(db, "DELETE FROM housekeeping WHERE key = ?1",
                              [](Statement& st) { st.bind(1, std::string_view(kPackCursor)); });
      !s)
    return s;
  // (A new database made the table on its way to this version: nothing to say.)
  if (moved > 0 || resumed)
    log::notice("storage: the tiers are packed by agent (schema version 13)");
  return Status::ok();
}

// One slice of the move of table rollups (schema 9 and before) into rollup_packs.
Status migrate_rollup_rows(sqlite3* db, std::chrono::steady_clock::time_point deadline,
                           bool* more) {
  auto old = has_table(db, "rollups");
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

}  // namespace

Status migrate_old_rollups(sqlite3* db, std::chrono::steady_clock::time_point deadline,
                           bool* more) {
  bool blocks_left = false;
  if (Status s = migrate_rollup_blocks(db, deadline, &blocks_left); !s) return s;
  if (blocks_left) {
    *more = true;
    return Status::ok();
  }
  return migrate_rollup_rows(db, deadline, more);
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

// Series rebuilt a step.
constexpr int kRebuildSeries = 64;
constexpr std::int64_t kAllTime = std::int64_t{1} << 60;

// The daily buckets of `series` made again in `zone` from its hourly ones.
Status rebuild_series_days(RollupReader& reader, std::int64_t series, const DayZone& zone,
                           BucketMap& into) {
  std::vector<RollupBucket> hours, days;
  if (Status s = reader.read(kHourMs, series, -kAllTime, kAllTime, hours); !s) return s;
  if (Status s = reader.read(kDayMs, series, -kAllTime, kAllTime, days); !s) return s;
  // Days before the first hour left: as they were (in the zone they were made in).
  const std::int64_t first = hours.empty() ? kAllTime : zone.day_of(hours.front().ts_ms);
  for (const RollupBucket& d : days)
    if (d.ts_ms < first) into.emplace(d.ts_ms, d);
  for (RollupBucket h : hours) {
    h.ts_ms = zone.day_of(h.ts_ms);
    auto [it, fresh] = into.try_emplace(h.ts_ms, h);
    if (!fresh) merge_bucket(it->second, h);
  }
  return Status::ok();
}

// The daily buckets of the series `ids` (ascending) made again in `zone`, the first
// one and the next ones until `deadline`, each agent's packs written once: every pack
// of the agent's gets those series' new days in its span, or loses them. *done: the
// last series rebuilt.
Status rebuild_days(sqlite3* db, RollupReader& reader, SeriesAgents& agents, RollupWriter& writer,
                    Statement& spans, const std::vector<std::int64_t>& ids, const DayZone& zone,
                    std::chrono::steady_clock::time_point deadline, std::int64_t* done) {
  std::map<std::int64_t, std::map<std::int64_t, BucketMap>> by_agent;  // agent, series
  for (const std::int64_t id : ids) {
    auto agent = agents.of(id);
    if (!agent) return agent.status();
    if (*agent != 0) {
      if (Status s = rebuild_series_days(reader, id, zone, by_agent[*agent][id]); !s) return s;
    }
    *done = id;
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  const std::int64_t width = rollup_span(kDayMs);
  std::vector<RollupWriter::Part> parts;
  for (const auto& [agent, series] : by_agent) {
    std::set<std::int64_t> starts;
    spans.reset();
    spans.bind(1, kDayMs).bind(2, agent);
    int rc;
    while ((rc = spans.step()) == SQLITE_ROW) starts.insert(spans.int64(0));
    spans.reset();
    if (rc != SQLITE_DONE) return sqlite::error(db, "read daily rollups");
    for (const auto& [id, days] : series)
      for (const auto& [ts, b] : days) starts.insert(bucket_of(ts, width));
    for (const std::int64_t start : starts) {
      parts.clear();
      for (const auto& [id, days] : series) {
        RollupWriter::Part& part = parts.emplace_back(RollupWriter::Part{.series = id});
        for (auto it = days.lower_bound(start); it != days.end() && it->first < start + width; ++it)
          part.buckets.push_back(it->second);
      }
      if (Status s = writer.write(kDayMs, agent, start, parts, RollupWriter::Mode::kReplace); !s)
        return s;
    }
  }
  return Status::ok();
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
  // An older database's tiers are moved first (those of version 9 add UTC days).
  for (const char* table : {"rollups", "rollup_blocks"}) {
    auto old = has_table(db, table);
    if (!old) return old.status();
    if (*old) {
      *more = true;
      return Status::ok();
    }
  }
  auto reader = RollupReader::prepare(db);
  if (!reader) return reader.status();
  auto writer = RollupWriter::prepare(db);
  if (!writer) return writer.status();
  auto agents = SeriesAgents::prepare(db);
  if (!agents) return agents.status();
  auto list = Statement::prepare(db, "SELECT id FROM series WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!list) return list.status();
  auto spans =
      Statement::prepare(db, "SELECT start_ms FROM rollup_packs WHERE tier = ?1 AND agent_id = ?2");
  if (!spans) return spans.status();
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
    if (Status s =
            rebuild_days(db, *reader, *agents, *writer, *spans, ids, zone, deadline, &cursor);
        !s)
      return s;
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
