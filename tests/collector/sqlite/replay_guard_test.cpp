// The replay guard on SQLite: a report's (agent, seq) is stored once and every copy of
// it answered as a duplicate, whether its row is recent or folded into the agent's
// ranges of seqs, through gaps, out-of-order arrivals, an older database's rows folded
// in slices and a slice that never committed.

#include "collector/sqlite/replay_guard.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "collector/sqlite/housekeeping.hpp"
#include "collector/sqlite/ingest.hpp"
#include "collector/sqlite/schema.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kT0 = 1'780'000'000'000;  // a UTC midnight: 2026-05-29

// A report of one result with one sample (value: its seq), at `ts`.
protocol::Report report(std::uint64_t seq, std::int64_t ts, const std::string& agent = "guard") {
  protocol::Report r;
  r.agent = {agent, "site", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = State::kOk;
  c.summary = "ok";
  c.ts_ms = ts;
  c.interval_s = 60;
  c.metrics.push_back(Metric{.label = "load1", .value = static_cast<double>(seq)});
  r.results.push_back(c);
  return r;
}

std::int64_t query_int(const std::filesystem::path& path, const std::string& sql) {
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READONLY);
  REQUIRE(db.is_ok());
  auto stmt = sqlite::Statement::prepare(db->get(), sql.c_str());
  REQUIRE(stmt.is_ok());
  REQUIRE(stmt->step() == SQLITE_ROW);
  return stmt->int64(0);
}

// A collector's storage on a simulated clock.
struct Guarded {
  testing::TempDir dir;
  std::filesystem::path path = dir.path() / "collector.db";
  std::atomic<std::int64_t> now{kT0 + 10 * kMinute};
  std::unique_ptr<Storage> storage;

  Guarded() {
    auto opened = open_sqlite_storage({.path = path,
                                       .housekeeping_every = std::chrono::hours(1),
                                       .now_ms = [this] { return now.load(); }});
    REQUIRE(opened.is_ok());
    storage = std::move(*opened);
  }
  ~Guarded() { storage->close(); }

  IngestOutcome submit(std::uint64_t seq) {
    std::promise<Result<IngestOutcome>> done;
    storage->submit(report(seq, kT0 + static_cast<std::int64_t>(seq) * 1000), now.load(), {},
                    [&](Result<IngestOutcome> o, std::vector<Event>) { done.set_value(o); });
    auto outcome = done.get_future().get();
    REQUIRE(outcome.is_ok());
    return *outcome;
  }
  // Raw samples stored: one per stored report.
  std::int64_t samples() {
    auto data = storage->series({.agent = "guard",
                                 .check = "system/load",
                                 .metric = "load1",
                                 .from_ms = kT0 - kDay,
                                 .to_ms = kT0 + kDay,
                                 .tier = "raw"});
    REQUIRE(data.is_ok());
    return static_cast<std::int64_t>(data->points.size());
  }
  std::int64_t rows() { return query_int(path, "SELECT count(*) FROM batches"); }
  std::int64_t ranges() { return query_int(path, "SELECT count(*) FROM batch_ranges"); }
  // Reports the guard knows as stored, and their results, wherever they are.
  std::int64_t reports() {
    return query_int(path,
                     "SELECT (SELECT count(*) FROM batches) + (SELECT coalesce(sum(last_seq -"
                     " first_seq + 1), 0) FROM batch_ranges)");
  }
  std::int64_t results() {
    return query_int(path,
                     "SELECT (SELECT coalesce(sum(results), 0) FROM batches) + (SELECT"
                     " coalesce(sum(results), 0) FROM batch_ranges)");
  }
  // Past the recent rows' window: housekeeping folds them.
  void fold() {
    now += kReplayGuardRecentMs + kMinute;
    REQUIRE(storage->housekeep().is_ok());
  }
};

TEST_CASE("SQLite replay guard: recent and folded reports sent again are duplicates, stored once",
          "[storage][replay]") {
  Guarded g;
  for (std::uint64_t seq = 1; seq <= 20; ++seq) REQUIRE(g.submit(seq) == IngestOutcome::kStored);
  REQUIRE(g.storage->housekeep().is_ok());
  // Recent: still a row each.
  CHECK(g.rows() == 20);
  CHECK(g.ranges() == 0);
  for (std::uint64_t seq = 1; seq <= 20; ++seq) CHECK(g.submit(seq) == IngestOutcome::kDuplicate);

  // Folded: one range for the 20, their results summed.
  g.fold();
  CHECK(g.rows() == 0);
  CHECK(g.ranges() == 1);
  CHECK(g.reports() == 20);
  CHECK(g.results() == 20);
  for (std::uint64_t seq = 1; seq <= 20; ++seq) CHECK(g.submit(seq) == IngestOutcome::kDuplicate);
  CHECK(g.submit(21) == IngestOutcome::kStored);
  CHECK(g.submit(21) == IngestOutcome::kDuplicate);
  // The next ones extend the range: an agent reporting in order keeps one a day.
  g.fold();
  CHECK(g.ranges() == 1);
  CHECK(g.reports() == 21);
  CHECK(g.samples() == 21);

  // Past the raw retention, the range goes into the agent's high-water mark: its
  // reports are still duplicates.
  g.now = kT0 + 9 * kDay;
  REQUIRE(g.storage->housekeep().is_ok());
  CHECK(g.ranges() == 0);
  CHECK(query_int(g.path, "SELECT pruned_seq FROM agents WHERE name = 'guard'") == 21);
  for (std::uint64_t seq = 1; seq <= 21; ++seq) CHECK(g.submit(seq) == IngestOutcome::kDuplicate);
}

