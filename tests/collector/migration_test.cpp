// Upgrades are safe: a database of every released schema version opens with today's
// collector, keeps its data, and a database newer than the collector is refused.

#include "collector/storage.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <sstream>
#include <tuple>

#include "collector/sqlite/schema.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

// Builds a database from a fixture written with `sqlite3 DB .dump`.
std::filesystem::path database_from(const testing::TempDir& dir, const std::string& fixture) {
  const auto db = dir / "collector.db";
  const std::string sql = std::string(VIGIE_SOURCE_DIR) + "/tests/fixtures/schema/" + fixture;
  auto r = testing::run({"/usr/bin/sqlite3", db.string(), ".read " + sql});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return db;
}

// The fixtures were written around 2026-11-29; this is an hour after their last sample.
// A storage opened on one runs its housekeeping (every second in the background) as of
// then: at the wall clock, days later, it would find their samples past the raw
// retention (8 days) and delete them while the test reads them.
constexpr std::int64_t kFixturesNow = 1'796'000'000'000;

Result<std::unique_ptr<Storage>> open_fixture(const testing::TempDir& dir,
                                              const std::string& fixture) {
  SqliteOptions options{.path = database_from(dir, fixture)};
  options.now_ms = [] { return kFixturesNow; };
  return open_sqlite_storage(options);
}

TEST_CASE("Migration: a version 1 database opens and keeps its data", "[migration]") {
  testing::TempDir dir;
  auto storage = open_fixture(dir, "v1.sql");
  REQUIRE(storage.is_ok());

  auto state = (*storage)->load_state(0);
  REQUIRE(state.is_ok());
  REQUIRE_FALSE(state->checks.empty());
  CHECK(state->checks[0].site == "fixture-site");
  // Version 2 starts each check's hard state from its status.
  CHECK(state->checks[0].hard_state == state->checks[0].last.status);
  CHECK(state->checks[0].type == StateType::kHard);

  auto tokens = (*storage)->list_tokens();
  REQUIRE(tokens.is_ok());
  CHECK_FALSE(tokens->empty());

  // Samples written by that version are still readable, and ingest goes on.
  const auto& row = state->checks[0];
  REQUIRE_FALSE(row.last.metrics.empty());
  auto series = (*storage)->series({.agent = row.agent,
                                    .check = row.last.check,
                                    .metric = row.last.metrics[0].label,
                                    .from_ms = row.last.ts_ms - 86'400'000,
                                    .to_ms = row.last.ts_ms + 1,
                                    .tier = "raw"});
  REQUIRE(series.is_ok());
  CHECK_FALSE(series->points.empty());
}

TEST_CASE("Migration: a version 2 database keeps its states, acknowledgements and downtimes",
          "[migration]") {
  testing::TempDir dir;
  auto storage = open_fixture(dir, "v2.sql");
  REQUIRE(storage.is_ok());
  auto state = (*storage)->load_state(0);
  REQUIRE(state.is_ok());
  REQUIRE(state->checks.size() == 1);
  const CheckState& c = state->checks[0];
  CHECK(c.agent == "fixture-agent");
  CHECK(c.hard_state == State::kCritical);
  REQUIRE(c.ack);
  CHECK(c.ack->author == "fixture operator");
  CHECK(c.ack->sticky);
  REQUIRE(state->agents.size() == 1);
  CHECK(state->agents[0].version == "0.2.0");
  CHECK(state->agents[0].spool_depth == 1);
  REQUIRE(state->downtimes.size() == 1);
  CHECK(state->downtimes[0].time_zone == "Europe/Paris");
  CHECK(state->downtimes[0].weekdays == 0x7f);
  CHECK(state->last_event_id >= 2);
  auto events = (*storage)->events({});
  REQUIRE(events.is_ok());
  CHECK(events->size() == static_cast<std::size_t>(state->last_event_id));
  auto audit = (*storage)->audit({});
  REQUIRE(audit.is_ok());
  CHECK(audit->size() == 2);
}

TEST_CASE("Migration: a version 3 database keeps its notification history", "[migration]") {
  testing::TempDir dir;
  auto storage = open_fixture(dir, "v3.sql");
  REQUIRE(storage.is_ok());
  auto state = (*storage)->load_state(0);
  REQUIRE(state.is_ok());
  CHECK(state->checks.size() == 1);
  auto history = (*storage)->notifications({});
  REQUIRE(history.is_ok());
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].status == "failed");
  CHECK((*history)[0].channel == "webhook");
  CHECK((*history)[1].status == "sent");
  CHECK((*history)[1].channel == "email");
  CHECK((*history)[1].check == "backup/restic:/srv");
  CHECK((*history)[1].state == State::kCritical);
}

