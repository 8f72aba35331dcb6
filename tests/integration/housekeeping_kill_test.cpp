// The SQLite storage's background moves survive a collector killed in their middle: the
// move of a version 10-12 database's tiers into packs by agent (collector/sqlite/rollups.hpp)
// and compaction's day pass (collector/sqlite/housekeeping.hpp). A real vigie-collector
// is SIGKILLed three times while its slices run, started again each time, and left to
// finish; whenever it is down and at the end, every series reads what it read before
// (raw samples and each tier), and the rows the move leaves are those it leaves without
// a kill.

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "collector/rollup_pack.hpp"
#include "collector/sample_block.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "common/time.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kMinute = 60'000;

// Agents with one check of `series` metrics, `reports` samples of each, `every` ms apart
// from `from_ms`.
struct Fleet {
  int agents = 0;
  int series = 0;
  std::int64_t from_ms = 0;
  int reports = 0;
  std::int64_t every = kMinute;
  std::int64_t end_ms() const { return from_ms + reports * every; }
};

std::string agent_name(int a) { return "agent-" + std::to_string(a); }
std::string metric_name(int s) { return "m" + std::to_string(s); }

// Values of two decimals that differ by agent, series and time, so that a bucket
// counted twice or lost changes its sum, count or extremes.
double value_of(int agent, int series, int i) {
  return static_cast<double>((agent * 7919 + series * 104'729 + i * 131) % 20'000) / 100.0 - 50.0;
}

protocol::Report report_of(const Fleet& f, int agent, int i) {
  protocol::Report r;
  r.agent = {agent_name(agent), "site", "host", "0.1"};
  r.seq = static_cast<std::uint64_t>(i) + 1;
  CheckResult c;
  c.name = "probe";
  c.check = "external:probe";
  c.status = State::kOk;
  c.ts_ms = f.from_ms + i * f.every;
  c.interval_s = 60;
  for (int s = 0; s < f.series; ++s)
    c.metrics.push_back(Metric{.label = metric_name(s), .value = value_of(agent, s, i)});
  r.results.push_back(std::move(c));
  return r;
}

// The fleet's reports stored by this collector's storage, then its housekeeping run to the
// end as of `now` (rollups, compaction, the day pass when a day is over for an hour).
void seed(const std::filesystem::path& path, const Fleet& f, std::int64_t now) {
  auto storage = open_sqlite_storage({.path = path,
                                      .housekeeping_every = std::chrono::hours(24),
                                      .now_ms = [now] { return now; }});
  REQUIRE(storage.is_ok());
  std::mutex mu;
  std::condition_variable cv;
  int pending = 0;
  int failed = 0;
  // Ten reports an agent at a time: the writer's queue never fills.
  for (int i0 = 0; i0 < f.reports; i0 += 10) {
    for (int i = i0; i < std::min(i0 + 10, f.reports); ++i) {
      for (int a = 0; a < f.agents; ++a) {
        {
          std::lock_guard lock(mu);
          ++pending;
        }
        (*storage)->submit(report_of(f, a, i), f.from_ms + i * f.every + 1000, {},
                           [&](Result<IngestOutcome> o, std::vector<Event>) {
                             std::lock_guard lock(mu);
                             if (!o || *o != IngestOutcome::kStored) ++failed;
                             if (--pending == 0) cv.notify_all();
                           });
      }
    }
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 60s, [&] { return pending == 0; }));
  }
  REQUIRE(failed == 0);
  REQUIRE((*storage)->housekeep().is_ok());
  (*storage)->close();
}

std::int64_t count(sqlite3* db, const std::string& sql);

