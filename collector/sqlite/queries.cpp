#include "collector/sqlite/queries.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "collector/sample_block.hpp"
#include "collector/series_merge.hpp"
#include "collector/sqlite/housekeeping.hpp"
#include "collector/sqlite/rollups.hpp"
#include "collector/sqlite/schema.hpp"
#include "common/sqlite.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;

constexpr std::int64_t kMaxPoints = 100'000;

constexpr const char* kEventColumns =
    "SELECT id, ts_ms, recorded_ms, kind, site, agent, check_id, from_state, to_state,"
    " state_type, attempt, summary, author, notify, backfill, trap FROM events";

Event event_from_row(const Statement& row) {
  Event e;
  e.id = row.int64(0);
  e.ts_ms = row.int64(1);
  e.recorded_ms = row.int64(2);
  e.kind = event_kind_from_name(row.text(3)).value_or(EventKind::kState);
  e.site = row.text(4);
  e.agent = row.text(5);
  e.check = row.text(6);
  e.from = state_from_code(row.int64(7)).value_or(State::kUnknown);
  e.to = state_from_code(row.int64(8)).value_or(State::kUnknown);
  e.type = row.int64(9) != 0 ? StateType::kHard : StateType::kSoft;
  e.attempt = static_cast<int>(row.int64(10));
  e.summary = row.text(11);
  e.author = row.text(12);
  e.notify = row.int64(13) != 0;
  e.backfill = row.int64(14) != 0;
  e.trap = row.text(15);
  return e;
}

// Appends the rows of `stmt` (kEventColumns) to `into`, and resets it.
Status read_event_rows(sqlite3* db, Statement& stmt, std::vector<Event>& into) {
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) into.push_back(event_from_row(stmt));
  stmt.reset();
  if (rc != SQLITE_DONE) return sqlite::error(db, "read events");
  return Status::ok();
}

// read_state's steps -------------------------------------------------------------------

Status read_all_agents(sqlite3* db, std::vector<AgentState>& out) {
  auto stmt = Statement::prepare(
      db,
      "SELECT name, site, hostname, version, first_seen_ms, last_seen_ms, last_seq,"
      " clock_skew_ms, clock_skew_ms IS NOT NULL, spool_depth, spool_oldest_ms, spool_dropped,"
      " lost_since_ms FROM agents");
  if (!stmt) return stmt.status();
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    AgentState a;
    a.id = stmt->text(0);
    a.site = stmt->text(1);
    a.hostname = stmt->text(2);
    a.version = stmt->text(3);
    a.first_seen_ms = stmt->int64(4);
    a.last_seen_ms = stmt->int64(5);
    a.last_seq = stmt->int64(6);
    a.clock_skew_ms = stmt->int64(7);
    a.skew_known = stmt->int64(8) != 0;
    a.spool_depth = stmt->int64(9);
    a.spool_oldest_ms = stmt->int64(10);
    a.spool_dropped = stmt->int64(11);
    a.lost_since_ms = stmt->int64(12);
    a.lost = a.lost_since_ms != 0;
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read agents");
  return Status::ok();
}

