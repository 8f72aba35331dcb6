#include <sys/timex.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>

#include "plugins/system/clock_check.hpp"
#include "plugins/system/unit_check.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::system {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

// `systemctl show` as systemd 252 prints it for the properties the check asks for.
std::string show(const std::string& load, const std::string& active, const std::string& sub,
                 const std::string& result = "success", const std::string& restarts = "0") {
  return "NRestarts=" + restarts + "\nResult=" + result + "\nId=clamav-daemon.service\n" +
         "LoadState=" + load + "\nActiveState=" + active + "\nSubState=" + sub +
         "\nUnitFileState=enabled\nActiveEnterTimestamp=Sun 2026-11-29 01:00:00 UTC\n";
}

Outcome run_fake_systemctl(const std::string& output, json params = {{"unit", "clamav-daemon"}},
                           int exit_code = 0) {
  testing::TempDir dir;
  const auto out = dir.write("out", output);
  params["systemctl"] = dir.write("systemctl",
                                  "#!/bin/sh\ncat '" + out.string() +
                                      "'\necho 'Failed to show' >&2\n"
                                      "exit " +
                                      std::to_string(exit_code) + "\n",
                                  true)
                            .string();
  return testing::configured(make_unit_check, params)->run(testing::context(5s));
}

TEST_CASE("UnitCheck: the unit's states from systemctl show", "[unit]") {
  auto outcome = run_fake_systemctl(show("loaded", "active", "running", "success", "2"));
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary ==
        "clamav-daemon.service active (running) since Sun 2026-11-29 01:00:00 UTC");
  CHECK(find_metric(outcome, "restarts").value == 2);

  outcome = run_fake_systemctl(show("loaded", "failed", "failed", "exit-code"));
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "clamav-daemon.service failed (failed), last result exit-code");

  outcome = run_fake_systemctl(show("loaded", "inactive", "dead"));
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "clamav-daemon.service inactive (dead)");
  outcome = run_fake_systemctl(show("loaded", "inactive", "dead"),
                               {{"unit", "clamav-daemon"}, {"expect", "inactive"}});
  CHECK(outcome.status == State::kOk);
  outcome = run_fake_systemctl(show("loaded", "inactive", "dead", "exit-code"),
                               {{"unit", "clamav-daemon"}, {"expect", "inactive"}});
  CHECK(outcome.status == State::kCritical);

  outcome = run_fake_systemctl(show("loaded", "activating", "auto-restart", "exit-code"));
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary ==
        "clamav-daemon.service activating (auto-restart), last result exit-code");

  outcome = run_fake_systemctl(show("not-found", "inactive", "dead"));
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "clamav-daemon.service not found (not installed?)");
  outcome = run_fake_systemctl(show("masked", "inactive", "dead"));
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "clamav-daemon.service masked");
}

TEST_CASE("UnitCheck: unexpected systemctl output is UNKNOWN with the reason", "[unit]") {
  CHECK(run_fake_systemctl("").summary == "systemctl show: no LoadState=");
  CHECK(run_fake_systemctl("LoadState=loaded\n").summary == "systemctl show: no ActiveState=");
  CHECK(run_fake_systemctl("hello world\n").summary ==
        "systemctl show: unexpected line \"hello world\"");
  CHECK(run_fake_systemctl(std::string(100 << 10, 'x')).summary ==
        "systemctl show: output larger than 64 KiB");
  const auto outcome =
      run_fake_systemctl(show("loaded", "active", "running"), {{"unit", "cron"}}, 1);
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "systemctl show failed: Failed to show");
}

TEST_CASE("UnitCheck: the real systemctl", "[unit]") {
  const auto check = testing::configured(make_unit_check, {{"unit", "systemd-journald"}});
  CHECK(check->instance() == "systemd-journald.service");
  const auto outcome = check->run(testing::context(10s));
  if (!std::filesystem::exists("/run/systemd/system")) {
    // Not booted with systemd (a container): systemctl says so, and the check passes it on.
    testing::skip_test(testing::Absent::kRefusal,
                       "systemd is not running here: only systemctl's refusal is tested");
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::StartsWith("systemctl show failed: "));
    return;
  }
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::StartsWith("systemd-journald.service active (running)"));
}

TEST_CASE("UnitCheck: configure names the bad parameter", "[unit]") {
  CHECK(testing::configure_error(make_unit_check, json::object()) == "unit: required, a string");
  CHECK(testing::configure_error(make_unit_check, {{"unit", "--all"}}) ==
        "unit: \"--all\" is not a unit name");
  CHECK(testing::configure_error(make_unit_check, {{"unit", "a b"}}) ==
        "unit: \"a b\" is not a unit name");
  CHECK(testing::configure_error(make_unit_check, {{"unit", "cron"}, {"expect", "running"}}) ==
        "expect: must be \"active\" or \"inactive\"");
  CHECK(testing::configured(make_unit_check, {{"unit", "backup.timer"}})->instance() ==
        "backup.timer");
}

std::unique_ptr<Check> clock_check(Result<KernelClock> state, const json& params = json::object()) {
  auto check = make_clock_check([state] { return state; });
  REQUIRE(check->configure(params).is_ok());
  return check;
}

TEST_CASE("ClockCheck: synchronized, its error bound, or not synchronized", "[clock]") {
  auto outcome = clock_check(KernelClock{true, 0.0002, 0.012, 0.001})->run(testing::context(1s));
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "clock synchronized, offset 0.2 ms, max error 12.0 ms");
  CHECK(find_metric(outcome, "max_error").warn == Range{0, 0.5});
  CHECK(find_metric(outcome, "synchronized").value == 1);

  outcome = clock_check(KernelClock{true, 0, 0.8, 0.1})->run(testing::context(1s));
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary ==
        "clock synchronized, offset 0.0 ms, max error 800.0 ms (WARNING > 500ms)");

  outcome = clock_check(KernelClock{false, 0, 16, 16})->run(testing::context(1s));
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary ==
        "clock not synchronized (no time daemon, or it lost its servers), "
        "max error 16.00 s (CRITICAL > 2s)");
  outcome = clock_check(KernelClock{false, 0, 0.1, 0.1})->run(testing::context(1s));
  CHECK(outcome.status == State::kWarning);
  CHECK(find_metric(outcome, "synchronized").value == 0);

  outcome = clock_check(Status::io_error("ntp_adjtime: Operation not permitted"))
                ->run(testing::context(1s));
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "ntp_adjtime: Operation not permitted");

  CHECK(make_clock_check()->configure({{"warn", "3s"}}).message() == "warn: 3s is above crit (2s)");
  CHECK_THAT(make_clock_check()->configure({{"crit", 2}}).message(),
             Catch::StartsWith("crit: expected a duration such as"));
}

TEST_CASE("ClockCheck: the real kernel clock", "[clock]") {
  timex tx{};
  const int state = ::ntp_adjtime(&tx);
  REQUIRE(state >= 0);
  const bool synchronized = state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
  const auto outcome = make_clock_check()->run(testing::context(1s));
  CHECK(outcome.status != State::kUnknown);
  CHECK(find_metric(outcome, "synchronized").value == (synchronized ? 1 : 0));
  CHECK_THAT(outcome.summary,
             Catch::StartsWith(synchronized ? "clock synchronized" : "clock not synchronized"));
}

}  // namespace
}  // namespace vigie::plugins::system