// Agent 0's series, sample blocks and tiers copied to agents 1 to f.agents - 1, each
// under series of its own (blocks and packs name their series: written again with the
// copy's), all of them rolled up. Much faster than storing and housekeeping each
// agent's reports, for the same blocks.
void copy_first_agent(const std::filesystem::path& path, const Fleet& f) {
  auto opened = sqlite::open(path.string(), SQLITE_OPEN_READWRITE);
  REQUIRE(opened.is_ok());
  sqlite3* db = opened->get();
  REQUIRE(sqlite::exec(db, "BEGIN").is_ok());
  const std::int64_t first = count(db, "SELECT id FROM agents WHERE name = 'agent-0'");
  const auto read = [&](const std::string& sql, auto row) {
    auto st = sqlite::Statement::prepare(db, sql.c_str());
    REQUIRE(st.is_ok());
    st->bind(1, first);
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) row(*st);
    REQUIRE(rc == SQLITE_DONE);
  };
  // Its series ascending: a copy's are made in the same order, so they ascend alike.
  std::vector<std::int64_t> series;
  read("SELECT id FROM series WHERE agent_id = ?1 ORDER BY id",
       [&](sqlite::Statement& st) { series.push_back(st.int64(0)); });
  struct Block {
    std::int64_t t_min, t_max, level;
    std::vector<Sample> samples;
  };
  std::vector<Block> blocks;
  read("SELECT t_min, t_max, level, samples FROM sample_blocks WHERE agent_id = ?1",
       [&](sqlite::Statement& st) {
         Block& b = blocks.emplace_back(Block{st.int64(0), st.int64(1), st.int64(2), {}});
         REQUIRE(decode_samples(st.blob(3), b.t_min, b.samples).is_ok());
       });
  struct Pack {
    std::int64_t tier, start;
    std::string bytes;
    std::vector<PackEntry> entries;
  };
  std::vector<Pack> packs;
  read("SELECT tier, start_ms, buckets FROM rollup_packs WHERE agent_id = ?1",
       [&](sqlite::Statement& st) {
         Pack& p = packs.emplace_back(Pack{st.int64(0), st.int64(1), std::string(st.blob(2)), {}});
         REQUIRE(parse_pack(p.bytes, p.bytes.size(), p.entries).is_ok());
       });
  const auto insert = [&](const char* sql, auto bind) {
    REQUIRE(sqlite::exec(db, sql, bind).is_ok());
    return sqlite3_last_insert_rowid(db);
  };
  for (int a = 1; a < f.agents; ++a) {
    const std::int64_t agent = insert(
        "INSERT INTO agents (name, site, hostname, version) VALUES (?1, 'site', 'host', '0.1')",
        [&](sqlite::Statement& st) { st.bind(1, agent_name(a)); });
    std::map<std::int64_t, std::int64_t> copy_of;
    for (const std::int64_t id : series) {
      copy_of[id] = insert(
          "INSERT INTO series (agent_id, check_id, metric, unit)"
          " SELECT ?1, check_id, metric, unit FROM series WHERE id = ?2",
          [&](sqlite::Statement& st) { st.bind(1, agent).bind(2, id); });
    }
    for (const Block& b : blocks) {
      std::vector<Sample> samples = b.samples;
      for (Sample& s : samples) s.series = copy_of.at(s.series);
      const std::string bytes = encode_series_block(samples, b.t_min);
      insert(
          "INSERT INTO sample_blocks (agent_id, t_min, t_max, samples, level)"
          " VALUES (?1, ?2, ?3, ?4, ?5)",
          [&](sqlite::Statement& st) {
            st.bind(1, agent)
                .bind(2, b.t_min)
                .bind(3, b.t_max)
                .bind_blob(4, bytes)
                .bind(5, b.level);
          });
    }
    for (const Pack& p : packs) {
      PackBuilder builder;
      for (const PackEntry& e : p.entries)
        builder.add(copy_of.at(e.series), std::string_view(p.bytes).substr(e.offset, e.length));
      const std::string bytes = builder.take();
      insert("INSERT INTO rollup_packs (tier, agent_id, start_ms, buckets) VALUES (?1, ?2, ?3, ?4)",
             [&](sqlite::Statement& st) {
               st.bind(1, p.tier).bind(2, agent).bind(3, p.start).bind_blob(4, bytes);
             });
    }
  }
  REQUIRE(sqlite::exec(db,
                       "UPDATE housekeeping SET value = (SELECT max(id) FROM sample_blocks)"
                       " WHERE key = 'rollup_cursor'; COMMIT")
              .is_ok());
}

// agent, metric, tier -> the points the storage answers for the fleet's whole time.
using Reads = std::map<std::tuple<int, int, std::string>, std::vector<SeriesPoint>>;

// Every series of the fleet in every tier, as a storage opened on `path` reads it (its
// housekeeping does not run meanwhile).
Reads read_everything(const std::filesystem::path& path, const Fleet& f) {
  auto storage = open_sqlite_storage({.path = path, .housekeeping_every = std::chrono::hours(24)});
  REQUIRE(storage.is_ok());
  Reads out;
  for (int a = 0; a < f.agents; ++a) {
    for (int s = 0; s < f.series; ++s) {
      for (const char* tier : {"raw", "5m", "1h", "1d"}) {
        auto data = (*storage)->series({.agent = agent_name(a),
                                        .check = "external:probe",
                                        .metric = metric_name(s),
                                        .from_ms = f.from_ms - kDay,
                                        .to_ms = f.end_ms() + kDay,
                                        .tier = tier});
        INFO(agent_name(a) << " " << metric_name(s) << " " << tier << ": "
                           << data.status().to_string());
        REQUIRE(data.is_ok());
        out[{a, s, tier}] = std::move(data->points);
      }
    }
  }
  (*storage)->close();
  return out;
}

