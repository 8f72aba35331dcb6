#include "collector/storage.hpp"
#include "collector/state_engine.hpp"

#include <atomic>
#include <bit>
#include <catch2/catch.hpp>
#include <future>
#include <limits>
#include <thread>

#include "tests/collector/backends.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

// The storage's clock where these tests' data is: their times are in the first seconds
// of 1970. On the wall clock, the background housekeeping (a second after the open)
// finds events, settled outbox rows and notifications past their retention and deletes
// them under a test that has run for more than a second.
SqliteOptions at_data_time() {
  SqliteOptions options;
  options.now_ms = [] { return 3'600'000; };
  return options;
}

protocol::Report report(std::uint64_t seq, State status, std::int64_t ts) {
  protocol::Report r;
  r.agent = {"agent-1", "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "backup";
  c.check = "backup/restic:/srv";
  c.status = status;
  c.summary = std::string(state_name(status));
  c.ts_ms = ts;
  c.interval_s = 60;
  c.metrics.push_back(Metric{.label = "age", .value = 3600, .unit = "s"});
  r.results.push_back(c);
  return r;
}

Result<IngestOutcome> submit(Storage& storage, protocol::Report r, StateEngine* engine = nullptr) {
  std::promise<Result<IngestOutcome>> done;
  auto future = done.get_future();
  Storage::OnStored on_stored;
  if (engine != nullptr) {
    on_stored = [engine](protocol::Report&& stored, std::int64_t at,
                         const Storage::StoredAgent&) -> Result<StateDelta> {
      return engine->apply(std::move(stored), at);
    };
  }
  storage.submit(std::move(r), 1000, on_stored, [&](Result<IngestOutcome> o, std::vector<Event>) {
    done.set_value(std::move(o));
  });
  return future.get();
}

TEST_CASE("Storage: the engine's changes are stored with the report", "[storage]") {
  VIGIE_EACH_BACKEND(backend);
  auto storage = backend.open(at_data_time());
  REQUIRE(storage.is_ok());
  StateEngine engine;
  REQUIRE(submit(**storage, report(1, State::kOk, 1000), &engine).is_ok());
  REQUIRE(submit(**storage, report(2, State::kCritical, 2000), &engine).is_ok());
  REQUIRE(submit(**storage, report(3, State::kCritical, 3000), &engine).is_ok());
  auto state = (*storage)->load_state(5000);
  REQUIRE(state.is_ok());
  REQUIRE(state->checks.size() == 1);
  const CheckState& c = state->checks[0];
  CHECK(c.last.status == State::kCritical);
  CHECK(c.type == StateType::kSoft);
  CHECK(c.attempt == 2);
  CHECK(c.since_ms == 2000);
  CHECK(c.last.ts_ms == 3000);
  CHECK(c.last.metrics.size() == 1);
  REQUIRE(state->agents.size() == 1);
  CHECK(state->agents[0].site == "site-a");
  CHECK(state->last_event_id == engine.last_event_id());

  auto events = (*storage)->events({});
  REQUIRE(events.is_ok());
  REQUIRE(events->size() == 1);  // OK -> CRITICAL, soft
  CHECK((*events)[0].to == State::kCritical);
  CHECK((*events)[0].type == StateType::kSoft);
}

TEST_CASE("Storage: a checkpoint stores results that changed no state", "[storage]") {
  VIGIE_EACH_BACKEND(backend);
  auto storage = backend.open(at_data_time());
  REQUIRE(storage.is_ok());
  StateEngine engine;
  REQUIRE(submit(**storage, report(1, State::kOk, 1000), &engine).is_ok());
  REQUIRE(submit(**storage, report(2, State::kOk, 5000), &engine).is_ok());
  auto before = (*storage)->load_state(6000);
  REQUIRE(before.is_ok());
  CHECK(before->checks.at(0).last.ts_ms == 1000);  // not written yet

  std::promise<Result<StateDelta>> done;
  (*storage)->change([&]() -> Result<StateDelta> { return engine.checkpoint(); },
                     [&](Result<StateDelta> d) { done.set_value(std::move(d)); });
  REQUIRE(done.get_future().get().is_ok());
  auto after = (*storage)->load_state(6000);
  REQUIRE(after.is_ok());
  CHECK(after->checks.at(0).last.ts_ms == 5000);
}

TEST_CASE("Storage: data survives reopening, duplicates stay duplicates", "[storage]") {
  VIGIE_EACH_BACKEND(backend);
  {
    auto storage = backend.open(at_data_time());
    REQUIRE(storage.is_ok());
    auto first = submit(**storage, report(1, State::kWarning, 1000));
    REQUIRE(first.is_ok());
    CHECK(*first == IngestOutcome::kStored);
  }
  auto storage = backend.open(at_data_time());
  REQUIRE(storage.is_ok());
  StateEngine engine;
  auto again = submit(**storage, report(1, State::kWarning, 1000), &engine);
  REQUIRE(again.is_ok());
  CHECK(*again == IngestOutcome::kDuplicate);
  CHECK(engine.agents().empty());  // a duplicate never reaches the engine
}

TEST_CASE("Storage: the writer's commits and housekeeping slices are counted by length",
          "[storage]") {
  VIGIE_EACH_BACKEND(backend);
  auto storage = backend.open(at_data_time());
  REQUIRE(storage.is_ok());
  const StorageStats before = (*storage)->stats();
  REQUIRE(submit(**storage, report(1, State::kOk, 1000)).is_ok());
  REQUIRE(submit(**storage, report(2, State::kOk, 2000)).is_ok());
  REQUIRE((*storage)->housekeep().is_ok());
  const StorageStats after = (*storage)->stats();
  // Each report waited for its own commit; housekeep() ran one slice at least.
  CHECK(after.commit_seconds.count >= before.commit_seconds.count + 2);
  CHECK(after.housekeeping_seconds.count >= before.housekeeping_seconds.count + 1);
  for (const HistogramCounts* h : {&after.commit_seconds, &after.housekeeping_seconds}) {
    std::uint64_t in_buckets = 0;
    for (const std::uint64_t n : h->buckets) in_buckets += n;
    CHECK(in_buckets == h->count);
    CHECK(h->sum > 0);
  }
}

TEST_CASE("Storage: after close, submit fails instead of losing data silently", "[storage]") {
  VIGIE_EACH_BACKEND(backend);
  auto storage = backend.open(at_data_time());
  REQUIRE(storage.is_ok());
  (*storage)->close();
  auto outcome = submit(**storage, report(1, State::kOk, 1000));
  CHECK(outcome.status().code() == Code::kUnavailable);
}

TEST_CASE("SqliteStorage: a database that is not SQLite is refused with a clear error",
          "[storage]") {
  testing::TempDir dir;
  const auto path = dir.write("bad.db", std::string(4096, 'x'));
  auto storage = open_sqlite_storage({.path = path});
  REQUIRE_FALSE(storage.is_ok());
  CHECK_THAT(storage.status().message(), Catch::Contains("not a database"));
}

}  // namespace
}  // namespace vigie::collector

