// The roll-up of an hour on PostgreSQL runs on the collector that leads
// (collector/postgres/lease.hpp, storage.cpp): whatever happens to the lead meanwhile,
// the hour's queued blocks reach the tiers within a bounded time, each once. A term the
// database no longer holds is given up at the first duty it refuses, not led on in
// silence until the lease's next confirmation; a lease whose connection is terminated
// mid-hour leads again and finishes the hour.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collector/postgres/pq.hpp"
#include "collector/postgres/reads.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/postgres/writes.hpp"
#include "collector/rollup_pack.hpp"
#include "collector/storage.hpp"
#include "tests/support/child.hpp"
#include "tests/support/postgres_database.hpp"

namespace vigie::collector {
namespace {

using namespace std::chrono_literals;

// An hour that is over at kNow.
constexpr std::int64_t kHourStart = 1'764'892'800'000;  // 2025-12-05 00:00 UTC
constexpr std::int64_t kNow = kHourStart + 2 * kHourMs;

protocol::Report report(const std::string& agent, std::uint64_t seq) {
  protocol::Report r;
  r.agent = {agent, "site-a", "host", "0.1"};
  r.seq = seq + 1;
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = State::kOk;
  c.ts_ms = kHourStart + static_cast<std::int64_t>(seq) * 60'000;
  c.interval_s = 60;
  c.metrics.push_back(Metric{.label = "m", .value = 1.0});
  r.results.push_back(c);
  return r;
}

// Queues an hour of `agents` agents' reports a minute apart (a block each), as
// collectors that do not lead would: in one transaction of a connection of its own.
void queue_hour(const std::string& conninfo, int agents) {
  auto conn = pq::Conn::connect(conninfo);
  REQUIRE(conn.is_ok());
  pg::Writes writes(**conn, 0);
  REQUIRE((*conn)->exec("BEGIN"));
  writes.new_transaction();
  for (int agent = 0; agent < agents; ++agent) {
    for (std::uint64_t seq = 0; seq < 60; ++seq) {
      writes.job_starts();
      REQUIRE(writes.store(report("agent-" + std::to_string(agent), seq), 1000).is_ok());
    }
  }
  REQUIRE(writes.flush_blocks());
  REQUIRE((*conn)->commit());
}

std::int64_t pending(testing::PostgresServer& server, const std::string& db) {
  return std::stoll(server.psql(db, "SELECT count(*) FROM rollup_pending").value_or("-1"));
}

// The samples the hourly tier's packs hold, all series together.
std::int64_t hourly_samples(const std::string& conninfo) {
  auto conn = pq::Conn::connect(conninfo);
  REQUIRE(conn.is_ok());
  auto packs = (*conn)->query("SELECT tier, start_ms, buckets FROM rollup_packs WHERE tier = $1",
                              pq::Params().add(kHourMs));
  REQUIRE(packs.is_ok());
  std::int64_t n = 0;
  std::vector<PackEntry> entries;
  std::vector<RollupBucket> buckets;
  for (int i = 0; i < packs->size(); ++i) {
    const std::string pack = packs->bytes(i, 2);
    REQUIRE(parse_pack(pack, pack.size(), entries));
    for (const PackEntry& e : entries) {
      buckets.clear();
      REQUIRE(decode_rollups(std::string_view(pack).substr(e.offset, e.length), packs->int64(i, 1),
                             packs->int64(i, 0), buckets));
      for (const RollupBucket& b : buckets) n += b.n;
    }
  }
  return n;
}

TEST_CASE(
    "PostgreSQL lead: a term the database no longer holds is given up at the first duty it "
    "refuses, and the hour queued meanwhile is rolled up",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  PostgresOptions options{.conninfo = conninfo};
  options.now_ms = [] { return kNow; };
  options.housekeeping_every = 20ms;
  // Confirmed every 10 s: without its duties' word, the lease would lead on that long.
  options.lease = 30s;
  auto storage = open_postgres_storage(options);
  REQUIRE(storage.is_ok());
  Storage& s = **storage;
  std::atomic<int> changes{0};
  s.lead([&](bool) { ++changes; });
  REQUIRE(testing::eventually([&] { return s.leads(); }, 5s));
  const std::int64_t term = std::stoll(server.psql(db, "SELECT term FROM vigie_lead").value());

  // The row's term moves on behind the lease's back (another collector's, this one's
  // lock lost and not noticed yet); then an hour falls due.
  REQUIRE(server.psql(db, "UPDATE vigie_lead SET term = term + 10, holder = 'other'").has_value());
  queue_hour(conninfo, 5);
  const StorageStats due = s.stats();
  CHECK(due.rollup_due_blocks == 300);
  CHECK(due.rollup_oldest_due_seconds == Approx((kNow - kHourStart) / 1000.0).margin(3600));

  // Its housekeeping is refused: it gives the lead up, takes it again in a new term and
  // rolls the hour up, well before the lease's next confirmation.
  const auto queued_at = std::chrono::steady_clock::now();
  CHECK(testing::eventually([&] { return pending(server, db) == 0; }, 5s));
  CHECK(std::chrono::steady_clock::now() - queued_at < 5s);
  CHECK(s.leads());
  CHECK(std::stoll(server.psql(db, "SELECT term FROM vigie_lead").value()) > term + 10);
  CHECK(changes >= 3);  // led, gave up, led again
  CHECK(hourly_samples(conninfo) == 300);
  CHECK(s.stats().rollup_due_blocks == 0);
  CHECK(s.stats().rollup_oldest_due_seconds == 0);
}

TEST_CASE(
    "PostgreSQL lead: the lease's connection terminated while an hour is rolled up, the "
    "hour is rolled up all the same, each block once",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  PostgresOptions options{.conninfo = conninfo};
  options.now_ms = [] { return kNow; };
  options.housekeeping_every = 20ms;
  // A pick a slice, of a few blocks: the hour takes many slices.
  options.housekeeping_budget = 1ms;
  options.lease = 300ms;
  auto storage = open_postgres_storage(options);
  REQUIRE(storage.is_ok());
  Storage& s = **storage;
  queue_hour(conninfo, 20);
  std::atomic<int> gained{0}, lost{0};
  s.lead([&](bool leading) { ++(leading ? gained : lost); });

  // Mid-hour, the lease's backend is terminated (an administrator, a server under
  // pressure): the collector stops leading, leads again, and finishes the hour.
  REQUIRE(testing::eventually([&] { return pending(server, db) < 1200; }, 5s));
  CHECK(server.psql(db,
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'vigie-lease' AND datname = current_database()") ==
        "1");
  const std::int64_t left = pending(server, db);
  CHECK(left > 0);
  REQUIRE(testing::eventually([&] { return lost >= 1; }, 5s));
  CHECK(testing::eventually([&] { return pending(server, db) == 0; }, 8s));
  CHECK(gained >= 2);
  CHECK(s.leads());
  CHECK(hourly_samples(conninfo) == 1200);
}

TEST_CASE(
    "PostgreSQL roll-up backlog: counted up to a bound, the oldest found through the queue's "
    "index by end, however long the queue",
    "[postgres]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  // More blocks due than the bound (the hour before kNow's, and one of five hours
  // before), and more of the hour under way (not due: kNow is its start).
  const std::int64_t due = kRollupDueCounted + 5'000;
  const std::int64_t oldest = kHourStart - 5 * kHourMs + 1;
  REQUIRE(server.psql(
      db, "INSERT INTO rollup_pending (block_id, agent_id, t_max) SELECT i, i % 100, " +
              std::to_string(kHourStart + kHourMs) + " + i % " + std::to_string(kHourMs) +
              " FROM generate_series(1, " + std::to_string(due - 1) +
              ") i;"
              " INSERT INTO rollup_pending (block_id, agent_id, t_max) SELECT i, i % 100, " +
              std::to_string(kNow) + " + i % " + std::to_string(kHourMs) +
              " FROM generate_series(" + std::to_string(due) + ", " + std::to_string(due + 50'000) +
              ") i;"
              " INSERT INTO rollup_pending (block_id, agent_id, t_max) VALUES (0, 7, " +
              std::to_string(oldest) + ")"));

  // Every plan the statement runs with is logged (auto_explain): before the table is
  // analyzed, after, and the generic plan a prepared statement takes from its sixth run.
  auto made = pq::Conn::connect(conninfo);
  REQUIRE(made.is_ok());
  pq::Conn& conn = **made;
  REQUIRE(conn.exec("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0"));
  const std::size_t mark = server.log().size();
  for (int run = 0; run < 8; ++run) {
    if (run == 4) REQUIRE(conn.exec("ANALYZE rollup_pending"));
    auto backlog = pg::read_rollup_backlog(conn, kNow);
    REQUIRE(backlog.is_ok());
    CHECK(backlog->blocks == kRollupDueCounted);
    CHECK(backlog->oldest_ms == oldest);
  }
  const std::string plans = server.log().substr(mark);
  INFO(plans);
  CHECK(plans.find("Index Only Scan using rollup_pending_by_end") != std::string::npos);
  CHECK(plans.find("Seq Scan") == std::string::npos);

  // What /metrics shows, through the collector's storage.
  PostgresOptions options{.conninfo = conninfo};
  options.now_ms = [] { return kNow; };
  auto storage = open_postgres_storage(options);
  REQUIRE(storage.is_ok());
  const StorageStats stats = (*storage)->stats();
  CHECK(stats.rollup_due_blocks == kRollupDueCounted);
  CHECK(stats.rollup_oldest_due_seconds == Approx((kNow - oldest) / 1000.0));
}

}  // namespace
}  // namespace vigie::collector