// The series whose points differ between `want` and `got`, the first few described.
std::string differences(const Reads& want, const Reads& got) {
  std::ostringstream out;
  int n = 0;
  for (const auto& [key, points] : want) {
    auto it = got.find(key);
    if (it != got.end() && it->second == points) continue;
    if (++n > 5) continue;
    const auto& [a, s, tier] = key;
    out << agent_name(a) << " " << metric_name(s) << " " << tier << ": ";
    if (it == got.end()) {
      out << "missing\n";
      continue;
    }
    std::size_t i = 0;
    while (i < points.size() && i < it->second.size() && points[i] == it->second[i]) ++i;
    out << points.size() << " points, read " << it->second.size() << "; first difference at " << i;
    if (i < points.size() && i < it->second.size()) {
      const SeriesPoint& p = points[i];
      const SeriesPoint& q = it->second[i];
      out << ": ts " << p.ts_ms << "/" << q.ts_ms << " count " << p.count << "/" << q.count
          << " min " << p.min << "/" << q.min << " max " << p.max << "/" << q.max << " avg "
          << p.avg << "/" << q.avg;
    }
    out << "\n";
  }
  if (n > 0) out << n << " series of " << want.size() << " differ";
  return out.str();
}

std::int64_t count(sqlite3* db, const std::string& sql) {
  auto st = sqlite::Statement::prepare(db, sql.c_str());
  INFO(sql);
  REQUIRE(st.is_ok());
  REQUIRE(st->step() == SQLITE_ROW);
  return st->int64(0);
}

std::int64_t count_in(const std::filesystem::path& path, const std::string& sql) {
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READONLY);
  REQUIRE(db.is_ok());
  return count(db->get(), sql);
}

// Rows of the database as a set of text lines, for comparing them as a whole.
std::set<std::string> rows(sqlite3* db, const std::string& sql) {
  auto st = sqlite::Statement::prepare(db, sql.c_str());
  INFO(sql);
  REQUIRE(st.is_ok());
  std::set<std::string> out;
  int rc;
  while ((rc = st->step()) == SQLITE_ROW) out.insert(st->text(0));
  REQUIRE(rc == SQLITE_DONE);
  return out;
}

// A read-only look at the database while a collector writes it: nullopt when the
// query fails (a table dropped under it, a moment of recovery after a kill).
class Peek {
 public:
  explicit Peek(const std::filesystem::path& path) {
    auto db = sqlite::open(path.string(), SQLITE_OPEN_READONLY);
    REQUIRE(db.is_ok());
    db_ = std::move(*db);
  }
  std::optional<std::int64_t> value(const std::string& sql) {
    auto st = sqlite::Statement::prepare(db_.get(), sql.c_str());
    if (!st || st->step() != SQLITE_ROW) return std::nullopt;
    return st->int64(0);
  }

 private:
  sqlite::Db db_;
};

// Polls `progress` every 2 ms until a slice of the collector's housekeeping moves it
// past where it is (20 s at most: the first slice runs a second after the start), then
// SIGKILLs the collector `delay` later. The slices run back to back, each a transaction
// of 15 ms or so after 5 ms idle: the kill lands in the next slice's transaction most
// of the time. Returns the progress seen before the kill.
std::int64_t kill_in_next_slice(testing::Collector& collector, Peek& peek,
                                const std::string& progress, std::chrono::milliseconds delay) {
  const std::int64_t from = peek.value(progress).value_or(0);
  std::int64_t seen = from;
  const auto deadline = Clock::now() + 20s;
  while (seen == from && Clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
    seen = peek.value(progress).value_or(seen);
  }
  std::this_thread::sleep_for(delay);
  const std::string log = collector.child().log();
  collector.stop(/*kill=*/true);
  INFO(log);
  REQUIRE(seen > from);
  return seen;
}

