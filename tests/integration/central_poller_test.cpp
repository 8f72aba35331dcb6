// A central poller end to end on loopback: the real vigie-agent, its
// antivirus/sophos-central check polling the Sophos Central test server over HTTPS
// (tests/support/sophos_central_server.py), and reporting to a real vigie-collector.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/net_namespace.hpp"
#include "tests/support/peers.hpp"
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
  auto enrolled =
      testing::run({VIGIE_AGENT_BIN, "enroll", "--config", config_file.string(), "--enroll-token",
                    collector.enroll_token("centre", "saint-exemple,village-test,ecole-trial")});
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
    // Filed under the member site, the poller as its source.
    CHECK(c["site"] == want.first);
    CHECK(c["central"] == true);
    const auto member = collector.get("/api/v1/site?name=" + want.first, viewer);
    REQUIRE(member.status == 200);
    const json site = json::parse(member.body);
    const json* row = find(site["checks"], id);
    REQUIRE(row != nullptr);
    CHECK((*row)["agent"] == "central-poller");
    CHECK(site["agents"] == 0);  // a site with only central results exists all the same
  }
  // The poller's own result stays under its own site.
  CHECK((*find(checks, "antivirus/sophos-central"))["site"] == "centre");
  const json agents = json::parse(collector.get("/api/v1/agents", viewer).body)["agents"];
  REQUIRE(agents.size() == 1);
  CHECK(agents[0]["poller"] == true);
  CHECK(agents[0]["member_sites"] == 3);

  // After a restart, from the database: each still under its member site.
  CHECK(agent.stop(SIGTERM));  // what follows comes from the database, not new reports
  collector.restart(false);
  const json again =
      json::parse(collector.get("/api/v1/site?name=saint-exemple", viewer).body, nullptr, false)
          .value("checks", json::array());
  const json* row = find(again, "antivirus/sophos-central:" + kMairie);
  REQUIRE(row != nullptr);
  CHECK((*row)["agent"] == "central-poller");
  CHECK((*row)["central"] == true);
  const json restored = json::parse(collector.get("/api/v1/agents", viewer).body)["agents"];
  REQUIRE(restored.size() == 1);
  CHECK(restored[0]["member_sites"] == 3);
  CHECK_THAT((*find(checks, "antivirus/sophos-central:" + kMairie))["summary"].get<std::string>(),
             StartsWith("2 endpoints, worst health bad; bad: PC-ACCUEIL (threats bad, Sophos "
                        "File Scanner stopped)"));
  CHECK_THAT((*find(checks, "antivirus/sophos-central:" + kTrial))["summary"].get<std::string>(),
             StartsWith("no access (403)"));
}

// A real vigie-agent with its own folder (configuration, token, spool), enrolled with
// `enroll_token`, running until stop().
class Agent {
 public:
  Agent(const testing::TempDir& dir, testing::Collector& collector, const std::string& id,
        const std::string& site, const json& checks, const std::string& enroll_token)
      : folder_(dir / id) {
    std::filesystem::create_directories(folder_);
    const json config = {{"agent", {{"id", id}, {"site", site}}},
                         {"collector",
                          {{"url", collector.url()},
                           {"ca_file", collector.ca()},
                           {"token_file", (folder_ / "agent.token").string()},
                           {"send_interval", "1s"}}},
                         {"checks", checks}};
    config_ = folder_ / "agent.json";
    std::ofstream(config_) << config.dump(2);
    auto enrolled = testing::run(
        {VIGIE_AGENT_BIN, "enroll", "--config", config_.string(), "--enroll-token", enroll_token});
    INFO(enrolled.err);
    REQUIRE(enrolled.exit_code == 0);
    start();
  }
  void start() {
    child_.emplace(std::vector<std::string>{VIGIE_AGENT_BIN, "run", "--config", config_.string(),
                                            "--state-dir", folder_.string()},
                   folder_ / "agent.log");
  }
  void stop() {
    REQUIRE(child_);
    CHECK(child_->stop(SIGTERM, 10s));
  }
  std::string log() const { return child_ ? child_->log() : std::string(); }

 private:
  std::filesystem::path folder_;
  std::filesystem::path config_;
  std::optional<testing::Child> child_;
};

// A check of the member's own agent that is always OK, whatever the machine's load.
json load_check() {
  return {{"name", "alive"}, {"type", "external"}, {"interval", "1s"}, {"command", {"/bin/true"}}};
}

