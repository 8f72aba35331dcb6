// The tiers' packs on SQLite (collector/sqlite/rollups.hpp): an agent's series share a
// row per tier and span, each read back alone (from a directory longer than the first
// bytes a reader takes too), late buckets merged, series replaced or removed, a damaged
// pack refused by reads and replaced by the next write.

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "collector/sqlite/rollups.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kT0 = 1'780'012'800'000;  // a UTC midnight: 2026-05-29
constexpr std::int64_t kEver = std::int64_t{1} << 60;

using BySeries = std::map<std::pair<std::int64_t, std::int64_t>, BucketMap>;

// A database of today's schema with series 1..300 of agent 1 and 301..302 of agent 2.
sqlite::Db make_database(const testing::TempDir& dir) {
  const auto path = dir.path() / "collector.db";
  {
    auto storage = open_sqlite_storage({.path = path});
    REQUIRE(storage.is_ok());
  }
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READWRITE);
  REQUIRE(db.is_ok());
  for (int id = 1; id <= 302; ++id) {
    REQUIRE(
        sqlite::exec(db->get(),
                     "INSERT INTO series (id, agent_id, check_id, metric, unit)"
                     " VALUES (?1, ?2, 'external:c', ?3, '')",
                     [&](sqlite::Statement& st) {
                       st.bind(1, id).bind(2, id <= 300 ? 1 : 2).bind(3, "m" + std::to_string(id));
                     })
            .is_ok());
  }
  return std::move(*db);
}

// Two days of 5-minute buckets, every other one, of each series: values of its own.
BySeries two_days(std::mt19937_64& rng) {
  BySeries out;
  for (std::int64_t series = 1; series <= 302; ++series) {
    BucketMap& buckets = out[{kFiveMinutesMs, series}];
    for (std::int64_t t = kT0; t < kT0 + 2 * kDay; t += 2 * kFiveMinutesMs) {
      const double v = static_cast<double>(rng() % 100'000) / 100.0;
      buckets[t] = RollupBucket{t, v, v + 1, 5 * v + 2, 5};
    }
  }
  return out;
}

std::vector<RollupBucket> read(sqlite3* db, std::int64_t series,
                               std::int64_t tier = kFiveMinutesMs) {
  auto reader = RollupReader::prepare(db);
  REQUIRE(reader.is_ok());
  std::vector<RollupBucket> out;
  const Status s = reader->read(tier, series, -kEver, kEver, out);
  INFO(s.to_string());
  REQUIRE(s.is_ok());
  return out;
}

std::vector<RollupBucket> values(const BucketMap& m) {
  std::vector<RollupBucket> out;
  for (const auto& [ts, b] : m) out.push_back(b);
  return out;
}

std::int64_t count(sqlite3* db, const char* sql) {
  auto st = sqlite::Statement::prepare(db, sql);
  REQUIRE(st.is_ok());
  REQUIRE(st->step() == SQLITE_ROW);
  return st->int64(0);
}

// Every tier's buckets of every series, as a reader on `db` reads them.
std::map<std::pair<std::int64_t, std::int64_t>, std::vector<RollupBucket>> everything(sqlite3* db) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<RollupBucket>> out;
  auto ids = sqlite::Statement::prepare(db, "SELECT id FROM series ORDER BY id");
  REQUIRE(ids.is_ok());
  std::vector<std::int64_t> series;
  while (ids->step() == SQLITE_ROW) series.push_back(ids->int64(0));
  for (const std::int64_t id : series)
    for (const std::int64_t tier : kTiers) out[{tier, id}] = read(db, id, tier);
  return out;
}

}  // namespace