Status read_all_checks(sqlite3* db, std::vector<CheckState>& out) {
  auto stmt = Statement::prepare(
      db,
      "SELECT a.name, a.site, c.check_id, c.name, c.status, c.summary, c.details, c.metrics,"
      " c.ts_ms, c.duration_ms, c.interval_s, c.received_ms, c.since_ms, c.max_attempts,"
      " c.state_type, c.attempt, c.hard_state, c.hard_since_ms, c.history, c.history_len,"
      " c.flapping, c.flap_percent, c.stale, c.stale_reason, c.stale_since_ms, c.agent_lost,"
      " c.ack, c.site FROM checks c JOIN agents a ON a.id = c.agent_id");
  if (!stmt) return stmt.status();
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    CheckState c;
    c.agent = stmt->text(0);
    c.site = stmt->text(1);
    c.last.check = stmt->text(2);
    c.last.name = stmt->text(3);
    c.last.status = state_from_code(stmt->int64(4)).value_or(State::kUnknown);
    c.last.summary = stmt->text(5);
    c.last.details = stmt->text(6);
    c.last.metrics = metrics_from_text(stmt->text(7));
    c.last.ts_ms = stmt->int64(8);
    c.last.duration_ms = stmt->int64(9);
    c.last.interval_s = stmt->int64(10);
    c.received_ms = stmt->int64(11);
    c.since_ms = stmt->int64(12);
    c.max_attempts = static_cast<int>(stmt->int64(13));
    c.type = stmt->int64(14) != 0 ? StateType::kHard : StateType::kSoft;
    c.attempt = static_cast<int>(stmt->int64(15));
    c.hard_state = state_from_code(stmt->int64(16)).value_or(State::kUnknown);
    c.hard_since_ms = stmt->int64(17);
    c.history = static_cast<std::uint64_t>(stmt->int64(18));
    c.history_len = static_cast<int>(stmt->int64(19));
    c.flapping = stmt->int64(20) != 0;
    c.flap_percent = stmt->real(21);
    c.stale = stmt->int64(22) != 0;
    c.stale_reason = stmt->text(23);
    c.stale_since_ms = stmt->int64(24);
    c.agent_lost = stmt->int64(25) != 0;
    if (auto ack = ack_from_text(stmt->text(26)))
      c.ack = std::make_shared<const Ack>(std::move(*ack));
    // '' : filed under its agent's site (every check before central pollers).
    if (std::string site = stmt->text(27); !site.empty() && site != c.site) {
      c.site = std::move(site);
      c.central = true;
    }
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read checks");
  return Status::ok();
}

Status read_current_downtimes(sqlite3* db, std::int64_t now_ms, std::vector<Downtime>& out) {
  auto stmt = Statement::prepare(
      db,
      "SELECT id, site, agent, check_id, start_ms, end_ms, comment, author, created_ms,"
      " weekdays, start_minute, duration_minutes, time_zone, every, calendar FROM downtimes"
      " WHERE end_ms = 0 OR end_ms > ?1 ORDER BY id");
  if (!stmt) return stmt.status();
  stmt->bind(1, now_ms);
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    Downtime d;
    d.id = stmt->int64(0);
    d.site = stmt->text(1);
    d.agent = stmt->text(2);
    d.check = stmt->text(3);
    d.start_ms = stmt->int64(4);
    d.end_ms = stmt->int64(5);
    d.comment = stmt->text(6);
    d.author = stmt->text(7);
    d.created_ms = stmt->int64(8);
    d.weekdays = static_cast<int>(stmt->int64(9));
    d.start_minute = static_cast<int>(stmt->int64(10));
    d.duration_minutes = static_cast<int>(stmt->int64(11));
    d.time_zone = stmt->text(12);
    d.every = stmt->text(13);
    d.calendar = stmt->text(14);
    out.push_back(std::move(d));
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read downtimes");
  return Status::ok();
}

Result<std::int64_t> read_last_event_id(sqlite3* db) {
  auto stmt = Statement::prepare(db, "SELECT coalesce(max(id), 0) FROM events");
  if (!stmt) return stmt.status();
  if (stmt->step() != SQLITE_ROW) return sqlite::error(db, "read events");
  return stmt->int64(0);
}

// read_series' steps ------------------------------------------------------------------

struct SeriesRow {
  std::int64_t id = 0;
  std::int64_t agent_id = 0;
  std::string unit;
};

Result<SeriesRow> find_series(sqlite3* db, const SeriesQuery& q) {
  auto find = Statement::prepare(db,
                                 "SELECT s.id, s.agent_id, s.unit FROM series s"
                                 " JOIN agents a ON a.id = s.agent_id"
                                 " WHERE a.name = ?1 AND s.check_id = ?2 AND s.metric = ?3");
  if (!find) return find.status();
  find->bind(1, q.agent).bind(2, q.check).bind(3, q.metric);
  if (find->step() != SQLITE_ROW) {
    return Status::not_found("no series for agent \"" + q.agent + "\", check \"" + q.check +
                             "\", metric \"" + q.metric + "\"");
  }
  return SeriesRow{find->int64(0), find->int64(1), find->text(2)};
}

