#include "collector/postgres/pq.hpp"

#include <poll.h>
#include <postgresql/libpq-fe.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vigie::collector::pq {
namespace {

// What a failed statement's SQLSTATE means to the caller.
Code code_of_sqlstate(std::string_view state) {
  if (state.starts_with("08")) return Code::kUnavailable;               // connection exception
  if (state == "40001" || state == "40P01") return Code::kUnavailable;  // retry the transaction
  if (state.starts_with("57P")) return Code::kUnavailable;  // admin shutdown, cannot connect now
  if (state == "23505") return Code::kAlreadyExists;
  if (state.starts_with("28")) return Code::kUnavailable;  // the collector's credentials
  return Code::kInternal;
}

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct ConninfoOptions {
  PQconninfoOption* options = nullptr;
  ~ConninfoOptions() {
    if (options) PQconninfoFree(options);
  }
};

}  // namespace

bool is_postgres(std::string_view db) {
  if (db.starts_with("postgresql://") || db.starts_with("postgres://")) return true;
  // key=value pairs; another scheme's URI with a query is not one.
  return db.find("://") == std::string_view::npos && db.find('=') != std::string_view::npos;
}

Status check_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  ConninfoOptions parsed{PQconninfoParse(conninfo.c_str(), &error)};
  if (!parsed.options) {
    std::string message = "database \"" + describe(conninfo) + "\": " + trimmed(error);
    if (error) PQfreemem(error);
    return Status::invalid(message);
  }
  for (PQconninfoOption* o = parsed.options; o->keyword; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val && *o->val) {
      return Status::invalid(
          "a database password on the command line is visible to every user of the machine: "
          "leave it out of --db and put it in a password file (passfile= in the connection "
          "string, or PGPASSFILE)");
    }
  }
  return Status::ok();
}

std::string describe(const std::string& conninfo) {
  // A URI's password sits between "user:" and "@"; a key=value string's after
  // "password=". Either is replaced with "***".
  std::string out = conninfo;
  if (out.starts_with("postgres")) {
    const auto scheme = out.find("://");
    const auto at = out.find('@', scheme == std::string::npos ? 0 : scheme + 3);
    if (scheme != std::string::npos && at != std::string::npos) {
      const auto colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
    return out;
  }
  const auto key = out.find("password=");
  if (key != std::string::npos) {
    auto end = out.find(' ', key);
    if (end == std::string::npos) end = out.size();
    out.replace(key + 9, end - key - 9, "***");
  }
  return out;
}

Params& Params::add(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  values_.emplace_back(buf);
  return *this;
}

namespace {

void put_int16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}
void put_int32(std::string& out, std::uint32_t v) {
  put_int16(out, static_cast<std::uint16_t>(v >> 16));
  put_int16(out, static_cast<std::uint16_t>(v & 0xffff));
}

}  // namespace

CopyRows::CopyRows() {
  data_.assign("PGCOPY\n\377\r\n\0", 11);  // signature
  put_int32(data_, 0);                     // flags
  put_int32(data_, 0);                     // header extension's length
}

CopyRows& CopyRows::row(int fields) {
  put_int16(data_, static_cast<std::uint16_t>(fields));
  ++rows_;
  return *this;
}

CopyRows& CopyRows::add(std::int64_t v) {
  put_int32(data_, 8);
  const auto u = static_cast<std::uint64_t>(v);
  put_int32(data_, static_cast<std::uint32_t>(u >> 32));
  put_int32(data_, static_cast<std::uint32_t>(u & 0xffffffffu));
  return *this;
}

CopyRows& CopyRows::add_int32(std::int32_t v) {
  put_int32(data_, 4);
  put_int32(data_, static_cast<std::uint32_t>(v));
  return *this;
}

CopyRows& CopyRows::add_int16(std::int16_t v) {
  put_int32(data_, 2);
  put_int16(data_, static_cast<std::uint16_t>(v));
  return *this;
}

CopyRows& CopyRows::add_bool(bool v) {
  put_int32(data_, 1);
  data_ += v ? '\1' : '\0';
  return *this;
}

CopyRows& CopyRows::add_double(double v) {
  return add(std::bit_cast<std::int64_t>(v));  // IEEE-754, sent big-endian as a bigint is
}

CopyRows& CopyRows::add_null() {
  put_int32(data_, 0xffffffffu);  // a length of -1
  return *this;
}

CopyRows& CopyRows::add_bytes(std::string_view bytes) {
  put_int32(data_, static_cast<std::uint32_t>(bytes.size()));
  data_ += bytes;
  return *this;
}

void ArrayParams::append(const Params& row) {
  const auto& values = row.values();
  if (columns_.empty()) columns_.resize(values.size());
  for (std::size_t i = 0; i < values.size() && i < columns_.size(); ++i) {
    std::string& column = columns_[i];
    if (rows_ > 0) column += ',';
    if (!values[i]) {
      column += "NULL";
      continue;
    }
    // Quoted, with the quote and the backslash escaped: any text, "NULL" included.
    column += '"';
    for (const char c : *values[i]) {
      if (c == '"' || c == '\\') column += '\\';
      column += c;
    }
    column += '"';
  }
  ++rows_;
}

