#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>

#include "plugins/system/cpu_check.hpp"
#include "plugins/system/memory_check.hpp"
#include "plugins/system/uptime_check.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::system {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

Outcome run_once(Check& check) { return check.run(testing::context(5s)); }

std::unique_ptr<Check> configured(std::unique_ptr<Check> check,
                                  const json& params = json::object()) {
  const Status status = check->configure(params);
  INFO(status.to_string());
  REQUIRE(status.is_ok());
  return check;
}

std::string stat_line(long user, long idle, long iowait, long steal) {
  return "cpu  " + std::to_string(user) + " 0 0 " + std::to_string(idle) + " " +
         std::to_string(iowait) + " 0 0 " + std::to_string(steal) + " 0 0\ncpu0 1 2 3 4\n";
}

TEST_CASE("CpuCheck: busy, iowait and steal between two readings", "[system]") {
  testing::TempDir proc;
  proc.write("stat", stat_line(1000, 1000, 0, 0));
  auto check = configured(make_cpu_check(proc.path()));
  // The first run reads twice, half a second apart: nothing moved in the fixture.
  auto outcome = run_once(*check);
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "no CPU time counted between two readings of /proc/stat");

  proc.write("stat", stat_line(1000 + 500, 1000 + 300, 100, 100));
  outcome = run_once(*check);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "CPU 60.0% busy, iowait 10.0%, steal 10.0%");
  CHECK(find_metric(outcome, "busy_pct").value == 60);
  CHECK(find_metric(outcome, "busy_pct").warn == Range{0, 90});
  CHECK(find_metric(outcome, "iowait_pct").value == 10);
  CHECK(find_metric(outcome, "steal_pct").value == 10);

  proc.write("stat", stat_line(1500 + 990, 1300 + 10, 100, 100));
  outcome = run_once(*check);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "CPU 99.0% busy (CRITICAL > 98%), iowait 0.0%, steal 0.0%");

  proc.write("stat", stat_line(10, 10, 0, 0));  // counters reset
  CHECK_THAT(run_once(*check).summary, Catch::StartsWith("CPU times went backwards"));
}

TEST_CASE("CpuCheck: the real /proc/stat", "[system]") {
  auto check = configured(make_cpu_check(), {{"warn", 100}, {"crit", 100}});
  const auto start = std::chrono::steady_clock::now();
  const auto outcome = run_once(*check);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK(outcome.status == State::kOk);
  CHECK(*find_metric(outcome, "busy_pct").value >= 0);
  CHECK(*find_metric(outcome, "busy_pct").value <= 100);
}

TEST_CASE("CpuCheck: a malformed /proc/stat is UNKNOWN with the reason", "[system]") {
  testing::TempDir proc;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "/stat: no \"cpu\" line first"},
      {"intr 1 2 3\n", "/stat: no \"cpu\" line first"},
      {"cpu  1 2 x 4\n", "/stat: unexpected field \"x\" on the \"cpu\" line"},
      {"cpu  1 2\n", "/stat: the \"cpu\" line has 2 fields"},
      {"cpu  1 2 3 -4\n", "unexpected field \"-4\""},
      {"cpu  18446744073709551615 18446744073709551615 1 1\n", "/stat: CPU times overflow"},
      {"cpu  99999999999999999999999 1 1 1\n", "unexpected field"},
  };
  for (const auto& [text, reason] : cases) {
    INFO(text);
    proc.write("stat", text);
    const auto outcome = run_once(*configured(make_cpu_check(proc.path())));
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::Contains(reason));
  }
  proc.write("stat", std::string(5 << 20, ' '));
  const auto outcome = run_once(*configured(make_cpu_check(proc.path())));
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("stat"));
}

const std::string kMeminfo =
    "MemTotal:        8000000 kB\n"
    "MemFree:          500000 kB\n"
    "MemAvailable:    2000000 kB\n"
    "Buffers:          100000 kB\n"
    "SwapTotal:       1000000 kB\n"
    "SwapFree:         400000 kB\n"
    "HugePages_Total:       0\n";

TEST_CASE("MemoryCheck and SwapCheck: from /proc/meminfo", "[system]") {
  testing::TempDir proc;
  proc.write("meminfo", kMeminfo);
  auto outcome = run_once(*configured(make_memory_check(proc.path())));
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "memory 75% used, 1.9 GiB available of 7.6 GiB");
  CHECK(find_metric(outcome, "used_pct").value == 75);
  CHECK(find_metric(outcome, "used").value == 6000000.0 * 1024);
  CHECK(find_metric(outcome, "total").value == 8000000.0 * 1024);

  outcome = run_once(*configured(make_memory_check(proc.path()), {{"warn", 70}, {"crit", 80}}));
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary == "memory 75% used (WARNING > 70%), 1.9 GiB available of 7.6 GiB");

  outcome = run_once(*configured(make_swap_check(proc.path())));
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary == "swap 60% used (WARNING > 50%), 391 MiB free of 977 MiB");
  CHECK(find_metric(outcome, "used_pct").crit == Range{0, 80});

  proc.write("meminfo", "MemTotal: 100 kB\nMemAvailable: 50 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n");
  outcome = run_once(*configured(make_swap_check(proc.path())));
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "no swap configured");
  CHECK_FALSE(find_metric(outcome, "used_pct").value.has_value());
}

