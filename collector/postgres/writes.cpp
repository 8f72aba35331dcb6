#include "collector/postgres/writes.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "collector/alert_message.hpp"
#include "collector/postgres/reads.hpp"
#include "collector/sample_block.hpp"
#include "collector/sqlite/housekeeping.hpp"
#include "collector/sqlite/schema.hpp"
#include "common/log.hpp"

namespace vigie::collector::pg {
namespace {

using Clock = std::chrono::steady_clock;
using pq::Params;

// How far ahead of the collector an agent's clock may be before its samples are
// rolled up without waiting for their bucket to close (as in SQLite).
constexpr std::int64_t kFutureSlackMs = 600'000;
// Rows one retention delete removes at most: more left means another slice.
constexpr std::int64_t kDeleteChunk = 2000;
// Raw sample blocks are partitioned by UTC day (schema version 2), made this many days
// ahead.
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kPartitionDaysAhead = 3;
// Held while partitions are made or dropped, so that two collectors never race on them.
constexpr const char* kPartitionLock = "SELECT pg_advisory_xact_lock(7612002)";
// Held while packs are rewritten (the roll-up, the move of older rows into packs), so
// that two collectors never merge into the same pack at once.
constexpr const char* kRollupLock = "SELECT pg_advisory_xact_lock(7612005)";
// A roll-up pick takes the agents of the first blocks due (by end), one agent for
// kBlocksPerAgent blocks of the pick (an hour of an agent reporting every minute) and
// kRollupAgents at most, and their blocks due up to the pick's size (Writes::pick_blocks_,
// from Writes::kFirstPick), kRollupBlocks at most.
constexpr std::int64_t kBlocksPerAgent = 64;
constexpr std::int64_t kRollupAgents = 64;
constexpr std::int64_t kRollupBlocks = 4096;

// Retention in a tier ($2): its packs that start before $1, 2000 at a time, the oldest
// first in the order of the index by time (as the deletes of apply_retention(): without
// ORDER BY, a table autovacuum has not analyzed yet was read whole, with the dead
// versions every roll-up leaves, at every slice, to find that nothing was due).
constexpr const char* kPacksDelete =
    "DELETE FROM rollup_packs WHERE (tier, agent_id, start_ms) IN (SELECT tier, agent_id,"
    " start_ms FROM rollup_packs WHERE tier = $2 AND start_ms < $1 ORDER BY start_ms"
    " LIMIT 2000)";
// Retention in table rollups (schema version 5 and before) while its rows wait to move
// into packs: a tier's ($2) buckets older than $1, by the index by time as above.
constexpr const char* kOldRollupsDelete =
    "DELETE FROM rollups WHERE (tier, series_id, bucket_ms) IN (SELECT tier, series_id,"
    " bucket_ms FROM rollups WHERE tier = $2 AND bucket_ms < $1 ORDER BY bucket_ms"
    " LIMIT 2000)";

// The start of the oldest span of `tier` a retention cutoff keeps: every pack before it
// ends before the cutoff.
std::int64_t span_cutoff(std::int64_t cutoff, std::int64_t tier) {
  return bucket_of(cutoff, rollup_span(tier));
}

// How long a partition's drop may wait for the writers' locks before it gives way to
// them (and is tried again at the next slice): ingest waits no longer than this.
constexpr const char* kDropLockTimeout = "SET LOCAL lock_timeout = '100ms'";

// "sample_blocks_20261204": the partition of the UTC day that starts at `from_ms`.
std::string partition_name(std::int64_t from_ms) {
  const time_t seconds = static_cast<time_t>(from_ms / 1000);
  tm day{};
  ::gmtime_r(&seconds, &day);
  char name[40];
  std::snprintf(name, sizeof name, "sample_blocks_%04d%02d%02d", day.tm_year + 1900, day.tm_mon + 1,
                day.tm_mday);
  return name;
}

Status run(pq::Conn& conn, const std::string& sql, const Params& params) {
  auto rows = conn.query(sql, params);
  return rows ? Status::ok() : rows.status();
}

constexpr const char* kTokenColumns =
    "SELECT id, role, agent, site, label, created_ms, expires_ms, used_ms, revoked_ms,"
    " report_for FROM tokens";

TokenRecord token_from_row(const pq::Rows& rows, int i) {
  TokenRecord t;
  t.id = rows.int64(i, 0);
  t.role = role_from_name(rows.text(i, 1)).value_or(Role::kViewer);
  t.agent = rows.text(i, 2);
  t.site = rows.text(i, 3);
  t.label = rows.text(i, 4);
  t.created_ms = rows.int64(i, 5);
  t.expires_ms = rows.int64(i, 6);
  t.used_ms = rows.int64(i, 7);
  t.revoked_ms = rows.int64(i, 8);
  t.report_for = rows.text(i, 9);
  return t;
}

}  // namespace

void Writes::job_failed() {
  blocks_.resize(job_start_);
  events_.resize(job_events_);
  outbox_.resize(job_outbox_);
  forget_cached_ids();
}

bool Writes::agent_current(const std::string& agent) {
  const auto it = states_by_.find(agent);
  const auto revision = revision_at_lock_.find(agent);
  const bool current = it != states_by_.end() && !token_.empty() && it->second == token_ &&
                       revision != revision_at_lock_.end() && revision->second == downtimes_known_;
  if (!current && revision != revision_at_lock_.end()) downtimes_known_ = revision->second;
  return current;
}

Result<bool> Writes::lock_agent(const std::string& agent) {
  auto id = known_agent_id(agent);
  if (!id) return id.status().code() == Code::kNotFound ? Result<bool>(false) : id.status();
  if (locked_.contains(*id)) return true;
  auto locked = conn_.query(
      "SELECT id, states_by, (SELECT revision FROM downtimes_revision WHERE id = 1)"
      " FROM agents WHERE id = $1 FOR UPDATE",
      Params().add(*id));
  if (!locked) return locked.status();
  if (locked->size() != 1) return false;
  locked_.insert(*id);
  states_by_[agent] = locked->text(0, 1);
  revision_at_lock_[agent] = locked->int64(0, 2);
  return true;
}

void Writes::forget_cached_ids() {
  agent_ids_.clear();
  locked_.clear();
  states_by_.clear();
  revision_at_lock_.clear();
  series_ids_.clear();
  series_counts_.clear();
}

Result<std::int64_t> Writes::known_agent_id(const std::string& agent) {
  if (const auto it = agent_ids_.find(agent); it != agent_ids_.end()) return it->second;
  auto row = conn_.query("SELECT id FROM agents WHERE name = $1", Params().add(agent));
  if (!row) return row.status().with_context("look up agent");
  if (row->size() == 0) return Status::not_found("no agent \"" + agent + "\"");
  const std::int64_t id = row->int64(0, 0);
  agent_ids_.emplace(agent, id);
  return id;
}

Result<std::int64_t> Writes::agent_id(const protocol::AgentInfo& agent, std::int64_t received_ms) {
  if (const auto it = agent_ids_.find(agent.id); it != agent_ids_.end()) {
    // Locked already in this transaction: held until it ends.
    if (locked_.contains(it->second)) return it->second;
    // Known: lock its row for the rest of the transaction.
    auto locked = conn_.query(
        "SELECT id, states_by, (SELECT revision FROM downtimes_revision WHERE id = 1)"
        " FROM agents WHERE id = $1 FOR UPDATE",
        Params().add(it->second));
    if (!locked) return locked.status();
    if (locked->size() == 1) {
      locked_.insert(it->second);
      states_by_[agent.id] = locked->text(0, 1);
      revision_at_lock_[agent.id] = locked->int64(0, 2);
      return it->second;
    }
    agent_ids_.erase(it);  // gone (rolled back elsewhere): insert it again
  }
  // The upsert locks the row it inserts or finds.
  auto row = conn_.query(
      "INSERT INTO agents (name, site, hostname, version, first_seen_ms, last_seen_ms)"
      " VALUES ($1,$2,$3,$4,$5,$5) ON CONFLICT (name) DO UPDATE SET site = excluded.site"
      " RETURNING id, states_by, (SELECT revision FROM downtimes_revision WHERE id = 1)",
      Params()
          .add(agent.id)
          .add(agent.site)
          .add(agent.hostname)
          .add(agent.version)
          .add(received_ms));
  if (!row) return row.status().with_context("store agent");
  const std::int64_t id = row->int64(0, 0);
  agent_ids_.emplace(agent.id, id);
  locked_.insert(id);
  states_by_[agent.id] = row->text(0, 1);
  revision_at_lock_[agent.id] = row->int64(0, 2);
  return id;
}

Result<IngestOutcome> Writes::store(const protocol::Report& report, std::int64_t received_ms) {
  auto agent = agent_id(report.agent, received_ms);
  if (!agent) return agent.status();
  std::int64_t newest = std::numeric_limits<std::int64_t>::min();
  for (const CheckResult& result : report.results) newest = std::max(newest, result.ts_ms);
  // The replay guard's row first: a replay stores nothing, not even a series. Under
  // the agent's row lock, a report stored by another collector is committed by now and
  // conflicts here; one whose batches row retention let go is known by the agent's
  // high-water mark (pruned_seq). A report refused below (too many series) takes this
  // row with it when its savepoint is rolled back.
  auto stored = conn_.query(
      "INSERT INTO batches (agent_id, seq, received_ms, results)"
      " SELECT $1::bigint, $2::bigint, $3::bigint, $4::bigint WHERE NOT EXISTS"
      " (SELECT 1 FROM agents WHERE id = $1 AND $2 <= pruned_seq AND $5 <= pruned_received_ms)"
      " ON CONFLICT DO NOTHING RETURNING seq",
      Params()
          .add(*agent)
          .add(static_cast<std::int64_t>(report.seq))
          .add(received_ms)
          .add(static_cast<std::int64_t>(report.results.size()))
          .add(newest));
  if (!stored) return stored.status().with_context("store batch");
  if (stored->size() == 0) return IngestOutcome::kDuplicate;
  if (Status s = series_ids(*agent, report); !s) return s;
  std::vector<Sample> samples;
  std::int64_t t_min = std::numeric_limits<std::int64_t>::max();
  std::int64_t t_max = std::numeric_limits<std::int64_t>::min();
  for (const CheckResult& result : report.results) {
    for (const Metric& m : result.metrics) {
      if (!m.value) continue;  // "U": nothing to plot
      samples.push_back(
          {series_ids_.at(series_key(*agent, result.check, m.label)).id, result.ts_ms, *m.value});
      t_min = std::min(t_min, result.ts_ms);
      t_max = std::max(t_max, result.ts_ms);
    }
  }
  // The samples go with the group's others, by COPY before it commits (flush_blocks).
  if (!samples.empty()) blocks_.push_back({*agent, t_min, t_max, encode_samples(samples, t_min)});
  return IngestOutcome::kStored;
}

Status Writes::flush_blocks() {
  if (blocks_.empty()) return Status::ok();
  // Their ids, taken from the blocks' sequence as they join the rollup queue (with
  // their agent and end, which the roll-up chooses by); then the blocks themselves, in
  // one COPY (each to its day's partition).
  pq::ArrayParams queued;
  for (const PendingBlock& b : blocks_) queued.append(Params().add(b.agent).add(b.t_max));
  auto rows_ids = conn_.query(
      "INSERT INTO rollup_pending (block_id, agent_id, t_max)"
      " SELECT nextval('sample_blocks_id_seq'), a, t FROM unnest($1::bigint[], $2::bigint[])"
      " AS u(a, t) RETURNING block_id, agent_id, t_max",
      queued.params());
  if (!rows_ids) return rows_ids.status().with_context("store samples");
  if (rows_ids->size() != static_cast<int>(blocks_.size()))
    return Status::internal("store samples: " + std::to_string(rows_ids->size()) + " ids for " +
                            std::to_string(blocks_.size()) + " blocks");
  // Each block takes the id of a queue row of its agent and end (blocks alike in both
  // are alike to the queue, whichever id each takes).
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::int64_t>> ids_by_key;
  for (int i = rows_ids->size() - 1; i >= 0; --i)
    ids_by_key[{rows_ids->int64(i, 1), rows_ids->int64(i, 2)}].push_back(rows_ids->int64(i, 0));
  std::vector<std::int64_t> ids;
  ids.reserve(blocks_.size());
  for (const PendingBlock& b : blocks_) {
    auto it = ids_by_key.find({b.agent, b.t_max});
    if (it == ids_by_key.end() || it->second.empty())
      return Status::internal("store samples: no queued id for a block of agent " +
                              std::to_string(b.agent));
    ids.push_back(it->second.back());
    it->second.pop_back();
  }
  pq::CopyRows rows;
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const PendingBlock& b = blocks_[i];
    rows.row(5).add(ids[i]).add(b.agent).add(b.t_min).add(b.t_max);
    rows.add_bytes(b.samples);
  }
  Status s = conn_.copy_in(
      "COPY sample_blocks (id, agent_id, t_min, t_max, samples) FROM STDIN BINARY", rows);
  if (!s) return s.with_context("store samples");
  blocks_.clear();
  return Status::ok();
}

