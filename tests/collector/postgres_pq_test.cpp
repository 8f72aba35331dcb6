// The libpq wrapper's pipeline (collector/postgres/pq.hpp): many statements in one
// round trip, answered in order; a failure stops the rest and leaves the connection
// usable, inside a transaction as outside.

#include <catch2/catch.hpp>

#include "collector/postgres/pq.hpp"
#include "tests/support/postgres_database.hpp"

namespace vigie::collector::pq {
namespace {

// A connection to `conninfo` (a fresh database), with an empty table t.
std::unique_ptr<Conn> connect_fresh(const std::string& conninfo) {
  auto conn = Conn::connect(conninfo);
  REQUIRE(conn.is_ok());
  REQUIRE((*conn)->exec("CREATE TABLE t (k bigint PRIMARY KEY, v text NOT NULL)"));
  return std::move(*conn);
}

std::int64_t count(Conn& conn) {
  auto rows = conn.query("SELECT count(*) FROM t");
  REQUIRE(rows.is_ok());
  return rows->int64(0, 0);
}

TEST_CASE("pq pipeline: statements run in order, their rows come back in order", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = connect_fresh(postgres->conninfo);
  Batch batch;
  for (int k = 0; k < 200; ++k)
    batch.add("INSERT INTO t (k, v) VALUES ($1, $2) RETURNING k * 2",
              Params().add(k).add("v" + std::to_string(k)));
  batch.add("SELECT count(*), max(v) FROM t");
  auto rows = conn->pipeline(batch);
  REQUIRE(rows.is_ok());
  REQUIRE(rows->size() == 201);
  for (int k = 0; k < 200; ++k) CHECK((*rows)[k].int64(0, 0) == 2 * k);
  CHECK((*rows)[200].int64(0, 0) == 200);
  CHECK((*rows)[200].text(0, 1) == "v99");
  CHECK(conn->pipeline(Batch()).is_ok());  // nothing to send
}

TEST_CASE("pq pipeline: a failing statement stops those after it, the connection goes on",
          "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = connect_fresh(postgres->conninfo);
  SECTION("outside a transaction, the statements commit together or not at all") {
    Batch batch;
    batch.add("INSERT INTO t (k, v) VALUES (1, 'a')")
        .add("INSERT INTO t (k, v) VALUES (1, 'again')")  // duplicate key
        .add("INSERT INTO t (k, v) VALUES (2, 'b')");
    auto rows = conn->pipeline(batch);
    REQUIRE_FALSE(rows.is_ok());
    CHECK(rows.status().code() == Code::kAlreadyExists);
    CHECK_THAT(rows.status().message(), Catch::Contains("t_pkey"));
    CHECK(count(*conn) == 0);  // the first rolled back with the second, the third never ran
  }
  SECTION("in a transaction, rolled back to a savepoint like any failed statement") {
    REQUIRE(conn->exec("BEGIN; INSERT INTO t (k, v) VALUES (1, 'a'); SAVEPOINT job"));
    Batch batch;
    batch.add("INSERT INTO t (k, v) VALUES (2, 'b')")
        .add("INSERT INTO t (k, v) VALUES ($1, $2)", Params().add(3).add_null())  // NOT NULL
        .add("INSERT INTO t (k, v) VALUES (4, 'd')");
    auto rows = conn->pipeline(batch);
    REQUIRE_FALSE(rows.is_ok());
    CHECK_THAT(rows.status().message(), Catch::Contains("null value"));
    REQUIRE(conn->exec("ROLLBACK TO SAVEPOINT job"));
    auto after = conn->pipeline(Batch().add("INSERT INTO t (k, v) VALUES (5, 'e')"));
    REQUIRE(after.is_ok());
    REQUIRE(conn->exec("COMMIT"));
    auto keys = conn->query("SELECT string_agg(k::text, ',' ORDER BY k) FROM t");
    REQUIRE(keys.is_ok());
    CHECK(keys->text(0, 0) == "1,5");
  }
  // Plain statements work again after either.
  auto one = conn->query("SELECT 1");
  REQUIRE(one.is_ok());
  CHECK(one->int64(0, 0) == 1);
}

TEST_CASE("pq pipeline: a statement that cannot be prepared fails before anything is sent",
          "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = connect_fresh(postgres->conninfo);
  auto rows = conn->pipeline(
      Batch().add("INSERT INTO t (k, v) VALUES (1, 'a')").add("INSERT INTO nowhere VALUES (1)"));
  REQUIRE_FALSE(rows.is_ok());
  CHECK_THAT(rows.status().message(), Catch::Contains("nowhere"));
  CHECK(count(*conn) == 0);
}

TEST_CASE("pq arrays: rows sent as one array a column come back as they were", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = connect_fresh(postgres->conninfo);
  const std::vector<std::string> texts = {"",
                                          "NULL",
                                          "null",
                                          "a,b",
                                          "{x}",
                                          "say \"hi\"",
                                          "back\\slash\\",
                                          "\\\"",
                                          "line\nbreak\ttab",
                                          " lead and trail ",
                                          "été ✓",
                                          std::string(5000, 'x')};
  ArrayParams columns;
  for (std::size_t i = 0; i < texts.size(); ++i)
    columns.append(Params().add(static_cast<std::int64_t>(i) - 3).add(texts[i]).add(0.1 * i));
  columns.append(Params().add(std::int64_t{9'007'199'254'740'993}).add_null().add(-0.0));
  REQUIRE(columns.rows() == texts.size() + 1);
  auto rows = conn->query(
      "SELECT n, t, t IS NULL, r FROM unnest($1::bigint[], $2::text[], $3::double precision[])"
      " WITH ORDINALITY AS u(n, t, r, i) ORDER BY i",
      columns.params());
  REQUIRE(rows.is_ok());
  REQUIRE(rows->size() == static_cast<int>(texts.size() + 1));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const int row = static_cast<int>(i);
    CHECK(rows->int64(row, 0) == static_cast<std::int64_t>(i) - 3);
    CHECK(rows->text(row, 1) == texts[i]);
    CHECK(rows->text(row, 2) == "f");
    CHECK(rows->real(row, 3) == Approx(0.1 * i));
  }
  const int last = static_cast<int>(texts.size());
  CHECK(rows->int64(last, 0) == 9'007'199'254'740'993);
  CHECK(rows->text(last, 2) == "t");
}

TEST_CASE("pq COPY: rows in binary go in whole, or not at all with the server's reason",
          "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = connect_fresh(postgres->conninfo);
  REQUIRE(conn->exec("CREATE TABLE b (k bigint PRIMARY KEY, data bytea NOT NULL)"));
  const std::string copy = "COPY b (k, data) FROM STDIN BINARY";
  CopyRows rows;
  const std::string zeros("\0\xff\0", 3);
  rows.row(2).add(-1).add_bytes(zeros);
  rows.row(2).add(std::int64_t{1} << 40).add_bytes(std::string(3 << 20, 'x'));  // > a piece
  REQUIRE(rows.rows() == 2);
  REQUIRE(conn->copy_in(copy, rows));
  auto stored = conn->query("SELECT k, length(data), data = $1::bytea FROM b ORDER BY k",
                            Params().add_bytes(zeros));
  REQUIRE(stored.is_ok());
  REQUIRE(stored->size() == 2);
  CHECK(stored->int64(0, 0) == -1);
  CHECK(stored->text(0, 2) == "t");
  CHECK(stored->int64(1, 0) == std::int64_t{1} << 40);
  CHECK(stored->int64(1, 1) == 3 << 20);

  CopyRows twice;
  twice.row(2).add(7).add_bytes("a");
  twice.row(2).add(-1).add_bytes("b");  // k = -1 is there already
  Status refused = conn->copy_in(copy, twice);
  REQUIRE_FALSE(refused);
  CHECK(refused.code() == Code::kAlreadyExists);
  CHECK_THAT(refused.message(), Catch::Contains("b_pkey"));
  CHECK_FALSE(conn->copy_in("COPY nowhere (k) FROM STDIN BINARY", twice));
  auto count = conn->query("SELECT count(*) FROM b");
  REQUIRE(count.is_ok());
  CHECK(count->int64(0, 0) == 2);  // neither 7 nor anything else
}

TEST_CASE("pq commit: a transaction that failed is not reported committed", "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = connect_fresh(postgres->conninfo);
  REQUIRE(conn->exec("BEGIN; INSERT INTO t (k, v) VALUES (1, 'a')"));
  REQUIRE_FALSE(conn->exec("INSERT INTO t (k, v) VALUES (1, 'again')"));
  // PostgreSQL answers COMMIT of a failed transaction with the tag ROLLBACK, no error.
  Status committed = conn->commit();
  REQUIRE_FALSE(committed);
  CHECK(committed.code() == Code::kUnavailable);
  CHECK_THAT(committed.message(), Catch::Contains("rolled back"));
  CHECK(count(*conn) == 0);
  REQUIRE(conn->exec("BEGIN; INSERT INTO t (k, v) VALUES (2, 'b')"));
  CHECK(conn->commit());
  CHECK(count(*conn) == 1);
}

}  // namespace
}  // namespace vigie::collector::pq