TEST_CASE("SQLite tiers: an agent's series share a pack per span, each read back alone",
          "[storage][rollups]") {
  testing::TempDir dir;
  auto db = make_database(dir);
  std::mt19937_64 rng(3);
  BySeries stored = two_days(rng);
  REQUIRE(store_buckets(db.get(), stored).is_ok());
  // Two agents, two days: four rows, not 604.
  CHECK(count(db.get(), "SELECT count(*) FROM rollup_packs") == 4);
  // 300 series: a directory longer than the reader's first read.
  CHECK(count(db.get(), "SELECT min(length(buckets)) FROM rollup_packs WHERE agent_id = 1") > 4096);
  for (std::int64_t series : {1, 2, 150, 299, 300, 301, 302}) {
    INFO("series " << series);
    CHECK(read(db.get(), series) == values(stored[{kFiveMinutesMs, series}]));
  }
  // A bounded read: the buckets in [from, to] only, in order.
  auto reader = RollupReader::prepare(db.get());
  REQUIRE(reader.is_ok());
  std::vector<RollupBucket> part;
  REQUIRE(
      reader
          ->read(kFiveMinutesMs, 7, kT0 + kDay - kFiveMinutesMs, kT0 + kDay + kFiveMinutesMs, part)
          .is_ok());
  REQUIRE(part.size() == 1);
  CHECK(part[0].ts_ms == kT0 + kDay);
  // No series of that id, or a tier with nothing: nothing.
  CHECK(read(db.get(), 999).empty());
  CHECK(read(db.get(), 7, kHourMs).empty());

  SECTION("late buckets are merged into those stored, new ones added") {
    BySeries late;
    const RollupBucket& old = stored[{kFiveMinutesMs, 150}][kT0];
    late[{kFiveMinutesMs, 150}][kT0] = RollupBucket{kT0, old.min - 1, old.max, 7, 1};
    late[{kFiveMinutesMs, 150}][kT0 + kFiveMinutesMs] =
        RollupBucket{kT0 + kFiveMinutesMs, 2, 3, 5, 2};
    REQUIRE(store_buckets(db.get(), late).is_ok());
    const auto got = read(db.get(), 150);
    REQUIRE(got.size() == stored[{kFiveMinutesMs, 150}].size() + 1);
    CHECK(got[0] == RollupBucket{kT0, old.min - 1, old.max, sum_exactly(old.sum, 7), 6});
    CHECK(got[1] == RollupBucket{kT0 + kFiveMinutesMs, 2, 3, 5, 2});
    // The others as they were.
    CHECK(read(db.get(), 149) == values(stored[{kFiveMinutesMs, 149}]));
    CHECK(read(db.get(), 151) == values(stored[{kFiveMinutesMs, 151}]));
    CHECK(count(db.get(), "SELECT count(*) FROM rollup_packs") == 4);
  }

  SECTION("a replaced series holds only its new buckets; one replaced by none is gone") {
    auto writer = RollupWriter::prepare(db.get());
    REQUIRE(writer.is_ok());
    std::vector<RollupWriter::Part> parts;
    parts.push_back({.series = 10, .buckets = {RollupBucket{kT0, 1, 1, 1, 1}}});
    parts.push_back({.series = 11});
    REQUIRE(writer->write(kFiveMinutesMs, 1, kT0, parts, RollupWriter::Mode::kReplace).is_ok());
    auto ten = read(db.get(), 10);
    CHECK(ten.front() == RollupBucket{kT0, 1, 1, 1, 1});
    // Its second day is in the other pack, untouched.
    CHECK(ten.size() == 1 + stored[{kFiveMinutesMs, 10}].size() / 2);
    CHECK(read(db.get(), 11).size() == stored[{kFiveMinutesMs, 11}].size() / 2);
    CHECK(read(db.get(), 12) == values(stored[{kFiveMinutesMs, 12}]));
    // Agent 2's first day replaced by nothing: its row goes.
    parts.clear();
    parts.push_back({.series = 301});
    parts.push_back({.series = 302});
    REQUIRE(writer->write(kFiveMinutesMs, 2, kT0, parts, RollupWriter::Mode::kReplace).is_ok());
    CHECK(count(db.get(), "SELECT count(*) FROM rollup_packs WHERE agent_id = 2") == 1);
    CHECK(read(db.get(), 301).front().ts_ms >= kT0 + kDay);
  }

  SECTION("a damaged pack fails reads naming the series, and the next write replaces it") {
    REQUIRE(sqlite::exec(db.get(),
                         "UPDATE rollup_packs SET buckets = x'01050102' WHERE agent_id = 2"
                         " AND start_ms = " +
                             std::to_string(kT0),
                         [](sqlite::Statement&) {})
                .is_ok());
    auto broken = RollupReader::prepare(db.get());
    REQUIRE(broken.is_ok());
    std::vector<RollupBucket> out;
    const Status s = broken->read(kFiveMinutesMs, 301, -kEver, kEver, out);
    CHECK(s.code() == Code::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains("series 301"));
    // Agent 1's packs read on.
    CHECK(read(db.get(), 5) == values(stored[{kFiveMinutesMs, 5}]));
    BySeries fresh;
    fresh[{kFiveMinutesMs, 302}][kT0] = RollupBucket{kT0, 4, 4, 4, 1};
    REQUIRE(store_buckets(db.get(), fresh).is_ok());
    const auto got = read(db.get(), 302);
    REQUIRE_FALSE(got.empty());
    CHECK(got.front() == RollupBucket{kT0, 4, 4, 4, 1});
    CHECK(got.size() == 1 + stored[{kFiveMinutesMs, 302}].size() / 2);
    // Series 301's first day was lost with the damaged pack; its second day is there.
    CHECK(read(db.get(), 301).size() == stored[{kFiveMinutesMs, 301}].size() / 2);
  }
}

