// The lead's lease (collector/postgres/lease.hpp) on a real PostgreSQL: of two
// competitors exactly one leads; a leader that cannot confirm its lead within the
// lease (the table it reads locked by someone else) stops leading by itself, and
// nobody leads meanwhile rather than two; a leader that goes, another leads within
// twice the lease.

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "collector/postgres/lease.hpp"
#include "collector/storage.hpp"
#include "tests/support/postgres_database.hpp"

namespace vigie::collector {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kLease = 300ms;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
  const auto until = Clock::now() + within;
  while (Clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST_CASE("PostgreSQL lease: one leader, and one that cannot confirm fences itself", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  REQUIRE(migrate_postgres(conninfo));

  std::atomic<int> changes{0};
  auto a = std::make_unique<pg::Lease>(conninfo, "a", kLease, [&](bool) { ++changes; });
  auto b = std::make_unique<pg::Lease>(conninfo, "b", kLease, [&](bool) { ++changes; });
  REQUIRE(eventually([&] { return a->held() || b->held(); }, 2 * kLease));
  // Sampled for a while: exactly one, and it stays.
  const bool a_leads = a->held();
  for (int i = 0; i < 100; ++i) {
    CHECK(a->held() != b->held());
    CHECK(a->held() == a_leads);
    std::this_thread::sleep_for(5ms);
  }
  pg::Lease& leader = a_leads ? *a : *b;
  pg::Lease& other = a_leads ? *b : *a;
  const std::int64_t term = leader.term();
  CHECK(term > 0);
  CHECK(server.psql(db, "SELECT term FROM vigie_lead") == std::to_string(term));
  CHECK(server.psql(db, "SELECT holder FROM vigie_lead") == (a_leads ? "a" : "b"));

  // Its confirmation cannot be answered (vigie_lead locked for 4 leases): the leader
  // stops leading within the lease, and the other cannot take over meanwhile.
  auto locked = std::async(std::launch::async, [&] {
    return server.psql(db,
                       "BEGIN; LOCK TABLE vigie_lead IN ACCESS EXCLUSIVE MODE;"
                       " SELECT pg_sleep(1.2); COMMIT;");
  });
  // The lock seen taken, however long psql takes to start and connect: were it taken
  // after locked_at, the leader would confirm meanwhile and lead past the bound below.
  REQUIRE(eventually(
      [&] {
        return server.psql(db,
                           "SELECT count(*) FROM pg_locks WHERE relation = 'vigie_lead'::regclass"
                           " AND mode = 'AccessExclusiveLock' AND granted") == "1";
      },
      10'000ms));
  const auto locked_at = Clock::now();
  CHECK(eventually([&] { return !leader.held(); }, 2 * kLease));
  CHECK(Clock::now() - locked_at <= kLease + 50ms);
  bool two = false;
  while (locked.wait_for(0ms) != std::future_status::ready) {
    two = two || (a->held() && b->held());
    std::this_thread::sleep_for(5ms);
  }
  CHECK_FALSE(two);
  CHECK(locked.get().has_value());
  // Once the table is free, one of them leads again, in a new term.
  REQUIRE(eventually([&] { return a->held() || b->held(); }, 4 * kLease));
  CHECK((a->held() ? *a : *b).term() > term);
  CHECK_FALSE((a->held() && b->held()));

  // The leader goes (its connection closed): the other leads within twice the lease.
  std::unique_ptr<pg::Lease>& gone = a->held() ? a : b;
  pg::Lease& stays = a->held() ? *b : *a;
  const auto gone_at = Clock::now();
  gone.reset();
  REQUIRE(eventually([&] { return stays.held(); }, 4 * kLease));
  CHECK(Clock::now() - gone_at <= 2 * kLease);
  (void)other;
  CHECK(changes >= 4);
}

}  // namespace
}  // namespace vigie::collector
