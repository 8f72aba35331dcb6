#include "collector/db_copy.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <set>

#include "collector/postgres/pq.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/postgres/writes.hpp"
#include "collector/rollup_block.hpp"
#include "collector/rollup_pack.hpp"
#include "collector/sqlite/housekeeping.hpp"
#include "collector/sqlite/owner_lock.hpp"
#include "collector/sqlite/rollups.hpp"
#include "collector/sqlite/schema.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

using Clock = std::chrono::steady_clock;

// A COPY is sent every this many bytes of rows: memory stays bounded whatever the size.
constexpr std::size_t kChunkBytes = 8u << 20;
// A progress line within a table at most this often.
constexpr auto kProgressEvery = std::chrono::seconds(2);
// Held by a copy in its transaction: two copies into one database never interleave.
constexpr const char* kCopyLock = "SELECT pg_advisory_xact_lock(7612004)";
// Raw blocks get a daily partition for each day from the oldest to the newest, at most
// this many days (the raw tier's retention is days) and at most a few days ahead of now;
// blocks outside go to the default partition, as they do when a collector stores them.
constexpr std::int64_t kPartitionWindowMs = 400 * kDayMs;
constexpr std::int64_t kPartitionDaysAheadMs = 3 * kDayMs;

// The source's tables copied row for row, in this order (a check's agent first), with
// the columns PostgreSQL has no use for.
struct RowTable {
  const char* name;
  std::set<std::string> dropped;
};
const RowTable kRowTables[] = {
    {"agents", {}},
    {"batches", {}},
    {"checks", {}},
    {"series", {}},
    {"tokens", {}},
    {"events", {}},
    {"downtimes", {}},
    {"audit", {}},
    {"notifications", {}},
    {"outbox", {}},
    {"config_entries", {}},
    {"agent_config_reports", {}},
    // level: SQLite's compaction state; PostgreSQL does not compact.
    {"sample_blocks", {"level"}},
};
// The source's other tables, copied otherwise: the tiers converted, the rollup cursor
// as PostgreSQL's queue of blocks to roll up, the configurations' revision, the replay
// guard's ranges of seqs as the batches rows PostgreSQL keeps instead.
const std::set<std::string> kConvertedTables = {"rollup_packs", "rollup_blocks",   "rollups",
                                                "housekeeping", "config_revision", "batch_ranges"};
// The target's tables that must be empty (those a collector writes; config_revision
// must be at 0).
const char* const kTargetTables[] = {"agents",         "batches",
                                     "checks",         "series",
                                     "tokens",         "events",
                                     "downtimes",      "audit",
                                     "notifications",  "outbox",
                                     "rollups",        "rollup_pending",
                                     "config_entries", "agent_config_reports",
                                     "sample_blocks",  "rollup_packs"};

enum class Type { kInt8, kInt4, kInt2, kBool, kFloat8, kText, kBytea };

Result<Type> type_named(const std::string& name) {
  if (name == "bigint") return Type::kInt8;
  if (name == "integer") return Type::kInt4;
  if (name == "smallint") return Type::kInt2;
  if (name == "boolean") return Type::kBool;
  if (name == "double precision") return Type::kFloat8;
  if (name == "text") return Type::kText;
  if (name == "bytea") return Type::kBytea;
  return Status::internal("a column of type " + name + " cannot be copied");
}

struct Finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, Finalize>;

Result<Stmt> prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
    return sqlite::error(db, "read the source (" + sql.substr(0, 60) + ")");
  return Stmt(raw);
}

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

class Copier {
 public:
  Copier(sqlite3* src, pq::Conn& dst, const std::function<void(const std::string&)>& progress)
      : src_(src), dst_(dst), progress_(progress) {}

  Status check_target_empty();
  Status copy_rows(const RowTable& table);
  Status make_partitions();
  Status queue_rollups();
  Status copy_tiers();
  Status copy_day_zone();
  Status copy_config_revision();
  Status copy_batch_ranges();
  Status set_sequences();
  CopySummary& summary() { return summary_; }

