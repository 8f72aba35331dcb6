#include "agent/scheduler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/time.hpp"

namespace vigie::agent {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How late a timer or a thread may be on a busy test machine.
constexpr milliseconds kSlack = 150ms;

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// A check whose run() is the given function.
class FakeCheck final : public plugins::Check {
 public:
  using Body = std::function<plugins::Outcome(const plugins::RunContext&)>;
  explicit FakeCheck(Body body) : body_(std::move(body)) {}
  Status configure(const nlohmann::json&) override { return Status::ok(); }
  plugins::Outcome run(const plugins::RunContext& context) override { return body_(context); }

 private:
  Body body_;
};

ConfiguredCheck fake(const std::string& name, milliseconds interval, milliseconds timeout,
                     milliseconds splay, FakeCheck::Body body) {
  ConfiguredCheck check;
  check.name = name;
  check.type = "test/fake";
  check.id = "test/fake:" + name;
  check.interval = interval;
  check.timeout = timeout;
  check.splay = splay;
  check.check = std::make_unique<FakeCheck>(std::move(body));
  return check;
}

plugins::Outcome ok(const std::string& summary = "fine") { return {State::kOk, summary, {}, {}}; }

// Holds threads in wait() until open().
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// When things happened, relative to a start, recorded from any thread.
class Times {
 public:
  explicit Times(Clock::time_point start) : start_(start) {}
  void mark() {
    std::lock_guard lock(mutex_);
    times_.push_back(since(start_));
  }
  std::vector<milliseconds> get() const {
    std::lock_guard lock(mutex_);
    return times_;
  }

