// The single writer's group commit when SQLite itself ends the transaction.

#include "collector/sqlite/writer.hpp"

#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

sqlite::Db open_db(const std::filesystem::path& path) {
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  REQUIRE(db.is_ok());
  return std::move(*db);
}

// The rows of t, read through a connection of the test's own.
std::int64_t rows(const std::filesystem::path& path) {
  auto db = open_db(path);
  auto stmt = sqlite::Statement::prepare(db.get(), "SELECT count(*) FROM t");
  REQUIRE(stmt.is_ok());
  REQUIRE(stmt->step() == SQLITE_ROW);
  return stmt->int64(0);
}

TEST_CASE("SQLite writer: a full database fails the whole group with the statement that filled it",
          "[writer]") {
  testing::TempDir dir;
  const auto path = dir.path() / "w.db";
  {
    auto db = open_db(path);
    REQUIRE(sqlite::exec(db.get(), "PRAGMA journal_mode=WAL; CREATE TABLE t (x BLOB)").is_ok());
  }
  auto db = open_db(path);
  sqlite3* raw = db.get();
  SqliteWriter writer(std::move(db), {.path = path},
                      {.housekeeping =
                           [](bool* more, SliceWork*) {
                             *more = false;
                             return Status::ok();
                           },
                       .rolled_back = [] {}});
  // A page limit makes SQLite answer SQLITE_FULL as a full disk does, and, like a full
  // disk, roll back the whole transaction, not only the failing statement.
  REQUIRE(sqlite::exec(raw, "PRAGMA max_page_count=30").is_ok());
  auto small = [raw] { return sqlite::exec(raw, "INSERT INTO t VALUES (randomblob(10))"); };
  auto huge = [raw] { return sqlite::exec(raw, "INSERT INTO t VALUES (randomblob(400000))"); };

  // One group: the writer thread is not started until the three jobs are queued.
  std::vector<std::promise<Status>> done(3);
  std::vector<std::function<Status()>> jobs = {small, huge, small};
  for (std::size_t i = 0; i < jobs.size(); ++i)
    writer.enqueue({jobs[i], [&done, i](Status s) { done[i].set_value(std::move(s)); }});
  REQUIRE(writer.start().is_ok());
  std::vector<Status> outcomes;
  for (auto& d : done) outcomes.push_back(d.get_future().get());

  // Nothing of the group is stored, each job is told so, and the message says why:
  // not "cannot commit - no transaction is active".
  CHECK(rows(path) == 0);
  for (const auto& s : outcomes) {
    CHECK_FALSE(s.is_ok());
    CHECK_THAT(s.message(), Catch::Contains("full"));
    CHECK_THAT(s.message(), !Catch::Contains("no transaction is active"));
  }
  CHECK(writer.commit_failures() == 1);
  CHECK(writer.commits() == 0);

  // The next group commits as usual.
  CHECK(writer.write(small).is_ok());
  CHECK(rows(path) == 1);
  writer.close();
}

TEST_CASE("SQLite writer: slow housekeeping with work left does not hold reports back",
          "[writer]") {
  testing::TempDir dir;
  const auto path = dir.path() / "w.db";
  {
    auto db = open_db(path);
    REQUIRE(sqlite::exec(db.get(), "PRAGMA journal_mode=WAL; CREATE TABLE t (x BLOB)").is_ok());
  }
  auto db = open_db(path);
  sqlite3* raw = db.get();
  // A backlog that never ends, in slices of 30 ms (a rollup of a large day).
  constexpr auto kSlice = std::chrono::milliseconds(30);
  std::atomic<int> slices{0};
  SqliteWriter writer(std::move(db),
                      {.path = path, .housekeeping_every = std::chrono::milliseconds(100)},
                      {.housekeeping =
                           [&](bool* more, SliceWork*) {
                             std::this_thread::sleep_for(kSlice);
                             ++slices;
                             *more = true;
                             return Status::ok();
                           },
                       .rolled_back = [] {}});
  REQUIRE(writer.start().is_ok());
  auto small = [raw] { return sqlite::exec(raw, "INSERT INTO t VALUES (randomblob(10))"); };
  // The backlog is known once the first slice ran.
  for (int i = 0; i < 100 && slices == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(slices > 0);
  // Four agents for a second, each sending its next report as soon as the last is
  // stored.
  constexpr int kClients = 4;
  constexpr int kMost = 5000;  // reports of each at most
  std::atomic<int> written{0};
  const int slices_before = slices;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = 0;
           i < kMost && std::chrono::steady_clock::now() - start < std::chrono::seconds(1); ++i) {
        if (writer.write(small).is_ok()) ++written;
      }
    });
  }
  for (auto& t : clients) t.join();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const int under_load = slices - slices_before;
  CHECK(rows(path) == written);
  // Under load a slice is followed by at least three times its length of other work:
  // housekeeping takes a quarter of the writer's time, not all of it (a slice after
  // each group). Half is the bound here, for the pauses of a busy machine.
  INFO(under_load << " slices of " << kSlice.count() << " ms in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                  << " ms");
  CHECK(under_load * kSlice * 2 <= elapsed);
  // Idle, the backlog is worked off back to back.
  const int idle_before = slices;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(slices - idle_before >= 5);
  writer.close();
}

}  // namespace
}  // namespace vigie::collector
