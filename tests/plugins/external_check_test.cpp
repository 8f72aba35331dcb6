#include "plugins/external/external_check.hpp"

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/protocol.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::external {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kCheckDummy = std::string(kNagiosPluginDir) + "/check_dummy";

std::unique_ptr<Check> configured(const json& params) {
  auto check = make_external_check();
  const Status status = check->configure(params);
  INFO(status.to_string());
  REQUIRE(status.is_ok());
  return check;
}

Outcome run_check(const json& params, std::chrono::milliseconds timeout = 5s) {
  return configured(params)->run(RunContext{std::chrono::steady_clock::now() + timeout});
}

Outcome run_script(const std::string& body, std::chrono::milliseconds timeout = 5s) {
  testing::TempDir dir;
  const auto script = dir.write("plugin.sh", "#!/bin/sh\n" + body, true);
  return run_check({{"command", {script.string()}}}, timeout);
}

std::string configure_error(const json& params) {
  const Status status = make_external_check()->configure(params);
  REQUIRE_FALSE(status.is_ok());
  CHECK(status.code() == Code::kInvalidArgument);
  return status.message();
}

TEST_CASE("ExternalCheck: check_dummy's exit code is the state", "[external]") {
  auto outcome = run_check({{"command", {"check_dummy", "0", "all fine"}}});
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "OK: all fine");
  CHECK(outcome.details.empty());
  CHECK(outcome.metrics.empty());

  const std::vector<std::pair<int, State>> cases = {
      {1, State::kWarning}, {2, State::kCritical}, {3, State::kUnknown}};
  for (const auto& [code, state] : cases) {
    outcome = run_check({{"command", {kCheckDummy, std::to_string(code), "text"}}});
    CHECK(outcome.status == state);
    CHECK_THAT(outcome.summary, Catch::EndsWith(": text"));
  }
}

TEST_CASE("ExternalCheck: check_dummy 7 is UNKNOWN", "[external]") {
  const auto outcome = run_check({{"command", {"check_dummy", "7"}}});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("7"));
}

TEST_CASE("ExternalCheck: an exit code past 3 is UNKNOWN with the first line", "[external]") {
  const auto outcome = run_script("echo 'something odd | x=1'\necho more\nexit 42\n");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "plugin exited with code 42: something odd");
  CHECK(outcome.details == "more");
  CHECK(outcome.metrics.empty());
}

TEST_CASE("ExternalCheck: multi-line output and multi-line perfdata", "[external]") {
  // The example of the Monitoring Plugins development guidelines.
  const auto outcome = run_script(
      "cat <<'EOF'\n"
      "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
      "/ 15272 MB (77%);\n"
      "/boot 68 MB (69%);\n"
      "/home 69357 MB (27%);\n"
      "/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n"
      "/home=69357MB;253404;253409;0;253414\n"
      "/var/log=818MB;970;975;0;980\n"
      "EOF\n");
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "DISK OK - free space: / 3326 MB (56%);");
  CHECK(outcome.details ==
        "/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%);");
  REQUIRE(outcome.metrics.size() == 4);
  CHECK(outcome.metrics[0].label == "/");
  CHECK(outcome.metrics[0].value == 2643);
  CHECK(outcome.metrics[0].unit == "MB");
  CHECK(outcome.metrics[0].max == 5968);
  CHECK(outcome.metrics[1].label == "/boot");
  CHECK(outcome.metrics[2].label == "/home");
  CHECK(outcome.metrics[3].label == "/var/log");
  REQUIRE(outcome.metrics[3].crit.has_value());
  CHECK(outcome.metrics[3].crit->end == 975);
}

TEST_CASE("ExternalCheck: CRLF line ends and blank lines around the long text", "[external]") {
  const auto outcome = run_script(
      "printf 'WARNING - so so | a=1;2;3\\r\\n\\r\\n  indented\\r\\nnext\\r\\n\\r\\n'\nexit 1\n");
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary == "WARNING - so so");
  CHECK(outcome.details == "  indented\nnext");
  REQUIRE(outcome.metrics.size() == 1);
  CHECK(outcome.metrics[0].label == "a");
}

TEST_CASE("ExternalCheck: malformed perfdata keeps the state and says why", "[external]") {
  const auto outcome = run_script("echo 'CRITICAL - broken | load=abc;;'\necho detail\nexit 2\n");
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "CRITICAL - broken");
  CHECK(outcome.metrics.empty());
  CHECK_THAT(outcome.details, Catch::StartsWith("detail\nperfdata ignored: "));
  CHECK_THAT(outcome.details, Catch::Contains("load=abc"));
}

