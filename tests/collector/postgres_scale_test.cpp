// Collectors own nothing (issue "Scale-out on PostgreSQL", item 2): two collectors on
// one database, the reports of each agent alternating between them, several agents
// at once, give the events one collector gives for the same stream, and every report
// is stored. Hidden ([.]): it fails while event ids are counted in each collector's
// memory (two collectors pick the same id; one report fails, "duplicate key value
// violates unique constraint events_pkey"). Run it with "[postgres-scale]".

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "collector/monitor.hpp"
#include "collector/storage.hpp"
#include "common/time.hpp"
#include "tests/support/postgres_server.hpp"

namespace vigie::collector {
namespace {

using testing::shared_postgres;

constexpr int kAgents = 8;
constexpr int kReports = 6;

protocol::Report report(int agent, int seq) {
  protocol::Report r;
  r.agent = {"scale-" + std::to_string(agent), "site-" + std::to_string(agent % 3), "host", "0.1"};
  r.seq = static_cast<std::uint64_t>(seq);
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = seq % 2 == 1 ? State::kCritical : State::kOk;
  c.summary = "load";
  c.ts_ms = wall_ms() - (kReports - seq);
  c.interval_s = 60;
  c.max_attempts = 1;
  r.results.push_back(c);
  return r;
}

Status ingest(Monitor& monitor, protocol::Report r) {
  std::promise<Status> done;
  auto future = done.get_future();
  monitor.ingest(std::move(r), wall_ms(),
                 [&](Result<IngestOutcome> o) { done.set_value(o ? Status::ok() : o.status()); });
  return future.get();
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

TEST_CASE("PostgreSQL: two collectors ingesting at once give the events of one",
          "[.][postgres-scale]") {
  auto& server = shared_postgres();
  if (!server.available()) {
    WARN("skipped: " << server.why());
    return;
  }
  // The same stream through one collector, for reference.
  const std::string single = server.create_database();
  REQUIRE_FALSE(single.empty());
  {
    Collector one = open_collector(server.conninfo(single));
    for (int a = 0; a < kAgents; ++a)
      for (int s = 1; s <= kReports; ++s) REQUIRE(ingest(*one.monitor, report(a, s)));
    one.monitor->stop();
  }

  const std::string db = server.create_database();
  REQUIRE_FALSE(db.empty());
  Collector a = open_collector(server.conninfo(db));
  Collector b = open_collector(server.conninfo(db));
  Monitor* through[2] = {a.monitor.get(), b.monitor.get()};
  // Each agent on a thread of its own, its reports alternating between A and B.
  std::atomic<int> failed{0};
  std::string first_error;
  std::mutex mu;
  std::vector<std::thread> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.emplace_back([&, i] {
      for (int s = 1; s <= kReports; ++s) {
        Status st = ingest(*through[(i + s) % 2], report(i, s));
        if (!st) {
          ++failed;
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = st.message();
        }
      }
    });
  }
  for (auto& t : agents) t.join();
  INFO(first_error);
  CHECK(failed == 0);
  a.monitor->stop();
  b.monitor->stop();

  const std::string per_agent =
      "SELECT string_agg(agent || ':' || kind || ':' || to_state, ',' ORDER BY agent, ts_ms, id)"
      " FROM events";
  CHECK(server.psql(db, per_agent) == server.psql(single, per_agent));
  CHECK(server.psql(db, "SELECT count(DISTINCT id) = count(*) FROM events") == "t");
}

}  // namespace
}  // namespace vigie::collector
