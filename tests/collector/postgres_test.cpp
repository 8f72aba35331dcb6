// What only the PostgreSQL backend does: connection strings and passwords, the schema
// version, and several collectors sharing one database. The backend-neutral behaviour
// is tested on both backends (storage_test.cpp, VIGIE_EACH_BACKEND).

#include <signal.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <fstream>
#include <future>
#include <thread>

#include "collector/http.hpp"
#include "collector/postgres/listen.hpp"
#include "collector/postgres/pq.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/sample_block.hpp"
#include "collector/state_engine.hpp"
#include "collector/storage.hpp"
#include "tests/support/child.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

using testing::shared_postgres;

protocol::Report report(const std::string& agent, std::uint64_t seq) {
  protocol::Report r;
  r.agent = {agent, "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = State::kOk;
  c.ts_ms = 1000 + static_cast<std::int64_t>(seq);
  c.interval_s = 60;
  c.metrics.push_back(Metric{.label = "load1", .value = 0.5});
  r.results.push_back(c);
  return r;
}

Result<IngestOutcome> submit(Storage& storage, protocol::Report r) {
  std::promise<Result<IngestOutcome>> done;
  auto future = done.get_future();
  storage.submit(std::move(r), 1000, {}, [&](Result<IngestOutcome> o, std::vector<Event>) {
    done.set_value(std::move(o));
  });
  return future.get();
}

TEST_CASE("PostgreSQL: a change's notification names its agents, or all of them", "[postgres]") {
  using Changed = Storage::OthersChanged;
  const Changed two{.agents = {"fw-1", "nas-2"}};
  const auto read = pg::read_payload(pg::payload("c1", two), "c2");
  REQUIRE(read);
  CHECK_FALSE(read->all);
  CHECK(read->agents == two.agents);
  // The sender's own, and a change of no agent (an audit entry alone).
  CHECK_FALSE(pg::read_payload(pg::payload("c1", two), "c1"));
  const auto none = pg::read_payload(pg::payload("c1", {}), "c2");
  REQUIRE(none);
  CHECK_FALSE(none->all);
  CHECK(none->agents.empty());
  // All: asked for, a name that holds a line break, more names than a payload takes,
  // and a payload that names nothing but its sender.
  CHECK(pg::read_payload(pg::payload("c1", {.all = true}), "c2")->all);
  CHECK(pg::read_payload(pg::payload("c1", {.agents = {"a\nb"}}), "c2")->all);
  Changed many;
  for (int i = 0; i < 2000; ++i) many.agents.push_back("agent-" + std::to_string(i));
  CHECK(pg::payload("c1", many).size() < 8000);
  CHECK(pg::read_payload(pg::payload("c1", many), "c2")->all);
  CHECK(pg::read_payload("c1", "c2")->all);
  // A name repeated is read once; names come sorted.
  CHECK(pg::read_payload("c1\nb\na\nb", "c2")->agents == std::vector<std::string>{"a", "b"});
}

TEST_CASE("PostgreSQL: a password in the connection string is refused", "[postgres]") {
  for (const std::string conninfo :
       {"postgresql://vigie:secret@127.0.0.1:5432/vigie", "host=127.0.0.1 password=secret"}) {
    auto storage = open_postgres_storage({.conninfo = conninfo});
    REQUIRE_FALSE(storage.is_ok());
    CHECK(storage.status().code() == Code::kInvalidArgument);
    CHECK_THAT(storage.status().message(), Catch::Contains("password file"));
    CHECK_THAT(storage.status().message(), !Catch::Contains("secret"));
  }
  CHECK(describe_database("postgresql://vigie:secret@db/vigie") ==
        "postgresql://vigie:***@db/vigie");
  CHECK(describe_database("host=db password=secret dbname=v") == "host=db password=*** dbname=v");
  auto bad = open_postgres_storage({.conninfo = "host=db dbname"});
  CHECK(bad.status().code() == Code::kInvalidArgument);
}

TEST_CASE("PostgreSQL: a --db value names the backend", "[postgres]") {
  CHECK(is_postgres_database("postgresql://db.example.org/vigie"));
  CHECK(is_postgres_database("postgres://db/vigie"));
  CHECK(is_postgres_database("host=db dbname=vigie"));
  CHECK_FALSE(is_postgres_database("/var/lib/vigie-collector/collector.db"));
  CHECK_FALSE(is_postgres_database("collector.db"));
}

TEST_CASE("PostgreSQL: the password comes from a password file", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir dir;
  // Over TCP the server asks for the password: none given, none in a file, refused.
  ::unsetenv("PGPASSFILE");
  const std::string tcp =
      "host=127.0.0.1 port=" + std::to_string(server.port()) + " user=vigie dbname=" + db;
  const auto nowhere = dir / "no-such-passfile";
  auto refused = open_postgres_storage({.conninfo = tcp + " passfile=" + nowhere.string()});
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().code() == Code::kUnavailable);
  CHECK_THAT(refused.status().message(), Catch::Contains("no password supplied"));

