// End to end on loopback: the real vigie-collector, vigie-agent and vigie-console
// binaries, with Debian's monitoring-plugins as external checks.

#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/process.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::run;
using testing::trim;

constexpr const char* kPlugins = "/usr/lib/nagios/plugins";

json console_json(Collector& collector, const std::filesystem::path& token) {
  auto r = run({VIGIE_CONSOLE_BIN, "--url", collector.url(), "--ca-file", collector.ca(),
                "--token-file", token.string(), "--once", "--json"});
  if (r.ending != plugins::ProcessResult::Ending::kExited || r.exit_code != 0) return nullptr;
  return json::parse(r.out, nullptr, false);
}

std::string agent_config(const Collector& collector, const std::filesystem::path& token) {
  json config = {
      {"agent", {{"id", "it-agent-01"}, {"site", "it-site"}}},
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
        {{"name", "nagios-load"},
         {"type", "external"},
         {"command",
          {std::string(kPlugins) + "/check_load", "-w", "1000,1000,1000", "-c", "2000,2000,2000"}}},
        // Thresholds no busy test machine reaches: the order below expects one problem.
        {{"name", "load"}, {"type", "system/load"}, {"warn", 500}, {"crit", 1000}}}}};
  // Comments are allowed in the agent's configuration: make sure they stay so.
  return "// written by the end-to-end test\n" + config.dump(2);
}

const json* find_check(const json& checks, const std::string& name) {
  for (const auto& c : checks)
    if (c.value("name", "") == name) return &c;
  return nullptr;
}

TEST_CASE("EndToEnd: agent results reach the console through the collector", "[e2e]") {
  testing::TempDir dir;
  Collector collector(dir);
  // The agent enrolls itself with a one-time token, as a technician does on site.
  const auto agent_token = dir / "agent.token";
  const auto viewer = collector.token_file("viewer");
  const auto config = dir.write("agent.json", agent_config(collector, agent_token));
  auto enrolled = run({VIGIE_AGENT_BIN, "enroll", "--config", config.string(), "--enroll-token",
                       collector.enroll_token("it-site")});
  INFO(enrolled.err);
  REQUIRE(enrolled.exit_code == 0);
  CHECK((std::filesystem::status(agent_token).permissions() & std::filesystem::perms::all) ==
        std::filesystem::perms(0600));
  testing::Child agent(
      {VIGIE_AGENT_BIN, "run", "--config", config.string(), "--state-dir", dir.path().string()},
      dir / "agent.log");

  json checks;
  const bool all_there = testing::eventually(
      [&] {
        checks = console_json(collector, viewer);
        // The four checks, and the collector's heartbeat row for the agent (the
        // agent's own agent/self row may come too).
        if (!checks.is_array()) return false;
        for (const char* name :
             {"dummy-ok", "dummy-critical", "nagios-load", "load", "heartbeat"}) {
          if (find_check(checks, name) == nullptr) return false;
        }
        return true;
      },
      15s);
  INFO("collector log:\n" << collector.child().log() << "\nagent log:\n" << agent.log());
  REQUIRE(all_there);

  // Most severe first.
  CHECK(checks[0]["name"] == "dummy-critical");
  CHECK(checks[0]["state"] == "CRITICAL");
  CHECK(checks[0]["summary"].get<std::string>().find("disk on fire") != std::string::npos);
  CHECK(checks[0]["site"] == "it-site");
  CHECK(checks[0]["agent"] == "it-agent-01");

  const json* ok = find_check(checks, "dummy-ok");
  REQUIRE(ok);
  CHECK((*ok)["status"] == 0);
  CHECK((*ok)["check"] == "external:dummy-ok");

  const json* nagios_load = find_check(checks, "nagios-load");
  REQUIRE(nagios_load);
  CHECK((*nagios_load)["state"] == "OK");
  bool has_load1 = false;
  for (const auto& m : (*nagios_load)["metrics"]) has_load1 |= m["name"] == "load1";
  CHECK(has_load1);

  const json* heartbeat = find_check(checks, "heartbeat");
  REQUIRE(heartbeat);
  CHECK((*heartbeat)["check"] == "vigie/heartbeat");
  CHECK((*heartbeat)["state"] == "OK");

  // The agent's health as it reported it: its backlog and its clock.
  std::string viewer_secret;
  std::getline(std::ifstream(viewer), viewer_secret);
  const auto agents = collector.get("/api/v1/agents", viewer_secret);
  REQUIRE(agents.status == 200);
  const json agent_list = json::parse(agents.body)["agents"];
  REQUIRE(agent_list.size() == 1);
  CHECK(agent_list[0]["version"] == VIGIE_VERSION);
  CHECK(agent_list[0]["spool_depth"].is_number());
  CHECK(agent_list[0]["spool_dropped"] == 0);
  CHECK(std::abs(agent_list[0]["clock_skew_ms"].get<std::int64_t>()) < 5000);

  const json* builtin = find_check(checks, "load");
  REQUIRE(builtin);
  CHECK((*builtin)["check"] == "system/load");

  // The plain-text table shows the same thing for a human.
  auto text = run({VIGIE_CONSOLE_BIN, "--url", collector.url(), "--ca-file", collector.ca(),
                   "--token-file", viewer.string(), "--once"});
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("dummy-critical") && Catch::Contains("CRITICAL"));

  // SIGTERM stops both cleanly.
  auto agent_status = agent.stop(SIGTERM);
  REQUIRE(agent_status);
  CHECK(WIFEXITED(*agent_status));
  CHECK(WEXITSTATUS(*agent_status) == 0);
  auto collector_status = collector.child().stop(SIGTERM);
  REQUIRE(collector_status);
  CHECK(WEXITSTATUS(*collector_status) == 0);
}

