// The SQLite backend of Storage. The only file of the collector that includes
// sqlite3.h.
//
// One writer thread owns the write connection and commits queued reports in groups
// (one transaction, one SAVEPOINT per report so that a failing report is rolled back
// alone). Readers take a connection from a small pool; in WAL mode they read the last
// committed state without waiting for the writer.

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "collector/sample_block.hpp"
#include "collector/storage.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

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
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &raw, nullptr) != SQLITE_OK)
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
  // The bytes must stay alive until the statement is reset.
  Statement& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return sqlite3_step(stmt_.get()); }
  void reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
  }

  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  double real(int col) const { return sqlite3_column_double(stmt_.get(), col); }
  // Valid until the next step() or reset().
  std::string_view blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_.get(), col);
    return p ? std::string_view(static_cast<const char*>(p),
                                static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
             : std::string_view();
  }
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

// Runs a statement that returns no row, with `bind` applied.
template <class Bind>
Status exec_with(sqlite3* db, const char* sql, Bind bind) {
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) return stmt.status();
  bind(*stmt);
  if (stmt->step() != SQLITE_DONE) return db_error(db, std::string_view(sql).substr(0, 40));
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

// Version 1, the first schema.
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
CREATE INDEX batches_by_time ON batches (received_ms);
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
-- A time series per (agent, check, metric).
CREATE TABLE series (
  id       INTEGER PRIMARY KEY,
  agent_id INTEGER NOT NULL,
  check_id TEXT NOT NULL,
  metric   TEXT NOT NULL,
  unit     TEXT NOT NULL,
  UNIQUE (agent_id, check_id, metric)
);
-- Raw samples, packed: one row holds every sample of one stored report
-- (sample_block.hpp), so that ingest appends one row per report, not per sample.
CREATE TABLE sample_blocks (
  id       INTEGER PRIMARY KEY,
  agent_id INTEGER NOT NULL,
  t_min    INTEGER NOT NULL,
  t_max    INTEGER NOT NULL,
  samples  BLOB NOT NULL
);
CREATE INDEX sample_blocks_by_agent ON sample_blocks (agent_id, t_max);
CREATE INDEX sample_blocks_by_time ON sample_blocks (t_max);
-- Rolled-up samples: tier is the bucket width in ms (300000: 5 minutes, 3600000: 1 hour).
CREATE TABLE rollups (
  tier      INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  bucket_ms INTEGER NOT NULL,
  min_value REAL NOT NULL,
  max_value REAL NOT NULL,
  sum_value REAL NOT NULL,
  n         INTEGER NOT NULL,
  PRIMARY KEY (tier, series_id, bucket_ms)
) WITHOUT ROWID;
CREATE INDEX rollups_by_time ON rollups (tier, bucket_ms);
-- Progress of background work, e.g. the last sample block rolled up.
CREATE TABLE housekeeping (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
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

// Version 2: the state engine's columns and tables.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE checks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3;
ALTER TABLE checks ADD COLUMN state_type INTEGER NOT NULL DEFAULT 1;  -- 0 soft, 1 hard
ALTER TABLE checks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE checks ADD COLUMN hard_state INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN hard_since_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN history INTEGER NOT NULL DEFAULT 0;  -- 2 bits a result
ALTER TABLE checks ADD COLUMN history_len INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN flap_percent REAL NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN stale_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE checks ADD COLUMN stale_since_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN agent_lost INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN ack TEXT NOT NULL DEFAULT '';  -- JSON object, '' if none
UPDATE checks SET hard_state = status, hard_since_ms = since_ms;
ALTER TABLE agents ADD COLUMN first_seen_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN clock_skew_ms INTEGER;  -- NULL: unknown
ALTER TABLE agents ADD COLUMN spool_depth INTEGER NOT NULL DEFAULT -1;
ALTER TABLE agents ADD COLUMN spool_oldest_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN spool_dropped INTEGER NOT NULL DEFAULT -1;
ALTER TABLE agents ADD COLUMN lost_since_ms INTEGER NOT NULL DEFAULT 0;  -- 0: not lost
UPDATE agents SET first_seen_ms = last_seen_ms;
-- Every state change; id is the cursor of GET /api/v1/events.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  ts_ms       INTEGER NOT NULL,
  recorded_ms INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  site        TEXT NOT NULL,
  agent       TEXT NOT NULL,
  check_id    TEXT NOT NULL,
  from_state  INTEGER NOT NULL,
  to_state    INTEGER NOT NULL,
  state_type  INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  summary     TEXT NOT NULL,
  author      TEXT NOT NULL,
  notify      INTEGER NOT NULL,
  backfill    INTEGER NOT NULL
);
CREATE INDEX events_by_check ON events (agent, check_id, id);
CREATE INDEX events_by_time ON events (recorded_ms);
CREATE TABLE downtimes (
  id               INTEGER PRIMARY KEY,
  site             TEXT NOT NULL,
  agent            TEXT NOT NULL,
  check_id         TEXT NOT NULL,
  start_ms         INTEGER NOT NULL,
  end_ms           INTEGER NOT NULL,  -- recurring: 0 for ever
  comment          TEXT NOT NULL,
  author           TEXT NOT NULL,
  created_ms       INTEGER NOT NULL,
  weekdays         INTEGER NOT NULL,  -- bit 0 Monday; 0: one-off
  start_minute     INTEGER NOT NULL,
  duration_minutes INTEGER NOT NULL,
  time_zone        TEXT NOT NULL
);
-- Who acknowledged or scheduled what, when and why.
CREATE TABLE audit (
  id      INTEGER PRIMARY KEY,
  ts_ms   INTEGER NOT NULL,
  author  TEXT NOT NULL,
  action  TEXT NOT NULL,
  target  TEXT NOT NULL,
  comment TEXT NOT NULL
);
)sql";

// Version 3: the notification history.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE notifications (
  id       INTEGER PRIMARY KEY,
  ts_ms    INTEGER NOT NULL,
  site     TEXT NOT NULL,
  agent    TEXT NOT NULL,
  check_id TEXT NOT NULL,
  channel  TEXT NOT NULL,  -- email, webhook
  target   TEXT NOT NULL,
  kind     TEXT NOT NULL,  -- problem, recovery, reminder, ...
  state    INTEGER NOT NULL,
  status   TEXT NOT NULL,  -- sent, failed, suppressed, digest
  detail   TEXT NOT NULL
);
CREATE INDEX notifications_by_check ON notifications (check_id, id);
CREATE INDEX notifications_by_site ON notifications (site, id);
CREATE INDEX notifications_by_time ON notifications (ts_ms);
)sql";

