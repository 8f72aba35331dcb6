#pragma once
// The read queries of the collector database, on a read connection (the storage's
// pool, or a report's own): each takes the connection and returns plain values. In WAL
// mode they see the last committed state and never wait for the writer.

#include <cstdint>
#include <vector>

#include "collector/state.hpp"
#include "collector/storage.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

// What the state engine resumes from: agents, checks, downtimes not over at now_ms.
Result<StateSnapshot> read_state(sqlite3* db, std::int64_t now_ms);
Result<std::vector<Event>> read_events(sqlite3* db, const EventQuery& query);
Result<std::vector<AuditEntry>> read_audit(sqlite3* db, const AuditQuery& query);
Result<std::vector<NotificationRecord>> read_notifications(sqlite3* db,
                                                           const NotificationQuery& query);

// Where a series query reads from: the tier and the bucket width of the answer.
struct SeriesPlan {
  std::int64_t tier = 0;  // 0: raw samples; else the tier's bucket width
  std::string tier_name;  // "raw", "5m", "1h" or "1d"
  std::int64_t step_ms = 0;
};
// Checks the query and picks the finest tier that still covers `from` and is no finer
// than `step` (Storage::series); the daily tier, for a store that has it (`daily_tier`),
// for a step of a day or more, a range older than the hourly tier or one of more than
// 100,000 hours. kInvalidArgument for a bad range or too many points.
Result<SeriesPlan> plan_series(const SeriesQuery& query, const Retention& retention,
                               std::int64_t now_ms, bool daily_tier = false);
// kNotFound for an unknown series.
Result<SeriesData> read_series(sqlite3* db, const SeriesQuery& query, const SeriesPlan& plan);

// A report's history; run it in one read transaction, so that every query sees the
// same committed state.
Result<HistoryData> read_history(sqlite3* db, const HistoryQuery& query);

}  // namespace vigie::collector
