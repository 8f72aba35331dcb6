#include "common/sqlite.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

sqlite::Db memory_db() {
  auto db = sqlite::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  REQUIRE(db.is_ok());
  return std::move(*db);
}

TEST_CASE("sqlite::Statement: binds and reads back every column type", "[sqlite]") {
  auto db = memory_db();
  REQUIRE(sqlite::exec(db.get(), "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n INTEGER)")
              .is_ok());
  auto insert = sqlite::Statement::prepare(db.get(), "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  REQUIRE(insert.is_ok());
  const std::string blob("a\0b", 3);
  for (std::int64_t i : {std::int64_t{1}, std::int64_t{1} << 40}) {
    insert->reset();
    insert->bind(1, i).bind(2, 2.5).bind(3, std::string_view("été")).bind_blob(4, blob);
    REQUIRE(insert->step() == SQLITE_DONE);
  }
  insert->reset();
  insert->bind(1, 7);  // the others left unbound: NULL
  REQUIRE(insert->step() == SQLITE_DONE);

  auto select = sqlite::Statement::prepare(db.get(), "SELECT i, r, s, b, n FROM t ORDER BY rowid");
  REQUIRE(select.is_ok());
  REQUIRE(select->step() == SQLITE_ROW);
  CHECK(select->int64(0) == 1);
  CHECK(select->real(1) == 2.5);
  CHECK(select->text(2) == "été");
  CHECK(select->text_view(2) == "été");
  CHECK(select->blob(3) == blob);
  CHECK(select->text(4).empty());  // NULL
  REQUIRE(select->step() == SQLITE_ROW);
  CHECK(select->int64(0) == std::int64_t{1} << 40);
  REQUIRE(select->step() == SQLITE_ROW);
  CHECK(select->int64(0) == 7);
  CHECK(select->text_view(2).empty());
  CHECK(select->blob(3).empty());
  CHECK(select->step() == SQLITE_DONE);
}

TEST_CASE("sqlite::Statement: reset starts again with the parameters cleared", "[sqlite]") {
  auto db = memory_db();
  auto stmt = sqlite::Statement::prepare(db.get(), "SELECT ?1 IS NULL");
  REQUIRE(stmt.is_ok());
  {
    sqlite::ResetOnExit reset(*stmt);
    stmt->bind(1, 5);
    REQUIRE(stmt->step() == SQLITE_ROW);
    CHECK(stmt->int64(0) == 0);
  }
  REQUIRE(stmt->step() == SQLITE_ROW);
  CHECK(stmt->int64(0) == 1);
}

TEST_CASE("sqlite: errors name the statement and SQLite's reason", "[sqlite]") {
  auto db = memory_db();
  auto bad = sqlite::Statement::prepare(db.get(), "SELEC 1");
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == Code::kIoError);
  CHECK_THAT(bad.status().message(),
             Catch::StartsWith("prepare \"SELEC 1\": ") && Catch::Contains("syntax error"));

  Status s = sqlite::exec(db.get(), "CREATE TABLE t (k TEXT PRIMARY KEY)");
  REQUIRE(s.is_ok());
  auto insert = [&](const char* key) {
    return sqlite::exec(db.get(), "INSERT INTO t VALUES (?1)",
                        [&](sqlite::Statement& st) { st.bind(1, std::string_view(key)); });
  };
  REQUIRE(insert("a").is_ok());
  const Status twice = insert("a");
  CHECK(twice.code() == Code::kIoError);
  CHECK_THAT(twice.message(),
             Catch::StartsWith("INSERT INTO t VALUES (?1): ") && Catch::Contains("UNIQUE"));

  const Status no_table = sqlite::exec(db.get(), "DELETE FROM missing");
  CHECK_THAT(no_table.message(), Catch::Contains("no such table: missing"));
}

TEST_CASE("sqlite::open: a database that cannot be opened names its path", "[sqlite]") {
  testing::TempDir dir;
  const std::string path = (dir / "no-such-folder" / "x.db").string();
  auto db = sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  REQUIRE_FALSE(db.is_ok());
  CHECK(db.status().code() == Code::kIoError);
  CHECK_THAT(db.status().message(), Catch::StartsWith("cannot open database " + path + ": "));
}

}  // namespace
}  // namespace vigie