// The schema's history: entry N-1 takes a database from version N-1 to N. A new
// version appends its step here and never edits an earlier one; each step runs in one
// transaction with the user_version bump. tests/fixtures/schema/ keeps a database of
// every released version, and a test migrates each to the current one.
constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2, kSchemaV3};
constexpr std::int64_t kSchemaVersion = std::size(kMigrations);

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
    return Status(Code::kCorruption, "database schema version " + std::to_string(current) +
                                         " is newer than this collector's (" +
                                         std::to_string(kSchemaVersion) +
                                         "): upgrade the collector");
  }
  for (std::int64_t version = current + 1; version <= kSchemaVersion; ++version) {
    if (Status s = exec(db, "BEGIN IMMEDIATE"); !s) return s;
    Status s = exec(db, kMigrations[version - 1]);
    if (s) s = exec(db, ("PRAGMA user_version = " + std::to_string(version)).c_str());
    if (s) s = exec(db, "COMMIT");
    if (!s) {
      (void)exec(db, "ROLLBACK");
      return s.with_context("migrate the database to schema version " + std::to_string(version));
    }
    if (current > 0) log::notice("database migrated to schema version " + std::to_string(version));
  }
  return Status::ok();
}

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(SqliteOptions options, Db writer)
      : options_(std::move(options)), db_(std::move(writer)) {}
  ~SqliteStorage() override { close(); }

  Status prepare_statements() {
    const struct {
      Statement* stmt;
      const char* sql;
    } table[] = {
        {&insert_agent_,
         "INSERT INTO agents (name, site, hostname, version, first_seen_ms, last_seen_ms)"
         " VALUES (?1,?2,?3,?4,?5,?5) ON CONFLICT (name) DO UPDATE SET site = excluded.site"
         " RETURNING id"},
        {&update_agent_,
         "UPDATE agents SET site = ?2, hostname = ?3, version = ?4, first_seen_ms = ?5,"
         " last_seen_ms = ?6, last_seq = ?7, clock_skew_ms = ?8, spool_depth = ?9,"
         " spool_oldest_ms = ?10, spool_dropped = ?11, lost_since_ms = ?12 WHERE id = ?1"},
        {&find_batch_, "SELECT 1 FROM batches WHERE agent_id = ?1 AND seq = ?2"},
        {&insert_batch_,
         "INSERT INTO batches (agent_id, seq, received_ms, results) VALUES (?1,?2,?3,?4)"},
        {&upsert_check_,
         "INSERT INTO checks (agent_id, check_id, name, status, summary, details, metrics, ts_ms,"
         " duration_ms, interval_s, received_ms, since_ms, max_attempts, state_type, attempt,"
         " hard_state, hard_since_ms, history, history_len, flapping, flap_percent, stale,"
         " stale_reason, stale_since_ms, agent_lost, ack)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
         "?22,?23,?24,?25,?26)"
         " ON CONFLICT (agent_id, check_id) DO UPDATE SET name = excluded.name,"
         " status = excluded.status, summary = excluded.summary, details = excluded.details,"
         " metrics = excluded.metrics, ts_ms = excluded.ts_ms, duration_ms = excluded.duration_ms,"
         " interval_s = excluded.interval_s, received_ms = excluded.received_ms,"
         " since_ms = excluded.since_ms, max_attempts = excluded.max_attempts,"
         " state_type = excluded.state_type, attempt = excluded.attempt,"
         " hard_state = excluded.hard_state, hard_since_ms = excluded.hard_since_ms,"
         " history = excluded.history, history_len = excluded.history_len,"
         " flapping = excluded.flapping, flap_percent = excluded.flap_percent,"
         " stale = excluded.stale, stale_reason = excluded.stale_reason,"
         " stale_since_ms = excluded.stale_since_ms, agent_lost = excluded.agent_lost,"
         " ack = excluded.ack RETURNING id"},
        // The same by row id, for checks the writer has seen: no unique-index probe.
        {&update_check_,
         "UPDATE checks SET name = ?3, status = ?4, summary = ?5, details = ?6, metrics = ?7,"
         " ts_ms = ?8, duration_ms = ?9, interval_s = ?10, received_ms = ?11, since_ms = ?12,"
         " max_attempts = ?13, state_type = ?14, attempt = ?15, hard_state = ?16,"
         " hard_since_ms = ?17, history = ?18, history_len = ?19, flapping = ?20,"
         " flap_percent = ?21, stale = ?22, stale_reason = ?23, stale_since_ms = ?24,"
         " agent_lost = ?25, ack = ?26 WHERE id = ?1 AND check_id = ?2"},
        {&insert_event_,
         "INSERT INTO events (id, ts_ms, recorded_ms, kind, site, agent, check_id, from_state,"
         " to_state, state_type, attempt, summary, author, notify, backfill)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"},
        {&upsert_downtime_,
         "INSERT OR REPLACE INTO downtimes (id, site, agent, check_id, start_ms, end_ms, comment,"
         " author, created_ms, weekdays, start_minute, duration_minutes, time_zone)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"},
        {&insert_audit_,
         "INSERT INTO audit (ts_ms, author, action, target, comment) VALUES (?1,?2,?3,?4,?5)"},
        {&insert_notification_,
         "INSERT INTO notifications (ts_ms, site, agent, check_id, channel, target, kind, state,"
         " status, detail) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"},
        {&upsert_series_,
         "INSERT INTO series (agent_id, check_id, metric, unit) VALUES (?1,?2,?3,?4)"
         " ON CONFLICT (agent_id, check_id, metric) DO UPDATE SET unit = excluded.unit"
         " RETURNING id"},
        {&insert_block_,
         "INSERT INTO sample_blocks (agent_id, t_min, t_max, samples) VALUES (?1,?2,?3,?4)"},
        {&savepoint_, "SAVEPOINT job"},
        {&release_, "RELEASE job"},
        {&rollback_to_, "ROLLBACK TO job"},
    };
    for (const auto& entry : table) {
      auto stmt = Statement::prepare(db_.get(), entry.sql);
      if (!stmt) return stmt.status();
      *entry.stmt = std::move(*stmt);
    }
    return Status::ok();
  }

  // Steps a statement that returns no row, and resets it.
  Status run_once(Statement& stmt, std::string_view what) {
    Status status = stmt.step() == SQLITE_DONE ? Status::ok() : db_error(db_.get(), what);
    stmt.reset();
    return status;
  }

  void start() {
    writer_ = std::thread([this] { writer_loop(); });
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
  }

  // Copies the write-ahead log back into the database from a connection of its own,
  // so that commits never wait for it (SQLite's automatic checkpoint would run inside
  // whichever commit crosses the threshold, fsync included). PASSIVE: it never blocks
  // the writer or readers; what it cannot copy yet it copies next time.
  void checkpoint_loop() {
    auto db = open_db(options_.path, SQLITE_OPEN_READWRITE);
    if (!db) {
      log::error("storage: WAL checkpointer: " + db.status().message());
      return;
    }
    std::unique_lock lock(mu_);
    while (!closing_) {
      cv_checkpoint_.wait_for(lock, std::chrono::milliseconds(500));
      if (closing_) break;
      lock.unlock();
      int log_frames = 0, copied = 0;
      const int rc = sqlite3_wal_checkpoint_v2(db->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                               &log_frames, &copied);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log::warning(std::string("storage: WAL checkpoint: ") + sqlite3_errmsg(db->get()));
      lock.lock();
    }
  }

  void submit(protocol::Report report, std::int64_t received_ms, OnStored on_stored,
              Done done) override {
    if (options_.max_queued_reports > 0) {
      std::size_t waiting;
      {
        std::lock_guard lock(mu_);
        waiting = queue_.size();
      }
      if (waiting >= options_.max_queued_reports) {
        refused_busy_.fetch_add(1, std::memory_order_relaxed);
        return done(Status::unavailable("the collector is busy: " + std::to_string(waiting) +
                                        " reports wait to be written"));
      }
    }
    auto outcome = std::make_shared<IngestOutcome>(IngestOutcome::kStored);
    auto shared = std::make_shared<protocol::Report>(std::move(report));
    enqueue({[this, shared, received_ms, outcome, on_stored = std::move(on_stored)] {
               auto stored = store(*shared, received_ms);
               if (!stored) return stored.status();
               *outcome = *stored;
               // The samples are stored: the engine may take the results over.
               if (*stored == IngestOutcome::kStored && on_stored)
                 return persist(on_stored(std::move(*shared), received_ms));
               return Status::ok();
             },
             [done = std::move(done), outcome](Status status) {
               if (!status) return done(status);
               done(*outcome);
             }});
  }

  void change(Change make, ChangeDone done) override {
    auto delta = std::make_shared<StateDelta>();
    enqueue({[this, delta, make = std::move(make)]() -> Status {
               auto made = make();
               if (!made) return made.status();
               *delta = std::move(*made);
               return persist(*delta);
             },
             [delta, done = std::move(done)](Status status) {
               if (!status) return done(status);
               done(std::move(*delta));
             }});
  }

  StorageStats stats() override {
    StorageStats s;
    {
      std::lock_guard lock(mu_);
      s.queue_depth = queue_.size();
    }
    s.commits = commits_.load(std::memory_order_relaxed);
    s.commit_failures = commit_failures_.load(std::memory_order_relaxed);
    s.refused_busy = refused_busy_.load(std::memory_order_relaxed);
    for (const char* suffix : {"", "-wal"}) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(options_.path.string() + suffix, ec);
      if (!ec) s.database_bytes += static_cast<std::int64_t>(size);
    }
    return s;
  }

  Result<StateSnapshot> load_state(std::int64_t now_ms) override;
  Result<std::vector<Event>> events(const EventQuery& query) override;
  Result<std::vector<AuditEntry>> audit(const AuditQuery& query) override;
  Result<std::vector<NotificationRecord>> notifications(const NotificationQuery& query) override;
  Result<SeriesData> series(const SeriesQuery& query) override;
  Result<HistoryData> history(const HistoryQuery& query) override;
  Status housekeep() override;

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
      cv_checkpoint_.notify_all();
    }
    if (writer_.joinable()) writer_.join();
    if (checkpointer_.joinable()) checkpointer_.join();
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
  // One slice of rollups and retention, inside the writer's transaction; sets *more
  // when work is left for another slice.
  Status housekeeping_slice(bool* more);
  Job housekeeping_job(std::shared_ptr<bool> more);
  std::int64_t now_ms() const { return options_.now_ms ? options_.now_ms() : wall_ms(); }
  Result<IngestOutcome> store(const protocol::Report& report, std::int64_t received_ms);
  // Writes what the state engine changed (inside the current transaction).
  Status persist(const StateDelta& delta);
  Status store_check(const CheckState& check);
  Result<std::int64_t> agent_id(const protocol::AgentInfo& agent, std::int64_t received_ms);
  void forget_cached_ids() {
    series_cache_.clear();
    check_rows_.clear();
    agent_ids_.clear();
  }
  Result<std::int64_t> series_id(std::int64_t agent_id, const std::string& check,
                                 const Metric& metric);

  // A read connection borrowed from the pool; it goes back when the lease ends, after
  // the statements declared after the lease are finalized.
  class ReaderLease {
   public:
    ReaderLease(SqliteStorage* owner, Db db) : owner_(owner), db_(std::move(db)) {}
    ReaderLease(ReaderLease&& other) noexcept = default;
    ReaderLease& operator=(ReaderLease&&) = delete;
    ~ReaderLease() {
      if (db_) owner_->give_back(std::move(db_));
    }
    sqlite3* get() const { return db_.get(); }

   private:
    SqliteStorage* owner_;
    Db db_;
  };

  Result<ReaderLease> take_reader();
  void give_back(Db db);

  const SqliteOptions options_;
  Db db_;  // the writer's connection; only the writer thread touches it after start()
  Statement insert_agent_, update_agent_, find_batch_, insert_batch_, upsert_check_, update_check_,
      insert_event_, upsert_downtime_, insert_audit_, insert_notification_, upsert_series_,
      insert_block_;
  // Each job of a group commit runs in a savepoint: prepared once, not parsed per report.
  Statement savepoint_, release_, rollback_to_;

  // Writer thread only: series ids by (agent id, check, metric) and their unit, keyed by
  // two independent 64-bit hashes of the three instead of the strings themselves: a
  // fleet has hundreds of thousands of series, and this keeps each entry at 32 bytes.
  // (Two different ids colliding on 128 bits is not a practical concern.) Cleared
  // when a transaction or a job rolls back, as it may hold rolled-back ids.
  struct SeriesKey {
    std::uint64_t a, b;
    bool operator==(const SeriesKey&) const = default;
  };
  struct SeriesHash {
    std::size_t operator()(const SeriesKey& k) const { return static_cast<std::size_t>(k.a); }
  };
  struct SeriesEntry {
    std::int64_t id;
    std::uint64_t unit;  // hash of the unit: a new unit updates the series row
  };
  static std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 0xcbf29ce484222325ULL) {
    for (const char c : text) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
    return h;
  }
  static SeriesKey series_key(std::int64_t agent, std::string_view check, std::string_view metric) {
    const std::string_view agent_bytes(reinterpret_cast<const char*>(&agent), sizeof agent);
    std::uint64_t a = std::hash<std::string_view>()(check);
    a = a * 31 + std::hash<std::string_view>()(metric);
    a ^= static_cast<std::uint64_t>(agent) * 0x9e3779b97f4a7c15ULL;
    std::uint64_t b = fnv1a(agent_bytes);
    b = fnv1a(check, b);
    b = fnv1a(std::string_view("\x1f", 1), b);
    b = fnv1a(metric, b);
    return {a, b};
  }
  std::unordered_map<SeriesKey, SeriesEntry, SeriesHash> series_cache_;
  // Writer thread only, cleared with series_cache_: checks' row ids by "agent \x1f check",
  // agents' row ids by name.
  std::unordered_map<std::string, std::int64_t> check_rows_;
  std::unordered_map<std::string, std::int64_t> agent_ids_;

  std::atomic<std::int64_t> commits_{0};
  std::atomic<std::int64_t> commit_failures_{0};
  std::atomic<std::int64_t> refused_busy_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable cv_checkpoint_;
  std::thread checkpointer_;
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
  using Clock = std::chrono::steady_clock;
  std::vector<Job> group;
  auto last_housekeeping = Clock::now();
  auto more = std::make_shared<bool>(false);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // With housekeeping left to do, come back as soon as the queue is idle.
      cv_.wait_for(lock, *more ? std::chrono::milliseconds(0) : options_.housekeeping_every,
                   [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty() && closing_) return;  // everything is committed
      // Group commit: everything that queued up while the last transaction ran.
      while (!queue_.empty() && group.size() < options_.max_batch_reports) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!group.empty()) {
      commit_group(group);
      group.clear();
    }
    // One slice per housekeeping_every under load; back to back when idle.
    const bool idle = [&] {
      std::lock_guard lock(mu_);
      return queue_.empty();
    }();
    // With a backlog (a slice ran out of budget), slices come four times as often.
    const auto period = *more ? options_.housekeeping_every / 4 : options_.housekeeping_every;
    if ((*more && idle) || Clock::now() - last_housekeeping >= period) {
      group.push_back(housekeeping_job(more));
      commit_group(group);
      group.clear();
      last_housekeeping = Clock::now();
    }
  }
}

