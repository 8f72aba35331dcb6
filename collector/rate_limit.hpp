#pragma once
// Admission by key: a token bucket per agent id for reports, per source address for
// enrollments. An agent that sends
// faster than the collector allows (a bug, a loop, a misconfigured 1 s interval on
// hundreds of checks) is told when to come back (429 + Retry-After) instead of taking
// the writer's time from the other sites.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vigie::collector {

struct RateLimit {
  double per_second = 0;  // reports per second and agent; 0: no limit
  double burst = 10;      // reports an agent may send at once after a quiet while
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(RateLimit limit) : limit_(limit) {}

  // Zero when `agent` may send one report at `now` (and counts it); otherwise how long
  // until it may, rounded up to whole seconds (at least 1 s), for Retry-After.
  std::chrono::seconds admit(const std::string& agent, Clock::time_point now);

  bool enabled() const { return limit_.per_second > 0; }

  // Keys tracked at most; past it, keys whose bucket is full again are forgotten, and
  // a new key waits while none is.
  static constexpr std::size_t kMaxKeys = 100'000;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at;
  };

  RateLimit limit_;
  std::mutex mu_;
  // One entry per agent that reported: bounded by the agents enrolled.
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace vigie::collector
