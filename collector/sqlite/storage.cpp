// The SQLite backend of Storage, put together: the writer (writer.hpp) runs the
// ingest (ingest.hpp), the state engine's changes, token writes and housekeeping in
// its group commits; reads take a connection from a small pool and run the queries of
// queries.hpp, which in WAL mode see the last committed state without waiting for the
// writer. The backend's files (collector/sqlite/) are the collector's only code that
// includes sqlite3.h.

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include "collector/sqlite/configs.hpp"
#include "collector/sqlite/housekeeping.hpp"
#include "collector/sqlite/ingest.hpp"
#include "collector/sqlite/outbox.hpp"
#include "collector/sqlite/queries.hpp"
#include "collector/sqlite/schema.hpp"
#include "collector/sqlite/tokens.hpp"
#include "collector/sqlite/writer.hpp"
#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

using sqlite::Db;

// Runs `read` in one read transaction on `db`: every query sees the same committed state.
template <class Read>
auto in_read_transaction(sqlite3* db, Read read) -> decltype(read()) {
  if (Status s = sqlite::exec(db, "BEGIN"); !s) return s;
  auto data = read();
  (void)sqlite::exec(db, "COMMIT");
  return data;
}

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(SqliteOptions options, DayZone day_zone, Db db)
      : options_(std::move(options)),
        day_zone_(std::move(day_zone)),
        writer_(
            std::move(db),
            {.path = options_.path,
             .max_group = options_.max_batch_reports,
             .housekeeping_every = options_.housekeeping_every},
            {.housekeeping = [this](bool* more,
                                    SliceWork* work) { return housekeeping_slice_now(more, work); },
             .rolled_back =
                 [this] {
                   ingest_->forget_cached_ids();
                   fresh_blocks_.clear();
                 }}) {}
  ~SqliteStorage() override { close(); }

  Status start() {
    auto mode = sqlite::Statement::prepare(writer_.db(), "PRAGMA synchronous");
    if (!mode) return mode.status();
    if (mode->step() == SQLITE_ROW) {
      const std::int64_t level = mode->int64(0);
      synchronous_ = level >= 2 ? "full" : level == 1 ? "normal" : "off";
    }
    auto ingest = SqliteIngest::prepare(writer_.db(), options_.max_series_per_agent);
    if (!ingest) return ingest.status();
    ingest_ = std::move(*ingest);
    ingest_->list_blocks_in(&fresh_blocks_);
    return writer_.start();
  }

  void submit(protocol::Report report, std::int64_t received_ms, OnStored on_stored,
              Stored done) override;
  void change(Change make, ChangeDone done) override;
  StorageStats stats() override;
  Status housekeep() override { return writer_.housekeep(); }
  void close() override { writer_.close(); }

  Result<StateSnapshot> load_state(std::int64_t now_ms) override {
    return with_reader([&](sqlite3* db) { return read_state(db, now_ms); });
  }
  Result<std::vector<Event>> events(const EventQuery& query) override {
    return with_reader([&](sqlite3* db) { return read_events(db, query); });
  }
  Result<std::vector<AuditEntry>> audit(const AuditQuery& query) override {
    return with_reader([&](sqlite3* db) { return read_audit(db, query); });
  }
  Result<std::vector<NotificationRecord>> notifications(const NotificationQuery& query) override {
    return with_reader([&](sqlite3* db) { return read_notifications(db, query); });
  }
  Result<std::vector<OutboxRow>> claim_outbox(const std::string& channel, std::int64_t now_ms,
                                              std::int64_t due_by_ms, std::size_t limit,
                                              std::int64_t lease_ms) override;
  Result<std::vector<std::int64_t>> renew_outbox(const std::vector<std::int64_t>& ids,
                                                 std::int64_t held_until_ms,
                                                 std::int64_t until_ms) override;
  Status outbox_sent(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                     const std::string& status, std::vector<NotificationRecord> history) override;
  Status outbox_failed(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                       std::int64_t retry_at_ms, const std::string& error,
                       std::vector<NotificationRecord> history) override;
  Result<std::map<std::string, std::int64_t>> outbox_last_sent(std::int64_t since_ms) override {
    return with_reader([&](sqlite3* db) { return read_outbox_last_sent(db, since_ms); });
  }
  Result<std::map<std::string, std::int64_t>> outbox_settled(const std::vector<std::string>& keys,
                                                             std::int64_t since_ms) override {
    return with_reader([&](sqlite3* db) { return read_outbox_settled(db, keys, since_ms); });
  }
  Result<SeriesData> series(const SeriesQuery& query) override {
    auto plan = plan_series(query, options_.retention, now_ms(), /*daily_tier=*/true);
    if (!plan) return plan.status();
    // One snapshot for the tiers, the rollup cursor and the samples after it: a slice of
    // housekeeping committed between them would count a block twice or not at all.
    return with_reader([&](sqlite3* db) {
      return in_read_transaction(db, [&] { return read_series(db, query, *plan); });
    });
  }
  Result<HistoryData> history(const HistoryQuery& query) override {
    return with_reader([&](sqlite3* db) {
      return in_read_transaction(db, [&] { return read_history(db, query); });
    });
  }

  Result<std::int64_t> add_token(const TokenRecord& record, const std::string& hash) override;
  Result<std::vector<std::int64_t>> add_tokens(
      const std::vector<std::pair<TokenRecord, std::string>>& tokens) override;
  Result<TokenRecord> find_token(const std::string& hash) override {
    return with_reader([&](sqlite3* db) { return read_token(db, hash); });
  }
  Result<std::vector<TokenRecord>> list_tokens() override {
    return with_reader([&](sqlite3* db) { return read_tokens(db); });
  }
  Status revoke_token(std::int64_t id, std::int64_t now_ms) override {
    return writer_.write([&] { return revoke_token_row(writer_.db(), id, now_ms); });
  }
  Result<TokenRecord> enroll(const Enrollment& enrollment) override;

  Result<ConfigSnapshot> config_snapshot() override {
    return with_reader([&](sqlite3* db) { return read_config_snapshot(db); });
  }
  Result<std::int64_t> config_revision() override {
    return with_reader([&](sqlite3* db) { return read_config_revision(db); });
  }
  Result<std::int64_t> change_config(const ConfigChange& change) override {
    std::int64_t revision = 0;
    Status s = writer_.write([&]() -> Status {
      auto applied = apply_config_change(writer_.db(), change);
      if (!applied) return applied.status();
      revision = *applied;
      return Status::ok();
    });
    if (!s) return s;
    return revision;
  }
  Status put_agent_config_report(const AgentConfigReport& report) override {
    return writer_.write([&] { return upsert_agent_config_report(writer_.db(), report); });
  }
  Result<std::vector<AgentConfigReport>> agent_config_reports() override {
    return with_reader([&](sqlite3* db) { return read_agent_config_reports(db); });
  }

 private:
  std::int64_t now_ms() const { return options_.now_ms ? options_.now_ms() : wall_ms(); }
  Status housekeeping_slice_now(bool* more, SliceWork* work) {
    return housekeeping_slice(writer_.db(),
                              {.retention = options_.retention,
                               .budget = options_.housekeeping_budget,
                               .day_zone = day_zone_},
                              now_ms(), more, &fresh_blocks_, work);
  }

  // Runs `read` on a connection of the pool, which it gives back after.
  template <class Read>
  auto with_reader(Read read) -> decltype(read(nullptr)) {
    Db db;
    {
      std::lock_guard lock(readers_mu_);
      if (!readers_.empty()) {
        db = std::move(readers_.back());
        readers_.pop_back();
      }
    }
    if (!db) {
      auto opened = sqlite::open(options_.path, SQLITE_OPEN_READONLY);
      if (!opened) return opened.status();
      db = std::move(*opened);
    }
    auto result = read(db.get());
    std::lock_guard lock(readers_mu_);
    readers_.push_back(std::move(db));
    return result;
  }

  const SqliteOptions options_;
  const DayZone day_zone_;
  SqliteWriter writer_;
  std::unique_ptr<SqliteIngest> ingest_;  // writer thread only, on writer_.db()
  FreshBlocks fresh_blocks_;              // writer thread only
  std::atomic<std::int64_t> refused_busy_{0};
  std::string synchronous_;  // read back from the writer's connection at start

  std::mutex readers_mu_;
  std::vector<Db> readers_;
};

