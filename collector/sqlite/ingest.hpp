#pragma once
// What a stored report and the state engine's reaction to it write, on the writer's
// connection: the agent, the replay guard (a batches row per report, replay_guard.hpp),
// the series, one sample block, and the StateDelta (agents, checks, events, downtimes,
// audit, notifications, the alert outbox). The statements are prepared once; row ids of
// agents, checks and series are cached. Writer thread only, inside its transaction.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "collector/sqlite/housekeeping.hpp"
#include "collector/state.hpp"
#include "collector/storage.hpp"
#include "common/protocol.hpp"
#include "common/sqlite.hpp"
#include "common/status.hpp"

namespace vigie::collector {

class SqliteIngest {
 public:
  // Prepares the statements on `db` (the writer's connection, which must outlive this).
  // `max_series`: series one agent may have (0: no bound); a report that would create
  // more is refused with kTooLarge naming the result and the limit.
  static Result<std::unique_ptr<SqliteIngest>> prepare(sqlite3* db, std::int64_t max_series = 0);

  // Stores a validated report once per (agent id, seq): kDuplicate changes nothing.
  Result<IngestOutcome> store(const protocol::Report& report, std::int64_t received_ms);
  // Writes what the state engine changed.
  Status persist(const StateDelta& delta);
  // Where to list the blocks written, for their compaction (null: nowhere).
  void list_blocks_in(FreshBlocks* fresh) { fresh_ = fresh; }
  // Call when a transaction or a savepoint rolls back: the caches may hold row ids
  // that were rolled back.
  void forget_cached_ids();

 private:
  SqliteIngest(sqlite3* db, std::int64_t max_series) : db_(db), max_series_(max_series) {}
  Result<std::int64_t> agent_id(const protocol::AgentInfo& agent, std::int64_t received_ms);
  // The row id of an agent already stored; kNotFound if none.
  Result<std::int64_t> known_agent_id(const std::string& agent);
  Result<std::int64_t> series_id(std::int64_t agent_id, const std::string& check,
                                 const Metric& metric);
  Status store_agent(const AgentState& agent);
  Status store_check(const CheckState& check);
  Status store_event(const Event& event);
  Status store_downtime(const Downtime& downtime);
  Status store_audit(const AuditEntry& entry);
  Status store_notification(const NotificationRecord& notification);
  Status store_outbox(const OutboxRow& row);

  sqlite3* db_;
  FreshBlocks* fresh_ = nullptr;
  const std::int64_t max_series_;
  sqlite::Statement find_series_, count_series_;
  std::unordered_map<std::int64_t, std::int64_t> series_counts_;  // by agent row id
  sqlite::Statement insert_agent_, find_agent_, update_agent_, find_batch_, insert_batch_,
      upsert_check_, update_check_, insert_event_, upsert_downtime_, insert_audit_,
      insert_notification_, insert_outbox_, upsert_series_, insert_block_;

  // Series ids by (agent id, check, metric) and their unit, keyed by two independent
  // 64-bit hashes of the three instead of the strings themselves: a fleet has hundreds
  // of thousands of series, and this keeps each entry at 32 bytes. (Two different ids
  // colliding on 128 bits is not a practical concern.)
  struct SeriesKey {
    std::uint64_t a, b;
    bool operator==(const SeriesKey&) const = default;
  };
  struct SeriesHash {
    std::size_t operator()(const SeriesKey& k) const { return static_cast<std::size_t>(k.a); }
  };
  struct SeriesEntry {
    std::int64_t id;
    std::uint64_t unit;  // hash of the unit: a new unit updates the series row
  };
  // Two hashes of (agent row id, check, metric).
  static SeriesKey series_key(std::int64_t agent, std::string_view check, std::string_view metric);
  std::unordered_map<SeriesKey, SeriesEntry, SeriesHash> series_cache_;
  // Checks' row ids by "agent \x1f check", agents' row ids by name.
  std::unordered_map<std::string, std::int64_t> check_rows_;
  std::unordered_map<std::string, std::int64_t> agent_ids_;
};

}  // namespace vigie::collector
