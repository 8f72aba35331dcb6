#include "collector/sqlite/replay_guard.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <vector>

#include "collector/sqlite/housekeeping.hpp"
#include "common/sqlite.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;

// Rows read and folded per query.
constexpr int kFoldChunk = 1024;

struct Row {
  std::int64_t agent, seq, received, results;
};

// A run of an agent's consecutive seqs received on one UTC day, as stored in
// batch_ranges (received: the newest of them).
struct Range {
  std::int64_t first, last, received, results;
};

bool same_day(std::int64_t a_ms, std::int64_t b_ms) {
  return bucket_of(a_ms, kDayMs) == bucket_of(b_ms, kDayMs);
}

class Folder {
 public:
  static Result<Folder> prepare(sqlite3* db) {
    Folder f(db);
    const struct {
      Statement* stmt;
      const char* sql;
    } table[] = {
        // Oldest first, by batches_by_time.
        {&f.read_,
         "SELECT agent_id, seq, received_ms, results FROM batches WHERE received_ms >= ?1"
         " AND received_ms < ?2 ORDER BY received_ms LIMIT 1024"},
        {&f.remove_row_, "DELETE FROM batches WHERE agent_id = ?1 AND seq = ?2"},
        {&f.below_,
         "SELECT first_seq, last_seq, received_ms, results FROM batch_ranges WHERE agent_id = ?1"
         " AND first_seq <= ?2 ORDER BY first_seq DESC LIMIT 1"},
        {&f.starting_,
         "SELECT last_seq, received_ms, results FROM batch_ranges WHERE agent_id = ?1"
         " AND first_seq = ?2"},
        {&f.remove_range_, "DELETE FROM batch_ranges WHERE agent_id = ?1 AND first_seq = ?2"},
        {&f.store_range_,
         "INSERT INTO batch_ranges (agent_id, first_seq, last_seq, received_ms, results)"
         " VALUES (?1,?2,?3,?4,?5) ON CONFLICT (agent_id, first_seq) DO UPDATE SET"
         " last_seq = excluded.last_seq, received_ms = excluded.received_ms,"
         " results = excluded.results"},
    };
    for (const auto& entry : table) {
      auto stmt = Statement::prepare(db, entry.sql);
      if (!stmt) return stmt.status();
      *entry.stmt = std::move(*stmt);
    }
    return f;
  }

  // Folds up to a chunk of the rows received in [from, before): sets *rows to how many.
  Status fold_chunk(std::int64_t from, std::int64_t before, int* rows) {
    rows_.clear();
    read_.reset();
    read_.bind(1, from).bind(2, before);
    int rc;
    while ((rc = read_.step()) == SQLITE_ROW)
      rows_.push_back({read_.int64(0), read_.int64(1), read_.int64(2), read_.int64(3)});
    read_.reset();
    if (rc != SQLITE_DONE) return sqlite::error(db_, "read the replay guard's rows");
    *rows = static_cast<int>(rows_.size());
    for (const Row& row : rows_) {
      remove_row_.reset();
      remove_row_.bind(1, row.agent).bind(2, row.seq);
      if (remove_row_.step() != SQLITE_DONE) return sqlite::error(db_, "fold the replay guard");
    }
    remove_row_.reset();
    // Runs of consecutive seqs of one agent and day, each merged into the ranges.
    std::sort(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
      return std::tie(a.agent, a.seq) < std::tie(b.agent, b.seq);
    });
    for (std::size_t i = 0; i < rows_.size();) {
      const Row& start = rows_[i];
      Range run{start.seq, start.seq, start.received, start.results};
      std::size_t j = i + 1;
      for (; j < rows_.size(); ++j) {
        const Row& next = rows_[j];
        if (next.agent != start.agent || next.seq != run.last + 1 ||
            !same_day(next.received, run.received))
          break;
        run.last = next.seq;
        run.received = std::max(run.received, next.received);
        run.results += next.results;
      }
      if (Status s = merge(start.agent, run); !s) return s;
      i = j;
    }
    return Status::ok();
  }

 private:
  explicit Folder(sqlite3* db) : db_(db) {}

  // Stores `run`, joined with the ranges of its day that end just before it and start
  // just after it.
  Status merge(std::int64_t agent, Range run) {
    // (No neighbour past either end of int64: a seq is an agent's number, any of them.)
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    below_.reset();
    below_.bind(1, agent).bind(2, run.first == kMin ? kMin : run.first - 1);
    int rc = run.first == kMin ? SQLITE_DONE : below_.step();
    if (rc == SQLITE_ROW && below_.int64(1) == run.first - 1 &&
        same_day(below_.int64(2), run.received)) {
      run.first = below_.int64(0);
      run.received = std::max(run.received, below_.int64(2));
      run.results += below_.int64(3);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return sqlite::error(db_, "read the replay guard's ranges");
    }
    below_.reset();
    starting_.reset();
    starting_.bind(1, agent).bind(2, run.last == kMax ? kMax : run.last + 1);
    rc = run.last == kMax ? SQLITE_DONE : starting_.step();
    if (rc == SQLITE_ROW && same_day(starting_.int64(1), run.received)) {
      const std::int64_t next_first = run.last + 1;
      run.last = starting_.int64(0);
      run.received = std::max(run.received, starting_.int64(1));
      run.results += starting_.int64(2);
      starting_.reset();
      remove_range_.reset();
      remove_range_.bind(1, agent).bind(2, next_first);
      if (remove_range_.step() != SQLITE_DONE) return sqlite::error(db_, "merge ranges");
      remove_range_.reset();
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return sqlite::error(db_, "read the replay guard's ranges");
    }
    starting_.reset();
    store_range_.reset();
    store_range_.bind(1, agent)
        .bind(2, run.first)
        .bind(3, run.last)
        .bind(4, run.received)
        .bind(5, run.results);
    if (store_range_.step() != SQLITE_DONE) return sqlite::error(db_, "store a range of seqs");
    store_range_.reset();
    return Status::ok();
  }

  sqlite3* db_;
  Statement read_, remove_row_, below_, starting_, remove_range_, store_range_;
  std::vector<Row> rows_;
};

}  // namespace

Status fold_replay_guard(sqlite3* db, std::int64_t now_ms, const Retention& retention,
                         std::chrono::steady_clock::time_point deadline, bool* more) {
  auto folder = Folder::prepare(db);
  if (!folder) return folder.status();
  const std::int64_t from = now_ms - retention.raw.count();
  const std::int64_t before = now_ms - kReplayGuardRecentMs;
  for (;;) {
    int rows = 0;
    if (Status s = folder->fold_chunk(from, before, &rows); !s) return s;
    if (rows < kFoldChunk) return Status::ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      *more = true;
      return Status::ok();
    }
  }
}

}  // namespace vigie::collector
