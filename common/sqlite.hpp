#pragma once
// A thin owner of SQLite handles, shared by the collector's SQLite backend and the
// agent's spool: a connection that closes itself, and a prepared statement to bind,
// step, read and reset. Errors are the Status of "<what>: <SQLite's message>".
//
// It hides no SQLite concept: step() returns SQLite's result code (SQLITE_ROW,
// SQLITE_DONE...), and callers that need more (open flags, checkpoints, extended error
// codes) include sqlite3.h in their .cpp. Built as its own library (vigie_common_sqlite)
// that links no SQLite: the agent links the static SQLite, the collector the shared one.
//
// Not thread-safe: a connection and its statements belong to one thread at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.hpp"

struct sqlite3;
struct sqlite3_stmt;
struct sqlite3_blob;

namespace vigie::sqlite {

struct Close {
  void operator()(sqlite3* db) const;
};
// An open connection; closing it finalizes nothing: statements must go first.
using Db = std::unique_ptr<sqlite3, Close>;

// Opens `path` with SQLite's `flags` (SQLITE_OPEN_*, plus SQLITE_OPEN_NOMUTEX), extended
// result codes on and a 5 s busy timeout. kIoError "cannot open database PATH: why".
Result<Db> open(const std::string& path, int flags);

// kIoError "<what>: <the connection's last error message>".
Status error(sqlite3* db, std::string_view what);

// Runs SQL text (one or more statements, no parameters). kIoError "<the SQL's first
// 60 characters>: <why>".
Status exec(sqlite3* db, const char* sql);

class Statement;

// Prepares `sql`, binds its parameters with `bind` and steps it once: for a statement
// that returns no row. kIoError naming the SQL's first 40 characters.
Status exec(sqlite3* db, std::string_view sql, const std::function<void(Statement&)>& bind);

// A prepared statement: bind, step, read columns, reset. Owns the sqlite3_stmt.
class Statement {
 public:
  Statement() = default;
  // Prepared for repeated use (SQLITE_PREPARE_PERSISTENT). kIoError naming the SQL.
  static Result<Statement> prepare(sqlite3* db, std::string_view sql);

  bool ready() const { return stmt_ != nullptr; }

  // Parameters count from 1. Text is copied; a blob's bytes must stay alive until
  // the statement is reset.
  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, int v) { return bind(i, std::int64_t{v}); }
  Statement& bind(int i, double v);
  Statement& bind(int i, std::string_view v);
  Statement& bind_blob(int i, std::string_view v);

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step();
  // Back to the start, parameters cleared (unbound ones read as NULL).
  void reset();

  // Columns count from 0; views are valid until the next step() or reset().
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::string_view text_view(int col) const;
  std::string_view blob(int col) const;

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const;
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

// Reads parts of one column's blobs, row after row, without reading the rest of them
// (SQLite's incremental blob I/O): a few hundred bytes of a blob spread over many
// overflow pages read only those pages. Read-only; within the connection's current
// transaction, or one of its own.
class BlobReader {
 public:
  // Opens `table`.`column` of the row whose rowid is `rowid` (a reader already open on
  // the same table and column moves to that row, which is cheaper). kNotFound when there is no such
  // row, kIoError for other errors.
  Status open(sqlite3* db, const char* table, const char* column, std::int64_t rowid);
  std::size_t size() const { return size_; }
  // The blob's bytes [offset, offset + n) into `out` (replaced); kIoError when past its
  // end or when the row changed since open.
  Status read(std::size_t offset, std::size_t n, std::string& out);
  // Ends the read (and the transaction SQLite opened for it, if any).
  void close() {
    blob_.reset();
    size_ = 0;
  }

 private:
  struct CloseBlob {
    void operator()(sqlite3_blob* b) const;
  };
  sqlite3* db_ = nullptr;
  std::string table_, column_;  // of the open blob
  std::unique_ptr<sqlite3_blob, CloseBlob> blob_;
  std::size_t size_ = 0;
};

// Resets a statement when the scope ends, whatever path it takes.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& s) : s_(s) {}
  ~ResetOnExit() { s_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& s_;
};

}  // namespace vigie::sqlite
