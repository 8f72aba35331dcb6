// The real agent running as an unprivileged user with only the capabilities its systemd
// drop-ins give (setpriv stands for systemd here): CAP_SETUID and CAP_SETGID (ambient)
// for external checks run as another user. None of them may reach a program the agent
// starts, and a plugin run as another user still dies at its timeout.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/collector_fixture.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The shell's own capability sets, from /proc, on one line.
constexpr const char* kPrintCaps =
    "caps() { grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/$$/status | tr '\\t\\n' '  '; }\n";
constexpr const char* kNoCaps =
    "CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 "
    "CapAmb: 0000000000000000";

// A folder the unprivileged agent can read, with a copy of the agent nobody may run
// wherever the build tree is.
struct AgentCopy {
  AgentCopy() {
    fs::permissions(dir.path(), fs::perms(0755));
    fs::copy_file(VIGIE_AGENT_BIN, agent);
    fs::permissions(agent, fs::perms(0755));
  }
  testing::TempDir dir;
  fs::path agent = dir / "vigie-agent";
};

// setpriv as the agent's unit would start it: user nobody, with `caps` ("+setuid,+setgid")
// inheritable and ambient ("": none).
std::vector<std::string> as_nobody(const std::string& caps) {
  std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                   "--clear-groups"};
  if (!caps.empty()) argv.insert(argv.end(), {"--inh-caps=" + caps, "--ambient-caps=" + caps});
  return argv;
}

TEST_CASE("Agent: a plugin run as another user gets none of the agent's capabilities",
          "[agent-user]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal,
                    "not root: cannot start the agent as another user here");
  AgentCopy copy;
  testing::TempDir& dir = copy.dir;
  dir.write("caps.sh", std::string("#!/bin/sh\n") + kPrintCaps + "echo \"OK $(id -un) $(caps)\"\n",
            true);
  const auto config = dir.write("agent.json", R"({"agent": {"id": "t", "site": "s"},
        "collector": {"url": "http://127.0.0.1:9"},
        "checks": [{"name": "caps", "type": "external", "user": "daemon",
                    "command": [")" + (dir / "caps.sh").string() +
                                                  R"("]}]})");
  auto argv = as_nobody("+setuid,+setgid");
  argv.insert(argv.end(), {copy.agent.string(), "check", "--config", config.string()});
  auto r = testing::run(argv);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(std::string("OK daemon ") + kNoCaps));

  // Without the capabilities: UNKNOWN, and why.
  argv = as_nobody("");
  argv.insert(argv.end(), {copy.agent.string(), "check", "--config", config.string()});
  r = testing::run(argv);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("UNKNOWN  cannot run as user daemon: setgroups: Operation not "
                                    "permitted (the agent needs CAP_SETUID and CAP_SETGID)"));
}

TEST_CASE("Agent: no program it starts holds a capability, plugins and the SNMP helper alike",
          "[agent-user]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal,
                    "not root: cannot start the agent as another user here");
  AgentCopy copy;
  testing::TempDir& dir = copy.dir;
  // A plugin of the agent's own user, which also tries to become root.
  dir.write("caps.sh",
            std::string("#!/bin/sh\n") + kPrintCaps +
                "root=$(/usr/bin/setpriv --reuid=0 --regid=0 --clear-groups id -u 2>/dev/null "
                "|| echo refused)\n"
                "echo \"OK $(id -un) $(caps)root: $root\"\n",
            true);
  // The SNMP helper is the program beside the agent's: this one says what it holds.
  dir.write("vigie-snmp",
            std::string("#!/bin/sh\n") + kPrintCaps + "echo \"$(caps)\" >&2\nexit 3\n", true);
  const auto config = dir.write("agent.json", R"({"agent": {"id": "t", "site": "s"},
        "collector": {"url": "http://127.0.0.1:9"},
        "devices": {"fw": {"host": "127.0.0.1", "port": 9, "snmp": {"version": "2c", "community": "public"}}},
        "checks": [{"name": "caps", "type": "external", "command": [")" +
                                                  (dir / "caps.sh").string() + R"("]},
                   {"name": "fw", "type": "firewall/sophos", "device": "fw", "timeout": "5s"}]})");
  auto argv = as_nobody("+setuid,+setgid");
  argv.insert(argv.end(), {copy.agent.string(), "check", "--json", "--config", config.string()});
  const auto r = testing::run(argv);
  INFO(r.out << r.err);
  const auto results = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(results.is_array());
  REQUIRE(results.size() == 2);
  CHECK(results[0]["summary"] == std::string("OK nobody ") + kNoCaps + " root: refused");
  CHECK_THAT(results[1]["summary"].get<std::string>(),
             Catch::Contains(std::string("exited with status 3: ") + kNoCaps));
}