 private:
  void say(const std::string& line) {
    if (progress_) progress_(line);
  }
  // A table done: its rows, and the time since the one before.
  void counted(const std::string& table, std::int64_t rows) {
    const auto now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - mark_).count();
    mark_ = now;
    summary_.tables.push_back({table, rows, seconds});
    char took[32];
    std::snprintf(took, sizeof took, "%.1f", seconds);
    say(table + ": " + std::to_string(rows) + " rows, " + took + " s");
  }
  // Sends what `rows` holds by COPY into `target` (its column list) and starts anew.
  Status flush(const std::string& copy, pq::CopyRows& rows) {
    if (rows.rows() == 0) return Status::ok();
    Status s = dst_.copy_in(copy, rows);
    rows = pq::CopyRows();
    return s;
  }
  Status add_value(pq::CopyRows& out, sqlite3_stmt* stmt, int col, Type type,
                   const std::string& where);

  sqlite3* src_;
  pq::Conn& dst_;
  const std::function<void(const std::string&)>& progress_;
  CopySummary summary_;
  Clock::time_point mark_ = Clock::now();
};

Status Copier::check_target_empty() {
  for (const char* table : kTargetTables) {
    auto any = dst_.query(std::string("SELECT EXISTS (SELECT 1 FROM ") + table + ")");
    if (!any) return any.status().with_context("read the target");
    if (any->text(0, 0) == "t")
      return Status(Code::kFailedPrecondition,
                    std::string("the target database is not empty (table ") + table +
                        " has rows): db copy fills only a new database; nothing was written");
  }
  auto revision = dst_.query("SELECT revision FROM config_revision WHERE id = 1");
  if (!revision) return revision.status().with_context("read the target");
  if (revision->size() != 1 || revision->int64(0, 0) != 0)
    return Status(Code::kFailedPrecondition,
                  "the target database is not empty (its configurations were changed): db copy "
                  "fills only a new database; nothing was written");
  return Status::ok();
}

Status Copier::add_value(pq::CopyRows& out, sqlite3_stmt* stmt, int col, Type type,
                         const std::string& where) {
  const int kind = sqlite3_column_type(stmt, col);
  if (kind == SQLITE_NULL) {
    out.add_null();
    return Status::ok();
  }
  auto integer = [&]() -> Result<std::int64_t> {
    if (kind == SQLITE_INTEGER) return std::int64_t{sqlite3_column_int64(stmt, col)};
    const double v = sqlite3_column_double(stmt, col);
    if (kind == SQLITE_FLOAT && std::trunc(v) == v && std::abs(v) < 9.2e18)
      return static_cast<std::int64_t>(v);
    return Status::corruption(where + ": not an integer");
  };
  switch (type) {
    case Type::kInt8: {
      auto v = integer();
      if (!v) return v.status();
      out.add(*v);
      return Status::ok();
    }
    case Type::kInt4:
    case Type::kInt2:
    case Type::kBool: {
      auto v = integer();
      if (!v) return v.status();
      const std::int64_t lo = type == Type::kInt4   ? std::numeric_limits<std::int32_t>::min()
                              : type == Type::kInt2 ? std::numeric_limits<std::int16_t>::min()
                                                    : 0;
      const std::int64_t hi = type == Type::kInt4   ? std::numeric_limits<std::int32_t>::max()
                              : type == Type::kInt2 ? std::numeric_limits<std::int16_t>::max()
                                                    : 1;
      if (*v < lo || *v > hi)
        return Status::corruption(where + ": " + std::to_string(*v) + " is out of range");
      if (type == Type::kInt4) out.add_int32(static_cast<std::int32_t>(*v));
      else if (type == Type::kInt2) out.add_int16(static_cast<std::int16_t>(*v));
      else out.add_bool(*v != 0);
      return Status::ok();
    }
    case Type::kFloat8:
      if (kind != SQLITE_INTEGER && kind != SQLITE_FLOAT)
        return Status::corruption(where + ": not a number");
      out.add_double(sqlite3_column_double(stmt, col));
      return Status::ok();
    case Type::kText:
    case Type::kBytea: {
      // Text as SQLite keeps it (UTF-8); a number in a text column as its text.
      const void* data = type == Type::kText
                             ? static_cast<const void*>(sqlite3_column_text(stmt, col))
                             : sqlite3_column_blob(stmt, col);
      const int n = sqlite3_column_bytes(stmt, col);
      out.add_bytes(std::string_view(static_cast<const char*>(data), data ? n : 0));
      return Status::ok();
    }
  }
  return Status::internal(where + ": unknown type");
}