SqliteStorage::Job SqliteStorage::housekeeping_job(std::shared_ptr<bool> more) {
  return {[this, more] { return housekeeping_slice(more.get()); },
          [more](Status status) {
            if (!status) {
              log::error("storage: housekeeping failed: " + status.message());
              *more = false;  // try again at the next period, not in a tight loop
            }
          }};
}

Status SqliteStorage::housekeep() {
  auto more = std::make_shared<bool>(true);
  while (*more) {
    std::promise<Status> committed;
    auto future = committed.get_future();
    Job job = housekeeping_job(more);
    job.done = [&committed, done = std::move(job.done)](Status s) {
      done(s);
      committed.set_value(std::move(s));
    };
    enqueue(std::move(job));
    if (Status s = future.get(); !s) return s;
  }
  return Status::ok();
}

namespace {

struct Aggregate {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  std::int64_t n = 0;
  void add(double v, std::int64_t count = 1) {
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v * static_cast<double>(count);
    n += count;
  }
};

struct BucketKey {
  std::int64_t tier, series, bucket;
  bool operator==(const BucketKey&) const = default;
};
struct BucketKeyHash {
  std::size_t operator()(const BucketKey& k) const {
    return std::hash<std::int64_t>()(k.series * 1'000'003 + k.bucket / 1000 + k.tier);
  }
};

// How far ahead of the collector an agent's clock may be before its samples are
// rolled up without waiting for their bucket to close.
constexpr std::int64_t kFutureSlackMs = 600'000;

std::int64_t bucket_of(std::int64_t ts, std::int64_t width) {
  const std::int64_t b = ts / width * width;
  return ts < 0 && b != ts ? b - width : b;  // floor, also before 1970
}

}  // namespace

