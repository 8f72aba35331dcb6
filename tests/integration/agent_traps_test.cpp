// SNMP traps from end to end, with real processes: net-snmp's snmptrap sends to the real
// agent's receiver, the agent sends the trap to a real collector, and the trap is in the
// check's history and the events feed; the device (snmpsim) is polled again at once.

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/snmpsim.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using Catch::Contains;
using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;

constexpr const char* kFirmwareOid = "1.3.6.1.4.1.2604.5.1.1.3.0";
constexpr const char* kCommunity = "sophos-xg-healthy";

json get_json(Collector& collector, const std::string& path, const std::string& token) {
  const auto reply = collector.get(path, token);
  if (reply.status != 200) return nullptr;
  return json::parse(reply.body, nullptr, false);
}

json traps_of(const json& events) {
  json out = json::array();
  if (!events.is_array()) return out;
  for (const auto& e : events) {
    if (e.value("kind", "") == "trap") out.push_back(e);
  }
  return out;
}

TEST_CASE(
    "Traps end to end: snmptrap, the agent, the collector's history and events, and a "
    "poll of the device at once",
    "[traps][e2e]") {
  // The firewall's firmware version can be changed with an SNMP SET (snmpsim's
  // writecache), so that a poll is told apart from the agent's cached answer.
  testing::SnmpSim sim(
      {{kCommunity,
        testing::edit_recording(testing::fixture_recording("sophos-xg-healthy"),
                                {{kFirmwareOid, "4:writecache|value=20.0.2 MR-2-Build378"}})}});
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  const auto token =
      dir.write_secret("agent.token", collector.enroll("trap-agent", "it-site") + "\n");
  const int trap_port = testing::free_udp_port();
  const json config = {
      {"agent", {{"id", "trap-agent"}, {"site", "it-site"}}},
      {"collector",
       {{"url", collector.url()},
        {"ca_file", collector.ca()},
        {"token_file", token.string()},
        {"send_interval", "1s"}}},
      {"devices",
       {{"fw",
         {{"host", "127.0.0.1"},
          {"port", sim.port()},
          {"max_age", "1h"},
          {"snmp", {{"version", "2c"}, {"community", kCommunity}, {"timeout", "2s"}}}}}}},
      {"traps",
       {{"listen", "127.0.0.1:" + std::to_string(trap_port)},
        {"poll_delay", "0s"},
        {"poll_gap", "1s"}}},
      // Run once an hour: a second result within the test comes from the trap.
      {"checks",
       {{{"name", "firewall"},
         {"type", "firewall/sophos"},
         {"device", "fw"},
         {"interval", "1h"}}}}};
  const auto config_file = dir.write("agent.json", config.dump(1));
  testing::Child agent({VIGIE_AGENT_BIN, "run", "--config", config_file.string(), "--state-dir",
                        dir.path().string()},
                       dir / "agent.log");
  const auto logs = [&] {
    return "collector log:\n" + collector.child().log() + "\nagent log:\n" + agent.log();
  };

  // The first poll, as the agent starts.
  std::string check_id;
  json first;
  const bool polled_once = testing::eventually(
      [&] {
        const json checks = get_json(collector, "/api/v1/checks?agent=trap-agent", viewer);
        if (!checks.is_object()) return false;
        for (const auto& c : checks["checks"]) {
          if (c.value("name", "") == "firewall") {
            check_id = c["check"];
            first = c;
            return true;
          }
        }
        return false;
      },
      20s);
  if (!polled_once) FAIL(logs());
  CHECK_THAT(first["summary"].get<std::string>(), Contains("SFOS 20.0.2 MR-2"));
  const std::string check_path = "/api/v1/check?agent=trap-agent&check=" + check_id;

  // The device changes; the agent would not see it for an hour...
  auto set = testing::run({"/usr/bin/snmpset", "-v2c", "-c", kCommunity,
                           "127.0.0.1:" + std::to_string(sim.port()), kFirmwareOid, "s",
                           "21.0.0 GA-Build169"});
  INFO(set.out << set.err);
  REQUIRE(set.exit_code == 0);
  // ...but it sends a trap: linkDown of its port 3.
  auto sent = testing::run({"/usr/bin/snmptrap", "-v2c", "-c", kCommunity,
                            "127.0.0.1:" + std::to_string(trap_port), "", "1.3.6.1.6.3.1.1.5.3",
                            "1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.2.2.1.8.3", "i", "2"});
  INFO(sent.out << sent.err);
  REQUIRE(sent.exit_code == 0);

  // In the check's history, decoded.
  json trap;
  REQUIRE(testing::eventually(
      [&] {
        const json check = get_json(collector, check_path, viewer);
        if (!check.is_object()) return false;
        const json traps = traps_of(check["history"]);
        if (traps.empty()) return false;
        trap = traps[0];
        return true;
      },
      15s));
  CHECK(trap["summary"] == "linkDown from fw: ifIndex.3=3, ifOperStatus.3=down(2)");
  CHECK(trap["site"] == "it-site");
  CHECK(trap["trap"]["name"] == "linkDown");
  CHECK(trap["trap"]["oid"] == "1.3.6.1.6.3.1.1.5.3");
  CHECK(trap["trap"]["device"] == "fw");
  CHECK(trap["trap"]["version"] == "2c");
  CHECK_THAT(trap["trap"]["source"].get<std::string>(), Contains("127.0.0.1:"));

  // In the events feed, once.
  const json feed = get_json(collector, "/api/v1/events?after=0&timeout=0s", viewer);
  REQUIRE(feed.is_object());
  const json traps = traps_of(feed["events"]);
  REQUIRE(traps.size() == 1);
  CHECK(traps[0]["id"] == trap["id"]);
  CHECK(traps[0]["check"] == check_id);

  // And the device polled again within seconds, not at the next hour.
  json polled;
  const bool fresh = testing::eventually(
      [&] {
        polled = get_json(collector, check_path, viewer);
        return polled.is_object() &&
               polled["summary"].get<std::string>().find("SFOS 21.0.0") != std::string::npos;
      },
      15s);
  INFO(polled.dump());
  CHECK(fresh);
  CHECK(polled["ts"].get<std::int64_t>() > first["ts"].get<std::int64_t>());

  auto stopped = agent.stop(SIGTERM);
  REQUIRE(stopped);
  CHECK(WEXITSTATUS(*stopped) == 0);
}

}  // namespace
}  // namespace vigie