json report(std::uint64_t seq, const std::string& summary) {
  return {{"protocol", 1},
          {"agent", {{"id", "replayer"}, {"site", "it-site"}}},
          {"seq", seq},
          {"results",
           {{{"name", "backup"},
             {"check", "external:backup"},
             {"status", 1},
             {"summary", summary},
             {"metrics", json::array()},
             {"ts", 1'700'000'000'000},
             {"duration_ms", 5},
             {"interval_s", 60}}}}};
}

TEST_CASE("EndToEnd: a replayed batch is answered with success and stored once", "[e2e]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string token = collector.enroll("replayer", "it-site");
  const std::string viewer = collector.token("viewer");

  auto first = collector.post("/api/v1/reports", report(1, "first").dump(), token);
  REQUIRE(first.status == 200);
  CHECK(json::parse(first.body)["status"] == "stored");
  auto replay = collector.post("/api/v1/reports", report(1, "replayed").dump(), token);
  REQUIRE(replay.status == 200);
  CHECK(json::parse(replay.body)["status"] == "duplicate");

  auto checks = collector.get("/api/v1/checks?agent=replayer", viewer);
  REQUIRE(checks.status == 200);
  const json list = json::parse(checks.body)["checks"];
  REQUIRE(list.size() == 2);  // the check and the agent's heartbeat
  const json& row = list[0]["check"] == "vigie/heartbeat" ? list[1] : list[0];
  CHECK(row["summary"] == "first");
}

TEST_CASE("EndToEnd: bad requests get a JSON error and the collector stays up", "[e2e]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string token = collector.enroll("replayer", "it-site");

  auto garbage = collector.post("/api/v1/reports", "{\"protocol\":1,\"agent\":", token);
  CHECK(garbage.status == 400);
  CHECK_THAT(json::parse(garbage.body)["error"].get<std::string>(),
             Catch::Contains("malformed JSON"));

  auto oversized = collector.post("/api/v1/reports", std::string(17 * 1024 * 1024, '['), token);
  // The server may answer 413 or, having answered, close before the body is sent.
  if (oversized.status != 0) CHECK(oversized.status == 413);

  json no_seq = report(1, "x");
  no_seq.erase("seq");
  auto missing = collector.post("/api/v1/reports", no_seq.dump(), token);
  CHECK(missing.status == 400);
  CHECK_THAT(json::parse(missing.body)["error"].get<std::string>(), Catch::Contains("seq"));

  auto unauthenticated = collector.post("/api/v1/reports", report(2, "x").dump(), "");
  CHECK(unauthenticated.status == 401);

  auto health = testing::http_request("GET", collector.url() + "/healthz", {}, {}, collector.ca());
  CHECK(health.status == 200);
  const std::string viewer = collector.token("viewer");
  auto checks = collector.get("/api/v1/checks", viewer);
  CHECK(json::parse(checks.body)["checks"].empty());
}

TEST_CASE("EndToEnd: enrollment refuses a used token and says why", "[e2e]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string once = collector.enroll_token("it-site");
  const auto enroll = [&](const std::string& agent) {
    return run({VIGIE_AGENT_BIN, "enroll", "--collector", collector.url(), "--ca-file",
                collector.ca(), "--token-file", (dir / (agent + ".token")).string(), "--agent-id",
                agent, "--site", "it-site", "--enroll-token", once});
  };
  CHECK(enroll("first").exit_code == 0);
  auto second = enroll("second");
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.err, Catch::Contains("403") && Catch::Contains("already used"));
  CHECK_FALSE(std::filesystem::exists(dir / "second.token"));
}

// The agent is a static program: it resolves names with glibc's files and dns services
// only, whatever nsswitch.conf lists (agent/main.cpp).
TEST_CASE("EndToEnd: the agent reaches its collector by name", "[e2e]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string url = collector.url();
  const std::string by_name = "https://localhost" + url.substr(url.rfind(':'));
  auto r = run({VIGIE_AGENT_BIN, "enroll", "--collector", by_name, "--ca-file", collector.ca(),
                "--token-file", (dir / "a.token").string(), "--agent-id", "a", "--site", "it-site",
                "--enroll-token", collector.enroll_token("it-site")});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(std::filesystem::exists(dir / "a.token"));
}

TEST_CASE("EndToEnd: the agent refuses an invalid configuration with file, field and reason",
          "[e2e]") {
  testing::TempDir dir;
  const auto config = dir.write("agent.json", R"({
    "agent": {"id": "a", "site": "s"},
    "collector": {"url": "http://127.0.0.1:1"},
    "checks": [ {"name": "x", "type": "sytem/load"} ]
  })");
  auto r = run({VIGIE_AGENT_BIN, "run", "--config", config.string()});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains(config.string()) && Catch::Contains("checks[0].type") &&
                        Catch::Contains("system/load"));
}

TEST_CASE("EndToEnd: the console says clearly when the collector cannot be reached", "[e2e]") {
  auto r = run({VIGIE_CONSOLE_BIN, "--url", "http://127.0.0.1:1", "--once"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("127.0.0.1:1"));
}

}  // namespace
}  // namespace vigie