Params ArrayParams::params() const {
  Params params;
  for (const auto& column : columns_) params.add("{" + column + "}");
  return params;
}

Params& Params::add_bytes(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string text = "\\x";
  text.reserve(2 + bytes.size() * 2);
  for (const char c : bytes) {
    text += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
    text += kHex[static_cast<unsigned char>(c) & 0xF];
  }
  values_.emplace_back(std::move(text));
  return *this;
}

void Rows::Clear::operator()(pg_result* r) const { PQclear(r); }

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const { return result_ ? PQntuples(result_.get()) : 0; }

bool Rows::null(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }

std::string Rows::text(int row, int col) const {
  return std::string(PQgetvalue(result_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, col)));
}

std::int64_t Rows::int64(int row, int col) const {
  if (null(row, col)) return 0;
  return std::strtoll(PQgetvalue(result_.get(), row, col), nullptr, 10);
}

double Rows::real(int row, int col) const {
  if (null(row, col)) return 0;
  return std::strtod(PQgetvalue(result_.get(), row, col), nullptr);
}

std::string Rows::bytes(int row, int col) const {
  std::size_t length = 0;
  unsigned char* raw = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col)), &length);
  if (!raw) return {};
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}

std::int64_t Rows::affected() const {
  const char* n = result_ ? PQcmdTuples(result_.get()) : "";
  return *n ? std::strtoll(n, nullptr, 10) : 0;
}

Result<std::unique_ptr<Conn>> Conn::connect(const std::string& conninfo) {
  if (Status s = check_conninfo(conninfo); !s) return s;
  pg_conn* conn = PQconnectdb(conninfo.c_str());
  if (!conn) return Status(Code::kInternal, "libpq: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    // Refused credentials ("password authentication failed") too: whoever asked the
    // collector meets a database it cannot use, and is answered 503, never 401 (an
    // agent answered 401 takes its own token as rejected and stops sending).
    return Status(Code::kUnavailable, "database \"" + describe(conninfo) + "\": " + message);
  }
  // Text as UTF-8 whatever the server's encoding.
  PQsetClientEncoding(conn, "UTF8");
  // The server's notices ("relation already exists, skipping") are not the
  // collector's to print on its stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Conn>(new Conn(conn));
}

Conn::~Conn() { PQfinish(conn_); }

bool Conn::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

int Conn::server_version() const { return PQserverVersion(conn_); }

int Conn::socket() const { return PQsocket(conn_); }

bool Conn::consume_input() { return PQconsumeInput(conn_) == 1; }

std::vector<Conn::Notification> Conn::notifications() {
  std::vector<Notification> out;
  while (PGnotify* n = PQnotifies(conn_)) {
    out.push_back({n->relname ? n->relname : "", n->extra ? n->extra : ""});
    PQfreemem(n);
  }
  return out;
}

Status Conn::error_of(pg_result* result, std::string_view what) const {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = trimmed(PQerrorMessage(conn_));
  const Code code = !ok() ? Code::kUnavailable : state ? code_of_sqlstate(state) : Code::kInternal;
  std::string text = std::string(what) + ": " + message;
  if (state) text += " (SQLSTATE " + std::string(state) + ")";
  return Status(code, text);
}

Status Conn::exec(const std::string& sql) {
  ++round_trips_;
  return rows_of(PQexec(conn_, sql.c_str())).status();
}

Status Conn::commit() {
  ++round_trips_;
  pg_result* result = PQexec(conn_, "COMMIT");
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK) {
    Status error = error_of(result, "database");
    if (result) PQclear(result);
    return error;
  }
  const std::string tag = PQcmdStatus(result);
  PQclear(result);
  if (tag != "COMMIT")
    return Status(Code::kUnavailable, "database: the transaction was rolled back (" + tag +
                                          "), a statement in it had failed");
  return Status::ok();
}

Result<std::string> Conn::prepared(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    ++round_trips_;
    pg_result* prepared = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    if (!prepared || PQresultStatus(prepared) != PGRES_COMMAND_OK) {
      Status error = error_of(prepared, "database");
      if (prepared) PQclear(prepared);
      return error;
    }
    PQclear(prepared);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  return it->second;
}