// Calls `add(sample)` for each sample of `series` from `blocks` (t_min, samples, a
// statement bound and not stepped yet) that falls in [from, to]; stops at the first
// error `add` returns. Leaves the statement to the caller to reset.
template <class Add>
Status each_sample(sqlite3* db, Statement& blocks, std::int64_t series, std::int64_t from,
                   std::int64_t to, Add add) {
  std::vector<Sample> samples;
  int rc;
  while ((rc = blocks.step()) == SQLITE_ROW) {
    samples.clear();
    if (Status d = decode_series(blocks.blob(1), blocks.int64(0), series, samples); !d) return d;
    for (const auto& sample : samples) {
      if (sample.series != series || sample.ts_ms < from || sample.ts_ms > to) continue;
      if (Status s = add(sample); !s) return s;
    }
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read samples");
  return Status::ok();
}

// Adds the samples of `series` from `blocks` (t_min, samples) that fall in [from, to],
// each in the bucket of `bucket_width` (0: as it is), or of its local day in `days`.
Status add_block_samples(sqlite3* db, Statement& blocks, std::int64_t series, std::int64_t from,
                         std::int64_t to, std::int64_t bucket_width, bool limit_raw,
                         SeriesMerge& merged, const DayZone* days = nullptr) {
  return each_sample(db, blocks, series, from, to, [&](const Sample& sample) {
    const std::int64_t at = days != nullptr    ? days->day_of(sample.ts_ms)
                            : bucket_width > 0 ? bucket_of(sample.ts_ms, bucket_width)
                                               : sample.ts_ms;
    merged.add(at, sample.value, sample.value, sample.value, 1);
    if (limit_raw && static_cast<std::int64_t>(merged.size()) > kMaxPoints)
      return Status::invalid("more than 100000 raw samples in range; give a step");
    return Status::ok();
  });
}

Status read_raw_series(sqlite3* db, const SeriesQuery& q, const SeriesRow& row,
                       const SeriesPlan& plan, SeriesMerge& merged) {
  auto blocks = Statement::prepare(db,
                                   "SELECT t_min, samples FROM sample_blocks"
                                   " WHERE agent_id = ?1 AND t_max >= ?2 AND t_min <= ?3");
  if (!blocks) return blocks.status();
  blocks->bind(1, row.agent_id).bind(2, q.from_ms).bind(3, q.to_ms);
  return add_block_samples(db, *blocks, row.id, q.from_ms, q.to_ms, 0, plan.step_ms == 0, merged);
}

// Blocks after the rollup cursor are not in the tiers yet (the last minutes, at least):
// their samples from `from` to the query's end are bucketed here, `width` wide (by
// `days`' local days when given), so that the newest bucket is never missing.
Status add_tail_samples(sqlite3* db, const SeriesQuery& q, const SeriesRow& row, std::int64_t from,
                        std::int64_t width, SeriesMerge& merged, const DayZone* days = nullptr) {
  auto cursor = rollup_cursor(db);
  if (!cursor) return cursor.status();
  auto tail =
      Statement::prepare(db,
                         "SELECT t_min, samples FROM sample_blocks"
                         " WHERE agent_id = ?1 AND t_max >= ?2 AND t_min <= ?3 AND id > ?4");
  if (!tail) return tail.status();
  tail->bind(1, row.agent_id).bind(2, from).bind(3, q.to_ms).bind(4, *cursor);
  return add_block_samples(db, *tail, row.id, from, q.to_ms, width, false, merged, days);
}

// The local days (day_zone.hpp) of the daily tier's zone that hold [from, to]: its
// buckets, or while the tier is being rebuilt into that zone and the series' days are
// not yet, its hourly buckets by local day; then the samples not rolled up yet.
Status read_day_series(sqlite3* db, const SeriesQuery& q, const SeriesRow& row,
                       SeriesMerge& merged) {
  auto state = read_daily_tier_zone(db);
  if (!state) return state.status();
  const std::string_view in = state->zone_of(row.id);
  auto zone = DayZone::named(in.empty() ? std::string_view(state->target()) : in);
  if (!zone) return zone.status();
  const std::int64_t first = zone->day_of(q.from_ms);
  const std::int64_t last = zone->day_of(q.to_ms);
  const std::int64_t from = zone->start_of(first);
  auto reader = RollupReader::prepare(db);
  if (!reader) return reader.status();
  std::vector<RollupBucket> buckets;
  if (in.empty()) {
    if (Status s = reader->read(kHourMs, row.id, from, q.to_ms, buckets); !s) return s;
    for (RollupBucket& b : buckets) b.ts_ms = zone->day_of(b.ts_ms);
  } else {
    if (Status s = reader->read(kDayMs, row.id, first, last, buckets); !s) return s;
  }
  for (const RollupBucket& b : buckets) merged.add(b.ts_ms, b.min, b.max, b.sum, b.n);
  if (Status s = add_tail_samples(db, q, row, from, kDayMs, merged, &*zone); !s) return s;
  merged.by_days_of(*zone);
  return Status::ok();
}

Status read_tier_series(sqlite3* db, const SeriesQuery& q, const SeriesRow& row,
                        const SeriesPlan& plan, SeriesMerge& merged) {
  if (plan.tier == kDayMs) return read_day_series(db, q, row, merged);
  const std::int64_t tier = plan.tier;
  const std::int64_t from = bucket_of(q.from_ms, tier);
  auto reader = RollupReader::prepare(db);
  if (!reader) return reader.status();
  std::vector<RollupBucket> buckets;
  if (Status s = reader->read(tier, row.id, from, q.to_ms, buckets); !s) return s;
  for (const RollupBucket& b : buckets) merged.add(b.ts_ms, b.min, b.max, b.sum, b.n);
  return add_tail_samples(db, q, row, from, tier, merged);
}

// read_history's steps -----------------------------------------------------------------

Status read_site_agents(sqlite3* db, const HistoryQuery& q, std::vector<AgentState>& out) {
  auto stmt = Statement::prepare(
      db,
      "SELECT name, site, hostname, version, first_seen_ms, last_seen_ms, lost_since_ms"
      " FROM agents WHERE (?1 = '' OR site = ?1)"
      // A central poller (enrolled with --report-for) is no agent of its own site's: its
      // backups, if any, come as checks; without them its site has nothing to report.
      " AND name NOT IN (SELECT agent FROM tokens WHERE role = 'agent' AND revoked_ms = 0"
      " AND report_for != '')"
      " ORDER BY site, name");
  if (!stmt) return stmt.status();
  stmt->bind(1, q.site);
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    AgentState a;
    a.id = stmt->text(0);
    a.site = stmt->text(1);
    a.hostname = stmt->text(2);
    a.version = stmt->text(3);
    a.first_seen_ms = stmt->int64(4);
    a.last_seen_ms = stmt->int64(5);
    a.lost_since_ms = stmt->int64(6);
    a.lost = a.lost_since_ms != 0;
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read agents");
  return Status::ok();
}

// The checks the report is about, with their agent's row id (agent_ids[i] is that of
// out[i]).
Status read_family_checks(sqlite3* db, const HistoryQuery& q, std::vector<CheckHistory>& out,
                          std::vector<std::int64_t>& agent_ids) {
  auto stmt = Statement::prepare(
      db,
      "SELECT a.id, a.name, coalesce(c.filed, a.site), c.check_id, c.name, c.status, c.summary, "
      "c.metrics,"
      " c.ts_ms, c.interval_s, c.received_ms, c.since_ms, c.state_type, c.attempt,"
      " c.hard_state, c.hard_since_ms, c.flapping, c.stale, c.stale_reason,"
      " c.stale_since_ms, c.agent_lost, c.ack, a.site"
      " FROM (SELECT *, CASE site WHEN '' THEN NULL ELSE site END AS filed FROM checks) c"
      " JOIN agents a ON a.id = c.agent_id"
      " WHERE substr(c.check_id, 1, length(?1)) = ?1"
      " AND (?2 = '' OR coalesce(c.filed, a.site) = ?2)"
      " ORDER BY coalesce(c.filed, a.site), a.name, c.check_id");
  if (!stmt) return stmt.status();
  stmt->bind(1, q.check_prefix).bind(2, q.site);
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    CheckHistory h;
    CheckState& c = h.state;
    agent_ids.push_back(stmt->int64(0));
    c.agent = stmt->text(1);
    c.site = stmt->text(2);
    c.last.check = stmt->text(3);
    c.last.name = stmt->text(4);
    c.last.status = state_from_code(stmt->int64(5)).value_or(State::kUnknown);
    c.last.summary = stmt->text(6);
    c.last.metrics = metrics_from_text(stmt->text(7));
    c.last.ts_ms = stmt->int64(8);
    c.last.interval_s = stmt->int64(9);
    c.received_ms = stmt->int64(10);
    c.since_ms = stmt->int64(11);
    c.type = stmt->int64(12) != 0 ? StateType::kHard : StateType::kSoft;
    c.attempt = static_cast<int>(stmt->int64(13));
    c.hard_state = state_from_code(stmt->int64(14)).value_or(State::kUnknown);
    c.hard_since_ms = stmt->int64(15);
    c.flapping = stmt->int64(16) != 0;
    c.stale = stmt->int64(17) != 0;
    c.stale_reason = stmt->text(18);
    c.stale_since_ms = stmt->int64(19);
    c.agent_lost = stmt->int64(20) != 0;
    if (auto ack = ack_from_text(stmt->text(21)))
      c.ack = std::make_shared<const Ack>(std::move(*ack));
    c.central = c.site != stmt->text(22);
    out.push_back(std::move(h));
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read checks");
  return Status::ok();
}

// The statements read_history runs once per check, through the (agent, check_id, id)
// index: a few rows each, so that a report's cost grows with the number of checks it
// is about, not with the events table.
struct PerCheckStatements {
  Statement last_hard, last_stale, in_period, find_series, silences;
  Statement tail;           // an agent's blocks after the rollup cursor, in a range
  std::int64_t cursor = 0;  // the rollup cursor
  RollupReader rollups;
  std::vector<RollupBucket> buckets;
  DailyTierZone daily;
  std::optional<DayZone> days;  // HistoryQuery::day_zone's, when it has one

  static Result<PerCheckStatements> prepare(sqlite3* db, const HistoryQuery& q) {
    auto rollups = RollupReader::prepare(db);
    if (!rollups) return rollups.status();
    auto daily = read_daily_tier_zone(db);
    if (!daily) return daily.status();
    auto cursor = rollup_cursor(db);
    if (!cursor) return cursor.status();
    PerCheckStatements s{
        .cursor = *cursor, .rollups = std::move(*rollups), .daily = std::move(*daily)};
    if (!q.day_zone.empty()) {
      auto zone = DayZone::named(q.day_zone);
      if (!zone) return zone.status();
      s.days = std::move(*zone);
    }
    const struct {
      Statement* stmt;
      std::string sql;
    } table[] = {
        {&s.last_hard, std::string(kEventColumns) +
                           " WHERE agent = ?1 AND check_id = ?2 AND kind = 'state'"
                           " AND state_type = 1 AND ts_ms < ?3 ORDER BY id DESC LIMIT 1"},
        {&s.last_stale, std::string(kEventColumns) +
                            " WHERE agent = ?1 AND check_id = ?2 AND kind IN ('stale', 'fresh')"
                            " AND ts_ms < ?3 ORDER BY id DESC LIMIT 1"},
        {&s.in_period,
         std::string(kEventColumns) +
             " WHERE agent = ?1 AND check_id = ?2 AND ts_ms >= ?3 AND ts_ms < ?4"
             " AND ((kind = 'state' AND state_type = 1) OR kind IN ('stale', 'fresh'))"
             " ORDER BY id"},
        {&s.find_series,
         "SELECT id FROM series WHERE agent_id = ?1 AND check_id = ?2 AND metric = ?3"},
        {&s.tail,
         "SELECT t_min, samples FROM sample_blocks"
         " WHERE agent_id = ?1 AND t_max >= ?2 AND t_min <= ?3 AND id > ?4"},
        // The check's own, then its agent's and its site's (agent and check_id '' in
        // the same index), through the (agent, check_id, id) index.
        {&s.silences,
         std::string(kEventColumns) +
             " WHERE ((agent = ?1 AND check_id = ?2 AND kind IN ('acknowledged', 'ack_removed',"
             " 'ack_expired', 'downtime_start', 'downtime_end'))"
             " OR (agent = ?1 AND check_id = '' AND kind IN ('downtime_start', 'downtime_end'))"
             " OR (agent = '' AND check_id = '' AND site = ?3"
             " AND kind IN ('downtime_start', 'downtime_end')))"
             " AND ts_ms < ?4 ORDER BY id"},
    };
    for (const auto& entry : table) {
      auto stmt = Statement::prepare(db, entry.sql);
      if (!stmt) return stmt.status();
      *entry.stmt = std::move(*stmt);
    }
    return s;
  }
};

// The check's events in the period, preceded by the last hard state change and the
// last stale or fresh event before it.
Status read_check_events(sqlite3* db, PerCheckStatements& s, const HistoryQuery& q,
                         CheckHistory& h) {
  const std::string& agent = h.state.agent;
  const std::string& check = h.state.last.check;
  for (Statement* before : {&s.last_hard, &s.last_stale}) {
    before->bind(1, agent).bind(2, check).bind(3, q.from_ms);
    if (Status st = read_event_rows(db, *before, h.events); !st) return st;
  }
  std::sort(h.events.begin(), h.events.end(),
            [](const Event& a, const Event& b) { return a.id < b.id; });
  s.in_period.bind(1, agent).bind(2, check).bind(3, q.from_ms).bind(4, q.to_ms);
  return read_event_rows(db, s.in_period, h.events);
}

// The hourly points of each metric asked for; a metric the check never had is left out.
Status read_check_series(sqlite3* db, PerCheckStatements& s, const HistoryQuery& q,
                         std::int64_t agent_id, CheckHistory& h) {
  for (const std::string& metric : q.metrics) {
    s.find_series.bind(1, agent_id).bind(2, h.state.last.check).bind(3, metric);
    const int found = s.find_series.step();
    const std::int64_t series = found == SQLITE_ROW ? s.find_series.int64(0) : 0;
    s.find_series.reset();
    if (found != SQLITE_ROW && found != SQLITE_DONE) return sqlite::error(db, "read series");
    if (found != SQLITE_ROW) continue;
    std::vector<SeriesPoint>& points = h.series[metric];
    const auto add = [&](std::int64_t tier, std::int64_t from, std::int64_t to) -> Status {
      if (Status st = s.rollups.read(tier, series, from, to, s.buckets); !st) return st;
      for (const RollupBucket& b : s.buckets) {
        points.push_back({.ts_ms = tier == kDayMs ? s.days->start_of(b.ts_ms) : b.ts_ms,
                          .min = b.min,
                          .max = b.max,
                          .avg = b.sum / static_cast<double>(b.n),
                          .count = b.n});
      }
      return Status::ok();
    };
    // The period's last hours, with the samples not rolled up yet (the last minutes, at
    // least) in their hours, so that a report made now counts what just came. Hours are
    // whole, as the tier's: those that start in [from, to].
    const auto add_last_hours = [&](std::int64_t from, std::int64_t to) -> Status {
      if (Status st = s.rollups.read(kHourMs, series, from, to, s.buckets); !st) return st;
      const std::int64_t first = bucket_of(from + kHourMs - 1, kHourMs);
      const std::int64_t last = bucket_of(to, kHourMs) + kHourMs - 1;
      std::map<std::int64_t, RollupBucket> pending;
      s.tail.bind(1, agent_id).bind(2, first).bind(3, last).bind(4, s.cursor);
      const Status read = each_sample(db, s.tail, series, first, last, [&](const Sample& sample) {
        add_sample(pending, kHourMs, sample.ts_ms, sample.value);
        return Status::ok();
      });
      s.tail.reset();
      if (!read) return read;
      std::vector<RollupBucket> add;
      for (const auto& [start, b] : pending) add.push_back(b);
      merge_buckets(s.buckets, add);
      for (const RollupBucket& b : s.buckets) {
        points.push_back({.ts_ms = b.ts_ms,
                          .min = b.min,
                          .max = b.max,
                          .avg = b.sum / static_cast<double>(b.n),
                          .count = b.n});
      }
      return Status::ok();
    };
    // The whole local days of the period from the daily tier when its days are the
    // period's (its zone, for this series), the hours of the partial days at its edges.
    std::int64_t first = 0, end = 0;
    const bool daily = s.days && s.daily.zone_of(series) == s.days->name();
    if (daily) {
      first = s.days->day_of(q.from_ms);
      if (s.days->start_of(first) < q.from_ms) first += kDayMs;
      end = s.days->day_of(q.to_ms);  // the days before it end by q.to_ms
    }
    if (!daily || first >= end) {
      if (Status st = add_last_hours(q.from_ms, q.to_ms - 1); !st) return st;
      continue;
    }
    if (Status st = add(kHourMs, q.from_ms, s.days->start_of(first) - 1); !st) return st;
    if (Status st = add(kDayMs, first, end - kDayMs); !st) return st;
    if (Status st = add_last_hours(s.days->start_of(end), q.to_ms - 1); !st) return st;
  }
  return Status::ok();
}

}  // namespace

