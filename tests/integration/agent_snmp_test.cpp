// The real agent polling a simulated firewall: its SNMP goes through vigie-snmp, the
// helper beside it, and net-snmp (with the OpenSSL it loads) is never part of it.

#include <filesystem>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/collector_fixture.hpp"
#include "tests/support/snmpsim.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using Catch::Contains;
using nlohmann::json;

std::filesystem::path write_config(testing::TempDir& dir, int port) {
  const json config = {
      {"agent", {{"id", "t"}, {"site", "s"}}},
      {"collector", {{"url", "http://127.0.0.1:9"}}},
      {"devices",
       {{"fw",
         {{"host", "127.0.0.1"},
          {"port", port},
          {"snmp",
           {{"version", "2c"},
            {"community", "sophos-xg-healthy"},
            {"timeout", "2s"},
            {"retries", 1}}}}}}},
      {"checks", {{{"name", "fw"}, {"type", "firewall/sophos"}, {"device", "fw"}}}}};
  return dir.write("agent.json", config.dump(1));
}

json check_once(const std::filesystem::path& agent, const std::filesystem::path& config) {
  const auto r = testing::run({agent.string(), "check", "--config", config.string(), "--json"});
  INFO(r.out << r.err);
  const json results = json::parse(r.out, nullptr, false);
  REQUIRE(results.is_array());
  REQUIRE(results.size() == 1);
  return results[0];
}

TEST_CASE("Agent: polls SNMP devices through vigie-snmp, and says so when it is missing",
          "[agent][snmp]") {
  testing::SnmpSim sim({{"sophos-xg-healthy", testing::fixture_recording("sophos-xg-healthy")}});
  testing::TempDir dir;
  const auto config = write_config(dir, sim.port());

  // The device's own answers, as the in-process poll gives them in the plugin tests.
  const json result = check_once(VIGIE_AGENT_BIN, config);
  INFO(result.dump());
  CHECK(result["state"] != "UNKNOWN");
  CHECK_THAT(result["summary"].get<std::string>(), Contains("SFOS 20.0.2 MR-2"));

  // A copy of the agent alone: the check says what is missing, the agent goes on.
  const auto lone = dir / "vigie-agent";
  std::filesystem::copy_file(VIGIE_AGENT_BIN, lone);
  std::filesystem::permissions(lone, std::filesystem::perms(0755));
  const json missing = check_once(lone, config);
  INFO(missing.dump());
  CHECK(missing["state"] == "UNKNOWN");
  CHECK_THAT(missing["summary"].get<std::string>(),
             Contains("the SNMP helper vigie-snmp is not installed") &&
                 Contains((dir / "vigie-snmp").string()));
}

TEST_CASE("Agent: a helper that fails or answers garbage makes the check UNKNOWN, saying why",
          "[agent][snmp]") {
  testing::TempDir dir;
  const auto config = write_config(dir, testing::free_udp_port());
  const auto agent = dir / "vigie-agent";
  std::filesystem::copy_file(VIGIE_AGENT_BIN, agent);
  std::filesystem::permissions(agent, std::filesystem::perms(0755));
  struct Case {
    const char* helper;  // the body of a vigie-snmp put beside the agent
    const char* why;
  };
  for (const Case& c : {
           Case{"echo 'vigie-snmp: broken on purpose' >&2; exit 1",
                "the SNMP helper exited with status 1: vigie-snmp: broken on purpose"},
           Case{"echo 'not json'", "SNMP helper's answer"},
           Case{"echo '{\"job\": 7, \"values\": [], \"taken\": 0, \"taken_wall\": 0}'",
                "job 7 unknown or repeated"},
           Case{"kill -9 $$", "the SNMP helper was killed by signal 9"},
       }) {
    INFO(c.helper);
    dir.write("vigie-snmp", std::string("#!/bin/sh\ncat > /dev/null\n") + c.helper + "\n", true);
    const json result = check_once(agent, config);
    INFO(result.dump());
    CHECK(result["state"] == "UNKNOWN");
    CHECK_THAT(result["summary"].get<std::string>(), Contains(c.why));
  }
}

TEST_CASE("Agent: its program needs neither net-snmp nor OpenSSL", "[agent][snmp]") {
  const auto r = testing::run({"/usr/bin/readelf", "--dynamic", VIGIE_AGENT_BIN});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* library : {"libnetsnmp", "libcrypto", "libssl"}) {
    INFO(library);
    CHECK_THAT(r.out, !Contains(library));
  }
}

}  // namespace
}  // namespace vigie