std::string Writes::series_key(std::int64_t agent, const std::string& check,
                               const std::string& metric) {
  std::string key = std::to_string(agent);
  key += '\x1f';
  key += check;
  key += '\x1f';
  key += metric;
  return key;
}

Status Writes::series_ids(std::int64_t agent, const protocol::Report& report) {
  // The agent's series, read once (one statement) when it is first seen since the
  // start or since a rollback, rather than a statement per series: after a restart
  // every agent's first report would otherwise wait for a round trip per metric.
  auto count = series_counts_.find(agent);
  if (count == series_counts_.end()) {
    auto rows = conn_.query("SELECT check_id, metric, id, unit FROM series WHERE agent_id = $1",
                            Params().add(agent));
    if (!rows) return rows.status().with_context("look up series");
    for (int r = 0; r < rows->size(); ++r) {
      series_ids_.insert_or_assign(series_key(agent, rows->text(r, 0), rows->text(r, 1)),
                                   SeriesEntry{rows->int64(r, 2), rows->text(r, 3)});
    }
    count = series_counts_.emplace(agent, rows->size()).first;
  }
  // The report's new series (within the agent's bound) and those whose unit changed,
  // each once, written in one statement. Another collector may have written some
  // since: the upsert gives their ids.
  struct Wanted {
    std::string check, metric, unit;
  };
  std::vector<Wanted> wanted;
  std::unordered_map<std::string, std::size_t> wanted_at;
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    const CheckResult& result = report.results[i];
    for (std::size_t j = 0; j < result.metrics.size(); ++j) {
      const Metric& m = result.metrics[j];
      if (!m.value) continue;
      std::string key = series_key(agent, result.check, m.label);
      if (const auto at = wanted_at.find(key); at != wanted_at.end()) {
        wanted[at->second].unit = m.unit;  // the last unit given wins, as it would in turn
        continue;
      }
      const auto known = series_ids_.find(key);
      if (known != series_ids_.end() && known->second.unit == m.unit) continue;
      wanted_at.emplace(std::move(key), wanted.size());
      if (known == series_ids_.end()) {
        if (max_series_ > 0 && count->second >= max_series_) {
          return Status(Code::kTooLarge, "results[" + std::to_string(i) + "].metrics[" +
                                             std::to_string(j) + "]: a new series \"" + m.label +
                                             "\" of " + result.check + ": this agent has " +
                                             std::to_string(count->second) +
                                             " series, the limit (--max-series-per-agent)");
        }
        ++count->second;
      }
      wanted.push_back({result.check, m.label, m.unit});
    }
  }
  if (wanted.empty()) return Status::ok();
  pq::ArrayParams columns;
  for (const Wanted& w : wanted)
    columns.append(Params().add(agent).add(w.check).add(w.metric).add(w.unit));
  auto rows = conn_.query(
      "INSERT INTO series (agent_id, check_id, metric, unit)"
      " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])"
      " ON CONFLICT (agent_id, check_id, metric) DO UPDATE SET unit = excluded.unit"
      " RETURNING check_id, metric, id, unit",
      columns.params());
  if (!rows) return rows.status().with_context("store series");
  if (rows->size() != static_cast<int>(wanted.size()))
    return Status::internal("store series: " + std::to_string(rows->size()) + " rows for " +
                            std::to_string(wanted.size()) + " series");
  for (int r = 0; r < rows->size(); ++r) {
    series_ids_.insert_or_assign(series_key(agent, rows->text(r, 0), rows->text(r, 1)),
                                 SeriesEntry{rows->int64(r, 2), rows->text(r, 3)});
  }
  return Status::ok();
}

