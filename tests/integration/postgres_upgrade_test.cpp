// A rolling upgrade of vigie-collector processes on one PostgreSQL database: a newer
// collector migrates the schema while an older one still serves. The older one must
// stop writing at once: reports answered 503 (the agent keeps them), /healthz failing
// (a balancer routes around it), vigie_schema_outdated 1 and vigie_leader 0, one error
// line in its log saying what to do; the report it refused is stored once by an
// upgraded collector the agent sends it to next.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "collector/postgres/schema.hpp"
#include "common/time.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;

json report(const std::string& agent, std::uint64_t seq) {
  return {{"protocol", 1},
          {"agent", {{"id", agent}, {"site", "upgrade-site"}}},
          {"seq", seq},
          {"sent", wall_ms()},
          {"results",
           {{{"name", "load"},
             {"check", "system/load"},
             {"status", 0},
             {"summary", "load 0.1"},
             {"ts", wall_ms()},
             {"duration_ms", 1},
             {"interval_s", 60},
             {"max_attempts", 1}}}}};
}

// A metric's value in a collector's /metrics; nullopt when it does not answer.
std::optional<double> metric(Collector& c, const std::string& token, const std::string& name) {
  const auto reply = c.get("/metrics", token);
  if (reply.status != 200) return std::nullopt;
  const auto at = reply.body.find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(reply.body.substr(at + name.size() + 2));
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("PostgreSQL: a collector whose database a newer one migrates stops serving writes",
          "[postgres-upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir old_dir;
  Collector old(old_dir, {"--lease", "1s"}, conninfo);
  const std::string viewer = old.token("viewer");
  const std::string agent = old.enroll("upgrade-agent", "upgrade-site");
  REQUIRE(old.post("/api/v1/reports", report("upgrade-agent", 1).dump(), agent).status == 200);
  REQUIRE(testing::eventually([&] { return metric(old, viewer, "vigie_leader") == 1; }, 5s));
  CHECK(old.get("/healthz", "").status == 200);
  CHECK(metric(old, viewer, "vigie_schema_outdated") == 0);

  // What a newer collector's migration step does: the version bumped under the
  // migrations' lock, notified.
  const std::string next = std::to_string(collector::pg::kSchemaVersion + 1);
  REQUIRE(server.psql(db, "BEGIN; SELECT pg_advisory_xact_lock(" +
                              std::to_string(collector::pg::kSchemaLock) +
                              "); UPDATE vigie_schema SET version = " + next +
                              "; SELECT pg_notify('vigie_schema', '" + next + "'); COMMIT;"));
  CHECK(testing::eventually([&] { return old.get("/healthz", "").status == 503; }, 3s));
  CHECK_THAT(old.get("/healthz", "").body, Catch::Contains("upgrade it"));
  CHECK(metric(old, viewer, "vigie_schema_outdated") == 1);
  CHECK(testing::eventually([&] { return metric(old, viewer, "vigie_leader") == 0; }, 3s));
  for (int i = 0; i < 3; ++i) {
    const auto refused = old.post("/api/v1/reports", report("upgrade-agent", 2).dump(), agent);
    INFO(refused.body);
    CHECK(refused.status == 503);
  }
  CHECK(server.psql(db, "SELECT count(*) FROM batches") == "1");
  CHECK(count(old.child().log(), "by a newer collector; this one knows") == 1);

  // The agent sends the report again, through the balancer, to an upgraded collector:
  // stored once. (The same binary, on the database put back to its own version, stands
  // for it: a newer one would find its own version there.)
  REQUIRE(server.psql(
      db, "UPDATE vigie_schema SET version = " + std::to_string(collector::pg::kSchemaVersion)));
  testing::TempDir new_dir;
  Collector upgraded(new_dir, {"--lease", "1s"}, conninfo);
  const auto stored = upgraded.post("/api/v1/reports", report("upgrade-agent", 2).dump(), agent);
  INFO(stored.body);
  CHECK(stored.status == 200);
  CHECK(server.psql(db, "SELECT count(*) FROM batches") == "2");
  // The old one stays out until it is upgraded and started again.
  CHECK(old.get("/healthz", "").status == 503);
  CHECK(old.post("/api/v1/reports", report("upgrade-agent", 3).dump(), agent).status == 503);
}

}  // namespace
}  // namespace vigie