TEST_CASE("Agent: a capability it holds reaches only the program that asks for it",
          "[agent-user]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal,
                    "not root: cannot start the agent as another user here");
  // The agent in a network namespace of the test's own, given CAP_NET_ADMIN as the
  // firewall/host drop-in does: nft lists that namespace's ruleset.
  const std::string ns = "vigie-caps-" + std::to_string(::getpid());
  // A missing ip (iproute2) fails in testing::run; a refusal to add a namespace is the
  // host's.
  if (const auto added = testing::run({"/usr/sbin/ip", "netns", "add", ns}); added.exit_code != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "ip netns add failed: " << added.err);
  struct Cleanup {
    std::string ns;
    ~Cleanup() { testing::run({"/usr/sbin/ip", "netns", "delete", ns}); }
  } cleanup{ns};
  const auto nft = testing::run({"/usr/sbin/ip", "netns", "exec", ns, "/usr/sbin/nft",
                                 "add table inet f; add chain inet f input { type filter hook "
                                 "input priority 0; policy drop; }"});
  REQUIRE(nft.exit_code == 0);

  AgentCopy copy;
  testing::TempDir& dir = copy.dir;
  fs::create_directory(dir / "state");
  REQUIRE(::chown((dir / "state").c_str(), 65534, 65534) == 0);
  dir.write("caps.sh", std::string("#!/bin/sh\n") + kPrintCaps + "echo \"OK $(caps)\"\n", true);
  const nlohmann::json config = {
      {"agent", {{"id", "t"}, {"site", "s"}}},
      {"collector", {{"url", "http://127.0.0.1:9"}}},
      {"checks",
       {{{"name", "firewall"},
         {"type", "firewall/host"},
         {"state_file", (dir / "state" / "firewall.state").string()}},
        {{"name", "plain"}, {"type", "external"}, {"command", {(dir / "caps.sh").string()}}},
        {{"name", "given"},
         {"type", "external"},
         {"capabilities", {"CAP_NET_ADMIN", "CAP_NET_RAW"}},
         {"command", {(dir / "caps.sh").string()}}}}}};
  const auto config_file = dir.write("agent.json", config.dump());
  std::vector<std::string> argv = {"/usr/sbin/ip", "netns", "exec", ns};
  for (auto& a : as_nobody("+net_admin")) argv.push_back(a);
  argv.insert(argv.end(),
              {copy.agent.string(), "check", "--json", "--config", config_file.string()});
  const auto r = testing::run(argv);
  INFO(r.out << r.err);
  const auto results = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(results.is_array());
  REQUIRE(results.size() == 3);
  CHECK(results[0]["status"] == 0);
  CHECK_THAT(results[0]["summary"].get<std::string>(), Catch::Contains("nftables"));
  CHECK(results[1]["summary"] == std::string("OK ") + kNoCaps);
  // Asked for both, given the one the agent holds: CAP_NET_ADMIN is bit 12.
  CHECK(results[2]["summary"] ==
        "OK CapInh: 0000000000001000 CapPrm: 0000000000001000 CapEff: 0000000000001000 "
        "CapAmb: 0000000000001000");
}

// A plugin that never ends and ignores SIGTERM, with a child in its group: it notes both
// pids in pids/ (writable by all), for the test to see they are gone.
void write_hung_plugin(const testing::TempDir& dir) {
  fs::create_directory(dir / "pids");
  fs::permissions(dir / "pids", fs::perms::all);
  dir.write("hang.sh",
            "#!/bin/sh\ntrap '' TERM\nsleep 600 &\necho $$ $! >> " +
                (dir / "pids" / "hung").string() + "\nwait\n",
            true);
}

// The processes hang.sh started that are still alive; killed when `kill`.
std::vector<pid_t> hung_alive(const testing::TempDir& dir, bool kill = false) {
  std::vector<pid_t> alive;
  std::ifstream in(dir / "pids" / "hung");
  for (pid_t pid; in >> pid;) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos || line.substr(paren + 2, 1) == "Z") continue;
    alive.push_back(pid);
    if (kill) ::kill(pid, SIGKILL);
  }
  return alive;
}

// Kills what hang.sh left, however the test ends (after the agent, declared later, stops).
struct HungReaper {
  const testing::TempDir& dir;
  ~HungReaper() { hung_alive(dir, true); }
};

