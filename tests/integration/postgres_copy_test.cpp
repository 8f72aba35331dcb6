// vigie-collector db copy: a SQLite collector fed real reports over several days (states,
// events, an acknowledgement, downtimes, tokens, central configurations, samples in every
// tier) moved to PostgreSQL; a collector started on the copy answers the query API and the reports
// as the SQLite one does, and an agent's report sent again after the move is a duplicate. A copy
// killed half-way leaves the target as it was, and runs again; what db copy must refuse (a target
// not empty, a source of another schema, a password), it refuses.

#include <signal.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "collector/postgres/pq.hpp"
#include "collector/sqlite/housekeeping.hpp"
#include "collector/sqlite/replay_guard.hpp"
#include "collector/sqlite/schema.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "common/time.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::run;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 3'600'000;
constexpr int kHours = 72;  // the reports span three days

// Report `seq` of `agent`: three results of each check, 20 minutes apart, in the hour
// that ends `kHours - seq + 1` hours before `now` (the last report: a minute ago).
json report(const std::string& agent, const std::string& site, int seq, std::int64_t now,
            bool backup_failing) {
  const bool last = seq > kHours;
  const std::int64_t hour_start = now - static_cast<std::int64_t>(kHours - seq + 1) * kHour;
  json results = json::array();
  for (int j = 0; j < 3; ++j) {
    const std::int64_t ts = last ? now - (3 - j) * kMinute : hour_start + j * 20 * kMinute;
    const int k = seq * 3 + j;
    const int status = backup_failing ? 2 : 0;
    results.push_back({{"name", "backup"},
                       {"check", "backup/restic:/srv"},
                       {"status", status},
                       {"summary", status ? "no snapshot for 3 days" : "last snapshot 1h ago"},
                       {"metrics",
                        {{{"name", "size"}, {"value", 40 + 0.25 * (k % 17)}, {"unit", "GB"}},
                         {{"name", "age"}, {"value", 600 * (k % 7)}, {"unit", "s"}}}},
                       {"ts", ts},
                       {"duration_ms", 812},
                       {"interval_s", 1200}});
    results.push_back({{"name", "ping-gw"},
                       {"check", "net/ping:gw"},
                       {"status", k % 23 == 0 ? 1 : 0},
                       {"summary", "PING OK"},
                       {"metrics",
                        {{{"name", "rta"}, {"value", 0.3 + 0.1 * (k % 50)}, {"unit", "ms"}},
                         {{"name", "pl"}, {"value", k % 5}, {"unit", "%"}}}},
                       {"ts", ts + 1000},
                       {"duration_ms", 2004},
                       {"interval_s", 1200}});
  }
  return {{"protocol", 1},
          {"agent", {{"id", agent}, {"site", site}, {"hostname", agent + ".lan"}}},
          {"seq", seq},
          {"results", results}};
}

// What in a reply depends on the moment it was asked: "now", a report's "age_s" of a
// check's last success, and the agents' heartbeat rows' summary ("last report 2s
// ago"), left out, wherever they are.
void drop_moment(json& j) {
  if (j.is_object()) {
    j.erase("now");
    j.erase("age_s");
    if (j.value("check", "") == "vigie/heartbeat") j.erase("summary");
  }
  if (j.is_structured())
    for (auto& child : j) drop_moment(child);
}

json stable(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  drop_moment(j);
  return j;
}

std::string count(testing::PostgresServer& server, const std::string& db, const std::string& sql) {
  auto n = server.psql(db, sql);
  return n ? *n : "(psql failed: " + server.why() + ")";
}

