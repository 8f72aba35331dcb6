#include "collector/storage.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

protocol::Report report(std::uint64_t seq, State status, std::int64_t ts) {
  protocol::Report r;
  r.agent = {"agent-1", "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "backup";
  c.check = "backup/restic:/srv";
  c.status = status;
  c.summary = std::string(state_name(status));
  c.ts_ms = ts;
  c.interval_s = 60;
  c.metrics.push_back(Metric{.label = "age", .value = 3600, .unit = "s"});
  r.results.push_back(c);
  return r;
}

Result<IngestOutcome> submit(Storage& storage, protocol::Report r) {
  std::promise<Result<IngestOutcome>> done;
  auto future = done.get_future();
  storage.submit(std::move(r), 1000, [&](Result<IngestOutcome> o) { done.set_value(std::move(o)); });
  return future.get();
}

TEST_CASE("SqliteStorage: state since moves only when the status changes", "[storage]") {
  testing::TempDir dir;
  auto storage = open_sqlite_storage({.path = dir / "db.sqlite"});
  REQUIRE(storage.is_ok());
  REQUIRE(submit(**storage, report(1, State::kOk, 1000)).is_ok());
  REQUIRE(submit(**storage, report(2, State::kCritical, 2000)).is_ok());
  REQUIRE(submit(**storage, report(3, State::kCritical, 3000)).is_ok());
  auto rows = (*storage)->checks({});
  REQUIRE(rows.is_ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].result.status == State::kCritical);
  CHECK((*rows)[0].since_ms == 2000);
  CHECK((*rows)[0].result.ts_ms == 3000);
}

TEST_CASE("SqliteStorage: a late result does not overwrite a newer state", "[storage]") {
  testing::TempDir dir;
  auto storage = open_sqlite_storage({.path = dir / "db.sqlite"});
  REQUIRE(storage.is_ok());
  REQUIRE(submit(**storage, report(2, State::kOk, 5000)).is_ok());
  REQUIRE(submit(**storage, report(1, State::kCritical, 4000)).is_ok());  // backfill
  auto rows = (*storage)->checks({});
  REQUIRE(rows.is_ok());
  CHECK((*rows)[0].result.status == State::kOk);
  CHECK((*rows)[0].result.ts_ms == 5000);
}

TEST_CASE("SqliteStorage: data survives reopening, duplicates stay duplicates", "[storage]") {
  testing::TempDir dir;
  {
    auto storage = open_sqlite_storage({.path = dir / "db.sqlite"});
    REQUIRE(storage.is_ok());
    auto first = submit(**storage, report(1, State::kWarning, 1000));
    REQUIRE(first.is_ok());
    CHECK(*first == IngestOutcome::kStored);
  }
  auto storage = open_sqlite_storage({.path = dir / "db.sqlite"});
  REQUIRE(storage.is_ok());
  auto again = submit(**storage, report(1, State::kWarning, 1000));
  REQUIRE(again.is_ok());
  CHECK(*again == IngestOutcome::kDuplicate);
  auto rows = (*storage)->checks({.problems_only = true});
  REQUIRE(rows.is_ok());
  CHECK(rows->size() == 1);
}

TEST_CASE("SqliteStorage: after close, submit fails instead of losing data silently",
          "[storage]") {
  testing::TempDir dir;
  auto storage = open_sqlite_storage({.path = dir / "db.sqlite"});
  REQUIRE(storage.is_ok());
  (*storage)->close();
  auto outcome = submit(**storage, report(1, State::kOk, 1000));
  CHECK(outcome.status().code() == Code::kUnavailable);
}

TEST_CASE("SqliteStorage: a database that is not SQLite is refused with a clear error",
          "[storage]") {
  testing::TempDir dir;
  const auto path = dir.write("bad.db", std::string(4096, 'x'));
  auto storage = open_sqlite_storage({.path = path});
  REQUIRE_FALSE(storage.is_ok());
  CHECK_THAT(storage.status().message(), Catch::Contains("not a database"));
}

}  // namespace
}  // namespace vigie::collector
