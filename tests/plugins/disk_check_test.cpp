#include "plugins/system/disk_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::system {
namespace {

using nlohmann::json;

std::unique_ptr<Check> configured(const json& params) {
  auto check = make_disk_check();
  const Status status = check->configure(params);
  INFO(status.to_string());
  REQUIRE(status.is_ok());
  return check;
}

Outcome run_disk(const json& params) {
  return configured(params)->run(
      RunContext{std::chrono::steady_clock::now() + std::chrono::seconds(5)});
}

const Metric* find_metric(const Outcome& outcome, const std::string& label) {
  for (const auto& metric : outcome.metrics) {
    if (metric.label == label) return &metric;
  }
  return nullptr;
}

std::string configure_error(const json& params) {
  const Status status = make_disk_check()->configure(params);
  REQUIRE_FALSE(status.is_ok());
  CHECK(status.code() == Code::kInvalidArgument);
  return status.message();
}

TEST_CASE("DiskCheck: OK below the thresholds with the metrics", "[disk]") {
  testing::TempDir dir;
  const auto path = dir.path().string();
  const auto outcome = run_disk(
      {{"path", path}, {"warn", 100}, {"crit", 100}, {"inodes_warn", 100}, {"inodes_crit", 100}});
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::StartsWith(path + " ") && Catch::Contains("% used, ") &&
                                  Catch::EndsWith(" free"));
  const Metric* used = find_metric(outcome, "used");
  const Metric* size = find_metric(outcome, "size");
  const Metric* used_pct = find_metric(outcome, "used_pct");
  REQUIRE(used != nullptr);
  REQUIRE(size != nullptr);
  REQUIRE(used_pct != nullptr);
  CHECK(used->unit == "B");
  CHECK(*size->value > 0);
  CHECK(*used->value <= *size->value);
  CHECK(used->max == size->value);
  CHECK(used_pct->unit == "%");
  CHECK(*used_pct->value >= 0);
  CHECK(*used_pct->value <= 100);
  CHECK(used_pct->warn == Range{0, 100});
  CHECK(used_pct->crit == Range{0, 100});
}

TEST_CASE("DiskCheck: CRITICAL past crit and the summary says so", "[disk]") {
  testing::TempDir dir;
  const auto outcome = run_disk({{"path", dir.path().string()}, {"warn", 0}, {"crit", 0}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::Contains("% used (CRITICAL > 0%), "));
}

TEST_CASE("DiskCheck: WARNING between warn and crit", "[disk]") {
  testing::TempDir dir;
  const auto outcome = run_disk({{"path", dir.path().string()},
                                 {"warn", 0},
                                 {"crit", 100},
                                 {"inodes_warn", 100},
                                 {"inodes_crit", 100}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::Contains("(WARNING > 0%)"));
}

TEST_CASE("DiskCheck: inode thresholds apply on their own", "[disk]") {
  testing::TempDir dir;
  const auto probe = run_disk({{"path", dir.path().string()}});
  if (find_metric(probe, "inodes_used_pct") == nullptr)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal,
                    "the temporary folder's filesystem has no inode count");
  const auto outcome = run_disk({{"path", dir.path().string()},
                                 {"warn", 100},
                                 {"crit", 100},
                                 {"inodes_warn", 0},
                                 {"inodes_crit", 0}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary,
             Catch::Contains(", inodes ") && Catch::EndsWith("% used (CRITICAL > 0%)"));
  CHECK(find_metric(outcome, "inodes_used_pct")->crit == Range{0, 0});
}

TEST_CASE("DiskCheck: a missing path is UNKNOWN with the reason", "[disk]") {
  testing::TempDir dir;
  const auto missing = (dir / "not-mounted").string();
  const auto check = configured({{"path", missing}});
  CHECK(check->instance() == missing);
  const auto outcome =
      check->run(RunContext{std::chrono::steady_clock::now() + std::chrono::seconds(5)});
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "cannot check " + missing + ": No such file or directory");
  CHECK(outcome.metrics.empty());
}

TEST_CASE("DiskCheck: the instance is the path spelled one way", "[disk]") {
  CHECK(configured({{"path", "/srv/backup/"}})->instance() == "/srv/backup");
  CHECK(configured({{"path", "/srv//data/./"}})->instance() == "/srv/data");
  CHECK(configured({{"path", "/"}})->instance() == "/");
}

TEST_CASE("DiskCheck: configure names the bad parameter", "[disk]") {
  CHECK_THAT(configure_error(json::object()), Catch::StartsWith("path: required"));
  CHECK_THAT(configure_error({{"path", 3}}), Catch::StartsWith("path: expected a string"));
  CHECK_THAT(configure_error({{"path", "srv"}}),
             Catch::StartsWith("path: \"srv\": must be an absolute path"));
  CHECK_THAT(configure_error({{"path", "/srv"}, {"warn", 120}}),
             Catch::StartsWith("warn: 120: must be in 0..100"));
  CHECK_THAT(configure_error({{"path", "/srv"}, {"crit", "90%"}}),
             Catch::StartsWith("crit: expected a number 0..100, got string"));
  CHECK(configure_error({{"path", "/srv"}, {"warn", 95}}) == "warn: 95% is above crit (90%)");
  CHECK(configure_error({{"path", "/srv"}, {"inodes_warn", 50}, {"inodes_crit", 40}}) ==
        "inodes_warn: 50% is above inodes_crit (40%)");
}

}  // namespace
}  // namespace vigie::plugins::system