json api(testing::Collector& collector, const std::string& path, const std::string& token) {
  const auto reply = collector.get(path, token);
  if (reply.status != 200) return json::object();
  return json::parse(reply.body, nullptr, false);
}

std::string sqlite_value(const testing::Collector& collector, const std::string& sql) {
  auto r = testing::run({"/usr/bin/sqlite3", collector.db(), sql});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return testing::trim(r.out);
}

TEST_CASE("CentralPoller: a plain agent token naming another site is refused, nothing stored",
          "[central][e2e]") {
  testing::TempDir dir;
  testing::Collector collector(dir);
  // A real agent whose check files a result under another site, enrolled without
  // --report-for: every batch it sends is refused whole, its own result with it.
  const json ping = {{"name", "wan"},
                     {"type", "net/ping"},
                     {"interval", "1s"},
                     {"count", 1},
                     {"packet_timeout", "300ms"},
                     {"targets", {{{"host", "127.0.0.1"}, {"site", "elsewhere"}}}}};
  Agent agent(dir, collector, "plain-agent", "mairie", json::array({load_check(), ping}),
              collector.enroll_token("mairie"));
  // Waited for in the collector's log: the agent's holds its URL, whose port may
  // contain "403".
  const bool refused = testing::eventually(
      [&] {
        return collector.child().log().find("result for site \"elsewhere\"") != std::string::npos;
      },
      20s);
  INFO("agent log:\n" << agent.log() << "\ncollector log:\n" << collector.child().log());
  REQUIRE(refused);
  // Nothing of it, in the API or in the database.
  const std::string viewer = collector.token("viewer");
  CHECK(collector.get("/api/v1/site?name=elsewhere", viewer).status == 404);
  for (const auto& c : api(collector, "/api/v1/checks", viewer)["checks"])
    CHECK(c["check"] == "vigie/heartbeat");
  CHECK(sqlite_value(collector, "SELECT count(*) FROM batches") == "0");
  CHECK(sqlite_value(collector, "SELECT count(*) FROM checks") == "0");
  CHECK(sqlite_value(collector, "SELECT count(*) FROM sample_blocks") == "0");
}

// The namespace's own network: 198.51.100.0/24 is a blackhole (nothing answers there),
// 127.0.0.0/8 its own loopback.
struct Blackhole {
  testing::NetNamespace ns{"central"};
  bool ready = false;
  std::string error;  // why not ready
  Blackhole() {
    error = ns.error();
    if (!ns.created()) return;
    ready = ns.run({"ip", "route", "add", "blackhole", "198.51.100.0/24"}, &error);
  }
};

// The heartbeat rows of /api/v1/problems, by site.
std::map<std::string, std::vector<json>> problem_rows(testing::Collector& collector,
                                                      const std::string& token) {
  std::map<std::string, std::vector<json>> out;
  for (const auto& c : api(collector, "/api/v1/problems", token).value("checks", json::array()))
    out[c["site"]].push_back(c);
  return out;
}