Status SqliteStorage::housekeeping_slice(bool* more) {
  const auto start = std::chrono::steady_clock::now();
  const auto over_budget = [&] {
    return std::chrono::steady_clock::now() - start >= options_.housekeeping_budget;
  };
  sqlite3* db = db_.get();
  *more = false;

  // 1. Roll up the sample blocks stored since the last slice, in id order, into the
  //    5-minute and 1-hour tiers (merging with buckets already there: late samples too).
  //    Only blocks whose 5-minute buckets are over: a series' bucket is then written
  //    once, not once a slice while it fills. Queries add the blocks not rolled up yet.
  const std::int64_t now = now_ms();
  const std::int64_t closed_before = bucket_of(now, kFiveMinutesMs);
  std::int64_t cursor = 0;
  {
    auto get = Statement::prepare(db, "SELECT value FROM housekeeping WHERE key = 'rollup_cursor'");
    if (!get) return get.status();
    if (get->step() == SQLITE_ROW) cursor = get->int64(0);
  }
  std::unordered_map<BucketKey, Aggregate, BucketKeyHash> buckets;
  {
    auto blocks = Statement::prepare(
        db,
        "SELECT id, t_min, t_max, samples FROM sample_blocks WHERE id > ?1 ORDER BY id LIMIT 256");
    if (!blocks) return blocks.status();
    std::vector<Sample> samples;
    bool open_bucket = false;
    for (;;) {
      blocks->reset();
      blocks->bind(1, cursor);
      int rows = 0;
      int rc;
      while ((rc = blocks->step()) == SQLITE_ROW) {
        // A block in a bucket still filling waits, and every block after it (the cursor
        // is an id). A clock far ahead must not hold the tiers back for ever.
        const std::int64_t t_max = blocks->int64(2);
        if (t_max >= closed_before && t_max <= now + kFutureSlackMs) {
          open_bucket = true;
          break;
        }
        ++rows;
        cursor = blocks->int64(0);
        samples.clear();
        // A damaged block cannot be rolled up; say so and move past it.
        if (Status d = decode_samples(blocks->blob(3), blocks->int64(1), samples); !d)
          log::error("storage: sample block " + std::to_string(cursor) + ": " + d.message());
        for (const auto& sample : samples) {
          for (std::int64_t tier : {kFiveMinutesMs, kHourMs})
            buckets[{tier, sample.series, bucket_of(sample.ts_ms, tier)}].add(sample.value);
        }
      }
      if (open_bucket) break;
      if (rc != SQLITE_DONE) return db_error(db, "read sample blocks");
      if (rows < 256) break;
      // Leave half the budget for writing what was read.
      if (std::chrono::steady_clock::now() - start >= options_.housekeeping_budget / 2) {
        *more = true;
        break;
      }
    }
  }
  if (!buckets.empty()) {
    auto upsert = Statement::prepare(
        db,
        "INSERT INTO rollups (tier, series_id, bucket_ms, min_value, max_value, sum_value, n)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT (tier, series_id, bucket_ms) DO UPDATE SET"
        " min_value = min(min_value, excluded.min_value),"
        " max_value = max(max_value, excluded.max_value),"
        " sum_value = sum_value + excluded.sum_value, n = n + excluded.n");
    if (!upsert) return upsert.status();
    for (const auto& [key, agg] : buckets) {
      upsert->reset();
      upsert->bind(1, key.tier).bind(2, key.series).bind(3, key.bucket);
      upsert->bind(4, agg.min).bind(5, agg.max).bind(6, agg.sum).bind(7, agg.n);
      if (upsert->step() != SQLITE_DONE) return db_error(db, "store rollup");
    }
    Status c = exec_with(db,
                         "INSERT INTO housekeeping (key, value) VALUES ('rollup_cursor', ?1)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         [&](Statement& st) { st.bind(1, cursor); });
    if (!c) return c;
  }

  // 2. Retention, oldest first, in bounded deletes. Raw blocks go only once rolled up.
  constexpr int kDeleteChunk = 2000;
  const struct {
    const char* sql;
    std::int64_t cutoff;
    std::int64_t extra;
  } deletes[] = {
      {"DELETE FROM sample_blocks WHERE id IN (SELECT id FROM sample_blocks"
       " WHERE t_max < ?1 AND id <= ?2 ORDER BY t_max LIMIT 2000)",
       now - options_.retention.raw.count(), cursor},
      {"DELETE FROM rollups WHERE (tier, series_id, bucket_ms) IN (SELECT tier, series_id,"
       " bucket_ms FROM rollups WHERE tier = ?2 AND bucket_ms < ?1 LIMIT 2000)",
       now - options_.retention.five_minutes.count(), kFiveMinutesMs},
      {"DELETE FROM rollups WHERE (tier, series_id, bucket_ms) IN (SELECT tier, series_id,"
       " bucket_ms FROM rollups WHERE tier = ?2 AND bucket_ms < ?1 LIMIT 2000)",
       now - options_.retention.hour.count(), kHourMs},
      // Replay protection only needs to outlive the agents' spools (7 days at most).
      {"DELETE FROM batches WHERE (agent_id, seq) IN (SELECT agent_id, seq FROM batches"
       " WHERE received_ms < ?1 LIMIT 2000)",
       now - options_.retention.raw.count(), 0},
      {"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE recorded_ms < ?1"
       " ORDER BY recorded_ms LIMIT 2000)",
       now - options_.retention.events.count(), 0},
      {"DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE ts_ms < ?1"
       " ORDER BY ts_ms LIMIT 2000)",
       now - options_.retention.notifications.count(), 0},
  };
  for (const auto& d : deletes) {
    if (over_budget()) {
      *more = true;
      break;
    }
    Status s = exec_with(db, d.sql, [&](Statement& st) { st.bind(1, d.cutoff).bind(2, d.extra); });
    if (!s) return s;
    if (sqlite3_changes(db) >= kDeleteChunk) *more = true;
  }
  return Status::ok();
}

void SqliteStorage::commit_group(std::vector<Job>& group) {
  std::vector<Status> outcomes;
  outcomes.reserve(group.size());
  Status tx = exec(db_.get(), "BEGIN IMMEDIATE");
  if (tx) {
    for (const auto& job : group) {
      Status status = run_once(savepoint_, "begin a savepoint");
      if (status) {
        try {
          status = job.apply();
        } catch (const std::exception& e) {  // bad_alloc, or a bug: fail this job only
          status = Status::internal(e.what());
        }
        if (!status) {
          (void)run_once(rollback_to_, "roll back a savepoint");
          forget_cached_ids();
        }
        (void)run_once(release_, "release a savepoint");
      }
      outcomes.push_back(std::move(status));
    }
    tx = exec(db_.get(), "COMMIT");
    if (!tx) (void)exec(db_.get(), "ROLLBACK");
  }
  if (!tx) forget_cached_ids();
  (tx ? commits_ : commit_failures_).fetch_add(1, std::memory_order_relaxed);
  if (!tx) log::error("storage: commit failed: " + tx.message());
  for (std::size_t i = 0; i < group.size(); ++i) group[i].done(tx ? std::move(outcomes[i]) : tx);
}

Result<std::int64_t> SqliteStorage::agent_id(const protocol::AgentInfo& agent,
                                             std::int64_t received_ms) {
  if (const auto it = agent_ids_.find(agent.id); it != agent_ids_.end()) return it->second;
  insert_agent_.reset();
  insert_agent_.bind(1, agent.id)
      .bind(2, agent.site)
      .bind(3, agent.hostname)
      .bind(4, agent.version)
      .bind(5, received_ms);
  if (insert_agent_.step() != SQLITE_ROW) return db_error(db_.get(), "store agent");
  const std::int64_t id = insert_agent_.int64(0);
  insert_agent_.reset();
  agent_ids_.emplace(agent.id, id);
  return id;
}

Result<IngestOutcome> SqliteStorage::store(const protocol::Report& report,
                                           std::int64_t received_ms) {
  auto agent = agent_id(report.agent, received_ms);
  if (!agent) return agent.status();
  // A replay stores nothing.
  find_batch_.reset();
  find_batch_.bind(1, *agent).bind(2, static_cast<std::int64_t>(report.seq));
  const int found = find_batch_.step();
  find_batch_.reset();
  if (found == SQLITE_ROW) return IngestOutcome::kDuplicate;
  if (found != SQLITE_DONE) return db_error(db_.get(), "look up batch");

  insert_batch_.reset();
  insert_batch_.bind(1, *agent)
      .bind(2, static_cast<std::int64_t>(report.seq))
      .bind(3, received_ms)
      .bind(4, static_cast<std::int64_t>(report.results.size()));
  if (insert_batch_.step() != SQLITE_DONE) return db_error(db_.get(), "store batch");

  std::vector<Sample> samples;
  std::int64_t t_min = std::numeric_limits<std::int64_t>::max();
  std::int64_t t_max = std::numeric_limits<std::int64_t>::min();
  for (const CheckResult& result : report.results) {
    for (const auto& m : result.metrics) {
      if (!m.value) continue;  // "U": nothing to plot
      auto series = series_id(*agent, result.check, m);
      if (!series) return series.status();
      samples.push_back({*series, result.ts_ms, *m.value});
      t_min = std::min(t_min, result.ts_ms);
      t_max = std::max(t_max, result.ts_ms);
    }
  }
  if (!samples.empty()) {
    const std::string block = encode_samples(samples, t_min);
    insert_block_.reset();
    insert_block_.bind(1, *agent).bind(2, t_min).bind(3, t_max).bind_blob(4, block);
    if (insert_block_.step() != SQLITE_DONE) return db_error(db_.get(), "store samples");
  }
  return IngestOutcome::kStored;
}

namespace {

std::string ack_text(const std::shared_ptr<const Ack>& ack) {
  if (!ack) return {};
  return nlohmann::json{{"author", ack->author},
                        {"comment", ack->comment},
                        {"sticky", ack->sticky},
                        {"created", ack->created_ms},
                        {"expires", ack->expires_ms}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<Ack> ack_from_text(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Ack ack;
  ack.author = j.value("author", "");
  ack.comment = j.value("comment", "");
  ack.sticky = j.value("sticky", false);
  ack.created_ms = j.value("created", std::int64_t{0});
  ack.expires_ms = j.value("expires", std::int64_t{0});
  return ack;
}

// The inverse of metrics_text; an entry that no longer reads as a metric is skipped.
std::vector<Metric> metrics_from_text(const std::string& text) {
  std::vector<Metric> out;
  const auto metrics = nlohmann::json::parse(text, nullptr, false);
  if (!metrics.is_array()) return out;
  for (const auto& m : metrics) {
    if (auto metric = protocol::metric_from_json(m, "metrics"); metric)
      out.push_back(std::move(*metric));
  }
  return out;
}

std::string metrics_text(const std::vector<Metric>& metrics) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : metrics) out.push_back(protocol::metric_to_json(m));
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Status SqliteStorage::store_check(const CheckState& c) {
  protocol::AgentInfo info{.id = c.agent, .site = c.site};
  auto agent = agent_id(info, c.received_ms);
  if (!agent) return agent.status();
  std::string key = c.agent;
  key += '\x1f';
  key += c.last.check;
  const auto known = check_rows_.find(key);
  Statement& stmt = known != check_rows_.end() ? update_check_ : upsert_check_;
  const std::string metrics = metrics_text(c.last.metrics);
  const std::string ack = ack_text(c.ack);
  stmt.reset();
  stmt.bind(1, known != check_rows_.end() ? known->second : *agent)
      .bind(2, c.last.check)
      .bind(3, c.last.name)
      .bind(4, static_cast<std::int64_t>(c.last.status))
      .bind(5, c.last.summary)
      .bind(6, c.last.details)
      .bind(7, metrics)
      .bind(8, c.last.ts_ms)
      .bind(9, c.last.duration_ms)
      .bind(10, c.last.interval_s)
      .bind(11, c.received_ms)
      .bind(12, c.since_ms)
      .bind(13, static_cast<std::int64_t>(c.max_attempts))
      .bind(14, static_cast<std::int64_t>(c.type == StateType::kHard ? 1 : 0))
      .bind(15, static_cast<std::int64_t>(c.attempt))
      .bind(16, static_cast<std::int64_t>(c.hard_state))
      .bind(17, c.hard_since_ms)
      .bind(18, static_cast<std::int64_t>(c.history))
      .bind(19, static_cast<std::int64_t>(c.history_len))
      .bind(20, static_cast<std::int64_t>(c.flapping))
      .bind(21, c.flap_percent)
      .bind(22, static_cast<std::int64_t>(c.stale))
      .bind(23, c.stale_reason)
      .bind(24, c.stale_since_ms)
      .bind(25, static_cast<std::int64_t>(c.agent_lost))
      .bind(26, ack);
  const int rc = stmt.step();
  if (known == check_rows_.end()) {
    if (rc != SQLITE_ROW) return db_error(db_.get(), "store check state");
    check_rows_.emplace(std::move(key), stmt.int64(0));
  } else if (rc != SQLITE_DONE) {
    return db_error(db_.get(), "store check state");
  }
  stmt.reset();
  return Status::ok();
}

Status SqliteStorage::persist(const StateDelta& delta) {
  for (const auto& a : delta.agents) {
    auto id = agent_id({.id = a.id, .site = a.site, .hostname = a.hostname, .version = a.version},
                       a.last_seen_ms);
    if (!id) return id.status();
    update_agent_.reset();
    update_agent_.bind(1, *id)
        .bind(2, a.site)
        .bind(3, a.hostname)
        .bind(4, a.version)
        .bind(5, a.first_seen_ms)
        .bind(6, a.last_seen_ms)
        .bind(7, a.last_seq)
        .bind(9, a.spool_depth)
        .bind(10, a.spool_oldest_ms)
        .bind(11, a.spool_dropped)
        .bind(12, a.lost ? a.lost_since_ms : std::int64_t{0});
    if (a.skew_known) update_agent_.bind(8, a.clock_skew_ms);  // unbound: NULL
    if (update_agent_.step() != SQLITE_DONE) return db_error(db_.get(), "store agent");
  }
  for (const auto& c : delta.checks) {
    if (Status s = store_check(c); !s) return s;
  }
  for (const auto& e : delta.events) {
    insert_event_.reset();
    insert_event_.bind(1, e.id)
        .bind(2, e.ts_ms)
        .bind(3, e.recorded_ms)
        .bind(4, event_kind_name(e.kind))
        .bind(5, e.site)
        .bind(6, e.agent)
        .bind(7, e.check)
        .bind(8, static_cast<std::int64_t>(e.from))
        .bind(9, static_cast<std::int64_t>(e.to))
        .bind(10, static_cast<std::int64_t>(e.type == StateType::kHard ? 1 : 0))
        .bind(11, static_cast<std::int64_t>(e.attempt))
        .bind(12, e.summary)
        .bind(13, e.author)
        .bind(14, static_cast<std::int64_t>(e.notify))
        .bind(15, static_cast<std::int64_t>(e.backfill));
    if (insert_event_.step() != SQLITE_DONE) return db_error(db_.get(), "store event");
  }
  for (const auto& d : delta.downtimes) {
    upsert_downtime_.reset();
    upsert_downtime_.bind(1, d.id)
        .bind(2, d.site)
        .bind(3, d.agent)
        .bind(4, d.check)
        .bind(5, d.start_ms)
        .bind(6, d.end_ms)
        .bind(7, d.comment)
        .bind(8, d.author)
        .bind(9, d.created_ms)
        .bind(10, static_cast<std::int64_t>(d.weekdays))
        .bind(11, static_cast<std::int64_t>(d.start_minute))
        .bind(12, static_cast<std::int64_t>(d.duration_minutes))
        .bind(13, d.time_zone);
    if (upsert_downtime_.step() != SQLITE_DONE) return db_error(db_.get(), "store downtime");
  }
  for (const auto& entry : delta.audit) {
    insert_audit_.reset();
    insert_audit_.bind(1, entry.ts_ms)
        .bind(2, entry.author)
        .bind(3, entry.action)
        .bind(4, entry.target)
        .bind(5, entry.comment);
    if (insert_audit_.step() != SQLITE_DONE) return db_error(db_.get(), "store audit entry");
  }
  for (const auto& n : delta.notifications) {
    insert_notification_.reset();
    insert_notification_.bind(1, n.ts_ms)
        .bind(2, n.site)
        .bind(3, n.agent)
        .bind(4, n.check)
        .bind(5, n.channel)
        .bind(6, n.target)
        .bind(7, n.kind)
        .bind(8, static_cast<std::int64_t>(n.state))
        .bind(9, n.status)
        .bind(10, n.detail);
    if (insert_notification_.step() != SQLITE_DONE)
      return db_error(db_.get(), "store notification");
  }
  return Status::ok();
}

Result<std::int64_t> SqliteStorage::series_id(std::int64_t agent_id, const std::string& check,
                                              const Metric& metric) {
  const SeriesKey key = series_key(agent_id, check, metric.label);
  const std::uint64_t unit = fnv1a(metric.unit);
  const auto it = series_cache_.find(key);
  if (it != series_cache_.end() && it->second.unit == unit) return it->second.id;

  upsert_series_.reset();
  upsert_series_.bind(1, agent_id).bind(2, check).bind(3, metric.label).bind(4, metric.unit);
  if (upsert_series_.step() != SQLITE_ROW) return db_error(db_.get(), "store series");
  const std::int64_t id = upsert_series_.int64(0);
  upsert_series_.reset();
  series_cache_.insert_or_assign(key, SeriesEntry{id, unit});
  return id;
}

Result<SqliteStorage::ReaderLease> SqliteStorage::take_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      Db db = std::move(readers_.back());
      readers_.pop_back();
      return ReaderLease(this, std::move(db));
    }
  }
  auto db = open_db(options_.path, SQLITE_OPEN_READONLY);
  if (!db) return db.status();
  return ReaderLease(this, std::move(*db));
}

