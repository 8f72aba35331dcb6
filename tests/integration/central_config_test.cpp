// Configuration from the centre, end to end: a real collector keeps a template and a
// site's values, two real agents enrolled with --managed fetch, validate and run it,
// and follow its changes without a restart.

#include <signal.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::run;

constexpr const char* kDummy = "/usr/lib/nagios/plugins/check_dummy";
constexpr const char* kSite = "town";
constexpr auto kPoll = 2s;  // the agents' collector.config_poll

// A managed agent's own file: who it is and where it reports; no check of its own.
std::string agent_file(const Collector& collector, const std::string& id,
                       const std::filesystem::path& token) {
  return json{{"agent", {{"id", id}, {"site", kSite}}},
              {"collector",
               {{"url", collector.url()},
                {"ca_file", collector.ca()},
                {"token_file", token.string()},
                {"send_interval", "1s"},
                {"config_poll", "2s"}}}}
      .dump(2);
}

// A template: one check per (name, status) pair, every second, the summary a variable.
json town_template(const std::vector<std::pair<std::string, int>>& checks,
                   const json& extra = nullptr) {
  json list = json::array();
  for (const auto& [name, status] : checks) {
    list.push_back({{"name", name},
                    {"type", "external"},
                    {"command", {kDummy, std::to_string(status), "${message}"}}});
  }
  if (!extra.is_null()) list.push_back(extra);
  return {{"defaults", {{"interval", "1s"}, {"timeout", "5s"}}}, {"checks", list}};
}

struct Fixture {
  testing::TempDir dir;
  Collector collector{dir};
  std::string admin = collector.token("admin");
  std::string viewer = collector.token("viewer");

  // `config set KIND NAME` with `document`, from the command line.
  void set(const std::string& kind, const std::string& name, const json& document) {
    const auto file = dir.write("doc.json", document.dump());
    const auto r = run({VIGIE_COLLECTOR_BIN, "config", "set", kind, name, file.string(), "--db",
                        collector.db(), "--author", "test"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }

  // The agents as the API shows them, by id.
  std::map<std::string, json> agents() {
    const auto reply = collector.get("/api/v1/agents", viewer);
    std::map<std::string, json> out;
    if (reply.status != 200) return out;
    const json body = json::parse(reply.body);
    for (const auto& a : body["agents"]) out[a["id"]] = a;
    return out;
  }

  // The summary of `agent`'s check `check` and when it was received; "" if none.
  std::pair<std::string, std::int64_t> result(const std::string& agent, const std::string& check) {
    const auto reply = collector.get("/api/v1/checks?agent=" + agent, viewer);
    if (reply.status != 200) return {};
    const json body = json::parse(reply.body);
    for (const auto& c : body["checks"]) {
      if (c["check"] == check)
        return {c["summary"].get<std::string>(), c["received"].get<std::int64_t>()};
    }
    return {};
  }

  // What the collector would give `agent` (config get agent --rendered): its version.
  std::string version_for(const std::string& agent) {
    const auto r = run({VIGIE_COLLECTOR_BIN, "config", "get", "agent", agent, "--rendered", "--db",
                        collector.db()});
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out)["version"];
  }
};

struct ManagedAgent {
  ManagedAgent(Fixture& f, const std::string& agent_id) : id(agent_id), state(f.dir / id) {
    const auto token = f.dir / (id + ".token");
    config = f.dir.write(id + ".json", agent_file(f.collector, id, token));
    const auto enrolled =
        run({VIGIE_AGENT_BIN, "enroll", "--config", config.string(), "--enroll-token",
             f.collector.enroll_token(kSite), "--managed", "--state-dir", state.string()});
    INFO(enrolled.err);
    REQUIRE(enrolled.exit_code == 0);
    log = f.dir / (id + ".log");
    start();
  }
  void start() {
    process.emplace(std::vector<std::string>{VIGIE_AGENT_BIN, "run", "--config", config.string(),
                                             "--state-dir", state.string()},
                    log);
  }