  const auto passfile =
      dir.write_secret("pgpass", "127.0.0.1:" + std::to_string(server.port()) + ":" + db +
                                     ":vigie:" + testing::PostgresServer::password() + "\n");
  auto by_option = open_postgres_storage({.conninfo = tcp + " passfile=" + passfile.string()});
  REQUIRE(by_option.is_ok());
  (*by_option)->close();

  ::setenv("PGPASSFILE", passfile.c_str(), 1);
  auto by_environment = open_postgres_storage({.conninfo = server.tcp_conninfo(db)});
  ::unsetenv("PGPASSFILE");
  REQUIRE(by_environment.is_ok());
}

// The database refusing the collector's own credentials (a password changed on the
// server, a password file edited) is the collector's trouble, not its client's: an agent
// answered 401 takes its token as rejected and stops sending until enrolled again.
TEST_CASE("PostgreSQL: a password refused mid-run makes reads unavailable (503), not 401",
          "[postgres]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir dir;
  const std::string line = "127.0.0.1:" + std::to_string(server.port()) + ":" + db + ":vigie:";
  const auto passfile = dir.write_secret("pgpass", line + testing::PostgresServer::password());
  auto storage = open_postgres_storage(
      {.conninfo = server.tcp_conninfo(db) + "?passfile=" + passfile.string()});
  REQUIRE(storage.is_ok());
  CHECK((*storage)->find_token("no-such-hash").status().code() == Code::kNotFound);

  dir.write_secret("pgpass", line + "not-the-password");
  REQUIRE(server.psql(db,
                      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                      "datname = current_database() AND pid <> pg_backend_pid()"));
  const auto refused = (*storage)->find_token("no-such-hash");
  REQUIRE_FALSE(refused.is_ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("password authentication failed"));
  CHECK(refused.status().code() == Code::kUnavailable);
  // Whoever asked is told the database cannot be used, not where it is nor how the
  // collector logs in (those go to the collector's log).
  const HttpResponse reply = error_response(refused.status());
  CHECK(reply.status == 503);
  CHECK_THAT(reply.body, Catch::Contains("the database cannot be used"));
  for (const std::string& secret : {passfile.string(), std::string("127.0.0.1"), db,
                                    std::string("password"), std::string("vigie")})
    CHECK_THAT(reply.body, !Catch::Contains(secret));
  (*storage)->close();
}

TEST_CASE("PostgreSQL: an unreachable server is an error that says where", "[postgres]") {
  testing::TempDir dir;
  auto storage =
      open_postgres_storage({.conninfo = "host=" + dir.path().string() + " port=1 dbname=x"});
  REQUIRE_FALSE(storage.is_ok());
  CHECK(storage.status().code() == Code::kUnavailable);
  CHECK_THAT(storage.status().message(), Catch::Contains(dir.path().string()));
}

