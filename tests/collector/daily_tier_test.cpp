// The daily tier in the collector's time zone (--day-zone), on both backends: local days
// of 23 and 25 hours, the backup report's whole days read from it, a database whose daily
// tier is in UTC days (every one before --day-zone) rebuilt in local days, and on
// PostgreSQL a roll-up rolled back or a rebuild's slice repeated counting nothing twice,
// and collectors sharing a database with different zones (the lead's wins).
#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <map>

#include "collector/day_zone.hpp"
#include "collector/postgres/pq.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/postgres/writes.hpp"
#include "collector/report/backup.hpp"
#include "collector/sqlite/rollups.hpp"
#include "collector/state_engine.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "tests/collector/backends.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 86'400'000;

cctz::time_zone paris() {
  cctz::time_zone tz;
  REQUIRE(cctz::load_time_zone("Europe/Paris", &tz));
  return tz;
}

// The instant a local time of Europe/Paris is (its first occurrence).
std::int64_t paris_ms(int y, int m, int d, int hh = 0) {
  const auto tp = cctz::convert(cctz::civil_second(y, m, d, hh, 0, 0), paris());
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

// The start of the Paris day holding `ms`, computed apart from DayZone.
std::int64_t paris_day_start(std::int64_t ms) {
  const cctz::time_point<cctz::seconds> tp{cctz::seconds(ms / 1000)};
  const cctz::civil_day day(cctz::convert(tp, paris()));
  return paris_ms(static_cast<int>(day.year()), day.month(), day.day());
}

// Metrics of the check besides size and age, each the size again (`extra`): series
// enough for a rebuild of more than one step.
protocol::Report backup_report(std::uint64_t seq, std::int64_t ts, double size, int extra = 0) {
  protocol::Report r;
  r.agent = {"agent-1", "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "backup";
  c.check = "backup/restic:/srv";
  c.status = State::kOk;
  c.summary = "ok";
  c.ts_ms = ts;
  c.interval_s = 1800;
  c.metrics.push_back(Metric{.label = "size", .value = size, .unit = "B"});
  c.metrics.push_back(Metric{.label = "age", .value = 60, .unit = "s"});
  for (int i = 0; i < extra; ++i)
    c.metrics.push_back(Metric{.label = "copy" + std::to_string(i), .value = size, .unit = "B"});
  r.results.push_back(c);
  return r;
}

// Stored with the engine's changes, so that the check is in the checks the reports read.
void submit(Storage& storage, StateEngine& engine, protocol::Report r) {
  std::promise<Result<IngestOutcome>> done;
  auto future = done.get_future();
  Storage::OnStored on_stored = [&engine](protocol::Report&& stored, std::int64_t at,
                                          const Storage::StoredAgent&) -> Result<StateDelta> {
    return engine.apply(std::move(stored), at);
  };
  storage.submit(std::move(r), 1000, on_stored, [&](Result<IngestOutcome> o, std::vector<Event>) {
    done.set_value(std::move(o));
  });
  REQUIRE(future.get().is_ok());
}

struct Sample {
  std::int64_t ts;
  double value;
};

// Two samples an hour (at :10 and :40 UTC) from `from` to `to`, decimals of one place.
std::vector<Sample> samples_between(std::int64_t from, std::int64_t to) {
  std::vector<Sample> out;
  int i = 0;
  for (std::int64_t t = from + 10 * 60'000; t < to; t += 30 * 60'000, ++i)
    out.push_back({t, 1000 + (i * 37 % 101) / 10.0});
  return out;
}

struct Expected {
  double min = 1e300, max = -1e300, sum = 0;
  std::int64_t n = 0;
};

// The samples by Paris day (start -> aggregate).
std::map<std::int64_t, Expected> by_paris_day(const std::vector<Sample>& samples) {
  std::map<std::int64_t, Expected> out;
  for (const Sample& s : samples) {
    Expected& e = out[paris_day_start(s.ts)];
    e.min = std::min(e.min, s.value);
    e.max = std::max(e.max, s.value);
    e.sum += s.value;
    ++e.n;
  }
  return out;
}

// A collector on `backend` (PostgreSQL: one that does not lead, its housekeeping run
// by the test alone).
struct Collector {
  explicit Collector(const testing::TestBackend& on) : backend(on) {}
  const testing::TestBackend& backend;
  std::atomic<std::int64_t> now{0};
  std::unique_ptr<Storage> storage;
  StateEngine engine;
  std::uint64_t seq = 0;

  bool postgres() const { return backend.kind() == "postgresql"; }
  void open(const std::string& zone) {
    storage.reset();
    SqliteOptions options;
    options.now_ms = [this] { return now.load(); };
    options.housekeeping_every = std::chrono::hours(1);  // only when the test asks
    options.day_zone = zone;
    auto s = backend.open(options);
    REQUIRE(s.is_ok());
    storage = std::move(*s);
  }
  void send(const std::vector<Sample>& samples, int extra = 0) {
    for (const Sample& s : samples)
      submit(*storage, engine, backup_report(++seq, s.ts, s.value, extra));
  }
  SeriesData days(std::int64_t from, std::int64_t to, std::string tier = "",
                  std::string metric = "size") {
    auto data = storage->series({.agent = "agent-1",
                                 .check = "backup/restic:/srv",
                                 .metric = std::move(metric),
                                 .from_ms = from,
                                 .to_ms = to,
                                 .step_ms = kDay,
                                 .tier = std::move(tier)});
    REQUIRE(data.is_ok());
    return *data;
  }
};

// The points are the expected local days, each summed right.
void check_days(const SeriesData& data, const std::map<std::int64_t, Expected>& expected) {
  REQUIRE(data.points.size() == expected.size());
  auto e = expected.begin();
  for (const SeriesPoint& p : data.points) {
    CHECK(p.ts_ms == e->first);
    CHECK(p.count == e->second.n);
    CHECK(p.min == e->second.min);
    CHECK(p.max == e->second.max);
    CHECK(p.avg == Approx(e->second.sum / static_cast<double>(e->second.n)).epsilon(1e-12));
    ++e;
  }
}

TEST_CASE("Daily tier: Europe/Paris days run local midnight to midnight, 23 and 25 hours",
          "[storage][rollups][daily][postgres]") {
  VIGIE_EACH_BACKEND(backend);
  Collector c(backend);
  c.open("Europe/Paris");
  // Around the spring change (2026-03-29, 23 hours) and the autumn one (2026-10-25, 25).
  const auto spring = samples_between(paris_ms(2026, 3, 28), paris_ms(2026, 3, 31));
  const auto autumn = samples_between(paris_ms(2026, 10, 24), paris_ms(2026, 10, 27));
  c.send(spring);
  c.send(autumn);
  c.now = paris_ms(2026, 10, 28);
  REQUIRE(c.storage->housekeep().is_ok());

  const auto spring_days = by_paris_day(spring);
  const auto autumn_days = by_paris_day(autumn);
  REQUIRE(spring_days.size() == 3);
  CHECK(std::next(spring_days.begin())->second.n == 46);  // 23 hours
  CHECK(std::next(autumn_days.begin())->second.n == 50);  // 25 hours

  const SeriesData s = c.days(paris_ms(2026, 3, 28), paris_ms(2026, 3, 31) - 1);
  CHECK(s.tier == "1d");
  check_days(s, spring_days);
  CHECK(s.points[1].ts_ms == paris_ms(2026, 3, 29));  // 2026-03-28T23:00Z
  CHECK(s.points[2].ts_ms - s.points[1].ts_ms == 23 * kHour);
  const SeriesData a = c.days(paris_ms(2026, 10, 24), paris_ms(2026, 10, 27) - 1);
  CHECK(a.tier == "1d");
  check_days(a, autumn_days);
  CHECK(a.points[2].ts_ms - a.points[1].ts_ms == 25 * kHour);
  // A range starting inside a day gets that whole day, as a UTC one did.
  check_days(c.days(paris_ms(2026, 10, 25, 13), paris_ms(2026, 10, 25, 14)),
             {*std::next(autumn_days.begin())});
}

// The backup report's history with whole days from the daily tier, and the same from
// hourly buckets only (day_zone ""), make the same report.
void check_same_report(Storage& storage, const Period& period, std::int64_t now) {
  HistoryQuery daily_q = backup_history_query(period, "");
  REQUIRE(daily_q.day_zone == "Europe/Paris");
  HistoryQuery hourly_q = daily_q;
  hourly_q.day_zone.clear();
  auto daily = storage.history(daily_q);
  auto hourly = storage.history(hourly_q);
  REQUIRE(daily.is_ok());
  REQUIRE(hourly.is_ok());
  REQUIRE(daily->checks.size() == 1);
  // The daily tier was read: a point a day, not one an hour.
  CHECK(daily->checks[0].series.at("size").size() == period.days.size());
  CHECK(hourly->checks[0].series.at("size").size() > 23 * period.days.size());
  const BackupReport a = make_backup_report(*daily, period, now, "");
  const BackupReport b = make_backup_report(*hourly, period, now, "");
  REQUIRE(a.sites.size() == 1);
  REQUIRE(b.sites.size() == 1);
  const CheckLine& da = a.sites[0].checks.at(0);
  const CheckLine& db = b.sites[0].checks.at(0);
  CHECK(da.days == db.days);
  REQUIRE(da.daily_size.size() == db.daily_size.size());
  for (std::size_t i = 0; i < da.daily_size.size(); ++i) {
    REQUIRE(da.daily_size[i].has_value());
    REQUIRE(db.daily_size[i].has_value());
    CHECK(*da.daily_size[i] == Approx(*db.daily_size[i]).epsilon(1e-12));
  }
  REQUIRE(da.size_change.has_value());
  CHECK(*da.size_change == Approx(*db.size_change).epsilon(1e-12));
}

TEST_CASE("Daily tier: a backup report over DST changes equals the one from hourly buckets",
          "[storage][rollups][daily][report][postgres]") {
  VIGIE_EACH_BACKEND(backend);
  Collector c(backend);
  c.open("Europe/Paris");
  c.send(samples_between(paris_ms(2026, 3, 24), paris_ms(2026, 4, 3)));
  c.send(samples_between(paris_ms(2026, 10, 20), paris_ms(2026, 10, 30)));
  c.now = paris_ms(2026, 11, 1);
  REQUIRE(c.storage->housekeep().is_ok());
  for (const char* end : {"2026-04-02", "2026-10-29"}) {
    INFO(end);
    auto period = make_period(7, end, "Europe/Paris", c.now);
    REQUIRE(period.is_ok());
    check_same_report(*c.storage, *period, c.now);
  }
  // A period that is not whole days: the partial days at its edges come from hours.
  auto period = make_period(7, "2026-10-29", "Europe/Paris", c.now);
  REQUIRE(period.is_ok());
  HistoryQuery q = backup_history_query(*period, "");
  q.from_ms += 5 * kHour;
  q.to_ms -= 3 * kHour;
  HistoryQuery hourly_q = q;
  hourly_q.day_zone.clear();
  auto daily = c.storage->history(q);
  auto hourly = c.storage->history(hourly_q);
  REQUIRE(daily.is_ok());
  REQUIRE(hourly.is_ok());
  const auto sum_by_day = [](const std::vector<SeriesPoint>& points) {
    std::map<std::int64_t, std::pair<std::int64_t, double>> out;
    for (const SeriesPoint& p : points) {
      auto& [n, sum] = out[paris_day_start(p.ts_ms)];
      n += p.count;
      sum += p.avg * static_cast<double>(p.count);
    }
    return out;
  };
  const auto a = sum_by_day(daily->checks.at(0).series.at("size"));
  const auto b = sum_by_day(hourly->checks.at(0).series.at("size"));
  REQUIRE(a.size() == 7);
  REQUIRE(a.size() == b.size());
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    CHECK(i->first == j->first);
    CHECK(i->second.first == j->second.first);
    CHECK(i->second.second == Approx(j->second.second).epsilon(1e-12));
  }
  // 19 hours of the first day, 5 whole days, 21 hours of the last.
  CHECK(daily->checks.at(0).series.at("size").size() == 19 + 5 + 21);
}

TEST_CASE("Daily tier: UTC days of an older database are rebuilt in the local zone",
          "[storage][rollups][daily][migration]") {
  testing::TestBackend backend("sqlite");
  Collector c(backend);
  // Written as every collector before --day-zone did: UTC days.
  c.open("");
  const auto samples = samples_between(paris_ms(2026, 3, 26), paris_ms(2026, 4, 2));
  c.send(samples);
  c.now = paris_ms(2026, 4, 5);
  REQUIRE(c.storage->housekeep().is_ok());
  const std::int64_t from = paris_ms(2026, 3, 27);
  const std::int64_t to = paris_ms(2026, 4, 1) - 1;
  const SeriesData utc = c.days(from, to);
  CHECK(utc.tier == "1d");
  REQUIRE_FALSE(utc.points.empty());
  CHECK(utc.points[0].ts_ms % kDay == 0);  // UTC midnights
  c.storage.reset();

  // One slice moves one series, then stops (its deadline is past): the other series
  // (age) is not moved yet, and reads from its hours by local day meanwhile.
  {
    auto db = sqlite::open(backend.db(), SQLITE_OPEN_READWRITE);
    REQUIRE(db.is_ok());
    auto zone = DayZone::named("Europe/Paris");
    REQUIRE(zone.is_ok());
    bool more = false;
    REQUIRE(sqlite::exec(db->get(), "BEGIN").is_ok());
    REQUIRE(rebuild_daily_tier(db->get(), *zone, std::chrono::steady_clock::now(), &more).is_ok());
    REQUIRE(sqlite::exec(db->get(), "COMMIT").is_ok());
    CHECK(more);
    auto state = read_daily_tier_zone(db->get());
    REQUIRE(state.is_ok());
    CHECK(state->zone == "UTC");
    CHECK(state->next == "Europe/Paris");
    CHECK(state->rebuilt_through == 1);
    CHECK(state->zone_of(1) == "Europe/Paris");
    CHECK(state->zone_of(2).empty());
  }
  c.open("Europe/Paris");
  std::map<std::int64_t, Expected> expected;
  for (const auto& [day, e] : by_paris_day(samples))
    if (day >= from && day <= to) expected[day] = e;
  check_days(c.days(from, to), expected);
  auto age = c.storage->series({.agent = "agent-1",
                                .check = "backup/restic:/srv",
                                .metric = "age",
                                .from_ms = from,
                                .to_ms = to,
                                .step_ms = kDay});
  REQUIRE(age.is_ok());
  REQUIRE(age->points.size() == expected.size());
  CHECK(age->points[2].ts_ms == paris_ms(2026, 3, 29));
  CHECK(age->points[2].count == 46);

  REQUIRE(c.storage->housekeep().is_ok());
  check_days(c.days(from, to), expected);
  // The backup report reads the rebuilt days.
  auto period = make_period(5, "2026-04-01", "Europe/Paris", c.now);
  REQUIRE(period.is_ok());
  check_same_report(*c.storage, *period, c.now);
  // And a collector set back to UTC rebuilds them in UTC days again.
  c.open("");
  REQUIRE(c.storage->housekeep().is_ok());
  const SeriesData again = c.days(from, to);
  CHECK(again.points == utc.points);
}

// The first row of a PostgreSQL query's answer, its first column.
std::string pg_text(const std::string& conninfo, const std::string& sql) {
  auto conn = pq::Conn::connect(conninfo);
  REQUIRE(conn.is_ok());
  auto rows = (*conn)->query(sql);
  REQUIRE(rows.is_ok());
  REQUIRE(rows->size() >= 1);
  return rows->text(0, 0);
}

// One housekeeping slice of a collector of `zone` on PostgreSQL, as the lead's, with no
// time to spare (a step of each part, then it stops): committed, or rolled back as a
// collector killed before its commit leaves it. Whether work is left.
bool pg_slice(const std::string& conninfo, const std::string& zone, std::int64_t now, bool commit) {
  auto conn = pq::Conn::connect(conninfo);
  REQUIRE(conn.is_ok());
  pg::Writes writes(**conn, 0);
  auto day_zone = DayZone::named(zone);
  REQUIRE(day_zone.is_ok());
  writes.set_day_zone(*day_zone);
  REQUIRE(pg::begin_writes(**conn).is_ok());
  writes.new_transaction();
  bool more = false;
  REQUIRE(writes.housekeeping_slice(Retention{}, std::chrono::milliseconds(0), now, &more).is_ok());
  REQUIRE((*conn)->exec(commit ? "COMMIT" : "ROLLBACK"));
  return more;
}

// What `run` writes to the standard error (the log).
template <class Run>
std::string stderr_of(Run run) {
  testing::TempDir dir;
  const std::string path = (dir / "stderr").string();
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  ::dup2(fd, 2);
  ::close(fd);
  run();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE(
    "Daily tier on PostgreSQL: a roll-up rolled back half-way, then done again, counts each "
    "sample once in the days",
    "[storage][rollups][daily][postgres]") {
  testing::TestBackend backend("postgresql");
  if (!backend.available())
    VIGIE_SKIP_TEST(testing::Absent::kPackage, "on postgresql: " << backend.why());
  Collector c(backend);
  c.open("Europe/Paris");
  const auto samples = samples_between(paris_ms(2026, 3, 27), paris_ms(2026, 4, 1));
  c.send(samples);
  c.now = paris_ms(2026, 4, 2);
  // The lead's slice dies before its commit (killed, its connection lost): nothing of it
  // stays. Then one commits its first pick, and housekeeping does the rest.
  pg_slice(backend.db(), "Europe/Paris", c.now, false);
  CHECK(pg_text(backend.db(), "SELECT count(*) FROM rollup_packs") == "0");
  pg_slice(backend.db(), "Europe/Paris", c.now, true);
  REQUIRE(c.storage->housekeep().is_ok());
  CHECK(pg_text(backend.db(), "SELECT count(*) FROM rollup_pending") == "0");
  const std::int64_t from = paris_ms(2026, 3, 27);
  const std::int64_t to = paris_ms(2026, 4, 1) - 1;
  const SeriesData days = c.days(from, to);
  CHECK(days.tier == "1d");
  check_days(days, by_paris_day(samples));
  CHECK(days.points[2].ts_ms == paris_ms(2026, 3, 29));
  CHECK(days.points[2].count == 46);
  // Housekeeping again (nothing due) changes nothing.
  REQUIRE(c.storage->housekeep().is_ok());
  CHECK(c.days(from, to).points == days.points);
}

TEST_CASE(
    "Daily tier on PostgreSQL: a --day-zone change rebuilds the days from the hourly tier in "
    "bounded slices, a slice repeated counting nothing twice",
    "[storage][rollups][daily][postgres]") {
  testing::TestBackend backend("postgresql");
  if (!backend.available())
    VIGIE_SKIP_TEST(testing::Absent::kPackage, "on postgresql: " << backend.why());
  const std::string& db = backend.db();
  Collector c(backend);
  c.open("");
  // 72 series (size, age and 70 copies of size): more than a step of the rebuild (64).
  const auto samples = samples_between(paris_ms(2026, 3, 26), paris_ms(2026, 4, 2));
  c.send(samples, 70);
  c.now = paris_ms(2026, 4, 5);
  REQUIRE(c.storage->housekeep().is_ok());
  CHECK(pg_text(db, "SELECT zone || '/' || next_zone FROM daily_tier") == "UTC/");
  const std::int64_t from = paris_ms(2026, 3, 27);
  const std::int64_t to = paris_ms(2026, 4, 1) - 1;
  const SeriesData utc = c.days(from, to);
  CHECK(utc.tier == "1d");
  REQUIRE_FALSE(utc.points.empty());
  CHECK(utc.points[0].ts_ms % kDay == 0);  // UTC midnights
  c.storage.reset();

  // A slice of a collector of Europe/Paris moves 64 series, then stops (its time is
  // up): the others are not moved yet, and read from their hours by local day meanwhile.
  CHECK(pg_slice(db, "Europe/Paris", c.now, true));
  CHECK(pg_text(db, "SELECT zone || '/' || next_zone FROM daily_tier") == "UTC/Europe/Paris");
  CHECK(pg_text(db,
                "SELECT rebuilt_through = (SELECT id FROM series ORDER BY id OFFSET 63 LIMIT 1)"
                " FROM daily_tier") == "t");
  const std::string moved =
      pg_text(db, "SELECT metric FROM series WHERE metric <> 'age' ORDER BY id LIMIT 1");
  const std::string waiting =
      pg_text(db, "SELECT metric FROM series WHERE metric <> 'age' ORDER BY id DESC LIMIT 1");
  c.open("Europe/Paris");
  std::map<std::int64_t, Expected> expected;
  for (const auto& [day, e] : by_paris_day(samples))
    if (day >= from && day <= to) expected[day] = e;
  for (const std::string& metric : {moved, waiting}) {
    INFO(metric);
    check_days(c.days(from, to, "", metric), expected);
  }

  // The slice done again from the first series (a lead that took over from one that
  // had not recorded its progress): the days it rewrites are the same, not doubled.
  REQUIRE(pg_text(db, "UPDATE daily_tier SET rebuilt_through = 0 RETURNING 1") == "1");
  REQUIRE(c.storage->housekeep().is_ok());
  CHECK(pg_text(db, "SELECT zone || '/' || next_zone FROM daily_tier") == "Europe/Paris/");
  for (const std::string& metric : {moved, waiting, std::string("size")}) {
    INFO(metric);
    check_days(c.days(from, to, "", metric), expected);
  }
  // The backup report reads the rebuilt days.
  auto period = make_period(5, "2026-04-01", "Europe/Paris", c.now);
  REQUIRE(period.is_ok());
  check_same_report(*c.storage, *period, c.now);
  // And a collector set back to UTC rebuilds them in UTC days again.
  c.open("");
  REQUIRE(c.storage->housekeep().is_ok());
  CHECK(c.days(from, to).points == utc.points);
}

TEST_CASE(
    "Daily tier on PostgreSQL: collectors sharing a database with different --day-zone, the "
    "days are the zone of the one that leads, and the other says so at start",
    "[storage][rollups][daily][postgres]") {
  testing::TestBackend backend("postgresql");
  if (!backend.available())
    VIGIE_SKIP_TEST(testing::Absent::kPackage, "on postgresql: " << backend.why());
  Collector paris(backend);
  paris.open("Europe/Paris");
  const auto samples = samples_between(paris_ms(2026, 3, 27), paris_ms(2026, 4, 1));
  paris.send(samples);
  paris.now = paris_ms(2026, 4, 2);
  // Housekeeping is the lead's duty: this collector's, here.
  REQUIRE(paris.storage->housekeep().is_ok());
  const std::int64_t from = paris_ms(2026, 3, 27);
  const std::int64_t to = paris_ms(2026, 4, 1) - 1;
  const SeriesData local = paris.days(from, to);
  check_days(local, by_paris_day(samples));

  Collector utc(backend);
  utc.now = paris.now.load();
  const std::string said = stderr_of([&] { utc.open("UTC"); });
  CHECK_THAT(said, Catch::Contains("--day-zone UTC, but the database's daily tier is in "
                                   "Europe/Paris's days"));
  // Its reads answer the database's days, whichever collector is asked.
  CHECK(utc.days(from, to).points == local.points);
  // It takes the lead: the days move into its zone, for both.
  REQUIRE(utc.storage->housekeep().is_ok());
  CHECK(pg_text(backend.db(), "SELECT zone || '/' || next_zone FROM daily_tier") == "UTC/");
  const SeriesData days = paris.days(from, to);
  REQUIRE_FALSE(days.points.empty());
  CHECK(days.points[0].ts_ms % kDay == 0);
  CHECK(utc.days(from, to).points == days.points);
}

TEST_CASE("Daily tier: an unknown --day-zone is refused", "[storage][daily]") {
  testing::TempDir dir;
  auto s = open_sqlite_storage({.path = dir / "collector.db", .day_zone = "Europe/Nowhere"});
  CHECK(s.status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace vigie::collector