Result<Params> Writes::check_row(const CheckState& c) {
  // A central check's site is not its agent's: never move the agent row to it.
  auto agent = c.central ? known_agent_id(c.agent)
                         : agent_id({.id = c.agent, .site = c.site}, c.received_ms);
  if (!agent) return agent.status();
  Params p;
  p.add(*agent)
      .add(c.last.check)
      .add(c.last.name)
      .add(static_cast<std::int64_t>(c.last.status))
      .add(c.last.summary)
      .add(c.last.details)
      .add(metrics_text(c.last.metrics))
      .add(c.last.ts_ms)
      .add(c.last.duration_ms)
      .add(c.last.interval_s)
      .add(c.received_ms)
      .add(c.since_ms)
      .add(static_cast<std::int64_t>(c.max_attempts))
      .add(static_cast<std::int64_t>(c.type == StateType::kHard ? 1 : 0))
      .add(static_cast<std::int64_t>(c.attempt))
      .add(static_cast<std::int64_t>(c.hard_state))
      .add(c.hard_since_ms)
      .add(static_cast<std::int64_t>(c.history))
      .add(static_cast<std::int64_t>(c.history_len))
      .add(static_cast<std::int64_t>(c.flapping))
      .add(c.flap_percent)
      .add(static_cast<std::int64_t>(c.stale))
      .add(c.stale_reason)
      .add(c.stale_since_ms)
      .add(static_cast<std::int64_t>(c.agent_lost))
      .add(ack_text(c.ack))
      // '' for a check of the agent's own site: it follows the agent if it moves.
      .add(c.central ? c.site : std::string());
  return p;
}

Status Writes::stage_checks(pq::Batch& batch, const std::vector<CheckState>& checks) {
  if (checks.empty()) return Status::ok();
  // A check may be in a delta twice (changed, then acknowledged): its last state goes,
  // once (a statement may not update one row twice).
  std::vector<Params> rows;
  std::map<std::pair<std::string, std::string>, std::size_t> row_of;
  for (const CheckState& c : checks) {
    auto row = check_row(c);
    if (!row) return row.status();
    auto [it, added] = row_of.try_emplace({*row->values()[0], c.last.check}, rows.size());
    if (added) rows.push_back(std::move(*row));
    else rows[it->second] = std::move(*row);
  }
  pq::ArrayParams columns;
  for (const Params& row : rows) columns.append(row);
  batch.add(
      "INSERT INTO checks (agent_id, check_id, name, status, summary, details, metrics, ts_ms,"
      " duration_ms, interval_s, received_ms, since_ms, max_attempts, state_type, attempt,"
      " hard_state, hard_since_ms, history, history_len, flapping, flap_percent, stale,"
      " stale_reason, stale_since_ms, agent_lost, ack, site)"
      " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[],"
      " $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],"
      " $12::bigint[], $13::integer[], $14::integer[], $15::integer[], $16::integer[],"
      " $17::bigint[], $18::bigint[], $19::integer[], $20::integer[],"
      " $21::double precision[], $22::integer[], $23::text[], $24::bigint[], $25::integer[],"
      " $26::text[], $27::text[])"
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
      " ack = excluded.ack, site = excluded.site RETURNING (xmax = 0)",
      columns.params());
  return Status::ok();
}

Status Writes::stage_agent(pq::Batch& batch, const AgentState& a) {
  auto id = agent_id({.id = a.id, .site = a.site, .hostname = a.hostname, .version = a.version},
                     a.last_seen_ms);
  if (!id) return id.status();
  Params p;
  p.add(*id)
      .add(a.site)
      .add(a.hostname)
      .add(a.version)
      .add(a.first_seen_ms)
      .add(a.last_seen_ms)
      .add(a.last_seq);
  if (a.skew_known) p.add(a.clock_skew_ms);
  else p.add_null();
  p.add(a.spool_depth)
      .add(a.spool_oldest_ms)
      .add(a.spool_dropped)
      .add(a.lost ? a.lost_since_ms : std::int64_t{0});
  batch.add(
      "UPDATE agents SET site = $2, hostname = $3, version = $4, first_seen_ms = $5,"
      " last_seen_ms = $6, last_seq = $7, clock_skew_ms = $8, spool_depth = $9,"
      " spool_oldest_ms = $10, spool_dropped = $11, lost_since_ms = $12, states_by = $13"
      " WHERE id = $1",
      p.add(token_));
  states_by_[a.id] = token_;
  return Status::ok();
}

void Writes::stage_event(pq::Batch& batch, const Event& e) {
  batch.add(
      "INSERT INTO events (id, ts_ms, recorded_ms, kind, site, agent, check_id,"
      "  from_state, to_state, state_type, attempt, summary, author, notify, backfill,"
      " trap) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
      Params()
          .add(e.id)
          .add(e.ts_ms)
          .add(e.recorded_ms)
          .add(event_kind_name(e.kind))
          .add(e.site)
          .add(e.agent)
          .add(e.check)
          .add(static_cast<std::int64_t>(e.from))
          .add(static_cast<std::int64_t>(e.to))
          .add(static_cast<std::int64_t>(e.type == StateType::kHard ? 1 : 0))
          .add(static_cast<std::int64_t>(e.attempt))
          .add(e.summary)
          .add(e.author)
          .add(e.notify)
          .add(e.backfill)
          .add(e.trap));
}

void Writes::stage_downtime(pq::Batch& batch, const Downtime& d) {
  batch.add(
      "INSERT INTO downtimes (id, site, agent, check_id, start_ms, end_ms, comment, author,"
      "  created_ms, weekdays, start_minute, duration_minutes, time_zone, every, calendar)"
      " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) ON CONFLICT (id) DO UPDATE SET"
      " site = excluded.site, agent = excluded.agent, check_id = excluded.check_id,"
      " start_ms = excluded.start_ms, end_ms = excluded.end_ms, comment = excluded.comment,"
      " author = excluded.author, created_ms = excluded.created_ms,"
      " weekdays = excluded.weekdays, start_minute = excluded.start_minute,"
      "  duration_minutes = excluded.duration_minutes, time_zone = excluded.time_zone,"
      " every = excluded.every, calendar = excluded.calendar",
      Params()
          .add(d.id)
          .add(d.site)
          .add(d.agent)
          .add(d.check)
          .add(d.start_ms)
          .add(d.end_ms)
          .add(d.comment)
          .add(d.author)
          .add(d.created_ms)
          .add(d.weekdays)
          .add(d.start_minute)
          .add(d.duration_minutes)
          .add(d.time_zone)
          .add(d.every)
          .add(d.calendar));
}

void Writes::stage_audit(pq::Batch& batch, const AuditEntry& entry) {
  batch.add(
      "INSERT INTO audit (ts_ms, author, action, target, comment, before_value,"
      " after_value) VALUES ($1,$2,$3,$4,$5,$6,$7)",
      Params()
          .add(entry.ts_ms)
          .add(entry.author)
          .add(entry.action)
          .add(entry.target)
          .add(entry.comment)
          .add(entry.before)
          .add(entry.after));
}

void Writes::stage_notification(pq::Batch& batch, const NotificationRecord& n) {
  batch.add(
      "INSERT INTO notifications (ts_ms, site, agent, check_id, channel, target, kind,"
      " state, status, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
      Params()
          .add(n.ts_ms)
          .add(n.site)
          .add(n.agent)
          .add(n.check)
          .add(n.channel)
          .add(n.target)
          .add(n.kind)
          .add(static_cast<std::int64_t>(n.state))
          .add(n.status)
          .add(n.detail));
}

Status Writes::confirm_lead(std::int64_t term) {
  auto row = conn_.query("SELECT term FROM vigie_lead WHERE id = 1 FOR SHARE");
  if (!row) return row.status().with_context("confirm the lead");
  if (term == 0) return Status(Code::kFailedPrecondition, "this collector does not lead");
  if (row->size() != 1) return Status(Code::kFailedPrecondition, "no row in vigie_lead");
  if (row->int64(0, 0) != term)
    return Status(Code::kFailedPrecondition,
                  "the lead's term is " + row->text(0, 0) + ", not " + std::to_string(term));
  return Status::ok();
}