namespace {

std::vector<const char*> value_pointers(const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  return values;
}

bool succeeded(pg_result* result) {
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

Result<Rows> Conn::rows_of(pg_result* result) const {
  if (!succeeded(result)) {
    Status error = error_of(result, "database");
    if (result) PQclear(result);
    return error;
  }
  return Rows(result);
}

Result<Rows> Conn::query(const std::string& sql, const Params& params) {
  auto name = prepared(sql);
  if (!name) return name.status();
  const auto values = value_pointers(params);
  ++round_trips_;
  return rows_of(PQexecPrepared(conn_, name->c_str(), static_cast<int>(values.size()),
                                values.data(), nullptr, nullptr, 0));
}

Result<std::vector<Rows>> Conn::pipeline(const Batch& batch) {
  std::vector<std::string> names;
  names.reserve(batch.size());
  for (const auto& statement : batch.statements_) {
    auto name = prepared(statement.sql);
    if (!name) return name.status();
    names.push_back(std::move(*name));
  }
  if (PQenterPipelineMode(conn_) != 1) return error_of(nullptr, "database: pipeline");
  Status failed = Status::ok();
  std::size_t sent = 0;
  for (; sent < names.size(); ++sent) {
    const auto values = value_pointers(batch.statements_[sent].params);
    if (PQsendQueryPrepared(conn_, names[sent].c_str(), static_cast<int>(values.size()),
                            values.data(), nullptr, nullptr, 0) != 1) {
      failed = error_of(nullptr, "database");
      break;
    }
  }
  ++round_trips_;
  const bool synced = PQpipelineSync(conn_) == 1;
  if (!synced && failed) failed = error_of(nullptr, "database");
  // Each statement sent answers a result then NULL; the sync answers its own result.
  // A statement after a failed one answers PGRES_PIPELINE_ABORTED.
  std::vector<Rows> rows;
  rows.reserve(sent);
  for (std::size_t i = 0; i < sent && ok(); ++i) {
    pg_result* result = PQgetResult(conn_);
    if (succeeded(result)) {
      rows.emplace_back(result);
    } else {
      if (failed && (!result || PQresultStatus(result) != PGRES_PIPELINE_ABORTED))
        failed = error_of(result, "database");
      if (result) PQclear(result);
    }
    while (pg_result* extra = PQgetResult(conn_)) PQclear(extra);
  }
  // Up to the sync's result, then out of pipeline mode.
  while (synced && ok()) {
    pg_result* result = PQgetResult(conn_);
    if (!result) continue;
    const bool sync = PQresultStatus(result) == PGRES_PIPELINE_SYNC;
    PQclear(result);
    if (sync) break;
  }
  if (ok() && PQexitPipelineMode(conn_) != 1 && failed) failed = error_of(nullptr, "database");
  if (!ok() && failed) failed = error_of(nullptr, "database");
  if (!failed) return failed;
  return rows;
}

Status Conn::copy_in(const std::string& copy, const CopyRows& rows) {
  ++round_trips_;
  pg_result* started = PQexec(conn_, copy.c_str());
  const auto status = started ? PQresultStatus(started) : PGRES_FATAL_ERROR;
  if (status != PGRES_COPY_IN) {
    Status error = error_of(started, "database");
    if (started) PQclear(started);
    return error;
  }
  PQclear(started);
  const std::string_view body = rows.body();
  // Sent in pieces (PQputCopyData takes an int's worth at most), then the trailer.
  constexpr std::size_t kPiece = 1 << 20;
  bool sent = true;
  for (std::size_t at = 0; sent && at < body.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, body.size() - at);
    sent = PQputCopyData(conn_, body.data() + at, static_cast<int>(n)) == 1;
  }
  static constexpr char kTrailer[] = {'\xff', '\xff'};  // a row of -1 fields
  if (sent) sent = PQputCopyData(conn_, kTrailer, sizeof kTrailer) == 1;
  ++round_trips_;
  if (PQputCopyEnd(conn_, sent ? nullptr : "the data could not be sent") != 1)
    return error_of(nullptr, "database: COPY");
  Status outcome = Status::ok();
  while (pg_result* result = PQgetResult(conn_)) {
    if (outcome && PQresultStatus(result) != PGRES_COMMAND_OK)
      outcome = error_of(result, "database: COPY");
    PQclear(result);
  }
  if (outcome && !sent) outcome = error_of(nullptr, "database: COPY");
  return outcome;
}

Result<Rows> Conn::query_planned_now(const std::string& sql, const Params& params) {
  const auto values = value_pointers(params);
  ++round_trips_;
  return rows_of(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
}

Result<Rows> Conn::query_within(const std::string& sql, const Params& params,
                                std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + limit;
  const auto values = value_pointers(params);
  ++round_trips_;
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, 0) != 1)
    return error_of(nullptr, "database");
  // Waits until libpq can hand a result (or the end of results) without blocking.
  auto ready = [&]() -> Status {
    while (PQflush(conn_) == 1 || PQisBusy(conn_)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0)
        return Status(Code::kTimeout,
                      "database: no answer within " + std::to_string(limit.count()) + " ms");
      pollfd fd{PQsocket(conn_), POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left)) < 0 && errno != EINTR)
        return Status::unavailable("database: poll failed");
      if (PQconsumeInput(conn_) != 1) return error_of(nullptr, "database");
    }
    return Status::ok();
  };
  if (Status s = ready(); !s) return s;
  pg_result* result = PQgetResult(conn_);
  // A statement has one result, then the end of them (NULL).
  for (;;) {
    if (Status s = ready(); !s) {
      if (result) PQclear(result);
      return s;
    }
    pg_result* extra = PQgetResult(conn_);
    if (!extra) break;
    PQclear(extra);
  }
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Status error = error_of(result, "database");
    if (result) PQclear(result);
    return error;
  }
  return Rows(result);
}

bool retryable(const Status& status) { return status.code() == Code::kUnavailable; }

}  // namespace vigie::collector::pq
