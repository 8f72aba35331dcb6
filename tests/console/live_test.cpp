#include "console/live.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

namespace vigie::console {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOverview =
    R"({"now": 1000, "cursor": 7, "checks": {"OK": 3, "WARNING": 1, "CRITICAL": 2,
        "UNKNOWN": 0}, "sites": {"total": 2, "unreachable": 0},
        "agents": {"total": 2, "lost": 1}, "problems": 3, "acknowledged": 1})";
constexpr const char* kProblems = R"({"now": 1000, "checks": [
    {"agent": "a", "site": "s", "name": "wifi", "check": "wifi/unifi", "status": 1,
     "summary": "ap down", "ts": 1, "received": 1, "since": 1, "interval_s": 60,
     "hard_state": "WARNING", "hard_since": 500},
    {"agent": "a", "site": "s", "name": "fw", "check": "firewall/sophos", "status": 2,
     "summary": "ha", "ts": 1, "received": 1, "since": 1, "interval_s": 60,
     "hard_state": "CRITICAL", "hard_since": 900,
     "ack": {"author": "bob", "comment": "on it", "sticky": false, "created": 950,
             "expires": 0}}]})";

// A collector in memory: each path answers what the test says, and counts its calls.
class FakeTransport final : public Transport {
 public:
  using Answer = std::function<Result<std::string>(const std::string& path)>;
  explicit FakeTransport(Answer answer) : answer_(std::move(answer)) {}
  Result<std::string> call(std::string_view method, std::string_view path,
                           std::string_view body) override {
    {
      const std::lock_guard lock(mutex_);
      ++calls_[std::string(path.substr(0, path.find('?')))];
      last_body_ = std::string(method) + " " + std::string(body);
    }
    if (cancelled_) return Status::unavailable("cancelled");
    return answer_(std::string(path));
  }
  void cancel() override { cancelled_ = true; }
  int calls(const std::string& path) {
    const std::lock_guard lock(mutex_);
    return calls_[path];
  }

 private:
  Answer answer_;
  std::mutex mutex_;
  std::map<std::string, int> calls_;
  std::string last_body_;
  std::atomic<bool> cancelled_{false};
};

Result<std::string> collector(const std::string& path) {
  if (path.starts_with("/api/v1/overview")) return std::string(kOverview);
  if (path.starts_with("/api/v1/problems")) return std::string(kProblems);
  return Status::not_found("no such endpoint");
}

template <class Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST_CASE("fetch_world: the overview and the view's data, problems in order", "[live]") {
  FakeTransport transport(collector);
  const World world = fetch_world(transport, World{}, {}, 5000);
  REQUIRE(world.error.is_ok());
  CHECK(world.fetched_at_ms == 5000);
  CHECK(world.collector_now_ms == 1000);
  REQUIRE(world.overview);
  CHECK(world.overview->agents_lost == 1);
  CHECK(world.overview->checks[2] == 2);
  REQUIRE(world.problems);
  REQUIRE(world.problems->size() == 2);
  CHECK((*world.problems)[0].result.name == "fw");  // CRITICAL before WARNING
  REQUIRE((*world.problems)[0].ack);
  CHECK((*world.problems)[0].ack->author == "bob");
  CHECK((*world.problems)[1].hard_since_ms == 500);
}

TEST_CASE("fetch_world: a failure keeps the last good data and says since when", "[live]") {
  FakeTransport good(collector);
  const World first = fetch_world(good, World{}, {}, 5000);
  FakeTransport down([](const std::string&) -> Result<std::string> {
    return Status::unavailable("cannot reach the collector at https://x: refused");
  });
  const World second = fetch_world(down, first, {}, 6000);
  const World third = fetch_world(down, second, {}, 7000);
  CHECK_FALSE(third.error.is_ok());
  CHECK(third.failing_since_ms == 6000);
  CHECK(third.fetched_at_ms == 5000);
  CHECK(third.problems == first.problems);
  CHECK(third.generation > first.generation);
  const World back = fetch_world(good, third, {}, 8000);
  CHECK(back.error.is_ok());
  CHECK(back.failing_since_ms == 0);
}

TEST_CASE("fetch_world: the collector's clock carried forward from the last good fetch", "[live]") {
  FakeTransport good(collector);
  const World first = fetch_world(good, World{}, {}, 5000);
  CHECK(first.collector_time(7000) == 3000);  // the overview's now, 1000, plus 2 s
  FakeTransport down([](const std::string&) -> Result<std::string> {
    return Status::unavailable("cannot reach the collector");
  });
  const World unreachable = fetch_world(down, first, {}, 9000);
  CHECK(unreachable.error.code() == Code::kUnavailable);
  CHECK(unreachable.collector_time(9000) == 5000);  // ages keep growing
}

TEST_CASE("fetch_world: a malformed reply keeps the last good data and says so", "[live]") {
  FakeTransport good(collector);
  const World first = fetch_world(good, World{}, {}, 5000);
  FakeTransport broken([](const std::string& path) -> Result<std::string> {
    if (path.starts_with("/api/v1/overview")) return std::string(kOverview);
    return std::string("{");
  });
  const World malformed = fetch_world(broken, first, {}, 9000);
  CHECK(malformed.error.code() == Code::kInvalidArgument);
  CHECK_THAT(malformed.error.message(),
             Catch::StartsWith("the collector's reply is malformed: malformed JSON"));
  CHECK(malformed.problems == first.problems);
  CHECK(malformed.overview == first.overview);  // nothing of a failed fetch is kept
  const World recovered = fetch_world(good, malformed, {}, 10000);
  CHECK(recovered.error.is_ok());
}