std::optional<Storage::OthersChanged> Writes::take_announce() {
  if (!std::exchange(announce_, false)) return std::nullopt;
  Storage::OthersChanged out = std::exchange(announced_, {});
  if (out.all) out.agents.clear();
  std::sort(out.agents.begin(), out.agents.end());
  out.agents.erase(std::unique(out.agents.begin(), out.agents.end()), out.agents.end());
  return out;
}

Status Writes::persist(StateDelta& delta) {
  if (!delta.events.empty() || !delta.downtimes.empty() || !delta.audit.empty()) announce_ = true;
  // Downtimes change flags of checks anywhere; events and acknowledgements name theirs.
  if (!delta.downtimes.empty()) announced_.all = true;
  for (const auto& e : delta.events) announced_.agents.push_back(e.agent);
  // Every row in one round trip, a report's checks in one statement.
  pq::Batch batch;
  std::set<std::string> written;  // agents whose states this delta writes
  for (const auto& a : delta.agents) {
    if (Status s = stage_agent(batch, a); !s) return s;
    written.insert(a.id);
  }
  // The agents of checks written without their agent's row (an acknowledgement, a
  // sweep) are marked as written by this collector too.
  std::set<std::string> marked;
  for (const auto& c : delta.checks) {
    if (!written.contains(c.agent)) marked.insert(c.agent);
  }
  for (const auto& agent : marked) {
    batch.add("UPDATE agents SET states_by = $1 WHERE name = $2 AND states_by <> $1",
              Params().add(token_).add(agent));
    if (states_by_.contains(agent)) states_by_[agent] = token_;
  }
  const std::size_t checks = batch.size();
  if (Status s = stage_checks(batch, delta.checks); !s) return s;
  for (const auto& d : delta.downtimes) stage_downtime(batch, d);
  // Other collectors read the downtimes again before their next report; this one's
  // memory holds them (the revision's row lock orders two changes at once).
  std::size_t revision = 0;
  if (!delta.downtimes.empty()) {
    revision = batch.size();
    batch.add(
        "UPDATE downtimes_revision SET revision = revision + 1 WHERE id = 1"
        " RETURNING revision");
  }
  for (const auto& entry : delta.audit) stage_audit(batch, entry);
  for (const auto& n : delta.notifications) stage_notification(batch, n);
  // The events and the outbox rows (whose alerts name events) wait for their ids.
  for (auto& e : delta.events) events_.push_back(&e);
  for (auto& row : delta.outbox) outbox_.push_back(&row);
  if (batch.empty()) return Status::ok();
  auto rows = conn_.pipeline(batch);
  if (!rows) return rows.status().with_context("store states and events");
  // Known only when no other collector's change came between.
  if (revision != 0 && (*rows)[revision].size() == 1 &&
      (*rows)[revision].int64(0, 0) == downtimes_known_ + 1)
    downtimes_known_ = (*rows)[revision].int64(0, 0);
  // A new check (inserted, not updated): other collectors learn of it, so that the
  // lead's sweeps know every check, however quietly it came.
  if (!delta.checks.empty()) {
    const pq::Rows& upserted = (*rows)[checks];
    for (int i = 0; i < upserted.size(); ++i) {
      if (upserted.text(i, 0) != "t") continue;
      announce_ = true;
      for (const auto& c : delta.checks) announced_.agents.push_back(c.agent);
      break;
    }
  }
  return Status::ok();
}

Status Writes::flush_events() {
  pq::Batch batch;
  if (!events_.empty()) {
    const auto n = static_cast<std::int64_t>(events_.size());
    auto last = conn_.query("UPDATE event_ids SET last = last + $1 WHERE id = 1 RETURNING last",
                            Params().add(n));
    if (!last) return last.status().with_context("number events");
    if (last->size() != 1) return Status::internal("number events: event_ids has no row");
    std::int64_t next = last->int64(0, 0) - n;
    std::unordered_map<std::int64_t, std::int64_t> renumbered;
    for (Event* e : events_) {
      renumbered[e->id] = ++next;
      e->id = next;
      stage_event(batch, *e);
    }
    for (OutboxRow* row : outbox_) {
      auto alert = alert_from_json(row->alert);
      if (!alert || alert->event_id == 0) continue;
      const auto it = renumbered.find(alert->event_id);
      if (it == renumbered.end()) continue;
      alert->event_id = it->second;
      row->alert = alert_to_json(*alert);
    }
  }
  for (const OutboxRow* row : outbox_) stage_outbox(batch, *row);
  events_.clear();
  outbox_.clear();
  if (batch.empty()) return Status::ok();
  auto rows = conn_.pipeline(batch);
  return rows ? Status::ok() : rows.status().with_context("store events");
}

void Writes::stage_outbox(pq::Batch& batch, const OutboxRow& row) {
  batch.add(
      "INSERT INTO outbox (channel, alert_key, alert, created_ms, due_ms, attempts,"
      " error) VALUES ($1,$2,$3,$4,$5,$6,$7)",
      Params()
          .add(row.channel)
          .add(row.key)
          .add(row.alert)
          .add(row.created_ms)
          .add(row.due_ms)
          .add(row.attempts)
          .add(row.error));
}

Status Writes::settle_outbox(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                             const std::string& status, const std::string& error,
                             std::int64_t retry_at_ms, std::vector<NotificationRecord> history) {
  std::int64_t changed = 0;
  for (const std::int64_t id : ids) {
    auto rows = retry_at_ms != 0
                    ? conn_.query(
                          "UPDATE outbox SET due_ms = $2, error = $3, attempts = attempts + 1"
                          " WHERE id = $1 AND done_ms = 0",
                          Params().add(id).add(retry_at_ms).add(error))
                    : conn_.query(
                          "UPDATE outbox SET done_ms = $2, status = $3, error = $4,"
                          " attempts = attempts + CASE WHEN $3 = 'failed' THEN 1 ELSE 0 END"
                          " WHERE id = $1 AND done_ms = 0",
                          Params().add(id).add(now_ms).add(status).add(error));
    if (!rows) return rows.status().with_context("settle outbox rows");
    changed += rows->affected();
  }
  // This very record made before (no row changed, each settled at now_ms with this
  // status): its sender could not learn whether its commit went through (a connection
  // lost at COMMIT) and records again; the history it carries is in already.
  if (retry_at_ms == 0 && changed == 0 && !ids.empty()) {
    bool again = true;
    for (const std::int64_t id : ids) {
      auto same = conn_.query("SELECT 1 FROM outbox WHERE id = $1 AND done_ms = $2 AND status = $3",
                              Params().add(id).add(now_ms).add(status));
      if (!same) return same.status().with_context("read outbox rows");
      again = again && same->size() == 1;
    }
    if (again) return Status::ok();
  }
  StateDelta delta;
  delta.notifications = std::move(history);
  return persist(delta);
}

Result<std::int64_t> Writes::change_config(const ConfigChange& change) {
  // The revision row's lock orders the changes of every collector.
  auto current = conn_.query("SELECT revision FROM config_revision WHERE id = 1 FOR UPDATE");
  if (!current) return current.status().with_context("read the configurations' revision");
  if (current->size() == 0) return Status::internal("config_revision has no row");
  const std::int64_t at = current->int64(0, 0);
  if (at != change.based_on) {
    return Status(Code::kFailedPrecondition,
                  "the configurations changed meanwhile (revision " + std::to_string(at) +
                      ", not " + std::to_string(change.based_on) + "): look again and retry");
  }
  const std::int64_t revision = at + 1;
  const std::string kind(config_kind_name(change.kind));
  if (change.document) {
    Status s = run(conn_,
                   "INSERT INTO config_entries (kind, name, document, revision, updated_ms, author)"
                   " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (kind, name) DO UPDATE SET"
                   " document = excluded.document, revision = excluded.revision,"
                   " updated_ms = excluded.updated_ms, author = excluded.author",
                   Params()
                       .add(kind)
                       .add(change.name)
                       .add(*change.document)
                       .add(revision)
                       .add(change.audit.ts_ms)
                       .add(change.audit.author));
    if (!s) return s;
  } else {
    auto removed = conn_.query("DELETE FROM config_entries WHERE kind = $1 AND name = $2",
                               Params().add(kind).add(change.name));
    if (!removed) return removed.status();
    if (removed->affected() == 0)
      return Status::not_found("no " + kind + " \"" + change.name + "\" to remove");
  }
  if (Status s = run(conn_, "UPDATE config_revision SET revision = $1 WHERE id = 1",
                     Params().add(revision));
      !s)
    return s;
  pq::Batch audit;
  stage_audit(audit, change.audit);
  if (auto s = conn_.pipeline(audit); !s) return s.status().with_context("store audit entry");
  return revision;
}

