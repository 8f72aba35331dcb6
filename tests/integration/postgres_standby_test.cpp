// The console's views on a streaming standby: a collector ingesting into the primary
// with --read-db pointing at a standby made by pg_basebackup -R, and the console's own
// client and reply parsers (console/api_client.hpp, model.hpp) reading a check's view
// (its history) and its series while reports come in. The views show what was stored
// within the replay lag; recovery conflicts are provoked (max_standby_streaming_delay 0
// on the standby, rows updated and vacuumed on the primary all along, a long read on the
// standby cancelled) and none reaches the reader; /metrics counts the reads retried.

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "collector/postgres/pq.hpp"
#include "common/time.hpp"
#include "console/api_client.hpp"
#include "console/model.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;

constexpr const char* kAgent = "standby-agent";
constexpr const char* kCheck = "net/ping:gw";

// Report `seq`: one result, CRITICAL for 5 reports out of 10 (a state change, an
// event, every fifth report), its rta the seq.
std::string report(std::int64_t seq) {
  const int status = (seq / 5) % 2 == 1 ? 2 : 0;
  json result = {{"name", "ping-gw"},
                 {"check", kCheck},
                 {"status", status},
                 {"summary", status ? "PING CRITICAL" : "PING OK"},
                 {"metrics", {{{"name", "rta"}, {"value", seq}, {"unit", "ms"}}}},
                 {"ts", wall_ms()},
                 {"duration_ms", 5},
                 {"interval_s", 60},
                 {"max_attempts", 1}};
  return json{{"protocol", 1},
              {"agent", {{"id", kAgent}, {"site", "standby-site"}}},
              {"seq", seq},
              {"results", {result}}}
      .dump();
}

std::int64_t metric_value(const std::string& metrics, const std::string& name) {
  const std::string key = name + " ";
  for (std::size_t at = metrics.find(key); at != std::string::npos;
       at = metrics.find(key, at + 1)) {
    if (at == 0 || metrics[at - 1] == '\n') return std::stoll(metrics.substr(at + key.size()));
  }
  return -1;
}

