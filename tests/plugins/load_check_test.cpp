#include "plugins/system/load_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::system {
namespace {

using nlohmann::json;

std::string stat_with_cpus(int cpus) {
  std::string text = "cpu  100 0 50 1000 0 0 0 0 0 0\n";
  for (int i = 0; i < cpus; ++i) text += "cpu" + std::to_string(i) + " 25 0 12 250 0 0 0 0 0 0\n";
  return text + "intr 12345\nctxt 67890\nbtime 1700000000\n";
}

// A fake /proc with the given loadavg line and CPU count.
struct FakeProc {
  testing::TempDir dir;
  FakeProc(const std::string& loadavg, int cpus) {
    dir.write("loadavg", loadavg);
    dir.write("stat", stat_with_cpus(cpus));
  }
};

Outcome run_load(const FakeProc& proc, const json& params = json::object()) {
  auto check = make_load_check(proc.dir.path());
  const Status status = check->configure(params);
  INFO(status.to_string());
  REQUIRE(status.is_ok());
  return check->run(RunContext{std::chrono::steady_clock::now() + std::chrono::seconds(5)});
}

std::string configure_error(const json& params) {
  const Status status = make_load_check()->configure(params);
  REQUIRE_FALSE(status.is_ok());
  CHECK(status.code() == Code::kInvalidArgument);
  return status.message();
}

TEST_CASE("LoadCheck: a quiet machine is OK with the three averages", "[load]") {
  FakeProc proc("0.52 0.48 0.40 2/345 6789\n", 4);
  const auto outcome = run_load(proc);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "load 0.52, 0.48, 0.40 (4 CPUs)");
  REQUIRE(outcome.metrics.size() == 3);
  CHECK(outcome.metrics[0].label == "load1");
  CHECK(outcome.metrics[0].value == 0.52);
  CHECK(outcome.metrics[1].label == "load5");
  CHECK(outcome.metrics[2].label == "load15");
  CHECK(outcome.metrics[2].value == 0.40);
  // Default thresholds per CPU: warn 3, 2, 1.5 and crit 6, 4, 3, times 4 CPUs.
  CHECK(outcome.metrics[0].warn == Range{0, 12});
  CHECK(outcome.metrics[1].warn == Range{0, 8});
  CHECK(outcome.metrics[2].warn == Range{0, 6});
  CHECK(outcome.metrics[0].crit == Range{0, 24});
  CHECK(outcome.metrics[1].crit == Range{0, 16});
  CHECK(outcome.metrics[2].crit == Range{0, 12});
  CHECK(outcome.metrics[1].min == 0);
}

TEST_CASE("LoadCheck: thresholds scale with the CPU count", "[load]") {
  FakeProc busy("9.00 9.00 1.00 5/300 100\n", 4);
  auto outcome = run_load(busy);
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary == "load 9.00, 9.00, 1.00 (4 CPUs): 5-min > 8.00 (WARNING)");

  FakeProc same_load_more_cpus("9.00 9.00 1.00 5/300 100\n", 8);
  outcome = run_load(same_load_more_cpus);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "load 9.00, 9.00, 1.00 (8 CPUs)");
}

TEST_CASE("LoadCheck: CRITICAL names every average past crit", "[load]") {
  FakeProc proc("2.50 2.10 0.50 1/50 42\n", 1);
  const auto outcome = run_load(proc, {{"warn", 1}, {"crit", 2}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "load 2.50, 2.10, 0.50 (1 CPU): 1-min > 2.00, 5-min > 2.00 (CRITICAL)");
  CHECK(outcome.metrics[2].warn == Range{0, 1});
}

TEST_CASE("LoadCheck: thresholds as an array per average", "[load]") {
  FakeProc proc("1.00 1.00 1.00 1/50 42\n", 2);
  const auto outcome = run_load(proc, {{"warn", {1, 0.75, 0.4}}, {"crit", {2, 1, 0.6}}});
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary == "load 1.00, 1.00, 1.00 (2 CPUs): 15-min > 0.80 (WARNING)");
  CHECK(outcome.metrics[1].crit == Range{0, 2});
}

TEST_CASE("LoadCheck: unreadable or odd /proc files are UNKNOWN", "[load]") {
  testing::TempDir empty;
  auto check = make_load_check(empty.path());
  REQUIRE(check->configure(json::object()).is_ok());
  const RunContext context{std::chrono::steady_clock::now() + std::chrono::seconds(5)};
  auto outcome = check->run(context);
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains((empty / "loadavg").string()) &&
                                  Catch::Contains("No such file or directory"));

  FakeProc garbage("not a load\n", 2);
  outcome = run_load(garbage);
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("expected three load averages"));

  FakeProc short_line("0.1 0.2\n", 2);
  CHECK(run_load(short_line).status == State::kUnknown);

  FakeProc no_cpus("0.1 0.2 0.3 1/1 1\n", 0);
  outcome = run_load(no_cpus);
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("cpuN"));
}

TEST_CASE("LoadCheck: configure names the bad parameter", "[load]") {
  CHECK_THAT(configure_error({{"warn", "high"}}), Catch::StartsWith("warn: must be a per-CPU"));
  CHECK_THAT(configure_error({{"crit", -1}}), Catch::StartsWith("crit:"));
  CHECK_THAT(configure_error({{"warn", {1, 2}}}), Catch::StartsWith("warn:"));
  CHECK_THAT(configure_error({{"warn", {1, "2", 3}}}), Catch::StartsWith("warn:"));
  CHECK(configure_error({{"warn", 5}}) == "warn: the 5-min threshold 5.00 is above crit's 4.00");
  CHECK_THAT(configure_error({{"warn", 5}, {"crit", 4}}), Catch::StartsWith("warn: the 1-min"));
}

TEST_CASE("LoadCheck: reads the real /proc", "[load]") {
  auto check = make_load_check();
  REQUIRE(check->configure(json::object()).is_ok());
  const auto outcome =
      check->run(RunContext{std::chrono::steady_clock::now() + std::chrono::seconds(5)});
  CHECK(outcome.status != State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::StartsWith("load "));
  CHECK(outcome.metrics.size() == 3);
  CHECK(check->instance().empty());
}

}  // namespace
}  // namespace vigie::plugins::system
