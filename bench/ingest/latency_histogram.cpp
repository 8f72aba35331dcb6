#include "bench/ingest/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace vigie::bench::ingest {
namespace {

constexpr std::int64_t kLinearUs = 1000;  // one bucket per microsecond below this
constexpr double kGrowth = 1.01;          // then each bucket 1 % wider than the last
const double kLogGrowth = std::log(kGrowth);
// 1 ms * 1.01^1389 is just over 1,000 s.
constexpr std::size_t kLogBuckets = 1389;

std::size_t bucket_of(std::int64_t us) {
  if (us < kLinearUs) return static_cast<std::size_t>(std::max<std::int64_t>(us, 0));
  const auto i = static_cast<std::size_t>(
      std::log(static_cast<double>(us) / static_cast<double>(kLinearUs)) / kLogGrowth);
  return static_cast<std::size_t>(kLinearUs) + std::min(i, kLogBuckets - 1);
}

// The largest latency, in microseconds, that falls in `bucket`.
double bucket_bound_us(std::size_t bucket) {
  if (bucket < static_cast<std::size_t>(kLinearUs)) return static_cast<double>(bucket);
  return static_cast<double>(kLinearUs) *
         std::pow(kGrowth, static_cast<double>(bucket - static_cast<std::size_t>(kLinearUs) + 1));
}

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(static_cast<std::size_t>(kLinearUs) + kLogBuckets) {}

void LatencyHistogram::record(std::chrono::nanoseconds latency) {
  const std::int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  ++counts_[bucket_of(us)];
  ++count_;
  max_us_ = std::max(max_us_, us);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
}

double LatencyHistogram::percentile_ms(double q) const {
  if (count_ == 0) return 0;
  const auto rank = std::max<std::uint64_t>(
      1,
      static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_bound_us(i), static_cast<double>(max_us_)) / 1000.0;
  }
  return max_ms();
}

}  // namespace vigie::bench::ingest