TEST_CASE("Agent: a plugin run as another user dies with its group at its timeout",
          "[agent-user]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal,
                    "not root: cannot start the agent as another user here");
  AgentCopy copy;
  testing::TempDir& dir = copy.dir;
  write_hung_plugin(dir);
  HungReaper reaper{dir};
  const auto config = dir.write("agent.json", R"({"agent": {"id": "t", "site": "s"},
        "collector": {"url": "http://127.0.0.1:9"},
        "checks": [{"name": "hung", "type": "external", "user": "daemon", "timeout": "1s",
                    "command": [")" + (dir / "hang.sh").string() +
                                                  R"("]}]})");
  auto argv = as_nobody("+setuid,+setgid");
  argv.insert(argv.end(), {copy.agent.string(), "check", "--config", config.string()});
  const auto start = std::chrono::steady_clock::now();
  const auto r = testing::run(argv);
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(r.out << r.err);
  // SIGKILLed, they are gone within moments.
  const bool gone = testing::eventually([&] { return hung_alive(dir).empty(); }, 2s);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("UNKNOWN  timed out after 1 s"));
  CHECK(took < 5s);
  CHECK(gone);
}

TEST_CASE("Agent: hung plugins run as another user do not stop the other checks", "[agent-user]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal,
                    "not root: cannot start the agent as another user here");
  AgentCopy copy;
  testing::TempDir& dir = copy.dir;
  write_hung_plugin(dir);
  HungReaper reaper{dir};
  // The agent's state, and the ticks of a check of its own user, where nobody may write.
  for (const char* sub : {"state", "ticks"}) {
    fs::create_directory(dir / sub);
    REQUIRE(::chown((dir / sub).c_str(), 65534, 65534) == 0);
  }
  const auto ticks = dir / "ticks" / "tick";
  dir.write("tick.sh", "#!/bin/sh\necho tick >> " + ticks.string() + "\necho OK\n", true);
  // Two workers, three plugins that hang at every run (every 2 s, killed after 1 s), and
  // one check every second that must keep its pace.
  nlohmann::json checks = nlohmann::json::array();
  for (int i = 0; i < 3; ++i) {
    checks.push_back({{"name", "hung-" + std::to_string(i)},
                      {"type", "external"},
                      {"user", "daemon"},
                      {"interval", "2s"},
                      {"timeout", "1s"},
                      {"splay", "0s"},
                      {"command", {(dir / "hang.sh").string()}}});
  }
  checks.push_back({{"name", "tick"},
                    {"type", "external"},
                    {"interval", "1s"},
                    {"timeout", "1s"},
                    {"splay", "0s"},
                    {"command", {(dir / "tick.sh").string()}}});
  const nlohmann::json config = {
      {"agent", {{"id", "t"}, {"site", "s"}, {"max_concurrent_checks", 2}}},
      {"collector", {{"url", "http://127.0.0.1:9"}}},
      {"checks", checks}};
  const auto config_file = dir.write("agent.json", config.dump());
  auto argv = as_nobody("+setuid,+setgid");
  argv.insert(argv.end(), {copy.agent.string(), "run", "--config", config_file.string(),
                           "--state-dir", (dir / "state").string()});
  std::optional<testing::Child> agent(std::in_place, argv, dir / "agent.log");
  const auto count_ticks = [&] {
    std::ifstream in(ticks);
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  };
  // From the first tick, 6 s: about 6 more, whatever the hung plugins do.
  REQUIRE(testing::eventually([&] { return count_ticks() > 0; }, 10s));
  const int first = count_ticks();
  std::this_thread::sleep_for(6s);
  const int ticked = count_ticks() - first;
  // Stopped, it exits at once (the flush to the unreachable collector aside): no run of
  // any check is left in progress.
  const auto stopped = agent->stop(SIGTERM, 10s);
  INFO(agent->log());
  agent.reset();
  const bool gone = testing::eventually([&] { return hung_alive(dir).empty(); }, 2s);
  CHECK(ticked >= 4);  // none when the hung plugins hold both workers
  CHECK(stopped.has_value());
  CHECK(gone);
}

TEST_CASE("Agent: a plugin may not be run as root", "[agent-user]") {
  testing::TempDir dir;
  const auto config = dir.write("agent.json", R"({"agent": {"id": "t", "site": "s"},
        "collector": {"url": "http://127.0.0.1:9"},
        "checks": [{"name": "rooted", "type": "external", "user": "root",
                    "command": ["/bin/true"]}]})");
  const auto r = testing::run({VIGIE_AGENT_BIN, "config", "check", "--config", config.string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("checks[0].user: \"root\" is uid 0"));
}

}  // namespace
}  // namespace vigie
