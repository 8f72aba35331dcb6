#pragma once
// Request latencies in fixed memory: exact to the microsecond below 1 ms, then in
// buckets 1 % wide up to 1,000 s (longer latencies count in the last bucket), so a
// percentile is at most 1 % above the true value. Not thread-safe: one per thread,
// merged at the end.

#include <chrono>
#include <cstdint>
#include <vector>

namespace vigie::bench::ingest {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void record(std::chrono::nanoseconds latency);
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  // The latency that a fraction `q` (0..1) of the recorded ones do not exceed, in
  // milliseconds, rounded up to its bucket's bound (never above max_ms()). 0 if empty.
  double percentile_ms(double q) const;
  double max_ms() const { return static_cast<double>(max_us_) / 1000.0; }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::int64_t max_us_ = 0;
};

}  // namespace vigie::bench::ingest