TEST_CASE("PostgreSQL: migrations run once, and a newer schema is refused", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  // Told not to migrate, a collector refuses an empty database.
  auto unmigrated = open_postgres_storage({.conninfo = conninfo, .migrate = false});
  REQUIRE_FALSE(unmigrated.is_ok());
  CHECK(unmigrated.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(unmigrated.status().message(), Catch::Contains("db migrate"));

  // Collectors started at once migrate one after the other.
  std::vector<std::future<Status>> migrations;
  for (int i = 0; i < 3; ++i)
    migrations.push_back(
        std::async(std::launch::async, [&] { return migrate_postgres(conninfo); }));
  for (auto& m : migrations) CHECK(m.get().is_ok());
  CHECK(server.psql(db, "SELECT version FROM vigie_schema") == std::to_string(pg::kSchemaVersion));
  CHECK(server.psql(db, "SELECT count(*) FROM vigie_schema") == "1");
  auto migrated = open_postgres_storage({.conninfo = conninfo, .migrate = false});
  REQUIRE(migrated.is_ok());
  (*migrated)->close();

  REQUIRE(server.psql(db, "UPDATE vigie_schema SET version = 99"));
  for (bool migrate : {true, false}) {
    auto newer = open_postgres_storage({.conninfo = conninfo, .migrate = migrate});
    REQUIRE_FALSE(newer.is_ok());
    CHECK(newer.status().code() == Code::kFailedPrecondition);
    CHECK_THAT(newer.status().message(), Catch::Contains("newer than this collector"));
  }
  CHECK(migrate_postgres(conninfo).code() == Code::kFailedPrecondition);
  CHECK(open_postgres_reader(conninfo).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("PostgreSQL: a report sent to two collectors at once is stored once", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  auto a = open_postgres_storage({.conninfo = server.conninfo(db)});
  auto b = open_postgres_storage({.conninfo = server.conninfo(db)});
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  // Every report goes to both collectors at the same time, as an agent retrying on
  // another collector after a timeout would send it.
  constexpr int kReports = 200;
  std::vector<std::promise<Result<IngestOutcome>>> outcomes(2 * kReports);
  for (int i = 0; i < kReports; ++i) {
    const std::string agent = "agent-" + std::to_string(i % 7);
    for (int side = 0; side < 2; ++side) {
      Storage& storage = side == 0 ? **a : **b;
      storage.submit(report(agent, static_cast<std::uint64_t>(i / 7 + 1)), 1000, {},
                     [&outcomes, k = 2 * i + side](Result<IngestOutcome> o, std::vector<Event>) {
                       outcomes[k].set_value(std::move(o));
                     });
    }
  }
  int stored = 0, duplicates = 0;
  for (auto& p : outcomes) {
    auto o = p.get_future().get();
    REQUIRE(o.is_ok());
    (*o == IngestOutcome::kStored ? stored : duplicates)++;
  }
  CHECK(stored == kReports);
  CHECK(duplicates == kReports);
  CHECK(server.psql(db, "SELECT count(*) FROM batches") == std::to_string(kReports));
  CHECK(server.psql(db, "SELECT count(*) FROM sample_blocks") == std::to_string(kReports));
  CHECK(server.psql(db, "SELECT count(*) FROM agents") == "7");
  const std::string log = server.log();
  CHECK(log.find("deadlock detected") == std::string::npos);
}

TEST_CASE("PostgreSQL: writes wait out a server restart and carry on", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  auto storage = open_postgres_storage({.conninfo = server.conninfo(db)});
  REQUIRE(storage.is_ok());
  REQUIRE(submit(**storage, report("agent-1", 1)).is_ok());
  REQUIRE(server.restart());
  // The writer's connection broke: the first report after may fail (kUnavailable:
  // the agent sends it again), none is stored twice, and the writer reconnects.
  auto first = submit(**storage, report("agent-1", 2));
  if (!first) CHECK(first.status().code() == Code::kUnavailable);
  auto again = submit(**storage, report("agent-1", 2));
  REQUIRE(again.is_ok());
  INFO(server.why());
  CHECK(server.psql(db, "SELECT count(*) FROM batches") == "2");
  // Reads reconnect as well.
  CHECK((*storage)->load_state(2000).is_ok());
}

TEST_CASE("PostgreSQL: --read-db reads from a streaming standby made by pg_basebackup -R",
          "[postgres][standby]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::PostgresServer standby(server);
  INFO(standby.why() << standby.log());
  REQUIRE(standby.available());
  CHECK(standby.psql("postgres", "SELECT pg_is_in_recovery()") == "t");
  auto storage = open_postgres_storage(
      {.conninfo = server.conninfo(db), .read_conninfo = standby.conninfo(db)});
  REQUIRE(storage.is_ok());
  StateEngine engine;
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    protocol::Report r = report("agent-1", seq);
    r.results[0].status = seq < 3 ? State::kOk : State::kCritical;
    std::promise<Result<IngestOutcome>> done;
    (*storage)->submit(
        std::move(r), 1000 + static_cast<std::int64_t>(seq),
        [&](protocol::Report&& stored, std::int64_t at, const Storage::StoredAgent&)
            -> Result<StateDelta> { return engine.apply(std::move(stored), at); },
        [&](Result<IngestOutcome> o, std::vector<Event>) { done.set_value(std::move(o)); });
    REQUIRE(done.get_future().get().is_ok());
  }
  // The events the query API reads come from the standby, once it has replayed them.
  REQUIRE(engine.last_event_id() > 0);
  CHECK(testing::eventually(
      [&] {
        auto read = (*storage)->events({});
        return read.is_ok() && read->size() == static_cast<std::size_t>(engine.last_event_id());
      },
      std::chrono::seconds(10)));
  // A read whose connection to the standby breaks (as one cancelled by a conflict with
  // recovery does) is run again on a fresh connection: the reader sees no error, and the
  // stats (the /metrics counter vigie_db_reads_retried_total) count it.
  REQUIRE((*storage)->stats().reads_retried == 0);
  REQUIRE(standby.psql(db,
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()") != "0");
  auto again = (*storage)->events({});
  INFO(again.status().message());
  CHECK(again.is_ok());
  CHECK((*storage)->stats().reads_retried == 1);
  // With the standby down, those reads fail (they went there), while what the engine
  // resumes from and the tokens are still read from the primary.
  REQUIRE(standby.stop());
  auto gone = (*storage)->events({});
  REQUIRE_FALSE(gone.is_ok());
  CHECK(gone.status().code() == Code::kUnavailable);
  CHECK((*storage)->load_state(2000).is_ok());
  CHECK((*storage)->list_tokens().is_ok());
}

}  // namespace
}  // namespace vigie::collector

namespace vigie::collector {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The partition that holds each raw sample block, with how many: "name count" lines.
std::string blocks_by_partition(testing::PostgresServer& server, const std::string& db) {
  return server
      .psql(db,
            "SELECT tableoid::regclass || ' ' || count(*) FROM sample_blocks GROUP BY tableoid"
            " ORDER BY 1")
      .value_or("psql failed");
}

TEST_CASE("PostgreSQL: raw samples go to daily partitions, dropped whole by retention",
          "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  const std::int64_t day = (wall_ms() / kDayMs + 30) * kDayMs;
  std::atomic<std::int64_t> now{day + 12 * kHourMs};
  PostgresOptions options{.conninfo = server.conninfo(db)};
  options.now_ms = [&] { return now.load(); };
  options.housekeeping_every = std::chrono::hours(1);  // only when the test says
  auto storage = open_postgres_storage(options);
  REQUIRE(storage.is_ok());
  auto& s = **storage;
  std::uint64_t seq = 0;
  auto send = [&](std::int64_t ts_ms) {
    auto r = report("agent-p", ++seq);
    r.results[0].ts_ms = ts_ms;
    REQUIRE(submit(s, r).is_ok());
  };

  // The days ahead are made as the storage opens, before any report or housekeeping.
  CHECK(server.psql(db, "SELECT count(*) FROM sample_partitions WHERE to_ms > " +
                            std::to_string(now.load()) +
                            " AND from_ms <= " + std::to_string(now.load() + 2 * kDayMs)) == "3");
  REQUIRE(s.housekeep().is_ok());
  const std::string name =
      "sample_blocks_" +
      *server.psql(db, "SELECT to_char(to_timestamp(" + std::to_string(day / 1000) +
                           ") AT TIME ZONE 'UTC', 'YYYYMMDD')");
  send(day + 12 * kHourMs);
  send(day + 13 * kHourMs);
  send(day + 4 * kDayMs);  // beyond the days made: the default partition
  send(day - 5 * kDayMs);  // a late sample, of a day before the first partition
  CHECK(blocks_by_partition(server, db) == name + " 2\nsample_blocks_default 2");

  // Two days on: the days ahead are made, the default's block of such a day moves to it.
  now = day + 2 * kDayMs;
  REQUIRE(s.housekeep().is_ok());
  auto listed = blocks_by_partition(server, db);
  CHECK_THAT(listed, Catch::Contains(name + " 2"));
  CHECK_THAT(listed, Catch::Contains("sample_blocks_default 1"));
  CHECK(server.psql(db, "SELECT count(*) FROM sample_blocks_default WHERE t_max > " +
                            std::to_string(day)) == "0");

  // Past raw retention (8 days) the day goes by DROP, its rollups stay; the late block
  // of the default partition is deleted.
  now = day + 9 * kDayMs + kHourMs;
  REQUIRE(s.housekeep().is_ok());
  CHECK(server.psql(db, "SELECT to_regclass('" + name + "') IS NULL") == "t");
  CHECK(server.psql(db, "SELECT count(*) FROM sample_partitions WHERE name = '" + name + "'") ==
        "0");
  CHECK(server.psql(db, "SELECT to_regclass('sample_blocks_legacy') IS NULL") == "t");
  CHECK(server.psql(db, "SELECT count(*) FROM sample_blocks_default") == "0");
  CHECK(server.psql(db, "SELECT count(*) FROM sample_blocks") == "1");  // day + 4
  CHECK(server.psql(db, "SELECT count(*) FROM rollup_packs WHERE tier = 3600000 AND start_ms <= " +
                            std::to_string(day) + " AND start_ms + 604800000 > " +
                            std::to_string(day)) == "1");
  auto hourly = s.series({.agent = "agent-p",
                          .check = "system/load",
                          .metric = "load1",
                          .from_ms = day,
                          .to_ms = day + kDayMs,
                          .tier = "1h"});
  INFO(hourly.status().message());
  REQUIRE(hourly.is_ok());
  CHECK(hourly->points.size() == 2);
  s.close();
}

TEST_CASE(
    "PostgreSQL: blocks stored by schema version 1 are read, and dropped whole, after "
    "the migration to daily partitions",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  auto conn = pq::Conn::connect(server.conninfo(db));
  REQUIRE(conn.is_ok());
  REQUIRE(pg::migrate(**conn, 1).is_ok());
  // What version 1 stored: an agent, a series, one block of two samples, rolled up.
  const std::int64_t t0 = (wall_ms() / kDayMs - 2) * kDayMs + kHourMs;
  REQUIRE(server.psql(db,
                      "INSERT INTO agents (name, site) VALUES ('agent-v1', 'site-a');"
                      " INSERT INTO series (agent_id, check_id, metric, unit)"
                      " SELECT id, 'system/load', 'load1', '' FROM agents"));
  const std::int64_t series = std::stoll(server.psql(db, "SELECT id FROM series").value_or("0"));
  const std::string block =
      encode_samples({{.series = series, .ts_ms = t0, .value = 0.25},
                      {.series = series, .ts_ms = t0 + 60'000, .value = 0.75}},
                     t0);
  REQUIRE((*conn)
              ->query("INSERT INTO sample_blocks (agent_id, t_min, t_max, samples)"
                      " SELECT id, $1, $2, $3::bytea FROM agents",
                      pq::Params().add(t0).add(t0 + 60'000).add_bytes(block))
              .is_ok());
  conn->reset();

  std::atomic<std::int64_t> now{wall_ms()};
  PostgresOptions options{.conninfo = server.conninfo(db)};
  options.now_ms = [&] { return now.load(); };
  options.housekeeping_every = std::chrono::hours(1);
  auto storage = open_postgres_storage(options);
  REQUIRE(storage.is_ok());
  auto& s = **storage;
  CHECK(server.psql(db, "SELECT version FROM vigie_schema") == std::to_string(pg::kSchemaVersion));
  CHECK(blocks_by_partition(server, db) == "sample_blocks_legacy 1");
  auto raw = s.series({.agent = "agent-v1",
                       .check = "system/load",
                       .metric = "load1",
                       .from_ms = t0 - kHourMs,
                       .to_ms = t0 + kHourMs,
                       .tier = "raw"});
  REQUIRE(raw.is_ok());
  REQUIRE(raw->points.size() == 2);
  CHECK(raw->points[1].avg == 0.75);
  // New blocks go to the day partitions; the old table goes whole past retention.
  {
    auto r = report("agent-v1", 1);
    r.results[0].ts_ms = now.load();
    auto stored = submit(s, r);
    INFO(stored.status().message());
    REQUIRE(stored.is_ok());
  }
  REQUIRE(s.housekeep().is_ok());
  CHECK(server.psql(db, "SELECT count(*) FROM sample_blocks_legacy") == "1");
  CHECK(server.psql(db, "SELECT count(*) FROM sample_blocks") == "2");
  now = now.load() + 10 * kDayMs;
  REQUIRE(s.housekeep().is_ok());
  CHECK(server.psql(db, "SELECT to_regclass('sample_blocks_legacy') IS NULL") == "t");
  s.close();
}

// Run by the next test in a program of its own: starts a server, writes its
// postmaster's pid to the file VIGIE_TEST_PID_FILE names, and waits to be killed.
TEST_CASE("PostgreSQL test server: a program that starts one and is killed", "[.pg-orphan]") {
  const char* pid_file = ::getenv("VIGIE_TEST_PID_FILE");
  if (pid_file == nullptr) return;  // run alone, by a filter: nothing asked of it
  testing::PostgresServer server;
  REQUIRE(server.available());
  {
    std::ofstream out(std::string(pid_file) + ".tmp");
    out << server.postmaster_pid() << "\n";
  }
  std::filesystem::rename(std::string(pid_file) + ".tmp", pid_file);
  std::this_thread::sleep_for(std::chrono::seconds(60));
}

TEST_CASE("PostgreSQL test server: a test killed by SIGKILL leaves no server behind",
          "[postgres]") {
  if (!shared_postgres().available())
    VIGIE_SKIP_TEST(testing::Absent::kPackage, shared_postgres().why());
  testing::TempDir dir;
  const auto pid_file = dir.path() / "postmaster.pid";
  ::setenv("VIGIE_TEST_PID_FILE", pid_file.c_str(), 1);
  testing::Child program({std::filesystem::read_symlink("/proc/self/exe").string(), "[.pg-orphan]"},
                         dir.path() / "program.log");
  ::unsetenv("VIGIE_TEST_PID_FILE");
  REQUIRE(testing::eventually([&] { return std::filesystem::exists(pid_file); },
                              std::chrono::seconds(60)));
  pid_t postmaster = 0;
  std::ifstream(pid_file) >> postmaster;
  REQUIRE(postmaster > 0);
  REQUIRE(::kill(postmaster, 0) == 0);

  program.stop(SIGKILL);
  // Its parent gone, the postmaster gets SIGQUIT from the kernel and shuts down.
  CHECK(testing::eventually([&] { return ::kill(postmaster, 0) != 0 && errno == ESRCH; },
                            std::chrono::seconds(20)));
}

}  // namespace
}  // namespace vigie::collector
