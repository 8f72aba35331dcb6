#include "common/sqlite.hpp"

#include <sqlite3.h>

namespace vigie::sqlite {

void Close::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Result<Db> open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Status::io_error("cannot open database " + path + ": " +
                            (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_extended_result_codes(db.get(), 1);
  return db;
}

Status error(sqlite3* db, std::string_view what) {
  return Status::io_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status s = Status::io_error(std::string(sql).substr(0, 60) + ": " + (err ? err : "?"));
    sqlite3_free(err);
    return s;
  }
  return Status::ok();
}

Status exec(sqlite3* db, std::string_view sql, const std::function<void(Statement&)>& bind) {
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) return stmt.status();
  bind(*stmt);
  if (stmt->step() != SQLITE_DONE) return error(db, sql.substr(0, 40));
  return Status::ok();
}

void Statement::Finalize::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &raw, nullptr) != SQLITE_OK)
    return error(db, "prepare \"" + std::string(sql.substr(0, 60)) + "\"");
  Statement s;
  s.stmt_.reset(raw);
  return s;
}

Statement& Statement::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}

Statement& Statement::bind(int i, double v) {
  sqlite3_bind_double(stmt_.get(), i, v);
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_blob(int i, std::string_view v) {
  sqlite3_bind_blob(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}

int Statement::step() { return sqlite3_step(stmt_.get()); }

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

double Statement::real(int col) const { return sqlite3_column_double(stmt_.get(), col); }

std::string Statement::text(int col) const { return std::string(text_view(col)); }

std::string_view Statement::text_view(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  return p ? std::string_view(reinterpret_cast<const char*>(p),
                              static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
           : std::string_view();
}

std::string_view Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  return p ? std::string_view(static_cast<const char*>(p),
                              static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
           : std::string_view();
}

void BlobReader::CloseBlob::operator()(sqlite3_blob* b) const { sqlite3_blob_close(b); }

Status BlobReader::open(sqlite3* db, const char* table, const char* column, std::int64_t rowid) {
  if (blob_ && db_ == db && table_ == table && column_ == column &&
      sqlite3_blob_reopen(blob_.get(), rowid) == SQLITE_OK) {
    size_ = static_cast<std::size_t>(sqlite3_blob_bytes(blob_.get()));
    return Status::ok();
  }
  close();
  db_ = db;
  table_ = table;
  column_ = column;
  sqlite3_blob* blob = nullptr;
  const int rc = sqlite3_blob_open(db, "main", table, column, rowid, 0, &blob);
  blob_.reset(blob);  // closed even when the open failed half way
  if (rc != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(db);
    close();
    // SQLite says "no such rowid: N" for a row that is not there.
    if ((rc & 0xff) == SQLITE_ERROR && why.starts_with("no such rowid"))
      return Status::not_found(std::string(table) + ": " + why);
    return Status::io_error("open a blob of " + std::string(table) + ": " + why);
  }
  size_ = static_cast<std::size_t>(sqlite3_blob_bytes(blob_.get()));
  return Status::ok();
}

Status BlobReader::read(std::size_t offset, std::size_t n, std::string& out) {
  out.clear();
  if (!blob_ || offset > size_ || n > size_ - offset)
    return Status::io_error("read a blob: past its end");
  out.resize(n);
  const int rc =
      sqlite3_blob_read(blob_.get(), out.data(), static_cast<int>(n), static_cast<int>(offset));
  if (rc != SQLITE_OK) {
    out.clear();
    return Status::io_error(std::string("read a blob: ") + sqlite3_errstr(rc));
  }
  return Status::ok();
}

}  // namespace vigie::sqlite