TEST_CASE("Migration: sample blocks of a version 8 database read the same once re-encoded",
          "[migration][compaction]") {
  testing::TempDir dir;
  // 92 blocks as that version's ingest wrote them (encoding 1, one report each), a
  // minute apart from t0 over three hours.
  const auto db = database_from(dir, "v8.sql");
  const std::int64_t t0 = 1'795'924'560'000;
  // Housekeeping as if 5 hours later: every hour over, nothing past its retention.
  SqliteOptions options{.path = db};
  options.now_ms = [&] { return t0 + 5 * 3'600'000; };
  auto storage = open_sqlite_storage(options);
  REQUIRE(storage.is_ok());
  const SeriesQuery query{.agent = "fixture-agent",
                          .check = "backup/restic:/srv",
                          .metric = "age",
                          .from_ms = t0 - 86'400'000,
                          .to_ms = t0 + 86'400'000,
                          .tier = "raw"};
  auto before = (*storage)->series(query);
  REQUIRE(before.is_ok());
  REQUIRE(before->points.size() == 92);
  REQUIRE((*storage)->housekeep().is_ok());
  auto after = (*storage)->series(query);
  REQUIRE(after.is_ok());
  CHECK(after->points == before->points);
  CHECK(after->points[2] == SeriesPoint{t0, 3600, 3600, 3600, 1});

  (*storage)->close();
  // Fewer blocks, one per hour, each of encoding 3.
  auto rows = testing::run(
      {"/usr/bin/sqlite3", db.string(),
       "SELECT count(*), min(level), max(level), group_concat(DISTINCT hex(substr(samples,1,1)))"
       " FROM sample_blocks"});
  REQUIRE(rows.exit_code == 0);
  CHECK(testing::trim(rows.out) == "3|2|2|03");
}

// The v9 fixture's 90 series over two hours, their 5-minute and hourly buckets a row
// each (table rollups), as that version's housekeeping wrote them, every value to the
// bit (17 digits read back exactly); and the daily buckets they make.
using TierKey = std::tuple<std::int64_t, std::string, std::string>;
struct V9Buckets {
  std::map<TierKey, std::vector<SeriesPoint>> stored;
  std::map<TierKey, std::map<std::int64_t, SeriesPoint>> days;  // the hourly rows by day
};
constexpr std::int64_t kV9Start = 1'728'000'000'000;

V9Buckets v9_buckets(const std::filesystem::path& v9) {
  auto rows =
      testing::run({"/usr/bin/sqlite3", v9.string(),
                    "SELECT r.tier, s.check_id, s.metric, r.bucket_ms, printf('%!.17g', min_value),"
                    " printf('%!.17g', max_value), printf('%!.17g', sum_value), n FROM rollups r"
                    " JOIN series s ON s.id = r.series_id ORDER BY 1, 2, 3, 4"});
  REQUIRE(rows.exit_code == 0);
  V9Buckets out;
  std::istringstream lines(rows.out);
  std::string line;
  std::size_t count = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '|');) f.push_back(x);
    REQUIRE(f.size() == 8);
    const std::int64_t tier = std::stoll(f[0]);
    const SeriesPoint p{std::stoll(f[3]), std::stod(f[4]), std::stod(f[5]),
                        std::stod(f[6]) / std::stod(f[7]), std::stoll(f[7])};
    out.stored[{tier, f[1], f[2]}].push_back(p);
    ++count;
    if (tier != 3'600'000) continue;
    SeriesPoint& d = out.days[{86'400'000, f[1], f[2]}][p.ts_ms / 86'400'000 * 86'400'000];
    d.ts_ms = p.ts_ms / 86'400'000 * 86'400'000;
    d.min = d.count == 0 ? p.min : std::min(d.min, p.min);
    d.max = d.count == 0 ? p.max : std::max(d.max, p.max);
    d.avg += std::stod(f[6]);  // the sum, for now
    d.count += p.count;
  }
  REQUIRE(count == 2340);
  REQUIRE(out.stored.size() == 180);
  return out;
}

// Reads a tier's buckets of one of the fixture's series.
std::vector<SeriesPoint> read_tier(Storage& storage, const TierKey& key) {
  const auto& [tier, check, metric] = key;
  auto data = storage.series({.agent = "agent-0",
                              .check = check,
                              .metric = metric,
                              .from_ms = kV9Start - 86'400'000,
                              .to_ms = kV9Start + 86'400'000,
                              .tier = tier == 300'000     ? "5m"
                                      : tier == 3'600'000 ? "1h"
                                                          : "1d"});
  REQUIRE(data.is_ok());
  return data->points;
}

