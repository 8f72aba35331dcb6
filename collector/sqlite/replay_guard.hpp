#pragma once
// The replay guard on SQLite: what makes a report's (agent, seq) stored once. Ingest
// writes a row of table `batches` per stored report (ingest.hpp); housekeeping folds the
// rows older than kReplayGuardRecentMs into table `batch_ranges`, a row per run of an
// agent's consecutive seqs received on one UTC day, merged with the runs already there,
// so that an agent reporting in order holds a row a day instead of a row a report. A
// seq is stored already when it has a row, lies in a range, or is at or below the
// agent's high-water mark (agents.pruned_seq) with no result newer than the last report
// it covers; a seq in a gap between ranges is new, and joins them once stored.
//
// Retention: a range whose newest report is past the raw samples' retention goes into
// the high-water mark, as the rows of an older database do.
//
// Databases of schema version 10 and before hold a row per report for 8 days: the
// same folding takes them in bounded slices, oldest first; the guard answers the same
// throughout (a row and its range are written in one transaction).

#include <chrono>
#include <cstdint>

#include "collector/storage.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

// How long a stored report keeps a row of its own before housekeeping folds it.
inline constexpr std::int64_t kReplayGuardRecentMs = 10 * 60'000;

// Folds the batches rows received before now_ms - kReplayGuardRecentMs (and within the
// raw retention: older ones go into the high-water mark) into the ranges, a chunk of
// rows at a time and at least one, until `deadline`; sets *more when rows are left. On
// the writer's connection, inside its transaction.
Status fold_replay_guard(sqlite3* db, std::int64_t now_ms, const Retention& retention,
                         std::chrono::steady_clock::time_point deadline, bool* more);

}  // namespace vigie::collector
