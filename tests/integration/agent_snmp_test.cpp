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
           {{"version", "2c"}, {"community", "sophos-xg-healthy"}, {"timeout", "2s"},
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
