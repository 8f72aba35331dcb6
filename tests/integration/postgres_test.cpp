// vigie-collector on PostgreSQL, end to end: the schema migrated by the command line,
// the real agent reporting through a collector on PostgreSQL, what is acknowledged
// kept across a SIGKILL, and a schema newer than the collector refused.

#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "collector/postgres/schema.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::run;
using testing::trim;

constexpr const char* kPlugins = "/usr/lib/nagios/plugins";

std::string agent_config(const Collector& collector, const std::filesystem::path& token) {
  json config = {{"agent", {{"id", "pg-agent-01"}, {"site", "pg-site"}}},
                 {"collector",
                  {{"url", collector.url()},
                   {"ca_file", collector.ca()},
                   {"token_file", token.string()},
                   {"send_interval", "1s"}}},
                 {"defaults", {{"interval", "1s"}, {"timeout", "5s"}}},
                 {"checks",
                  {{{"name", "dummy-ok"},
                    {"type", "external"},
                    {"command", {std::string(kPlugins) + "/check_dummy", "0", "all fine"}}},
                   {{"name", "dummy-critical"},
                    {"type", "external"},
                    {"command", {std::string(kPlugins) + "/check_dummy", "2", "disk on fire"}}},
                   {{"name", "load"}, {"type", "system/load"}, {"warn", 500}, {"crit", 1000}}}}};
  return config.dump(2);
}

TEST_CASE("PostgreSQL: db migrate, the real agent through a collector on PostgreSQL, a SIGKILL",
          "[postgres-e2e]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;

  // A password on the command line is refused before anything is sent.
  auto with_password =
      run({VIGIE_COLLECTOR_BIN, "db", "migrate", "--db",
           "postgresql://vigie:hunter2@127.0.0.1:" + std::to_string(server.port()) + "/" + db});
  CHECK(with_password.exit_code == 1);
  CHECK_THAT(with_password.err, Catch::Contains("password file"));
  CHECK_THAT(with_password.err, !Catch::Contains("hunter2"));

  auto migrated = run({VIGIE_COLLECTOR_BIN, "db", "migrate", "--db", conninfo});
  INFO(migrated.err);
  REQUIRE(migrated.exit_code == 0);
  CHECK(server.psql(db, "SELECT version FROM vigie_schema") ==
        std::to_string(collector::pg::kSchemaVersion));

  testing::TempDir dir;
  Collector collector(dir, {}, conninfo);
  const auto agent_token = dir / "agent.token";
  const std::string viewer = collector.token("viewer");
  const auto config = dir.write("agent.json", agent_config(collector, agent_token));
  auto enrolled = run({VIGIE_AGENT_BIN, "enroll", "--config", config.string(), "--enroll-token",
                       collector.enroll_token("pg-site")});
  INFO(enrolled.err);
  REQUIRE(enrolled.exit_code == 0);
  testing::Child agent(
      {VIGIE_AGENT_BIN, "run", "--config", config.string(), "--state-dir", dir.path().string()},
      dir / "agent.log");

  const auto checks_of_agent = [&] {
    auto reply = collector.get("/api/v1/checks?agent=pg-agent-01", viewer);
    if (reply.status != 200) return json::array();
    return json::parse(reply.body, nullptr, false).value("checks", json::array());
  };
  // The API shows a report's results from inside its transaction, before COMMIT
  // returns: the checks are waited for in PostgreSQL too, committed, so that the kill
  // below cannot fall between the two (on a loaded machine it did, and nothing the
  // agent had seen acknowledged was lost: there was nothing yet).
  const auto committed_checks = [&] {
    auto n = server.psql(db,
                         "SELECT count(*) FROM checks c JOIN agents a ON a.id = c.agent_id "
                         "WHERE a.name = 'pg-agent-01'");
    return n ? std::stoi(*n) : 0;
  };
  const bool all_there = testing::eventually(
      [&] { return checks_of_agent().size() >= 4 && committed_checks() >= 4; }, 15s);
  INFO("collector log:\n" << collector.child().log() << "\nagent log:\n" << agent.log());
  REQUIRE(all_there);

  // Killed without warning, the collector loses nothing it acknowledged: every report
  // the agent saw answered 2xx is in PostgreSQL, once.
  collector.stop(true);
  agent.stop(SIGTERM);
  const std::string batches = *server.psql(db, "SELECT count(*) FROM batches");
  CHECK(std::stoi(batches) > 0);
  CHECK(server.psql(db, "SELECT count(DISTINCT (agent_id, seq)) FROM batches") == batches);
  collector.start();
  const json after = checks_of_agent();
  REQUIRE(after.size() >= 4);
  bool critical = false;
  for (const auto& c : after)
    critical |= c.value("summary", "").find("disk on fire") != std::string::npos;
  CHECK(critical);
  collector.stop(false);

  // A schema newer than this collector: it refuses to start, and says why.
  REQUIRE(server.psql(db, "UPDATE vigie_schema SET version = 99"));
  auto refused = run({VIGIE_COLLECTOR_BIN, "--listen", "127.0.0.1:0", "--db", conninfo});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("newer than this collector"));
}

}  // namespace
}  // namespace vigie