void SqliteStorage::submit(protocol::Report report, std::int64_t received_ms, OnStored on_stored,
                           Stored done) {
  if (options_.max_queued_reports > 0) {
    const std::size_t waiting = writer_.queue_depth();
    if (waiting >= options_.max_queued_reports) {
      refused_busy_.fetch_add(1, std::memory_order_relaxed);
      return done(Status::unavailable("the collector is busy: " + std::to_string(waiting) +
                                      " reports wait to be written"),
                  {});
    }
  }
  auto outcome = std::make_shared<IngestOutcome>(IngestOutcome::kStored);
  auto shared = std::make_shared<protocol::Report>(std::move(report));
  auto events = std::make_shared<std::vector<Event>>();
  writer_.enqueue(
      {[this, shared, received_ms, outcome, events, on_stored = std::move(on_stored)]() -> Status {
         auto stored = ingest_->store(*shared, received_ms);
         if (!stored) return stored.status();
         *outcome = *stored;
         // The samples are stored: the engine may take the results over.
         // One collector owns the database: its memory is always current.
         if (*stored == IngestOutcome::kStored && on_stored) {
           auto delta = on_stored(std::move(*shared), received_ms, {});
           if (!delta) return delta.status();
           *events = delta->events;
           return ingest_->persist(*delta);
         }
         return Status::ok();
       },
       [done = std::move(done), outcome, events](Status status) {
         if (!status) return done(status, {});
         done(*outcome, std::move(*events));
       }});
}

