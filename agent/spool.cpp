// The SQLite spool. The only file of the agent that includes sqlite3.h.
//
// One connection, guarded by one mutex: the agent adds a few results a second at most,
// so there is nothing to gain from more. Layout:
//   results(id, ts_ms, result)  one row per result, `result` its protocol JSON; or per
//                               event, `result` {"event": its protocol JSON}
//   state(key, value)           next_seq, dropped, quarantined, head_seq, head_last_id
//   quarantined(id, seq, ...)   the results the collector refused for good
// The batch handed out ("head") is the rows with id <= head_last_id, under head_seq
// (0: none handed out).

#include "agent/spool.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "agent/report_encoding.hpp"
#include "common/log.hpp"
#include "common/sqlite.hpp"
#include "common/time.hpp"

namespace vigie::agent {
namespace {

namespace fs = std::filesystem;

// 'vigS' in the file header, so that another SQLite file given as spool is recognised.
constexpr int kApplicationId = 0x76696753;
// 2 added the quarantine of refused batches, 3 made it one of refused results; an older
// file is brought up to date when opened.
constexpr int kSchemaVersion = 3;
// Per-row cost beyond the JSON, so that the bound also holds for tiny results.
constexpr std::uint64_t kRowOverhead = 32;
// Rows read per step when pruning.
constexpr int kPruneChunk = 256;
// An event's row: this, its protocol JSON, and '}'. A result's row never starts so: its
// JSON's first member is "check" (encode_result writes members by name).
constexpr std::string_view kEventPrefix = "{\"event\":";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS results (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms     INTEGER NOT NULL,  -- the result's own time (agent clock)
  stored_ms INTEGER NOT NULL,  -- when it was spooled: what max_age counts from
  result    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 3: results the collector refused for good, kept apart instead of retried.
constexpr const char* kQuarantineSchema = R"sql(
CREATE TABLE IF NOT EXISTS quarantined (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  seq    INTEGER NOT NULL,  -- the report it was refused in
  at_ms  INTEGER NOT NULL,  -- when (agent clock)
  reason TEXT NOT NULL,     -- the collector's answer
  result TEXT NOT NULL      -- the result's JSON
);
INSERT OR IGNORE INTO state VALUES ('quarantined', 0);
)sql";
// From version 2, which kept whole batches (a JSON array each): one row per result.
constexpr const char* kQuarantineFromV2 = R"sql(
INSERT INTO quarantined (seq, at_ms, reason, result)
  SELECT q.seq, q.at_ms, q.reason, j.value FROM quarantine q, json_each(q.results) j
  WHERE json_valid(q.results) ORDER BY q.seq, j.key;
DROP TABLE quarantine;
)sql";

using sqlite::Db;
using sqlite::Statement;

// An SQLite failure: the code decides between "corrupt" and "cannot write".
struct DbError {
  int code = SQLITE_OK;
  std::string message;
};

// JSON values in `text` (JSON as encode_result() writes it), counted as the collector's
// decoder counts them: every value, each object and array included, keys not. A scan of
// the tokens, nothing decoded: a string is a key when a colon follows it.
std::size_t count_values(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (is_space(c) || c == ',' || c == ':' || c == '}' || c == ']') {
      ++i;
    } else if (c == '{' || c == '[') {
      ++n;
      ++i;
    } else if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      ++i;  // the closing quote
      std::size_t next = i;
      while (next < text.size() && is_space(text[next])) ++next;
      if (next >= text.size() || text[next] != ':') ++n;
    } else {  // a number, true, false or null
      ++n;
      while (i < text.size() && !is_space(text[i]) && text[i] != ',' && text[i] != ']' &&
             text[i] != '}')
        ++i;
    }
  }
  return n;
}

