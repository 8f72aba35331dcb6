#include "collector/sqlite/ingest.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "collector/sample_block.hpp"
#include "collector/sqlite/schema.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;

std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}
}  // namespace

SqliteIngest::SeriesKey SqliteIngest::series_key(std::int64_t agent, std::string_view check,
                                                 std::string_view metric) {
  const std::string_view agent_bytes(reinterpret_cast<const char*>(&agent), sizeof agent);
  std::uint64_t a = std::hash<std::string_view>()(check);
  a = a * 31 + std::hash<std::string_view>()(metric);
  a ^= static_cast<std::uint64_t>(agent) * 0x9e3779b97f4a7c15ULL;
  std::uint64_t b = fnv1a(agent_bytes);
  b = fnv1a(check, b);
  b = fnv1a(std::string_view("\x1f", 1), b);
  b = fnv1a(metric, b);
  return {a, b};
}

Result<std::unique_ptr<SqliteIngest>> SqliteIngest::prepare(sqlite3* db, std::int64_t max_series) {
  std::unique_ptr<SqliteIngest> s(new SqliteIngest(db, max_series));
  const struct {
    Statement* stmt;
    const char* sql;
  } table[] = {
      {&s->insert_agent_,
       "INSERT INTO agents (name, site, hostname, version, first_seen_ms, last_seen_ms)"
       " VALUES (?1,?2,?3,?4,?5,?5) ON CONFLICT (name) DO UPDATE SET site = excluded.site"
       " RETURNING id"},
      {&s->update_agent_,
       "UPDATE agents SET site = ?2, hostname = ?3, version = ?4, first_seen_ms = ?5,"
       " last_seen_ms = ?6, last_seq = ?7, clock_skew_ms = ?8, spool_depth = ?9,"
       " spool_oldest_ms = ?10, spool_dropped = ?11, lost_since_ms = ?12 WHERE id = ?1"},
      {&s->find_agent_, "SELECT id FROM agents WHERE name = ?1"},
      // Stored already (replay_guard.hpp): its batches row; or within the range of the
      // greatest first seq at or below it (an agent's ranges never overlap); or at or
      // below the high-water mark of what retention let go, with no result newer than
      // the last of it.
      {&s->find_batch_,
       "SELECT 1 FROM batches WHERE agent_id = ?1 AND seq = ?2"
       " UNION ALL SELECT 1 FROM (SELECT last_seq FROM batch_ranges WHERE agent_id = ?1"
       " AND first_seq <= ?2 ORDER BY first_seq DESC LIMIT 1) WHERE last_seq >= ?2"
       " UNION ALL SELECT 1 FROM agents WHERE id = ?1 AND ?2 <= pruned_seq"
       " AND ?3 <= pruned_received_ms LIMIT 1"},
      {&s->insert_batch_,
       "INSERT INTO batches (agent_id, seq, received_ms, results) VALUES (?1,?2,?3,?4)"},
      {&s->upsert_check_,
       "INSERT INTO checks (agent_id, check_id, name, status, summary, details, metrics, ts_ms,"
       " duration_ms, interval_s, received_ms, since_ms, max_attempts, state_type, attempt,"
       " hard_state, hard_since_ms, history, history_len, flapping, flap_percent, stale,"
       " stale_reason, stale_since_ms, agent_lost, ack, site)"
       " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
       "?22,?23,?24,?25,?26,?27)"
       " ON CONFLICT (agent_id, check_id) DO UPDATE SET name = excluded.name,"
       " status = excluded.status, summary = excluded.summary, details = excluded.details,"
       " metrics = excluded.metrics, ts_ms = excluded.ts_ms, duration_ms = excluded.duration_ms,"
       " interval_s = excluded.interval_s, received_ms = excluded.received_ms,"
       " since_ms = excluded.since_ms, max_attempts = excluded.max_attempts,"
       " state_type = excluded.state_type, attempt = excluded.attempt,"
       " hard_state = excluded.hard_state, hard_since_ms = excluded.hard_since_ms,"
       " history = excluded.history, history_len = excluded.history_len,"
       " flapping = excluded.flapping, flap_percent = excluded.flap_percent,"
       " stale = excluded.stale, stale_reason = excluded.stale_reason,"
       " stale_since_ms = excluded.stale_since_ms, agent_lost = excluded.agent_lost,"
       " ack = excluded.ack, site = excluded.site RETURNING id"},
      // The same by row id, for checks the writer has seen: no unique-index probe.
      {&s->update_check_,
       "UPDATE checks SET name = ?3, status = ?4, summary = ?5, details = ?6, metrics = ?7,"
       " ts_ms = ?8, duration_ms = ?9, interval_s = ?10, received_ms = ?11, since_ms = ?12,"
       " max_attempts = ?13, state_type = ?14, attempt = ?15, hard_state = ?16,"
       " hard_since_ms = ?17, history = ?18, history_len = ?19, flapping = ?20,"
       " flap_percent = ?21, stale = ?22, stale_reason = ?23, stale_since_ms = ?24,"
       " agent_lost = ?25, ack = ?26, site = ?27 WHERE id = ?1 AND check_id = ?2"},
      {&s->insert_event_,
       "INSERT INTO events (id, ts_ms, recorded_ms, kind, site, agent, check_id, from_state,"
       " to_state, state_type, attempt, summary, author, notify, backfill, trap)"
       " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"},
      {&s->upsert_downtime_,
       "INSERT OR REPLACE INTO downtimes (id, site, agent, check_id, start_ms, end_ms, comment,"
       " author, created_ms, weekdays, start_minute, duration_minutes, time_zone, every,"
       " calendar) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"},
      {&s->insert_audit_,
       "INSERT INTO audit (ts_ms, author, action, target, comment, before_value, after_value)"
       " VALUES (?1,?2,?3,?4,?5,?6,?7)"},
      {&s->insert_notification_,
       "INSERT INTO notifications (ts_ms, site, agent, check_id, channel, target, kind, state,"
       " status, detail) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"},
      {&s->find_series_,
       "SELECT id, unit FROM series WHERE agent_id = ?1 AND check_id = ?2 AND metric = ?3"},
      {&s->count_series_, "SELECT count(*) FROM series WHERE agent_id = ?1"},
      {&s->insert_outbox_,
       "INSERT INTO outbox (channel, alert_key, alert, created_ms, due_ms, attempts, error)"
       " VALUES (?1,?2,?3,?4,?5,?6,?7)"},
      {&s->upsert_series_,
       "INSERT INTO series (agent_id, check_id, metric, unit) VALUES (?1,?2,?3,?4)"
       " ON CONFLICT (agent_id, check_id, metric) DO UPDATE SET unit = excluded.unit"
       " RETURNING id"},
      {&s->insert_block_,
       "INSERT INTO sample_blocks (agent_id, t_min, t_max, samples) VALUES (?1,?2,?3,?4)"},
  };
  for (const auto& entry : table) {
    auto stmt = Statement::prepare(db, entry.sql);
    if (!stmt) return stmt.status();
    *entry.stmt = std::move(*stmt);
  }
  return s;
}