TEST_CASE("MemoryCheck and SwapCheck: the real /proc/meminfo", "[system]") {
  auto outcome = run_once(*configured(make_memory_check(), {{"warn", 100}, {"crit", 100}}));
  CHECK(outcome.status == State::kOk);
  CHECK(*find_metric(outcome, "total").value > 0);
  outcome = run_once(*configured(make_swap_check(), {{"warn", 100}, {"crit", 100}}));
  CHECK(outcome.status == State::kOk);
}

TEST_CASE("MemoryCheck: a malformed /proc/meminfo is UNKNOWN with the reason", "[system]") {
  testing::TempDir proc;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "/meminfo: no MemTotal line"},
      {"MemTotal: 100 kB\n", "/meminfo: no MemAvailable line"},
      {"MemTotal: lots\nMemAvailable: 1 kB\n", "/meminfo: unexpected value \"lots\" for MemTotal"},
      {"MemTotal: 100 MB\nMemAvailable: 1 kB\n", "unexpected value \"100 MB\""},
      {"MemTotal:\nMemAvailable: 1 kB\n", "/meminfo: no value for MemTotal"},
      {"MemTotal: 100 kB\nMemAvailable: 200 kB\n", "more memory free than there is"},
      {"MemTotal: 0 kB\nMemAvailable: 0 kB\n", "MemTotal is 0"},
  };
  for (const auto& [text, reason] : cases) {
    INFO(text);
    proc.write("meminfo", text);
    const auto outcome = run_once(*configured(make_memory_check(proc.path())));
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::Contains(reason));
  }
  proc.write("meminfo", std::string(2 << 20, 'M'));
  CHECK(run_once(*configured(make_memory_check(proc.path()))).status == State::kUnknown);
}

TEST_CASE("UptimeCheck: a recent reboot and a long uptime are WARNINGs", "[system]") {
  testing::TempDir proc;
  proc.write("uptime", "350735.47 234388.90\n");
  auto outcome = run_once(*configured(make_uptime_check(proc.path())));
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::StartsWith("up 4d1h (since "));
  CHECK(find_metric(outcome, "uptime").value == 350735);
  CHECK(find_metric(outcome, "uptime").warn == Range{900, INFINITY});

  outcome = run_once(*configured(make_uptime_check(proc.path()), {{"max", "3d"}}));
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::EndsWith(": not restarted for updates for too long "
                                              "(WARNING > 3d)"));

  proc.write("uptime", "300.00 10.00\n");
  outcome = run_once(*configured(make_uptime_check(proc.path())));
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("rebooted 5m ago (") && Catch::EndsWith(") (WARNING < 15m)"));

  for (const std::string text : {"", "abc 1", "-5 1", "1e999 2", "nan 1"}) {
    proc.write("uptime", text);
    outcome = run_once(*configured(make_uptime_check(proc.path())));
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::Contains("/uptime: expected seconds, got"));
  }
  CHECK(run_once(*configured(make_uptime_check(), {{"min", "1s"}})).status == State::kOk);
}

TEST_CASE("System checks: configure names the bad parameter", "[system]") {
  CHECK(testing::configure_error(make_cpu_check, {{"warn", 99}}) ==
        "warn: 99% is above crit (98%)");
  CHECK(testing::configure_error(make_memory_check, {{"crit", 101}}) ==
        "crit: 101: must be in 0..100");
  CHECK(testing::configure_error(make_swap_check, {{"warn", "50%"}}) ==
        "warn: expected a number 0..100, got string");
  CHECK(testing::configure_error(make_uptime_check, {{"max", "10m"}}) ==
        "max: 10m is not above min (15m)");
  CHECK_THAT(testing::configure_error(make_uptime_check, {{"min", 60}}),
             Catch::StartsWith("min: expected a duration such as"));
}

TEST_CASE("System checks: a misspelt parameter is refused, the right one suggested", "[system]") {
  testing::check_misspellings({
      {"system/cpu", "wran", "warn"},
      {"system/memory", "crti", "crit"},
      {"system/swap", "warm", "warn"},
      {"system/uptime", "minn", "min"},
      {"system/clock", "critt", "crit"},
      {"system/load", "wanr", "warn"},
      {"system/disk", "inode_warn", "inodes_warn"},
      {"system/unit", "expekt", "expect"},
  });
}

}  // namespace
}  // namespace vigie::plugins::system
