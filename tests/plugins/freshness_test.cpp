#include "plugins/backup/freshness.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "tests/plugins/check_test_util.hpp"

namespace vigie::plugins::backup {
namespace {

using testing::find_metric;

constexpr std::int64_t kNow = 1'800'000'000;

TEST_CASE("Freshness: the size rule, and shrink_warn 0 turns it off", "[freshness]") {
  FreshnessPolicy policy;
  const RestorePoint latest{kNow - 3600, 400};
  const RestorePoint previous{kNow - 90000, 1000};
  auto outcome = judge_freshness("snapshot", 2, latest, previous, policy, kNow);
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary ==
        "last snapshot 1h ago (2027-01-15 07:00 UTC), 2 snapshots, 400 B, 60% "
        "smaller than the previous one (WARNING > 50%)");
  CHECK(find_metric(outcome, "size_change").value == -60);
  CHECK(find_metric(outcome, "size_change").warn == Range{-50, INFINITY});

  policy.shrink_warn = 0;
  outcome = judge_freshness("snapshot", 2, latest, previous, policy, kNow);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::EndsWith(", 400 B (-60% from the previous one)"));
  CHECK_FALSE(find_metric(outcome, "size_change").warn.has_value());

  // A previous size of 0 gives no change (no division by zero).
  outcome = judge_freshness("snapshot", 2, latest, RestorePoint{kNow - 90000, 0}, policy, kNow);
  CHECK_FALSE(find_metric(outcome, "size_change").value.has_value());
}

TEST_CASE("Freshness: ages, a snapshot from the future, none at all", "[freshness]") {
  const FreshnessPolicy policy;
  auto outcome = judge_freshness("archive", 1, RestorePoint{kNow - 27 * 3600, std::nullopt},
                                 std::nullopt, policy, kNow);
  CHECK(outcome.status == State::kWarning);
  CHECK(outcome.summary ==
        "last archive 27h ago (2027-01-14 05:00 UTC) (WARNING > 26h), 1 archive");
  CHECK_FALSE(find_metric(outcome, "size").value.has_value());

  outcome =
      judge_freshness("archive", 9, RestorePoint{kNow - 4 * 86400, 1}, std::nullopt, policy, kNow);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::Contains("4d ago") && Catch::Contains("(CRITICAL > 50h)"));

  // A few minutes ahead is clock noise; hours ahead is a clock problem.
  outcome = judge_freshness("file", 1, RestorePoint{kNow + 120, 1}, std::nullopt, policy, kNow);
  CHECK(outcome.status == State::kOk);
  CHECK(find_metric(outcome, "age").value == 0);
  outcome =
      judge_freshness("file", 1, RestorePoint{kNow + 3 * 3600, 1}, std::nullopt, policy, kNow);
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::StartsWith("last file dated 3h in the future (") &&
                                  Catch::Contains("check the clocks (WARNING)"));

  outcome = judge_freshness("snapshot", 0, std::nullopt, std::nullopt, policy, kNow);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no snapshot");
  CHECK(find_metric(outcome, "count").value == 0);
}

}  // namespace
}  // namespace vigie::plugins::backup