void SqliteIngest::forget_cached_ids() {
  series_cache_.clear();
  series_counts_.clear();
  check_rows_.clear();
  agent_ids_.clear();
}

Result<std::int64_t> SqliteIngest::agent_id(const protocol::AgentInfo& agent,
                                            std::int64_t received_ms) {
  if (const auto it = agent_ids_.find(agent.id); it != agent_ids_.end()) return it->second;
  insert_agent_.reset();
  insert_agent_.bind(1, agent.id)
      .bind(2, agent.site)
      .bind(3, agent.hostname)
      .bind(4, agent.version)
      .bind(5, received_ms);
  if (insert_agent_.step() != SQLITE_ROW) return sqlite::error(db_, "store agent");
  const std::int64_t id = insert_agent_.int64(0);
  insert_agent_.reset();
  agent_ids_.emplace(agent.id, id);
  return id;
}

Result<IngestOutcome> SqliteIngest::store(const protocol::Report& report,
                                          std::int64_t received_ms) {
  auto agent = agent_id(report.agent, received_ms);
  if (!agent) return agent.status();
  // A replay stores nothing.
  std::int64_t newest = std::numeric_limits<std::int64_t>::min();
  for (const CheckResult& result : report.results) newest = std::max(newest, result.ts_ms);
  find_batch_.reset();
  find_batch_.bind(1, *agent).bind(2, static_cast<std::int64_t>(report.seq)).bind(3, newest);
  const int found = find_batch_.step();
  find_batch_.reset();
  if (found == SQLITE_ROW) return IngestOutcome::kDuplicate;
  if (found != SQLITE_DONE) return sqlite::error(db_, "look up batch");

  insert_batch_.reset();
  insert_batch_.bind(1, *agent)
      .bind(2, static_cast<std::int64_t>(report.seq))
      .bind(3, received_ms)
      .bind(4, static_cast<std::int64_t>(report.results.size()));
  if (insert_batch_.step() != SQLITE_DONE) return sqlite::error(db_, "store batch");

  std::vector<Sample> samples;
  std::int64_t t_min = std::numeric_limits<std::int64_t>::max();
  std::int64_t t_max = std::numeric_limits<std::int64_t>::min();
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    const CheckResult& result = report.results[i];
    for (std::size_t j = 0; j < result.metrics.size(); ++j) {
      const Metric& m = result.metrics[j];
      if (!m.value) continue;  // "U": nothing to plot
      auto series = series_id(*agent, result.check, m);
      if (!series) {
        if (series.status().code() != Code::kTooLarge) return series.status();
        return Status(Code::kTooLarge, "results[" + std::to_string(i) + "].metrics[" +
                                           std::to_string(j) + "]: " + series.status().message());
      }
      samples.push_back({*series, result.ts_ms, *m.value});
      t_min = std::min(t_min, result.ts_ms);
      t_max = std::max(t_max, result.ts_ms);
    }
  }
  if (!samples.empty()) {
    const std::string block = encode_samples(samples, t_min);
    insert_block_.reset();
    insert_block_.bind(1, *agent).bind(2, t_min).bind(3, t_max).bind_blob(4, block);
    if (insert_block_.step() != SQLITE_DONE) return sqlite::error(db_, "store samples");
    if (fresh_ != nullptr) fresh_->wrote(*agent, sqlite3_last_insert_rowid(db_));
  }
  return IngestOutcome::kStored;
}

