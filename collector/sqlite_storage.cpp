// The SQLite backend of Storage. The only file of the collector that includes
// sqlite3.h.
//
// One writer thread owns the write connection and commits queued reports in groups
// (one transaction, one SAVEPOINT per report so that a failing report is rolled back
// alone). Readers take a connection from a small pool; in WAL mode they read the last
// committed state without waiting for the writer.

#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "collector/storage.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

constexpr int kSchemaVersion = 1;

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbClose>;

Status db_error(sqlite3* db, std::string_view what) {
  return Status::io_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

// A prepared statement: bind, step, read columns, reset. Owns the sqlite3_stmt.
class Statement {
 public:
  Statement() = default;
  static Result<Statement> prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK)
      return db_error(db, "prepare \"" + std::string(sql.substr(0, 60)) + "\"");
    Statement s;
    s.stmt_.reset(raw);
    return s;
  }

  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_.get(), i, v);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_.get(), i, v);
    return *this;
  }
  Statement& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return sqlite3_step(stmt_.get()); }
  void reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
  }

  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_.get(), col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
             : std::string();
  }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status s = Status::io_error(std::string(sql).substr(0, 60) + ": " + (err ? err : "?"));
    sqlite3_free(err);
    return s;
  }
  return Status::ok();
}

Result<Db> open_db(const std::filesystem::path& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Status::io_error("cannot open database " + path.string() + ": " +
                            (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_extended_result_codes(db.get(), 1);
  return db;
}

// Version 1. A later version adds a migration step from the one before it, run in one
// transaction with the user_version bump.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE agents (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  site         TEXT NOT NULL,
  hostname     TEXT NOT NULL DEFAULT '',
  version      TEXT NOT NULL DEFAULT '',
  last_seen_ms INTEGER NOT NULL DEFAULT 0
);
-- One row per stored report: (agent, seq) makes ingest idempotent.
CREATE TABLE batches (
  agent_id    INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  results     INTEGER NOT NULL,
  PRIMARY KEY (agent_id, seq)
) WITHOUT ROWID;
-- The current state of each check of each agent.
CREATE TABLE checks (
  id          INTEGER PRIMARY KEY,
  agent_id    INTEGER NOT NULL,
  check_id    TEXT NOT NULL,
  name        TEXT NOT NULL,
  status      INTEGER NOT NULL,
  summary     TEXT NOT NULL,
  details     TEXT NOT NULL,
  metrics     TEXT NOT NULL,  -- JSON array, protocol form
  ts_ms       INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  interval_s  INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  since_ms    INTEGER NOT NULL,
  UNIQUE (agent_id, check_id)
);
CREATE TABLE series (
  id        INTEGER PRIMARY KEY,
  check_row INTEGER NOT NULL,
  metric    TEXT NOT NULL,
  unit      TEXT NOT NULL,
  UNIQUE (check_row, metric)
);
CREATE TABLE samples (
  series_id INTEGER NOT NULL,
  ts_ms     INTEGER NOT NULL,
  value     REAL NOT NULL
);
CREATE INDEX samples_by_series ON samples (series_id, ts_ms);
)sql";