void SqliteStorage::change(Change make, ChangeDone done) {
  auto delta = std::make_shared<StateDelta>();
  writer_.enqueue({[this, delta, make = std::move(make)]() -> Status {
                     auto made = make();
                     if (!made) return made.status();
                     *delta = std::move(*made);
                     return ingest_->persist(*delta);
                   },
                   [delta, done = std::move(done)](Status status) {
                     if (!status) return done(status);
                     done(std::move(*delta));
                   }});
}

Result<std::vector<OutboxRow>> SqliteStorage::claim_outbox(const std::string& channel,
                                                           std::int64_t now_ms,
                                                           std::int64_t due_by_ms,
                                                           std::size_t limit,
                                                           std::int64_t lease_ms) {
  // Asked every few hundred ms per channel: a read first, so that an idle outbox costs
  // no transaction of the writer.
  auto due =
      with_reader([&](sqlite3* db) { return outbox_has_due(db, channel, now_ms, due_by_ms); });
  if (!due) return due.status();
  if (!*due) return std::vector<OutboxRow>{};
  std::vector<OutboxRow> rows;
  Status s = writer_.write([&]() -> Status {
    auto claimed = claim_outbox_rows(writer_.db(), channel, now_ms, due_by_ms, limit, lease_ms);
    if (!claimed) return claimed.status();
    rows = std::move(*claimed);
    return Status::ok();
  });
  if (!s) return s;
  return rows;
}

Result<std::vector<std::int64_t>> SqliteStorage::renew_outbox(const std::vector<std::int64_t>& ids,
                                                              std::int64_t held_until_ms,
                                                              std::int64_t until_ms) {
  std::vector<std::int64_t> renewed;
  if (ids.empty()) return renewed;
  Status s = writer_.write([&]() -> Status {
    auto done = renew_outbox_rows(writer_.db(), ids, held_until_ms, until_ms);
    if (!done) return done.status();
    renewed = std::move(*done);
    return Status::ok();
  });
  if (!s) return s;
  return renewed;
}

Status SqliteStorage::outbox_sent(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                                  const std::string& status,
                                  std::vector<NotificationRecord> history) {
  return writer_.write([&]() -> Status {
    auto again = settle_outbox_rows(writer_.db(), ids, now_ms, status, "");
    if (!again) return again.status();
    if (*again) return Status::ok();  // recorded before, history included
    StateDelta delta;
    delta.notifications = std::move(history);
    return ingest_->persist(delta);
  });
}

Status SqliteStorage::outbox_failed(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                                    std::int64_t retry_at_ms, const std::string& error,
                                    std::vector<NotificationRecord> history) {
  return writer_.write([&]() -> Status {
    if (retry_at_ms == 0) {
      auto again = settle_outbox_rows(writer_.db(), ids, now_ms, "failed", error);
      if (!again) return again.status();
      if (*again) return Status::ok();  // recorded before, history included
    } else if (Status s = retry_outbox_rows(writer_.db(), ids, retry_at_ms, error); !s) {
      return s;
    }
    StateDelta delta;
    delta.notifications = std::move(history);
    return ingest_->persist(delta);
  });
}

StorageStats SqliteStorage::stats() {
  StorageStats s;
  s.queue_depth = writer_.queue_depth();
  s.commits = writer_.commits();
  s.commit_failures = writer_.commit_failures();
  s.commit_seconds = writer_.times().commits();
  s.housekeeping_seconds = writer_.times().housekeeping();
  s.refused_busy = refused_busy_.load(std::memory_order_relaxed);
  s.synchronous = synchronous_;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(options_.path.string() + suffix, ec);
    if (!ec) s.database_bytes += static_cast<std::int64_t>(size);
  }
  return s;
}

Result<std::int64_t> SqliteStorage::add_token(const TokenRecord& record, const std::string& hash) {
  std::int64_t id = 0;
  Status s = writer_.write([&]() -> Status {
    auto inserted = insert_token_row(writer_.db(), record, hash);
    if (!inserted) return inserted.status();
    id = *inserted;
    return Status::ok();
  });
  if (!s) return s;
  return id;
}

Result<std::vector<std::int64_t>> SqliteStorage::add_tokens(
    const std::vector<std::pair<TokenRecord, std::string>>& tokens) {
  std::vector<std::int64_t> ids;
  Status s = writer_.write([&]() -> Status {
    ids.clear();  // a retried transaction starts again
    for (const auto& [record, hash] : tokens) {
      auto inserted = insert_token_row(writer_.db(), record, hash);
      if (!inserted) return inserted.status();
      ids.push_back(*inserted);
    }
    return Status::ok();
  });
  if (!s) return s;
  return ids;
}

