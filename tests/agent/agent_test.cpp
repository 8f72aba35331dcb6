#include "agent/agent.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/spool.hpp"
#include "common/time.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::agent {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

constexpr const char* kDemo = VIGIE_SOURCE_DIR "/config/agent.demo.json";

struct CommandRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Standard output or error sent to a temporary file while it lives; what was written
// there, by stdio or not, is then text().
class Capture {
 public:
  explicit Capture(int fd) : fd_(fd), saved_(::dup(fd)), file_(std::tmpfile()) {
    REQUIRE(saved_ >= 0);
    REQUIRE(file_ != nullptr);
    std::fflush(nullptr);
    REQUIRE(::dup2(::fileno(file_), fd_) == fd_);
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  ~Capture() {
    restore();
    std::fclose(file_);
  }

  std::string text() {
    restore();
    std::string text;
    std::rewind(file_);
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file_)) > 0;)
      text.append(buffer, n);
    return text;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(nullptr);
    ::dup2(saved_, fd_);
    ::close(saved_);
    saved_ = -1;
  }

  int fd_;
  int saved_;
  std::FILE* file_;
};

// Runs the command line `vigie-agent <args>` in this process, capturing its output.
CommandRun agent(std::vector<std::string> args) {
  args.insert(args.begin(), "vigie-agent");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  Capture out(STDOUT_FILENO);
  Capture err(STDERR_FILENO);
  CommandRun ran;
  ran.code = run(static_cast<int>(args.size()), argv.data());
  ran.out = out.text();
  ran.err = err.text();
  return ran;
}

// A config whose checks are check_dummy with the given states.
std::string dummy_config(const testing::TempDir& dir) {
  return dir
      .write("agent.json", R"({
        "agent": {"id": "t-1", "site": "test"},
        "collector": {"url": "http://127.0.0.1:9"},
        "checks": [
          {"name": "fine", "type": "external",
           "command": ["/usr/lib/nagios/plugins/check_dummy", "0", "all good"]},
          {"name": "broken", "type": "external",
           "command": ["/usr/lib/nagios/plugins/check_dummy", "2", "all bad"]},
          {"name": "meh", "type": "external",
           "command": ["/usr/lib/nagios/plugins/check_dummy", "1", "so so"]}
        ]})")
      .string();
}

TEST_CASE("Agent: --version, --help and checks print and exit 0", "[agent]") {
  const auto version = agent({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out == std::string("vigie-agent ") + VIGIE_VERSION + "\n");

  const auto help = agent({"--help"});
  CHECK(help.code == 0);
  CHECK_THAT(help.out, StartsWith("usage: vigie-agent"));

  const auto checks = agent({"checks"});
  CHECK(checks.code == 0);
  CHECK_THAT(checks.out, StartsWith("TYPE"));
  CHECK_THAT(checks.out, Contains("system/load"));
  CHECK_THAT(checks.out, Contains("external"));

  const auto markdown = agent({"checks", "--markdown"});
  CHECK(markdown.code == 0);
  CHECK_THAT(markdown.out, Contains("system/disk"));
}

TEST_CASE("Agent: --help lists every command, and COMMAND --help shows its own usage", "[agent]") {
  const auto help = agent({"--help"});
  REQUIRE(help.code == 0);
  for (const std::string command : {"run", "check", "config", "spool", "checks", "enroll"}) {
    INFO(command);
    CHECK_THAT(help.out, Contains("\n  " + command + " "));  // the list
    const auto own = agent({command, "--help"});
    CHECK(own.code == 0);
    CHECK_THAT(own.out, StartsWith("usage: vigie-agent " + command));
    CHECK(own.err.empty());
  }
  const auto misuse = agent({"spool", "--bogus"});
  CHECK(misuse.code == 2);
  CHECK_THAT(misuse.err,
             StartsWith("vigie-agent: unknown option --bogus\n\nusage: vigie-agent spool"));
  const auto unknown = agent({"frobnicate"});
  CHECK_THAT(unknown.err, StartsWith("vigie-agent: unknown command \"frobnicate\""));
  CHECK_THAT(unknown.err, Contains("\n  enroll  "));  // the whole list
}

TEST_CASE("Agent: bad usage exits 2 with the usage", "[agent]") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"frobnicate"},
                                               {"run", "--bogus"},
                                               {"run", "--config"},
                                               {"config"},
                                               {"config", "check", "extra"},
                                               {"checks", "--json"}}) {
    INFO(args.size());
    const auto ran = agent(args);
    CHECK(ran.code == 2);
    CHECK_THAT(ran.err, Contains("usage: vigie-agent"));
    CHECK(ran.out.empty());
  }
}