TEST_CASE("CentralPoller: a silent poller is one problem, and line down or agent down",
          "[central][e2e][ping]") {
  Blackhole net;
  if (!net.ready)
    VIGIE_SKIP_TEST(net.ns.absent(), "cannot set up a network namespace (" << net.error << ")");
  // The collector, the agents and this thread's requests all live in the namespace.
  testing::NetNamespace::Inside inside(net.ns);
  testing::TempDir dir;
  testing::Collector collector(dir, {"--agent-timeout", "4s"});
  const std::string viewer = collector.token("viewer");
  Agent down_agent(dir, collector, "mairie-down", "s-down", json::array({load_check()}),
                   collector.enroll_token("s-down"));
  Agent up_agent(dir, collector, "mairie-up", "s-up", json::array({load_check()}),
                 collector.enroll_token("s-up"));
  // The centre pings each site's WAN address: s-down's is in the blackhole.
  const json ping = {{"name", "wan"},
                     {"type", "net/ping"},
                     {"interval", "2s"},
                     {"timeout", "2s"},
                     {"count", 2},
                     {"packet_interval", "100ms"},
                     {"packet_timeout", "500ms"},
                     {"targets",
                      {{{"host", "198.51.100.7"}, {"site", "s-down"}},
                       {{"host", "127.0.0.2"}, {"site", "s-up"}}}}};
  Agent poller(dir, collector, "central-pinger", "centre", json::array({ping}),
               collector.enroll_token("centre", "s-down,s-up"));
  const auto logs = [&] {
    return "poller log:\n" + poller.log() + "\ncollector log:\n" + collector.child().log();
  };

  // Each ping result under its member site, the poller as its source.
  const bool filed = testing::eventually(
      [&] {
        const json down =
            api(collector, "/api/v1/site?name=s-down", viewer).value("checks", json::array());
        const json up =
            api(collector, "/api/v1/site?name=s-up", viewer).value("checks", json::array());
        const json* d = find(down, "net/ping:198.51.100.7");
        const json* u = find(up, "net/ping:127.0.0.2");
        return d && u && (*d)["last_status"] == 2 && (*u)["last_status"] == 0 &&
               (*d)["agent"] == "central-pinger" && (*u)["agent"] == "central-pinger";
      },
      30s);
  INFO(logs());
  REQUIRE(filed);

  SECTION("the poller stopped: one problem row, no site unreachable") {
    poller.stop();
    json row;
    const bool lost = testing::eventually(
        [&] {
          const auto rows = problem_rows(collector, viewer);
          const auto it = rows.find("centre");
          if (it == rows.end()) return false;
          row = it->second.front();
          return true;
        },
        20s);
    REQUIRE(lost);
    std::this_thread::sleep_for(1500ms);  // what else would come, comes now
    const auto rows = problem_rows(collector, viewer);
    REQUIRE(rows.size() == 1);
    REQUIRE(rows.begin()->second.size() == 1);
    row = rows.begin()->second.front();
    CHECK(row["agent"] == "central-pinger");
    CHECK(row["check"] == "vigie/heartbeat");
    CHECK_THAT(row["summary"].get<std::string>(),
               StartsWith("poller central-pinger lost, 2 sites not watched"));
    for (const auto& site : api(collector, "/api/v1/sites", viewer)["sites"]) {
      INFO(site.dump());
      CHECK(site["unreachable"] == false);
    }
    // Its results read as stale under their sites, saying why.
    const json up = api(collector, "/api/v1/site?name=s-up", viewer);
    const json* u = find(up["checks"], "net/ping:127.0.0.2");
    REQUIRE(u);
    CHECK((*u)["stale_reason"] == "poller central-pinger lost");
  }

  SECTION("members' own agents stopped: line down, or agent silent while the site answers") {
    down_agent.stop();
    up_agent.stop();
    std::map<std::string, std::vector<json>> rows;
    const bool judged = testing::eventually(
        [&] {
          rows = problem_rows(collector, viewer);
          return rows.count("s-down") == 1 && rows.count("s-up") == 1 &&
                 rows["s-down"][0]["check"] == "vigie/heartbeat" &&
                 rows["s-up"][0]["check"] == "vigie/heartbeat";
        },
        20s);
    REQUIRE(judged);
    // One row per site: the failing ping of s-down speaks in it, not beside it.
    REQUIRE(rows["s-down"].size() == 1);
    REQUIRE(rows["s-up"].size() == 1);
    CHECK(rows.count("centre") == 0);
    CHECK(rows["s-down"][0]["agent"] == "mairie-down");
    CHECK_THAT(rows["s-down"][0]["summary"].get<std::string>(),
               StartsWith("site line down (no answer from the centre)"));
    CHECK_THAT(rows["s-up"][0]["summary"].get<std::string>(),
               StartsWith("agent silent, the site answers"));
    for (const auto& site : api(collector, "/api/v1/sites", viewer)["sites"]) {
      if (site["name"] == "s-down") CHECK(site["line"] == "down");
      if (site["name"] == "s-up") CHECK(site["line"] == "answers");
      if (site["name"] == "s-down" || site["name"] == "s-up") CHECK(site["unreachable"] == true);
    }
    // The events say it too.
    // The events say it too (published once committed: a moment after the state).
    const bool told = testing::eventually(
        [&] {
          const json events = api(collector, "/api/v1/events?after=0&limit=10000", viewer);
          for (const auto& e : events.value("events", json::array())) {
            if (e["kind"] == "site_unreachable" && e["site"] == "s-down")
              return e["summary"].get<std::string>().rfind("site line down", 0) == 0;
          }
          return false;
        },
        5s);
    CHECK(told);
  }
}