Result<StateSnapshot> read_state(sqlite3* db, std::int64_t now_ms) {
  StateSnapshot snapshot;
  if (Status s = read_all_agents(db, snapshot.agents); !s) return s;
  if (Status s = read_all_checks(db, snapshot.checks); !s) return s;
  if (Status s = read_current_downtimes(db, now_ms, snapshot.downtimes); !s) return s;
  auto last_event = read_last_event_id(db);
  if (!last_event) return last_event.status();
  snapshot.last_event_id = *last_event;
  return snapshot;
}

Result<std::vector<Event>> read_events(sqlite3* db, const EventQuery& q) {
  const bool one_check = !q.agent.empty() || !q.check.empty();
  std::string sql = kEventColumns;
  sql += " WHERE id > ?1";
  if (one_check) sql += " AND agent = ?3 AND check_id = ?4";
  if (q.traps == EventQuery::Traps::kOnly) sql += " AND kind = 'trap'";
  if (q.traps == EventQuery::Traps::kWithout) sql += " AND kind != 'trap'";
  sql += one_check ? " ORDER BY id DESC LIMIT ?2" : " ORDER BY id LIMIT ?2";
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) return stmt.status();
  stmt->bind(1, q.after).bind(2, static_cast<std::int64_t>(q.limit));
  if (one_check) stmt->bind(3, q.agent).bind(4, q.check);
  std::vector<Event> out;
  if (Status s = read_event_rows(db, *stmt, out); !s) return s;
  return out;
}

