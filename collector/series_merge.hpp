#pragma once
// The points of a series answer, whichever backend read them: raw samples and tier
// buckets added in any order, each into the bucket of the query's step that holds it (or
// at its own time when the query has no step), answered in time order.

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "collector/day_zone.hpp"
#include "collector/rollup_block.hpp"
#include "collector/storage.hpp"

namespace vigie::collector {

class SeriesMerge {
 public:
  explicit SeriesMerge(std::int64_t step_ms) : step_ms_(step_ms) {}

  // A sample (n = 1, min = max = sum) or a bucket of a tier. Sums of decimals stay
  // exact (sum_exactly), so that a backend's answer does not depend on the order of its
  // rows.
  void add(std::int64_t ts, double min, double max, double sum, std::int64_t n) {
    Aggregate& a = buckets_[step_ms_ > 0 ? bucket_of(ts, step_ms_) : ts];
    a.min = std::min(a.min, min);
    a.max = std::max(a.max, max);
    a.sum = sum_exactly(a.sum, sum);
    a.n += n;
  }

  std::size_t size() const { return buckets_.size(); }

  // Buckets added by local day key (day_zone.hpp): answered at their days' starts.
  void by_days_of(DayZone zone) { days_ = std::move(zone); }

  std::vector<SeriesPoint> points() const {
    std::vector<SeriesPoint> out;
    out.reserve(buckets_.size());
    for (const auto& [ts, a] : buckets_) {
      out.push_back(
          {days_ ? days_->start_of(ts) : ts, a.min, a.max, a.sum / static_cast<double>(a.n), a.n});
    }
    return out;
  }

 private:
  std::int64_t step_ms_;
  std::optional<DayZone> days_;
  std::map<std::int64_t, Aggregate> buckets_;
};

}  // namespace vigie::collector
