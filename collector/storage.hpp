#pragma once
// Where the collector keeps what agents report: the current state of every check and
// the metric samples. One interface; the SQLite backend (sqlite_storage.cpp) is the
// default, and a PostgreSQL backend can sit behind the same interface.
//
// Threading: submit() may be called from any thread; it hands the report to the
// storage's single writer, which commits many reports per transaction and then calls
// each `done` (on the writer thread). Read functions may be called from any thread at
// the same time as writes; they never wait for the writer.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/check_result.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::collector {

enum class IngestOutcome { kStored, kDuplicate };

// The current state of one check, as the query API shows it.
struct CheckRow {
  std::string agent;
  std::string site;
  CheckResult result;          // the latest result (by agent timestamp)
  std::int64_t received_ms = 0;  // when the collector received that result
  std::int64_t since_ms = 0;     // agent time of the last change of status
};

struct CheckQuery {
  bool problems_only = false;  // only status != OK
};

class Storage {
 public:
  using Done = std::function<void(Result<IngestOutcome>)>;

  virtual ~Storage() = default;

  // Stores a validated report once per (agent id, seq): a report already stored gives
  // kDuplicate and changes nothing. `done` runs after the commit, or with the error
  // that prevented it; nothing of a failed report is kept.
  virtual void submit(protocol::Report report, std::int64_t received_ms, Done done) = 0;

  // Current states, most severe first, then oldest change first, then site and name.
  virtual Result<std::vector<CheckRow>> checks(const CheckQuery& query) = 0;

  // Commits everything submitted so far and stops the writer; later submit() calls
  // fail with kUnavailable. Called by the destructor too.
  virtual void close() = 0;
};

struct SqliteOptions {
  std::filesystem::path path;          // the database file; created when missing
  std::size_t max_batch_reports = 512;  // reports the writer commits in one transaction
};

Result<std::unique_ptr<Storage>> open_sqlite_storage(const SqliteOptions& options);

}  // namespace vigie::collector