Result<std::int64_t> SqliteIngest::series_id(std::int64_t agent_id, const std::string& check,
                                             const Metric& metric) {
  const SeriesKey key = series_key(agent_id, check, metric.label);
  const std::uint64_t unit = fnv1a(metric.unit);
  const auto it = series_cache_.find(key);
  if (it != series_cache_.end() && it->second.unit == unit) return it->second.id;

  if (it == series_cache_.end() && max_series_ > 0) {
    // Not seen since start: an existing series, or a new one within the agent's bound.
    find_series_.reset();
    find_series_.bind(1, agent_id).bind(2, check).bind(3, metric.label);
    const int rc = find_series_.step();
    const bool known = rc == SQLITE_ROW;
    const bool same_unit = known && find_series_.text(1) == metric.unit;
    const std::int64_t id = known ? find_series_.int64(0) : 0;
    find_series_.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::error(db_, "look up series");
    if (same_unit) {
      series_cache_.insert_or_assign(key, SeriesEntry{id, unit});
      return id;
    }
    if (!known) {
      auto count = series_counts_.find(agent_id);
      if (count == series_counts_.end()) {
        count_series_.reset();
        count_series_.bind(1, agent_id);
        if (count_series_.step() != SQLITE_ROW) return sqlite::error(db_, "count series");
        count = series_counts_.emplace(agent_id, count_series_.int64(0)).first;
        count_series_.reset();
      }
      if (count->second >= max_series_) {
        return Status(Code::kTooLarge, "a new series \"" + metric.label + "\" of " + check +
                                           ": this agent has " + std::to_string(count->second) +
                                           " series, the limit (--max-series-per-agent)");
      }
      ++count->second;
    }
  }
  upsert_series_.reset();
  upsert_series_.bind(1, agent_id).bind(2, check).bind(3, metric.label).bind(4, metric.unit);
  if (upsert_series_.step() != SQLITE_ROW) return sqlite::error(db_, "store series");
  const std::int64_t id = upsert_series_.int64(0);
  upsert_series_.reset();
  series_cache_.insert_or_assign(key, SeriesEntry{id, unit});
  return id;
}

