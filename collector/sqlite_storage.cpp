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
#include <future>
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
-- Every kind of token; only the SHA-256 of a secret is kept.
CREATE TABLE tokens (
  id         INTEGER PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  role       TEXT NOT NULL,
  agent      TEXT NOT NULL DEFAULT '',
  site       TEXT NOT NULL DEFAULT '',
  label      TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  used_ms    INTEGER NOT NULL DEFAULT 0,
  revoked_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_by_agent ON tokens (agent) WHERE agent != '';
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
        {&find_batch_,
         "SELECT 1 FROM batches b JOIN agents a ON a.id = b.agent_id"
         " WHERE a.name = ?1 AND b.seq = ?2"},
        {&insert_batch_,
         "INSERT INTO batches (agent_id, seq, received_ms, results) VALUES (?1,?2,?3,?4)"},
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
    auto outcome = std::make_shared<IngestOutcome>(IngestOutcome::kStored);
    auto shared_report = std::make_shared<protocol::Report>(std::move(report));
    enqueue({[this, shared_report, received_ms, outcome] {
               auto stored = store(*shared_report, received_ms);
               if (!stored) return stored.status();
               *outcome = *stored;
               return Status::ok();
             },
             [done = std::move(done), outcome](Status status) {
               if (!status) return done(status);
               done(*outcome);
             }});
  }

  Result<std::vector<CheckRow>> checks(const CheckQuery& query) override;

  Result<std::int64_t> add_token(const TokenRecord& record, const std::string& hash) override;
  Result<TokenRecord> find_token(const std::string& hash) override;
  Result<std::vector<TokenRecord>> list_tokens() override;
  Status revoke_token(std::int64_t id, std::int64_t now_ms) override;
  Result<TokenRecord> enroll(const Enrollment& enrollment) override;

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
  // A unit of work for the writer: apply() runs inside the group's transaction, in a
  // savepoint of its own (an error rolls back this job only); done() runs after the
  // commit with the job's status, or the commit's error.
  struct Job {
    std::function<Status()> apply;
    std::function<void(Status)> done;
  };

  void enqueue(Job job);
  // enqueue() and wait for the commit.
  Status write(std::function<Status()> apply);
  void writer_loop();
  void commit_group(std::vector<Job>& group);
  Result<IngestOutcome> store(const protocol::Report& report, std::int64_t received_ms);
  Status store_result(std::int64_t agent_id, const CheckResult& r, std::int64_t received_ms);

  Result<Db> take_reader();
  void give_back(Db db);

  const SqliteOptions options_;
  Db db_;  // the writer's connection; only the writer thread touches it after start()
  Statement find_batch_, upsert_agent_, insert_batch_, upsert_check_, select_check_, upsert_series_,
      insert_sample_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool closing_ = false;
  std::thread writer_;

  std::mutex readers_mu_;
  std::vector<Db> readers_;
};

void SqliteStorage::enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      queue_.push_back(std::move(job));
      cv_.notify_one();
      return;
    }
  }
  job.done(Status::unavailable("the collector is shutting down"));
}

Status SqliteStorage::write(std::function<Status()> apply) {
  std::promise<Status> committed;
  auto future = committed.get_future();
  enqueue({std::move(apply), [&committed](Status s) { committed.set_value(std::move(s)); }});
  return future.get();
}