TEST_CASE("SQLite replay guard: a seq in a gap is stored once then refused, out of order too",
          "[storage][replay]") {
  Guarded g;
  // Out of order, with 4, 6 and 7 missing.
  for (std::uint64_t seq : {5, 3, 1, 2, 10, 8, 9}) REQUIRE(g.submit(seq) == IngestOutcome::kStored);
  g.fold();
  CHECK(g.rows() == 0);
  CHECK(g.ranges() == 3);  // 1-3, 5, 8-10
  for (std::uint64_t seq : {1, 2, 3, 5, 8, 9, 10})
    CHECK(g.submit(seq) == IngestOutcome::kDuplicate);

  // The gaps are new, once.
  CHECK(g.submit(4) == IngestOutcome::kStored);
  CHECK(g.submit(4) == IngestOutcome::kDuplicate);
  CHECK(g.submit(7) == IngestOutcome::kStored);
  g.fold();
  CHECK(g.ranges() == 2);  // 1-5, 7-10
  CHECK(g.submit(4) == IngestOutcome::kDuplicate);
  CHECK(g.submit(7) == IngestOutcome::kDuplicate);
  CHECK(g.submit(6) == IngestOutcome::kStored);
  CHECK(g.submit(6) == IngestOutcome::kDuplicate);
  g.fold();
  CHECK(g.ranges() == 1);  // 1-10
  for (std::uint64_t seq = 1; seq <= 10; ++seq) CHECK(g.submit(seq) == IngestOutcome::kDuplicate);
  CHECK(g.reports() == 10);
  CHECK(g.results() == 10);
  CHECK(g.samples() == 10);

  // A lost seq that arrives days later is new too, and joins no range of another day.
  CHECK(g.submit(12) == IngestOutcome::kStored);
  g.now = kT0 + 3 * kDay;
  CHECK(g.submit(11) == IngestOutcome::kStored);
  g.fold();
  CHECK(g.ranges() == 3);  // 1-10 and 12 of the first day, 11 of the fourth
  for (std::uint64_t seq = 1; seq <= 12; ++seq) CHECK(g.submit(seq) == IngestOutcome::kDuplicate);
  CHECK(g.samples() == 12);
}

// An older collector's database: a batches row per report, 8 days of them.
struct OldDatabase {
  static constexpr std::int64_t kT0 = 1'728'000'000'000;  // the v9 fixture's first minute
  static constexpr std::int64_t kNow = kT0 + 2 * kDay;
  testing::TempDir dir;
  std::filesystem::path path = dir.path() / "collector.db";
  std::set<std::int64_t> stored;  // agent-0's seqs
  std::int64_t results = 0;

  OldDatabase() {
    const std::string fixture = std::string(VIGIE_SOURCE_DIR) + "/tests/fixtures/schema/v9.sql";
    // Seqs 1000-5999 but those ending in 50 (an agent's spool that dropped some), one
    // every 20 s over nearly 28 hours, 3 results each, beside the fixture's 1-120.
    const std::string rows =
        "WITH RECURSIVE s(x) AS (SELECT 1000 UNION ALL SELECT x + 1 FROM s WHERE x < 5999)"
        " INSERT INTO batches SELECT 1, x, " +
        std::to_string(kT0) + " + (x - 1000) * 20000, 3 FROM s WHERE x % 100 != 50";
    auto r = testing::run({"/usr/bin/sqlite3", path.string(), ".read " + fixture, rows});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (std::int64_t seq = 1; seq <= 120; ++seq) stored.insert(seq);
    for (std::int64_t seq = 1000; seq <= 5999; ++seq)
      if (seq % 100 != 50) stored.insert(seq);
    results = query_int(path, "SELECT sum(results) FROM batches");
    REQUIRE(query_int(path, "SELECT count(*) FROM batches") == 5070);
  }