TEST_CASE("World: before any fetch the collector's clock is the local one", "[live]") {
  CHECK(World{}.collector_time(42) == 42);
}

TEST_CASE("fetch_world: the Check view without a notifications route", "[live]") {
  FakeTransport transport([](const std::string& path) -> Result<std::string> {
    if (path.starts_with("/api/v1/overview")) return std::string(kOverview);
    if (path.starts_with("/api/v1/check?")) {
      CHECK(path == "/api/v1/check?agent=a&check=backup%2Frestic%3A%2Fsrv");
      return std::string(R"({"agent": "a", "site": "s", "name": "backup",
          "check": "backup/restic:/srv", "status": 2, "summary": "old", "ts": 1,
          "received": 1, "since": 1, "interval_s": 60, "now": 1000,
          "metrics": [{"name": "age", "value": 3600, "unit": "s"}],
          "history": [{"id": 4, "ts": 950, "kind": "trap", "summary": "linkDown from fw",
                       "trap": {"name": "linkDown", "oid": "1.3.6.1.6.3.1.1.5.3",
                                "device": "fw", "source": "192.0.2.1:1024", "inform": true,
                                "varbinds": []}},
                      {"id": 3, "ts": 900, "kind": "state", "from": "OK",
                       "to": "CRITICAL", "state_type": "hard", "summary": "old"}]})");
    }
    if (path.starts_with("/api/v1/series?")) {
      return std::string(R"({"metric": "age", "unit": "s", "points": [
          {"ts": 1, "min": 1, "max": 2, "avg": 1.5, "count": 2}]})");
    }
    return Status::not_found("no such endpoint: /api/v1/notifications");
  });
  const World world =
      fetch_world(transport, World{},
                  {.view = View::kCheck, .agent = "a", .check = "backup/restic:/srv"}, 5000);
  REQUIRE(world.error.is_ok());
  REQUIRE(world.check);
  REQUIRE(world.check->detail.history.size() == 2);
  const HistoryEvent& trap = world.check->detail.history[0];
  CHECK(trap.kind == "trap");
  CHECK(trap.trap_name == "linkDown");
  CHECK(trap.trap_oid == "1.3.6.1.6.3.1.1.5.3");
  CHECK(trap.device == "fw");
  CHECK(trap.source == "192.0.2.1:1024");
  CHECK(trap.inform);
  REQUIRE(world.check->series.size() == 1);
  CHECK(world.check->series[0].points[0].value == 1.5);
  CHECK_FALSE(world.check->notifications.has_value());
}

TEST_CASE("Live: an event makes the feed fetch at once", "[live]") {
  std::atomic<int> events{0};
  auto feed = std::make_unique<FakeTransport>(collector);
  FakeTransport* feed_raw = feed.get();
  auto poller = std::make_unique<FakeTransport>([&](const std::string&) -> Result<std::string> {
    // One event per poll after a short wait, as the long-poll would.
    std::this_thread::sleep_for(50ms);
    ++events;
    return std::string(R"({"cursor": )" + std::to_string(events.load()) +
                       R"(, "events": [{"id": 1}]})");
  });
  auto actions = std::make_unique<FakeTransport>(collector);
  // A refresh interval far longer than the test: only events can cause fetches.
  Live live(std::move(feed), std::move(poller), std::move(actions), {},
            {.refresh = 1h, .retry = 10ms});
  REQUIRE(eventually([&] { return live.world()->fetched_at_ms != 0; }));
  REQUIRE(eventually([&] { return feed_raw->calls("/api/v1/problems") >= 3; }));
  CHECK(live.events_live());
}

TEST_CASE("Live: requests are sent in order and their outcome reported", "[live]") {
  auto actions =
      std::make_unique<FakeTransport>([](const std::string& path) -> Result<std::string> {
        if (path == "/api/v1/acks") return std::string("{}");
        return Status::invalid("the collector answered HTTP 400: comment: required");
      });
  auto idle = [](const std::string&) -> Result<std::string> {
    std::this_thread::sleep_for(20ms);
    return Status::unavailable("down");
  };
  Live live(std::make_unique<FakeTransport>(idle), std::make_unique<FakeTransport>(idle),
            std::move(actions), {}, {.refresh = 1h, .retry = 10ms});
  live.send({"POST", "/api/v1/acks", "{}", "acknowledge a/b"});
  live.send({"POST", "/api/v1/downtimes", "{}", "downtime for s"});
  std::vector<Live::Message> messages;
  REQUIRE(eventually([&] {
    for (auto& m : live.take_messages()) messages.push_back(m);
    return messages.size() == 2;
  }));
  CHECK(messages[0].text == "acknowledge a/b: done");
  CHECK_FALSE(messages[0].failed);
  CHECK(messages[1].failed);
  CHECK_THAT(messages[1].text, Catch::Contains("comment: required"));
  CHECK(live.pending() == 0);
}

}  // namespace
}  // namespace vigie::console