void SqliteStorage::give_back(Db db) {
  std::lock_guard lock(readers_mu_);
  readers_.push_back(std::move(db));
}

Result<StateSnapshot> SqliteStorage::load_state(std::int64_t now_ms) {
  auto db = take_reader();
  if (!db) return db.status();
  StateSnapshot snapshot;
  {
    auto stmt = Statement::prepare(
        db->get(),
        "SELECT name, site, hostname, version, first_seen_ms, last_seen_ms, last_seq,"
        " clock_skew_ms, clock_skew_ms IS NOT NULL, spool_depth, spool_oldest_ms, spool_dropped,"
        " lost_since_ms FROM agents");
    if (!stmt) return stmt.status();
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      AgentState a;
      a.id = stmt->text(0);
      a.site = stmt->text(1);
      a.hostname = stmt->text(2);
      a.version = stmt->text(3);
      a.first_seen_ms = stmt->int64(4);
      a.last_seen_ms = stmt->int64(5);
      a.last_seq = stmt->int64(6);
      a.clock_skew_ms = stmt->int64(7);
      a.skew_known = stmt->int64(8) != 0;
      a.spool_depth = stmt->int64(9);
      a.spool_oldest_ms = stmt->int64(10);
      a.spool_dropped = stmt->int64(11);
      a.lost_since_ms = stmt->int64(12);
      a.lost = a.lost_since_ms != 0;
      snapshot.agents.push_back(std::move(a));
    }
    if (rc != SQLITE_DONE) return db_error(db->get(), "read agents");
  }
  {
    auto stmt = Statement::prepare(
        db->get(),
        "SELECT a.name, a.site, c.check_id, c.name, c.status, c.summary, c.details, c.metrics,"
        " c.ts_ms, c.duration_ms, c.interval_s, c.received_ms, c.since_ms, c.max_attempts,"
        " c.state_type, c.attempt, c.hard_state, c.hard_since_ms, c.history, c.history_len,"
        " c.flapping, c.flap_percent, c.stale, c.stale_reason, c.stale_since_ms, c.agent_lost,"
        " c.ack FROM checks c JOIN agents a ON a.id = c.agent_id");
    if (!stmt) return stmt.status();
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      CheckState c;
      c.agent = stmt->text(0);
      c.site = stmt->text(1);
      c.last.check = stmt->text(2);
      c.last.name = stmt->text(3);
      c.last.status = state_from_code(stmt->int64(4)).value_or(State::kUnknown);
      c.last.summary = stmt->text(5);
      c.last.details = stmt->text(6);
      c.last.metrics = metrics_from_text(stmt->text(7));
      c.last.ts_ms = stmt->int64(8);
      c.last.duration_ms = stmt->int64(9);
      c.last.interval_s = stmt->int64(10);
      c.received_ms = stmt->int64(11);
      c.since_ms = stmt->int64(12);
      c.max_attempts = static_cast<int>(stmt->int64(13));
      c.type = stmt->int64(14) != 0 ? StateType::kHard : StateType::kSoft;
      c.attempt = static_cast<int>(stmt->int64(15));
      c.hard_state = state_from_code(stmt->int64(16)).value_or(State::kUnknown);
      c.hard_since_ms = stmt->int64(17);
      c.history = static_cast<std::uint64_t>(stmt->int64(18));
      c.history_len = static_cast<int>(stmt->int64(19));
      c.flapping = stmt->int64(20) != 0;
      c.flap_percent = stmt->real(21);
      c.stale = stmt->int64(22) != 0;
      c.stale_reason = stmt->text(23);
      c.stale_since_ms = stmt->int64(24);
      c.agent_lost = stmt->int64(25) != 0;
      if (auto ack = ack_from_text(stmt->text(26)))
        c.ack = std::make_shared<const Ack>(std::move(*ack));
      snapshot.checks.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) return db_error(db->get(), "read checks");
  }
  {
    auto stmt = Statement::prepare(
        db->get(),
        "SELECT id, site, agent, check_id, start_ms, end_ms, comment, author, created_ms,"
        " weekdays, start_minute, duration_minutes, time_zone FROM downtimes"
        " WHERE end_ms = 0 OR end_ms > ?1 ORDER BY id");
    if (!stmt) return stmt.status();
    stmt->bind(1, now_ms);
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      Downtime d;
      d.id = stmt->int64(0);
      d.site = stmt->text(1);
      d.agent = stmt->text(2);
      d.check = stmt->text(3);
      d.start_ms = stmt->int64(4);
      d.end_ms = stmt->int64(5);
      d.comment = stmt->text(6);
      d.author = stmt->text(7);
      d.created_ms = stmt->int64(8);
      d.weekdays = static_cast<int>(stmt->int64(9));
      d.start_minute = static_cast<int>(stmt->int64(10));
      d.duration_minutes = static_cast<int>(stmt->int64(11));
      d.time_zone = stmt->text(12);
      snapshot.downtimes.push_back(std::move(d));
    }
    if (rc != SQLITE_DONE) return db_error(db->get(), "read downtimes");
  }
  {
    auto stmt = Statement::prepare(db->get(), "SELECT coalesce(max(id), 0) FROM events");
    if (!stmt) return stmt.status();
    if (stmt->step() != SQLITE_ROW) return db_error(db->get(), "read events");
    snapshot.last_event_id = stmt->int64(0);
  }
  return snapshot;
}

