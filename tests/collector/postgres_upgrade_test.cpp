// A rolling upgrade of collectors sharing one PostgreSQL database: a newer collector
// migrates the schema while older ones still run on it. An older one must then write
// nothing more (what it would write assumes a layout that is gone): it answers reports
// as unavailable (agents keep them and send them again), gives up the lead and fails
// /healthz, whether it heard of the migration (each step notifies) or not (its writer
// reads the version in each transaction, under the migrations' lock).

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "collector/api.hpp"
#include "collector/monitor.hpp"
#include "collector/postgres/pq.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/storage.hpp"
#include "common/time.hpp"
#include "tests/collector/monitor_ingest.hpp"
#include "tests/support/postgres_database.hpp"

namespace vigie::collector {
namespace {

using namespace std::chrono_literals;

protocol::Report report(std::uint64_t seq) {
  protocol::Report r;
  r.agent = {"web-1", "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = State::kOk;
  c.summary = "load";
  c.ts_ms = wall_ms();
  c.interval_s = 60;
  r.results.push_back(c);
  return r;
}

using testing_support::ingest;

int health(const Api& api) {
  std::promise<int> answered;
  auto status = answered.get_future();
  api.handle({.method = "GET", .path = "/healthz"},
             [&](HttpResponse r) { answered.set_value(r.status); });
  return status.get();
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

struct Collector {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<Api> api;
};

Collector open_collector(const std::string& conninfo) {
  Collector c;
  auto storage = open_postgres_storage({.conninfo = conninfo, .lease = 300ms});
  REQUIRE(storage.is_ok());
  c.storage = std::move(*storage);
  auto monitor = Monitor::open(*c.storage, {});
  REQUIRE(monitor.is_ok());
  c.monitor = std::move(*monitor);
  c.api = std::make_unique<Api>(*c.storage, *c.monitor, ApiOptions{});
  return c;
}

// What a newer collector's migration does to the database: the version bumped in a
// transaction that holds the migrations' lock, notified on the schema's channel or not
// (a notification the running collector missed).
std::string newer_migration(bool notify) {
  const std::string next = std::to_string(pg::kSchemaVersion + 1);
  return "BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(pg::kSchemaLock) +
         "); UPDATE vigie_schema SET version = " + next + ";" +
         (notify ? " SELECT pg_notify('" + std::string(pg::kSchemaChannel) + "', '" + next + "');"
                 : std::string()) +
         " COMMIT;";
}

TEST_CASE("PostgreSQL: a collector hears that a newer one migrated the database and stops",
          "[postgres][upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  Collector old = open_collector(conninfo);
  REQUIRE(eventually([&] { return old.storage->leads(); }, 5s));
  REQUIRE(ingest(*old.monitor, report(1)).is_ok());
  CHECK(health(*old.api) == 200);
  const auto batches = server.psql(db, "SELECT count(*) FROM batches");
  REQUIRE(batches);

  REQUIRE(server.psql(db, newer_migration(true)));
  // Heard of within seconds, with no report sent meanwhile: /healthz fails (a balancer
  // routes the agents around it) and it leads no more (no duty runs with its code).
  CHECK(eventually([&] { return health(*old.api) == 503; }, 3s));
  CHECK(eventually([&] { return !old.storage->leads(); }, 3s));
  // A report is answered as unavailable (503: the agent keeps it) and not stored.
  const Status refused = ingest(*old.monitor, report(2));
  CHECK(refused.code() == Code::kUnavailable);
  CHECK(server.psql(db, "SELECT count(*) FROM batches").value_or("psql failed") == *batches);
}

TEST_CASE("PostgreSQL: a writer commits nothing across a migration it did not hear of",
          "[postgres][upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  Collector old = open_collector(conninfo);
  REQUIRE(ingest(*old.monitor, report(1)).is_ok());
  const auto batches = server.psql(db, "SELECT count(*) FROM batches");
  REQUIRE(batches);

  // No notification: the very next transaction of its writer finds the version.
  REQUIRE(server.psql(db, newer_migration(false)));
  const Status refused = ingest(*old.monitor, report(2));
  CHECK(refused.code() == Code::kUnavailable);
  CHECK(server.psql(db, "SELECT count(*) FROM batches").value_or("psql failed") == *batches);
  CHECK(health(*old.api) == 503);
  CHECK(eventually([&] { return !old.storage->leads(); }, 3s));
  // It holds no transaction open: the next migration does not wait on it.
  const auto idle = server.psql(db,
                                "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                " current_database() AND state LIKE 'idle in transaction%'");
  CHECK(idle.value_or("psql failed") == "0");
  INFO(server.why());
  CHECK(server.psql(db, "SET lock_timeout = '2s'; " + newer_migration(false)).has_value());
}

TEST_CASE("PostgreSQL: a writer's transaction and a migration never overlap",
          "[postgres][upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  Collector old = open_collector(conninfo);
  REQUIRE(ingest(*old.monitor, report(1)).is_ok());

  // A migration under way (its lock held, its version not committed yet): a report
  // waits for it, then is refused, rather than written with the old layout's
  // assumptions between the migration's statements or after them.
  auto migrating = pq::Conn::connect(conninfo);
  REQUIRE(migrating.is_ok());
  pq::Conn& newer = **migrating;
  REQUIRE(
      newer.exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(pg::kSchemaLock) + ")"));
  auto sent = std::async(std::launch::async, [&] { return ingest(*old.monitor, report(2)); });
  CHECK(sent.wait_for(300ms) == std::future_status::timeout);
  REQUIRE(newer.exec("UPDATE vigie_schema SET version = " + std::to_string(pg::kSchemaVersion + 1) +
                     "; COMMIT"));
  REQUIRE(sent.wait_for(5s) == std::future_status::ready);
  CHECK(sent.get().code() == Code::kUnavailable);
}

// Whether a request of the migrations' lock waits on the database (pg_locks: not granted).
bool schema_lock_waited_for(testing::PostgresServer& server, const std::string& db) {
  return server
             .psql(db,
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                   " AND objid = " +
                       std::to_string(pg::kSchemaLock) +
                       " AND database = (SELECT oid FROM pg_database"
                       " WHERE datname = current_database())")
             .value_or("psql failed") != "0";
}

TEST_CASE(
    "PostgreSQL: a collector that starts with nothing to migrate waits for no writer's "
    "transaction and holds none up",
    "[postgres][upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  // Another collector's writer: its transaction holds the migrations' lock shared.
  auto writing = pq::Conn::connect(conninfo);
  REQUIRE(writing.is_ok());
  REQUIRE(pg::begin_writes(**writing).is_ok());

  auto started = std::async(std::launch::async, [&] {
    return open_postgres_storage({.conninfo = conninfo, .lease = 300ms});
  });
  const auto start_done = [&] { return started.wait_for(0s) == std::future_status::ready; };
  // Started, or waiting for the lock (which the old code did, for the exclusive lock).
  (void)eventually([&] { return start_done() || schema_lock_waited_for(server, db); }, 5s);
  // Meanwhile another writer's transaction begins at once: it is queued behind no
  // request of the exclusive lock.
  auto second = pq::Conn::connect(conninfo);
  REQUIRE(second.is_ok());
  REQUIRE((*second)->exec("SET lock_timeout = '1s'"));
  const auto opened = pg::begin_writes(**second);
  CHECK(opened.is_ok());
  REQUIRE((*second)->exec("ROLLBACK"));
  // The start is over while the first writer's transaction is still open.
  CHECK(eventually(start_done, 5s));
  CHECK_FALSE(schema_lock_waited_for(server, db));
  REQUIRE((*writing)->exec("ROLLBACK"));  // (a start that waited goes on: it is not left hanging)
  auto storage = started.get();
  REQUIRE(storage.is_ok());
  CHECK((*storage)->health().is_ok());
}

TEST_CASE("PostgreSQL: a collector that must migrate still does, under the exclusive lock",
          "[postgres][upgrade]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  auto made = pq::Conn::connect(conninfo);
  REQUIRE(made.is_ok());
  REQUIRE(pg::migrate(**made, pg::kSchemaVersion - 1));
  // A writer's transaction open: the step waits for it, then runs.
  auto writing = pq::Conn::connect(conninfo);
  REQUIRE(writing.is_ok());
  REQUIRE((*writing)->exec("BEGIN; SELECT pg_advisory_xact_lock_shared(" +
                           std::to_string(pg::kSchemaLock) + ")"));
  auto started = std::async(std::launch::async, [&] {
    return open_postgres_storage({.conninfo = conninfo, .lease = 300ms});
  });
  CHECK(eventually([&] { return schema_lock_waited_for(server, db); }, 5s));
  CHECK(started.wait_for(0s) == std::future_status::timeout);
  REQUIRE((*writing)->exec("ROLLBACK"));
  REQUIRE(started.wait_for(10s) == std::future_status::ready);
  auto storage = started.get();
  REQUIRE(storage.is_ok());
  CHECK(server.psql(db, "SELECT version FROM vigie_schema").value_or("psql failed") ==
        std::to_string(pg::kSchemaVersion));
}

// An outbox row due now, as an alert's transaction writes it.
void queue_alert(testing::PostgresServer& server, const std::string& db, const std::string& key,
                 std::int64_t now_ms) {
  const std::string now = std::to_string(now_ms);
  REQUIRE(server.psql(db,
                      "INSERT INTO outbox (channel, alert_key, alert, created_ms, due_ms)"
                      " VALUES ('ops', '" +
                          key + "', '{}', " + now + ", " + now + ")"));
}

TEST_CASE(
    "PostgreSQL: outbox claims and renewals are refused on a database migrated under the "
    "collector, the migration not heard of yet",
    "[postgres][upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  // A collector with no Listener (no watch()): as one whose listening connection is
  // down, or before the notification reaches it.
  auto opened = open_postgres_storage({.conninfo = conninfo, .lease = 300ms});
  REQUIRE(opened.is_ok());
  Storage& storage = **opened;
  const std::int64_t now = wall_ms();
  constexpr std::int64_t kLeaseMs = 60'000;
  queue_alert(server, db, "held", now);
  auto held = storage.claim_outbox("ops", now, now, 1, kLeaseMs);
  REQUIRE(held.is_ok());
  REQUIRE(held->size() == 1);
  queue_alert(server, db, "due", now);
  const auto outbox = [&] {
    return server.psql(db, "SELECT id, due_ms, status FROM outbox ORDER BY id")
        .value_or("psql failed");
  };
  const std::string before = outbox();

  REQUIRE(server.psql(db, newer_migration(false)));
  SECTION("a claim") {
    auto claimed = storage.claim_outbox("ops", now, now, 10, kLeaseMs);
    CHECK(claimed.status().code() == Code::kUnavailable);
  }
  SECTION("a renewal") {
    auto renewed = storage.renew_outbox({held->front().id}, now + kLeaseMs, now + 2 * kLeaseMs);
    CHECK(renewed.status().code() == Code::kUnavailable);
  }
  SECTION("a downtime's id") {
    const auto sequence = [&] {
      return server.psql(db, "SELECT last_value, is_called FROM downtimes_id_seq")
          .value_or("psql failed");
    };
    const std::string numbered = sequence();
    CHECK(storage.new_downtime_id().status().code() == Code::kUnavailable);
    CHECK(sequence() == numbered);
  }
  // Nothing claimed or renewed, and the collector knows: it writes nothing more.
  CHECK(outbox() == before);
  CHECK(storage.health().code() == Code::kFailedPrecondition);
  CHECK(storage.claim_outbox("ops", now, now, 10, kLeaseMs).status().code() == Code::kUnavailable);
}

TEST_CASE(
    "PostgreSQL: a collector takes no lead term on a database migrated under it, the "
    "migration not heard of yet",
    "[postgres][upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  // No Listener (no watch()), no report: only the lease meets the database.
  auto opened = open_postgres_storage({.conninfo = conninfo, .lease = 300ms});
  REQUIRE(opened.is_ok());
  Storage& storage = **opened;
  const auto lead = [&] {
    return server.psql(db, "SELECT term, holder FROM vigie_lead").value_or("psql failed");
  };
  const std::string before = lead();
  REQUIRE(server.psql(db, newer_migration(false)));
  std::atomic<int> led{0};
  storage.lead([&](bool leading) { led += leading ? 1 : 0; });
  // The lease finds the version as it would take the lead, and takes nothing.
  CHECK(eventually([&] { return !storage.health().is_ok(); }, 3s));
  std::this_thread::sleep_for(600ms);  // two leases more
  CHECK(led == 0);
  CHECK_FALSE(storage.leads());
  CHECK(lead() == before);
}

TEST_CASE("PostgreSQL: each migration step notifies the collectors on the database",
          "[postgres][upgrade]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  auto migrating = pq::Conn::connect(conninfo);
  auto listening = pq::Conn::connect(conninfo);
  REQUIRE(migrating.is_ok());
  REQUIRE(listening.is_ok());
  REQUIRE(pg::migrate(**migrating, pg::kSchemaVersion - 1));
  REQUIRE((*listening)->exec("LISTEN " + std::string(pg::kSchemaChannel)));

  REQUIRE(pg::migrate(**migrating));
  std::vector<pq::Conn::Notification> heard;
  CHECK(eventually(
      [&] {
        if (!(*listening)->consume_input()) return false;
        for (auto& n : (*listening)->notifications()) heard.push_back(std::move(n));
        return !heard.empty();
      },
      3s));
  REQUIRE(heard.size() == 1);
  CHECK(heard[0].channel == pg::kSchemaChannel);
  CHECK(heard[0].payload == std::to_string(pg::kSchemaVersion));
}

TEST_CASE("PostgreSQL: a writer's transaction reads the schema in the round trip of its BEGIN",
          "[postgres][upgrade]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  auto made = pq::Conn::connect(conninfo);
  REQUIRE(made.is_ok());
  pq::Conn& conn = **made;
  // The first prepares its statements (once per connection); each after is one round
  // trip, as BEGIN alone was: ingest pays nothing more per commit.
  for (int i = 0; i < 3; ++i) {
    const std::int64_t before = conn.round_trips();
    auto version = pg::begin_writes(conn);
    const std::int64_t trips = conn.round_trips() - before;
    REQUIRE(version.is_ok());
    CHECK(*version == pg::kSchemaVersion);
    if (i > 0) CHECK(trips == 1);
    REQUIRE(conn.exec("ROLLBACK"));
  }
}

}  // namespace
}  // namespace vigie::collector