  std::string id;
  std::filesystem::path state;
  std::filesystem::path config;
  std::filesystem::path log;
  std::optional<testing::Child> process;
};

TEST_CASE("CentralConfig: two managed agents follow the centre's template without a restart",
          "[central-config]") {
  Fixture f;
  f.set("template", "townhall", town_template({{"first", 0}}));
  f.set("site", kSite, {{"template", "townhall"}, {"vars", {{"message", "hello town"}}}});
  ManagedAgent a(f, "town-01");
  ManagedAgent b(f, "town-02");
  const pid_t pid_a = a.process->pid();
  const pid_t pid_b = b.process->pid();
  const auto both_report = [&](const std::string& check, const std::string& summary) {
    return f.result(a.id, check).first.find(summary) != std::string::npos &&
           f.result(b.id, check).first.find(summary) != std::string::npos;
  };
  const auto both_run = [&](const std::string& version) {
    auto agents = f.agents();
    return agents[a.id]["config"].value("running", json()) == version &&
           agents[b.id]["config"].value("running", json()) == version;
  };
  const auto logs = [&] {
    return "collector:\n" + f.collector.child().log() + "\nagent a:\n" + a.process->log() +
           "\nagent b:\n" + b.process->log();
  };
  if (!testing::eventually([&] { return both_report("external:first", "hello town"); }, 20s)) {
    FAIL(logs() +
         "\nchecks of a: " + f.collector.get("/api/v1/checks?agent=" + a.id, f.viewer).body);
  }
  const std::string v1 = f.version_for(a.id);
  REQUIRE(testing::eventually([&] { return both_run(v1); }, 10s));
  CHECK(f.agents()[a.id]["config"]["behind"] == false);

  // An unchanged configuration is one small request: 304 to the version it runs.
  const std::string probe = f.collector.enroll("town-probe", kSite);
  auto reply = testing::http_request("GET", f.collector.url() + "/api/v1/config", {},
                                     {"Authorization: Bearer " + probe}, f.collector.ca());
  REQUIRE(reply.status == 200);
  CHECK(json::parse(reply.body)["version"] == v1);
  reply = testing::http_request("GET", f.collector.url() + "/api/v1/config", {},
                                {"Authorization: Bearer " + probe, "If-None-Match: \"" + v1 + "\""},
                                f.collector.ca());
  CHECK(reply.status == 304);
  CHECK(reply.body.empty());

  SECTION("a change reaches both within a polling interval; their checks change") {
    // Through the API this time, as an admin's script would.
    const auto put = f.collector.call("PUT", "/api/v1/configs?kind=template&name=townhall", f.admin,
                                      town_template({{"first", 0}, {"second", 1}}).dump());
    INFO(put.body);
    REQUIRE(put.status == 200);
    const std::string v2 = f.version_for(a.id);
    REQUIRE(v2 != v1);
    // A poll interval, and room for a loaded machine (a whole suite on two cores).
    CHECK(testing::eventually([&] { return both_run(v2); }, 3 * kPoll + 4s));
    CHECK(testing::eventually([&] { return both_report("external:second", "hello town"); }, 10s));
    CHECK(f.result(a.id, "external:second").first.find("WARNING") != std::string::npos);
    // The same processes: no restart.
    CHECK(a.process->pid() == pid_a);
    CHECK(b.process->pid() == pid_b);
    CHECK(a.process->running());
    CHECK(b.process->running());

    // Who changed what, before and after, in the audit trail.
    const auto audit = f.collector.get("/api/v1/audit", f.admin);
    REQUIRE(audit.status == 200);
    const json last = json::parse(audit.body)["audit"].back();
    CHECK(last["action"] == "config set");
    CHECK(last["target"] == "template townhall");
    CHECK(last["before"]["checks"].size() == 1);
    CHECK(last["after"]["checks"].size() == 2);
  }

  SECTION("an invalid configuration is refused; the agent keeps the last good one") {
    const json bad[] = {
        {{"name", "bogus"}, {"type", "system/bogus"}},
        {{"name", "load"}, {"type", "system/load"}, {"warn", "lots"}},
    };
    const char* reasons[] = {"unknown check type", "load"};
    for (int i = 0; i < 2; ++i) {
      INFO(bad[i].dump());
      f.set("template", "townhall", town_template({{"first", 0}}, bad[i]));
      const std::string refused = f.version_for(a.id);
      CHECK(testing::eventually(
          [&] {
            auto agents = f.agents();
            return agents[a.id]["config"].value("refused", json()) == refused &&
                   agents[b.id]["config"].value("refused", json()) == refused;
          },
          3 * kPoll + 4s));
      const auto agents = f.agents();
      CHECK(agents.at(a.id)["config"]["running"] == v1);
      CHECK(agents.at(a.id)["config"]["behind"] == true);
      const std::string error = agents.at(a.id)["config"]["error"];
      CHECK_THAT(error, Catch::Contains("central configuration " + refused) &&
                            Catch::Contains(reasons[i]));
      // Still running the last good one: fresh results of its check keep coming.
      const std::int64_t before = f.result(a.id, "external:first").second;
      CHECK(testing::eventually([&] { return f.result(a.id, "external:first").second > before; },
                                10s));
      CHECK(a.process->running());
    }
    // The one on disk is still the last good one.
    std::ifstream kept(a.state / "central.json");
    CHECK(json::parse(kept)["version"] == v1);
  }

  SECTION("the collector down at the agent's start: it runs the configuration on disk") {
    f.collector.stop(false);
    REQUIRE(a.process->stop(SIGTERM).has_value());
    const auto checked = run({VIGIE_AGENT_BIN, "config", "check", "--config", a.config.string(),
                              "--state-dir", a.state.string()});
    CHECK(checked.exit_code == 0);
    CHECK_THAT(checked.out, Catch::Contains("config OK: 1 check (central configuration " + v1));
    a.start();
    CHECK(testing::eventually(
        [&] {
          std::ifstream in(a.log);
          const std::string text((std::istreambuf_iterator<char>(in)), {});
          return text.find("central configuration " + v1) != std::string::npos &&
                 text.find("1 checks") != std::string::npos;
        },
        10s));
    f.collector.start();
    const std::int64_t before = f.result(a.id, "external:first").second;
    CHECK(
        testing::eventually([&] { return f.result(a.id, "external:first").second > before; }, 20s));
  }
}

TEST_CASE("CentralConfig: a document nested too deep is refused with its reason, the collector up",
          "[central-config]") {
  Fixture f;
  // 100,000 nested arrays (200 KB): walking them recursively overflows a stack.
  const std::string deep =
      R"({"checks": )" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  const auto file = f.dir.write("deep.json", deep);
  const auto set = run({VIGIE_COLLECTOR_BIN, "config", "set", "template", "deep", file.string(),
                        "--db", f.collector.db()});
  INFO(set.out << set.err);
  CHECK(set.exit_code == 2);  // as for any file that cannot be read
  CHECK_THAT(set.err, Catch::Contains("deep.json: nested deeper than 64 levels"));
  for (const char* path : {"/api/v1/configs?kind=template&name=deep",
                           "/api/v1/configs/diff?kind=template&name=deep"}) {
    const auto reply = f.collector.call(
        std::string(path).find("diff") != std::string::npos ? "POST" : "PUT", path, f.admin, deep);
    INFO(path << ": " << reply.body);
    CHECK(reply.status == 400);
    CHECK_THAT(reply.body, Catch::Contains("nested deeper than 64 levels"));
  }
  // A body the API reads as an object, as deep (an acknowledgement's).
  const auto ack = f.collector.call(
      "POST", "/api/v1/acks", f.admin,
      R"({"comment": )" + std::string(30'000, '[') + std::string(30'000, ']') + "}");
  CHECK(ack.status == 400);
  CHECK_THAT(ack.body, Catch::Contains("nested deeper than 64 levels"));
  CHECK(f.collector.get("/healthz", f.viewer).status == 200);
  const auto list = run({VIGIE_COLLECTOR_BIN, "config", "list", "--db", f.collector.db()});
  CHECK(list.out.find("deep") == std::string::npos);  // nothing stored
}

}  // namespace
}  // namespace vigie