Status Writes::put_agent_config_report(const AgentConfigReport& r) {
  return run(conn_,
             "INSERT INTO agent_config_reports (agent, running, refused, error, reported_ms)"
             " VALUES ($1,$2,$3,$4,$5) ON CONFLICT (agent) DO UPDATE SET"
             " running = excluded.running, refused = excluded.refused,"
             " error = excluded.error, reported_ms = excluded.reported_ms",
             Params().add(r.agent).add(r.running).add(r.refused).add(r.error).add(r.reported_ms));
}

// Tokens ---------------------------------------------------------------------------

Result<std::int64_t> Writes::insert_token(const TokenRecord& t, const std::string& hash) {
  auto row = conn_.query(
      "INSERT INTO tokens (hash, role, agent, site, label, created_ms, expires_ms, report_for)"
      " VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
      Params()
          .add(hash)
          .add(role_name(t.role))
          .add(t.agent)
          .add(t.site)
          .add(t.label)
          .add(t.created_ms)
          .add(t.expires_ms)
          .add(t.report_for));
  if (!row) return row.status().with_context("store token");
  return row->int64(0, 0);
}

Result<std::vector<std::int64_t>> Writes::insert_tokens(
    const std::vector<std::pair<TokenRecord, std::string>>& tokens) {
  std::vector<std::int64_t> ids;
  for (const auto& [record, hash] : tokens) {
    auto inserted = insert_token(record, hash);
    if (!inserted) return inserted.status();
    ids.push_back(*inserted);
  }
  return ids;
}

Status Writes::revoke_token(std::int64_t id, std::int64_t now_ms) {
  auto found = conn_.query("SELECT 1 FROM tokens WHERE id = $1", Params().add(id));
  if (!found) return found.status();
  if (found->size() == 0) return Status::not_found("no token with id " + std::to_string(id));
  return run(conn_, "UPDATE tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms = 0",
             Params().add(now_ms).add(id));
}

Result<TokenRecord> Writes::enroll(const Enrollment& e) {
  // FOR UPDATE: two collectors exchanging the same token at once, one wins.
  auto found =
      conn_.query(std::string(kTokenColumns) + " WHERE hash = $1 AND role = 'enroll' FOR UPDATE",
                  Params().add(e.enroll_hash));
  if (!found) return found.status();
  if (found->size() == 0) return Status(Code::kUnauthenticated, "unknown enrollment token");
  const TokenRecord token = token_from_row(*found, 0);
  if (token.revoked_ms != 0) return Status(Code::kPermissionDenied, "enrollment token revoked");
  if (token.used_ms != 0)
    return Status(Code::kPermissionDenied,
                  "enrollment token already used (by agent \"" + token.agent + "\")");
  if (token.expires_ms != 0 && token.expires_ms <= e.now_ms)
    return Status(Code::kPermissionDenied, "enrollment token expired");
  if (!token.agent.empty() && token.agent != e.agent)
    return Status(Code::kPermissionDenied,
                  "enrollment token is for agent \"" + token.agent + "\", not \"" + e.agent + "\"");
  if (!e.site.empty() && e.site != token.site)
    return Status(Code::kPermissionDenied,
                  "enrollment token is for site \"" + token.site + "\", not \"" + e.site + "\"");
  // An agent id belongs to one site: a token for site A cannot take over B's agent.
  auto owner = conn_.query(
      "SELECT site FROM tokens WHERE role = 'agent' AND agent = $1"
      " AND site <> $2 LIMIT 1",
      Params().add(e.agent).add(token.site));
  if (!owner) return owner.status();
  if (owner->size() > 0)
    return Status(Code::kAlreadyExists,
                  "agent id \"" + e.agent + "\" belongs to site \"" + owner->text(0, 0) + "\"");
  if (Status s = run(conn_, "UPDATE tokens SET used_ms = $1, agent = $2 WHERE id = $3",
                     Params().add(e.now_ms).add(e.agent).add(token.id));
      !s)
    return s;
  // A re-installed agent enrolls again: its older tokens stop working.
  if (Status s = run(conn_,
                     "UPDATE tokens SET revoked_ms = $1"
                     " WHERE role = 'agent' AND agent = $2 AND revoked_ms = 0",
                     Params().add(e.now_ms).add(e.agent));
      !s)
    return s;
  TokenRecord issued;
  issued.role = Role::kAgent;
  issued.agent = e.agent;
  issued.site = token.site;
  issued.label = "enrolled with token " + std::to_string(token.id);
  issued.created_ms = e.now_ms;
  issued.report_for = token.report_for;  // a central poller's right goes with it
  auto id = insert_token(issued, e.agent_token_hash);
  if (!id) return id.status();
  issued.id = *id;
  return issued;
}

// Housekeeping ---------------------------------------------------------------------

// Rolls up the pending blocks of the hours that are over (or whose clock is far ahead),
// until `stop`, a pick at a time: the agents of the blocks that end first (and last, of
// those far ahead) with their blocks due, as many as pick_blocks_, so that each of their
// packs is rewritten once for an hour of blocks rather than once a block. Their samples
// join the tiers' buckets (late samples merge into buckets already there) and they leave
// the queue, in the same transaction. Until then, reads add the queued blocks
// themselves. The writer waits for a pick whole: its size follows the time the last one
// took (size_next_pick), so that at the end of an hour, when every agent's blocks fall
// due at once, a pick takes about `pick_time` rather than 64 agents' hours at once (0.1
// to 0.5 s on 2 shared cores, docs/performance.md, while every report waits).
Status Writes::roll_up(std::int64_t now, Clock::time_point stop, Clock::duration pick_time,
                       bool* more) {
  const std::int64_t closed_before = bucket_of(now, kHourMs);
  // Packs are read, merged and written back: one writer at a time.
  if (Status s = conn_.exec(kRollupLock); !s) return s;
  std::vector<Sample> samples;
  for (;;) {
    const auto pick_start = Clock::now();
    const std::int64_t agents_at_most =
        std::clamp(pick_blocks_ / kBlocksPerAgent, std::int64_t{1}, kRollupAgents);
    auto blocks = conn_.query(
        "WITH due AS (SELECT DISTINCT agent_id FROM ((SELECT agent_id FROM rollup_pending"
        " WHERE t_max < $1 ORDER BY t_max LIMIT $3) UNION ALL (SELECT agent_id"
        " FROM rollup_pending WHERE t_max > $2 ORDER BY t_max DESC LIMIT $3)) oldest),"
        " picked AS (SELECT block_id, t_max FROM rollup_pending"
        " WHERE agent_id IN (SELECT agent_id FROM due) AND (t_max < $1 OR t_max > $2)"
        " ORDER BY block_id LIMIT $4 FOR UPDATE SKIP LOCKED),"
        " gone AS (DELETE FROM rollup_pending WHERE block_id IN (SELECT block_id FROM picked)"
        " RETURNING block_id, t_max)"
        " SELECT b.id, b.agent_id, b.t_min, b.samples FROM sample_blocks b"
        " JOIN gone g ON g.block_id = b.id AND g.t_max = b.t_max",
        Params()
            .add(closed_before)
            .add(now + kFutureSlackMs)
            .add(agents_at_most)
            .add(pick_blocks_));
    if (!blocks) return blocks.status().with_context("read sample blocks");
    // (tier, agent, series, bucket): in the order the packs take them.
    std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>, Aggregate> buckets;
    for (int i = 0; i < blocks->size(); ++i) {
      samples.clear();
      // A damaged block cannot be rolled up; say so and move past it.
      if (Status d = decode_samples(blocks->bytes(i, 3), blocks->int64(i, 2), samples); !d)
        log::error("storage: sample block " + std::to_string(blocks->int64(i, 0)) + ": " +
                   d.message());
      const std::int64_t agent = blocks->int64(i, 1);
      for (const auto& sample : samples) {
        for (std::int64_t tier : {kFiveMinutesMs, kHourMs})
          buckets[{tier, agent, sample.series, bucket_of(sample.ts_ms, tier)}].add(sample.value);
        // The daily tier's days are local ones (day_zone.hpp): the database's, which
        // rebuild_daily_tier() made day_zone_ at the start of the slice.
        buckets[{kDayMs, agent, sample.series, day_zone_.day_of(sample.ts_ms)}].add(sample.value);
      }
    }
    PackParts packs;
    std::vector<RollupBucket> series_buckets;
    for (auto it = buckets.begin(); it != buckets.end();) {
      const auto [tier, agent, series, bucket] = it->first;
      series_buckets.clear();
      for (; it != buckets.end() && std::get<0>(it->first) == tier &&
             std::get<2>(it->first) == series;
           ++it) {
        const Aggregate& a = it->second;
        series_buckets.push_back({std::get<3>(it->first), a.min, a.max, a.sum, a.n});
      }
      add_to_packs(packs, tier, agent, series, series_buckets);
    }
    if (Status s = write_packs(packs); !s) return s.with_context("store rollups");
    if (blocks->size() == 0) return Status::ok();
    std::set<std::int64_t> agents;
    for (int i = 0; i < blocks->size(); ++i) agents.insert(blocks->int64(i, 1));
    slice_work_.blocks_rolled_up += blocks->size();
    slice_work_.rollup_agents += static_cast<std::int64_t>(agents.size());
    ++slice_work_.rollup_picks;
    const auto took = Clock::now() - pick_start;
    slice_work_.longest_pick = std::max(slice_work_.longest_pick, took);
    const bool full = blocks->size() >= pick_blocks_ ||
                      static_cast<std::int64_t>(agents.size()) >= agents_at_most;
    size_next_pick(blocks->size(), full, took, pick_time);
    if (Clock::now() >= stop) {
      *more = true;
      return Status::ok();
    }
  }
}