Result<std::vector<AuditEntry>> read_audit(sqlite3* db, const AuditQuery& q) {
  auto stmt = Statement::prepare(db,
                                 "SELECT id, ts_ms, author, action, target, comment, before_value,"
                                 " after_value FROM audit"
                                 " WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!stmt) return stmt.status();
  stmt->bind(1, q.after).bind(2, static_cast<std::int64_t>(q.limit));
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back({.id = stmt->int64(0),
                   .ts_ms = stmt->int64(1),
                   .author = stmt->text(2),
                   .action = stmt->text(3),
                   .target = stmt->text(4),
                   .comment = stmt->text(5),
                   .before = stmt->text(6),
                   .after = stmt->text(7)});
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read audit");
  return out;
}

Result<std::vector<NotificationRecord>> read_notifications(sqlite3* db,
                                                           const NotificationQuery& q) {
  auto stmt = Statement::prepare(
      db,
      "SELECT id, ts_ms, site, agent, check_id, channel, target, kind, state, status, detail"
      " FROM notifications WHERE (?1 = '' OR site = ?1) AND (?2 = '' OR agent = ?2)"
      " AND (?3 = '' OR check_id = ?3) ORDER BY id DESC LIMIT ?4");
  if (!stmt) return stmt.status();
  stmt->bind(1, q.site)
      .bind(2, q.agent)
      .bind(3, q.check)
      .bind(4, static_cast<std::int64_t>(q.limit));
  std::vector<NotificationRecord> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back({.id = stmt->int64(0),
                   .ts_ms = stmt->int64(1),
                   .site = stmt->text(2),
                   .agent = stmt->text(3),
                   .check = stmt->text(4),
                   .channel = stmt->text(5),
                   .target = stmt->text(6),
                   .kind = stmt->text(7),
                   .state = state_from_code(stmt->int64(8)).value_or(State::kUnknown),
                   .status = stmt->text(9),
                   .detail = stmt->text(10)});
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read notifications");
  return out;
}

constexpr std::int64_t kMaxStepMs = 100LL * 366 * 86'400'000;

Result<SeriesPlan> plan_series(const SeriesQuery& q, const Retention& retention,
                               std::int64_t now_ms, bool daily_tier) {
  if (q.to_ms <= q.from_ms) return Status::invalid("to: must be after from");
  if (q.step_ms < 0) return Status::invalid("step: must not be negative");
  // Longer than any range (the API's times span 1970 to 9999), and rounded up below
  // to the tier's buckets without overflow.
  if (q.step_ms > kMaxStepMs) return Status::invalid("step: longer than 100 years");
  if (!q.tier.empty() && q.tier != "raw" && q.tier != "5m" && q.tier != "1h" &&
      (!daily_tier || q.tier != "1d")) {
    return Status::invalid(std::string("tier: expected ") +
                           (daily_tier ? "raw, 5m, 1h or 1d" : "raw, 5m or 1h") + ", got \"" +
                           q.tier + "\"");
  }
  SeriesPlan plan;
  if (q.tier == "raw" || (q.tier.empty() && q.step_ms < kFiveMinutesMs &&
                          q.from_ms >= now_ms - retention.raw.count())) {
    plan.tier_name = "raw";
    plan.step_ms = q.step_ms;
  } else {
    const bool five = q.tier == "5m" || (q.tier.empty() && q.step_ms < kHourMs &&
                                         q.from_ms >= now_ms - retention.five_minutes.count());
    // The daily tier for a step of a day or more, a range older than the hourly tier
    // keeps, or one with too many hourly points.
    const std::int64_t hourly_step = std::max(q.step_ms, kHourMs);
    const bool day =
        q.tier == "1d" || (daily_tier && q.tier.empty() && !five &&
                           (q.step_ms >= kDayMs || q.from_ms < now_ms - retention.hour.count() ||
                            (q.to_ms - q.from_ms) / hourly_step > kMaxPoints));
    plan.tier = five ? kFiveMinutesMs : day ? kDayMs : kHourMs;
    plan.tier_name = five ? "5m" : day ? "1d" : "1h";
    // A whole number of the tier's buckets, at least one.
    plan.step_ms = std::max<std::int64_t>(1, (q.step_ms + plan.tier - 1) / plan.tier) * plan.tier;
  }
  if (plan.step_ms > 0 && (q.to_ms - q.from_ms) / plan.step_ms > kMaxPoints)
    return Status::invalid("step: more than 100000 points; use a larger step");
  return plan;
}

Result<SeriesData> read_series(sqlite3* db, const SeriesQuery& q, const SeriesPlan& plan) {
  auto row = find_series(db, q);
  if (!row) return row.status();
  SeriesMerge merged(plan.step_ms);
  Status read = plan.tier == 0 ? read_raw_series(db, q, *row, plan, merged)
                               : read_tier_series(db, q, *row, plan, merged);
  if (!read) return read;
  return SeriesData{.tier = plan.tier_name,
                    .step_ms = plan.step_ms,
                    .unit = std::move(row->unit),
                    .points = merged.points()};
}

Result<HistoryData> read_history(sqlite3* db, const HistoryQuery& q) {
  if (q.to_ms <= q.from_ms) return Status::invalid("history: the period ends before it starts");
  HistoryData out;
  if (Status s = read_site_agents(db, q, out.agents); !s) return s;
  std::vector<std::int64_t> agent_ids;
  if (Status s = read_family_checks(db, q, out.checks, agent_ids); !s) return s;
  auto per_check = PerCheckStatements::prepare(db, q);
  if (!per_check) return per_check.status();
  for (std::size_t i = 0; i < out.checks.size(); ++i) {
    if (Status s = read_check_events(db, *per_check, q, out.checks[i]); !s) return s;
    if (Status s = read_check_series(db, *per_check, q, agent_ids[i], out.checks[i]); !s) return s;
    if (q.silences) {
      CheckHistory& h = out.checks[i];
      per_check->silences.bind(1, h.state.agent)
          .bind(2, h.state.last.check)
          .bind(3, h.state.site)
          .bind(4, q.to_ms);
      if (Status s = read_event_rows(db, per_check->silences, h.silences); !s) return s;
    }
  }
  return out;
}

}  // namespace vigie::collector