Status Copier::copy_rows(const RowTable& table) {
  const std::string name = table.name;
  // The target's columns and types, in its order.
  auto target = dst_.query(
      "SELECT a.attname, format_type(a.atttypid, NULL), a.attnotnull AND NOT a.atthasdef"
      " FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0"
      " AND NOT a.attisdropped ORDER BY a.attnum",
      pq::Params().add(name));
  if (!target) return target.status().with_context("read the target's table " + name);
  // The source's columns.
  std::set<std::string> source;
  {
    auto info = prepare(src_, "PRAGMA table_info(" + quoted(name) + ")");
    if (!info) return info.status();
    while (sqlite3_step(info->get()) == SQLITE_ROW)
      source.insert(reinterpret_cast<const char*>(sqlite3_column_text(info->get(), 1)));
  }
  if (source.empty()) return Status::corruption("the source has no table " + name);
  std::vector<std::pair<std::string, Type>> columns;
  std::set<std::string> placed;
  for (int i = 0; i < target->size(); ++i) {
    const std::string column = target->text(i, 0);
    if (!source.contains(column)) {
      // A column only PostgreSQL has takes its default; one without is a bug here.
      if (target->text(i, 2) == "t")
        return Status::internal("the source's table " + name + " has no column " + column +
                                ", which PostgreSQL requires");
      continue;
    }
    auto type = type_named(target->text(i, 1));
    if (!type) return type.status().with_context(name + "." + column);
    columns.emplace_back(column, *type);
    placed.insert(column);
  }
  // Nothing of the source left behind unsaid: a column with no place is refused.
  for (const std::string& column : source) {
    if (!placed.contains(column) && !table.dropped.contains(column))
      return Status::internal("the source's column " + name + "." + column +
                              " has no place in PostgreSQL: this collector cannot copy it");
  }
  std::string list;
  for (const auto& [column, type] : columns) list += (list.empty() ? "" : ", ") + quoted(column);
  const std::string copy = "COPY " + name + " (" + list + ") FROM STDIN BINARY";
  auto select = prepare(src_, "SELECT " + list + " FROM " + quoted(name));
  if (!select) return select.status();
  pq::CopyRows rows;
  std::int64_t count = 0;
  auto last_said = Clock::now();
  int rc;
  while ((rc = sqlite3_step(select->get())) == SQLITE_ROW) {
    rows.row(static_cast<int>(columns.size()));
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (Status s =
              add_value(rows, select->get(), static_cast<int>(c), columns[c].second,
                        name + "." + columns[c].first + " (row " + std::to_string(count + 1) + ")");
          !s)
        return s;
    }
    ++count;
    if (rows.bytes() >= kChunkBytes) {
      if (Status s = flush(copy, rows); !s) return s.with_context("copy " + name);
      if (Clock::now() - last_said >= kProgressEvery) {
        say(name + ": " + std::to_string(count) + " rows so far");
        last_said = Clock::now();
      }
    }
  }
  if (rc != SQLITE_DONE) return sqlite::error(src_, "read " + name);
  if (Status s = flush(copy, rows); !s) return s.with_context("copy " + name);
  counted(name, count);
  return Status::ok();
}

Status Copier::make_partitions() {
  auto range = prepare(src_, "SELECT min(t_max), max(t_max) FROM sample_blocks");
  if (!range) return range.status();
  if (sqlite3_step(range->get()) != SQLITE_ROW) return sqlite::error(src_, "read sample_blocks");
  if (sqlite3_column_type(range->get(), 0) == SQLITE_NULL) return Status::ok();  // no block
  // The days of the blocks, up to a few days ahead of now (a clock far ahead is no
  // reason for years of partitions) and back at most kPartitionWindowMs from there.
  const std::int64_t to = std::min<std::int64_t>(sqlite3_column_int64(range->get(), 1),
                                                 wall_ms() + kPartitionDaysAheadMs);
  const std::int64_t from =
      std::max<std::int64_t>(sqlite3_column_int64(range->get(), 0), to - kPartitionWindowMs);
  if (from > to) return Status::ok();
  pg::Writes writes(dst_, 0);
  if (Status s = writes.make_partitions_for(from, to); !s) return s;
  auto made = dst_.query("SELECT count(*) FROM sample_partitions");
  if (!made) return made.status();
  say("sample_blocks: " + std::to_string(made->int64(0, 0)) + " daily partitions");
  return Status::ok();
}