Result<std::vector<Event>> SqliteStorage::events(const EventQuery& q) {
  auto db = take_reader();
  if (!db) return db.status();
  const bool one_check = !q.agent.empty() || !q.check.empty();
  std::string sql =
      "SELECT id, ts_ms, recorded_ms, kind, site, agent, check_id, from_state, to_state,"
      " state_type, attempt, summary, author, notify, backfill FROM events";
  sql += one_check ? " WHERE agent = ?3 AND check_id = ?4 AND id > ?1 ORDER BY id DESC LIMIT ?2"
                   : " WHERE id > ?1 ORDER BY id LIMIT ?2";
  auto stmt = Statement::prepare(db->get(), sql);
  if (!stmt) return stmt.status();
  stmt->bind(1, q.after).bind(2, static_cast<std::int64_t>(q.limit));
  if (one_check) stmt->bind(3, q.agent).bind(4, q.check);
  std::vector<Event> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    Event e;
    e.id = stmt->int64(0);
    e.ts_ms = stmt->int64(1);
    e.recorded_ms = stmt->int64(2);
    e.kind = event_kind_from_name(stmt->text(3)).value_or(EventKind::kState);
    e.site = stmt->text(4);
    e.agent = stmt->text(5);
    e.check = stmt->text(6);
    e.from = state_from_code(stmt->int64(7)).value_or(State::kUnknown);
    e.to = state_from_code(stmt->int64(8)).value_or(State::kUnknown);
    e.type = stmt->int64(9) != 0 ? StateType::kHard : StateType::kSoft;
    e.attempt = static_cast<int>(stmt->int64(10));
    e.summary = stmt->text(11);
    e.author = stmt->text(12);
    e.notify = stmt->int64(13) != 0;
    e.backfill = stmt->int64(14) != 0;
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return db_error(db->get(), "read events");
  return out;
}

Result<std::vector<AuditEntry>> SqliteStorage::audit(const AuditQuery& q) {
  auto db = take_reader();
  if (!db) return db.status();
  auto stmt = Statement::prepare(db->get(),
                                 "SELECT id, ts_ms, author, action, target, comment FROM audit"
                                 " WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!stmt) return stmt.status();
  stmt->bind(1, q.after).bind(2, static_cast<std::int64_t>(q.limit));
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back({.id = stmt->int64(0),
                   .ts_ms = stmt->int64(1),
                   .author = stmt->text(2),
                   .action = stmt->text(3),
                   .target = stmt->text(4),
                   .comment = stmt->text(5)});
  }
  if (rc != SQLITE_DONE) return db_error(db->get(), "read audit");
  return out;
}

Result<std::vector<NotificationRecord>> SqliteStorage::notifications(const NotificationQuery& q) {
  auto db = take_reader();
  if (!db) return db.status();
  auto stmt = Statement::prepare(
      db->get(),
      "SELECT id, ts_ms, site, agent, check_id, channel, target, kind, state, status, detail"
      " FROM notifications WHERE (?1 = '' OR site = ?1) AND (?2 = '' OR agent = ?2)"
      " AND (?3 = '' OR check_id = ?3) ORDER BY id DESC LIMIT ?4");
  if (!stmt) return stmt.status();
  stmt->bind(1, q.site)
      .bind(2, q.agent)
      .bind(3, q.check)
      .bind(4, static_cast<std::int64_t>(q.limit));
  std::vector<NotificationRecord> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back({.id = stmt->int64(0),
                   .ts_ms = stmt->int64(1),
                   .site = stmt->text(2),
                   .agent = stmt->text(3),
                   .check = stmt->text(4),
                   .channel = stmt->text(5),
                   .target = stmt->text(6),
                   .kind = stmt->text(7),
                   .state = state_from_code(stmt->int64(8)).value_or(State::kUnknown),
                   .status = stmt->text(9),
                   .detail = stmt->text(10)});
  }
  if (rc != SQLITE_DONE) return db_error(db->get(), "read notifications");
  return out;
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

Status insert_token(sqlite3* db, const TokenRecord& t, const std::string& hash, std::int64_t* id) {
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

}  // namespace

Result<SeriesData> SqliteStorage::series(const SeriesQuery& q) {
  if (q.to_ms <= q.from_ms) return Status::invalid("to: must be after from");
  if (q.step_ms < 0) return Status::invalid("step: must not be negative");
  const std::int64_t now = now_ms();
  SeriesData data;
  const auto& retention = options_.retention;
  if (!q.tier.empty() && q.tier != "raw" && q.tier != "5m" && q.tier != "1h")
    return Status::invalid("tier: expected raw, 5m or 1h, got \"" + q.tier + "\"");
  std::int64_t tier = 0;
  if (q.tier == "raw" ||
      (q.tier.empty() && q.step_ms < kFiveMinutesMs && q.from_ms >= now - retention.raw.count())) {
    data.tier = "raw";
    data.step_ms = q.step_ms;
  } else {
    const bool five = q.tier == "5m" || (q.tier.empty() && q.step_ms < kHourMs &&
                                         q.from_ms >= now - retention.five_minutes.count());
    tier = five ? kFiveMinutesMs : kHourMs;
    data.tier = five ? "5m" : "1h";
    // A whole number of the tier's buckets, at least one.
    data.step_ms = std::max<std::int64_t>(1, (q.step_ms + tier - 1) / tier) * tier;
  }
  constexpr std::int64_t kMaxPoints = 100'000;
  if (data.step_ms > 0 && (q.to_ms - q.from_ms) / data.step_ms > kMaxPoints)
    return Status::invalid("step: more than 100000 points; use a larger step");

  auto db = take_reader();
  if (!db) return db.status();

  auto find = Statement::prepare(db->get(),
                                 "SELECT s.id, s.agent_id, s.unit FROM series s"
                                 " JOIN agents a ON a.id = s.agent_id"
                                 " WHERE a.name = ?1 AND s.check_id = ?2 AND s.metric = ?3");
  if (!find) return find.status();
  find->bind(1, q.agent).bind(2, q.check).bind(3, q.metric);
  if (find->step() != SQLITE_ROW) {
    return Status::not_found("no series for agent \"" + q.agent + "\", check \"" + q.check +
                             "\", metric \"" + q.metric + "\"");
  }
  const std::int64_t series = find->int64(0);
  const std::int64_t agent_id = find->int64(1);
  data.unit = find->text(2);

  // Merge (bucket start, aggregate) pairs into the answer, in time order.
  std::map<std::int64_t, Aggregate> merged;
  auto add = [&](std::int64_t ts, double min, double max, double sum, std::int64_t n) {
    Aggregate& a = merged[data.step_ms > 0 ? bucket_of(ts, data.step_ms) : ts];
    a.min = std::min(a.min, min);
    a.max = std::max(a.max, max);
    a.sum += sum;
    a.n += n;
  };

  if (tier == 0) {
    auto blocks = Statement::prepare(db->get(),
                                     "SELECT t_min, samples FROM sample_blocks"
                                     " WHERE agent_id = ?1 AND t_max >= ?2 AND t_min <= ?3");
    if (!blocks) return blocks.status();
    blocks->bind(1, agent_id).bind(2, q.from_ms).bind(3, q.to_ms);
    std::vector<Sample> samples;
    int rc;
    while ((rc = blocks->step()) == SQLITE_ROW) {
      samples.clear();
      if (Status d = decode_samples(blocks->blob(1), blocks->int64(0), samples); !d) return d;
      for (const auto& sample : samples) {
        if (sample.series != series || sample.ts_ms < q.from_ms || sample.ts_ms > q.to_ms) continue;
        add(sample.ts_ms, sample.value, sample.value, sample.value, 1);
      }
      if (data.step_ms == 0 && static_cast<std::int64_t>(merged.size()) > kMaxPoints)
        return Status::invalid("more than 100000 raw samples in range; give a step");
    }
    if (rc != SQLITE_DONE) return db_error(db->get(), "read samples");
  } else {
    auto rows = Statement::prepare(
        db->get(),
        "SELECT bucket_ms, min_value, max_value, sum_value, n FROM rollups"
        " WHERE tier = ?1 AND series_id = ?2 AND bucket_ms >= ?3 AND bucket_ms <= ?4");
    if (!rows) return rows.status();
    rows->bind(1, tier).bind(2, series).bind(3, bucket_of(q.from_ms, tier)).bind(4, q.to_ms);
    int rc;
    while ((rc = rows->step()) == SQLITE_ROW)
      add(rows->int64(0), rows->real(1), rows->real(2), rows->real(3), rows->int64(4));
    if (rc != SQLITE_DONE) return db_error(db->get(), "read rollups");

    // Blocks after the rollup cursor are not in the tiers yet (the last minutes, at
    // least): bucket them here, so that the newest bucket is never missing.
    std::int64_t cursor = 0;
    {
      auto get = Statement::prepare(db->get(),
                                    "SELECT value FROM housekeeping WHERE key = 'rollup_cursor'");
      if (!get) return get.status();
      if (get->step() == SQLITE_ROW) cursor = get->int64(0);
    }
    auto tail =
        Statement::prepare(db->get(),
                           "SELECT t_min, samples FROM sample_blocks"
                           " WHERE agent_id = ?1 AND t_max >= ?2 AND t_min <= ?3 AND id > ?4");
    if (!tail) return tail.status();
    tail->bind(1, agent_id).bind(2, bucket_of(q.from_ms, tier)).bind(3, q.to_ms).bind(4, cursor);
    std::vector<Sample> samples;
    while ((rc = tail->step()) == SQLITE_ROW) {
      samples.clear();
      if (Status d = decode_samples(tail->blob(1), tail->int64(0), samples); !d) return d;
      for (const auto& sample : samples) {
        if (sample.series != series || sample.ts_ms < bucket_of(q.from_ms, tier) ||
            sample.ts_ms > q.to_ms)
          continue;
        add(bucket_of(sample.ts_ms, tier), sample.value, sample.value, sample.value, 1);
      }
    }
    if (rc != SQLITE_DONE) return db_error(db->get(), "read samples");
  }

  data.points.reserve(merged.size());
  for (const auto& [ts, a] : merged)
    data.points.push_back({ts, a.min, a.max, a.sum / static_cast<double>(a.n), a.n});
  return data;
}

