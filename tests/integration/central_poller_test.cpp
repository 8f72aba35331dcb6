// A central poller end to end on loopback: the real vigie-agent, its
// antivirus/sophos-central check polling the Sophos Central test server over HTTPS
// (tests/support/sophos_central_server.py), and reporting to a real vigie-collector.

#include <filesystem>
#include <map>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/sophos_central_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using namespace std::chrono_literals;
using Catch::Contains;
using Catch::StartsWith;
using nlohmann::json;

const std::string kMairie = "0afef0e6-5df7-4cc0-b8d4-068cfd6820d1";
const std::string kCcas = "7d565595-e281-4128-9711-c97eb1d202c5";
const std::string kTrial = "c0ffee00-0000-4000-8000-000000000004";

json central_scenario() {
  return {{"client_id", "vigie-poller"},
          {"client_secret", "s3cret-value"},
          {"id_type", "partner"},
          {"id", "5ac55058-622d-4929-8e5d-8ff554f312fe"},
          {"tenant_page_size", 2},
          {"endpoint_page_size", 2},
          {"tenants",
           {{{"id", kMairie},
             {"name", "Mairie de Saint-Exemple"},
             {"region", 0},
             {"endpoints",
              {{{"hostname", "SRV-MAIRIE-01"}, {"type", "server"}},
               {{"hostname", "PC-ACCUEIL"},
                {"health", "bad"},
                {"threats", "bad"},
                {"services", "bad"},
                {"stopped", {"Sophos File Scanner"}}}}},
             {"alerts", json::array()}},
            {{"id", kCcas},
             {"name", "CCAS de Village-Test"},
             {"region", 1},
             {"endpoints", {{{"hostname", "PC-CCAS-1"}}, {{"hostname", "PC-CCAS-2"}}}}},
            {{"id", kTrial},
             {"name", "Ecole Trial"},
             {"region", 1},
             {"forbidden", true},
             {"endpoints", {{{"hostname", "PC-ECOLE"}}}}},
            {{"id", "c0ffee00-0000-4000-8000-000000000005"},
             {"name", "SIVOM du Val"},
             {"region", 0},
             {"endpoints", {{{"hostname", "PC-SIVOM"}}}}}}}};
}

const json* find(const json& checks, const std::string& id) {
  for (const auto& c : checks) {
    if (c.value("check", "") == id) return &c;
  }
  return nullptr;
}

TEST_CASE("CentralPoller: the agent polls Sophos Central and its results reach the collector",
          "[central][e2e]") {
  testing::TempDir dir;
  testing::Collector collector(dir);
  testing::SophosCentralServer central(dir.path(), central_scenario());
  const auto secret = dir.write_secret("central.secret", "s3cret-value\n");
  const auto agent_token = dir / "agent.token";
  const json sites = {{kMairie, "saint-exemple"},
                      {"CCAS de Village-Test", "village-test"},
                      {kTrial, "ecole-trial"}};
  const json config = {{"agent", {{"id", "central-poller"}, {"site", "centre"}}},
                       {"collector",
                        {{"url", collector.url()},
                         {"ca_file", collector.ca()},
                         {"token_file", agent_token.string()},
                         {"send_interval", "1s"}}},
                       {"checks",
                        {{{"name", "sophos-central"},
                          {"type", "antivirus/sophos-central"},
                          {"interval", "10s"},
                          {"timeout", "10s"},
                          {"client_id", "vigie-poller"},
                          {"client_secret_file", secret.string()},
                          {"auth_url", central.auth_url()},
                          {"api_url", central.api_url()},
                          {"ca_file", central.ca()},
                          {"sites", sites}}}}};
  const auto config_file = dir.write("agent.json", config.dump(2));

  // Once, by hand: each tenant's result names its member site.
  auto once = testing::run(
      {VIGIE_AGENT_BIN, "check", "--config", config_file.string(), "--json", "sophos-central"});
  INFO(once.out << once.err);
  const json results = json::parse(once.out, nullptr, false);
  REQUIRE(results.is_array());
  REQUIRE(results.size() == 4);
  CHECK(results[0]["check"] == "antivirus/sophos-central");
  CHECK_FALSE(results[0].contains("site"));
  CHECK(results[0]["state"] == "WARNING");
  CHECK_THAT(results[0]["summary"].get<std::string>(), Contains("1 tenant without a site: SIVOM"));
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"antivirus/sophos-central:" + kMairie, {"saint-exemple", "CRITICAL"}},
      {"antivirus/sophos-central:CCAS de Village-Test", {"village-test", "OK"}},
      {"antivirus/sophos-central:" + kTrial, {"ecole-trial", "UNKNOWN"}}};
  for (std::size_t i = 1; i < results.size(); ++i) {
    const auto it = expected.find(results[i]["check"].get<std::string>());
    REQUIRE(it != expected.end());
    CHECK(results[i]["site"] == it->second.first);
    CHECK(results[i]["state"] == it->second.second);
    CHECK(results[i]["name"] == "sophos-central");
  }

  // As a service, reporting to the collector.
  auto enrolled = testing::run({VIGIE_AGENT_BIN, "enroll", "--config", config_file.string(),
                                "--enroll-token", collector.enroll_token("centre")});
  INFO(enrolled.err);
  REQUIRE(enrolled.exit_code == 0);
  testing::Child agent({VIGIE_AGENT_BIN, "run", "--config", config_file.string(), "--state-dir",
                        dir.path().string()},
                       dir / "agent.log");
  const std::string viewer = collector.token("viewer");
  json checks;
  const bool arrived = testing::eventually(
      [&] {
        const auto reply = collector.get("/api/v1/checks", viewer);
        if (reply.status != 200) return false;
        checks = json::parse(reply.body, nullptr, false).value("checks", json::array());
        if (find(checks, "antivirus/sophos-central") == nullptr) return false;
        for (const auto& [id, want] : expected) {
          if (find(checks, id) == nullptr) return false;
        }
        return true;
      },
      30s);
  INFO("agent log:\n" << agent.log() << "\ncollector log:\n" << collector.child().log());
  REQUIRE(arrived);
  for (const auto& [id, want] : expected) {
    const json& c = *find(checks, id);
    INFO(c.dump());
    CHECK(c["state"] == want.second);
    CHECK(c["agent"] == "central-poller");
    // Filed under the member site once the collector knows results[].site; under the
    // poller's site before.
    const std::string site = c["site"];
    CHECK((site == want.first || site == "centre"));
    if (site == want.first) {
      const auto member = collector.get("/api/v1/site?name=" + want.first, viewer);
      CHECK(member.status == 200);
      CHECK_THAT(member.body, Contains(id));
    }
  }
  CHECK_THAT((*find(checks, "antivirus/sophos-central:" + kMairie))["summary"].get<std::string>(),
             StartsWith("2 endpoints, worst health bad; bad: PC-ACCUEIL (threats bad, Sophos "
                        "File Scanner stopped)"));
  CHECK_THAT((*find(checks, "antivirus/sophos-central:" + kTrial))["summary"].get<std::string>(),
             StartsWith("no access (403)"));
}

}  // namespace
}  // namespace vigie