Status Copier::queue_rollups() {
  auto cursor = rollup_cursor(src_);
  if (!cursor) return cursor.status().with_context("read the source's rollup cursor");
  auto queued = dst_.query(
      "INSERT INTO rollup_pending (block_id, agent_id, t_max)"
      " SELECT id, agent_id, t_max FROM sample_blocks WHERE id > $1",
      pq::Params().add(*cursor));
  if (!queued) return queued.status().with_context("queue the blocks not rolled up");
  counted("rollup_pending", queued->affected());
  return Status::ok();
}

// The zone of the daily tier's days the source's housekeeping rows record (and its
// rebuild into another, if under way), as the target's table daily_tier records it: a
// collector started on the copy with the same --day-zone goes on with its days.
Status Copier::copy_day_zone() {
  auto zone = read_daily_tier_zone(src_);
  if (!zone) return zone.status().with_context("read the source's daily tier zone");
  auto set = dst_.query("UPDATE daily_tier SET zone = $1, next_zone = $2, rebuilt_through = $3",
                        pq::Params().add(zone->zone).add(zone->next).add(zone->rebuilt_through));
  if (!set) return set.status().with_context("record the daily tier's zone");
  say("daily tier: days in " + zone->target());
  return Status::ok();
}

// The tiers, an agent at a time: its series' buckets read through the source's reader
// (whatever its schema keeps them in), made into packs as PostgreSQL keeps them (the same
// format: rollup_pack.hpp), written by COPY.
Status Copier::copy_tiers() {
  std::vector<std::pair<std::int64_t, std::int64_t>> series;  // (agent, series)
  {
    auto ids = prepare(src_, "SELECT agent_id, id FROM series ORDER BY agent_id, id");
    if (!ids) return ids.status();
    int rc;
    while ((rc = sqlite3_step(ids->get())) == SQLITE_ROW)
      series.emplace_back(sqlite3_column_int64(ids->get(), 0), sqlite3_column_int64(ids->get(), 1));
    if (rc != SQLITE_DONE) return sqlite::error(src_, "read series");
  }
  auto reader = RollupReader::prepare(src_);
  if (!reader) return reader.status();
  const std::string copy =
      "COPY rollup_packs (tier, agent_id, start_ms, buckets) FROM STDIN BINARY";
  // Far enough from the ends of int64 that a span's start is computed without overflow.
  constexpr std::int64_t kEver = std::int64_t{1} << 60;
  pq::CopyRows rows;
  PackMerger merger;
  std::int64_t count = 0, packs_count = 0;
  auto last_said = Clock::now();
  for (std::size_t i = 0; i < series.size();) {
    const std::int64_t agent = series[i].first;
    // Each tier's buckets of every series of the agent (the parts' buckets are copied).
    PackParts packs;
    std::vector<RollupBucket> buckets;
    for (; i < series.size() && series[i].first == agent; ++i) {
      for (const std::int64_t tier : kTiers) {
        if (Status s = reader->read(tier, series[i].second, -kEver, kEver, buckets); !s)
          return s.with_context("read the source's tiers");
        add_to_packs(packs, tier, agent, series[i].second, buckets);
        count += static_cast<std::int64_t>(buckets.size());
      }
    }
    for (const auto& [key, parts] : packs) {
      const auto [tier, pack_agent, start] = key;
      const std::string pack =
          merger.merge({}, tier, start, parts, PackMerger::Mode::kMerge,
                       "agent " + std::to_string(agent) + ", tier " + std::to_string(tier));
      if (pack.empty()) continue;
      rows.row(4).add_int32(static_cast<std::int32_t>(tier)).add(pack_agent).add(start);
      rows.add_bytes(pack);
      ++packs_count;
    }
    if (rows.bytes() >= kChunkBytes) {
      if (Status s = flush(copy, rows); !s) return s.with_context("copy rollups");
      if (Clock::now() - last_said >= kProgressEvery) {
        say("rollups: " + std::to_string(count) + " buckets so far (series " + std::to_string(i) +
            " of " + std::to_string(series.size()) + ")");
        last_said = Clock::now();
      }
    }
  }
  if (Status s = flush(copy, rows); !s) return s.with_context("copy rollups");
  say("rollups: " + std::to_string(count) + " buckets");
  counted("rollup_packs", packs_count);
  return Status::ok();
}

