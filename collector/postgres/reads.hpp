#pragma once
// The read queries of the PostgreSQL backend, on a read connection (the primary's, or
// a standby's with --read-db). The ones that run several statements run them in one
// REPEATABLE READ transaction, so that they see one committed state.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "collector/postgres/pq.hpp"
#include "collector/rollup_block.hpp"
#include "collector/sqlite/queries.hpp"
#include "collector/sqlite/rollups.hpp"
#include "collector/state.hpp"
#include "collector/storage.hpp"
#include "common/status.hpp"

namespace vigie::collector::pg {

Result<StateSnapshot> read_state(pq::Conn& conn, std::int64_t now_ms);
// One agent's row and checks, and the downtimes not over at now_ms, on `conn` as it
// is (in the writer's transaction: under the agent's row lock).
Result<StateSnapshot> read_agent_state(pq::Conn& conn, const std::string& agent,
                                       std::int64_t now_ms);
Result<std::vector<Event>> read_events(pq::Conn& conn, const EventQuery& query);
Result<std::vector<AuditEntry>> read_audit(pq::Conn& conn, const AuditQuery& query);
Result<std::vector<NotificationRecord>> read_notifications(pq::Conn& conn,
                                                           const NotificationQuery& query);
Result<SeriesData> read_series(pq::Conn& conn, const SeriesQuery& query, const SeriesPlan& plan);
Result<HistoryData> read_history(pq::Conn& conn, const HistoryQuery& query);
Result<TokenRecord> read_token(pq::Conn& conn, const std::string& hash);
Result<std::vector<TokenRecord>> read_tokens(pq::Conn& conn);
Result<std::map<std::string, std::int64_t>> read_outbox_last_sent(pq::Conn& conn,
                                                                  std::int64_t since_ms);
Result<std::map<std::string, std::int64_t>> read_outbox_settled(
    pq::Conn& conn, const std::vector<std::string>& keys, std::int64_t since_ms);
// Storage::claim_outbox, in one statement (FOR UPDATE SKIP LOCKED).
Result<std::vector<OutboxRow>> claim_outbox(pq::Conn& conn, const std::string& channel,
                                            std::int64_t now_ms, std::int64_t due_by_ms,
                                            std::size_t limit, std::int64_t lease_ms);
// Storage::renew_outbox, in one statement.
Result<std::vector<std::int64_t>> renew_outbox(pq::Conn& conn, const std::vector<std::int64_t>& ids,
                                               std::int64_t held_until_ms, std::int64_t until_ms);
Result<std::int64_t> read_config_revision(pq::Conn& conn);
Result<ConfigSnapshot> read_config_snapshot(pq::Conn& conn);
Result<std::vector<AgentConfigReport>> read_agent_config_reports(pq::Conn& conn);
// StorageStats::synchronous: "full" when a commit is on disk before it is answered.
Result<std::string> read_synchronous(pq::Conn& conn);
// The database's size on disk (pg_database_size).
Result<std::int64_t> read_database_bytes(pq::Conn& conn);
// The raw blocks queued for the roll-up whose hour is over at `now_ms` (rollup_pending):
// how many, up to kRollupDueCounted, and the end of the oldest (0 when none). The
// queue's index by end answers the oldest at once and reads kRollupDueCounted entries
// at most, however long the queue.
struct RollupBacklog {
  std::int64_t blocks = 0;
  std::int64_t oldest_ms = 0;
};
Result<RollupBacklog> read_rollup_backlog(pq::Conn& conn, std::int64_t now_ms);

// The zone of the daily tier's days (table daily_tier, schema version 7), in SQLite's
// terms (sqlite/rollups.hpp): `zone` "" until a lead first rolled it up in its zone.
Result<DailyTierZone> read_daily_tier_zone(pq::Conn& conn);

// A series of an agent whose buckets a read wants.
struct TierWant {
  std::int64_t agent = 0;
  std::int64_t series = 0;
};
// The buckets in `tier` starting in [from, to] of each series in `wants` (out[i], of
// wants[i]), ascending, each once, from the packs (not table rollups of an older
// database); on `conn` as it is (the writer's transaction).
Status read_tier_buckets(pq::Conn& conn, std::int64_t tier, const std::vector<TierWant>& wants,
                         std::int64_t from, std::int64_t to,
                         std::vector<std::vector<RollupBucket>>& out);

}  // namespace vigie::collector::pg