// Polls `done` (a query giving 1 once the move is over) every 10 ms, 20 s at most.
bool wait_done(Peek& peek, const std::string& done) {
  return testing::eventually([&] { return peek.value(done).value_or(0) == 1; }, 20s);
}

// The UTC midnight two days ago: its day is over for more than an hour, its samples
// are within the raw retention (8 days), at any time of the day the test runs.
std::int64_t day_before_yesterday() { return wall_ms() / kDay * kDay - 2 * kDay; }

}  // namespace

TEST_CASE(
    "Housekeeping: a collector killed while the tiers move into packs by agent resumes the move "
    "and every series reads as before",
    "[housekeeping-kill]") {
  testing::TempDir dir;
  const auto path = dir / "collector.db";
  // Five days of a sample every 2 hours, the last one over: a row per series and day of
  // 5-minute buckets, all of them rolled up and merged by day before the collector starts.
  const Fleet f{.agents = 80,
                .series = 12,
                .from_ms = day_before_yesterday() - 4 * kDay + 3'600'000,
                .reports = 60,
                .every = 120 * kMinute};
  seed(path, f, wall_ms());
  // The tiers put back as a database of schema 10-12 held them once opened by this
  // version: a row per tier, series and span in table rollup_blocks (each pack's blocks
  // as they are), no pack left.
  std::set<std::string> packs;
  std::int64_t blocks = 0;
  {
    auto db = sqlite::open(path.string(), SQLITE_OPEN_READWRITE);
    REQUIRE(db.is_ok());
    packs = rows(db->get(),
                 "SELECT tier || ' ' || agent_id || ' ' || start_ms || ' ' || hex(buckets)"
                 " FROM rollup_packs");
    REQUIRE(
        sqlite::exec(db->get(),
                     "BEGIN;"
                     "CREATE TABLE rollup_blocks (id INTEGER PRIMARY KEY, tier INTEGER NOT NULL,"
                     " series_id INTEGER NOT NULL, start_ms INTEGER NOT NULL,"
                     " buckets BLOB NOT NULL);"
                     "CREATE UNIQUE INDEX rollup_blocks_by_series ON rollup_blocks"
                     " (tier, series_id, start_ms)")
            .is_ok());
    auto read =
        sqlite::Statement::prepare(db->get(), "SELECT tier, start_ms, buckets FROM rollup_packs");
    REQUIRE(read.is_ok());
    std::vector<PackEntry> entries;
    while (read->step() == SQLITE_ROW) {
      const std::string pack(read->blob(2));
      entries.clear();
      REQUIRE(parse_pack(pack, pack.size(), entries).is_ok());
      for (const PackEntry& e : entries) {
        REQUIRE(sqlite::exec(db->get(),
                             "INSERT INTO rollup_blocks (tier, series_id, start_ms, buckets)"
                             " VALUES (?1, ?2, ?3, ?4)",
                             [&](sqlite::Statement& st) {
                               st.bind(1, read->int64(0))
                                   .bind(2, e.series)
                                   .bind(3, read->int64(1))
                                   .bind_blob(4, std::string_view(pack).substr(e.offset, e.length));
                             })
                    .is_ok());
        ++blocks;
      }
    }
    read->reset();
    REQUIRE(sqlite::exec(db->get(), "DELETE FROM rollup_packs; COMMIT").is_ok());
  }
  // Five spans of 5-minute buckets a series at least, an hourly and a daily one.
  REQUIRE(blocks >= 7 * f.agents * f.series);
  const Reads before = read_everything(path, f);
  REQUIRE(before.size() == static_cast<std::size_t>(4 * f.agents * f.series));
  REQUIRE(before.at({0, 0, "raw"}).size() == static_cast<std::size_t>(f.reports));

  testing::Collector collector(dir);
  Peek peek(path);
  const std::string moved = "SELECT " + std::to_string(blocks) + " - count(*) FROM rollup_blocks";
  // Killed three times, each time in the second slice that runs.
  for (const auto delay : {7ms, 11ms, 9ms}) {
    const std::int64_t seen = kill_in_next_slice(collector, peek, moved, delay);
    INFO("killed with " << seen << " rows of " << blocks << " moved");
    // In the middle of the move: rows are left, none of the agents up to the cursor's.
    CHECK(count_in(path, "SELECT count(*) FROM rollup_blocks") > 0);
    CHECK(count_in(path,
                   "SELECT count(*) FROM rollup_blocks b JOIN series s ON s.id = b.series_id"
                   " WHERE s.agent_id <= (SELECT value FROM housekeeping"
                   " WHERE key = 'rollup_packs_agent')") == 0);
    CHECK(differences(before, read_everything(path, f)) == "");
    collector.start();
  }
  REQUIRE(wait_done(peek, "SELECT count(*) = 0 FROM sqlite_master WHERE name = 'rollup_blocks'"));
  collector.stop(/*kill=*/false);
  CHECK(differences(before, read_everything(path, f)) == "");
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READONLY);
  REQUIRE(db.is_ok());
  // The packs as they were, each once; the cursor row gone with the table.
  CHECK(rows(db->get(),
             "SELECT tier || ' ' || agent_id || ' ' || start_ms || ' ' || hex(buckets)"
             " FROM rollup_packs") == packs);
  CHECK(count(db->get(), "SELECT count(*) FROM housekeeping WHERE key = 'rollup_packs_agent'") ==
        0);
}