Result<std::int64_t> SqliteIngest::known_agent_id(const std::string& agent) {
  if (const auto it = agent_ids_.find(agent); it != agent_ids_.end()) return it->second;
  find_agent_.reset();
  find_agent_.bind(1, agent);
  const int rc = find_agent_.step();
  if (rc == SQLITE_DONE) return Status::not_found("no agent \"" + agent + "\"");
  if (rc != SQLITE_ROW) return sqlite::error(db_, "look up agent");
  const std::int64_t id = find_agent_.int64(0);
  find_agent_.reset();
  agent_ids_.emplace(agent, id);
  return id;
}

Status SqliteIngest::store_check(const CheckState& c) {
  protocol::AgentInfo info{.id = c.agent, .site = c.site};
  // A central check's site is not its agent's: never move the agent row to it.
  auto agent = c.central ? known_agent_id(c.agent) : agent_id(info, c.received_ms);
  if (!agent) return agent.status();
  std::string key = c.agent;
  key += '\x1f';
  key += c.last.check;
  const auto known = check_rows_.find(key);
  Statement& stmt = known != check_rows_.end() ? update_check_ : upsert_check_;
  const std::string metrics = metrics_text(c.last.metrics);
  const std::string ack = ack_text(c.ack);
  stmt.reset();
  stmt.bind(1, known != check_rows_.end() ? known->second : *agent)
      .bind(2, c.last.check)
      .bind(3, c.last.name)
      .bind(4, static_cast<std::int64_t>(c.last.status))
      .bind(5, c.last.summary)
      .bind(6, c.last.details)
      .bind(7, metrics)
      .bind(8, c.last.ts_ms)
      .bind(9, c.last.duration_ms)
      .bind(10, c.last.interval_s)
      .bind(11, c.received_ms)
      .bind(12, c.since_ms)
      .bind(13, static_cast<std::int64_t>(c.max_attempts))
      .bind(14, static_cast<std::int64_t>(c.type == StateType::kHard ? 1 : 0))
      .bind(15, static_cast<std::int64_t>(c.attempt))
      .bind(16, static_cast<std::int64_t>(c.hard_state))
      .bind(17, c.hard_since_ms)
      .bind(18, static_cast<std::int64_t>(c.history))
      .bind(19, static_cast<std::int64_t>(c.history_len))
      .bind(20, static_cast<std::int64_t>(c.flapping))
      .bind(21, c.flap_percent)
      .bind(22, static_cast<std::int64_t>(c.stale))
      .bind(23, c.stale_reason)
      .bind(24, c.stale_since_ms)
      .bind(25, static_cast<std::int64_t>(c.agent_lost))
      .bind(26, ack)
      // '' for a check of the agent's own site: it follows the agent if it moves.
      .bind(27, c.central ? c.site : std::string());
  const int rc = stmt.step();
  if (known == check_rows_.end()) {
    if (rc != SQLITE_ROW) return sqlite::error(db_, "store check state");
    check_rows_.emplace(std::move(key), stmt.int64(0));
  } else if (rc != SQLITE_DONE) {
    return sqlite::error(db_, "store check state");
  }
  stmt.reset();
  return Status::ok();
}

Status SqliteIngest::store_agent(const AgentState& a) {
  auto id = agent_id({.id = a.id, .site = a.site, .hostname = a.hostname, .version = a.version},
                     a.last_seen_ms);
  if (!id) return id.status();
  update_agent_.reset();
  update_agent_.bind(1, *id)
      .bind(2, a.site)
      .bind(3, a.hostname)
      .bind(4, a.version)
      .bind(5, a.first_seen_ms)
      .bind(6, a.last_seen_ms)
      .bind(7, a.last_seq)
      .bind(9, a.spool_depth)
      .bind(10, a.spool_oldest_ms)
      .bind(11, a.spool_dropped)
      .bind(12, a.lost ? a.lost_since_ms : std::int64_t{0});
  if (a.skew_known) update_agent_.bind(8, a.clock_skew_ms);  // unbound: NULL
  if (update_agent_.step() != SQLITE_DONE) return sqlite::error(db_, "store agent");
  return Status::ok();
}

