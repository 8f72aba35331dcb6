#pragma once
// A thin wrapper of libpq for the PostgreSQL backend: a connection that prepares each
// statement once (by its text), parameters sent as text, rows read back as numbers or
// text, and errors as Status values that say whether retrying may help. The only file
// of the collector that includes libpq's header is pq.cpp.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.hpp"

struct pg_conn;
struct pg_result;

namespace vigie::collector::pq {

// Where a database is: a libpq URI (postgresql://, postgres://) or a key=value
// connection string. Anything else is a SQLite file.
bool is_postgres(std::string_view db);

// Checks a connection string before it is used: it must parse, and must carry no
// password (a command line is visible to every user of the machine; libpq reads the
// password from the file named by passfile= or PGPASSFILE, or ~/.pgpass).
Status check_conninfo(const std::string& conninfo);

// The connection string with any password left out, for logs and messages.
std::string describe(const std::string& conninfo);

// Query parameters, as text (NULL when empty optional).
class Params {
 public:
  Params& add(std::int64_t v) {
    values_.push_back(std::to_string(v));
    return *this;
  }
  Params& add(int v) { return add(static_cast<std::int64_t>(v)); }
  Params& add(bool v) { return add(static_cast<std::int64_t>(v ? 1 : 0)); }
  Params& add(double v);
  Params& add(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  Params& add(const char* v) { return add(std::string(v)); }
  Params& add(std::string_view v) { return add(std::string(v)); }
  // Binary data as a bytea in hex form.
  Params& add_bytes(std::string_view bytes);
  Params& add_null() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// The rows of one statement's answer.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);
  int size() const;
  bool null(int row, int col) const;
  std::string text(int row, int col) const;
  std::int64_t int64(int row, int col) const;
  double real(int row, int col) const;
  // A bytea column, decoded.
  std::string bytes(int row, int col) const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t affected() const;

 private:
  struct Clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

// Rows of parameters gathered column by column, each column one array: a statement
// then takes them all at once (INSERT ... SELECT * FROM unnest($1::bigint[],
// $2::text[], ...)), one execution where a statement a row would take as many.
class ArrayParams {
 public:
  // Appends a row; every row has the same number of values.
  void append(const Params& row);
  std::size_t rows() const { return rows_; }
  // One array literal per column ("{"a","b",NULL}").
  Params params() const;

 private:
  std::vector<std::string> columns_;
  std::size_t rows_ = 0;
};

// Rows in COPY's binary format (COPY ... FROM STDIN BINARY), for Conn::copy_in: the
// fastest way into a table, with no statement a row.
class CopyRows {
 public:
  CopyRows();
  // Starts a row of `fields` values, then adds them in the table's column order.
  CopyRows& row(int fields);
  CopyRows& add(std::int64_t v);                // a bigint
  CopyRows& add_int32(std::int32_t v);          // an integer
  CopyRows& add_int16(std::int16_t v);          // a smallint
  CopyRows& add_bool(bool v);                   // a boolean
  CopyRows& add_double(double v);               // a double precision
  CopyRows& add_bytes(std::string_view bytes);  // a bytea, or a text's UTF-8 bytes
  CopyRows& add_null();
  std::size_t rows() const { return rows_; }
  // The COPY stream's header and rows; Conn::copy_in sends the trailer after them.
  std::string_view body() const { return data_; }
  // The size of body().
  std::size_t bytes() const { return data_.size(); }

 private:
  std::string data_;
  std::size_t rows_ = 0;
};

// Statements sent together and answered together (Conn::pipeline): one round trip for
// all of them. Each must answer little (a command tag, a few short rows): they are sent
// before any answer is read.
class Batch {
 public:
  Batch& add(std::string sql, Params params = {}) {
    statements_.push_back({std::move(sql), std::move(params)});
    return *this;
  }
  bool empty() const { return statements_.empty(); }
  std::size_t size() const { return statements_.size(); }

 private:
  friend class Conn;
  struct Statement {
    std::string sql;
    Params params;
  };
  std::vector<Statement> statements_;
};

class Conn {
 public:
  // Connects; kUnavailable when the server cannot be reached or refuses the
  // credentials (the message says which).
  static Result<std::unique_ptr<Conn>> connect(const std::string& conninfo);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs `sql` (one or more statements, no parameters).
  Status exec(const std::string& sql);
  // Ends the transaction with COMMIT: an error unless it committed (a transaction that
  // failed is rolled back by COMMIT, which PostgreSQL does not count as an error).
  Status commit();
  // Runs one statement with parameters ($1, $2...), prepared on first use.
  Result<Rows> query(const std::string& sql, const Params& params = {});
  // The same, never prepared: planned at each run for its values and the tables as they
  // are then. For statements run seldom whose best plan depends on a table's size: the
  // generic plan PostgreSQL keeps for a prepared one after five runs is made for the size
  // its statistics said then, and one made while a table was empty scans it whole, for
  // ever after, however large it grows.
  Result<Rows> query_planned_now(const std::string& sql, const Params& params = {});
  // Runs the statements of `batch` in order, each prepared on first use, in one round
  // trip (libpq's pipeline mode): their rows in the same order, or the first failure
  // (the statements after it are not run). Outside a transaction they are one
  // transaction (all or none); inside one, they fail as one statement would.
  Result<std::vector<Rows>> pipeline(const Batch& batch);
  // Runs `copy` ("COPY table (columns) FROM STDIN BINARY") with `rows` as its data.
  Status copy_in(const std::string& copy, const CopyRows& rows);
  // Runs one statement (not prepared) and waits for its answer at most `limit`,
  // whatever the network does: kTimeout when the server has not answered by then (the
  // connection is then in an unknown state: close it). For the lease (lease.hpp), which
  // must know within a bound whether it still holds the lead.
  Result<Rows> query_within(const std::string& sql, const Params& params,
                            std::chrono::milliseconds limit);
  // True while the connection is up.
  bool ok() const;
  // The round trips this connection has waited for so far (each statement, prepare,
  // pipeline and COPY): what a writer's latency is made of, for tests to bound.
  std::int64_t round_trips() const { return round_trips_; }
  // The server's version number (150004 for 15.4).
  int server_version() const;
  // The socket, to wait for notifications on.
  int socket() const;
  // The notifications received so far (LISTEN), consumed.
  struct Notification {
    std::string channel;
    std::string payload;
  };
  std::vector<Notification> notifications();
  // Reads what the server sent without blocking; false when the connection broke.
  bool consume_input();

 private:
  explicit Conn(pg_conn* conn) : conn_(conn) {}
  Status error_of(pg_result* result, std::string_view what) const;
  // The rows of a statement's `result`, or its error (the result freed then).
  Result<Rows> rows_of(pg_result* result) const;
  // The name of `sql` prepared on this connection, prepared now if it is new.
  Result<std::string> prepared(const std::string& sql);
  pg_conn* conn_;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
  std::int64_t round_trips_ = 0;
};

// Whether a failed statement may succeed when its transaction is run again: a lost
// connection, a serialization failure, a deadlock, a conflict with recovery.
bool retryable(const Status& status);

}  // namespace vigie::collector::pq
