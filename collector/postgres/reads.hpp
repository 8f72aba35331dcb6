#pragma once
// The read queries of the PostgreSQL backend, on a read connection (the primary's, or
// a standby's with --read-db). The ones that run several statements run them in one
// REPEATABLE READ transaction, so that they see one committed state.

#include <cstdint>
#include <string>
#include <vector>

#include "collector/postgres/pq.hpp"
#include "collector/sqlite/queries.hpp"
#include "collector/state.hpp"
#include "collector/storage.hpp"
#include "common/status.hpp"

namespace vigie::collector::pg {

Result<StateSnapshot> read_state(pq::Conn& conn, std::int64_t now_ms);
Result<std::vector<Event>> read_events(pq::Conn& conn, const EventQuery& query);
Result<std::vector<AuditEntry>> read_audit(pq::Conn& conn, const AuditQuery& query);
Result<std::vector<NotificationRecord>> read_notifications(pq::Conn& conn,
                                                           const NotificationQuery& query);
Result<SeriesData> read_series(pq::Conn& conn, const SeriesQuery& query, const SeriesPlan& plan);
Result<HistoryData> read_history(pq::Conn& conn, const HistoryQuery& query);
Result<TokenRecord> read_token(pq::Conn& conn, const std::string& hash);
Result<std::vector<TokenRecord>> read_tokens(pq::Conn& conn);
// The database's size on disk (pg_database_size).
Result<std::int64_t> read_database_bytes(pq::Conn& conn);

}  // namespace vigie::collector::pg