TEST_CASE(
    "Housekeeping: a collector killed in the day pass resumes the pass and every series reads as "
    "before",
    "[housekeeping-kill]") {
  testing::TempDir dir;
  const auto path = dir / "collector.db";
  const std::int64_t day = day_before_yesterday();
  const Fleet f{
      .agents = 120, .series = 10, .from_ms = day + 3'600'000, .reports = 600, .every = 30'000};
  // Stored and housekept within the hour after the day: its hours are a block each
  // (level 2) still.
  Fleet first = f;
  first.agents = 1;
  seed(path, first, day + kDay + 30 * kMinute);
  copy_first_agent(path, f);
  const std::string hours_left = "SELECT count(*) FROM sample_blocks WHERE level = 2 AND t_min < " +
                                 std::to_string(day + kDay);
  REQUIRE(count_in(path, hours_left) == f.agents * 5);
  REQUIRE(count_in(path, "SELECT count(*) FROM sample_blocks WHERE level = 4") == 0);
  const Reads before = read_everything(path, f);
  REQUIRE(before.at({0, 0, "raw"}).size() == static_cast<std::size_t>(f.reports));
  // What the day pass leaves without a kill: on a copy, housekept to the end in process.
  const auto reference = dir / "reference.db";
  std::filesystem::copy_file(path, reference);
  REQUIRE_FALSE(std::filesystem::exists(dir / "collector.db-wal"));  // closed: all in the file
  {
    auto storage = open_sqlite_storage({.path = reference,
                                        .housekeeping_every = std::chrono::hours(24),
                                        .now_ms = [] { return wall_ms(); }});
    REQUIRE(storage.is_ok());
    REQUIRE((*storage)->housekeep().is_ok());
    (*storage)->close();
  }
  const std::string blocks_sql =
      "SELECT id || ' ' || agent_id || ' ' || t_min || ' ' || t_max || ' ' || level || ' ' ||"
      " hex(samples) FROM sample_blocks";
  auto reference_db = sqlite::open(reference.string(), SQLITE_OPEN_READONLY);
  REQUIRE(reference_db.is_ok());
  const std::set<std::string> merged = rows(reference_db->get(), blocks_sql);
  REQUIRE(merged.size() == static_cast<std::size_t>(f.agents));

  testing::Collector collector(dir);
  Peek peek(path);
  const std::string days = "SELECT count(*) FROM sample_blocks WHERE level = 4";
  // Killed three times, each time in the second slice that runs.
  for (const auto delay : {7ms, 11ms, 9ms}) {
    const std::int64_t seen = kill_in_next_slice(collector, peek, days, delay);
    INFO("killed with " << seen << " days of " << f.agents << " merged");
    // In the middle of the pass: hours are left, and no agent has both its day's block
    // and hours of that day.
    CHECK(count_in(path, hours_left) > 0);
    CHECK(count_in(path, "SELECT count(*) FROM (SELECT agent_id FROM sample_blocks WHERE t_min < " +
                             std::to_string(day + kDay) +
                             " GROUP BY agent_id HAVING max(level) = 4 AND min(level) = 2)") == 0);
    CHECK(differences(before, read_everything(path, f)) == "");
    collector.start();
  }
  REQUIRE(wait_done(peek, "SELECT (" + hours_left + ") = 0"));
  collector.stop(/*kill=*/false);
  CHECK(differences(before, read_everything(path, f)) == "");
  // Each agent's day in one block, as without a kill.
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READONLY);
  REQUIRE(db.is_ok());
  CHECK(rows(db->get(), blocks_sql) == merged);
}

}  // namespace vigie::collector