  // The seqs the guard holds for agent-0 (rows and ranges), each once; fails on overlaps.
  std::set<std::int64_t> guarded(sqlite3* db) {
    std::set<std::int64_t> seqs;
    auto rows = sqlite::Statement::prepare(db, "SELECT seq FROM batches WHERE agent_id = 1");
    REQUIRE(rows.is_ok());
    while (rows->step() == SQLITE_ROW) REQUIRE(seqs.insert(rows->int64(0)).second);
    auto ranges = sqlite::Statement::prepare(
        db, "SELECT first_seq, last_seq FROM batch_ranges WHERE agent_id = 1");
    REQUIRE(ranges.is_ok());
    while (ranges->step() == SQLITE_ROW) {
      for (std::int64_t seq = ranges->int64(0); seq <= ranges->int64(1); ++seq)
        REQUIRE(seqs.insert(seq).second);
    }
    return seqs;
  }
  std::int64_t guarded_results(sqlite3* db) {
    auto sum = sqlite::Statement::prepare(
        db,
        "SELECT (SELECT coalesce(sum(results), 0) FROM batches) + (SELECT coalesce(sum(results),"
        " 0) FROM batch_ranges)");
    REQUIRE(sum.is_ok());
    REQUIRE(sum->step() == SQLITE_ROW);
    return sum->int64(0);
  }
};

// Whether ingest on `db` takes agent-0's report `seq` as new; changes nothing.
bool is_new(sqlite3* db, SqliteIngest& ingest, std::int64_t seq) {
  REQUIRE(sqlite::exec(db, "SAVEPOINT probe").is_ok());
  auto outcome = ingest.store(report(static_cast<std::uint64_t>(seq), OldDatabase::kT0, "agent-0"),
                              OldDatabase::kNow);
  REQUIRE(sqlite::exec(db, "ROLLBACK TO probe").is_ok());
  REQUIRE(sqlite::exec(db, "RELEASE probe").is_ok());
  ingest.forget_cached_ids();
  REQUIRE(outcome.is_ok());
  return *outcome == IngestOutcome::kStored;
}

TEST_CASE("SQLite replay guard: an older database's rows fold in slices, duplicates refused",
          "[storage][replay][migration]") {
  OldDatabase old;
  const std::vector<std::int64_t> probes = {1, 120, 1000, 1049, 1051, 3333, 5999};
  const std::vector<std::int64_t> gaps = {121, 999, 1050, 3350, 5950, 6000};
  HousekeepingLimits limits;
  limits.budget = std::chrono::milliseconds(0);  // a slice folds one chunk
  int slices = 0;
  bool more = true;
  bool killed = false;
  for (; slices < 100; ++slices) {
    // Each slice on a connection of its own, as after a restart.
    auto db = sqlite::open(old.path.string(), SQLITE_OPEN_READWRITE);
    REQUIRE(db.is_ok());
    REQUIRE(migrate(db->get()).is_ok());
    auto ingest = SqliteIngest::prepare(db->get());
    REQUIRE(ingest.is_ok());
    // Throughout, every stored report is a duplicate and every gap new.
    REQUIRE(old.guarded(db->get()) == old.stored);
    REQUIRE(old.guarded_results(db->get()) == old.results);
    for (const std::int64_t seq : probes) CHECK_FALSE(is_new(db->get(), **ingest, seq));
    for (const std::int64_t seq : gaps) CHECK(is_new(db->get(), **ingest, seq));
    if (!more) break;
    REQUIRE(sqlite::exec(db->get(), "BEGIN IMMEDIATE").is_ok());
    REQUIRE(housekeeping_slice(db->get(), limits, OldDatabase::kNow, &more).is_ok());
    if (slices == 2 && !killed) {
      // Killed before its commit: the slice is lost whole, nothing else.
      killed = true;
      more = true;
      ingest->reset();
      continue;  // closing the connection rolls the transaction back
    }
    REQUIRE(sqlite::exec(db->get(), "COMMIT").is_ok());
    // Other housekeeping (rollups, compaction) may still have work; the guard's is done
    // once its rows are.
    auto left = sqlite::Statement::prepare(db->get(), "SELECT count(*) FROM batches");
    REQUIRE(left.is_ok());
    REQUIRE(left->step() == SQLITE_ROW);
    if (left->int64(0) == 0) more = false;
  }
  CHECK(killed);
  CHECK(slices >= 5);  // 5,070 rows, a chunk a slice
  CHECK_FALSE(more);
  CHECK(query_int(old.path, "SELECT count(*) FROM batches") == 0);
  // 1-120 and 1000-1049, then a range per gap and UTC day: a handful of rows.
  CHECK(query_int(old.path, "SELECT count(*) FROM batch_ranges") <= 60);
}

}  // namespace
}  // namespace vigie::collector