Result<std::int64_t> SqliteStorage::add_token(const TokenRecord& record, const std::string& hash) {
  std::int64_t id = 0;
  Status s = write([&] { return insert_token(db_.get(), record, hash, &id); });
  if (!s) return s;
  return id;
}

Result<TokenRecord> SqliteStorage::find_token(const std::string& hash) {
  auto db = take_reader();
  if (!db) return db.status();
  auto tokens = select_tokens(
      db->get(), std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?1",
      [&](Statement& st) { st.bind(1, hash); });
  if (!tokens) return tokens.status();
  if (tokens->empty()) return Status::not_found("no such token");
  return tokens->front();
}

Result<std::vector<TokenRecord>> SqliteStorage::list_tokens() {
  auto db = take_reader();
  if (!db) return db.status();
  auto tokens =
      select_tokens(db->get(), std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY id",
                    [](Statement&) {});
  return tokens;
}

Status SqliteStorage::revoke_token(std::int64_t id, std::int64_t now_ms) {
  return write([&]() -> Status {
    auto found = select_tokens(
        db_.get(), std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id = ?1",
        [&](Statement& st) { st.bind(1, id); });
    if (!found) return found.status();
    if (found->empty()) return Status::not_found("no token with id " + std::to_string(id));
    return exec_with(db_.get(),
                     "UPDATE tokens SET revoked_ms = ?1 WHERE id = ?2 AND revoked_ms = 0",
                     [&](Statement& st) { st.bind(1, now_ms).bind(2, id); });
  });
}

