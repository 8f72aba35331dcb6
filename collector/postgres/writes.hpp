#pragma once
// What the PostgreSQL backend writes, on the writer's connection inside its
// transaction: a stored report (agent, replay guard, series, sample block), the state
// engine's StateDelta, tokens, and the housekeeping slices (rollups, retention).

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "collector/postgres/pq.hpp"
#include "collector/state.hpp"
#include "collector/storage.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::collector::pg {

class Writes {
 public:
  explicit Writes(pq::Conn& conn) : conn_(conn) {}

  // Stores a validated report once per (agent id, seq): kDuplicate changes nothing.
  // The agent's row is locked until the transaction ends, so that the reports of one
  // agent are applied one after the other whichever collector receives them.
  Result<IngestOutcome> store(const protocol::Report& report, std::int64_t received_ms);
  Status persist(const StateDelta& delta);
  // After a rollback: cached row ids may name rows that were rolled back.
  void forget_cached_ids();

  Result<std::int64_t> insert_token(const TokenRecord& token, const std::string& hash);
  Status revoke_token(std::int64_t id, std::int64_t now_ms);
  Result<TokenRecord> enroll(const Enrollment& enrollment);

  // One slice of rollups and retention; sets *more when work is left.
  Status housekeeping_slice(const Retention& retention, std::chrono::milliseconds budget,
                            std::int64_t now_ms, bool* more);

 private:
  Result<std::int64_t> agent_id(const protocol::AgentInfo& agent, std::int64_t received_ms);
  Result<std::int64_t> series_id(std::int64_t agent, const std::string& check,
                                 const Metric& metric);
  Status store_agent(const AgentState& agent);
  Status store_check(const CheckState& check);
  Status store_event(const Event& event);
  Status store_downtime(const Downtime& downtime);
  Status store_audit(const AuditEntry& entry);
  Status store_notification(const NotificationRecord& notification);
  Status roll_up(std::int64_t now_ms, std::chrono::steady_clock::time_point stop, bool* more);
  Status apply_retention(const Retention& retention, std::int64_t now_ms,
                         std::chrono::steady_clock::time_point stop, bool* more);

  pq::Conn& conn_;
  // Row ids by agent name and by "agent id \x1f check \x1f metric" (with the unit).
  std::unordered_map<std::string, std::int64_t> agent_ids_;
  struct SeriesEntry {
    std::int64_t id;
    std::string unit;
  };
  std::unordered_map<std::string, SeriesEntry> series_ids_;
};

}  // namespace vigie::collector::pg