void Writes::size_next_pick(std::int64_t blocks, bool full, Clock::duration took,
                            Clock::duration pick_time) {
  // As many blocks as this pick's pace fits in pick_time: fewer after a pick that took
  // longer; more after a full one (as many blocks or agents as it could take) that took
  // less, twice as many at most, so that a size grows step by step. A pick that took
  // every block due says nothing of a larger one.
  const double fits = static_cast<double>(blocks) * static_cast<double>(pick_time.count()) /
                      std::max<double>(1, static_cast<double>(took.count()));
  if (took > pick_time) {
    pick_blocks_ = std::max(kLeastPick, static_cast<std::int64_t>(fits));
  } else if (full) {
    pick_blocks_ = std::min({kRollupBlocks, 2 * pick_blocks_, static_cast<std::int64_t>(fits)});
  }
}

Status Writes::write_packs(const PackParts& packs, PackMerger::Mode mode) {
  if (packs.empty()) return Status::ok();
  pq::ArrayParams keys;
  for (const auto& [key, parts] : packs) {
    const auto [tier, agent, start] = key;
    keys.append(Params().add(tier).add(agent).add(start));
  }
  auto stored = conn_.query(
      "SELECT tier, agent_id, start_ms, buckets FROM rollup_packs"
      " WHERE (tier, agent_id, start_ms) IN"
      " (SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[])) FOR UPDATE",
      keys.params());
  if (!stored) return stored.status();
  std::map<PackKey, int> row_of;
  for (int i = 0; i < stored->size(); ++i)
    row_of[{stored->int64(i, 0), stored->int64(i, 1), stored->int64(i, 2)}] = i;
  pq::ArrayParams writes, removes;
  std::string pack;
  for (const auto& [key, parts] : packs) {
    const auto [tier, agent, start] = key;
    auto row = row_of.find(key);
    if (row != row_of.end()) pack = stored->bytes(row->second, 3);
    else pack.clear();
    const std::string merged =
        merger_.merge(pack, tier, start, parts, mode,
                      "agent " + std::to_string(agent) + ", tier " + std::to_string(tier) + " at " +
                          std::to_string(start));
    if (!merged.empty()) writes.append(Params().add(tier).add(agent).add(start).add_bytes(merged));
    else if (row != row_of.end()) removes.append(Params().add(tier).add(agent).add(start));
  }
  if (writes.rows() > 0) {
    if (Status s = run(conn_,
                       "INSERT INTO rollup_packs (tier, agent_id, start_ms, buckets)"
                       " SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[],"
                       " $4::bytea[]) ON CONFLICT (tier, agent_id, start_ms)"
                       " DO UPDATE SET buckets = excluded.buckets",
                       writes.params());
        !s)
      return s;
  }
  if (removes.rows() > 0) {
    return run(conn_,
               "DELETE FROM rollup_packs WHERE (tier, agent_id, start_ms) IN"
               " (SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[]))",
               removes.params());
  }
  return Status::ok();
}

// One slice of the move of table rollups (schema version 5 and before) into packs, a
// pack at a time until `stop` (one at least): the first row left names a tier, a series and a span;
// every row of that tier and span of the series' agent moves at once, merged into the
// pack (whose buckets rolled up since may already be there), and leaves the table in
// the same transaction. Rows of a series no longer in table series are dropped.
Status Writes::move_old_rollups(Clock::time_point stop, bool* more) {
  for (;;) {
    auto first = conn_.query(
        "SELECT r.tier, r.series_id, r.bucket_ms, s.agent_id FROM rollups r"
        " LEFT JOIN series s ON s.id = r.series_id ORDER BY r.tier, r.series_id, r.bucket_ms"
        " LIMIT 1");
    if (!first) return first.status().with_context("read rollups");
    if (first->size() == 0) return Status::ok();
    const std::int64_t tier = first->int64(0, 0);
    const std::int64_t series = first->int64(0, 1);
    if (first->null(0, 3)) {
      log::error("storage: rollups of series " + std::to_string(series) +
                 ", which is not in table series: dropped");
      if (Status s = run(conn_, "DELETE FROM rollups WHERE series_id = $1", Params().add(series));
          !s)
        return s;
      continue;
    }
    const std::int64_t agent = first->int64(0, 3);
    const std::int64_t span = rollup_span(tier);
    const std::int64_t start = bucket_of(first->int64(0, 2), span);
    auto rows = conn_.query(
        "DELETE FROM rollups WHERE tier = $1 AND series_id IN"
        " (SELECT id FROM series WHERE agent_id = $2) AND bucket_ms >= $3 AND bucket_ms < $4"
        " RETURNING series_id, bucket_ms, min_value, max_value, sum_value, n",
        Params().add(tier).add(agent).add(start).add(start + span));
    if (!rows) return rows.status().with_context("move rollups");
    std::map<std::int64_t, std::vector<RollupBucket>> by_series;
    for (int i = 0; i < rows->size(); ++i) {
      if (rows->int64(i, 5) <= 0) continue;  // no sample: no bucket
      by_series[rows->int64(i, 0)].push_back({rows->int64(i, 1), rows->real(i, 2), rows->real(i, 3),
                                              rows->real(i, 4), rows->int64(i, 5)});
    }
    PackParts packs;
    for (auto& [id, buckets] : by_series) {
      std::sort(buckets.begin(), buckets.end(),
                [](const RollupBucket& a, const RollupBucket& b) { return a.ts_ms < b.ts_ms; });
      add_to_packs(packs, tier, agent, id, buckets);
    }
    if (Status s = write_packs(packs); !s) return s.with_context("move rollups");
    slice_work_.packs_moved += static_cast<std::int64_t>(packs.size());
    // A pack a slice at least, so that the move always gets on.
    if (Clock::now() >= stop) {
      *more = true;
      return Status::ok();
    }
  }
}

namespace {

// Series rebuilt a step of the daily tier's rebuild (as SQLite's).
constexpr std::int64_t kRebuildSeries = 64;
constexpr std::int64_t kAllTime = std::int64_t{1} << 60;

std::string zone_said(const std::string& zone) { return zone.empty() ? "no zone" : zone; }

}  // namespace