// Every tier of the fixture's series reads as `want`.
void check_tiers(Storage& storage, const V9Buckets& want) {
  for (const auto& [key, points] : want.stored) {
    INFO(std::get<0>(key) << " " << std::get<1>(key) << " " << std::get<2>(key));
    CHECK(read_tier(storage, key) == points);
  }
  for (const auto& [key, by_day] : want.days) {
    INFO(std::get<1>(key) << " " << std::get<2>(key));
    const auto points = read_tier(storage, key);
    REQUIRE(points.size() == by_day.size());
    for (const SeriesPoint& p : points) {
      const SeriesPoint& d = by_day.at(p.ts_ms);
      CHECK(p.min == d.min);
      CHECK(p.max == d.max);
      CHECK(p.count == d.count);
      CHECK(p.avg == Approx(d.avg / static_cast<double>(d.count)).epsilon(1e-12));
    }
  }
}

// A late sample (200) for buckets the fixture holds of a constant series (192 a minute),
// stored; `want` then holds it too.
void add_late_sample(Storage& storage, V9Buckets& want) {
  const std::int64_t late = kV9Start + 30 * 60'000 + 1000;
  protocol::Report r;
  r.agent = {"agent-0", "site-0", "host", "0.1"};
  r.seq = 1'000'000;
  CheckResult c;
  c.name = "late";
  c.check = "family/check:0";
  c.status = State::kOk;
  c.ts_ms = late;
  c.interval_s = 60;
  c.metrics.push_back(Metric{.label = "m0", .value = 200.0});
  r.results.push_back(c);
  std::promise<Result<IngestOutcome>> done;
  auto stored_future = done.get_future();
  storage.submit(
      std::move(r), kV9Start + 3 * 3'600'000, {},
      [&](Result<IngestOutcome> o, std::vector<Event>) { done.set_value(std::move(o)); });
  REQUIRE(stored_future.get().is_ok());
  for (const std::int64_t tier : {300'000, 3'600'000}) {
    auto& points = want.stored[{tier, "family/check:0", "m0"}];
    auto it = std::find_if(points.begin(), points.end(),
                           [&](const SeriesPoint& p) { return p.ts_ms == late / tier * tier; });
    REQUIRE(it != points.end());
    REQUIRE(it->min == 192);
    REQUIRE(it->max == 192);
    it->avg = (192.0 * static_cast<double>(it->count) + 200) / static_cast<double>(it->count + 1);
    it->max = 200;
    ++it->count;
  }
  SeriesPoint& d =
      want.days[{86'400'000, "family/check:0", "m0"}].at(late / 86'400'000 * 86'400'000);
  d.max = 200;
  d.avg += 200;  // the sum
  ++d.count;
}

// What is left of the older tables, the packs' rows and the schema version.
std::string tier_tables(const std::filesystem::path& db) {
  auto tables = testing::run(
      {"/usr/bin/sqlite3", db.string(),
       "SELECT (SELECT count(*) FROM sqlite_master WHERE name IN ('rollups', 'rollup_blocks')),"
       " (SELECT count(*) FROM rollup_packs), (SELECT count(DISTINCT agent_id) FROM rollup_packs),"
       " (SELECT user_version FROM pragma_user_version)"});
  REQUIRE(tables.exit_code == 0);
  return testing::trim(tables.out);
}

TEST_CASE("Migration: the rollups of a version 9 database read the same once packed",
          "[migration][rollups]") {
  testing::TempDir dir;
  const auto db = database_from(dir, "v9.sql");
  V9Buckets want = v9_buckets(db);
  SqliteOptions options{.path = db};
  options.now_ms = [&] { return kV9Start + 3 * 3'600'000; };
  auto storage = open_sqlite_storage(options);
  REQUIRE(storage.is_ok());
  // Before housekeeping moves them (the old table read as it is; no daily tier yet).
  for (const auto& [key, points] : want.stored) {
    INFO(std::get<0>(key) << " " << std::get<1>(key) << " " << std::get<2>(key));
    CHECK(read_tier(**storage, key) == points);
  }
  // A late sample for buckets the old table holds: housekeeping rolls it up into the
  // packs, then moves the old rows into the same buckets, which then hold both.
  add_late_sample(**storage, want);
  REQUIRE((*storage)->housekeep().is_ok());
  check_tiers(**storage, want);
  (*storage)->close();
  // One agent, a pack in each of the three tiers: the old tables are gone.
  CHECK(tier_tables(db) == "0|3|1|" + std::to_string(kSchemaVersion));
}

TEST_CASE("Migration: the tiers of a version 12 database read the same once packed by agent",
          "[migration][rollups]") {
  // The v12 fixture is the v9 one as that version's housekeeping moved it: a row per
  // tier, series and span (table rollup_blocks), the daily tier made from the hours.
  testing::TempDir v9_dir, dir;
  V9Buckets want = v9_buckets(database_from(v9_dir, "v9.sql"));
  const auto db = database_from(dir, "v12.sql");
  SqliteOptions options{.path = db};
  options.now_ms = [&] { return kV9Start + 3 * 3'600'000; };
  auto storage = open_sqlite_storage(options);
  REQUIRE(storage.is_ok());
  // Read from the old rows before housekeeping moves them.
  check_tiers(**storage, want);
  // A late sample: rolled up into a pack before the old rows of the same buckets are
  // moved into it; both count.
  add_late_sample(**storage, want);
  REQUIRE((*storage)->housekeep().is_ok());
  check_tiers(**storage, want);
  (*storage)->close();
  CHECK(tier_tables(db) == "0|3|1|" + std::to_string(kSchemaVersion));
}

TEST_CASE(
    "Migration: before central pollers, every check is its agent's site's, no token reports for "
    "others",
    "[migration][central]") {
  for (const char* fixture : {"v1.sql", "v2.sql", "v3.sql"}) {
    INFO(fixture);
    testing::TempDir dir;
    auto storage = open_fixture(dir, fixture);
    REQUIRE(storage.is_ok());
    auto state = (*storage)->load_state(0);
    REQUIRE(state.is_ok());
    REQUIRE_FALSE(state->checks.empty());
    for (const auto& c : state->checks) {
      CHECK(c.site == "fixture-site");
      CHECK_FALSE(c.central);
    }
    auto tokens = (*storage)->list_tokens();
    REQUIRE(tokens.is_ok());
    for (const auto& t : *tokens) CHECK(t.report_for.empty());
  }
}

TEST_CASE("Migration: a version 6 database keeps its traps, and older ones' events read on",
          "[migration]") {
  {
    testing::TempDir dir;
    auto storage = open_fixture(dir, "v6.sql");
    REQUIRE(storage.is_ok());
    auto traps = (*storage)->events({.agent = "fixture-agent",
                                     .check = "backup/restic:/srv",
                                     .traps = EventQuery::Traps::kOnly});
    REQUIRE(traps.is_ok());
    REQUIRE(traps->size() == 1);
    CHECK((*traps)[0].kind == EventKind::kTrap);
    CHECK((*traps)[0].summary == "linkDown from fw: ifIndex.3=3");
    CHECK_THAT((*traps)[0].trap, Catch::Contains("\"name\":\"linkDown\""));
    auto state = (*storage)->load_state(0);
    REQUIRE(state.is_ok());
    CHECK(state->last_event_id == 3);
  }
  for (const char* fixture : {"v2.sql", "v3.sql"}) {
    INFO(fixture);
    testing::TempDir dir;
    auto storage = open_fixture(dir, fixture);
    REQUIRE(storage.is_ok());
    auto events = (*storage)->events({});
    REQUIRE(events.is_ok());
    REQUIRE_FALSE(events->empty());
    for (const Event& e : *events) CHECK(e.trap.empty());
    auto traps = (*storage)->events({.traps = EventQuery::Traps::kOnly});
    REQUIRE(traps.is_ok());
    CHECK(traps->empty());
  }
}

TEST_CASE("Migration: an older database gets an empty notification history", "[migration]") {
  for (const char* fixture : {"v1.sql", "v2.sql"}) {
    INFO(fixture);
    testing::TempDir dir;
    auto storage = open_fixture(dir, fixture);
    REQUIRE(storage.is_ok());
    auto history = (*storage)->notifications({});
    REQUIRE(history.is_ok());
    CHECK(history->empty());
  }
}

TEST_CASE("Migration: a database from a newer collector is refused, not damaged", "[migration]") {
  testing::TempDir dir;
  const auto db = database_from(dir, "v1.sql");
  REQUIRE(testing::run({"/usr/bin/sqlite3", db.string(), "PRAGMA user_version = 99"}).exit_code ==
          0);
  auto storage = open_sqlite_storage({.path = db});
  REQUIRE_FALSE(storage.is_ok());
  CHECK_THAT(storage.status().message(), Catch::Contains("newer") && Catch::Contains("99"));
  auto version = testing::run({"/usr/bin/sqlite3", db.string(), "PRAGMA user_version"});
  CHECK(testing::trim(version.out) == "99");
}

}  // namespace
}  // namespace vigie::collector