// PostgreSQL keeps a batches row per report for the raw retention (SQLite folds them
// into ranges of seqs, collector/sqlite/replay_guard.hpp): each range becomes a row per
// seq, received when its newest report was (so that retention lets it go as late as
// SQLite would), its results shared out among them (their sum kept). A range is one
// agent's reports of one day: as many rows as PostgreSQL would hold for them.
Status Copier::copy_batch_ranges() {
  auto ranges = prepare(src_,
                        "SELECT agent_id, first_seq, last_seq, received_ms, results"
                        " FROM batch_ranges ORDER BY agent_id, first_seq");
  if (!ranges) return ranges.status();
  const std::string copy = "COPY batches (agent_id, seq, received_ms, results) FROM STDIN BINARY";
  pq::CopyRows rows;
  std::int64_t count = 0;
  int rc;
  while ((rc = sqlite3_step(ranges->get())) == SQLITE_ROW) {
    const std::int64_t agent = sqlite3_column_int64(ranges->get(), 0);
    const std::int64_t first = sqlite3_column_int64(ranges->get(), 1);
    const std::int64_t last = sqlite3_column_int64(ranges->get(), 2);
    const std::int64_t received = sqlite3_column_int64(ranges->get(), 3);
    const std::int64_t results = sqlite3_column_int64(ranges->get(), 4);
    if (last < first || results < 0)
      return Status::corruption("batch_ranges: agent " + std::to_string(agent) + ", seqs " +
                                std::to_string(first) + "-" + std::to_string(last) +
                                ": not a range");
    const std::uint64_t n =
        static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first) + 1;
    const std::int64_t each = results / static_cast<std::int64_t>(n);
    std::int64_t extra = results % static_cast<std::int64_t>(n);
    for (std::int64_t seq = first;; ++seq) {
      const std::int64_t share = each + (extra > 0 ? 1 : 0);
      if (extra > 0) --extra;
      rows.row(4).add(agent).add(seq).add(received).add_int32(static_cast<std::int32_t>(share));
      ++count;
      if (rows.bytes() >= kChunkBytes) {
        if (Status s = flush(copy, rows); !s) return s.with_context("copy batch_ranges");
      }
      if (seq == last) break;
    }
  }
  if (rc != SQLITE_DONE) return sqlite::error(src_, "read batch_ranges");
  if (Status s = flush(copy, rows); !s) return s.with_context("copy batch_ranges");
  counted("batches (from the ranges)", count);
  return Status::ok();
}

Status Copier::copy_config_revision() {
  auto revision = prepare(src_, "SELECT revision FROM config_revision WHERE id = 1");
  if (!revision) return revision.status();
  if (sqlite3_step(revision->get()) != SQLITE_ROW) return Status::ok();
  auto set = dst_.query("UPDATE config_revision SET revision = $1 WHERE id = 1",
                        pq::Params().add(std::int64_t{sqlite3_column_int64(revision->get(), 0)}));
  return set ? Status::ok() : set.status().with_context("copy config_revision");
}

// Every sequence a column of a table owns (serial, identity), and the events' counter,
// set past the largest value copied, so that the target hands out new ids after the
// copied ones.
Status Copier::set_sequences() {
  auto owned = dst_.query(
      "SELECT s.oid::regclass::text, t.oid::regclass::text, a.attname"
      " FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
      " JOIN pg_class t ON t.oid = d.refobjid"
      " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
      " JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = current_schema()"
      " WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
      " AND d.deptype IN ('a', 'i')");
  if (!owned) return owned.status().with_context("read the target's sequences");
  for (int i = 0; i < owned->size(); ++i) {
    const std::string sequence = owned->text(i, 0);
    const std::string table = owned->text(i, 1);
    const std::string column = owned->text(i, 2);
    auto set = dst_.query("SELECT setval($1::regclass, m) FROM (SELECT max(" + quoted(column) +
                              ") AS m FROM " + table + ") AS x WHERE m IS NOT NULL",
                          pq::Params().add(sequence));
    if (!set) return set.status().with_context("set sequence " + sequence);
  }
  // Event ids come from a counter row, not a sequence (schema version 5): past the
  // copied events too, so that the SQLite collector's cursors go on.
  Status counter = dst_.exec(
      "UPDATE event_ids SET last = greatest(last, (SELECT coalesce(max(id), 0) FROM events))"
      " WHERE id = 1");
  return counter ? counter : counter.with_context("set the event ids' counter");
}

}  // namespace