Status migrate(sqlite3* db) {
  std::int64_t current = 0;
  {
    auto version = Statement::prepare(db, "PRAGMA user_version");
    if (!version) return version.status();
    if (version->step() != SQLITE_ROW) return db_error(db, "read schema version");
    current = version->int64(0);
  }
  if (current == kSchemaVersion) return Status::ok();
  if (current > kSchemaVersion) {
    return Status(Code::kCorruption,
                  "database schema version " + std::to_string(current) +
                      " is newer than this collector's (" + std::to_string(kSchemaVersion) +
                      "): upgrade the collector");
  }
  if (Status s = exec(db, "BEGIN IMMEDIATE"); !s) return s;
  Status s = exec(db, kSchemaV1);
  if (s) s = exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
  if (s) s = exec(db, "COMMIT");
  if (!s) {
    (void)exec(db, "ROLLBACK");
    return s.with_context("create schema");
  }
  return Status::ok();
}

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(SqliteOptions options, Db writer) : options_(std::move(options)), db_(std::move(writer)) {}
  ~SqliteStorage() override { close(); }

  Status prepare_statements() {
    const struct {
      Statement* stmt;
      const char* sql;
    } table[] = {
        {&upsert_agent_,
         "INSERT INTO agents (name, site, hostname, version, last_seen_ms) VALUES (?1,?2,?3,?4,?5) "
         "ON CONFLICT (name) DO UPDATE SET site = excluded.site, hostname = excluded.hostname, "
         "version = excluded.version, last_seen_ms = max(last_seen_ms, excluded.last_seen_ms) "
         "RETURNING id"},
        {&insert_batch_,
         "INSERT INTO batches (agent_id, seq, received_ms, results) VALUES (?1,?2,?3,?4) "
         "ON CONFLICT DO NOTHING"},
        // Only a newer result replaces the current state: a late one (replayed from an
        // agent's spool) must not overwrite it. since_ms moves only on a status change.
        {&upsert_check_,
         "INSERT INTO checks (agent_id, check_id, name, status, summary, details, metrics, ts_ms,"
         " duration_ms, interval_s, received_ms, since_ms)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?8)"
         " ON CONFLICT (agent_id, check_id) DO UPDATE SET"
         " since_ms = CASE WHEN excluded.status != status THEN excluded.ts_ms ELSE since_ms END,"
         " name = excluded.name, status = excluded.status, summary = excluded.summary,"
         " details = excluded.details, metrics = excluded.metrics, ts_ms = excluded.ts_ms,"
         " duration_ms = excluded.duration_ms, interval_s = excluded.interval_s,"
         " received_ms = excluded.received_ms"
         " WHERE excluded.ts_ms >= ts_ms"},
        {&select_check_, "SELECT id FROM checks WHERE agent_id = ?1 AND check_id = ?2"},
        {&upsert_series_,
         "INSERT INTO series (check_row, metric, unit) VALUES (?1,?2,?3) "
         "ON CONFLICT (check_row, metric) DO UPDATE SET unit = excluded.unit RETURNING id"},
        {&insert_sample_, "INSERT INTO samples (series_id, ts_ms, value) VALUES (?1,?2,?3)"},
    };
    for (const auto& entry : table) {
      auto stmt = Statement::prepare(db_.get(), entry.sql);
      if (!stmt) return stmt.status();
      *entry.stmt = std::move(*stmt);
    }
    return Status::ok();
  }

  void start() { writer_ = std::thread([this] { writer_loop(); }); }

  void submit(protocol::Report report, std::int64_t received_ms, Done done) override {
    {
      std::lock_guard lock(mu_);
      if (!closing_) {
        queue_.push_back({std::move(report), received_ms, std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(Status::unavailable("the collector is shutting down"));
  }

  Result<std::vector<CheckRow>> checks(const CheckQuery& query) override;

  void close() override {
    {
      std::lock_guard lock(mu_);
      if (closing_ && !writer_.joinable()) return;
      closing_ = true;
      cv_.notify_all();
    }
    if (writer_.joinable()) writer_.join();
  }

 private:
  struct Pending {
    protocol::Report report;
    std::int64_t received_ms;
    Done done;
  };

  void writer_loop();
  void commit_group(std::vector<Pending>& group);
  Result<IngestOutcome> store(const Pending& pending);
  Status store_result(std::int64_t agent_id, const CheckResult& r, std::int64_t received_ms);

  Result<Db> take_reader();
  void give_back(Db db);

  const SqliteOptions options_;
  Db db_;  // the writer's connection; only the writer thread touches it after start()
  Statement upsert_agent_, insert_batch_, upsert_check_, select_check_, upsert_series_,
      insert_sample_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool closing_ = false;
  std::thread writer_;

  std::mutex readers_mu_;
  std::vector<Db> readers_;
};

void SqliteStorage::writer_loop() {
  std::vector<Pending> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and everything is committed
      // Group commit: everything that queued up while the last transaction ran.
      while (!queue_.empty() && group.size() < options_.max_batch_reports) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_group(group);
    group.clear();
  }
}

void SqliteStorage::commit_group(std::vector<Pending>& group) {
  std::vector<Result<IngestOutcome>> outcomes;
  outcomes.reserve(group.size());
  Status tx = exec(db_.get(), "BEGIN IMMEDIATE");
  if (tx) {
    for (const auto& pending : group) {
      (void)exec(db_.get(), "SAVEPOINT report");
      auto outcome = store(pending);
      // A duplicate stores nothing either: roll back the agent's last-seen update.
      if (!outcome || *outcome == IngestOutcome::kDuplicate)
        (void)exec(db_.get(), "ROLLBACK TO report");
      (void)exec(db_.get(), "RELEASE report");
      outcomes.push_back(std::move(outcome));
    }
    tx = exec(db_.get(), "COMMIT");
    if (!tx) (void)exec(db_.get(), "ROLLBACK");
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (!tx) {
      log::error("storage: commit failed: " + tx.message());
      group[i].done(tx);
    } else {
      group[i].done(std::move(outcomes[i]));
    }
  }
}

Result<IngestOutcome> SqliteStorage::store(const Pending& pending) {
  const auto& report = pending.report;
  upsert_agent_.reset();
  upsert_agent_.bind(1, report.agent.id)
      .bind(2, report.agent.site)
      .bind(3, report.agent.hostname)
      .bind(4, report.agent.version)
      .bind(5, pending.received_ms);
  if (upsert_agent_.step() != SQLITE_ROW) return db_error(db_.get(), "store agent");
  const std::int64_t agent_id = upsert_agent_.int64(0);
  upsert_agent_.reset();

  insert_batch_.reset();
  insert_batch_.bind(1, agent_id)
      .bind(2, static_cast<std::int64_t>(report.seq))
      .bind(3, pending.received_ms)
      .bind(4, static_cast<std::int64_t>(report.results.size()));
  if (insert_batch_.step() != SQLITE_DONE) return db_error(db_.get(), "store batch");
  if (sqlite3_changes(db_.get()) == 0) return IngestOutcome::kDuplicate;

  for (const auto& result : report.results) {
    if (Status s = store_result(agent_id, result, pending.received_ms); !s) return s;
  }
  return IngestOutcome::kStored;
}

Status SqliteStorage::store_result(std::int64_t agent_id, const CheckResult& r,
                                   std::int64_t received_ms) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : r.metrics) metrics.push_back(protocol::metric_to_json(m));
  const std::string metrics_text =
      metrics.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  upsert_check_.reset();
  upsert_check_.bind(1, agent_id)
      .bind(2, r.check)
      .bind(3, r.name)
      .bind(4, static_cast<std::int64_t>(r.status))
      .bind(5, r.summary)
      .bind(6, r.details)
      .bind(7, metrics_text)
      .bind(8, r.ts_ms)
      .bind(9, r.duration_ms)
      .bind(10, r.interval_s)
      .bind(11, received_ms);
  if (upsert_check_.step() != SQLITE_DONE) return db_error(db_.get(), "store check state");
  upsert_check_.reset();

  select_check_.reset();
  select_check_.bind(1, agent_id).bind(2, r.check);
  if (select_check_.step() != SQLITE_ROW) return db_error(db_.get(), "find check");
  const std::int64_t check_row = select_check_.int64(0);
  select_check_.reset();

  for (const auto& m : r.metrics) {
    if (!m.value) continue;  // "U": nothing to plot
    upsert_series_.reset();
    upsert_series_.bind(1, check_row).bind(2, m.label).bind(3, m.unit);
    if (upsert_series_.step() != SQLITE_ROW) return db_error(db_.get(), "store series");
    const std::int64_t series = upsert_series_.int64(0);
    upsert_series_.reset();

    insert_sample_.reset();
    insert_sample_.bind(1, series).bind(2, r.ts_ms).bind(3, *m.value);
    if (insert_sample_.step() != SQLITE_DONE) return db_error(db_.get(), "store sample");
  }
  return Status::ok();
}

