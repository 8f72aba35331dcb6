#pragma once
// What the PostgreSQL backend writes, on the writer's connection inside its
// transaction: a stored report (agent, replay guard, series, sample block), the state
// engine's StateDelta, tokens, and the housekeeping slices (rollups, retention).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "collector/config_store.hpp"
#include "collector/day_zone.hpp"
#include "collector/postgres/pq.hpp"
#include "collector/rollup_pack.hpp"
#include "collector/state.hpp"
#include "collector/storage.hpp"
#include "collector/writer_times.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::collector::pg {

class Writes {
 public:
  // `max_series`: series one agent may have (0: no bound); a report that would create
  // more is refused with kTooLarge naming the result and the limit.
  Writes(pq::Conn& conn, std::int64_t max_series) : conn_(conn), max_series_(max_series) {}

  // Stores a validated report once per (agent id, seq): kDuplicate changes nothing.
  // Its samples wait for flush_blocks().
  // The agent's row is locked until the transaction ends, so that the reports of one
  // agent are applied one after the other whichever collector receives them.
  Result<IngestOutcome> store(const protocol::Report& report, std::int64_t received_ms);
  // Whether the states of `agent` (locked by store() or lock_agent()) were last
  // written by this collector with its current cache token (set_cache_token), with the
  // downtimes' revision it knows: if not, what it holds in memory of them (or of the
  // downtimes) may be behind what is stored, and the caller reads them again (from
  // then on they count as known).
  bool agent_current(const std::string& agent);
  // Locks the row of an agent already stored for the rest of the transaction; false
  // when there is none.
  Result<bool> lock_agent(const std::string& agent);
  // The name written in agents.states_by by each transaction that writes an agent's
  // states: this collector's, with the epoch of its memory (a new one after a
  // rollback, when memory may be ahead of what is stored).
  void set_cache_token(std::string token) { token_ = std::move(token); }

  // Stores what the state engine and the notifier made. A delta with events,
  // downtimes, audit entries or new checks (what other collectors' views must follow)
  // marks the transaction as one to announce (take_announce()), with its agents, or
  // all of them for downtimes. Its events and outbox rows are
  // written by flush_events(), which gives the events their ids (in `delta`, which
  // must live until then).
  Status persist(StateDelta& delta);
  // Gives the events of the transaction's deltas their ids from the counter (event_ids,
  // schema version 5), in the order they were made, rewrites the outbox rows' alerts
  // that name them, and writes both. Last before COMMIT: the counter's row lock is
  // held until the transaction ends, so that ids are given in commit order.
  Status flush_events();
  // kFailedPrecondition unless the lead's term (vigie_lead) is still `term`; the row
  // is read FOR SHARE, so that a collector taking the lead waits for this transaction.
  Status confirm_lead(std::int64_t term);
  // What the transaction since the last call stored that other collectors must hear
  // of (listen.hpp), if anything; clears it.
  std::optional<Storage::OthersChanged> take_announce();
  // After a rollback: cached row ids may name rows that were rolled back, and the
  // agents' row locks taken since the savepoint are gone.
  void forget_cached_ids();
  // At the start of a transaction: no agent's row is locked yet, no block waits.
  void new_transaction() {
    locked_.clear();
    blocks_.clear();
    events_.clear();
    outbox_.clear();
  }
  // Around each job of a transaction, in its savepoint: when the job fails (its
  // savepoint rolled back), what it left for flush_blocks() goes too.
  void job_starts() {
    job_start_ = blocks_.size();
    job_events_ = events_.size();
    job_outbox_ = outbox_.size();
  }
  void job_failed();
  // Writes the sample blocks of the transaction's stored reports (one COPY); before
  // COMMIT.
  Status flush_blocks();

  Result<std::int64_t> insert_token(const TokenRecord& token, const std::string& hash);
  Result<std::vector<std::int64_t>> insert_tokens(
      const std::vector<std::pair<TokenRecord, std::string>>& tokens);
  Status revoke_token(std::int64_t id, std::int64_t now_ms);
  Result<TokenRecord> enroll(const Enrollment& enrollment);

  // The outbox's settling: delivered ("sent", "digest") or given up ("failed") at
  // now_ms, or (retry_at_ms != 0) due again then; `history` stored with it.
  Status settle_outbox(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                       const std::string& status, const std::string& error,
                       std::int64_t retry_at_ms, std::vector<NotificationRecord> history);

  // Agent configurations (config_store.hpp).
  Result<std::int64_t> change_config(const ConfigChange& change);
  Status put_agent_config_report(const AgentConfigReport& report);

  // The daily partitions of sample_blocks that hold [from_ms, to_ms], each day not
  // covered yet (a database filled by `db copy`: its blocks' days).
  Status make_partitions_for(std::int64_t from_ms, std::int64_t to_ms);

  // The daily partitions of sample_blocks from yesterday to a few days ahead, those not
  // made yet (under the partitions' advisory lock: two collectors never race).
  Status make_partitions(std::int64_t now_ms);

  // A roll-up takes the due blocks of a few agents at a time (a pick): this many blocks
  // in the first pick of a connection, then as many as the last pick's pace fits in the
  // roll-up's share of a slice, twice the last at most and kLeastPick at least, so that a
  // pick lasts about its share whatever the load.
  static constexpr std::int64_t kFirstPick = 256;
  static constexpr std::int64_t kLeastPick = 16;