void SqliteStorage::writer_loop() {
  std::vector<Job> group;
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

void SqliteStorage::commit_group(std::vector<Job>& group) {
  std::vector<Status> outcomes;
  outcomes.reserve(group.size());
  Status tx = exec(db_.get(), "BEGIN IMMEDIATE");
  if (tx) {
    for (const auto& job : group) {
      (void)exec(db_.get(), "SAVEPOINT job");
      Status status;
      try {
        status = job.apply();
      } catch (const std::exception& e) {  // bad_alloc, or a bug: fail this job only
        status = Status::internal(e.what());
      }
      if (!status) (void)exec(db_.get(), "ROLLBACK TO job");
      (void)exec(db_.get(), "RELEASE job");
      outcomes.push_back(std::move(status));
    }
    tx = exec(db_.get(), "COMMIT");
    if (!tx) (void)exec(db_.get(), "ROLLBACK");
  }
  if (!tx) log::error("storage: commit failed: " + tx.message());
  for (std::size_t i = 0; i < group.size(); ++i) group[i].done(tx ? std::move(outcomes[i]) : tx);
}

Result<IngestOutcome> SqliteStorage::store(const protocol::Report& report,
                                           std::int64_t received_ms) {
  // A replay stores nothing, not even the agent's last-seen time.
  find_batch_.reset();
  find_batch_.bind(1, report.agent.id).bind(2, static_cast<std::int64_t>(report.seq));
  const int found = find_batch_.step();
  find_batch_.reset();
  if (found == SQLITE_ROW) return IngestOutcome::kDuplicate;
  if (found != SQLITE_DONE) return db_error(db_.get(), "look up batch");

  upsert_agent_.reset();
  upsert_agent_.bind(1, report.agent.id)
      .bind(2, report.agent.site)
      .bind(3, report.agent.hostname)
      .bind(4, report.agent.version)
      .bind(5, received_ms);
  if (upsert_agent_.step() != SQLITE_ROW) return db_error(db_.get(), "store agent");
  const std::int64_t agent_id = upsert_agent_.int64(0);
  upsert_agent_.reset();

  insert_batch_.reset();
  insert_batch_.bind(1, agent_id)
      .bind(2, static_cast<std::int64_t>(report.seq))
      .bind(3, received_ms)
      .bind(4, static_cast<std::int64_t>(report.results.size()));
  if (insert_batch_.step() != SQLITE_DONE) return db_error(db_.get(), "store batch");

  for (const auto& result : report.results) {
    if (Status s = store_result(agent_id, result, received_ms); !s) return s;
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

constexpr const char* kTokenColumns =
    "id, role, agent, site, label, created_ms, expires_ms, used_ms, revoked_ms";

TokenRecord token_from_row(const Statement& row) {
  TokenRecord t;
  t.id = row.int64(0);
  t.role = role_from_name(row.text(1)).value_or(Role::kViewer);
  t.agent = row.text(2);
  t.site = row.text(3);
  t.label = row.text(4);
  t.created_ms = row.int64(5);
  t.expires_ms = row.int64(6);
  t.used_ms = row.int64(7);
  t.revoked_ms = row.int64(8);
  return t;
}

// Runs `sql` with `bind` applied and collects every row as a token.
template <class Bind>
Result<std::vector<TokenRecord>> select_tokens(sqlite3* db, const std::string& sql, Bind bind) {
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) return stmt.status();
  bind(*stmt);
  std::vector<TokenRecord> tokens;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) tokens.push_back(token_from_row(*stmt));
  if (rc != SQLITE_DONE) return db_error(db, "read tokens");
  return tokens;
}

Status insert_token(sqlite3* db, const TokenRecord& t, const std::string& hash,
                    std::int64_t* id) {
  auto stmt = Statement::prepare(
      db,
      "INSERT INTO tokens (hash, role, agent, site, label, created_ms, expires_ms)"
      " VALUES (?1,?2,?3,?4,?5,?6,?7) RETURNING id");
  if (!stmt) return stmt.status();
  stmt->bind(1, hash)
      .bind(2, role_name(t.role))
      .bind(3, t.agent)
      .bind(4, t.site)
      .bind(5, t.label)
      .bind(6, t.created_ms)
      .bind(7, t.expires_ms);
  if (stmt->step() != SQLITE_ROW) return db_error(db, "store token");
  *id = stmt->int64(0);
  return Status::ok();
}

// Runs a statement that returns no row, with `bind` applied.
template <class Bind>
Status exec_with(sqlite3* db, const char* sql, Bind bind) {
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) return stmt.status();
  bind(*stmt);
  if (stmt->step() != SQLITE_DONE) return db_error(db, "update tokens");
  return Status::ok();
}

}  // namespace