TEST_CASE("Agent: config check counts the checks, or prints the error and exits 1", "[agent]") {
  testing::TempDir dir;
  const auto good = agent({"config", "check", "--config", dummy_config(dir)});
  CHECK(good.code == 0);
  CHECK(good.out == "config OK: 3 checks\n");
  CHECK(agent({"config", "check", "--config", kDemo}).code == 0);

  const auto bad = dir.write("agent.json", R"({"agent": {"id": "a", "site": "s"},
    "collector": {"url": "https://c"}, "checks": [{"name": "x", "type": "sytem/load"}]})");
  const auto refused = agent({"config", "check", "--config=" + bad.string()});
  CHECK(refused.code == 1);
  CHECK_THAT(refused.err, StartsWith(bad.string() + ":2: checks[0].type: unknown check type"));

  const auto missing = agent({"config", "check", "--config", (dir / "none.json").string()});
  CHECK(missing.code == 1);
  CHECK_THAT(missing.err, Contains("No such file or directory"));
}

TEST_CASE("Agent: check prints a table and exits with the worst state", "[agent]") {
  testing::TempDir dir;
  const std::string config = dummy_config(dir);

  const auto all = agent({"check", "--config", config});
  CHECK(all.code == 2);
  CHECK_THAT(all.out, StartsWith("NAME    CHECK            STATE     SUMMARY\n"));
  CHECK_THAT(all.out, Contains("broken  external:broken  CRITICAL  CRITICAL: all bad\n"));

  CHECK(agent({"check", "fine", "--config", config}).code == 0);
  CHECK(agent({"check", "fine", "meh", "--config", config}).code == 1);
  CHECK(agent({"check", "--all", "--config", config}).code == 2);
}

TEST_CASE("Agent: check --json prints every field a script needs", "[agent]") {
  testing::TempDir dir;
  const auto ran = agent({"check", "meh", "fine", "--json", "--config", dummy_config(dir)});
  CHECK(ran.code == 1);
  const auto json = nlohmann::json::parse(ran.out);
  REQUIRE(json.is_array());
  REQUIRE(json.size() == 2);
  CHECK(json[0]["name"] == "meh");
  CHECK(json[0]["check"] == "external:meh");
  CHECK(json[0]["status"] == 1);
  CHECK(json[0]["state"] == "WARNING");
  CHECK(json[0]["summary"] == "WARNING: so so");
  CHECK(json[0]["details"].is_string());
  CHECK(json[0]["metrics"].is_array());
  CHECK(json[0]["duration_ms"].is_number_integer());
  CHECK(json[1]["name"] == "fine");
}

TEST_CASE("Agent: check exits 3 when it cannot run the checks", "[agent]") {
  testing::TempDir dir;
  const std::string config = dummy_config(dir);
  const auto unknown = agent({"check", "nope", "--config", config});
  CHECK(unknown.code == 3);
  CHECK_THAT(unknown.err, Contains("no check named \"nope\""));
  CHECK(agent({"check", "--config", (dir / "none.json").string()}).code == 3);
  CHECK(agent({"check", "fine", "--all", "--config", config}).code == 3);
  CHECK(agent({"check", "--bogus"}).code == 3);
}

TEST_CASE(
    "Agent: run refuses to start without its state folder or token or with one others can read",
    "[agent]") {
  testing::TempDir dir;
  const std::string config = dummy_config(dir);
  dir.write("file", "");
  const auto no_state = agent({"run", "--config", config, "--state-dir", (dir / "file").string()});
  CHECK(no_state.code == 1);
  CHECK_THAT(no_state.err, StartsWith("state folder " + (dir / "file").string()));

  const auto token_config = dir.write("token.json", R"({"agent": {"id": "a", "site": "s"},
    "collector": {"url": "http://127.0.0.1:9", "token_file": ")" +
                                                        (dir / "agent.token").string() + R"("},
    "checks": [{"name": "load", "type": "system/load"}]})");
  const auto no_token =
      agent({"run", "--config", token_config.string(), "--state-dir", dir.path().string()});
  CHECK(no_token.code == 1);
  CHECK_THAT(no_token.err, Contains("token file: " + (dir / "agent.token").string()));

  dir.write("agent.token", "vga_1234\n");  // 0644: anyone on the box could read it
  const auto open_token =
      agent({"run", "--config", token_config.string(), "--state-dir", dir.path().string()});
  CHECK(open_token.code == 1);
  CHECK_THAT(open_token.err, Contains("token file " + (dir / "agent.token").string() +
                                      ": readable by others (mode 0644): chmod 600"));
}

}  // namespace
}  // namespace vigie::agent