Result<TokenRecord> SqliteStorage::enroll(const Enrollment& e) {
  TokenRecord issued;
  Status s = write([&]() -> Status {
    sqlite3* db = db_.get();
    auto found = select_tokens(
        db,
        std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?1 AND role = 'enroll'",
        [&](Statement& st) { st.bind(1, e.enroll_hash); });
    if (!found) return found.status();
    if (found->empty()) return {Code::kUnauthenticated, "unknown enrollment token"};
    const TokenRecord& token = found->front();
    if (token.revoked_ms != 0) return {Code::kPermissionDenied, "enrollment token revoked"};
    if (token.used_ms != 0)
      return {Code::kPermissionDenied,
              "enrollment token already used (by agent \"" + token.agent + "\")"};
    if (token.expires_ms != 0 && token.expires_ms <= e.now_ms)
      return {Code::kPermissionDenied, "enrollment token expired"};
    if (!e.site.empty() && e.site != token.site)
      return {Code::kPermissionDenied,
              "enrollment token is for site \"" + token.site + "\", not \"" + e.site + "\""};

    // An agent id belongs to one site: a token for site A cannot take over B's agent.
    auto owner =
        select_tokens(db,
                      std::string("SELECT ") + kTokenColumns +
                          " FROM tokens WHERE role = 'agent' AND agent = ?1 AND site != ?2",
                      [&](Statement& st) { st.bind(1, e.agent).bind(2, token.site); });
    if (!owner) return owner.status();
    if (!owner->empty())
      return {Code::kAlreadyExists,
              "agent id \"" + e.agent + "\" belongs to site \"" + owner->front().site + "\""};

    Status u =
        exec_with(db, "UPDATE tokens SET used_ms = ?1, agent = ?2 WHERE id = ?3",
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

namespace {

// The report queries, on a read connection (SqliteStorage's pool or a reader's own).
Result<HistoryData> read_history(sqlite3* db, const HistoryQuery& q) {
  if (q.to_ms <= q.from_ms) return Status::invalid("history: the period ends before it starts");
  HistoryData out;
  {
    auto stmt = Statement::prepare(
        db,
        "SELECT name, site, hostname, version, first_seen_ms, last_seen_ms, lost_since_ms"
        " FROM agents WHERE ?1 = '' OR site = ?1 ORDER BY site, name");
    if (!stmt) return stmt.status();
    stmt->bind(1, q.site);
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      AgentState a;
      a.id = stmt->text(0);
      a.site = stmt->text(1);
      a.hostname = stmt->text(2);
      a.version = stmt->text(3);
      a.first_seen_ms = stmt->int64(4);
      a.last_seen_ms = stmt->int64(5);
      a.lost_since_ms = stmt->int64(6);
      a.lost = a.lost_since_ms != 0;
      out.agents.push_back(std::move(a));
    }
    if (rc != SQLITE_DONE) return db_error(db, "read agents");
  }

  struct Row {
    std::int64_t agent_id;
  };
  std::vector<Row> rows;
  {
    auto stmt = Statement::prepare(
        db,
        "SELECT a.id, a.name, a.site, c.check_id, c.name, c.status, c.summary, c.metrics,"
        " c.ts_ms, c.interval_s, c.received_ms, c.since_ms, c.state_type, c.attempt,"
        " c.hard_state, c.hard_since_ms, c.flapping, c.stale, c.stale_reason,"
        " c.stale_since_ms, c.agent_lost, c.ack"
        " FROM checks c JOIN agents a ON a.id = c.agent_id"
        " WHERE substr(c.check_id, 1, length(?1)) = ?1 AND (?2 = '' OR a.site = ?2)"
        " ORDER BY a.site, a.name, c.check_id");
    if (!stmt) return stmt.status();
    stmt->bind(1, q.check_prefix).bind(2, q.site);
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      CheckHistory h;
      CheckState& c = h.state;
      rows.push_back({stmt->int64(0)});
      c.agent = stmt->text(1);
      c.site = stmt->text(2);
      c.last.check = stmt->text(3);
      c.last.name = stmt->text(4);
      c.last.status = state_from_code(stmt->int64(5)).value_or(State::kUnknown);
      c.last.summary = stmt->text(6);
      c.last.metrics = metrics_from_text(stmt->text(7));
      c.last.ts_ms = stmt->int64(8);
      c.last.interval_s = stmt->int64(9);
      c.received_ms = stmt->int64(10);
      c.since_ms = stmt->int64(11);
      c.type = stmt->int64(12) != 0 ? StateType::kHard : StateType::kSoft;
      c.attempt = static_cast<int>(stmt->int64(13));
      c.hard_state = state_from_code(stmt->int64(14)).value_or(State::kUnknown);
      c.hard_since_ms = stmt->int64(15);
      c.flapping = stmt->int64(16) != 0;
      c.stale = stmt->int64(17) != 0;
      c.stale_reason = stmt->text(18);
      c.stale_since_ms = stmt->int64(19);
      c.agent_lost = stmt->int64(20) != 0;
      if (auto ack = ack_from_text(stmt->text(21)))
        c.ack = std::make_shared<const Ack>(std::move(*ack));
      out.checks.push_back(std::move(h));
    }
    if (rc != SQLITE_DONE) return db_error(db, "read checks");
  }

  // Per check, through the (agent, check_id, id) index: a few rows each, so that the
  // report's cost grows with the number of backup checks, not with the events table.
  constexpr const char* kEventColumns =
      "SELECT id, ts_ms, recorded_ms, kind, site, agent, check_id, from_state, to_state,"
      " state_type, attempt, summary, author, notify, backfill FROM events";
  auto last_hard = Statement::prepare(
      db, std::string(kEventColumns) +
              " WHERE agent = ?1 AND check_id = ?2 AND kind = 'state' AND state_type = 1"
              " AND ts_ms < ?3 ORDER BY id DESC LIMIT 1");
  if (!last_hard) return last_hard.status();
  auto last_stale = Statement::prepare(
      db, std::string(kEventColumns) +
              " WHERE agent = ?1 AND check_id = ?2 AND kind IN ('stale', 'fresh')"
              " AND ts_ms < ?3 ORDER BY id DESC LIMIT 1");
  if (!last_stale) return last_stale.status();
  auto in_period = Statement::prepare(
      db, std::string(kEventColumns) +
              " WHERE agent = ?1 AND check_id = ?2 AND ts_ms >= ?3 AND ts_ms < ?4"
              " AND ((kind = 'state' AND state_type = 1) OR kind IN ('stale', 'fresh'))"
              " ORDER BY id");
  if (!in_period) return in_period.status();
  auto find_series = Statement::prepare(
      db, "SELECT id FROM series WHERE agent_id = ?1 AND check_id = ?2 AND metric = ?3");
  if (!find_series) return find_series.status();
  auto hourly = Statement::prepare(
      db,
      "SELECT bucket_ms, min_value, max_value, sum_value, n FROM rollups"
      " WHERE tier = ?1 AND series_id = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4"
      " ORDER BY bucket_ms");
  if (!hourly) return hourly.status();

  auto read_events = [&](Statement& stmt, std::vector<Event>& into) -> Status {
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW) {
      Event e;
      e.id = stmt.int64(0);
      e.ts_ms = stmt.int64(1);
      e.recorded_ms = stmt.int64(2);
      e.kind = event_kind_from_name(stmt.text(3)).value_or(EventKind::kState);
      e.site = stmt.text(4);
      e.agent = stmt.text(5);
      e.check = stmt.text(6);
      e.from = state_from_code(stmt.int64(7)).value_or(State::kUnknown);
      e.to = state_from_code(stmt.int64(8)).value_or(State::kUnknown);
      e.type = stmt.int64(9) != 0 ? StateType::kHard : StateType::kSoft;
      e.attempt = static_cast<int>(stmt.int64(10));
      e.summary = stmt.text(11);
      e.author = stmt.text(12);
      e.notify = stmt.int64(13) != 0;
      e.backfill = stmt.int64(14) != 0;
      into.push_back(std::move(e));
    }
    stmt.reset();
    if (rc != SQLITE_DONE) return db_error(db, "read events");
    return Status::ok();
  };

  for (std::size_t i = 0; i < out.checks.size(); ++i) {
    CheckHistory& h = out.checks[i];
    const std::string& agent = h.state.agent;
    const std::string& check = h.state.last.check;
    for (Statement* before : {&*last_hard, &*last_stale}) {
      before->bind(1, agent).bind(2, check).bind(3, q.from_ms);
      if (Status s = read_events(*before, h.events); !s) return s;
    }
    std::sort(h.events.begin(), h.events.end(),
              [](const Event& a, const Event& b) { return a.id < b.id; });
    in_period->bind(1, agent).bind(2, check).bind(3, q.from_ms).bind(4, q.to_ms);
    if (Status s = read_events(*in_period, h.events); !s) return s;

    for (const std::string& metric : q.metrics) {
      find_series->bind(1, rows[i].agent_id).bind(2, check).bind(3, metric);
      const int found = find_series->step();
      const std::int64_t series = found == SQLITE_ROW ? find_series->int64(0) : 0;
      find_series->reset();
      if (found != SQLITE_ROW && found != SQLITE_DONE) return db_error(db, "read series");
      if (found != SQLITE_ROW) continue;
      hourly->bind(1, kHourMs).bind(2, series).bind(3, q.from_ms).bind(4, q.to_ms);
      std::vector<SeriesPoint>& points = h.series[metric];
      int rc;
      while ((rc = hourly->step()) == SQLITE_ROW) {
        const std::int64_t n = hourly->int64(4);
        if (n <= 0) continue;
        points.push_back({.ts_ms = hourly->int64(0),
                          .min = hourly->real(1),
                          .max = hourly->real(2),
                          .avg = hourly->real(3) / static_cast<double>(n),
                          .count = n});
      }
      hourly->reset();
      if (rc != SQLITE_DONE) return db_error(db, "read rollups");
    }
  }
  return out;
}

// The read-only side of a database, for the report command.
class SqliteReader final : public HistoryReader {
 public:
  explicit SqliteReader(Db db) : db_(std::move(db)) {}
  Result<HistoryData> history(const HistoryQuery& query) override {
    // One transaction: every query sees the same committed state.
    if (Status s = exec(db_.get(), "BEGIN"); !s) return s;
    auto data = read_history(db_.get(), query);
    (void)exec(db_.get(), "COMMIT");
    return data;
  }

 private:
  Db db_;
};

Result<std::int64_t> schema_version(sqlite3* db) {
  auto version = Statement::prepare(db, "PRAGMA user_version");
  if (!version) return version.status();
  if (version->step() != SQLITE_ROW) return db_error(db, "read schema version");
  return version->int64(0);
}

}  // namespace

Result<HistoryData> SqliteStorage::history(const HistoryQuery& query) {
  auto db = take_reader();
  if (!db) return db.status();
  if (Status s = exec(db->get(), "BEGIN"); !s) return s;
  auto data = read_history(db->get(), query);
  (void)exec(db->get(), "COMMIT");
  return data;
}

Result<std::unique_ptr<HistoryReader>> open_sqlite_reader(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::not_found("database " + path.string() + ": no such file");
  auto db = open_db(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  if (!db) return db.status();
  auto version = schema_version(db->get());
  if (!version) {
    // A WAL database in a folder this process may not write to (systemd's
    // ReadOnlyPaths=) opens only while its -wal and -shm files exist, i.e. while a
    // collector has it open. When there is no -wal file, nobody is writing: the
    // database is then read as immutable, which needs neither file.
    const auto wal = std::filesystem::path(path.string() + "-wal");
    if (std::filesystem::exists(wal, ec) && std::filesystem::file_size(wal, ec) > 0) {
      return version.status().with_context("database " + path.string());
    }
    std::string uri = "file:";
    for (const char c : std::filesystem::absolute(path).string()) {
      if (c == '?' || c == '#' || c == '%') {
        static const char* kHex = "0123456789ABCDEF";
        uri += '%';
        uri += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
        uri += kHex[static_cast<unsigned char>(c) & 0xF];
      } else {
        uri += c;
      }
    }
    uri += "?immutable=1";
    db = open_db(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    if (!db) return db.status();
    version = schema_version(db->get());
    if (!version) return version.status().with_context("database " + path.string());
  }
  if (*version != kSchemaVersion) {
    return Status(Code::kFailedPrecondition,
                  "database " + path.string() + " has schema version " + std::to_string(*version) +
                      ", this program reads version " + std::to_string(kSchemaVersion) +
                      (*version < kSchemaVersion ? ": start the collector once to migrate it"
                                                 : ": upgrade this program"));
  }
  return std::unique_ptr<HistoryReader>(std::make_unique<SqliteReader>(std::move(*db)));
}

Result<std::unique_ptr<Storage>> open_sqlite_storage(const SqliteOptions& options) {
  if (options.path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec)
      return Status::io_error("cannot create " + options.path.parent_path().string() + ": " +
                              ec.message());
  }
  auto db = open_db(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) return db.status();
  // WAL: readers never wait for the writer. synchronous=NORMAL: a commit survives a
  // process crash; a power cut may lose the last commits but never corrupts.
  // The WAL is checkpointed by a thread of its own (checkpoint_loop), not by commits.
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL",
                             "PRAGMA wal_autocheckpoint = 0"}) {
    if (Status s = exec(db->get(), pragma); !s) return s;
  }
  if (Status s = migrate(db->get()); !s) return s;
  auto storage = std::make_unique<SqliteStorage>(options, std::move(*db));
  if (Status s = storage->prepare_statements(); !s) return s;
  storage->start();
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace vigie::collector
