#pragma once
// The single writer of the collector database (SQLite has one): a thread that owns
// the write connection and commits the jobs queued since its last transaction in one
// transaction (group commit), each job in a savepoint of its own so that a failing one
// is rolled back alone. Between groups it runs slices of housekeeping, paced by
// HousekeepingPacer (housekeeping_pacer.hpp): one per `housekeeping_every` with no work
// left, back to back when idle with work left, a share of the time under load. A second
// thread copies the write-ahead log back into the database from a connection of its
// own, so that no commit waits for a checkpoint.
//
// Threading: enqueue() and write() from any thread; jobs and their done() callbacks
// run on the writer thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "collector/writer_times.hpp"
#include "common/sqlite.hpp"
#include "common/status.hpp"

namespace vigie::collector {

struct SqliteWriterOptions {
  std::filesystem::path path;   // the database, for the checkpointer's connection
  std::size_t max_group = 512;  // jobs committed in one transaction at most
  std::chrono::milliseconds housekeeping_every{1000};
};

class SqliteWriter {
 public:
  // A unit of work: apply() runs inside the group's transaction, in a savepoint of its
  // own (an error rolls back this job only); done() runs after the commit with the
  // job's status, or the commit's error.
  struct Job {
    std::function<Status()> apply;
    std::function<void(Status)> done;
  };

  struct Hooks {
    // One slice of housekeeping, inside the writer's transaction; sets *more when
    // work is left for another slice, and *work to what it did.
    std::function<Status(bool* more, SliceWork* work)> housekeeping;
    // After a job or a whole transaction rolled back.
    std::function<void()> rolled_back;
  };

  // Takes the write connection; nothing runs until start().
  SqliteWriter(sqlite::Db db, SqliteWriterOptions options, Hooks hooks);
  ~SqliteWriter();  // close()
  SqliteWriter(const SqliteWriter&) = delete;
  SqliteWriter& operator=(const SqliteWriter&) = delete;

  // The write connection: prepare statements on it before start(); after start(),
  // only jobs may use it.
  sqlite3* db() const { return db_.get(); }

  // Prepares the savepoints and starts the writer and the checkpointer.
  Status start();

  // Queues a job; after close(), its done() runs at once with kUnavailable.
  void enqueue(Job job);
  // enqueue() and wait for the commit.
  Status write(std::function<Status()> apply);
  // Anonymous work (an enrollment): queued apart, and committed after every job queued
  // at the time its group is formed, one per group, so that it never delays a report.
  Status write_last(std::function<Status()> apply);
  // Runs housekeeping slices until none has work left, in the writer's transactions.
  Status housekeep();

  std::size_t queue_depth();
  std::int64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  std::int64_t commit_failures() const { return commit_failures_.load(std::memory_order_relaxed); }
  // The lengths of its commits and housekeeping slices (any thread).
  const WriterTimes& times() const { return times_; }

  // Commits everything queued and stops both threads. Idempotent.
  void close();

 private:
  void writer_loop();
  void checkpoint_loop();
  void commit_group(std::vector<Job>& group);
  Status apply_in_savepoint(const Job& job);
  Job housekeeping_job(std::shared_ptr<bool> more);

  const SqliteWriterOptions options_;
  const Hooks hooks_;
  sqlite::Db db_;  // only the writer thread touches it after start()
  // Each job of a group runs in a savepoint: prepared once, not parsed per job.
  sqlite::Statement savepoint_, release_, rollback_to_;

  std::atomic<std::int64_t> commits_{0};
  std::atomic<std::int64_t> commit_failures_{0};
  WriterTimes times_;
  // A housekeeping slice ran in the group being committed, and what it did (writer
  // thread).
  bool slice_in_group_ = false;
  SliceWork slice_work_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable cv_checkpoint_;
  std::deque<Job> queue_;
  std::deque<Job> last_;  // write_last's jobs
  bool closing_ = false;
  std::thread writer_;
  std::thread checkpointer_;
};

}  // namespace vigie::collector