namespace vigie::agent {
namespace {

TEST_CASE("Agent: spool shows what waits, what was dropped and what was quarantined", "[agent]") {
  testing::TempDir dir;
  const std::string config = dummy_config(dir);
  const std::string state = (dir / "state").string();
  const auto missing = agent({"spool", "--config", config, "--state-dir", state});
  CHECK(missing.code == 1);
  CHECK_THAT(missing.err, Contains("no spool at " + state + "/spool.db"));

  std::filesystem::create_directories(dir / "state");
  {
    auto spool = open_spool(dir / "state" / "spool.db");
    REQUIRE(spool.is_ok());
    for (int i = 0; i < 3; ++i) {
      CheckResult r;
      r.name = "c" + std::to_string(i);
      r.check = "test/fake";
      r.summary = "#" + std::to_string(i);
      // 3 hours old: "3h" then "3h1m"..., the same first figure for an hour however
      // slowly the command below starts (30 s old read "30s" for 10 s only).
      r.ts_ms = wall_ms() - 3 * 3'600'000;
      r.interval_s = 60;
      (*spool)->add(r);
    }
    auto batch = (*spool)->next_batch(2);
    REQUIRE(batch.is_ok());
    REQUIRE(batch->has_value());
    (*spool)->quarantine((*batch)->seq, 1, "HTTP 422: results[1].name: too long");
  }
  const auto shown = agent({"spool", "--config", config, "--state-dir", state});
  INFO(shown.err);
  CHECK(shown.code == 0);
  CHECK_THAT(shown.out, Contains("waiting      2 results, the oldest 3h"));
  CHECK_THAT(shown.out, Contains("dropped      0 results"));
  CHECK_THAT(shown.out, Contains("quarantined  1 results refused by the collector, 1 kept"));
  CHECK_THAT(shown.out, Contains("  c1, seq "));
  CHECK_THAT(shown.out, Contains(" ago: HTTP 422: results[1].name: too long"));

  const auto json = agent({"spool", "--config", config, "--state-dir", state, "--json"});
  REQUIRE(json.code == 0);
  const auto parsed = nlohmann::json::parse(json.out);
  CHECK(parsed["depth"] == 2);
  CHECK(parsed["quarantined"] == 1);
  REQUIRE(parsed["quarantine"].size() == 1);
  CHECK(parsed["quarantine"][0]["reason"] == "HTTP 422: results[1].name: too long");
  CHECK(parsed["quarantine"][0]["result"]["summary"] == "#1");

  // Once looked at, an operator clears the quarantine: the count stays.
  const auto cleared =
      agent({"spool", "--config", config, "--state-dir", state, "--clear-quarantine"});
  CHECK(cleared.code == 0);
  CHECK_THAT(cleared.err, Contains("quarantine cleared: 1 results forgotten"));
  const auto after = agent({"spool", "--config", config, "--state-dir", state});
  CHECK_THAT(after.out, Contains("quarantined  1 results refused by the collector, 0 kept"));
}

TEST_CASE("Agent: spool reports a corrupt spool and leaves it for the agent", "[agent]") {
  testing::TempDir dir;
  const std::string config = dummy_config(dir);
  const std::string state = (dir / "state").string();
  std::filesystem::create_directories(dir / "state");
  const std::string garbage(8192, 'x');
  dir.write("state/spool.db", garbage);
  const auto shown = agent({"spool", "--config", config, "--state-dir", state});
  CHECK(shown.code == 1);
  CHECK_THAT(shown.err, Contains("spool " + state + "/spool.db is corrupt ("));
  CHECK_THAT(shown.err, Contains("left as it is"));
  // Still there, unchanged; nothing moved aside.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir / "state"))
    ++files;
  CHECK(files == 1);
  std::ifstream in(dir / "state" / "spool.db", std::ios::binary);
  const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(kept == garbage);
}

}  // namespace
}  // namespace vigie::agent