TEST_CASE("db copy: a SQLite collector moved to PostgreSQL answers as before", "[postgres-copy]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;

  // The SQLite collector, fed three days of reports by two agents.
  testing::TempDir dir;
  std::optional<Collector> sqlite(std::in_place, dir);
  const std::string viewer = sqlite->token("viewer");
  const std::string op = sqlite->token("operator");
  const struct {
    std::string id, site, token;
  } agents[] = {{"copy-agent-1", "copy-site", sqlite->enroll("copy-agent-1", "copy-site")},
                {"copy-agent-2", "copy-site-b", sqlite->enroll("copy-agent-2", "copy-site-b")}};
  const std::int64_t now = wall_ms();
  std::map<std::string, std::string> last_report;
  // In time order, the agents' reports interleaved, as they would come.
  for (int seq = 1; seq <= kHours + 1; ++seq) {
    for (const auto& agent : agents) {
      // The first agent's backup fails for six hours on the second day, and again now.
      const bool failing =
          agent.id == "copy-agent-1" && ((seq > 30 && seq <= 36) || seq >= kHours - 1);
      const std::string body = report(agent.id, agent.site, seq, now, failing).dump();
      auto reply = sqlite->post("/api/v1/reports", body, agent.token);
      INFO(agent.id << " seq " << seq << ": " << reply.body << reply.error);
      REQUIRE(reply.status == 200);
      last_report[agent.id] = body;
    }
  }
  auto acked = sqlite->post("/api/v1/acks",
                            json{{"agent", "copy-agent-1"},
                                 {"check", "backup/restic:/srv"},
                                 {"comment", "restoring the repository"},
                                 {"sticky", true}}
                                .dump(),
                            op);
  INFO(acked.body);
  REQUIRE(acked.status == 200);
  auto downtime = sqlite->post(
      "/api/v1/downtimes",
      json{{"site", "copy-site-b"}, {"comment", "new switch"}, {"duration", "2h"}}.dump(), op);
  INFO(downtime.body);
  REQUIRE(downtime.status == 201);
  // A weekly downtime, every day for an hour, half a day away from now: were it to start
  // or end while the test runs, each collector would record the change at its own tick
  // (a downtime_start event of its own time), and their answers would differ.
  char at[8];
  std::snprintf(at, sizeof at, "%02d:00", static_cast<int>((now / kHour + 12) % 24));
  auto weekly = sqlite->post("/api/v1/downtimes",
                             json{{"site", "copy-site"},
                                  {"agent", "copy-agent-1"},
                                  {"comment", "backup window"},
                                  {"duration", "1h"},
                                  {"weekly", {{"days", "daily"}, {"at", at}, {"time_zone", "UTC"}}}}
                                 .dump(),
                             op);
  INFO(weekly.body);
  REQUIRE(weekly.status == 201);
  // A central configuration: a template, and a site's values for it.
  const std::string admin = sqlite->token("admin");
  for (const auto& [kind, name, document] :
       {std::tuple<std::string, std::string, json>{
            "template",
            "townhall",
            {{"defaults", {{"interval", "1m"}}},
             {"checks",
              {{{"name", "hello"},
                {"type", "external"},
                {"command", {"/usr/lib/nagios/plugins/check_dummy", "0", "${message}"}}}}}}},
        {"site", "copy-site", {{"template", "townhall"}, {"vars", {{"message", "hello"}}}}}}) {
    auto put = sqlite->call("PUT", "/api/v1/configs?kind=" + kind + "&name=" + name, admin,
                            document.dump());
    INFO(put.body);
    REQUIRE(put.status == 200);
  }
  sqlite->stop(false);
  const std::string file = sqlite->db();
  {
    // The collector's housekeeping to the end, as it runs while the last report's samples
    // fill their 5-minute bucket: what is over rolled up in its tiers, the last report's
    // samples still raw, and the blocks compacted. (Housekeeping a little later finds
    // the bucket closed whenever a 5-minute boundary fell in between.)
    auto conn = sqlite::open(file, SQLITE_OPEN_READWRITE);
    REQUIRE(conn.is_ok());
    const std::int64_t last_sample = now - kMinute + 1000;
    for (bool more = true; more;) {
      REQUIRE(sqlite::exec(conn->get(), "BEGIN IMMEDIATE").is_ok());
      REQUIRE(collector::housekeeping_slice(conn->get(), {}, last_sample, &more).is_ok());
      REQUIRE(sqlite::exec(conn->get(), "COMMIT").is_ok());
    }
    auto cursor = collector::rollup_cursor(conn->get());
    REQUIRE(cursor.is_ok());
    auto blocks =
        sqlite::Statement::prepare(conn->get(), "SELECT count(*) FROM sample_blocks WHERE id > ?1");
    REQUIRE(blocks.is_ok());
    blocks->bind(1, *cursor);
    REQUIRE(blocks->step() == SQLITE_ROW);
    CHECK(blocks->int64(0) > 0);
  }
  {
    // The replay guard's rows folded into ranges of seqs, as housekeeping does once
    // they are 10 minutes old (the tiers left as they are).
    auto conn = sqlite::open(file, SQLITE_OPEN_READWRITE);
    REQUIRE(conn.is_ok());
    REQUIRE(sqlite::exec(conn->get(), "BEGIN IMMEDIATE").is_ok());
    bool more = false;
    REQUIRE(collector::fold_replay_guard(conn->get(), wall_ms() + 11 * kMinute, {},
                                         std::chrono::steady_clock::now() + 10s, &more)
                .is_ok());
    REQUIRE(sqlite::exec(conn->get(), "COMMIT").is_ok());
    auto left = sqlite::Statement::prepare(
        conn->get(), "SELECT (SELECT count(*) FROM batches), (SELECT count(*) FROM batch_ranges)");
    REQUIRE(left.is_ok());
    REQUIRE(left->step() == SQLITE_ROW);
    CHECK(left->int64(0) == 0);
    CHECK(left->int64(1) >= 2);  // a range per agent and day at least
  }

  // A password on the command line is refused before anything is read or sent.
  auto with_password =
      run({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", file, "--to",
           "postgresql://vigie:hunter2@127.0.0.1:" + std::to_string(server.port()) + "/" + db});
  CHECK(with_password.exit_code == 1);
  CHECK_THAT(with_password.err, Catch::Contains("password file"));
  CHECK_THAT(with_password.err, !Catch::Contains("hunter2"));

  // Killed half-way (held at the tiers by a lock the test takes, the rows and the
  // sample blocks sent already), the copy leaves the target as it was.
  REQUIRE(run({VIGIE_COLLECTOR_BIN, "db", "migrate", "--db", conninfo}).exit_code == 0);
  {
    auto locker = collector::pq::Conn::connect(conninfo);
    REQUIRE(locker.is_ok());
    REQUIRE((*locker)->exec("BEGIN; LOCK TABLE rollup_packs IN SHARE MODE").is_ok());
    testing::Child copy({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", file, "--to", conninfo},
                        dir / "killed-copy.log");
    const bool at_tiers = testing::eventually(
        [&] { return copy.log().find("rollup_pending:") != std::string::npos; }, 30s);
    INFO(copy.log());
    REQUIRE(at_tiers);
    CHECK(copy.log().find("sample_blocks:") != std::string::npos);
    std::this_thread::sleep_for(300ms);
    REQUIRE(copy.running());
    copy.stop(SIGKILL);
    REQUIRE((*locker)->exec("ROLLBACK").is_ok());
  }
  for (const char* table : {"agents", "checks", "events", "tokens", "sample_blocks", "rollup_packs",
                            "rollup_pending", "sample_partitions", "downtimes"})
    CHECK(count(server, db, std::string("SELECT count(*) FROM ") + table) == "0");

  // Run again, it copies everything.
  auto copied = run({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", file, "--to", conninfo});
  INFO(copied.err);
  REQUIRE(copied.exit_code == 0);
  CHECK_THAT(copied.err, Catch::Contains("done in"));
  CHECK_THAT(copied.err, Catch::Contains("agents: 2"));
  // The tiers in packs, the raw blocks in their days' partitions (none in the default),
  // and the last minutes' blocks queued for PostgreSQL's rollups.
  CHECK(count(server, db, "SELECT count(DISTINCT tier) FROM rollup_packs") == "3");
  CHECK(count(server, db, "SELECT count(*) FROM sample_blocks_default") == "0");
  // A partition for each day from the blocks' first t_max to their last: the reports
  // span 73 hours, and an hour's block ends in the next day when it starts after 23:20.
  auto days = run({"/usr/bin/sqlite3", file,
                   "SELECT max(t_max) / 86400000 - min(t_max) / 86400000 + 1 FROM sample_blocks"});
  REQUIRE(days.exit_code == 0);
  CHECK(std::stoi(testing::trim(days.out)) >= 3);
  CHECK(std::stoi(count(server, db, "SELECT count(*) FROM sample_partitions")) ==
        std::stoi(testing::trim(days.out)));
  CHECK(count(server, db, "SELECT count(*) > 0 FROM rollup_pending") == "t");
  // New ids come after the copied ones.
  CHECK(
      count(server, db,
            "SELECT last_value >= (SELECT max(id) FROM sample_blocks) FROM sample_blocks_id_seq") ==
      "t");
  CHECK(count(server, db, "SELECT last_value >= (SELECT max(id) FROM tokens) FROM tokens_id_seq") ==
        "t");

  // A second copy into the same database is refused: it is not empty any more.
  auto again = run({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", file, "--to", conninfo});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("not empty"));

  // Both collectors, the SQLite one and one on the copy, answer the same.
  sqlite->start();
  testing::TempDir pg_dir;
  Collector pg(pg_dir, {}, conninfo);
  const auto same = [&](const std::string& path, const std::string& token) {
    auto a = sqlite->get(path, token);
    auto b = pg.get(path, token);
    INFO(path << "\nSQLite: " << a.body << "\nPostgreSQL: " << b.body);
    CHECK(a.status == 200);
    CHECK(b.status == a.status);
    INFO("differences: " << json::diff(stable(a.body), stable(b.body)).dump());
    CHECK(stable(a.body) == stable(b.body));
  };
  same("/api/v1/overview", viewer);
  same("/api/v1/checks", viewer);
  same("/api/v1/problems", viewer);
  same("/api/v1/sites", viewer);
  same("/api/v1/site?name=copy-site", viewer);
  same("/api/v1/agents", viewer);
  same("/api/v1/downtimes", viewer);
  same("/api/v1/events?after=0&limit=10000", viewer);
  same("/api/v1/audit?after=0", op);
  same("/api/v1/configs", admin);
  same("/api/v1/configs?agent=copy-agent-1", admin);
  for (const auto& agent : agents) {
    same("/api/v1/check?agent=" + agent.id + "&check=backup/restic:/srv", viewer);
    same("/api/v1/check?agent=" + agent.id + "&check=net/ping:gw", viewer);
  }
  // Every metric at every step, each tier both have.
  const std::string range =
      "&from=" + std::to_string(now - (kHours + 2) * kHour) + "&to=" + std::to_string(now);
  for (const char* metric :
       {"check=net/ping:gw&metric=rta", "check=backup/restic:/srv&metric=size"}) {
    for (const char* step : {"", "&step=1m", "&step=5m", "&step=1h", "&step=1d"}) {
      for (const char* tier : {"", "&tier=raw", "&tier=5m", "&tier=1h"}) {
        const std::string path =
            std::string("/api/v1/series?agent=copy-agent-1&") + metric + range + step + tier;
        auto a = sqlite->get(path, viewer);
        auto b = pg.get(path, viewer);
        INFO(path << "\nSQLite: " << a.body << "\nPostgreSQL: " << b.body);
        REQUIRE(a.status == 200);
        REQUIRE(b.status == 200);
        json sa = stable(a.body), sb = stable(b.body);
        // Both read the daily tier (the copy's, in the source's --day-zone days, UTC
        // here), PostgreSQL adding the days of the samples it rolled up since.
        if (sa.value("tier", "") == "1d") {
          CHECK(sb.value("tier", "") == "1d");
          // The same samples summed in another order (a day's buckets merged as they
          // came on each side): averages alike to the last bits, not always to the last
          // one.
          auto& pa = sa["points"];
          auto& pb = sb["points"];
          REQUIRE(pa.size() == pb.size());
          for (std::size_t i = 0; i < pa.size(); ++i) {
            if (!pa[i].contains("avg") || !pb[i].contains("avg")) continue;
            const double x = pa[i]["avg"].get<double>(), y = pb[i]["avg"].get<double>();
            CHECK(std::abs(x - y) <= 1e-12 * std::max(std::abs(x), std::abs(y)));
            pa[i].erase("avg");
            pb[i].erase("avg");
          }
        }
        INFO("differences: " << json::diff(sa, sb).dump());
        CHECK(sa == sb);
        CHECK_FALSE(sa.value("points", json::array()).empty());
      }
    }
  }
  // The reports, read from each database, over the 7 days before the test's UTC day:
  // by default each would end at the start of the day it runs, a day apart when a UTC
  // midnight falls between the two runs.
  char end[16];
  {
    const std::time_t t = static_cast<std::time_t>(now / 1000);
    std::tm utc{};
    gmtime_r(&t, &utc);
    std::strftime(end, sizeof end, "%Y-%m-%d", &utc);
  }
  for (const std::vector<std::string>& report :
       {std::vector<std::string>{"backup", "--format", "json", "--period", "7d"},
        std::vector<std::string>{"availability", "--format", "json", "--period", "7d"}}) {
    std::vector<std::string> argv = {VIGIE_COLLECTOR_BIN, "report"};
    argv.insert(argv.end(), report.begin(), report.end());
    argv.insert(argv.end(), {"--end", end, "--out", "-", "--tz", "UTC", "--lang", "en", "--db"});
    auto on_sqlite = argv, on_pg = argv;
    on_sqlite.push_back(file);
    on_pg.push_back(conninfo);
    auto a = run(on_sqlite);
    auto b = run(on_pg);
    INFO(report[0] << "\nSQLite: " << a.err << a.out << "\nPostgreSQL: " << b.err << b.out);
    CHECK(a.exit_code == 0);
    CHECK(b.exit_code == 0);
    // Alike but for the moment each was made (the availability report's generated_utc
    // too: a second apart when the runs straddle one).
    json ja = json::parse(a.out, nullptr, false), jb = json::parse(b.out, nullptr, false);
    for (json* j : {&ja, &jb}) {
      if (!j->is_object()) continue;
      j->erase("generated");
      j->erase("generated_ms");
      j->erase("generated_utc");
      drop_moment(*j);
    }
    INFO("differences: " << json::diff(ja, jb).dump());
    CHECK(ja.is_object());
    CHECK(ja == jb);
  }

  // Exactly once survives the move: an agent's reports, sent again to the collector on
  // PostgreSQL, are duplicates (SQLite's ranges of seqs became a batches row each, the
  // results they counted kept); its next one is stored.
  CHECK(count(server, db, "SELECT count(*) FROM batches") == std::to_string(2 * (kHours + 1)));
  CHECK(count(server, db, "SELECT sum(results) FROM batches") ==
        std::to_string(2 * (kHours + 1) * 6));
  for (const auto& agent : agents) {
    auto replay = pg.post("/api/v1/reports", last_report[agent.id], agent.token);
    INFO(replay.body << replay.error);
    CHECK(replay.status == 200);
    CHECK(json::parse(replay.body, nullptr, false).value("status", "") == "duplicate");
    auto early =
        pg.post("/api/v1/reports", report(agent.id, agent.site, 5, now, false).dump(), agent.token);
    INFO(early.body << early.error);
    CHECK(early.status == 200);
    CHECK(json::parse(early.body, nullptr, false).value("status", "") == "duplicate");
  }
  auto next = pg.post("/api/v1/reports",
                      report("copy-agent-2", "copy-site-b", kHours + 2, wall_ms(), false).dump(),
                      agents[1].token);
  INFO(next.body << next.error);
  CHECK(next.status == 200);
  CHECK(json::parse(next.body, nullptr, false).value("status", "") == "stored");

  // An event made after the move follows the copied ones: a cursor the SQLite collector
  // gave finds it, under an id of its own.
  auto listed = pg.get("/api/v1/events?after=0&limit=10000", viewer);
  REQUIRE(listed.status == 200);
  const json copied_events = json::parse(listed.body, nullptr, false);
  REQUIRE(copied_events.is_object());
  const std::int64_t cursor = copied_events.value("cursor", std::int64_t{0});
  REQUIRE(cursor > 0);
  auto failing = pg.post("/api/v1/reports",
                         report("copy-agent-2", "copy-site-b", kHours + 3, wall_ms(), true).dump(),
                         agents[1].token);
  INFO(failing.body << failing.error);
  CHECK(failing.status == 200);
  auto after = pg.get("/api/v1/events?after=" + std::to_string(cursor) + "&timeout=5s", viewer);
  REQUIRE(after.status == 200);
  const json fresh = json::parse(after.body, nullptr, false);
  INFO(after.body);
  REQUIRE(fresh.is_object());
  REQUIRE_FALSE(fresh["events"].empty());
  for (const auto& event : fresh["events"]) {
    CHECK(event.value("id", std::int64_t{0}) > cursor);
    CHECK(event.value("agent", "") == "copy-agent-2");
  }
  sqlite.reset();
}

TEST_CASE("db copy: a SQLite database a collector still serves is refused, the target untouched",
          "[postgres-copy]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir dir;
  Collector serving(dir);
  (void)serving.token("viewer");  // the file holds a schema and a row
  auto copy = run({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", serving.db(), "--to", conninfo});
  CHECK(copy.exit_code == 1);
  CHECK_THAT(copy.err, Catch::Contains("is served by another collector (process " +
                                       std::to_string(serving.child().pid()) + ")") &&
                           Catch::Contains("stop it first"));
  CHECK(count(server, db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0");
  // Stopped, it is copied.
  serving.stop(false);
  auto copied = run({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", serving.db(), "--to", conninfo});
  INFO(copied.err);
  CHECK(copied.exit_code == 0);
}

TEST_CASE("db copy: a source of another schema version is refused, the target untouched",
          "[postgres-copy]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir dir;

  // Older: a database of schema version 9, as a released collector left it.
  const auto old = dir / "v9.db";
  {
    auto conn = sqlite::open(old.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    REQUIRE(conn.is_ok());
    std::ifstream in(std::filesystem::path(VIGIE_SOURCE_DIR) / "tests/fixtures/schema/v9.sql");
    std::stringstream sql;
    sql << in.rdbuf();
    REQUIRE(sqlite::exec(conn->get(), sql.str().c_str()).is_ok());
  }
  auto older = run({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", old.string(), "--to", conninfo});
  CHECK(older.exit_code == 1);
  CHECK_THAT(older.err,
             Catch::Contains("older than this collector") && Catch::Contains("db migrate"));

  // Newer: the same database as a later collector would have it.
  const auto file = dir / "collector.db";
  {
    auto storage = collector::open_sqlite_storage({.path = file});
    REQUIRE(storage.is_ok());
  }
  {
    auto conn = sqlite::open(file.string(), SQLITE_OPEN_READWRITE);
    REQUIRE(conn.is_ok());
    REQUIRE(sqlite::exec(
                conn->get(),
                ("PRAGMA user_version = " + std::to_string(collector::kSchemaVersion + 1)).c_str())
                .is_ok());
  }
  auto newer = run({VIGIE_COLLECTOR_BIN, "db", "copy", "--from", file.string(), "--to", conninfo});
  CHECK(newer.exit_code == 1);
  CHECK_THAT(newer.err, Catch::Contains("newer than this collector"));

  // Not a database at all, or no file.
  auto missing = run(
      {VIGIE_COLLECTOR_BIN, "db", "copy", "--from", (dir / "none.db").string(), "--to", conninfo});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("no database file"));
  // The target was never touched: no schema even.
  CHECK(server.psql(db, "SELECT to_regclass('vigie_schema') IS NULL") == "t");
}

}  // namespace
}  // namespace vigie