Status SqliteIngest::store_event(const Event& e) {
  insert_event_.reset();
  insert_event_.bind(1, e.id)
      .bind(2, e.ts_ms)
      .bind(3, e.recorded_ms)
      .bind(4, event_kind_name(e.kind))
      .bind(5, e.site)
      .bind(6, e.agent)
      .bind(7, e.check)
      .bind(8, static_cast<std::int64_t>(e.from))
      .bind(9, static_cast<std::int64_t>(e.to))
      .bind(10, static_cast<std::int64_t>(e.type == StateType::kHard ? 1 : 0))
      .bind(11, static_cast<std::int64_t>(e.attempt))
      .bind(12, e.summary)
      .bind(13, e.author)
      .bind(14, static_cast<std::int64_t>(e.notify))
      .bind(15, static_cast<std::int64_t>(e.backfill))
      .bind(16, e.trap);
  if (insert_event_.step() != SQLITE_DONE) return sqlite::error(db_, "store event");
  return Status::ok();
}

Status SqliteIngest::store_downtime(const Downtime& d) {
  upsert_downtime_.reset();
  upsert_downtime_.bind(1, d.id)
      .bind(2, d.site)
      .bind(3, d.agent)
      .bind(4, d.check)
      .bind(5, d.start_ms)
      .bind(6, d.end_ms)
      .bind(7, d.comment)
      .bind(8, d.author)
      .bind(9, d.created_ms)
      .bind(10, static_cast<std::int64_t>(d.weekdays))
      .bind(11, static_cast<std::int64_t>(d.start_minute))
      .bind(12, static_cast<std::int64_t>(d.duration_minutes))
      .bind(13, d.time_zone)
      .bind(14, d.every)
      .bind(15, d.calendar);
  if (upsert_downtime_.step() != SQLITE_DONE) return sqlite::error(db_, "store downtime");
  return Status::ok();
}

Status SqliteIngest::store_audit(const AuditEntry& entry) {
  insert_audit_.reset();
  insert_audit_.bind(1, entry.ts_ms)
      .bind(2, entry.author)
      .bind(3, entry.action)
      .bind(4, entry.target)
      .bind(5, entry.comment)
      .bind(6, entry.before)
      .bind(7, entry.after);
  if (insert_audit_.step() != SQLITE_DONE) return sqlite::error(db_, "store audit entry");
  return Status::ok();
}

Status SqliteIngest::store_notification(const NotificationRecord& n) {
  insert_notification_.reset();
  insert_notification_.bind(1, n.ts_ms)
      .bind(2, n.site)
      .bind(3, n.agent)
      .bind(4, n.check)
      .bind(5, n.channel)
      .bind(6, n.target)
      .bind(7, n.kind)
      .bind(8, static_cast<std::int64_t>(n.state))
      .bind(9, n.status)
      .bind(10, n.detail);
  if (insert_notification_.step() != SQLITE_DONE) return sqlite::error(db_, "store notification");
  return Status::ok();
}

Status SqliteIngest::store_outbox(const OutboxRow& row) {
  insert_outbox_.reset();
  insert_outbox_.bind(1, row.channel)
      .bind(2, row.key)
      .bind(3, row.alert)
      .bind(4, row.created_ms)
      .bind(5, row.due_ms)
      .bind(6, static_cast<std::int64_t>(row.attempts))
      .bind(7, row.error);
  if (insert_outbox_.step() != SQLITE_DONE) return sqlite::error(db_, "store an alert to send");
  return Status::ok();
}

Status SqliteIngest::persist(const StateDelta& delta) {
  for (const auto& a : delta.agents) {
    if (Status s = store_agent(a); !s) return s;
  }
  for (const auto& c : delta.checks) {
    if (Status s = store_check(c); !s) return s;
  }
  for (const auto& e : delta.events) {
    if (Status s = store_event(e); !s) return s;
  }
  for (const auto& d : delta.downtimes) {
    if (Status s = store_downtime(d); !s) return s;
  }
  for (const auto& entry : delta.audit) {
    if (Status s = store_audit(entry); !s) return s;
  }
  for (const auto& n : delta.notifications) {
    if (Status s = store_notification(n); !s) return s;
  }
  for (const auto& row : delta.outbox) {
    if (Status s = store_outbox(row); !s) return s;
  }
  return Status::ok();
}

}  // namespace vigie::collector
