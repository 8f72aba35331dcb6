#include "collector/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace vigie::collector {

std::chrono::seconds RateLimiter::admit(const std::string& agent, Clock::time_point now) {
  if (!enabled()) return std::chrono::seconds(0);
  const double burst = std::max(1.0, limit_.burst);
  std::lock_guard lock(mu_);
  if (buckets_.size() >= kMaxKeys && !buckets_.count(agent)) {
    // Keys that are full again (quiet for burst / rate) are as good as new: forget them,
    // so that many sources (enrollment by address) cannot grow the map without bound.
    const double refill_s = burst / limit_.per_second;
    std::erase_if(buckets_, [&](const auto& entry) {
      return std::chrono::duration<double>(now - entry.second.at).count() >= refill_s;
    });
    if (buckets_.size() >= kMaxKeys) return std::chrono::seconds(1);  // a flood: wait
  }
  auto [it, inserted] = buckets_.try_emplace(agent, Bucket{burst, now});
  Bucket& bucket = it->second;
  if (!inserted && now > bucket.at) {
    const double elapsed = std::chrono::duration<double>(now - bucket.at).count();
    bucket.tokens = std::min(burst, bucket.tokens + elapsed * limit_.per_second);
    bucket.at = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return std::chrono::seconds(0);
  }
  const double wait = (1 - bucket.tokens) / limit_.per_second;
  return std::chrono::seconds(std::max<long>(1, static_cast<long>(std::ceil(wait))));
}

}  // namespace vigie::collector
