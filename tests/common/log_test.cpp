#include "common/log.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <vector>

namespace vigie::log {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Time = std::chrono::steady_clock::time_point;

}  // namespace

TEST_CASE("log::Throttle: one line an interval, with the count of those held back", "[log]") {
  Throttle throttle(seconds(10));
  const Time t0{seconds(1)};  // near the clock's start: the first line is let through anyway
  CHECK(throttle.pass(t0).value_or(-1) == 0);
  for (int i = 1; i <= 5; ++i) CHECK_FALSE(throttle.pass(t0 + seconds(i)).has_value());
  CHECK_FALSE(throttle.pass(t0 + milliseconds(9'999)).has_value());
  // Ten seconds after the last line let through: this one, saying six were held back.
  CHECK(throttle.pass(t0 + seconds(10)).value_or(-1) == 6);
  CHECK_FALSE(throttle.pass(t0 + seconds(11)).has_value());
  // A quiet spell: the next line passes at once, with the one held before it.
  CHECK(throttle.pass(t0 + seconds(60)).value_or(-1) == 1);
  CHECK(throttle.pass(t0 + seconds(70)).value_or(-1) == 0);
}

TEST_CASE("log::Throttle: of many threads at once, one line passes and the rest are counted",
          "[log]") {
  Throttle throttle(seconds(10));
  const Time now{seconds(100)};
  std::vector<std::future<int>> threads;
  for (int t = 0; t < 4; ++t)
    threads.push_back(std::async(std::launch::async, [&] {
      int passed = 0;
      for (int i = 0; i < 1000; ++i) passed += throttle.pass(now).has_value() ? 1 : 0;
      return passed;
    }));
  int passed = 0;
  for (auto& t : threads) passed += t.get();
  CHECK(passed == 1);
  CHECK(throttle.pass(now + seconds(10)).value_or(-1) == 3999);
}

}  // namespace vigie::log