Result<Db> SqliteStorage::take_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      Db db = std::move(readers_.back());
      readers_.pop_back();
      return db;
    }
  }
  return open_db(options_.path, SQLITE_OPEN_READONLY);
}

void SqliteStorage::give_back(Db db) {
  std::lock_guard lock(readers_mu_);
  readers_.push_back(std::move(db));
}

Result<std::vector<CheckRow>> SqliteStorage::checks(const CheckQuery& query) {
  auto db = take_reader();
  if (!db) return db.status();
  // Severity order: CRITICAL, UNKNOWN, WARNING, OK (vigie::severity()).
  std::string sql =
      "SELECT a.name, a.site, c.name, c.check_id, c.status, c.summary, c.details, c.metrics,"
      " c.ts_ms, c.duration_ms, c.interval_s, c.received_ms, c.since_ms"
      " FROM checks c JOIN agents a ON a.id = c.agent_id";
  if (query.problems_only) sql += " WHERE c.status != 0";
  sql += " ORDER BY CASE c.status WHEN 2 THEN 0 WHEN 3 THEN 1 WHEN 1 THEN 2 ELSE 3 END,"
         " c.since_ms, a.site, c.name";
  auto stmt = Statement::prepare(db->get(), sql);
  if (!stmt) return stmt.status();

  std::vector<CheckRow> rows;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    CheckRow row;
    row.agent = stmt->text(0);
    row.site = stmt->text(1);
    row.result.name = stmt->text(2);
    row.result.check = stmt->text(3);
    row.result.status = state_from_code(stmt->int64(4)).value_or(State::kUnknown);
    row.result.summary = stmt->text(5);
    row.result.details = stmt->text(6);
    const auto metrics = nlohmann::json::parse(stmt->text(7), nullptr, false);
    if (metrics.is_array()) {
      for (const auto& m : metrics) {
        if (auto metric = protocol::metric_from_json(m, "metrics"); metric)
          row.result.metrics.push_back(std::move(*metric));
      }
    }
    row.result.ts_ms = stmt->int64(8);
    row.result.duration_ms = stmt->int64(9);
    row.result.interval_s = stmt->int64(10);
    row.received_ms = stmt->int64(11);
    row.since_ms = stmt->int64(12);
    rows.push_back(std::move(row));
  }
  const Status status = rc == SQLITE_DONE ? Status::ok() : db_error(db->get(), "read checks");
  stmt = Statement();
  give_back(std::move(*db));
  if (!status) return status;
  return rows;
}

}  // namespace

Result<std::unique_ptr<Storage>> open_sqlite_storage(const SqliteOptions& options) {
  if (options.path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec) return Status::io_error("cannot create " + options.path.parent_path().string() +
                                    ": " + ec.message());
  }
  auto db = open_db(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) return db.status();
  // WAL: readers never wait for the writer. synchronous=NORMAL: a commit survives a
  // process crash; a power cut may lose the last commits but never corrupts.
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"}) {
    if (Status s = exec(db->get(), pragma); !s) return s;
  }
  if (Status s = migrate(db->get()); !s) return s;
  auto storage = std::make_unique<SqliteStorage>(options, std::move(*db));
  if (Status s = storage->prepare_statements(); !s) return s;
  storage->start();
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace vigie::collector
