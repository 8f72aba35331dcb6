#pragma once
// The storage backends a backend-neutral test runs against: SQLite in a temporary
// folder, and PostgreSQL in a fresh database of the test program's server
// (tests/support/postgres_server.hpp). Use VIGIE_EACH_BACKEND(name) at the top of a
// test: the test runs once per backend, and is skipped with a warning for PostgreSQL
// when it is not installed or does not start (a failure under VIGIE_REQUIRE_PEERS=1,
// tests/support/peers.hpp).

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "collector/storage.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::testing {

class TestBackend {
 public:
  explicit TestBackend(std::string kind) : kind_(std::move(kind)) {
    if (kind_ == "sqlite") {
      db_ = (dir_ / "db.sqlite").string();
      return;
    }
    auto& server = shared_postgres();
    if (!server.available()) {
      why_ = server.why();
      return;
    }
    const std::string name = server.create_database();
    if (name.empty()) {
      why_ = server.why();
      return;
    }
    db_ = server.conninfo(name);
  }

  const std::string& kind() const { return kind_; }
  bool available() const { return why_.empty(); }
  const std::string& why() const { return why_; }
  // The --db value: the SQLite file, or the PostgreSQL connection string.
  const std::string& db() const { return db_; }
  const TempDir& dir() const { return dir_; }

  // Opens the storage with `options` (its path replaced by this backend's database).
  Result<std::unique_ptr<collector::Storage>> open(collector::SqliteOptions options = {}) const {
    return collector::open_storage(db_, std::move(options));
  }

 private:
  std::string kind_;
  TempDir dir_;
  std::string db_;
  std::string why_;
};

}  // namespace vigie::testing

// Declares `name`, a TestBackend, once for SQLite and once for PostgreSQL.
#define VIGIE_EACH_BACKEND(name)                                                       \
  const std::string name##_kind = GENERATE(as<std::string>{}, "sqlite", "postgresql"); \
  ::vigie::testing::TestBackend name(name##_kind);                                     \
  if (!name.available())                                                               \
    VIGIE_SKIP_TEST(::vigie::testing::Absent::kPackage,                                \
                    "on " << name##_kind << ": " << name.why());                       \
  INFO("backend: " << name##_kind)
