#include "collector/rate_limit.hpp"

#include <catch2/catch.hpp>

namespace vigie::collector {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST_CASE("RateLimiter: off by default, every report admitted", "[rate-limit]") {
  RateLimiter limiter({});
  const auto t = Clock::now();
  for (int i = 0; i < 1000; ++i) REQUIRE(limiter.admit("a", t) == 0s);
}

TEST_CASE("RateLimiter: a burst, then the rate, per agent", "[rate-limit]") {
  RateLimiter limiter({.per_second = 0.5, .burst = 3});
  const auto t = Clock::now();
  for (int i = 0; i < 3; ++i) CHECK(limiter.admit("a", t) == 0s);
  // The bucket is empty: one token comes back every 2 s.
  CHECK(limiter.admit("a", t) == 2s);
  CHECK(limiter.admit("a", t + 1s) == 1s);
  CHECK(limiter.admit("a", t + 2s) == 0s);
  CHECK(limiter.admit("a", t + 2s) == 2s);
  // Another agent has its own bucket.
  CHECK(limiter.admit("b", t + 2s) == 0s);
  // A quiet while refills up to the burst, not beyond.
  const auto later = t + 1h;
  for (int i = 0; i < 3; ++i) CHECK(limiter.admit("a", later) == 0s);
  CHECK(limiter.admit("a", later) > 0s);
}

TEST_CASE("RateLimiter: Retry-After is whole seconds, at least one", "[rate-limit]") {
  RateLimiter limiter({.per_second = 10, .burst = 1});
  const auto t = Clock::now();
  CHECK(limiter.admit("a", t) == 0s);
  CHECK(limiter.admit("a", t) == 1s);  // 0.1 s rounds up
  CHECK(limiter.admit("a", t + 100ms) == 0s);
  // A refused report takes no token.
  CHECK(limiter.admit("a", t + 150ms) == 1s);
  CHECK(limiter.admit("a", t + 300ms) == 0s);
}

}  // namespace
}  // namespace vigie::collector