TEST_CASE("SQLite tiers: a version 12 database's rows move an agent a slice, read the same between",
          "[storage][rollups][migration]") {
  testing::TempDir dir;
  const auto path = dir.path() / "collector.db";
  // The version 12 fixture (one agent's 90 series, a row per tier, series and span),
  // migrated to this schema by a storage that is closed before its housekeeping runs.
  auto loaded =
      testing::run({"/usr/bin/sqlite3", path.string(),
                    ".read " + std::string(VIGIE_SOURCE_DIR) + "/tests/fixtures/schema/v12.sql"});
  REQUIRE(loaded.exit_code == 0);
  {
    auto storage = open_sqlite_storage({.path = path,
                                        .housekeeping_every = std::chrono::hours(1),
                                        .now_ms = [] { return 1'728'010'800'000; }});
    REQUIRE(storage.is_ok());
    (*storage)->close();
  }
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READWRITE);
  REQUIRE(db.is_ok());
  // A second agent with the same rows under series of its own.
  REQUIRE(sqlite::exec(db->get(),
                       "INSERT INTO series (agent_id, check_id, metric, unit) SELECT 2, check_id,"
                       " metric || '-b', unit FROM series WHERE agent_id = 1;"
                       "INSERT INTO rollup_blocks (tier, series_id, start_ms, buckets)"
                       " SELECT b.tier, t.id, b.start_ms, b.buckets FROM rollup_blocks b"
                       " JOIN series s ON s.id = b.series_id JOIN series t ON t.agent_id = 2"
                       " AND t.check_id = s.check_id AND t.metric = s.metric || '-b'")
              .is_ok());
  const std::int64_t rows = count(db->get(), "SELECT count(*) FROM rollup_blocks");
  REQUIRE(rows == 540);
  const auto before = everything(db->get());
  REQUIRE(before.size() == 180 * 3);
  REQUIRE_FALSE(before.at({kHourMs, 1}).empty());

  // A slice whose deadline has passed moves one agent, keeps its place, and says more.
  bool more = false;
  REQUIRE(sqlite::exec(db->get(), "BEGIN").is_ok());
  REQUIRE(migrate_old_rollups(db->get(), std::chrono::steady_clock::now(), &more).is_ok());
  REQUIRE(sqlite::exec(db->get(), "COMMIT").is_ok());
  CHECK(more);
  CHECK(count(db->get(), "SELECT count(*) FROM rollup_blocks") == rows / 2);
  CHECK(count(db->get(), "SELECT count(DISTINCT agent_id) FROM rollup_packs") == 1);
  // Its place: the last agent moved, for the next slice.
  CHECK(count(db->get(), "SELECT count(*) FROM housekeeping WHERE key = 'rollup_packs_agent'") ==
        1);
  CHECK(everything(db->get()) == before);

  // The next slice moves the other agent and drops the table.
  more = false;
  REQUIRE(sqlite::exec(db->get(), "BEGIN").is_ok());
  REQUIRE(migrate_old_rollups(db->get(), std::chrono::steady_clock::now() + std::chrono::hours(1),
                              &more)
              .is_ok());
  REQUIRE(sqlite::exec(db->get(), "COMMIT").is_ok());
  CHECK_FALSE(more);
  CHECK(count(db->get(), "SELECT count(*) FROM sqlite_master WHERE name = 'rollup_blocks'") == 0);
  CHECK(count(db->get(), "SELECT count(*) FROM rollup_packs") == 6);
  CHECK(count(db->get(), "SELECT count(*) FROM housekeeping WHERE key = 'rollup_packs_agent'") ==
        0);
  CHECK(everything(db->get()) == before);
}

TEST_CASE(
    "SQLite tiers: a new database drops its empty rollup_blocks in one slice, many agents or none",
    "[storage][rollups][migration]") {
  testing::TempDir dir;
  const auto path = dir.path() / "collector.db";
  {  // made by the storage, closed before its first housekeeping
    auto storage = open_sqlite_storage({.path = path, .housekeeping_every = std::chrono::hours(1)});
    REQUIRE(storage.is_ok());
    (*storage)->close();
  }
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READWRITE);
  REQUIRE(db.is_ok());
  // Agents and series enrolled before the first slice: nothing of theirs to move.
  REQUIRE(
      sqlite::exec(db->get(),
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)"
                   " INSERT INTO series (agent_id, check_id, metric, unit)"
                   " SELECT i, 'system/load', 'load1', '' FROM n")
          .is_ok());
  REQUIRE(count(db->get(), "SELECT count(*) FROM sqlite_master WHERE name = 'rollup_blocks'") == 1);
  bool more = false;
  REQUIRE(sqlite::exec(db->get(), "BEGIN").is_ok());
  // A slice whose deadline has passed: it walked one agent and said more before.
  REQUIRE(migrate_old_rollups(db->get(), std::chrono::steady_clock::now(), &more).is_ok());
  REQUIRE(sqlite::exec(db->get(), "COMMIT").is_ok());
  CHECK_FALSE(more);
  CHECK(count(db->get(), "SELECT count(*) FROM sqlite_master WHERE name = 'rollup_blocks'") == 0);
  CHECK(count(db->get(), "SELECT count(*) FROM housekeeping WHERE key = 'rollup_packs_agent'") ==
        0);
}

}  // namespace vigie::collector