TEST_CASE("ExternalCheck: a plugin past the deadline is killed and UNKNOWN", "[external]") {
  const auto start = std::chrono::steady_clock::now();
  const auto outcome = run_script("echo partial\nsleep 30 &\nsleep 30\n", 1s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "timed out after 1 s");
  CHECK(outcome.details == "partial");
  CHECK(elapsed < 1500ms);
}

TEST_CASE("ExternalCheck: a deadline already past is UNKNOWN without running", "[external]") {
  const auto check = configured({{"command", {kCheckDummy, "0"}}});
  const auto outcome = check->run(RunContext{std::chrono::steady_clock::now() - 1s});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("deadline"));
}

TEST_CASE("ExternalCheck: death by signal is UNKNOWN and names the signal", "[external]") {
  const auto outcome = run_script("echo 'OK - about to crash'\nkill -SEGV $$\n");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "plugin killed by signal 11 (SIGSEGV)");
  CHECK(outcome.details == "OK - about to crash");
}

TEST_CASE("ExternalCheck: a plugin that cannot run is UNKNOWN with the reason", "[external]") {
  auto outcome = run_check({{"command", {"vigie-no-such-plugin"}}});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("\"vigie-no-such-plugin\" not found in PATH"));
  CHECK_THAT(outcome.summary, Catch::Contains(std::string(kNagiosPluginDir)));

  outcome = run_check({{"command", {"/nonexistent/check_x"}}});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("/nonexistent/check_x: No such file or directory"));

  testing::TempDir dir;
  const auto plain = dir.write("check_plain", "#!/bin/sh\necho OK\n");  // mode 0644
  outcome = run_check({{"command", {plain.string()}}});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("Permission denied"));
}

TEST_CASE("ExternalCheck: empty output and stderr", "[external]") {
  auto outcome = run_script("exit 0\n");
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "(no output)");
  CHECK(outcome.details.empty());

  outcome = run_script("echo 'usage: plugin -H host' >&2\necho 'second' >&2\nexit 3\n");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "(no output on stdout) stderr: usage: plugin -H host");
  CHECK(outcome.details == "stderr: usage: plugin -H host\nsecond");
}

TEST_CASE("ExternalCheck: huge output is capped and noted", "[external]") {
  const auto outcome =
      run_script("echo 'OK - chatty | n=1'\nhead -c 1000000 /dev/zero | tr '\\0' 'x'\n");
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "OK - chatty");
  CHECK_THAT(outcome.details, Catch::EndsWith("(output truncated)"));
  CHECK(outcome.details.size() <= protocol::Limits{}.max_details);
  CHECK(outcome.metrics.size() == 1);
}

TEST_CASE("ExternalCheck: a very long first line is cut to the summary limit", "[external]") {
  const auto outcome = run_script("head -c 20000 /dev/zero | tr '\\0' 'y'\n");
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary.size() <= protocol::Limits{}.max_summary);
  CHECK_THAT(outcome.summary, Catch::StartsWith("yyyy") && Catch::EndsWith("\xE2\x80\xA6"));
}

TEST_CASE("ExternalCheck: output that is not UTF-8 is made valid", "[external]") {
  // "terminée" in Latin-1.
  const auto outcome = run_script("printf 'OK - sauvegarde termin\\351e\\n'\n");
  CHECK(outcome.summary ==
        "OK - sauvegarde termin\xEF\xBF\xBD"
        "e");
}

TEST_CASE("ExternalCheck: env adds to the minimal environment", "[external]") {
  testing::TempDir dir;
  const auto script = dir.write("env.sh", "#!/bin/sh\necho \"$GREETING $PATH $LANG\"\n", true);
  auto outcome = run_check({{"command", {script.string()}}, {"env", {{"GREETING", "bonjour"}}}});
  CHECK(outcome.summary == "bonjour /usr/local/bin:/usr/bin:/bin C");

  outcome = run_check({{"command", {script.string()}},
                       {"env", {{"PATH", "/usr/bin:/bin"}, {"LANG", "fr_FR.UTF-8"}}}});
  CHECK(outcome.summary == "/usr/bin:/bin fr_FR.UTF-8");
}

