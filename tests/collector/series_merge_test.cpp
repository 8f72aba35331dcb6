// The points of a series answer as both backends build them: samples and tier buckets
// in any order, into the query's step, sums of decimals exact whatever the order.

#include "collector/series_merge.hpp"

#include <catch2/catch.hpp>

namespace vigie::collector {
namespace {

TEST_CASE("SeriesMerge: without a step, each time is a point of its own, in time order",
          "[storage]") {
  SeriesMerge merge(0);
  merge.add(3'000, 7, 7, 7, 1);
  merge.add(1'000, 5, 5, 5, 1);
  merge.add(2'000, 6, 6, 6, 1);
  merge.add(1'000, 1, 1, 1, 1);  // a second sample at the same time joins the first
  REQUIRE(merge.size() == 3);
  CHECK(merge.points() ==
        std::vector<SeriesPoint>{{1'000, 1, 5, 3, 2}, {2'000, 6, 6, 6, 1}, {3'000, 7, 7, 7, 1}});
}

TEST_CASE("SeriesMerge: samples and buckets fall into the step's buckets, before 1970 too",
          "[storage]") {
  SeriesMerge merge(60'000);
  merge.add(-1, 4, 4, 4, 1);      // the minute before 1970's first
  merge.add(59'999, 2, 2, 2, 1);  // a sample
  merge.add(0, 1, 9, 20, 4);      // a tier's bucket: min 1, max 9, 4 samples
  merge.add(60'000, 3, 3, 3, 1);
  CHECK(merge.points() == std::vector<SeriesPoint>{
                              {-60'000, 4, 4, 4, 1}, {0, 1, 9, 22.0 / 5, 5}, {60'000, 3, 3, 3, 1}});
}

TEST_CASE("SeriesMerge: a sum of decimals is the same whichever order the rows come in",
          "[storage]") {
  const double values[] = {0.1, 0.2, 0.3, 12.07, 0.01, 99.99, 0.7};
  SeriesMerge forward(3'600'000);
  SeriesMerge backward(3'600'000);
  for (std::size_t i = 0; i < std::size(values); ++i) {
    forward.add(static_cast<std::int64_t>(i), values[i], values[i], values[i], 1);
    const std::size_t j = std::size(values) - 1 - i;
    backward.add(static_cast<std::int64_t>(j), values[j], values[j], values[j], 1);
  }
  const auto a = forward.points();
  const auto b = backward.points();
  REQUIRE(a.size() == 1);
  CHECK(a == b);
  CHECK(a[0].avg == 113.37 / 7);  // the sum is the double nearest 113.37
}

TEST_CASE("SeriesMerge: daily buckets by day key answer at the local days' starts",
          "[storage][daily]") {
  auto paris = DayZone::named("Europe/Paris");
  REQUIRE(paris);
  SeriesMerge merge(0);
  merge.by_days_of(*paris);
  const std::int64_t key = 1'774'742'400'000;  // 2026-03-29, the key of its local day
  merge.add(key, 1, 2, 3, 2);
  const auto points = merge.points();
  REQUIRE(points.size() == 1);
  CHECK(points[0].ts_ms == key - 3'600'000);  // midnight in Paris: 23:00 UTC the day before
  CHECK(points[0].count == 2);
}

}  // namespace
}  // namespace vigie::collector