Result<CopySummary> copy_sqlite_to_postgres(
    const std::filesystem::path& from, const std::string& to,
    const std::function<void(const std::string&)>& progress) {
  const auto started = Clock::now();
  if (Status s = pq::check_conninfo(to); !s) return s.with_context("--to");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(from, ec))
    return Status::not_found("--from: no database file " + from.string());
  // Owned for the copy's time: a collector serving the file would write what the copy
  // misses (it is refused), and one starting meanwhile is refused.
  auto owned = lock_database(from, LockMode::kRead);
  if (!owned) {
    if (owned.status().code() != Code::kFailedPrecondition) return owned.status();
    return Status(Code::kFailedPrecondition,
                  "--from: " + owned.status().message() +
                      ": stop it first (what it would write during the copy would not be copied)");
  }
  struct Release {
    int fd;
    ~Release() { ::close(fd); }
  } release{*owned};
  auto db = sqlite::open(from.string(), SQLITE_OPEN_READONLY);
  if (!db) return db.status();
  sqlite3* src = db->get();
  if (Status s = check_application(src, from.string()); !s) return s;
  auto version = schema_version(src);
  if (!version) return version.status();
  if (*version == 0)
    return Status(Code::kFailedPrecondition, from.string() + " is empty: nothing to copy");
  if (*version > kSchemaVersion)
    return Status(Code::kFailedPrecondition,
                  from.string() + " has schema version " + std::to_string(*version) +
                      ", newer than this collector's (" + std::to_string(kSchemaVersion) +
                      "): copy it with the collector that wrote it");
  if (*version < kSchemaVersion)
    return Status(Code::kFailedPrecondition,
                  from.string() + " has schema version " + std::to_string(*version) +
                      ", older than this collector's (" + std::to_string(kSchemaVersion) +
                      "): migrate it first (vigie-collector db migrate --db FILE, on a copy of "
                      "it if it must stay as it is), then copy");
  // One snapshot of the source from the first read to the last.
  if (Status s = sqlite::exec(src, "BEGIN"); !s) return s;
  {
    auto tables = prepare(src, "SELECT name FROM sqlite_master WHERE type = 'table'");
    if (!tables) return tables.status();
    std::set<std::string> known = kConvertedTables;
    for (const RowTable& t : kRowTables) known.insert(t.name);
    while (sqlite3_step(tables->get()) == SQLITE_ROW) {
      const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(tables->get(), 0));
      if (!known.contains(name) && !name.starts_with("sqlite_"))
        return Status::internal("the source's table " + name +
                                " is not known to db copy: this collector cannot copy it");
    }
  }

  auto conn = pq::Conn::connect(to);
  if (!conn) return conn.status();
  pq::Conn& dst = **conn;
  if (Status s = pg::migrate(dst); !s) return s;
  if (Status s = dst.exec("BEGIN"); !s) return s;
  Copier copier(src, dst, progress);
  Status s = dst.exec(kCopyLock);
  if (s) s = copier.check_target_empty();
  for (const RowTable& table : kRowTables) {
    if (!s) break;
    if (std::string_view(table.name) == "sample_blocks") s = copier.make_partitions();
    if (s) s = copier.copy_rows(table);
    if (s && std::string_view(table.name) == "batches") s = copier.copy_batch_ranges();
  }
  if (s) s = copier.queue_rollups();
  if (s) s = copier.copy_tiers();
  if (s) s = copier.copy_day_zone();
  if (s) s = copier.copy_config_revision();
  if (s) s = copier.set_sequences();
  if (s) {
    if (progress) progress("committing");
    s = dst.commit();
  }
  if (!s) {
    (void)dst.exec("ROLLBACK");
    return s;
  }
  (void)sqlite::exec(src, "COMMIT");
  // Fresh statistics for the planner, rather than waiting for autovacuum's.
  if (progress) progress("analyzing");
  if (Status a = dst.exec("ANALYZE"); !a && progress) progress("ANALYZE failed: " + a.message());
  CopySummary summary = std::move(copier.summary());
  summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return summary;
}

}  // namespace vigie::collector