TEST_CASE("ExternalCheck: user runs the plugin as that user, with its groups", "[external]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "not root: cannot switch users here");
  testing::TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  const auto script = dir.write(
      "who.sh", "#!/bin/sh\necho \"OK $(id -un) $(id -u):$(id -g) [$(id -G)] $HOME $USER\"\n",
      true);
  auto outcome = run_check({{"command", {script.string()}}, {"user", "nobody"}});
  INFO(outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "OK nobody 65534:65534 [65534] /nonexistent nobody");

  // Files only root may read are out of its reach: the plugin's own error, as nobody.
  const auto secret = dir.write("secret", "x");
  std::filesystem::permissions(secret, std::filesystem::perms(0600));
  const auto reader = dir.write("read.sh",
                                "#!/bin/sh\ncat " + secret.string() +
                                    " 2>/dev/null || { echo 'CRITICAL no access'; exit 2; }\n",
                                true);
  outcome = run_check({{"command", {reader.string()}}, {"user", "nobody"}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "CRITICAL no access");
  // As the agent's own user it can.
  CHECK(run_check({{"command", {reader.string()}}}).summary == "x");
}

TEST_CASE("ExternalCheck: an agent that may not switch users says so, UNKNOWN", "[external]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "not root: cannot drop to another user here");
  // A child that became nobody (no capabilities left) runs the check as daemon.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string text;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      text = "cannot drop privileges";
    } else {
      const auto outcome = run_check(
          {{"command", {"/usr/lib/nagios/plugins/check_dummy", "0"}}, {"user", "daemon"}});
      text = std::to_string(static_cast<int>(outcome.status)) + " " + outcome.summary;
    }
    [[maybe_unused]] auto n = ::write(fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(text ==
        "3 cannot run as user daemon: setgroups: Operation not permitted (the agent "
        "needs CAP_SETUID and CAP_SETGID)");
}

TEST_CASE("ExternalCheck: configure names the bad parameter", "[external]") {
  CHECK_THAT(configure_error(json::object()), Catch::StartsWith("command:"));
  CHECK_THAT(configure_error({{"command", json::array()}}), Catch::StartsWith("command:"));
  CHECK_THAT(configure_error({{"command", "check_dummy 0"}}), Catch::StartsWith("command:"));
  CHECK_THAT(configure_error({{"command", {"check_dummy", 0}}}),
             Catch::StartsWith("command[1]: expected a string, got number"));
  CHECK_THAT(configure_error({{"command", {""}}}), Catch::StartsWith("command[0]:"));
  CHECK_THAT(configure_error({{"command", {"plugins/check_x"}}}),
             Catch::StartsWith("command[0]:") && Catch::Contains("absolute path"));
  CHECK_THAT(configure_error({{"command", {"check_dummy"}}, {"env", {"A=1"}}}),
             Catch::StartsWith("env:"));
  CHECK_THAT(configure_error({{"command", {"check_dummy"}}, {"env", {{"A=B", "1"}}}}),
             Catch::StartsWith("env: \"A=B\" is not a variable name"));
  CHECK_THAT(configure_error({{"command", {"check_dummy"}}, {"env", {{"A", 1}}}}),
             Catch::StartsWith("env.A: expected a string, got number"));
  CHECK(configure_error({{"command", {"check_dummy"}}, {"user", "no-such-user-here"}}) ==
        "user: no user \"no-such-user-here\" on this system");
  CHECK(configure_error({{"command", {"check_dummy"}}, {"user", 0}}) ==
        "user: expected a string, got number");
  // A plugin never runs as root: the agent holds CAP_SETUID for other users only.
  CHECK(configure_error({{"command", {"check_dummy"}}, {"user", "root"}}) ==
        "user: \"root\" is uid 0: a plugin never runs as root (name an unprivileged user)");
  CHECK(configure_error({{"command", {"check_dummy"}}, {"capabilities", "CAP_NET_RAW"}}) ==
        "capabilities: must be an array such as [\"CAP_NET_RAW\"]");
  CHECK(configure_error({{"command", {"check_dummy"}}, {"capabilities", {"CAP_SETUID"}}}) ==
        "capabilities[0]: \"CAP_SETUID\" cannot be given to a plugin (CAP_NET_ADMIN or "
        "CAP_NET_RAW)");
  CHECK(
      configure_error(
          {{"command", {"check_dummy"}}, {"capabilities", {"CAP_NET_RAW"}}, {"user", "nobody"}}) ==
      "capabilities: not with \"user\" (a plugin run as another user gets none)");
  CHECK(make_external_check()->configure(
      {{"command", {"check_dummy"}}, {"capabilities", {"CAP_NET_RAW", "CAP_NET_ADMIN"}}}));
  CHECK_THAT(configure_error(json::array()), Catch::Contains("object"));
}

TEST_CASE("ExternalCheck: has no instance", "[external]") {
  CHECK(configured({{"command", {"check_dummy", "0"}}})->instance().empty());
}

TEST_CASE("ExternalCheck: a misspelt parameter is refused, the right one suggested", "[external]") {
  testing::check_misspellings({
      {"external", "comand", "command"},
      {"external", "usr", "user"},
  });
}

}  // namespace
}  // namespace vigie::plugins::external