// As SQLite's rebuild_daily_tier (sqlite/rollups.hpp), the progress in table daily_tier:
// under the roll-up's lock, so that no roll-up merges into the packs a step rewrites.
// A step replaces (PackMerger's kReplace) its series' parts of each daily pack of their
// agents: done twice (a slice repeated after a rollback), it writes the same packs.
Status Writes::rebuild_daily_tier(Clock::time_point stop, bool* more) {
  auto state = read_daily_tier_zone(conn_);
  if (!state) return state.status();
  const std::string& zone = day_zone_.name();
  if (state->next.empty() && state->zone == zone) return Status::ok();
  if (Status s = conn_.exec(kRollupLock); !s) return s;
  // Read again under the lock: another lead's slice may have moved it on meanwhile.
  state = read_daily_tier_zone(conn_);
  if (!state) return state.status();
  if (state->next.empty() && state->zone == zone) return Status::ok();
  // No hourly or daily bucket yet (a new database): nothing to rebuild.
  auto empty = conn_.query(
      "SELECT NOT EXISTS (SELECT 1 FROM rollup_packs WHERE tier IN ($1, $2))"
      " AND NOT EXISTS (SELECT 1 FROM rollups)",
      Params().add(kHourMs).add(kDayMs));
  if (!empty) return empty.status();
  if (empty->text(0, 0) == "t") {
    return run(conn_, "UPDATE daily_tier SET zone = $1, next_zone = '', rebuilt_through = 0",
               Params().add(zone));
  }
  if (state->next != zone) {
    // A new rebuild (or one towards another zone than the one under way, that of a
    // collector that led before with another --day-zone): from the first series. From
    // now on new samples go into `zone`'s days.
    if (Status s = run(conn_, "UPDATE daily_tier SET next_zone = $1, rebuilt_through = 0",
                       Params().add(zone));
        !s)
      return s;
    state->rebuilt_through = 0;
    log::notice("storage: the daily tier's days move from " + zone_said(state->zone) + " to " +
                zone);
  }
  // An older database's rows (table rollups) are moved into packs first.
  auto old = conn_.query("SELECT EXISTS (SELECT 1 FROM rollups)");
  if (!old) return old.status();
  if (old->text(0, 0) == "t") {
    *more = true;
    return Status::ok();
  }
  std::int64_t cursor = state->rebuilt_through;
  std::vector<TierWant> wants;
  std::vector<std::vector<RollupBucket>> hours, days;
  for (;;) {
    auto ids = conn_.query("SELECT id, agent_id FROM series WHERE id > $1 ORDER BY id LIMIT $2",
                           Params().add(cursor).add(kRebuildSeries));
    if (!ids) return ids.status().with_context("read series");
    wants.clear();
    for (int i = 0; i < ids->size(); ++i) wants.push_back({ids->int64(i, 1), ids->int64(i, 0)});
    if (Status s = read_tier_buckets(conn_, kHourMs, wants, -kAllTime, kAllTime, hours); !s)
      return s;
    if (Status s = read_tier_buckets(conn_, kDayMs, wants, -kAllTime, kAllTime, days); !s) return s;
    // Each series' new days (days older than its first hour as they were), and every
    // daily pack of its agent's: each gets the series' days in its span, or loses them.
    std::map<std::int64_t, std::map<std::int64_t, std::vector<RollupBucket>>> by_agent;
    for (std::size_t w = 0; w < wants.size(); ++w) {
      std::map<std::int64_t, RollupBucket> rebuilt;
      const std::int64_t first =
          hours[w].empty() ? kAllTime : day_zone_.day_of(hours[w].front().ts_ms);
      for (const RollupBucket& d : days[w])
        if (d.ts_ms < first) rebuilt.emplace(d.ts_ms, d);
      for (RollupBucket h : hours[w]) {
        h.ts_ms = day_zone_.day_of(h.ts_ms);
        auto [it, fresh] = rebuilt.try_emplace(h.ts_ms, h);
        if (!fresh) merge_bucket(it->second, h);
      }
      auto& into = by_agent[wants[w].agent][wants[w].series];
      for (const auto& [key, b] : rebuilt) into.push_back(b);
    }
    PackParts packs;
    if (!by_agent.empty()) {
      pq::ArrayParams agents;
      for (const auto& [agent, _] : by_agent) agents.append(Params().add(agent));
      Params params = agents.params();
      params.add(kDayMs);
      auto spans = conn_.query(
          "SELECT agent_id, start_ms FROM rollup_packs WHERE tier = $2"
          " AND agent_id = ANY($1::bigint[])",
          params);
      if (!spans) return spans.status().with_context("read daily rollups");
      for (int i = 0; i < spans->size(); ++i)
        packs[{kDayMs, spans->int64(i, 0), spans->int64(i, 1)}];
    }
    const std::int64_t width = rollup_span(kDayMs);
    for (const auto& [agent, series] : by_agent)
      for (const auto& [id, buckets] : series)
        for (const RollupBucket& b : buckets) packs[{kDayMs, agent, bucket_of(b.ts_ms, width)}];
    for (auto& [key, parts] : packs) {
      const std::int64_t agent = std::get<1>(key);
      const std::int64_t start = std::get<2>(key);
      for (const auto& [id, buckets] : by_agent[agent]) {
        PackPart& part = parts.emplace_back(PackPart{.series = id});
        for (const RollupBucket& b : buckets)
          if (b.ts_ms >= start && b.ts_ms < start + width) part.buckets.push_back(b);
      }
    }
    if (Status s = write_packs(packs, PackMerger::Mode::kReplace); !s)
      return s.with_context("store daily rollups");
    if (!wants.empty()) cursor = wants.back().series;
    if (wants.size() < static_cast<std::size_t>(kRebuildSeries)) {
      // Every series done: the tier is in `zone`.
      if (Status s =
              run(conn_, "UPDATE daily_tier SET zone = $1, next_zone = '', rebuilt_through = 0",
                  Params().add(zone));
          !s)
        return s;
      log::notice("storage: the daily tier's days are in " + zone);
      return Status::ok();
    }
    if (Clock::now() >= stop) {
      *more = true;
      return run(conn_, "UPDATE daily_tier SET rebuilt_through = $1", Params().add(cursor));
    }
  }
}

// Makes the partition of the UTC day that starts at `from`, apart, gives it the blocks
// of its day that the default partition took meanwhile, then attaches it: ATTACH locks
// the table against schema changes only, so ingest goes on. The caller holds
// kPartitionLock.
Status Writes::make_partition(std::int64_t from) {
  const std::int64_t to = (from / kDayMs + 1) * kDayMs;
  const std::string name = partition_name(from);
  const std::string range = std::to_string(from) + ") TO (" + std::to_string(to);
  Status s = conn_.exec("CREATE TABLE " + name +
                        " (LIKE sample_blocks INCLUDING DEFAULTS INCLUDING CONSTRAINTS)");
  if (s)
    s = run(conn_,
            "WITH moved AS (DELETE FROM sample_blocks_default WHERE t_max >= $1 AND t_max < $2"
            " RETURNING *) INSERT INTO " +
                name + " SELECT * FROM moved",
            Params().add(from).add(to));
  if (s)
    s = conn_.exec("ALTER TABLE sample_blocks ATTACH PARTITION " + name + " FOR VALUES FROM (" +
                   range + ")");
  if (s)
    s = run(conn_, "INSERT INTO sample_partitions (name, from_ms, to_ms) VALUES ($1,$2,$3)",
            Params().add(name).add(from).add(to));
  if (!s) return s.with_context("make partition " + name);
  ++slice_work_.partitions_made;
  log::info("storage: partition " + name + " made");
  return Status::ok();
}

Status Writes::make_partitions_for(std::int64_t from_ms, std::int64_t to_ms) {
  if (Status s = conn_.exec(kPartitionLock); !s) return s;
  for (std::int64_t day = bucket_of(from_ms, kDayMs); day <= to_ms; day += kDayMs) {
    auto covered = conn_.query(
        "SELECT EXISTS (SELECT 1 FROM sample_partitions WHERE from_ms < $2 AND to_ms > $1)",
        Params().add(day).add(day + kDayMs));
    if (!covered) return covered.status().with_context("read partitions");
    if (covered->text(0, 0) == "t") continue;
    if (Status s = make_partition(day); !s) return s;
  }
  return Status::ok();
}