TEST_CASE(
    "PostgreSQL standby: the console's views read a pg_basebackup -R standby while ingest "
    "runs",
    "[postgres-standby]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  // Rows the test updates and vacuums on the primary all along: each VACUUM's cleanup,
  // replayed on the standby, cancels the queries there whose snapshot predates it (no
  // delay allowed), whichever table they read.
  REQUIRE(server.psql(db,
                      "CREATE TABLE conflict_maker (id integer PRIMARY KEY, v integer);"
                      " INSERT INTO conflict_maker SELECT g, 0 FROM generate_series(1, 200) g"));
  testing::PostgresServer standby(server,
                                  {"max_standby_streaming_delay=0", "hot_standby_feedback=off"});
  INFO(standby.why());
  REQUIRE(standby.available());
  REQUIRE(testing::eventually(
      [&] { return standby.psql(db, "SELECT count(*) FROM conflict_maker") == "200"; }, 10s));

  testing::TempDir dir;
  Collector collector(dir, {"--read-db", standby.conninfo(db)}, server.conninfo(db));
  const std::string viewer = collector.token("viewer");
  const std::string agent_token = collector.enroll(kAgent, "standby-site");

  // Ingest: a report every 20 ms, for 8 s.
  std::atomic<bool> ingest_done{false};
  std::atomic<std::int64_t> stored{0};  // the last seq stored
  std::atomic<std::int64_t> ingest_errors{0};
  std::thread ingest([&] {
    const auto until = std::chrono::steady_clock::now() + 8s;
    for (std::int64_t seq = 1; std::chrono::steady_clock::now() < until; ++seq) {
      auto reply = collector.post("/api/v1/reports", report(seq), agent_token);
      if (reply.status == 200) stored = seq;
      else ++ingest_errors;
      std::this_thread::sleep_for(20ms);
    }
    ingest_done = true;
  });
  // Conflicts: rows updated then vacuumed on the primary, again and again.
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> vacuums{0};
  std::thread conflicts([&] {
    auto conn = collector::pq::Conn::connect(server.conninfo(db));
    if (!conn) return;
    while (!stop) {
      if ((*conn)->exec("UPDATE conflict_maker SET v = v + 1").is_ok() &&
          (*conn)->exec("VACUUM conflict_maker").is_ok())
        ++vacuums;
      std::this_thread::sleep_for(20ms);
    }
  });
  // A long read on the standby meanwhile: cancelled by a conflict with recovery.
  std::string long_read_error;
  std::thread long_read([&] {
    std::this_thread::sleep_for(1s);
    if (!standby.psql(db,
                      "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM conflict_maker;"
                      " SELECT pg_sleep(3); COMMIT"))
      long_read_error = standby.why();
  });

  // The console's views, read back to back as ingest runs: the check's view (its
  // history of events, from the standby) and its series (from the standby).
  console::ApiClient client({.url = collector.url(), .token = viewer, .ca_file = collector.ca()});
  std::int64_t reads = 0;
  std::int64_t view_errors = 0;
  std::string first_error;
  std::int64_t max_lag = 0;  // reports stored but not in the series read just after
  while (stored < 5 && !ingest_done) std::this_thread::sleep_for(10ms);
  while (!ingest_done) {
    const std::int64_t before = stored;
    auto view = client.get(console::check_path(kAgent, kCheck));
    auto series = client.get(console::series_path(kAgent, kCheck, "rta", "1h", "0s"));
    ++reads;
    Result<console::CheckDetail> detail =
        view ? console::parse_check_reply(*view) : Result<console::CheckDetail>(view.status());
    Result<console::Series> points =
        series ? console::parse_series_reply(*series) : Result<console::Series>(series.status());
    if (!detail || !points) {
      ++view_errors;
      if (first_error.empty()) first_error = (detail ? points.status() : detail.status()).message();
    } else if (!points->points.empty()) {
      // The newest sample shown is rta = its report's seq.
      max_lag = std::max(max_lag, before - static_cast<std::int64_t>(points->points.back().value));
    }
  }
  ingest.join();
  long_read.join();
  stop = true;
  conflicts.join();

  INFO("reads " << reads << ", vacuums " << vacuums << ", reports " << stored
                << ", the first view error: " << first_error << "\ncollector log:\n"
                << collector.child().log());
  CHECK(ingest_errors == 0);
  CHECK(reads > 20);
  CHECK(vacuums > 20);
  // No error reached the reader.
  CHECK(view_errors == 0);
  // The views followed ingest within the replay lag: never more than a few reports
  // behind (one every 20 ms), and once ingest stops they show the last one.
  CHECK(max_lag < 100);
  const std::int64_t last = stored;
  CHECK(testing::eventually(
      [&] {
        auto series = client.get(console::series_path(kAgent, kCheck, "rta", "1h", "0s"));
        if (!series) return false;
        auto points = console::parse_series_reply(*series);
        return points && !points->points.empty() &&
               static_cast<std::int64_t>(points->points.back().value) == last;
      },
      5s));
  // The check's history on the standby holds every event the primary committed.
  const auto committed = server.psql(db, "SELECT count(*) FROM events WHERE kind = 'state'");
  REQUIRE(committed);
  CHECK(testing::eventually(
      [&] {
        auto view = client.get(console::check_path(kAgent, kCheck));
        auto detail =
            view ? console::parse_check_reply(*view) : Result<console::CheckDetail>(view.status());
        if (!detail) return false;
        std::int64_t states = 0;
        for (const auto& e : detail->history) states += e.kind == "state";
        return std::to_string(states) == *committed;
      },
      5s));
  // Conflicts with recovery happened: the long read was cancelled, and every other
  // query the standby cancelled was one of the collector's reads, run again and
  // counted (the standby's counters are flushed within a second or so).
  CHECK_THAT(long_read_error, Catch::Contains("conflict with recovery"));
  std::int64_t cancelled = -1, retried = -1;
  const bool counted = testing::eventually(
      [&] {
        const auto n = standby.psql(
            db,
            "SELECT confl_snapshot + confl_lock + confl_bufferpin + confl_deadlock FROM"
            " pg_stat_database_conflicts WHERE datname = current_database()");
        auto metrics = client.get("/metrics");
        if (!n || !metrics) return false;
        cancelled = std::stoll(*n);
        retried = metric_value(*metrics, "vigie_db_reads_retried_total");
        return cancelled >= 1 && retried >= cancelled - 1;
      },
      5s);
  INFO("cancelled on the standby " << cancelled << ", retried by the collector " << retried);
  CHECK(counted);
  WARN("standby: " << reads << " view reads during ingest, " << cancelled
                   << " queries cancelled by recovery on the standby, " << retried
                   << " collector reads retried, the views at most " << max_lag
                   << " reports behind");
}