 private:
  const Clock::time_point start_;
  mutable std::mutex mutex_;
  std::vector<milliseconds> times_;
};

// Checks that `times` sit on the grid first + k * interval, whatever the first.
void check_on_grid(const std::vector<milliseconds>& times, milliseconds interval) {
  for (std::size_t k = 1; k < times.size(); ++k) {
    INFO("run " << k << " at " << times[k].count() << " ms, first at " << times[0].count());
    CHECK(times[k] - times[0] >= interval * static_cast<int>(k) - kSlack);
    CHECK(times[k] - times[0] <= interval * static_cast<int>(k) + kSlack);
  }
}

TEST_CASE("Scheduler: runs a check every interval, the first run within its splay", "[scheduler]") {
  const auto start = Clock::now();
  const std::int64_t wall_start = wall_ms();
  Times runs(start);
  std::atomic<long long> deadline_left_ms{-1};
  std::vector<ConfiguredCheck> checks;
  checks.push_back(fake("steady", 400ms, 300ms, 200ms, [&](const plugins::RunContext& context) {
    runs.mark();
    deadline_left_ms =
        std::chrono::duration_cast<milliseconds>(context.deadline - Clock::now()).count();
    return ok();
  }));
  std::vector<CheckResult> results;
  boost::asio::io_context io;
  Scheduler scheduler(io, checks, [&](CheckResult r) { results.push_back(std::move(r)); },
                      {.workers = 2, .seed = 42});
  scheduler.start();
  io.run_for(2100ms);
  scheduler.stop();

  const auto times = runs.get();
  REQUIRE(times.size() >= 4);
  CHECK(times.size() <= 6);
  CHECK(times[0] <= 200ms + kSlack);
  check_on_grid(times, 400ms);
  CHECK(deadline_left_ms <= 300);
  CHECK(deadline_left_ms >= 300 - kSlack.count());

  REQUIRE(results.size() >= times.size() - 1);
  for (const auto& result : results) {
    CHECK(result.name == "steady");
    CHECK(result.check == "test/fake:steady");
    CHECK(result.status == State::kOk);
    CHECK(result.summary == "fine");
    CHECK(result.interval_s == 1);
    CHECK(result.ts_ms >= wall_start);
    CHECK(result.ts_ms <= wall_ms());
    CHECK(result.duration_ms >= 0);
    CHECK(result.duration_ms < kSlack.count());
  }
}

TEST_CASE("Scheduler: spreads first runs over the splay", "[scheduler]") {
  const auto start = Clock::now();
  std::vector<std::unique_ptr<Times>> runs;
  std::vector<ConfiguredCheck> checks;
  for (std::size_t i = 0; i < 10; ++i) {
    runs.push_back(std::make_unique<Times>(start));
    checks.push_back(fake("c" + std::to_string(i), 10s, 1s, 500ms, [&runs, i](const auto&) {
      runs[i]->mark();
      return ok();
    }));
  }
  boost::asio::io_context io;
  Scheduler scheduler(io, checks, [](CheckResult) {}, {.workers = 4, .seed = 7});
  scheduler.start();
  io.run_for(500ms + kSlack * 2);

  milliseconds first = 1h;
  milliseconds last = 0ms;
  for (const auto& times : runs) {
    const auto got = times->get();
    REQUIRE(got.size() == 1);
    first = std::min(first, got[0]);
    last = std::max(last, got[0]);
  }
  CHECK(last <= 500ms + kSlack);
  CHECK(last - first >= 100ms);  // not all at once
}

TEST_CASE("Scheduler: a hung check gives UNKNOWN at its timeout while others keep time",
          "[scheduler]") {
  const auto start = Clock::now();
  Gate gate;
  Times steady_runs(start);
  std::vector<ConfiguredCheck> checks;
  checks.push_back(fake("hung", 10s, 1s, 0ms, [&](const auto&) {
    gate.wait();
    return ok("too late");
  }));
  checks.push_back(fake("steady", 250ms, 250ms, 0ms, [&](const auto&) {
    steady_runs.mark();
    return ok();
  }));
  std::vector<std::pair<CheckResult, milliseconds>> hung_results;
  boost::asio::io_context io;
  Scheduler scheduler(io, checks,
                      [&](CheckResult r) {
                        if (r.name == "hung") hung_results.emplace_back(std::move(r), since(start));
                      },
                      {.workers = 2, .seed = 1});
  scheduler.start();
  io.run_for(1600ms);

  REQUIRE(hung_results.size() == 1);
  const auto& [result, when] = hung_results[0];
  CHECK(result.status == State::kUnknown);
  CHECK(result.summary == "timed out after 1 s");
  CHECK(result.check == "test/fake:hung");
  CHECK(result.duration_ms == 1000);
  CHECK(when >= 1000ms);
  CHECK(when <= 1000ms + kSlack);

  const auto times = steady_runs.get();
  CHECK(times.size() >= 6);
  check_on_grid(times, 250ms);

  // The late result is ignored.
  gate.open();
  io.run_for(300ms);
  CHECK(hung_results.size() == 1);
}

TEST_CASE("Scheduler: a check still running is not started again", "[scheduler]") {
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::atomic<int> runs{0};
  std::vector<ConfiguredCheck> checks;
  checks.push_back(fake("slow", 200ms, 1s, 0ms, [&](const auto&) {
    const int now_inside = ++inside;
    most_inside = std::max(most_inside.load(), now_inside);
    ++runs;
    std::this_thread::sleep_for(450ms);
    --inside;
    return ok();
  }));
  std::vector<CheckResult> results;
  boost::asio::io_context io;
  Scheduler scheduler(io, checks, [&](CheckResult r) { results.push_back(std::move(r)); },
                      {.workers = 4, .seed = 1});
  scheduler.start();
  io.run_for(1300ms);

  CHECK(most_inside == 1);
  CHECK(runs >= 2);
  CHECK(runs <= 4);
  for (const auto& result : results) CHECK(result.status == State::kOk);
}

TEST_CASE("Scheduler: never more checks at once than its workers", "[scheduler]") {
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::atomic<int> runs{0};
  std::vector<ConfiguredCheck> checks;
  for (int i = 0; i < 6; ++i) {
    checks.push_back(fake("c" + std::to_string(i), 3s, 1s, 0ms, [&](const auto&) {
      const int now_inside = ++inside;
      int seen = most_inside.load();
      while (now_inside > seen && !most_inside.compare_exchange_weak(seen, now_inside)) {
      }
      std::this_thread::sleep_for(150ms);
      --inside;
      ++runs;
      return ok();
    }));
  }
  std::vector<CheckResult> results;
  boost::asio::io_context io;
  Scheduler scheduler(io, checks, [&](CheckResult r) { results.push_back(std::move(r)); },
                      {.workers = 2, .seed = 3});
  scheduler.start();
  io.run_for(2s);  // the second runs are due at 3 s
  CHECK(most_inside == 2);
  CHECK(runs == 6);  // all due at once, three rounds of two
  CHECK(results.size() == 6);
}

TEST_CASE("Scheduler: an exception from run() becomes UNKNOWN with its message", "[scheduler]") {
  std::vector<ConfiguredCheck> checks;
  checks.push_back(fake("boom", 1s, 1s, 0ms, [](const auto&) -> plugins::Outcome {
    throw std::runtime_error("disk on fire");
  }));
  checks.push_back(fake("odd", 1s, 1s, 0ms, [](const auto&) -> plugins::Outcome { throw 42; }));
  checks.push_back(fake("fine", 1s, 1s, 0ms, [](const auto&) { return ok(); }));

  const auto results = run_checks_once(checks);
  REQUIRE(results.size() == 3);
  CHECK(results[0].name == "boom");
  CHECK(results[0].status == State::kUnknown);
  CHECK(results[0].summary == "check failed: disk on fire");
  CHECK(results[1].status == State::kUnknown);
  CHECK(results[1].summary == "check failed: unknown exception");
  CHECK(results[2].status == State::kOk);
}

TEST_CASE("run_checks_once: runs the checks in parallel, results in config order", "[scheduler]") {
  std::vector<ConfiguredCheck> checks;
  for (int i = 0; i < 4; ++i) {
    checks.push_back(fake("c" + std::to_string(i), 10s, 2s, 0ms, [i](const auto&) {
      std::this_thread::sleep_for(milliseconds(400 - 100 * i));  // the first ends last
      return ok("#" + std::to_string(i));
    }));
  }
  checks.push_back(fake("slow", 10s, 500ms, 0ms, [](const auto&) {
    std::this_thread::sleep_for(1200ms);
    return ok("too late");
  }));
  const auto start = Clock::now();
  const auto results = run_checks_once(checks);
  CHECK(since(start) < 1200ms + kSlack * 2);  // not 400+300+200+100+1200 in a row

  REQUIRE(results.size() == 5);
  for (int i = 0; i < 4; ++i) {
    CHECK(results[static_cast<std::size_t>(i)].name == "c" + std::to_string(i));
    CHECK(results[static_cast<std::size_t>(i)].summary == "#" + std::to_string(i));
  }
  CHECK(results[4].status == State::kUnknown);
  CHECK(results[4].summary == "timed out after 0.5 s");
  CHECK(results[4].duration_ms == 500);
  CHECK(results[4].interval_s == 10);
}

namespace {
// A check that watches many targets: run_all() gives the outcomes it was made with.
class ManyTargets final : public plugins::Check {
 public:
  explicit ManyTargets(std::vector<plugins::Outcome> outcomes) : outcomes_(std::move(outcomes)) {}
  Status configure(const nlohmann::json&) override { return Status::ok(); }
  plugins::Outcome run(const plugins::RunContext&) override { return {}; }
  std::vector<plugins::Outcome> run_all(const plugins::RunContext&) override { return outcomes_; }