// Makes the daily partitions of sample_blocks up to kPartitionDaysAhead days from now,
// each from where the last one ends (sample_partitions), so that ranges never overlap
// and days of a stop are caught up.
Status Writes::make_partitions(std::int64_t now) {
  const std::int64_t until = (now / kDayMs + kPartitionDaysAhead) * kDayMs;
  auto covered = conn_.query("SELECT coalesce(max(to_ms), 0) FROM sample_partitions");
  if (!covered) return covered.status().with_context("read partitions");
  if (covered->int64(0, 0) >= until) return Status::ok();
  if (Status s = conn_.exec(kPartitionLock); !s) return s;
  covered = conn_.query("SELECT coalesce(max(to_ms), 0) FROM sample_partitions");
  if (!covered) return covered.status().with_context("read partitions");
  std::int64_t from = covered->int64(0, 0);
  // Stopped for weeks: the days missed stay in the default partition, not one each.
  from = std::max(from, (now / kDayMs - 1) * kDayMs);
  while (from < until) {
    if (Status s = make_partition(from); !s) return s;
    from = (from / kDayMs + 1) * kDayMs;
  }
  return Status::ok();
}

// Drops the partitions wholly older than `cutoff` whose blocks are all rolled up. A
// drop takes an exclusive lock on the table: it waits at most kDropLockTimeout for the
// writers, in a savepoint of its own, and otherwise gives way until the next slice.
Status Writes::drop_partitions(std::int64_t cutoff, bool* more) {
  auto old =
      conn_.query("SELECT name FROM sample_partitions WHERE to_ms <= $1 ORDER BY to_ms LIMIT 4",
                  Params().add(cutoff));
  if (!old) return old.status().with_context("read partitions");
  if (old->size() == 0) return Status::ok();
  if (Status s = conn_.exec(kPartitionLock); !s) return s;
  if (old->size() == 4) *more = true;
  for (int i = 0; i < old->size(); ++i) {
    const std::string name = old->text(i, 0);
    auto pending = conn_.query("SELECT EXISTS (SELECT 1 FROM rollup_pending p JOIN " + name +
                               " b ON b.id = p.block_id)");
    if (!pending) return pending.status().with_context("read partition " + name);
    if (pending->text(0, 0) == "t") continue;  // rolled up first
    if (Status s = conn_.exec("SAVEPOINT drop_partition"); !s) return s;
    Status s = conn_.exec(kDropLockTimeout);
    if (s) s = conn_.exec("DROP TABLE " + name);
    if (s) s = run(conn_, "DELETE FROM sample_partitions WHERE name = $1", Params().add(name));
    if (s) s = conn_.exec("RESET lock_timeout");
    if (s) s = conn_.exec("RELEASE SAVEPOINT drop_partition");
    if (!s) {
      if (Status r = conn_.exec("ROLLBACK TO SAVEPOINT drop_partition"); !r) return r;
      (void)conn_.exec("RELEASE SAVEPOINT drop_partition");
      log::notice("storage: retention: partition " + name + " not dropped yet: " + s.message());
      return Status::ok();
    }
    ++slice_work_.partitions_dropped;
    log::info("storage: retention: partition " + name + " dropped");
  }
  return Status::ok();
}

Status Writes::apply_retention(const Retention& retention, std::int64_t now, Clock::time_point stop,
                               bool* more) {
  const struct {
    const char* sql;
    std::int64_t cutoff;
    std::int64_t extra;
  } deletes[] = {
      // Raw blocks go by partition (drop_partitions); only the few of the default
      // partition, which no day's partition covered, are deleted, once rolled up.
      {"DELETE FROM sample_blocks_default WHERE id IN (SELECT b.id FROM sample_blocks_default b"
       " WHERE b.t_max < $1 AND $2 = 0 AND NOT EXISTS"
       " (SELECT 1 FROM rollup_pending p WHERE p.block_id = b.id) LIMIT 2000)",
       now - retention.raw.count(), 0},
      // A pack goes once its whole span is past its tier's retention.
      {kPacksDelete, span_cutoff(now - retention.five_minutes.count(), kFiveMinutesMs),
       kFiveMinutesMs},
      {kPacksDelete, span_cutoff(now - retention.hour.count(), kHourMs), kHourMs},
      {kPacksDelete, span_cutoff(now - retention.day.count(), kDayMs), kDayMs},
      // Rows of table rollups not moved into packs yet (schema version 5 and before).
      {kOldRollupsDelete, now - retention.five_minutes.count(), kFiveMinutesMs},
      {kOldRollupsDelete, now - retention.hour.count(), kHourMs},
      {kOldRollupsDelete, now - retention.day.count(), kDayMs},
      // Replay protection: the batches of the last 8 days, and for older ones each
      // agent's high-water mark, raised before they go.
      {"UPDATE agents SET pruned_seq = greatest(agents.pruned_seq, old.seq),"
       " pruned_received_ms = greatest(agents.pruned_received_ms, old.received)"
       " FROM (SELECT agent_id, max(seq) AS seq, max(received_ms) AS received FROM batches"
       " WHERE received_ms < $1 AND $2 = 0 GROUP BY agent_id) AS old"
       " WHERE agents.id = old.agent_id",
       now - retention.raw.count(), 0},
      // The deletes below take the oldest rows first, in the order of the index on their
      // time: without ORDER BY, a table autovacuum has not analyzed yet (a first busy
      // day) was read whole at every slice to find that nothing was due.
      {"DELETE FROM batches WHERE (agent_id, seq) IN (SELECT agent_id, seq FROM batches"
       " WHERE received_ms < $1 AND $2 = 0 ORDER BY received_ms LIMIT 2000)",
       now - retention.raw.count(), 0},
      {"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE recorded_ms < $1"
       " AND $2 = 0 ORDER BY recorded_ms LIMIT 2000)",
       now - retention.events.count(), 0},
      {"DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE ts_ms < $1"
       " AND $2 = 0 ORDER BY ts_ms LIMIT 2000)",
       now - retention.notifications.count(), 0},
      {"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_ms < $1"
       " AND $2 = 0 ORDER BY created_ms LIMIT 2000)",
       now - retention.outbox.count(), 0},
  };
  const auto drop_start = Clock::now();
  if (Status s = drop_partitions(now - retention.raw.count(), more); !s) return s;
  const auto deletes_start = Clock::now();
  slice_work_.partitions += deletes_start - drop_start;
  for (const auto& d : deletes) {
    if (Clock::now() >= stop) {
      *more = true;
      break;
    }
    // Planned at each slice (1.3-2.5 ms more for the 12, docs/performance.md): a plan kept
    // from a new database's first slices, made for empty tables, would read them whole
    // (pq.hpp).
    auto rows = conn_.query_planned_now(d.sql, Params().add(d.cutoff).add(d.extra));
    if (!rows) return rows.status().with_context("retention");
    if (std::string_view(d.sql).starts_with("DELETE")) {
      slice_work_.rows_deleted += rows->affected();
      if (rows->affected() >= kDeleteChunk) *more = true;
    }
  }
  slice_work_.retention += Clock::now() - deletes_start;
  return Status::ok();
}

Status Writes::housekeeping_slice(const Retention& retention, std::chrono::milliseconds budget,
                                  std::int64_t now_ms, bool* more) {
  const auto start = Clock::now();
  slice_work_ = {};
  *more = false;
  if (Status s = make_partitions(now_ms); !s) return s;
  const auto rebuild_start = Clock::now();
  slice_work_.partitions += rebuild_start - start;
  // The daily tier into this collector's zone first (nothing to do once it is there):
  // the samples rolled up below go into that zone's days.
  if (Status s = rebuild_daily_tier(start + budget / 4, more); !s)
    return s.with_context("rebuild the daily tier");
  const auto rollup_start = Clock::now();
  slice_work_.rollup += rollup_start - rebuild_start;
  if (Status s = roll_up(now_ms, start + budget / 2, budget / 2, more); !s) return s;
  const auto move_start = Clock::now();
  slice_work_.rollup += move_start - rollup_start;
  if (Status s = move_old_rollups(start + budget * 3 / 4, more); !s) return s;
  slice_work_.move += Clock::now() - move_start;
  return apply_retention(retention, now_ms, start + budget, more);
}

}  // namespace vigie::collector::pg
