#include "collector/sqlite/writer.hpp"

#include <sqlite3.h>

#include <exception>
#include <future>
#include <string>

#include "collector/housekeeping_pacer.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

using Clock = std::chrono::steady_clock;

// Steps a statement that returns no row, and resets it.
Status run_once(sqlite3* db, sqlite::Statement& stmt, std::string_view what) {
  Status status = stmt.step() == SQLITE_DONE ? Status::ok() : sqlite::error(db, what);
  stmt.reset();
  return status;
}

}  // namespace

SqliteWriter::SqliteWriter(sqlite::Db db, SqliteWriterOptions options, Hooks hooks)
    : options_(std::move(options)), hooks_(std::move(hooks)), db_(std::move(db)) {}

SqliteWriter::~SqliteWriter() { close(); }

Status SqliteWriter::start() {
  for (auto [stmt, sql] :
       {std::pair{&savepoint_, "SAVEPOINT job"}, std::pair{&release_, "RELEASE job"},
        std::pair{&rollback_to_, "ROLLBACK TO job"}}) {
    auto prepared = sqlite::Statement::prepare(db_.get(), sql);
    if (!prepared) return prepared.status();
    *stmt = std::move(*prepared);
  }
  writer_ = std::thread([this] { writer_loop(); });
  checkpointer_ = std::thread([this] { checkpoint_loop(); });
  return Status::ok();
}

void SqliteWriter::enqueue(Job job) {
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

Status SqliteWriter::write(std::function<Status()> apply) {
  std::promise<Status> committed;
  auto future = committed.get_future();
  enqueue({std::move(apply), [&committed](Status s) { committed.set_value(std::move(s)); }});
  return future.get();
}

Status SqliteWriter::write_last(std::function<Status()> apply) {
  std::promise<Status> committed;
  auto future = committed.get_future();
  {
    std::lock_guard lock(mu_);
    if (closing_) return Status::unavailable("the collector is shutting down");
    last_.push_back(
        {std::move(apply), [&committed](Status s) { committed.set_value(std::move(s)); }});
    cv_.notify_one();
  }
  return future.get();
}

std::size_t SqliteWriter::queue_depth() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void SqliteWriter::close() {
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

void SqliteWriter::writer_loop() {
  std::vector<Job> group;
  HousekeepingPacer pacer(options_.housekeeping_every);
  auto more = std::make_shared<bool>(false);
  for (;;) {
    bool idle = false;  // no job came while it waited
    {
      std::unique_lock lock(mu_);
      idle = !cv_.wait_for(lock, pacer.wait(*more),
                           [&] { return closing_ || !queue_.empty() || !last_.empty(); });
      if (queue_.empty() && last_.empty() && closing_) return;  // everything is committed
      // Group commit: everything that queued up while the last transaction ran, then
      // one job of write_last's, behind them.
      while (!queue_.empty() && group.size() < options_.max_group) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (!last_.empty()) {
        group.push_back(std::move(last_.front()));
        last_.pop_front();
      }
    }
    if (!group.empty()) {
      commit_group(group);
      group.clear();
    }
    if (pacer.due(*more, idle)) {
      const auto start = Clock::now();
      group.push_back(housekeeping_job(more));
      commit_group(group);
      group.clear();
      pacer.ran(start, Clock::now());
    }
  }
}

SqliteWriter::Job SqliteWriter::housekeeping_job(std::shared_ptr<bool> more) {
  return {[this, more] {
            slice_in_group_ = true;
            return hooks_.housekeeping(more.get(), &slice_work_);
          },
          [more](Status status) {
            if (!status) {
              log::error("storage: housekeeping failed: " + status.message());
              *more = false;  // try again at the next period, not in a tight loop
            }
          }};
}

Status SqliteWriter::housekeep() {
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

Status SqliteWriter::apply_in_savepoint(const Job& job) {
  Status status = run_once(db_.get(), savepoint_, "begin a savepoint");
  if (!status) return status;
  try {
    status = job.apply();
  } catch (const std::exception& e) {  // bad_alloc, or a bug: fail this job only
    status = Status::internal(e.what());
  }
  if (!status) {
    (void)run_once(db_.get(), rollback_to_, "roll back a savepoint");
    hooks_.rolled_back();
  }
  (void)run_once(db_.get(), release_, "release a savepoint");
  return status;
}

void SqliteWriter::commit_group(std::vector<Job>& group) {
  std::vector<Status> outcomes;
  outcomes.reserve(group.size());
  const auto start = Clock::now();
  slice_in_group_ = false;
  Status tx = sqlite::exec(db_.get(), "BEGIN IMMEDIATE");
  if (tx) {
    for (const auto& job : group) {
      outcomes.push_back(apply_in_savepoint(job));
      // On a full disk (SQLITE_FULL), an I/O error or no memory, SQLite may roll back
      // the whole transaction by itself. Then no later job may run: its SAVEPOINT would
      // start a transaction of its own, committed apart from the group. The whole group
      // failed, for the reason the failing job gives.
      if (::sqlite3_get_autocommit(db_.get()) != 0) {
        tx = Status(
            outcomes.back().is_ok() ? Code::kIoError : outcomes.back().code(),
            "the transaction was rolled back by SQLite after: " +
                (outcomes.back().is_ok() ? std::string("a job") : outcomes.back().message()));
        break;
      }
    }
    if (tx) tx = sqlite::exec(db_.get(), "COMMIT");
    if (!tx && ::sqlite3_get_autocommit(db_.get()) == 0) (void)sqlite::exec(db_.get(), "ROLLBACK");
  }
  if (!tx) hooks_.rolled_back();
  (tx ? commits_ : commit_failures_).fetch_add(1, std::memory_order_relaxed);
  if (!tx) log::error("storage: commit failed: " + tx.message());
  const auto took = Clock::now() - start;
  if (slice_in_group_) times_.housekept(took, slice_work_);
  else times_.committed(took, group.size());
  for (std::size_t i = 0; i < group.size(); ++i) group[i].done(tx ? std::move(outcomes[i]) : tx);
}

// SQLite's automatic checkpoint would run inside whichever commit crosses the
// threshold, fsync included. PASSIVE: it never blocks the writer or readers; what it
// cannot copy yet it copies next time.
void SqliteWriter::checkpoint_loop() {
  auto db = sqlite::open(options_.path, SQLITE_OPEN_READWRITE);
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

}  // namespace vigie::collector