 private:
  std::vector<plugins::Outcome> outcomes_;
};

ConfiguredCheck many(const std::string& id, std::vector<plugins::Outcome> outcomes) {
  ConfiguredCheck check = fake(id, 60s, 2s, 0ms, [](const auto&) { return ok(); });
  check.id = id;
  check.check = std::make_unique<ManyTargets>(std::move(outcomes));
  return check;
}

plugins::Outcome target(const std::string& target, State status, const std::string& site = "") {
  plugins::Outcome outcome{status, target + " answered"};
  outcome.target = target;
  outcome.site = site;
  return outcome;
}
}  // namespace

TEST_CASE("Scheduler: a check of many targets gives a result per target, under its site",
          "[scheduler]") {
  std::vector<ConfiguredCheck> checks;
  checks.push_back(many("net/http", {target("https://a.example/", State::kOk, "onesse"),
                                     target("https://b.example/", State::kCritical, "morcenx"),
                                     target("c", State::kWarning)}));
  checks.push_back(many("net/http:shop", {{State::kOk, "round done"}, target("x", State::kOk)}));

  const auto results = run_checks_once(checks);
  REQUIRE(results.size() == 5);
  CHECK(results[0].check == "net/http:https://a.example/");
  CHECK(results[0].site == "onesse");
  CHECK(results[0].name == "net/http");
  CHECK(results[0].interval_s == 60);
  CHECK(results[1].check == "net/http:https://b.example/");
  CHECK(results[1].site == "morcenx");
  CHECK(results[1].status == State::kCritical);
  CHECK(results[2].check == "net/http:c");
  CHECK(results[2].site.empty());              // the agent's own site
  CHECK(results[3].check == "net/http:shop");  // the check's own outcome first
  CHECK(results[3].summary == "round done");
  CHECK(results[4].check == "net/http:shop/x");
  // A check's targets share its run's time (two checks may start a millisecond apart).
  CHECK(results[1].ts_ms == results[0].ts_ms);
  CHECK(results[2].ts_ms == results[0].ts_ms);
  CHECK(results[4].ts_ms == results[3].ts_ms);
}

TEST_CASE("Scheduler: targets that cannot be sent are said in the check's own UNKNOWN",
          "[scheduler]") {
  std::vector<ConfiguredCheck> checks;
  checks.push_back(many(
      "net/ping", {target("192.0.2.1", State::kOk), target("192.0.2.1", State::kCritical),  // twice
                   target("bad\nhost", State::kOk), target("192.0.2.2", State::kOk, "not a site!"),
                   target(std::string(2000, 'x'), State::kOk)}));
  checks.push_back(many("net/dns", {}));

  const auto results = run_checks_once(checks);
  REQUIRE(results.size() == 3);
  CHECK(results[0].check == "net/ping");
  CHECK(results[0].status == State::kUnknown);
  CHECK_THAT(results[0].summary, Catch::StartsWith("4 result(s) of the check not sent: "));
  CHECK_THAT(results[0].details, Catch::Contains("\"192.0.2.1\": given twice"));
  CHECK_THAT(results[0].details, Catch::Contains("\"bad?host\": not usable in a check id"));
  CHECK_THAT(results[0].details, Catch::Contains("site \"not a site!\" is not a site name"));
  CHECK(results[1].check == "net/ping:192.0.2.1");
  CHECK(results[1].status == State::kOk);  // the first of the two
  CHECK(results[2].check == "net/dns");
  CHECK(results[2].summary == "the check gave no result");
}

TEST_CASE("next_due: keeps the grid, and skips the slots missed while behind", "[scheduler]") {
  const Clock::time_point t0{std::chrono::seconds(1000)};
  CHECK(next_due(t0, 10s, t0 + 3ms) == t0 + 10s);
  CHECK(next_due(t0, 10s, t0 + 10s) == t0 + 10s);
  CHECK(next_due(t0, 10s, t0 + 35s) == t0 + 40s);
  CHECK(next_due(t0, 10s, t0 + 40s + 1ms) == t0 + 50s);
}

}  // namespace
}  // namespace vigie::agent

