// Several collectors on one PostgreSQL database see each other's changes live: the
// events long-poll of one wakes within a second of an event committed by another
// (LISTEN/NOTIFY), its views show acknowledgements made through another, and a lost
// LISTEN connection is made again without missing a change.

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "collector/monitor.hpp"
#include "collector/storage.hpp"
#include "common/time.hpp"
#include "tests/collector/monitor_ingest.hpp"
#include "tests/support/postgres_database.hpp"

namespace vigie::collector {
namespace {

using namespace std::chrono_literals;

protocol::Report report(const std::string& agent, std::uint64_t seq, State status) {
  protocol::Report r;
  r.agent = {agent, "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = status;
  c.summary = "load";
  c.ts_ms = wall_ms();
  c.interval_s = 60;
  r.results.push_back(c);
  return r;
}

using testing_support::ingest;

struct Poll {
  std::future<std::vector<Event>> events;
  std::chrono::steady_clock::time_point answered;
};

// A long-poll on `monitor` from its current cursor; `answered` is set when it returns.
std::shared_ptr<Poll> long_poll(Monitor& monitor, std::chrono::milliseconds timeout) {
  auto poll = std::make_shared<Poll>();
  auto promise = std::make_shared<std::promise<std::vector<Event>>>();
  poll->events = promise->get_future();
  monitor.wait_events(monitor.published_cursor(), 100, timeout,
                      [poll, promise](std::vector<Event> events, std::int64_t) {
                        poll->answered = std::chrono::steady_clock::now();
                        promise->set_value(std::move(events));
                      });
  return poll;
}

struct Collector {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<Monitor> monitor;
};

Collector open_collector(const std::string& conninfo) {
  Collector c;
  auto storage = open_postgres_storage({.conninfo = conninfo});
  REQUIRE(storage.is_ok());
  c.storage = std::move(*storage);
  auto monitor = Monitor::open(*c.storage, {});
  REQUIRE(monitor.is_ok());
  c.monitor = std::move(*monitor);
  return c;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

TEST_CASE("PostgreSQL: a long-poll on one collector wakes on an event made through another",
          "[postgres][live]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  Collector a = open_collector(server.conninfo(db));
  Collector b = open_collector(server.conninfo(db));
  // Let both LISTEN connections come up.
  std::this_thread::sleep_for(300ms);

  // A report through A that makes an event: B's waiting long-poll answers within 1 s.
  auto poll = long_poll(*b.monitor, 10s);
  const auto sent = std::chrono::steady_clock::now();
  REQUIRE(ingest(*a.monitor, report("agent-1", 1, State::kCritical)));
  REQUIRE(poll->events.wait_for(5s) == std::future_status::ready);
  auto events = poll->events.get();
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().agent == "agent-1");
  CHECK(poll->answered - sent < 1s);

  // An acknowledgement through A is seen in B's views.
  REQUIRE(eventually(
      [&] { return b.monitor->engine().check("agent-1", "system/load").has_value(); }, 2s));
  auto acked = a.monitor->acknowledge("agent-1", "system/load",
                                      {.author = "ann", .comment = "looking", .sticky = true});
  REQUIRE(acked.is_ok());
  CHECK(eventually(
      [&] {
        auto c = b.monitor->engine().check("agent-1", "system/load");
        return c && c->ack && c->ack->author == "ann";
      },
      1500ms));

  // A downtime planned through A is in B's views, and its removal too.
  const std::int64_t now = wall_ms();
  auto downtime = a.monitor->add_downtime({.site = "site-a",
                                           .start_ms = now + 3'600'000,
                                           .end_ms = now + 7'200'000,
                                           .comment = "works",
                                           .author = "ann"});
  REQUIRE(downtime.is_ok());
  CHECK(eventually([&] { return b.monitor->engine().downtime(downtime->id).has_value(); }, 1500ms));
  REQUIRE(a.monitor->remove_downtime(downtime->id, "ann", "cancelled").is_ok());
  CHECK(
      eventually([&] { return !b.monitor->engine().downtime(downtime->id).has_value(); }, 1500ms));

  // B's LISTEN connection killed: the next change made through A still wakes B.
  auto killed = server.psql(db,
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE application_name = 'vigie-listen'");
  REQUIRE(killed);
  CHECK(*killed == "2");
  std::this_thread::sleep_for(100ms);
  poll = long_poll(*b.monitor, 10s);
  const auto again = std::chrono::steady_clock::now();
  REQUIRE(ingest(*a.monitor, report("agent-2", 1, State::kCritical)));
  REQUIRE(poll->events.wait_for(8s) == std::future_status::ready);
  events = poll->events.get();
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().agent == "agent-2");
  CHECK(poll->answered - again < 3s);

  b.monitor->stop();
  a.monitor->stop();
}

}  // namespace
}  // namespace vigie::collector