TEST_CASE(
    "PostgreSQL standby: a --read-db that cannot answer is said at start, and reports are stored",
    "[postgres-standby]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir dir;
  // A standby that is not there: a socket folder where no server listens.
  const std::string absent = "host=" + (dir / "no-server").string() + " port=5432 dbname=" + db;
  std::filesystem::create_directories(dir / "no-server");
  Collector collector(dir, {"--read-db", absent}, server.conninfo(db));
  const std::string agent_token = collector.enroll(kAgent, "standby-site");
  CHECK(collector.post("/api/v1/reports", report(1), agent_token).status == 200);
  CHECK(server.psql(db, "SELECT count(*) FROM batches") == "1");
  const std::string log = collector.child().log();
  CHECK_THAT(log, Catch::Contains("--read-db: ") &&
                      Catch::Contains("the query API, the console and the reports fail until it "
                                      "answers"));
}

TEST_CASE(
    "PostgreSQL failover: a standby promoted, a collector naming both servers goes on, "
    "every report stored once",
    "[postgres-standby]") {
  // A primary of its own: the test stops it (the program's shared server serves the
  // tests after it).
  testing::PostgresServer server;
  if (!server.available())
    VIGIE_SKIP_TEST(testing::Absent::kPackage, "PostgreSQL: " << server.why());
  const std::string db = server.create_database();
  INFO(server.why());
  REQUIRE_FALSE(db.empty());
  testing::PostgresServer standby(server);
  INFO(standby.why());
  REQUIRE(standby.available());
  // Both servers in --db, as docs/operations.md says: libpq takes the one that writes.
  const std::string both = "host=" + server.folder().string() + "," + standby.folder().string() +
                           " port=" + std::to_string(server.port()) + "," +
                           std::to_string(standby.port()) + " user=vigie dbname=" + db +
                           " target_session_attrs=read-write connect_timeout=2";
  testing::TempDir dir;
  Collector collector(dir, {}, both);
  const std::string agent_token = collector.enroll(kAgent, "standby-site");
  const std::string viewer = collector.token("viewer");
  // As an agent: a report sent again, under the same seq, until it is answered 200.
  int refused = 0;
  const auto send = [&](std::int64_t seq) {
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      if (collector.post("/api/v1/reports", report(seq), agent_token).status == 200) return true;
      ++refused;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  std::int64_t seq = 0;
  for (int i = 0; i < 20; ++i) REQUIRE(send(++seq));
  // The primary goes (a fast shutdown sends the standby every commit first), and the
  // standby is promoted, as Patroni or repmgr would.
  REQUIRE(server.stop());
  REQUIRE(standby.psql("postgres", "SELECT pg_promote()") == "t");
  for (int i = 0; i < 20; ++i) REQUIRE(send(++seq));
  INFO("reports refused while the primary moved: " << refused);
  CHECK(standby.psql(db, "SELECT count(*), count(DISTINCT seq), max(seq) FROM batches") ==
        "40|40|40");
  // The new primary's state is the last report's, and the collector leads there again.
  const auto check = collector.get(std::string("/api/v1/checks?agent=") + kAgent, viewer);
  REQUIRE(check.status == 200);
  CHECK(json::parse(check.body)["checks"][0]["status"] == 0);  // OK, as seq 40 says
  CHECK(testing::eventually(
      [&] {
        const auto metrics = collector.get("/metrics", viewer);
        return metrics.status == 200 && metric_value(metrics.body, "vigie_leader") == 1;
      },
      15s));
}

}  // namespace
}  // namespace vigie