namespace vigie::agent {
namespace {

TEST_CASE("Scheduler: run_soon runs a device's checks at once, one run per gap however often asked",
          "[scheduler]") {
  std::atomic<int> fw_runs{0};
  std::atomic<int> other_runs{0};
  std::vector<ConfiguredCheck> checks;
  checks.push_back(fake("fw", std::chrono::hours(1), 1s, 0ms, [&](const plugins::RunContext&) {
    ++fw_runs;
    return ok();
  }));
  checks.back().device = "fw";
  checks.push_back(fake("ap", std::chrono::hours(1), 1s, 0ms, [&](const plugins::RunContext&) {
    ++other_runs;
    return ok();
  }));
  checks.back().device = "ap";
  boost::asio::io_context io;
  std::vector<CheckResult> results;
  Scheduler scheduler(io, checks, [&](CheckResult r) { results.push_back(std::move(r)); },
                      {.workers = 2, .seed = 1});
  // Not started: only run_soon() runs anything.
  CHECK(scheduler.run_soon("fw", 50ms, 600ms) == 1);
  // A storm: every call while one is pending schedules nothing.
  for (int i = 0; i < 1000; ++i) CHECK(scheduler.run_soon("fw", 50ms, 600ms) == 0);
  CHECK(scheduler.run_soon("nothing-reads-it", 50ms, 600ms) == 0);
  io.run_for(300ms);
  CHECK(fw_runs == 1);
  CHECK(other_runs == 0);
  // Asked again soon after: it waits for the gap, then runs once.
  const auto asked = Clock::now();
  CHECK(scheduler.run_soon("fw", 50ms, 600ms) == 1);
  for (int i = 0; i < 100; ++i) scheduler.run_soon("fw", 50ms, 600ms);
  io.run_for(200ms);
  CHECK(fw_runs == 1);
  // Then once, when the gap is over (a loaded machine may take longer to get there).
  for (const auto until = Clock::now() + 5s; fw_runs < 2 && Clock::now() < until;) {
    io.restart();
    io.run_for(50ms);
  }
  CHECK(fw_runs == 2);
  CHECK(since(asked) >= 400ms);
  io.restart();
  io.run_for(100ms);  // its result
  scheduler.stop();
  CHECK(scheduler.run_soon("fw", 0ms, 0ms) == 0);
  REQUIRE(results.size() == 2);
  CHECK(results[0].name == "fw");
}

TEST_CASE("Scheduler: replace swaps the checks, and a run in flight still gives its result",
          "[scheduler]") {
  boost::asio::io_context io;
  Gate gate;
  std::atomic<bool> old_started{false};
  std::vector<ConfiguredCheck> checks;
  checks.push_back(fake("old", 50ms, 5s, 0ms, [&](const plugins::RunContext&) {
    old_started = true;
    gate.wait();
    return ok("old result");
  }));
  std::vector<CheckResult> results;
  Scheduler scheduler(io, checks, [&](CheckResult r) { results.push_back(std::move(r)); },
                      {.workers = 2, .seed = 1});
  scheduler.start();
  // Let the old check start and block in its run.
  while (!old_started) io.run_one_for(10ms);

  std::vector<ConfiguredCheck> next;
  next.push_back(
      fake("new", 50ms, 5s, 0ms, [](const plugins::RunContext&) { return ok("new result"); }));
  scheduler.replace(std::move(next));
  gate.open();
  const auto start = Clock::now();
  const auto count = [&](const std::string& name) {
    return std::count_if(results.begin(), results.end(),
                         [&](const CheckResult& r) { return r.name == name; });
  };
  while (since(start) < 3s && (count("old") < 1 || count("new") < 3)) io.run_for(20ms);
  scheduler.stop();
  // The old run's result was not lost; the old check ran no more; the new one runs.
  CHECK(count("old") == 1);
  CHECK(count("new") >= 3);
}

}  // namespace
}  // namespace vigie::agent
