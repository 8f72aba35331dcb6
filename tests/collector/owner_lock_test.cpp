#include "collector/sqlite/owner_lock.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

TEST_CASE("SQLite owner lock: one owner at a time, a copy's read lock included", "[owner-lock]") {
  testing::TempDir dir;
  const auto db = dir / "folder" / "collector.db";
  // A copy's source must exist: the read lock makes nothing.
  CHECK(lock_database(db, LockMode::kRead).status().code() == Code::kIoError);
  auto served = lock_database(db);  // the folder and the file made
  REQUIRE(served.is_ok());
  for (LockMode mode : {LockMode::kServe, LockMode::kRead}) {
    auto second = lock_database(db, mode);
    REQUIRE_FALSE(second.is_ok());
    CHECK(second.status().code() == Code::kFailedPrecondition);
    CHECK(second.status().message() == "database " + db.string() +
                                           " is served by another collector (process " +
                                           std::to_string(::getpid()) + ")");
  }
  ::close(*served);
  // Freed with its descriptor; a copy's lock keeps a collector out the same way.
  auto copying = lock_database(db, LockMode::kRead);
  REQUIRE(copying.is_ok());
  CHECK(lock_database(db).status().code() == Code::kFailedPrecondition);
  ::close(*copying);
  auto again = lock_database(db);
  REQUIRE(again.is_ok());
  ::close(*again);
}

}  // namespace
}  // namespace vigie::collector