// grid.txt with its days moved so that the listing was taken this morning.
std::string recent_listing() {
  std::ifstream in(std::string(VIGIE_SOURCE_DIR) + "/tests/fixtures/avamar/grid.txt");
  std::stringstream text;
  text << in.rdbuf();
  std::string listing = text.str();
  using namespace std::chrono;
  const sys_days today = floor<days>(system_clock::now());
  const sys_days taken = sys_days(year(2025) / March / 3);
  const std::regex date(R"((\d{4})-(\d{2})-(\d{2}))");
  std::string out;
  auto last = listing.cbegin();
  for (std::sregex_iterator it(listing.begin(), listing.end(), date), end; it != end; ++it) {
    const auto& m = *it;
    out.append(last, m[0].first);
    const sys_days day = sys_days(year(std::stoi(m[1])) / std::stoi(m[2]) / std::stoi(m[3]));
    const year_month_day moved(today + (day - taken));
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(moved.year()),
                  static_cast<unsigned>(moved.month()), static_cast<unsigned>(moved.day()));
    out += buf;
    last = m[0].second;
  }
  out.append(last, listing.cend());
  return out;
}

TEST_CASE("CentralPoller: the backup report covers the Avamar grid's clients per member",
          "[central][e2e][report]") {
  testing::TempDir dir;
  testing::Collector collector(dir);
  const auto listing = dir.write("grid.txt", recent_listing());
  const json grid = {{"name", "avamar"},
                     {"type", "backup/avamar"},
                     {"interval", "5s"},
                     {"command", {"cat", listing.string()}},
                     {"sites",
                      {{"/clients/mairie-exemple", "saint-exemple"},
                       {"/clients/ccas-test/", "village-test"},
                       {"/clients/sivom-val", "sivom"}}}};
  Agent poller(dir, collector, "avamar-poller", "centre", json::array({grid}),
               collector.enroll_token("centre", "*"));
  const std::string viewer = collector.token("viewer");
  const bool filed = testing::eventually(
      [&] {
        const json s = api(collector, "/api/v1/site?name=village-test", viewer);
        return find(s.value("checks", json::array()),
                    "backup/avamar:/clients/ccas-test/srv-ccas01");
      },
      30s);
  INFO("poller log:\n" << poller.log() << "\ncollector log:\n" << collector.child().log());
  REQUIRE(filed);

  const auto out = dir / "report.json";
  auto r = testing::run({VIGIE_COLLECTOR_BIN, "report", "backup", "--db", collector.db(), "--tz",
                         "UTC", "--lang", "en", "--format", "json", "--out", out.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(out);
  const json report = json::parse(in, nullptr, false);
  REQUIRE(report.is_object());
  std::map<std::string, json> sites;
  for (const auto& s : report["sites"]) sites[s["site"]] = s;
  REQUIRE(sites.count("saint-exemple") == 1);
  REQUIRE(sites.count("village-test") == 1);
  REQUIRE(sites.count("sivom") == 1);
  std::set<std::string> mairie;
  for (const auto& c : sites["saint-exemple"]["checks"]) {
    CHECK(c["agent"] == "avamar-poller");
    mairie.insert(c["check"]);
  }
  CHECK(mairie.count("backup/avamar:/clients/mairie-exemple/srv-mairie01") == 1);
  CHECK(mairie.count("backup/avamar:/clients/mairie-exemple/pc-accueil") == 1);
  for (const auto& c : sites["saint-exemple"]["checks"]) {
    if (c["check"] == "backup/avamar:/clients/mairie-exemple/pc-accueil")
      CHECK_THAT(c["summary"].get<std::string>(), StartsWith("last backup Failed"));
  }
  // The poller's own site holds only the grid's own result (its unmapped clients), not
  // a member's client, and the poller is not counted as an agent of its own site.
  REQUIRE(sites.count("centre") == 1);
  CHECK(sites["centre"]["agents"].empty());
  for (const auto& c : sites["centre"]["checks"]) CHECK(c["check"] == "backup/avamar");

  // One member's report alone, though no agent of its own reports for it.
  r = testing::run({VIGIE_COLLECTOR_BIN, "report", "backup", "--db", collector.db(), "--tz", "UTC",
                    "--lang", "en", "--format", "json", "--site", "village-test", "--out",
                    out.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream again(out);
  const json one = json::parse(again, nullptr, false);
  REQUIRE(one["sites"].size() == 1);
  CHECK(one["sites"][0]["site"] == "village-test");
  REQUIRE(one["sites"][0]["checks"].size() == 1);
  CHECK(one["sites"][0]["checks"][0]["agent"] == "avamar-poller");
}

}  // namespace
}  // namespace vigie