Result<std::int64_t> SqliteStorage::add_token(const TokenRecord& record, const std::string& hash) {
  std::int64_t id = 0;
  Status s = write([&] { return insert_token(db_.get(), record, hash, &id); });
  if (!s) return s;
  return id;
}

Result<TokenRecord> SqliteStorage::find_token(const std::string& hash) {
  auto db = take_reader();
  if (!db) return db.status();
  auto tokens = select_tokens(db->get(),
                              std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?1",
                              [&](Statement& st) { st.bind(1, hash); });
  give_back(std::move(*db));
  if (!tokens) return tokens.status();
  if (tokens->empty()) return Status::not_found("no such token");
  return tokens->front();
}

Result<std::vector<TokenRecord>> SqliteStorage::list_tokens() {
  auto db = take_reader();
  if (!db) return db.status();
  auto tokens = select_tokens(db->get(),
                              std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY id",
                              [](Statement&) {});
  give_back(std::move(*db));
  return tokens;
}

Status SqliteStorage::revoke_token(std::int64_t id, std::int64_t now_ms) {
  return write([&]() -> Status {
    auto found = select_tokens(db_.get(),
                               std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id = ?1",
                               [&](Statement& st) { st.bind(1, id); });
    if (!found) return found.status();
    if (found->empty()) return Status::not_found("no token with id " + std::to_string(id));
    return exec_with(db_.get(), "UPDATE tokens SET revoked_ms = ?1 WHERE id = ?2 AND revoked_ms = 0",
                     [&](Statement& st) { st.bind(1, now_ms).bind(2, id); });
  });
}

Result<TokenRecord> SqliteStorage::enroll(const Enrollment& e) {
  TokenRecord issued;
  Status s = write([&]() -> Status {
    sqlite3* db = db_.get();
    auto found = select_tokens(
        db, std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?1 AND role = 'enroll'",
        [&](Statement& st) { st.bind(1, e.enroll_hash); });
    if (!found) return found.status();
    if (found->empty()) return {Code::kUnauthenticated, "unknown enrollment token"};
    const TokenRecord& token = found->front();
    if (token.revoked_ms != 0) return {Code::kPermissionDenied, "enrollment token revoked"};
    if (token.used_ms != 0)
      return {Code::kPermissionDenied, "enrollment token already used (by agent \"" +
                                           token.agent + "\")"};
    if (token.expires_ms != 0 && token.expires_ms <= e.now_ms)
      return {Code::kPermissionDenied, "enrollment token expired"};
    if (!e.site.empty() && e.site != token.site)
      return {Code::kPermissionDenied,
              "enrollment token is for site \"" + token.site + "\", not \"" + e.site + "\""};

    // An agent id belongs to one site: a token for site A cannot take over B's agent.
    auto owner = select_tokens(
        db, std::string("SELECT ") + kTokenColumns +
                " FROM tokens WHERE role = 'agent' AND agent = ?1 AND site != ?2",
        [&](Statement& st) { st.bind(1, e.agent).bind(2, token.site); });
    if (!owner) return owner.status();
    if (!owner->empty())
      return {Code::kAlreadyExists, "agent id \"" + e.agent + "\" belongs to site \"" +
                                        owner->front().site + "\""};

    Status u = exec_with(db, "UPDATE tokens SET used_ms = ?1, agent = ?2 WHERE id = ?3",
                         [&](Statement& st) { st.bind(1, e.now_ms).bind(2, e.agent).bind(3, token.id); });
    if (!u) return u;
    // A re-installed agent enrolls again: its older tokens stop working.
    u = exec_with(db,
                  "UPDATE tokens SET revoked_ms = ?1"
                  " WHERE role = 'agent' AND agent = ?2 AND revoked_ms = 0",
                  [&](Statement& st) { st.bind(1, e.now_ms).bind(2, e.agent); });
    if (!u) return u;
    issued.role = Role::kAgent;
    issued.agent = e.agent;
    issued.site = token.site;
    issued.label = "enrolled with token " + std::to_string(token.id);
    issued.created_ms = e.now_ms;
    return insert_token(db, issued, e.agent_token_hash, &issued.id);
  });
  if (!s) return s;
  return issued;
}

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