  // The zone of the daily tier's days this collector rolls up into when it leads
  // (--day-zone; UTC until set). A database whose days are in another zone (table
  // daily_tier) has them rebuilt into this one by housekeeping_slice().
  void set_day_zone(DayZone zone) { day_zone_ = std::move(zone); }

  // One slice of partitions, the daily tier's rebuild into day_zone_ when under way,
  // rollups and retention; sets *more when work is left.
  Status housekeeping_slice(const Retention& retention, std::chrono::milliseconds budget,
                            std::int64_t now_ms, bool* more);
  // What the last housekeeping_slice() did, and how long each part took.
  const SliceWork& slice_work() const { return slice_work_; }

 private:
  bool announce_ = false;
  Storage::OthersChanged announced_;  // what to announce (agents unsorted until taken)
  Result<std::int64_t> agent_id(const protocol::AgentInfo& agent, std::int64_t received_ms);
  // The row id of an agent already stored; kNotFound if none.
  Result<std::int64_t> known_agent_id(const std::string& agent);
  // Makes sure series_ids_ holds every series of `report`'s samples: the agent's
  // series read once, the new ones (and units changed) written in one statement;
  // kTooLarge, naming the result and metric, past the agent's bound.
  Status series_ids(std::int64_t agent, const protocol::Report& report);
  static std::string series_key(std::int64_t agent, const std::string& check,
                                const std::string& metric);
  // The statements that store each part of a StateDelta, added to `batch` (persist()
  // sends them in one round trip). Those that look up the agent's row may fail.
  Status stage_agent(pq::Batch& batch, const AgentState& agent);
  Status stage_checks(pq::Batch& batch, const std::vector<CheckState>& checks);
  // A check's row in the order of stage_checks's columns.
  Result<pq::Params> check_row(const CheckState& check);
  void stage_event(pq::Batch& batch, const Event& event);
  void stage_downtime(pq::Batch& batch, const Downtime& downtime);
  void stage_audit(pq::Batch& batch, const AuditEntry& entry);
  void stage_notification(pq::Batch& batch, const NotificationRecord& notification);
  void stage_outbox(pq::Batch& batch, const OutboxRow& row);
  // `pick_time`: how long one pick should take (the roll-up's share of a slice).
  Status roll_up(std::int64_t now_ms, std::chrono::steady_clock::time_point stop,
                 std::chrono::steady_clock::duration pick_time, bool* more);
  // After a pick of `blocks` that took `took` (`full`: it took as many blocks or agents
  // as it could): pick_blocks_ for the next one.
  void size_next_pick(std::int64_t blocks, bool full, std::chrono::steady_clock::duration took,
                      std::chrono::steady_clock::duration pick_time);
  // Merges `packs`' parts into the stored packs (locked FOR UPDATE while read), or with
  // kReplace puts them in place of what those hold of their series, and writes them
  // back: a statement to read them, one to write them.
  Status write_packs(const PackParts& packs, PackMerger::Mode mode = PackMerger::Mode::kMerge);
  // One slice of the daily tier's move into day_zone_'s days (nothing to do once the
  // database's days are in it), until `stop`: up to kRebuildSeries series a step, each
  // one's days made again from its hourly buckets (those older than its first hour kept
  // as they were), their agents' daily packs rewritten once a step.
  Status rebuild_daily_tier(std::chrono::steady_clock::time_point stop, bool* more);
  // One slice of the move of table rollups (schema 5 and before) into packs.
  Status move_old_rollups(std::chrono::steady_clock::time_point stop, bool* more);
  Status make_partition(std::int64_t from_ms);
  Status drop_partitions(std::int64_t cutoff_ms, bool* more);
  Status apply_retention(const Retention& retention, std::int64_t now_ms,
                         std::chrono::steady_clock::time_point stop, bool* more);

  pq::Conn& conn_;
  const std::int64_t max_series_;
  // The series each agent has, by agent row id: present once its series are in
  // series_ids_.
  std::unordered_map<std::int64_t, std::int64_t> series_counts_;
  // Row ids by agent name and by "agent id \x1f check \x1f metric" (with the unit).
  std::unordered_map<std::string, std::int64_t> agent_ids_;
  // The sample blocks of the reports stored in this transaction, for flush_blocks().
  struct PendingBlock {
    std::int64_t agent, t_min, t_max;
    std::string samples;  // encoded (sample_block.hpp)
  };
  std::vector<PendingBlock> blocks_;
  std::size_t job_start_ = 0;
  // The events and outbox rows of the transaction's deltas, for flush_events().
  std::vector<Event*> events_;
  std::vector<OutboxRow*> outbox_;
  std::size_t job_events_ = 0;
  std::size_t job_outbox_ = 0;
  std::string token_;
  // agents.states_by of the agents this transaction has locked, by name, and the
  // downtimes' revision read with each lock.
  std::unordered_map<std::string, std::string> states_by_;
  std::unordered_map<std::string, std::int64_t> revision_at_lock_;
  std::int64_t downtimes_known_ = -1;  // the downtimes' revision memory holds
  // The agents' rows this transaction has locked (FOR UPDATE), by row id.
  std::unordered_set<std::int64_t> locked_;
  struct SeriesEntry {
    std::int64_t id;
    std::string unit;
  };
  std::unordered_map<std::string, SeriesEntry> series_ids_;
  PackMerger merger_;
  DayZone day_zone_;
  SliceWork slice_work_;
  std::int64_t pick_blocks_ = kFirstPick;  // the next roll-up pick's blocks at most
};

}  // namespace vigie::collector::pg
