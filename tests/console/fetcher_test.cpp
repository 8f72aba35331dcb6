#include "console/fetcher.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

namespace vigie::console {
namespace {

using namespace std::chrono_literals;

std::string reply(int now) {
  return R"({"now": )" + std::to_string(now) + R"(, "checks": [
    {"agent": "a", "site": "s", "name": "load", "check": "system/load", "status": 0,
     "summary": "fine", "ts": 1, "received": 1, "since": 1, "interval_s": 60}]})";
}

// Waits up to 5 s for `done`.
template <class Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST_CASE("Fetcher: publishes a new snapshot after each fetch", "[fetcher]") {
  std::atomic<int> calls{0};
  Fetcher fetcher([&] { return Result<std::string>(reply(++calls)); }, 1h);
  REQUIRE(eventually([&] { return fetcher.snapshot()->fetched_at_ms != 0; }));
  const auto first = fetcher.snapshot();
  CHECK(first->rows.size() == 1);
  CHECK(first->collector_now_ms == 1);
  CHECK(calls == 1);
  CHECK(fetcher.snapshot() == first);  // nothing new until the next fetch
}

TEST_CASE("Fetcher: refresh fetches before the interval ends", "[fetcher]") {
  std::atomic<int> calls{0};
  Fetcher fetcher([&] { return Result<std::string>(reply(++calls)); }, 1h);
  REQUIRE(eventually([&] { return fetcher.snapshot()->collector_now_ms == 1; }));
  fetcher.refresh();
  REQUIRE(eventually([&] { return fetcher.snapshot()->collector_now_ms == 2; }));
}

TEST_CASE("Fetcher: fetches again every interval", "[fetcher]") {
  std::atomic<int> calls{0};
  Fetcher fetcher([&] { return Result<std::string>(reply(++calls)); }, 10ms);
  REQUIRE(eventually([&] { return calls >= 3; }));
}

TEST_CASE("Fetcher: a failed fetch keeps the rows and carries the error", "[fetcher]") {
  std::atomic<int> calls{0};
  Fetcher fetcher(
      [&]() -> Result<std::string> {
        if (++calls == 1) return reply(7);
        return Status::unavailable("cannot reach the collector at http://x: refused");
      },
      1h);
  REQUIRE(eventually([&] { return fetcher.snapshot()->fetched_at_ms != 0; }));
  fetcher.refresh();
  REQUIRE(eventually([&] { return !fetcher.snapshot()->error.is_ok(); }));
  const auto snapshot = fetcher.snapshot();
  CHECK(snapshot->error.code() == Code::kUnavailable);
  CHECK(snapshot->rows.size() == 1);
  CHECK(snapshot->collector_now_ms == 7);
}

TEST_CASE("Fetcher: an exception in a fetch becomes an error, not a crash", "[fetcher]") {
  Fetcher fetcher([]() -> Result<std::string> { throw std::runtime_error("boom"); }, 1h);
  REQUIRE(eventually([&] { return !fetcher.snapshot()->error.is_ok(); }));
  CHECK(fetcher.snapshot()->error.message() == "boom");
}

TEST_CASE("Fetcher: stops promptly while waiting for the next fetch", "[fetcher]") {
  const auto start = std::chrono::steady_clock::now();
  {
    Fetcher fetcher([] { return Result<std::string>(reply(1)); }, 1h);
    REQUIRE(eventually([&] { return fetcher.snapshot()->fetched_at_ms != 0; }));
  }
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

}  // namespace
}  // namespace vigie::console