Result<TokenRecord> SqliteStorage::enroll(const Enrollment& enrollment) {
  TokenRecord issued;
  // Anonymous work: behind every report waiting, never ahead of one.
  Status s = writer_.write_last([&]() -> Status {
    auto token = enroll_agent(writer_.db(), enrollment);
    if (!token) return token.status();
    issued = std::move(*token);
    return Status::ok();
  });
  if (!s) return s;
  return issued;
}

// The read-only side of a database, for the report command.
class SqliteReader final : public HistoryReader {
 public:
  explicit SqliteReader(Db db) : db_(std::move(db)) {}
  Result<HistoryData> history(const HistoryQuery& query) override {
    return in_read_transaction(db_.get(), [&] { return read_history(db_.get(), query); });
  }

 private:
  Db db_;
};

// A URI that opens `path` as immutable: read without its -wal and -shm files.
std::string immutable_uri(const std::filesystem::path& path) {
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
  return uri + "?immutable=1";
}

}  // namespace

Result<std::unique_ptr<HistoryReader>> open_sqlite_reader(const std::filesystem::path& path) {
  if (Status s = check_database_location(path.string()); !s) return s;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::not_found("database " + path.string() + ": no such file");
  auto db = sqlite::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
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
    db = sqlite::open(immutable_uri(path), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    if (!db) return db.status();
    version = schema_version(db->get());
    if (!version) return version.status().with_context("database " + path.string());
  }
  if (Status s = check_application(db->get(), path.string()); !s) return s;
  if (*version != kSchemaVersion) {
    return Status(Code::kFailedPrecondition,
                  "database " + path.string() + " has schema version " + std::to_string(*version) +
                      ", this program reads version " + std::to_string(kSchemaVersion) +
                      (*version < kSchemaVersion ? ": start the collector once to migrate it"
                                                 : ": upgrade this program"));
  }
  return std::unique_ptr<HistoryReader>(std::make_unique<SqliteReader>(std::move(*db)));
}

Status check_database_location(std::string_view db) {
  // scheme "://": RFC 3986's scheme, letters first.
  const auto colon = db.find("://");
  const bool uri =
      colon != std::string_view::npos && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(db[0])) &&
      std::all_of(db.begin(), db.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      });
  if (db.empty()) return Status::invalid("--db: empty");
  if (db == kDefaultDatabase) {
    const std::filesystem::path folder = std::filesystem::path(db).parent_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec))
      return Status::not_found("the default database " + std::string(db) + ": its folder " +
                               folder.string() +
                               " does not exist (the vigie-collector service makes it); "
                               "give the database with --db PATH|CONNINFO");
  }
  if (!uri) return Status::ok();
  const std::string scheme(db.substr(0, colon));
  // PostgreSQL's URIs are the other backend's (open_storage).
  if (scheme == "postgresql" || scheme == "postgres") return Status::ok();
  return Status::invalid("--db \"" + std::string(db) + "\": unknown scheme \"" + scheme +
                         "://\"; give the path of a SQLite database or a PostgreSQL URI");
}

Result<std::unique_ptr<Storage>> open_sqlite_storage(const SqliteOptions& options) {
  if (Status s = check_database_location(options.path.string()); !s) return s;
  auto day_zone = DayZone::named(options.day_zone);
  if (!day_zone) return day_zone.status().with_context("--day-zone");
  if (options.path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec)
      return Status::io_error("cannot create " + options.path.parent_path().string() + ": " +
                              ec.message());
  }
  auto db = sqlite::open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) return db.status();
  // Before any write (WAL mode is one): another program's database stays as it is.
  if (Status s = check_application(db->get(), options.path.string()); !s) return s;
  // WAL: readers never wait for the writer. synchronous=FULL: a commit survives a power
  // cut (NORMAL: a process crash only; a power cut may lose the last commits).
  // The WAL is checkpointed by a thread of its own (writer.hpp), not by commits.
  // auto_vacuum = INCREMENTAL takes effect on a database with no table yet (one this
  // collector makes): housekeeping then gives the pages it frees back to the file system
  // (housekeeping.cpp, return_free_pages); on an older database it waits for a VACUUM.
  for (const char* pragma :
       {"PRAGMA auto_vacuum = INCREMENTAL", "PRAGMA journal_mode = WAL",
        options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
        "PRAGMA wal_autocheckpoint = 0"}) {
    if (Status s = sqlite::exec(db->get(), pragma); !s) return s;
  }
  if (Status s = migrate(db->get()); !s) return s;
  auto storage = std::make_unique<SqliteStorage>(options, std::move(*day_zone), std::move(*db));
  if (Status s = storage->start(); !s) return s;
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace vigie::collector