namespace vigie::collector {
namespace {

// A day-aligned "now" so that bucket boundaries are easy to reason about.
constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kT0 = 20'000 * kDay;

protocol::Report load_report(std::uint64_t seq, std::int64_t ts, double load) {
  protocol::Report r;
  r.agent = {"agent-1", "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = State::kOk;
  c.ts_ms = ts;
  c.interval_s = 60;
  c.metrics.push_back(Metric{.label = "load1", .value = load});
  c.metrics.push_back(Metric{.label = "cpus", .value = std::nullopt});  // "U": not stored
  r.results.push_back(c);
  return r;
}

struct SeriesFixture {
  const testing::TestBackend& backend;
  std::atomic<std::int64_t> now{kT0};
  std::unique_ptr<Storage> storage;

  explicit SeriesFixture(const testing::TestBackend& b) : backend(b) {
    SqliteOptions options;
    options.now_ms = [this] { return now.load(); };
    options.housekeeping_every = std::chrono::hours(1);  // only when the test asks
    auto s = backend.open(options);
    REQUIRE(s.is_ok());
    storage = std::move(*s);
  }

  SeriesData query(std::string tier, std::int64_t from, std::int64_t to, std::int64_t step = 0) {
    auto data = storage->series({.agent = "agent-1",
                                 .check = "system/load",
                                 .metric = "load1",
                                 .from_ms = from,
                                 .to_ms = to,
                                 .step_ms = step,
                                 .tier = std::move(tier)});
    REQUIRE(data.is_ok());
    return *data;
  }
};

TEST_CASE("Storage: samples are kept raw and rolled up into 5-minute and 1-hour tiers",
          "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  // One sample a minute for an hour: values 0..59.
  for (int i = 0; i < 60; ++i)
    REQUIRE(submit(*f.storage, load_report(i + 1, kT0 - kDay + i * 60'000, i)).is_ok());
  REQUIRE(f.storage->housekeep().is_ok());

  const std::int64_t from = kT0 - kDay;
  const std::int64_t to = kT0 - kDay + 3'600'000 - 1;
  const SeriesData raw = f.query("", from, to);
  CHECK(raw.tier == "raw");
  REQUIRE(raw.points.size() == 60);
  CHECK(raw.points[7] == SeriesPoint{from + 7 * 60'000, 7, 7, 7, 1});

  const SeriesData five = f.query("5m", from, to);
  CHECK(five.step_ms == kFiveMinutesMs);
  REQUIRE(five.points.size() == 12);
  CHECK(five.points[1] == SeriesPoint{from + kFiveMinutesMs, 5, 9, 7, 5});

  const SeriesData hour = f.query("", from, to, kHourMs);
  CHECK(hour.tier == "1h");
  REQUIRE(hour.points.size() == 1);
  CHECK(hour.points[0] == SeriesPoint{from, 0, 59, 29.5, 60});

  // A step on raw data buckets it the same way the tiers do.
  const SeriesData raw_10m = f.query("raw", from, to, 600'000);
  REQUIRE(raw_10m.points.size() == 6);
  CHECK(raw_10m.points[0] == SeriesPoint{from, 0, 9, 4.5, 10});
}

TEST_CASE("Storage: a series step past any range is refused, not rounded up past int64",
          "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  REQUIRE(submit(*f.storage, load_report(1, kT0 - kDay, 1)).is_ok());
  // Rounded up to a whole number of the tier's buckets, a step near INT64_MAX overflowed
  // (undefined behaviour) and came out as one bucket.
  for (const std::string tier : {"", "5m", "1h", "raw"}) {
    for (const std::int64_t step :
         {std::numeric_limits<std::int64_t>::max(),
          std::numeric_limits<std::int64_t>::max() - kHourMs + 2, 101 * 366 * kDay}) {
      INFO(tier << " " << step);
      auto data = f.storage->series({.agent = "agent-1",
                                     .check = "system/load",
                                     .metric = "load1",
                                     .from_ms = kT0 - 2 * kDay,
                                     .to_ms = kT0,
                                     .step_ms = step,
                                     .tier = tier});
      REQUIRE_FALSE(data.is_ok());
      CHECK(data.status().code() == Code::kInvalidArgument);
      CHECK_THAT(data.status().message(), Catch::Contains("step"));
    }
  }
  // A step of 100 years still answers: one bucket.
  CHECK(f.query("", kT0 - 2 * kDay, kT0, 100 * 365 * kDay).points.size() == 1);
}

TEST_CASE("Storage: a late sample is merged into the buckets already rolled up",
          "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  const std::int64_t bucket = kT0 - kDay;
  REQUIRE(submit(*f.storage, load_report(1, bucket + 60'000, 10)).is_ok());
  REQUIRE(f.storage->housekeep().is_ok());
  REQUIRE(submit(*f.storage, load_report(2, bucket + 120'000, 30)).is_ok());  // backfill
  REQUIRE(f.storage->housekeep().is_ok());
  const SeriesData five = f.query("5m", bucket, bucket + kFiveMinutesMs - 1);
  REQUIRE(five.points.size() == 1);
  CHECK(five.points[0] == SeriesPoint{bucket, 10, 30, 20, 2});
}

TEST_CASE("Storage: a bucket still filling is rolled up once it closes, and shown before",
          "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  const std::int64_t bucket = kT0 / kFiveMinutesMs * kFiveMinutesMs;  // the current one
  f.now = bucket + 60'000;
  REQUIRE(submit(*f.storage, load_report(1, bucket + 30'000, 10)).is_ok());
  REQUIRE(f.storage->housekeep().is_ok());
  // Not rolled up yet (its bucket is open), but the 5-minute view has it.
  SeriesData five = f.query("5m", bucket - kHourMs, bucket + kFiveMinutesMs);
  REQUIRE(five.points.size() == 1);
  CHECK(five.points[0] == SeriesPoint{bucket, 10, 10, 10, 1});

  f.now = bucket + 2 * kFiveMinutesMs;
  REQUIRE(f.storage->housekeep().is_ok());
  five = f.query("5m", bucket - kHourMs, bucket + kFiveMinutesMs);
  REQUIRE(five.points.size() == 1);
  CHECK(five.points[0] == SeriesPoint{bucket, 10, 10, 10, 1});  // once, not twice
  const SeriesData hour = f.query("1h", bucket - kHourMs, bucket + kFiveMinutesMs);
  REQUIRE(hour.points.size() == 1);
  CHECK(hour.points[0].count == 1);
}

TEST_CASE("Storage: a report's history counts the hour under way, rolled up or not",
          "[storage][series][history]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  // A sample a minute from the last whole hour to 31 minutes into the next: the last
  // hour is over, the next one is not (PostgreSQL rolls an hour up once it is over,
  // SQLite a 5-minute bucket once it is over).
  const std::int64_t hour = kT0 - kHourMs;
  StateEngine engine;  // the history lists the checks it knows
  for (int i = 0; i < 92; ++i)
    REQUIRE(submit(*f.storage, load_report(i + 1, hour + i * 60'000, i), &engine).is_ok());
  f.now = hour + kHourMs + 31 * 60'000 + 30'000;
  REQUIRE(f.storage->housekeep().is_ok());
  const auto history = [&](std::int64_t from, std::int64_t to) {
    auto h = f.storage->history(
        {.check_prefix = "system/", .from_ms = from, .to_ms = to, .metrics = {"load1"}});
    REQUIRE(h.is_ok());
    REQUIRE(h->checks.size() == 1);
    return h->checks[0].series["load1"];
  };
  const std::vector<SeriesPoint> points = history(kT0 - kDay, kT0 + kDay);
  REQUIRE(points.size() == 2);
  CHECK(points[0] == SeriesPoint{hour, 0, 59, 29.5, 60});
  CHECK(points[1] == SeriesPoint{kT0, 60, 91, 75.5, 32});
  // Hours are whole, rolled up or not: a period that starts inside an hour leaves it
  // out, one that ends inside it counts it.
  CHECK(history(hour + 60'000, kT0 + kDay) == std::vector<SeriesPoint>{{kT0, 60, 91, 75.5, 32}});
  CHECK(history(hour, kT0 + 10 * 60'000) == points);
  // Once rolled up, the same.
  f.now = kT0 + 2 * kHourMs;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(history(kT0 - kDay, kT0 + kDay) == points);
}

TEST_CASE("Storage: a history of hundreds of checks gives each its own events and points",
          "[storage][series][history]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  // 3 agents of 200 backup checks each (more than PostgreSQL reads together), each
  // check's size its own; every third fails in the second hour. The first hour rolled
  // up, the second not yet (and its events not past their retention: the submits'
  // events are recorded at 1 s after the epoch).
  constexpr int kAgents = 3;
  constexpr int kChecks = 200;
  const auto size_of = [](int agent, int check) { return agent * 1000.0 + check; };
  StateEngine engine;
  std::uint64_t seq = 0;
  for (int hour = 2; hour >= 1; --hour) {
    for (int a = 0; a < kAgents; ++a) {
      protocol::Report r;
      r.agent = {"agent-" + std::to_string(a), "site-" + std::to_string(a), "host", "0.1"};
      r.seq = ++seq;
      for (int c = 0; c < kChecks; ++c) {
        CheckResult result;
        result.name = "backup";
        result.check = "backup/file-age:/srv/" + std::to_string(c);
        result.status = hour == 1 && c % 3 == 0 ? State::kCritical : State::kOk;
        result.max_attempts = 1;
        result.ts_ms = kT0 - hour * kHourMs;
        result.interval_s = 3600;
        result.metrics.push_back(Metric{.label = "size", .value = size_of(a, c), .unit = "B"});
        r.results.push_back(std::move(result));
      }
      REQUIRE(submit(*f.storage, std::move(r), &engine).is_ok());
    }
    if (hour == 2) REQUIRE(f.storage->housekeep().is_ok());
  }
  auto h = f.storage->history({.check_prefix = "backup/",
                               .from_ms = kT0 - kDay,
                               .to_ms = kT0,
                               .metrics = {"size", "never"},
                               .silences = true});
  REQUIRE(h.is_ok());
  REQUIRE(h->checks.size() == kAgents * kChecks);
  int failed = 0;
  for (const CheckHistory& check : h->checks) {
    const std::string& id = check.state.last.check;
    INFO(check.state.agent << " " << id);
    const int a = std::stoi(check.state.agent.substr(6));
    const int c = std::stoi(id.substr(id.rfind('/') + 1));
    for (const Event& e : check.events) {
      CHECK(e.agent == check.state.agent);
      CHECK(e.check == id);
    }
    if (c % 3 == 0) {
      REQUIRE(check.events.size() == 1);
      CHECK(check.events[0].to == State::kCritical);
      ++failed;
    } else {
      CHECK(check.events.empty());  // a check that has always been OK has none
    }
    CHECK(check.silences.empty());
    REQUIRE(check.series.size() == 1);  // the metric it never had is left out
    const std::vector<SeriesPoint>& points = check.series.at("size");
    REQUIRE(points.size() == 2);
    CHECK(points[0].ts_ms == kT0 - 2 * kHourMs);
    CHECK(points[1].ts_ms == kT0 - kHourMs);
    CHECK(points[0].avg == size_of(a, c));
    CHECK(points[1].avg == size_of(a, c));
  }
  CHECK(failed == kAgents * ((kChecks + 2) / 3));
  // Metrics that no check has: no points, and no error.
  auto none = f.storage->history(
      {.check_prefix = "backup/", .from_ms = kT0 - kDay, .to_ms = kT0, .metrics = {"never"}});
  INFO(none.status().message());
  REQUIRE(none.is_ok());
  REQUIRE(none->checks.size() == kAgents * kChecks);
  CHECK(none->checks[0].series.empty());
}

// The sample blocks as rows "level encoding samples-bytes", by id, read with the sqlite3
// program beside the collector's connection.
std::vector<std::string> block_rows(const SeriesFixture& f) {
  auto r = testing::run({"/usr/bin/sqlite3", (f.backend.dir() / "db.sqlite").string(),
                         "SELECT level || ' ' || hex(substr(samples, 1, 1)) FROM sample_blocks"
                         " ORDER BY id"});
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> rows;
  std::size_t start = 0;
  const std::string out = testing::trim(r.out);
  while (start < out.size()) {
    const std::size_t end = std::min(out.find('\n', start), out.size());
    rows.push_back(out.substr(start, end - start));
    start = end + 1;
  }
  return rows;
}

TEST_CASE("SqliteStorage: an agent's blocks are compacted per series, every sample kept once",
          "[storage][series][compaction]") {
  testing::TestBackend backend("sqlite");
  SeriesFixture f(backend);
  const std::int64_t hour = kT0 - kDay;
  const std::int64_t bucket = hour + 8 * kFiveMinutesMs;  // 00:40, still filling
  f.now = bucket + 10'000;
  // 40 reports in one bucket, values that test the encoding: -0, decimals, a big one.
  const auto value = [](int i) { return i == 3 ? -0.0 : i == 7 ? 1e300 : i * 0.37 - 4; };
  for (int i = 0; i < 40; ++i)
    REQUIRE(submit(*f.storage, load_report(i + 1, bucket + i * 100, value(i))).is_ok());
  REQUIRE(f.storage->housekeep().is_ok());
  // Not rolled up yet: the fresh pass merged the reports (16 or more) into one block.
  std::vector<std::string> rows = block_rows(f);
  CHECK(rows == std::vector<std::string>{"1 03"});

  const auto check_raw = [&](int n) {
    const SeriesData raw = f.query("raw", hour, hour + kHourMs - 1);
    REQUIRE(raw.points.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < 40; ++i) {
      INFO("sample " << i);
      CHECK(raw.points[static_cast<std::size_t>(i)].ts_ms == bucket + i * 100);
      CHECK(std::bit_cast<std::uint64_t>(raw.points[static_cast<std::size_t>(i)].min) ==
            std::bit_cast<std::uint64_t>(value(i)));
    }
  };
  check_raw(40);
  // The 5-minute view adds the blocks not rolled up.
  SeriesData five = f.query("5m", hour, hour + kHourMs - 1);
  REQUIRE(five.points.size() == 1);
  CHECK(five.points[0].count == 40);

  // Once the bucket is over they are rolled up, once.
  f.now = bucket + 2 * kFiveMinutesMs;
  REQUIRE(f.storage->housekeep().is_ok());
  five = f.query("5m", hour, hour + kHourMs - 1);
  REQUIRE(five.points.size() == 1);
  CHECK(five.points[0].count == 40);
  CHECK(five.points[0].max == 1e300);

  // Once the hour is over, the agent's hour is one block.
  f.now = hour + kHourMs + kFiveMinutesMs;
  REQUIRE(f.storage->housekeep().is_ok());
  rows = block_rows(f);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "2 03");
  check_raw(40);

  // A late sample of that hour joins the hour's block and its buckets.
  REQUIRE(submit(*f.storage, load_report(41, hour + 60'000, 5)).is_ok());
  REQUIRE(f.storage->housekeep().is_ok());
  rows = block_rows(f);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == "2 03");
  const SeriesData raw = f.query("raw", hour, hour + kHourMs - 1);
  REQUIRE(raw.points.size() == 41);
  CHECK(raw.points[0] == SeriesPoint{hour + 60'000, 5, 5, 5, 1});
  const SeriesData hourly = f.query("1h", hour, hour + kHourMs - 1);
  REQUIRE(hourly.points.size() == 1);
  CHECK(hourly.points[0].count == 41);
}

TEST_CASE(
    "SqliteStorage: an agent's hours of a day that is over become one block, late samples join it",
    "[storage][series][compaction]") {
  testing::TestBackend backend("sqlite");
  SeriesFixture f(backend);
  const std::int64_t day = kT0 - 2 * kDay;  // a UTC midnight
  // Two agents, a sample every 10 minutes for the day and the first hour of the next.
  std::uint64_t seq = 0;
  const auto value = [](int i) { return (i % 37) * 0.25 - 3; };
  for (int i = 0; i < 150; ++i) {
    for (const char* agent : {"agent-1", "agent-2"}) {
      protocol::Report r = load_report(++seq, day + i * 600'000, value(i));
      r.agent.id = agent;
      REQUIRE(submit(*f.storage, r).is_ok());
    }
  }
  // Within the hour after the day: its hours are blocks of their own still.
  f.now = day + kDay + 30 * 60'000;
  REQUIRE(f.storage->housekeep().is_ok());
  std::vector<std::string> rows = block_rows(f);
  CHECK(std::count(rows.begin(), rows.end(), "2 03") == 48);
  CHECK(std::count(rows.begin(), rows.end(), "4 03") == 0);

  const auto check_day = [&](int late) {
    const SeriesData raw = f.query("raw", day, day + kDay - 1);
    REQUIRE(raw.points.size() == static_cast<std::size_t>(144 + late));
    std::size_t at = 0;
    for (int i = 0; i < 144; ++i) {
      if (late > 0 && day + i * 600'000 > day + 5 * kHourMs + 60'000 && at == 31) ++at;
      INFO("sample " << i);
      CHECK(raw.points[at++] == SeriesPoint{day + i * 600'000, value(i), value(i), value(i), 1});
    }
    // An hour in the middle of the day reads from the day's block.
    const SeriesData hour = f.query("raw", day + 7 * kHourMs, day + 8 * kHourMs - 1);
    REQUIRE(hour.points.size() == 6);
    CHECK(hour.points[0] == SeriesPoint{day + 7 * kHourMs, value(42), value(42), value(42), 1});
    // The tiers count each sample once.
    const SeriesData hourly = f.query("1h", day, day + kDay - 1);
    REQUIRE(hourly.points.size() == 24);
    for (const SeriesPoint& p : hourly.points)
      CHECK(p.count == (late > 0 && p.ts_ms == day + 5 * kHourMs ? 7 : 6));
  };
  // An hour after: one block per agent for the day; the next day's hour as it was.
  f.now = day + kDay + 2 * kHourMs;
  REQUIRE(f.storage->housekeep().is_ok());
  rows = block_rows(f);
  CHECK(std::count(rows.begin(), rows.end(), "4 03") == 2);
  CHECK(std::count(rows.begin(), rows.end(), "2 03") == 2);
  CHECK(rows.size() == 4);
  check_day(0);

  // A late sample of that day joins the day's block (through an hour block of its own).
  REQUIRE(submit(*f.storage, load_report(++seq, day + 5 * kHourMs + 60'000, 99)).is_ok());
  f.now = day + kDay + 3 * kHourMs;
  REQUIRE(f.storage->housekeep().is_ok());
  rows = block_rows(f);
  CHECK(std::count(rows.begin(), rows.end(), "4 03") == 2);
  CHECK(rows.size() == 4);
  check_day(1);
  const SeriesData raw = f.query("raw", day + 5 * kHourMs, day + 6 * kHourMs - 1);
  REQUIRE(raw.points.size() == 7);
  CHECK(raw.points[1] == SeriesPoint{day + 5 * kHourMs + 60'000, 99, 99, 99, 1});
}

TEST_CASE("SqliteStorage: a series read while housekeeping rolls up counts each sample once",
          "[storage][series]") {
  testing::TestBackend backend("sqlite");
  SeriesFixture f(backend);
  // A sample a minute, each rolled up by the housekeeping that follows it (its bucket is
  // over) and its hour's blocks merged into one: every slice moves blocks from the raw
  // tail into the tiers while another thread reads the tiers. Each read counts every
  // sample stored before it once, in the tiers or in the tail.
  const std::int64_t start = kT0 - kDay;
  REQUIRE(submit(*f.storage, load_report(1, start, 0)).is_ok());
  std::atomic<int> stored{1};
  std::atomic<bool> done{false};
  std::atomic<bool> failed{false};
  int reads = 0;
  std::vector<std::string> wrong;
  std::thread reader([&] {
    while (!done && !failed) {
      for (const char* tier : {"5m", "1h", "1d"}) {
        const int before = stored;
        auto data = f.storage->series({.agent = "agent-1",
                                       .check = "system/load",
                                       .metric = "load1",
                                       .from_ms = start,
                                       .to_ms = kT0,
                                       .tier = tier});
        const int after = stored;
        std::int64_t n = 0;
        if (data) {
          for (const SeriesPoint& p : data->points) n += p.count;
        }
        ++reads;
        // A report stored during the read is counted or not.
        if (!data || n < before || n > after + 1) {
          wrong.push_back(std::string(tier) + ": " + std::to_string(n) + " samples read, " +
                          std::to_string(before) + " stored before " +
                          (data ? "" : data.status().to_string()));
          failed = true;
        }
      }
    }
  });
  for (int i = 1; i < 300 && !failed; ++i) {
    REQUIRE(submit(*f.storage, load_report(i + 1, start + i * 60'000, i % 7)).is_ok());
    ++stored;
    REQUIRE(f.storage->housekeep().is_ok());
  }
  done = true;
  reader.join();
  INFO(reads << " reads");
  CHECK(wrong == std::vector<std::string>{});
  CHECK(reads >= 30);
}

TEST_CASE("SqliteStorage: compaction keeps agents and hours apart",
          "[storage][series][compaction]") {
  testing::TestBackend backend("sqlite");
  SeriesFixture f(backend);
  const std::int64_t hour = kT0 - kDay;
  // Two agents, three hours, a sample every 10 minutes.
  std::uint64_t seq = 0;
  for (int i = 0; i < 18; ++i) {
    for (const char* agent : {"agent-1", "agent-2"}) {
      protocol::Report r = load_report(++seq, hour + i * 600'000, i);
      r.agent.id = agent;
      REQUIRE(submit(*f.storage, r).is_ok());
    }
  }
  f.now = hour + 4 * kHourMs;
  REQUIRE(f.storage->housekeep().is_ok());
  const std::vector<std::string> rows = block_rows(f);
  CHECK(rows == std::vector<std::string>(6, "2 03"));
  const SeriesData raw = f.query("raw", hour, hour + 3 * kHourMs);
  REQUIRE(raw.points.size() == 18);
  for (int i = 0; i < 18; ++i)
    CHECK(raw.points[static_cast<std::size_t>(i)] ==
          SeriesPoint{hour + i * 600'000, double(i), double(i), double(i), 1});
  const SeriesData hourly = f.query("1h", hour, hour + 3 * kHourMs);
  REQUIRE(hourly.points.size() == 3);
  CHECK(hourly.points[2] == SeriesPoint{hour + 2 * kHourMs, 12, 17, 14.5, 6});
}

TEST_CASE("Storage: the query picks the finest tier that still covers the range",
          "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  REQUIRE(submit(*f.storage, load_report(1, kT0 - 1000, 1)).is_ok());
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(f.query("", kT0 - kDay, kT0).tier == "raw");
  CHECK(f.query("", kT0 - kDay, kT0, kFiveMinutesMs).tier == "5m");
  CHECK(f.query("", kT0 - 9 * kDay, kT0).tier == "5m");
  CHECK(f.query("", kT0 - 100 * kDay, kT0).tier == "1h");
  CHECK(f.query("", kT0 - kDay, kT0, kDay).step_ms == kDay);
}

TEST_CASE("Storage: a raw read of more than 100,000 samples without a step is refused",
          "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  // 100,001 samples a second apart, 5,000 to a report (the protocol's most): some
  // blocks rolled up and some not, so that both kinds of reads count.
  constexpr int kSamples = 100'001;
  const std::int64_t t0 = kT0 - 2 * kDay;
  std::uint64_t seq = 0;
  for (int first = 0; first < kSamples; first += 5000) {
    protocol::Report r = load_report(++seq, 0, 0);
    const CheckResult one = r.results[0];
    r.results.clear();
    for (int i = first; i < std::min(first + 5000, kSamples); ++i) {
      r.results.push_back(one);
      r.results.back().ts_ms = t0 + i * std::int64_t{1000};
      r.results.back().metrics[0].value = i % 97;
    }
    REQUIRE(submit(*f.storage, std::move(r)).is_ok());
    if (first == 50'000) REQUIRE(f.storage->housekeep().is_ok());
  }
  const std::int64_t last = t0 + (kSamples - 1) * std::int64_t{1000};
  const auto raw = [&](std::int64_t to, std::int64_t step) {
    return f.storage->series({.agent = "agent-1",
                              .check = "system/load",
                              .metric = "load1",
                              .from_ms = t0,
                              .to_ms = to,
                              .step_ms = step,
                              .tier = "raw"});
  };
  auto all = raw(last, 0);
  CHECK(all.status().code() == Code::kInvalidArgument);
  CHECK_THAT(all.status().message(), Catch::Contains("more than 100000 raw samples"));
  // One fewer is answered whole; a step answers the whole range.
  auto most = raw(last - 1, 0);
  REQUIRE(most.is_ok());
  CHECK(most->points.size() == 100'000);
  CHECK(most->points.back() == SeriesPoint{last - 1000, 99'999 % 97, 99'999 % 97, 99'999 % 97, 1});
  auto minutes = raw(last, 60'000);
  INFO(minutes.status().message());
  REQUIRE(minutes.is_ok());
  std::int64_t counted = 0;
  for (const auto& point : minutes->points) counted += point.count;
  CHECK(counted == kSamples);
}

TEST_CASE("Storage: the daily tier answers long steps and ranges beyond the hours",
          "[storage][series][rollups]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  // Two UTC days, a sample every 2 hours: 0..23; the first day's values 0..11, the
  // second's 12..23 (and 0.1 added: decimals whose sums stay exact).
  for (int i = 0; i < 24; ++i) {
    const double v = i + 0.1;
    REQUIRE(submit(*f.storage, load_report(i + 1, kT0 - 2 * kDay + i * 2 * kHourMs, v)).is_ok());
  }
  f.now = kT0 + kHourMs;
  REQUIRE(f.storage->housekeep().is_ok());
  const SeriesData days = f.query("", kT0 - 2 * kDay, kT0, kDay);
  CHECK(days.tier == "1d");
  CHECK(days.step_ms == kDay);
  REQUIRE(days.points.size() == 2);
  CHECK(days.points[0] == SeriesPoint{kT0 - 2 * kDay, 0.1, 11.1, 67.2 / 12, 12});
  CHECK(days.points[1] == SeriesPoint{kT0 - kDay, 12.1, 23.1, 211.2 / 12, 12});
  // The same from the hourly tier, by day.
  const SeriesData hours = f.query("1h", kT0 - 2 * kDay, kT0, kDay);
  CHECK(hours.points == days.points);
  // A step of 14 days: buckets of 14 daily ones (from the epoch, as every bucket).
  const SeriesData week = f.query("", kT0 - 14 * kDay, kT0, 14 * kDay);
  CHECK(week.tier == "1d");
  REQUIRE(week.points.size() == 1);
  CHECK(week.points[0].count == 24);
  CHECK(week.points[0].avg == 278.4 / 24);
  // A range beyond the hourly tier's retention, and one of too many hours.
  CHECK(f.query("", kT0 - 800 * kDay, kT0).tier == "1d");
  CHECK(f.query("", kT0 - 5000 * kDay, kT0, kHourMs).tier == "1d");
  CHECK(f.query("", kT0 - 100 * kDay, kT0, kHourMs).tier == "1h");
}

TEST_CASE("Storage: housekeeping keeps each tier's retention", "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  const std::int64_t ts = kT0 - 1000;
  REQUIRE(submit(*f.storage, load_report(1, ts, 42)).is_ok());
  REQUIRE(f.storage->housekeep().is_ok());
  const auto count = [&](const char* tier) {
    return f.query(tier, ts - kDay, ts + kDay, 0).points.size();
  };
  REQUIRE(count("raw") == 1);
  REQUIRE(count("5m") == 1);
  REQUIRE(count("1h") == 1);

  f.now = kT0 + 8 * kDay + kDay / 2;  // raw is kept 8 days
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(count("raw") == 0);
  CHECK(count("5m") == 1);

  f.now = kT0 + 90 * kDay + kDay / 2;  // 5-minute buckets 90 days
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(count("5m") == 0);
  CHECK(count("1h") == 1);

  // Hours 2 years: on SQLite, a week's hours are a row, which goes once all of them
  // are past their retention (so a bucket is kept its retention, a span longer at most).
  f.now = kT0 + 730 * kDay - kDay;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(count("1h") == 1);
  f.now = kT0 + 730 * kDay + 7 * kDay + kDay / 2;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(count("1h") == 0);
  // Days 5 years (128 days a row), on both backends.
  CHECK(count("1d") == 1);
  f.now = kT0 + 1830 * kDay - kDay;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(count("1d") == 1);
  f.now = kT0 + 1830 * kDay + 128 * kDay + kDay / 2;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(count("1d") == 0);
}

TEST_CASE("Storage: a batch re-sent after its replay guard expired is still a duplicate",
          "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  const auto submit_at = [&](protocol::Report r, std::int64_t received) {
    std::promise<Result<IngestOutcome>> done;
    auto future = done.get_future();
    f.storage->submit(std::move(r), received, {}, [&](Result<IngestOutcome> o, std::vector<Event>) {
      done.set_value(std::move(o));
    });
    return future.get();
  };
  const std::int64_t ts = kT0 - 1000;
  REQUIRE(*submit_at(load_report(1, ts, 42), kT0) == IngestOutcome::kStored);
  REQUIRE(*submit_at(load_report(2, ts + 60'000, 42), kT0 + 60'000) == IngestOutcome::kStored);
  REQUIRE(f.storage->housekeep().is_ok());
  const auto samples = [&] {
    std::int64_t n = 0;
    for (const auto& p : f.query("5m", ts - kDay, ts + kDay, 0).points) n += p.count;
    return n;
  };
  REQUIRE(samples() == 2);

  // Nine days on, the batches rows are gone; an agent that never got the answer sends
  // batch 1 again (a spool restored from a backup, a machine back from a long outage).
  f.now = kT0 + 9 * kDay;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(*submit_at(load_report(1, ts, 42), f.now) == IngestOutcome::kDuplicate);
  CHECK(*submit_at(load_report(2, ts + 60'000, 42), f.now) == IngestOutcome::kDuplicate);
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(samples() == 2);  // the rollups count each sample once

  // New results are stored, and so are those of an agent whose spool began again at 1.
  CHECK(*submit_at(load_report(3, f.now - 1000, 1), f.now) == IngestOutcome::kStored);
  CHECK(*submit_at(load_report(1, f.now - 500, 1), f.now) == IngestOutcome::kStored);
}

TEST_CASE("SqliteStorage: an enrollment waits behind the reports queued with it",
          "[storage][tokens]") {
  testing::TempDir dir;
  auto storage = open_sqlite_storage({.path = dir / "db.sqlite"});
  REQUIRE(storage.is_ok());
  Storage& s = **storage;
  // The writer busy for a while: what comes meanwhile queues up.
  std::promise<void> busy_started;
  s.change(
      [&]() -> Result<StateDelta> {
        busy_started.set_value();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return StateDelta{};
      },
      [](Result<StateDelta>) {});
  busy_started.get_future().wait();
  std::atomic<int> reports_done{0};
  int done_when_enrolled = -1;
  std::thread enrolling([&] {
    (void)s.enroll({.enroll_hash = "nope", .agent = "a9", .site = "s", .now_ms = 1000});
    done_when_enrolled = reports_done.load();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the enrollment is queued
  std::promise<void> all;
  for (int i = 0; i < 20; ++i) {
    s.submit(report(100 + i, State::kOk, 1000 + i), 1000, {},
             [&](Result<IngestOutcome>, std::vector<Event>) {
               std::this_thread::sleep_for(std::chrono::milliseconds(5));
               if (++reports_done == 20) all.set_value();
             });
  }
  all.get_future().wait();
  enrolling.join();
  CHECK(done_when_enrolled == 20);  // every report first, though it came later
}

TEST_CASE("SqliteStorage: commits are durable (synchronous FULL) by default", "[storage]") {
  testing::TempDir dir;
  auto full = open_sqlite_storage({.path = dir / "a.sqlite"});
  REQUIRE(full.is_ok());
  CHECK((*full)->stats().synchronous == "full");
  auto normal = open_sqlite_storage({.path = dir / "b.sqlite", .synchronous_full = false});
  REQUIRE(normal.is_ok());
  CHECK((*normal)->stats().synchronous == "normal");
}

TEST_CASE("Storage: housekeeping keeps events 400 days, traps with them", "[storage]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  StateEngine engine;
  protocol::Report failing = report(1, State::kCritical, kT0);  // a soft failure: one event
  protocol::Event trap;  // and a trap: its history too, kept as long
  trap.ts_ms = kT0;
  trap.summary = "linkDown";
  trap.device = "fw";
  trap.version = "2c";
  trap.trap_oid = "1.3.6.1.6.3.1.1.5.3";
  failing.events.push_back(trap);
  std::promise<Result<IngestOutcome>> done;
  f.storage->submit(
      std::move(failing), kT0,
      [&](protocol::Report&& r, std::int64_t at, const Storage::StoredAgent&)
          -> Result<StateDelta> { return engine.apply(std::move(r), at); },
      [&](Result<IngestOutcome> o, std::vector<Event>) { done.set_value(std::move(o)); });
  REQUIRE(done.get_future().get().is_ok());
  const auto events = [&] {
    auto e = f.storage->events({});
    REQUIRE(e.is_ok());
    return e->size();
  };
  REQUIRE(events() == 2);
  f.now = kT0 + 399 * kDay;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(events() == 2);
  f.now = kT0 + 401 * kDay;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(events() == 0);
}

TEST_CASE("Storage: the notification history is stored, filtered and kept 400 days", "[storage]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  auto store = [&](std::vector<NotificationRecord> records) {
    std::promise<Result<StateDelta>> done;
    f.storage->change(
        [&]() -> Result<StateDelta> {
          StateDelta d;
          d.notifications = records;
          return d;
        },
        [&](Result<StateDelta> r) { done.set_value(std::move(r)); });
    REQUIRE(done.get_future().get().is_ok());
  };
  store({{.ts_ms = kT0,
          .site = "s1",
          .agent = "a1",
          .check = "backup/borg",
          .channel = "email",
          .target = "oncall (x@example.org)",
          .kind = "problem",
          .state = State::kCritical,
          .status = "sent"},
         {.ts_ms = kT0 + 1,
          .site = "s1",
          .agent = "a1",
          .check = "backup/borg",
          .channel = "webhook",
          .target = "chat (chat.example.org)",
          .kind = "problem",
          .state = State::kCritical,
          .status = "failed",
          .detail = "HTTP 500"}});
  store({{.ts_ms = kT0 + 2,
          .site = "s2",
          .channel = "webhook",
          .target = "chat (chat.example.org)",
          .kind = "problem",
          .state = State::kCritical,
          .status = "suppressed",
          .detail = "in downtime"}});
  auto all = f.storage->notifications({});
  REQUIRE(all.is_ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].site == "s2");  // newest first
  CHECK((*all)[0].detail == "in downtime");
  CHECK((*all)[1].status == "failed");
  CHECK((*all)[1].state == State::kCritical);
  CHECK((*all)[2].target == "oncall (x@example.org)");
  CHECK(f.storage->notifications({.site = "s1"})->size() == 2);
  CHECK(f.storage->notifications({.check = "backup/borg", .limit = 1})->size() == 1);
  CHECK(f.storage->notifications({.agent = "a2"})->empty());

  f.now = kT0 + 399 * kDay;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(f.storage->notifications({})->size() == 3);
  f.now = kT0 + 401 * kDay;
  REQUIRE(f.storage->housekeep().is_ok());
  CHECK(f.storage->notifications({})->empty());
}

TEST_CASE("Storage: series queries refuse what they cannot answer", "[storage][series]") {
  VIGIE_EACH_BACKEND(backend);
  SeriesFixture f(backend);
  REQUIRE(submit(*f.storage, load_report(1, kT0 - 1000, 1)).is_ok());
  auto unknown = f.storage->series({.agent = "agent-1",
                                    .check = "system/load",
                                    .metric = "nope",
                                    .from_ms = kT0 - kDay,
                                    .to_ms = kT0});
  CHECK(unknown.status().code() == Code::kNotFound);
  auto inverted = f.storage->series({.agent = "agent-1",
                                     .check = "system/load",
                                     .metric = "load1",
                                     .from_ms = kT0,
                                     .to_ms = kT0 - 1});
  CHECK(inverted.status().code() == Code::kInvalidArgument);
  auto too_many = f.storage->series({.agent = "agent-1",
                                     .check = "system/load",
                                     .metric = "load1",
                                     .from_ms = kT0 - kDay,
                                     .to_ms = kT0,
                                     .step_ms = 1});
  CHECK(too_many.status().code() == Code::kInvalidArgument);
  auto bad_tier = f.storage->series({.agent = "agent-1",
                                     .check = "system/load",
                                     .metric = "load1",
                                     .from_ms = kT0 - kDay,
                                     .to_ms = kT0,
                                     .tier = "10s"});
  CHECK(bad_tier.status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace vigie::collector

namespace vigie::collector {
namespace {

// Stores `rows` the way the notifier does: in a change's delta.
void enqueue(Storage& storage, std::vector<OutboxRow> rows, bool fail = false) {
  std::promise<Result<StateDelta>> done;
  auto future = done.get_future();
  storage.change(
      [&]() -> Result<StateDelta> {
        StateDelta delta;
        delta.outbox = rows;
        if (fail) return Status::internal("the event's transaction failed");
        return delta;
      },
      [&](Result<StateDelta> d) { done.set_value(std::move(d)); });
  (void)future.get();
}

OutboxRow row(const std::string& channel, const std::string& key, std::int64_t created) {
  return {.channel = channel,
          .key = key,
          .alert = "{\"kind\":\"problem\"}",
          .created_ms = created,
          .due_ms = created + 2000};
}

TEST_CASE("Storage: the alert outbox claims, leases, retries and settles rows",
          "[storage][outbox]") {
  VIGIE_EACH_BACKEND(backend);
  auto storage = backend.open(at_data_time());
  REQUIRE(storage.is_ok());
  Storage& s = **storage;
  enqueue(s, {row("chat", "k1", 1000), row("mail", "k1", 1000), row("chat", "k2", 1500)});
  enqueue(s, {row("chat", "k3", 1600)}, /*fail=*/true);  // rolled back with its event

  // Nothing due before the hold; then the chat rows, oldest first, not the mail's.
  auto none = s.claim_outbox("chat", 2000, 2000, 100, 30'000);
  REQUIRE(none.is_ok());
  CHECK(none->empty());
  auto claimed = s.claim_outbox("chat", 3500, 3500, 100, 30'000);
  REQUIRE(claimed.is_ok());
  REQUIRE(claimed->size() == 2);
  CHECK((*claimed)[0].key == "k1");
  CHECK((*claimed)[0].due_ms == 3000);
  CHECK((*claimed)[0].alert == "{\"kind\":\"problem\"}");
  CHECK((*claimed)[1].key == "k2");
  // Claimed: nobody gets them again before the lease is over...
  CHECK(s.claim_outbox("chat", 3600, 3600, 100, 30'000)->empty());
  // ...after it (the claimer died), they are due again: at least once.
  CHECK(s.claim_outbox("chat", 33'600, 33'600, 100, 30'000)->size() == 2);

  // A failed attempt: due again at the retry time, attempts and error kept.
  const std::int64_t k1 = (*claimed)[0].id, k2 = (*claimed)[1].id;
  REQUIRE(s.outbox_failed({k1}, 34'000, 40'000, "HTTP 500", {}).is_ok());
  CHECK(s.claim_outbox("chat", 39'000, 39'000, 100, 30'000)->empty());
  auto retried = s.claim_outbox("chat", 40'000, 40'000, 100, 30'000);
  REQUIRE(retried->size() == 1);
  CHECK((*retried)[0].attempts == 1);
  CHECK((*retried)[0].error == "HTTP 500");

  // Sent: settled with its history in one transaction, never claimed again, and
  // remembered for reminders.
  REQUIRE(s.outbox_sent({k1, k2}, 41'000, "sent",
                        {{.ts_ms = 41'000, .site = "x", .channel = "webhook", .status = "sent"}})
              .is_ok());
  CHECK(s.claim_outbox("chat", 1'000'000, 1'000'000, 100, 30'000)->empty());
  auto last = s.outbox_last_sent(0);
  REQUIRE(last.is_ok());
  CHECK(*last == std::map<std::string, std::int64_t>{{"k1", 41'000}, {"k2", 41'000}});
  auto history = s.notifications({});
  REQUIRE(history.is_ok());
  REQUIRE(history->size() == 1);
  CHECK(history->at(0).status == "sent");
  // The same record again (its commit's outcome was unknown to the sender, who records
  // it once more): the history has it once.
  REQUIRE(s.outbox_sent({k1, k2}, 41'000, "sent",
                        {{.ts_ms = 41'000, .site = "x", .channel = "webhook", .status = "sent"}})
              .is_ok());
  CHECK(s.notifications({})->size() == 1);
  // Rows settled otherwise (another sender, its lease run out, at another time): this
  // send is in the history too.
  REQUIRE(s.outbox_sent({k1}, 42'000, "sent",
                        {{.ts_ms = 42'000, .site = "x", .channel = "webhook", .status = "sent"}})
              .is_ok());
  CHECK(s.notifications({})->size() == 2);
  CHECK(*s.outbox_last_sent(0) ==
        std::map<std::string, std::int64_t>{{"k1", 41'000}, {"k2", 41'000}});

  // Given up: settled as failed, not counted as sent.
  auto mail = s.claim_outbox("mail", 5000, 5000, 100, 30'000);
  REQUIRE(mail->size() == 1);
  REQUIRE(s.outbox_failed({(*mail)[0].id}, 6000, 0, "no relay", {}).is_ok());
  CHECK(s.claim_outbox("mail", 1'000'000, 1'000'000, 100, 30'000)->empty());
  CHECK(s.outbox_last_sent(0)->size() == 2);
  // Settled, delivered or given up, by key: what reminders count from whoever sent.
  auto settled = s.outbox_settled({"k1", "k2", "k3", "nothing"}, 0);
  REQUIRE(settled.is_ok());
  CHECK(*settled == std::map<std::string, std::int64_t>{{"k1", 41'000}, {"k2", 41'000}});
  enqueue(s, {row("mail", "k5", 7000)});
  auto k5 = s.claim_outbox("mail", 9000, 9000, 100, 30'000);
  REQUIRE(k5->size() == 1);
  REQUIRE(s.outbox_failed({(*k5)[0].id}, 9500, 0, "no relay", {}).is_ok());
  CHECK(*s.outbox_settled({"k5"}, 9000) == std::map<std::string, std::int64_t>{{"k5", 9500}});
  CHECK(s.outbox_settled({"k5"}, 9501)->empty());
  CHECK(s.outbox_settled({}, 0)->empty());

  // The rows survive a reopening (a restart): pending ones are claimed again.
  enqueue(s, {row("chat", "k4", 50'000)});
  s.close();
  storage = backend.open(at_data_time());
  REQUIRE(storage.is_ok());
  auto replayed = (*storage)->claim_outbox("chat", 60'000, 60'000, 100, 30'000);
  REQUIRE(replayed->size() == 1);
  CHECK((*replayed)[0].key == "k4");
}

TEST_CASE("Storage: a claim looking ahead takes a burst's rows, not rows another claim holds",
          "[storage][outbox]") {
  VIGIE_EACH_BACKEND(backend);
  auto storage = backend.open();
  REQUIRE(storage.is_ok());
  Storage& s = **storage;
  enqueue(s, {row("chat", "k1", 1000), row("chat", "k2", 1500)});  // due at 3000, 3500
  auto first = s.claim_outbox("chat", 3000, 3000, 100, 30'000);
  REQUIRE(first->size() == 1);  // k1, held until 33,000
  CHECK(first->at(0).key == "k1");
  // Later, k2 is due and k3 is held back with it (a burst): a claim looking 2 s ahead
  // takes both, but not k1 before its claimer's lease ends, though due by then.
  enqueue(s, {row("chat", "k3", 31'500)});  // due at 33,500
  auto burst = s.claim_outbox("chat", 32'000, 34'000, 100, 30'000);
  REQUIRE(burst.is_ok());
  REQUIRE(burst->size() == 2);
  CHECK(burst->at(0).key == "k2");
  CHECK(burst->at(1).key == "k3");
  CHECK(s.claim_outbox("chat", 32'999, 40'000, 100, 30'000)->empty());
  auto expired = s.claim_outbox("chat", 33'000, 33'000, 100, 30'000);
  REQUIRE(expired->size() == 1);
  CHECK(expired->at(0).key == "k1");

  // A claim renewed before its messages go, but only for rows nobody took since: k1 was
  // claimed again once the first claim's lease ran out (until 63,000).
  const std::int64_t k1 = first->at(0).id, k2 = burst->at(0).id, k3 = burst->at(1).id;
  CHECK(*s.renew_outbox({k1}, 33'000, 70'000) == std::vector<std::int64_t>{});
  CHECK(*s.renew_outbox({k3, k2}, 62'000, 70'000) == std::vector<std::int64_t>{k2, k3});
  CHECK(s.claim_outbox("chat", 62'500, 62'500, 100, 30'000)->empty());          // held until 70,000
  CHECK(*s.renew_outbox({k2}, 62'000, 80'000) == std::vector<std::int64_t>{});  // not its lease
  CHECK(s.renew_outbox({}, 0, 0)->empty());
  REQUIRE(s.renew_outbox({k2, k3}, 70'000, 62'000).is_ok());  // back as claimed

  // A key with a message still waiting is not settled, whatever was settled before.
  REQUIRE(s.outbox_sent({burst->at(0).id}, 34'000, "sent", {}).is_ok());
  CHECK(*s.outbox_settled({"k2"}, 0) == std::map<std::string, std::int64_t>{{"k2", 34'000}});
  enqueue(s, {row("chat", "k2", 35'000)});  // a reminder, queued
  CHECK(s.outbox_settled({"k2"}, 0)->empty());
  auto reminder = s.claim_outbox("chat", 37'000, 37'000, 100, 30'000);
  REQUIRE(reminder->size() == 1);
  REQUIRE(s.outbox_sent({reminder->at(0).id}, 37'500, "sent", {}).is_ok());
  CHECK(*s.outbox_settled({"k2"}, 0) == std::map<std::string, std::int64_t>{{"k2", 37'500}});
}

}  // namespace
}  // namespace vigie::collector