bool is_corruption(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

std::string utc_stamp(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

// Moves `path` (and its WAL) aside; returns the new name.
Result<fs::path> move_aside(const fs::path& path, std::int64_t now) {
  fs::path target = path;
  target += ".corrupt-" + utc_stamp(now);
  std::error_code ec;
  for (int n = 2; fs::exists(target, ec) && n < 100; ++n) {
    target = path;
    target += ".corrupt-" + utc_stamp(now) + "-" + std::to_string(n);
  }
  fs::rename(path, target, ec);
  if (ec) return Status::io_error("cannot move " + path.string() + " aside: " + ec.message());
  for (const char* suffix : {"-wal", "-shm"}) {
    fs::path side = path;
    side += suffix;
    fs::path side_target = target;
    side_target += suffix;
    if (fs::exists(side, ec)) fs::rename(side, side_target, ec);
  }
  return target;
}

class SqliteSpool final : public Spool {
 public:
  SqliteSpool(fs::path path, SpoolOptions options) : path_(std::move(path)), options_(options) {
    if (options_.now_ms == nullptr) options_.now_ms = &wall_ms;
  }

  // Opens or creates the file; moves a corrupt one aside and starts again.
  Status open() {
    std::error_code ec;
    const bool existed = fs::exists(path_, ec);
    auto opened = try_open();
    if (opened.code == SQLITE_OK) return Status::ok();
    if (!existed || !is_corruption(opened.code)) {
      return Status::io_error("spool " + path_.string() + ": " + opened.message);
    }
    return start_over(opened.message, 0);
  }

  void add(const CheckResult& result) override {
    std::string json;
    try {
      json = encode_result(result);
    } catch (const std::exception& e) {  // bad_alloc: the first frame of ours
      std::lock_guard lock(mutex_);
      lost("cannot encode a result of " + result.name + ": " + e.what(), 1);
      return;
    }
    std::lock_guard lock(mutex_);
    const DbError error = insert(result.ts_ms, json);
    if (error.code == SQLITE_OK) return;
    handle_failure(error, "cannot store a result of " + result.name, 1);
  }

  void add(const protocol::Event& event) override {
    std::string json;
    try {
      json = std::string(kEventPrefix) + encode_event(event) + '}';
    } catch (const std::exception& e) {  // bad_alloc: the first frame of ours
      std::lock_guard lock(mutex_);
      lost("cannot encode an event of " + event.device + ": " + e.what(), 1);
      return;
    }
    std::lock_guard lock(mutex_);
    const DbError error = insert(event.ts_ms, json);
    if (error.code == SQLITE_OK) return;
    handle_failure(error, "cannot store an event of " + event.device, 1);
  }

  using Spool::next_batch;
  Result<std::optional<Batch>> next_batch(const BatchLimits& limits) override {
    std::lock_guard lock(mutex_);
    if (head_) return std::optional<Batch>(*head_);
    if (count_ == 0) return std::optional<Batch>();
    auto made = hand_out(limits);
    if (made.code != SQLITE_OK) {
      handle_failure(made, "cannot hand out a batch", 0);
      return Status::io_error("spool " + path_.string() +
                              ": cannot hand out a batch: " + made.message);
    }
    if (!head_) return std::optional<Batch>();
    return std::optional<Batch>(*head_);
  }

  void remove(std::uint64_t seq) override {
    std::lock_guard lock(mutex_);
    if (!head_ || head_->seq != seq) return;
    const DbError error = remove_head();
    if (error.code != SQLITE_OK) handle_failure(error, "cannot remove a delivered batch", 0);
  }

  void release(std::uint64_t seq) override {
    std::lock_guard lock(mutex_);
    if (!head_ || head_->seq != seq) return;
    const DbError error = release_head(nullptr, 0);
    if (error.code != SQLITE_OK) handle_failure(error, "cannot put a batch back in the queue", 0);
  }

  void quarantine(std::uint64_t seq, std::size_t index, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    if (!head_ || head_->seq != seq || index >= head_ids_.size()) return;
    const DbError error = release_head(&reason, index);
    if (error.code != SQLITE_OK) handle_failure(error, "cannot quarantine a refused result", 0);
  }

  Result<std::size_t> clear_quarantine() override {
    std::lock_guard lock(mutex_);
    if (DbError e = exec("DELETE FROM quarantined"); e.code) {
      return Status::io_error("spool " + path_.string() +
                              ": cannot clear the quarantine: " + e.message);
    }
    return static_cast<std::size_t>(sqlite3_changes(db_.get()));
  }

  std::uint64_t quarantined() const override {
    std::lock_guard lock(mutex_);
    return quarantined_;
  }

  std::vector<QuarantinedResult> quarantined_results() const override {
    std::lock_guard lock(mutex_);
    std::vector<QuarantinedResult> out;
    auto s = Statement::prepare(db_.get(),
                                "SELECT seq, at_ms, reason, result FROM quarantined ORDER BY id");
    if (!s) return out;
    while (s->step() == SQLITE_ROW) {
      QuarantinedResult q;
      q.seq = static_cast<std::uint64_t>(s->int64(0));
      q.at_ms = s->int64(1);
      q.reason = s->text(2);
      q.result = s->text(3);
      out.push_back(std::move(q));
    }
    return out;
  }

  std::size_t size() const override {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(count_);
  }
  std::int64_t oldest_ms() const override {
    std::lock_guard lock(mutex_);
    return count_ == 0 ? 0 : oldest_ms_;
  }
  std::uint64_t dropped() const override {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  // Opening ----------------------------------------------------------------------------

  DbError try_open() {
    db_.reset();
    statements_ = {};
    sqlite3* raw = nullptr;
    const int flags =
        options_.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) return {rc, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)};
    sqlite3_extended_result_codes(db_.get(), 1);
    sqlite3_busy_timeout(db_.get(), 2000);
    // Resident memory matters more than speed here: the spool is written at a few
    // results a second and read in order, so a small page cache does (the default is
    // 2 MB, which quick_check below would fill on a large spool, and keep). Reads go
    // through read(), not a memory map.
    if (DbError e = exec("PRAGMA cache_size=-256"); e.code) return e;  // KiB
    if (DbError e = exec("PRAGMA mmap_size=0"); e.code) return e;

    // A truncated or damaged file often opens fine: quick_check reads every page.
    {
      std::string problems;
      if (DbError e = query_text("PRAGMA quick_check", &problems); e.code != SQLITE_OK) return e;
      if (problems != "ok") return {SQLITE_CORRUPT, "quick_check: " + problems.substr(0, 300)};
    }
    std::int64_t application_id = 0;
    std::int64_t version = 0;
    std::int64_t tables = 0;
    if (DbError e = query_int("PRAGMA application_id", &application_id); e.code) return e;
    if (DbError e = query_int("PRAGMA user_version", &version); e.code) return e;
    if (DbError e = query_int("SELECT count(*) FROM sqlite_schema", &tables); e.code) return e;
    const bool fresh = tables == 0 && application_id == 0;
    if (!fresh && (application_id != kApplicationId || version < 1 || version > kSchemaVersion)) {
      return {SQLITE_NOTADB, "not a vigie spool (application_id " + std::to_string(application_id) +
                                 ", version " + std::to_string(version) + ")"};
    }
    if (options_.read_only) {
      // What the agent writes at its start (the schema, an upgrade) is not there yet.
      if (fresh) return {SQLITE_CANTOPEN, "an empty file: the agent has not written it yet"};
      if (version < kSchemaVersion) {
        return {SQLITE_CANTOPEN, "schema version " + std::to_string(version) +
                                     ": the agent upgrades it when it starts"};
      }
      if (DbError e = prepare_all(); e.code) return e;
      return load();
    }
    std::string mode;
    if (DbError e = query_text("PRAGMA journal_mode=WAL", &mode); e.code) return e;
    if (mode != "wal") return {SQLITE_IOERR, "cannot use WAL mode (journal_mode " + mode + ")"};
    if (DbError e = exec("PRAGMA synchronous=NORMAL"); e.code) return e;
    if (fresh) {
      const std::string setup = "BEGIN;" + std::string(kSchema) + kQuarantineSchema +
                                "PRAGMA application_id=" + std::to_string(kApplicationId) +
                                ";PRAGMA user_version=" + std::to_string(kSchemaVersion) +
                                ";INSERT INTO state VALUES ('next_seq'," +
                                std::to_string(std::max<std::int64_t>(options_.now_ms(), 1)) +
                                "),('dropped',0),('head_seq',0),('head_last_id',0);COMMIT;";
      if (DbError e = exec(setup.c_str()); e.code) {
        exec("ROLLBACK");
        return e;
      }
    } else if (version < kSchemaVersion) {
      const std::string upgrade =
          "BEGIN;" + std::string(kQuarantineSchema) + (version == 2 ? kQuarantineFromV2 : "") +
          "PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";COMMIT;";
      if (DbError e = exec(upgrade.c_str()); e.code) {
        exec("ROLLBACK");
        return e;
      }
    }
    if (DbError e = prepare_all(); e.code) return e;
    return load();
  }

  DbError prepare_all() {
    const std::pair<Statement*, const char*> all[] = {
        {&statements_.insert, "INSERT INTO results (ts_ms, stored_ms, result) VALUES (?1, ?3, ?2)"},
        {&statements_.set_state, "UPDATE state SET value = ?2 WHERE key = ?1"},
        {&statements_.oldest_waiting,
         "SELECT id, stored_ms FROM results WHERE id > ?1 ORDER BY id LIMIT 1"},
        {&statements_.waiting_sizes,
         "SELECT id, length(result) FROM results WHERE id > ?1 AND id < ?3 ORDER BY id "
         "LIMIT ?2"},
        {&statements_.delete_range, "DELETE FROM results WHERE id > ?1 AND id <= ?2"},
        {&statements_.aged,
         "SELECT count(*), coalesce(sum(length(result)), 0), max(id) "
         "FROM results WHERE id > ?1 AND id < ?3 AND stored_ms < ?2"},
        {&statements_.delete_aged,
         "DELETE FROM results WHERE id > ?1 AND id < ?3 AND stored_ms < ?2"},
        {&statements_.first_rows,
         "SELECT id, result, ts_ms FROM results WHERE id > ?1 ORDER BY id LIMIT ?2"},
        {&statements_.head_rows,
         "SELECT id, result, ts_ms FROM results WHERE id <= ?1 ORDER BY id"},
        {&statements_.oldest_ts, "SELECT min(ts_ms) FROM results"},
        {&statements_.row_size, "SELECT length(result) FROM results WHERE id = ?1"},
        {&statements_.delete_row, "DELETE FROM results WHERE id = ?1"},
        {&statements_.quarantine_size, "SELECT coalesce(sum(length(result)), 0) FROM quarantined"},
        {&statements_.quarantine,
         "INSERT INTO quarantined (seq, at_ms, reason, result) "
         "SELECT ?1, ?2, ?3, result FROM results WHERE id = ?4"},
    };
    for (const auto& [statement, sql] : all) {
      auto prepared = Statement::prepare(db_.get(), sql);
      if (!prepared) return {sqlite3_errcode(db_.get()), prepared.status().message()};
      *statement = std::move(*prepared);
    }
    return {};
  }

  // Reads the counters and the head batch into memory.
  DbError load() {
    std::int64_t head_seq = 0;
    std::int64_t count = 0;
    std::int64_t bytes = 0;
    std::int64_t dropped = 0;
    if (DbError e = query_int("SELECT value FROM state WHERE key = 'next_seq'", &next_seq_); e.code)
      return e;
    if (DbError e = query_int("SELECT value FROM state WHERE key = 'dropped'", &dropped); e.code)
      return e;
    std::int64_t quarantined = 0;
    if (DbError e = query_int("SELECT value FROM state WHERE key = 'quarantined'", &quarantined);
        e.code)
      return e;
    quarantined_ = static_cast<std::uint64_t>(std::max<std::int64_t>(quarantined, 0));
    if (DbError e = query_int("SELECT value FROM state WHERE key = 'head_seq'", &head_seq); e.code)
      return e;
    if (DbError e = query_int("SELECT value FROM state WHERE key = 'head_last_id'", &head_last_id_);
        e.code)
      return e;
    if (DbError e = query_int("SELECT count(*) FROM results", &count); e.code) return e;
    if (DbError e = query_int("SELECT coalesce(sum(length(result)), 0) FROM results", &bytes);
        e.code)
      return e;
    if (next_seq_ <= 0) return {SQLITE_CORRUPT, "state: next_seq is " + std::to_string(next_seq_)};
    dropped_ = static_cast<std::uint64_t>(std::max<std::int64_t>(dropped, 0));
    count_ = count;
    bytes_ = static_cast<std::uint64_t>(bytes) + static_cast<std::uint64_t>(count) * kRowOverhead;
    refresh_oldest();
    head_.reset();
    head_ids_.clear();
    head_bytes_ = 0;
    head_rows_ = 0;
    if (head_seq <= 0) head_last_id_ = 0;
    if (head_seq > 0) {
      Batch batch;
      batch.seq = static_cast<std::uint64_t>(head_seq);
      std::int64_t bad = 0;
      std::vector<std::int64_t> ids;
      if (DbError e = read_rows(statements_.head_rows, head_last_id_, -1, nullptr, &batch, &ids,
                                nullptr, &bad, &head_bytes_, &head_rows_);
          e.code)
        return e;
      if (bad > 0) {
        // A batch whose stored rows are no longer readable would be replayed with other
        // content under the same seq: skip its seq instead.
        log::error("spool " + path_.string() + ": " + std::to_string(bad) +
                   " unreadable results in the batch to resend; it is sent again as a new batch");
        if (options_.read_only)
          return {SQLITE_CORRUPT, "unreadable results in the batch to resend"};
        if (DbError e = set_state("head_seq", 0); e.code) return e;
        head_last_id_ = 0;
        head_rows_ = 0;
        head_bytes_ = 0;
      } else if (!batch.results.empty() || !batch.events.empty()) {
        head_ = std::move(batch);
        head_ids_ = std::move(ids);
      }
    }
    return {};
  }

  // Called with a corrupt file: moves it aside and opens a new one.
  Status start_over(const std::string& why, std::uint64_t lost_results) {
    if (options_.read_only) {
      return Status::io_error("spool " + path_.string() + " is corrupt (" + why +
                              "); left as it is: the agent moves it aside when it opens it");
    }
    db_.reset();
    statements_ = {};
    const std::int64_t keep_next_seq = next_seq_;
    auto moved = move_aside(path_, options_.now_ms());
    if (!moved)
      return moved.status().with_context("spool " + path_.string() + " is corrupt (" + why + ")");
    log::error("spool " + path_.string() + " is corrupt (" + why + "): moved aside to " +
               moved->string() + "; starting a new spool" +
               (lost_results ? ", " + std::to_string(lost_results) + " results lost" : ""));
    const std::uint64_t dropped_before = dropped_ + lost_results;
    DbError reopened = try_open();
    if (reopened.code != SQLITE_OK) {
      return Status::io_error("spool " + path_.string() + ": " + reopened.message);
    }
    // A running agent knows its sequence: keep numbering above it.
    if (keep_next_seq > next_seq_) {
      next_seq_ = keep_next_seq;
      set_state("next_seq", next_seq_);
    }
    if (dropped_before > 0) {
      dropped_ = dropped_before;
      set_state("dropped", static_cast<std::int64_t>(dropped_));
    }
    return Status::ok();
  }

  // Writing ----------------------------------------------------------------------------

  DbError insert(std::int64_t ts_ms, const std::string& json) {
    if (DbError e = exec("BEGIN IMMEDIATE"); e.code) return e;
    DbError error;
    std::uint64_t pruned = 0;
    {
      Statement& s = statements_.insert;
      sqlite::ResetOnExit use(s);
      s.bind(1, ts_ms).bind(2, json).bind(3, options_.now_ms());
      if (s.step() != SQLITE_DONE) error = last_error("insert");
    }
    // The result just added is never dropped: the bounds make room for it.
    const std::int64_t newest = sqlite3_last_insert_rowid(db_.get());
    std::uint64_t bytes = bytes_ + json.size() + kRowOverhead;
    std::int64_t count = count_ + 1;
    if (!error.code) error = prune(newest, &bytes, &count, &pruned);
    if (!error.code && pruned > 0) {
      error = set_state("dropped", static_cast<std::int64_t>(dropped_ + pruned));
    }
    if (!error.code) error = exec("COMMIT");
    if (error.code) {
      exec("ROLLBACK");
      return error;
    }
    if (count_ == 0 || ts_ms < oldest_ms_) oldest_ms_ = ts_ms;
    bytes_ = bytes;
    count_ = count;
    if (pruned > 0) {
      dropped_ += pruned;
      unlogged_drops_ += pruned;
      refresh_oldest();
    }
    // While the bound holds, every add drops: one line a minute says how many.
    const auto now = std::chrono::steady_clock::now();
    if (unlogged_drops_ > 0 && (last_drop_log_ == std::chrono::steady_clock::time_point() ||
                                now - last_drop_log_ >= std::chrono::minutes(1))) {
      log::warning("spool " + path_.string() + ": bound reached (" +
                   std::to_string(options_.max_bytes / 1024) + " KiB or " +
                   std::to_string(options_.max_age.count() / 1000) +
                   " s old): " + std::to_string(unlogged_drops_) + " oldest results dropped (" +
                   std::to_string(dropped_) + " in all)");
      unlogged_drops_ = 0;
      last_drop_log_ = now;
    }
    return {};
  }

  // Deletes the oldest results outside the head batch while past a bound; inside the
  // caller's transaction.
  DbError prune(std::int64_t newest, std::uint64_t* bytes, std::int64_t* count,
                std::uint64_t* pruned) {
    const std::int64_t cutoff = options_.now_ms() - options_.max_age.count();
    {
      Statement& oldest = statements_.oldest_waiting;
      sqlite::ResetOnExit use(oldest);
      oldest.bind(1, head_last_id_);
      const int rc = oldest.step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return last_error("prune");
      const bool too_old = rc == SQLITE_ROW && oldest.int64(1) < cutoff;
      oldest.reset();
      if (too_old) {
        Statement& aged = statements_.aged;
        sqlite::ResetOnExit use_aged(aged);
        aged.bind(1, head_last_id_).bind(2, cutoff).bind(3, newest);
        if (aged.step() != SQLITE_ROW) return last_error("prune");
        const auto n = aged.int64(0);
        const auto n_bytes = static_cast<std::uint64_t>(aged.int64(1));
        aged.reset();
        Statement& del = statements_.delete_aged;
        sqlite::ResetOnExit use_del(del);
        del.bind(1, head_last_id_).bind(2, cutoff).bind(3, newest);
        if (del.step() != SQLITE_DONE) return last_error("prune");
        *count -= n;
        *bytes -= std::min(*bytes, n_bytes + static_cast<std::uint64_t>(n) * kRowOverhead);
        *pruned += static_cast<std::uint64_t>(n);
      }
    }
    while (*bytes > options_.max_bytes) {
      Statement& sizes = statements_.waiting_sizes;
      sqlite::ResetOnExit use(sizes);
      sizes.bind(1, head_last_id_).bind(2, kPruneChunk).bind(3, newest);
      std::int64_t cut = 0;
      std::int64_t n = 0;
      int rc = SQLITE_OK;
      while (*bytes > options_.max_bytes && (rc = sizes.step()) == SQLITE_ROW) {
        cut = sizes.int64(0);
        *bytes -= std::min(*bytes, static_cast<std::uint64_t>(sizes.int64(1)) + kRowOverhead);
        ++n;
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE && rc != SQLITE_OK) return last_error("prune");
      sizes.reset();
      if (n == 0) break;  // only the head batch and the newest are left: they stay
      Statement& del = statements_.delete_range;
      sqlite::ResetOnExit use_del(del);
      del.bind(1, head_last_id_).bind(2, cut);
      if (del.step() != SQLITE_DONE) return last_error("prune");
      *count -= n;
      *pruned += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  DbError hand_out(const BatchLimits& limits) {
    Batch batch;
    batch.seq = static_cast<std::uint64_t>(next_seq_);
    std::vector<std::int64_t> ids;
    std::int64_t last_id = 0;
    std::int64_t bad = 0;
    std::uint64_t batch_bytes = 0;
    std::int64_t rows = 0;
    const auto max_results =
        static_cast<std::int64_t>(std::max<std::size_t>(limits.max_results, 1));
    if (DbError e = read_rows(statements_.first_rows, head_last_id_, max_results, &limits, &batch,
                              &ids, &last_id, &bad, &batch_bytes, &rows);
        e.code)
      return e;
    if (last_id == 0) return {};
    // The seq must be on disk before the batch leaves: a power cut must not make the
    // next start hand out this seq again with other results.
    if (DbError e = exec("PRAGMA synchronous=FULL"); e.code) return e;
    DbError error = exec("BEGIN IMMEDIATE");
    if (!error.code && bad > 0) {
      // Unreadable rows (the file was damaged under SQLite's feet) go, counted.
      error = set_state("dropped", static_cast<std::int64_t>(dropped_ + bad));
    }
    if (!error.code && batch.results.empty() && batch.events.empty()) {
      Statement& del = statements_.delete_range;
      sqlite::ResetOnExit use(del);
      del.bind(1, head_last_id_).bind(2, last_id);
      if (del.step() != SQLITE_DONE) error = last_error("hand out");
    } else if (!error.code) {
      error = set_state("head_seq", next_seq_);
      if (!error.code) error = set_state("head_last_id", last_id);
      if (!error.code) error = set_state("next_seq", next_seq_ + 1);
    }
    if (!error.code) error = exec("COMMIT");
    if (error.code) exec("ROLLBACK");
    exec("PRAGMA synchronous=NORMAL");
    if (error.code) return error;
    if (bad > 0) {
      dropped_ += static_cast<std::uint64_t>(bad);
      log::error("spool " + path_.string() + ": " + std::to_string(bad) +
                 " stored results could not be read and are dropped");
    }
    if (batch.results.empty() && batch.events.empty()) {
      count_ -= rows;
      bytes_ -= std::min(bytes_, batch_bytes);
      refresh_oldest();
      return {};
    }
    head_last_id_ = last_id;
    ++next_seq_;
    head_bytes_ = batch_bytes;
    head_rows_ = rows;
    head_ = std::move(batch);
    head_ids_ = std::move(ids);
    return {};
  }

  // Deletes the head batch's rows (delivered).
  DbError remove_head() {
    DbError error = exec("BEGIN IMMEDIATE");
    if (!error.code) {
      Statement& del = statements_.delete_range;
      sqlite::ResetOnExit use(del);
      del.bind(1, 0).bind(2, head_last_id_);
      if (del.step() != SQLITE_DONE) error = last_error("remove");
    }
    if (!error.code) error = set_state("head_seq", 0);
    if (!error.code) error = exec("COMMIT");
    if (error.code) {
      exec("ROLLBACK");
      return error;
    }
    count_ -= head_rows_;
    bytes_ -= std::min(bytes_, head_bytes_);
    forget_head();
    refresh_oldest();
    return {};
  }

  // Gives the head batch's rows back to the queue, its seq retired. With a `reason`, its
  // result `index` first goes to the quarantine (or, past max_quarantine_bytes, is
  // dropped and counted). One transaction.
  DbError release_head(const std::string* reason, std::size_t index) {
    const std::int64_t id = reason ? head_ids_[index] : 0;
    std::int64_t size = 0;  // of the refused result's JSON
    bool kept = false;
    DbError error = exec("BEGIN IMMEDIATE");
    if (!error.code && reason) {
      std::int64_t held = 0;
      error = query_bound_int(statements_.row_size, id, &size);
      if (!error.code) error = query_bound_int(statements_.quarantine_size, -1, &held);
      kept = static_cast<std::uint64_t>(held + size) <= options_.max_quarantine_bytes;
      if (!error.code && kept) {
        Statement& keep = statements_.quarantine;
        sqlite::ResetOnExit use(keep);
        keep.bind(1, static_cast<std::int64_t>(head_->seq))
            .bind(2, options_.now_ms())
            .bind(3, std::string_view(*reason))
            .bind(4, id);
        if (keep.step() != SQLITE_DONE) error = last_error("quarantine");
        if (!error.code)
          error = set_state("quarantined", static_cast<std::int64_t>(quarantined_ + 1));
      } else if (!error.code) {
        error = set_state("dropped", static_cast<std::int64_t>(dropped_ + 1));
      }
      if (!error.code) {
        Statement& del = statements_.delete_row;
        sqlite::ResetOnExit use(del);
        del.bind(1, id);
        if (del.step() != SQLITE_DONE) error = last_error("quarantine");
      }
    }
    if (!error.code) error = set_state("head_seq", 0);
    if (!error.code) error = exec("COMMIT");
    if (error.code) {
      exec("ROLLBACK");
      return error;
    }
    if (reason) {
      if (kept) {
        ++quarantined_;
      } else {
        ++dropped_;
        log::error("spool " + path_.string() + ": the quarantine holds " +
                   std::to_string(options_.max_quarantine_bytes / 1024) +
                   " KiB of refused results already: this one is dropped (" +
                   std::to_string(dropped_) +
                   " dropped in all); vigie-agent spool --clear-quarantine makes room");
      }
      --count_;
      bytes_ -= std::min(bytes_, static_cast<std::uint64_t>(size) + kRowOverhead);
    }
    forget_head();
    refresh_oldest();
    return {};
  }

  void forget_head() {
    head_.reset();
    head_ids_.clear();
    head_bytes_ = 0;
    head_rows_ = 0;
    head_last_id_ = 0;
  }

  // Reads rows (id, result, ts_ms) from `s` bound to (after, limit) into `batch` (and
  // their ids into `ids`), the results as they were stored: they were checked before they
  // were added. Stops before the result that would take the batch past `limits` (none: no
  // bound but the limit). Rows that are not a JSON object's text (the file was damaged
  // under SQLite's feet) are counted in *bad (and still move *last_id on).
  DbError read_rows(Statement& s, std::int64_t first_bound, std::int64_t limit,
                    const BatchLimits* limits, Batch* batch, std::vector<std::int64_t>* ids,
                    std::int64_t* last_id, std::int64_t* bad, std::uint64_t* bytes,
                    std::int64_t* rows) {
    sqlite::ResetOnExit use(s);
    s.bind(1, first_bound);
    if (limit >= 0) s.bind(2, limit);
    int rc = SQLITE_OK;
    std::uint64_t total = 0;
    std::size_t json_bytes = 0;  // of the results taken
    std::size_t json_values = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
      const std::string_view text = s.text_view(1);
      const bool good = text.starts_with('{') && text.ends_with('}');
      const std::size_t values = good && limits ? count_values(text) : 0;
      if (good && limits && !batch->results.empty() &&
          (json_bytes + text.size() > limits->max_bytes ||
           json_values + values > limits->max_values)) {
        rc = SQLITE_DONE;  // full: this row waits for the next batch
        break;
      }
      if (last_id) *last_id = s.int64(0);
      ++*rows;
      total += text.size() + kRowOverhead;
      if (!good) {
        ++*bad;
        continue;
      }
      json_bytes += text.size();
      json_values += values;
      const std::int64_t ts = s.int64(2);
      if ((batch->results.empty() && batch->events.empty()) || ts < batch->oldest_ms)
        batch->oldest_ms = ts;
      if (text.starts_with(kEventPrefix)) {
        const std::string_view event =
            text.substr(kEventPrefix.size(), text.size() - kEventPrefix.size() - 1);
        batch->events.emplace_back(event);
        // A report holds so many events at most: the next ones wait for the next batch.
        if (batch->events.size() >= protocol::Limits{}.max_events) break;
        continue;
      }
      if (ids) ids->push_back(s.int64(0));  // a result's: quarantine() counts results
      batch->results.emplace_back(text);
    }
    if (rc == SQLITE_ROW) rc = SQLITE_DONE;  // stopped early, on purpose
    if (rc != SQLITE_DONE) return last_error("read");
    *bytes = total;
    return {};
  }

  // Counts `n` results lost outside SQLite's control, and tries to store the count.
  void lost(const std::string& what, std::uint64_t n) {
    dropped_ += n;
    log::error("spool " + path_.string() + ": " + what + "; the result is lost (" +
               std::to_string(dropped_) + " dropped in all)");
    if (db_) set_state("dropped", static_cast<std::int64_t>(dropped_));
  }

  void handle_failure(const DbError& error, const std::string& what, std::uint64_t lost_results) {
    if (is_corruption(error.code)) {
      // Moving the file aside loses what it held; a new spool beats none at all.
      const std::uint64_t held = static_cast<std::uint64_t>(count_) + lost_results;
      if (Status s = start_over(what + ": " + error.message, held); !s) {
        log::error(s.message());
      }
      return;
    }
    if (lost_results > 0) lost(what + ": " + error.message, lost_results);
    else log::error("spool " + path_.string() + ": " + what + ": " + error.message);
  }

  void refresh_oldest() {
    oldest_ms_ = 0;
    if (count_ == 0) return;
    Statement& s = statements_.oldest_ts;
    sqlite::ResetOnExit use(s);
    if (s.step() == SQLITE_ROW) oldest_ms_ = s.int64(0);
  }

  // Helpers ----------------------------------------------------------------------------

  DbError last_error(std::string_view what) {
    return {sqlite3_extended_errcode(db_.get()),
            std::string(what) + ": " + sqlite3_errmsg(db_.get())};
  }

  DbError exec(const char* sql) {
    if (!db_) return {SQLITE_MISUSE, "no database"};
    char* message = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return {};
    DbError error{sqlite3_extended_errcode(db_.get()), message ? message : sqlite3_errstr(rc)};
    sqlite3_free(message);
    return error;
  }

  DbError set_state(const char* key, std::int64_t value) {
    if (!statements_.set_state.ready()) return {SQLITE_MISUSE, "not prepared"};
    Statement& s = statements_.set_state;
    sqlite::ResetOnExit use(s);
    s.bind(1, std::string_view(key)).bind(2, value);
    if (s.step() != SQLITE_DONE) return last_error(std::string("state ") + key);
    return {};
  }

  // The first column of the first row, as text, every row's joined by "; ".
  DbError query_text(const char* sql, std::string* out) {
    auto s = Statement::prepare(db_.get(), sql);
    if (!s) return {sqlite3_extended_errcode(db_.get()), s.status().message()};
    out->clear();
    int rc = SQLITE_OK;
    while ((rc = s->step()) == SQLITE_ROW) {
      if (!out->empty()) *out += "; ";
      *out += s->text_view(0);
    }
    if (rc != SQLITE_DONE) return last_error(sql);
    return {};
  }

  DbError query_int(const char* sql, std::int64_t* out) {
    auto s = Statement::prepare(db_.get(), sql);
    if (!s) return {sqlite3_extended_errcode(db_.get()), s.status().message()};
    const int rc = s->step();
    if (rc == SQLITE_ROW) {
      *out = s->int64(0);
      return {};
    }
    if (rc == SQLITE_DONE) return {SQLITE_CORRUPT, std::string(sql) + ": no row"};
    return last_error(sql);
  }

  // The first column of `s`'s first row, bound to `value` (unless negative).
  DbError query_bound_int(Statement& s, std::int64_t value, std::int64_t* out) {
    sqlite::ResetOnExit use(s);
    if (value >= 0) s.bind(1, value);
    if (s.step() != SQLITE_ROW) return last_error("query");
    *out = s.int64(0);
    return {};
  }

  const fs::path path_;
  SpoolOptions options_;
  mutable std::mutex mutex_;
  Db db_;
  struct Statements {
    Statement insert, set_state, oldest_waiting, waiting_sizes, delete_range, aged, delete_aged,
        first_rows, head_rows, oldest_ts, row_size, delete_row, quarantine_size, quarantine;
  } statements_;
  std::int64_t next_seq_ = 0;
  std::int64_t head_last_id_ = 0;
  std::optional<Batch> head_;           // handed out, not removed yet
  std::vector<std::int64_t> head_ids_;  // the row of each of its results
  std::uint64_t head_bytes_ = 0;
  std::int64_t head_rows_ = 0;  // rows under head_last_id_, unreadable ones included
  std::int64_t count_ = 0;
  std::uint64_t bytes_ = 0;
  std::int64_t oldest_ms_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t quarantined_ = 0;
  std::uint64_t unlogged_drops_ = 0;
  std::chrono::steady_clock::time_point last_drop_log_;
};

}  // namespace

Result<std::unique_ptr<Spool>> open_spool(const fs::path& path, SpoolOptions options) {
  auto spool = std::make_unique<SqliteSpool>(path, options);
  if (Status s = spool->open(); !s) return s;
  return std::unique_ptr<Spool>(std::move(spool));
}

}  // namespace vigie::agent
