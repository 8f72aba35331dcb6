#include "collector/postgres/reads.hpp"

#include <algorithm>
#include <map>

#include "collector/rollup_pack.hpp"
#include "collector/sample_block.hpp"
#include "collector/sqlite/housekeeping.hpp"
#include "collector/sqlite/schema.hpp"

namespace vigie::collector::pg {
namespace {

using pq::Params;

constexpr std::int64_t kMaxPoints = 100'000;

constexpr const char* kEventColumns =
    "SELECT id, ts_ms, recorded_ms, kind, site, agent, check_id, from_state, to_state,"
    " state_type, attempt, summary, author, notify, backfill, trap FROM events";

constexpr const char* kTokenColumns =
    "SELECT id, role, agent, site, label, created_ms, expires_ms, used_ms, revoked_ms,"
    " report_for FROM tokens";

// Runs `read` in a read-only REPEATABLE READ transaction: every statement sees the
// same snapshot.
template <class Read>
auto in_snapshot(pq::Conn& conn, Read read) -> decltype(read()) {
  if (Status s = conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s) return s;
  auto data = read();
  if (Status s = conn.exec(data ? "COMMIT" : "ROLLBACK"); !s && data) return s;
  return data;
}

void append_events(const pq::Rows& rows, std::vector<Event>& into) {
  for (int i = 0; i < rows.size(); ++i) {
    Event e;
    e.id = rows.int64(i, 0);
    e.ts_ms = rows.int64(i, 1);
    e.recorded_ms = rows.int64(i, 2);
    e.kind = event_kind_from_name(rows.text(i, 3)).value_or(EventKind::kState);
    e.site = rows.text(i, 4);
    e.agent = rows.text(i, 5);
    e.check = rows.text(i, 6);
    e.from = state_from_code(rows.int64(i, 7)).value_or(State::kUnknown);
    e.to = state_from_code(rows.int64(i, 8)).value_or(State::kUnknown);
    e.type = rows.int64(i, 9) != 0 ? StateType::kHard : StateType::kSoft;
    e.attempt = static_cast<int>(rows.int64(i, 10));
    e.summary = rows.text(i, 11);
    e.author = rows.text(i, 12);
    e.notify = rows.int64(i, 13) != 0;
    e.backfill = rows.int64(i, 14) != 0;
    e.trap = rows.text(i, 15);
    into.push_back(std::move(e));
  }
}

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

// The columns of a check row after its agent's name and site (c. and a. aliases).
constexpr const char* kCheckColumns =
    "SELECT a.name, a.site, c.check_id, c.name, c.status, c.summary, c.details, c.metrics,"
    " c.ts_ms, c.duration_ms, c.interval_s, c.received_ms, c.since_ms, c.max_attempts,"
    " c.state_type, c.attempt, c.hard_state, c.hard_since_ms, c.history, c.history_len,"
    " c.flapping, c.flap_percent, c.stale, c.stale_reason, c.stale_since_ms, c.agent_lost,"
    " c.ack, a.id, c.site FROM checks c JOIN agents a ON a.id = c.agent_id";

CheckState check_from_row(const pq::Rows& r, int i) {
  CheckState c;
  c.agent = r.text(i, 0);
  c.site = r.text(i, 1);
  c.last.check = r.text(i, 2);
  c.last.name = r.text(i, 3);
  c.last.status = state_from_code(r.int64(i, 4)).value_or(State::kUnknown);
  c.last.summary = r.text(i, 5);
  c.last.details = r.text(i, 6);
  c.last.metrics = metrics_from_text(r.text(i, 7));
  c.last.ts_ms = r.int64(i, 8);
  c.last.duration_ms = r.int64(i, 9);
  c.last.interval_s = r.int64(i, 10);
  c.received_ms = r.int64(i, 11);
  c.since_ms = r.int64(i, 12);
  c.max_attempts = static_cast<int>(r.int64(i, 13));
  c.type = r.int64(i, 14) != 0 ? StateType::kHard : StateType::kSoft;
  c.attempt = static_cast<int>(r.int64(i, 15));
  c.hard_state = state_from_code(r.int64(i, 16)).value_or(State::kUnknown);
  c.hard_since_ms = r.int64(i, 17);
  c.history = static_cast<std::uint64_t>(r.int64(i, 18));
  c.history_len = static_cast<int>(r.int64(i, 19));
  c.flapping = r.int64(i, 20) != 0;
  c.flap_percent = r.real(i, 21);
  c.stale = r.int64(i, 22) != 0;
  c.stale_reason = r.text(i, 23);
  c.stale_since_ms = r.int64(i, 24);
  c.agent_lost = r.int64(i, 25) != 0;
  if (auto ack = ack_from_text(r.text(i, 26))) c.ack = std::make_shared<const Ack>(std::move(*ack));
  // '' : filed under its agent's site (every check but a central poller's).
  if (std::string site = r.text(i, 28); !site.empty() && site != c.site) {
    c.site = std::move(site);
    c.central = true;
  }
  return c;
}

// (bucket start, aggregate) pairs of a series answer, in time order.
class Merged {
 public:
  explicit Merged(std::int64_t step_ms) : step_ms_(step_ms) {}
  void add(std::int64_t ts, double min, double max, double sum, std::int64_t n) {
    Aggregate& a = buckets_[step_ms_ > 0 ? bucket_of(ts, step_ms_) : ts];
    a.min = std::min(a.min, min);
    a.max = std::max(a.max, max);
    a.sum = sum_exactly(a.sum, sum);  // as SQLite's reads: sums of decimals stay exact
    a.n += n;
  }
  std::size_t size() const { return buckets_.size(); }
  std::vector<SeriesPoint> points() const {
    std::vector<SeriesPoint> out;
    out.reserve(buckets_.size());
    for (const auto& [ts, a] : buckets_)
      out.push_back({ts, a.min, a.max, a.sum / static_cast<double>(a.n), a.n});
    return out;
  }

 private:
  std::int64_t step_ms_;
  std::map<std::int64_t, Aggregate> buckets_;
};

// Calls `add(sample)` for each sample of `series` in `blocks` (t_min, samples) that falls
// in [from, to], block by block; stops at the first error `add` returns.
template <class Add>
Status each_sample(const pq::Rows& blocks, std::int64_t series, std::int64_t from, std::int64_t to,
                   Add add) {
  std::vector<Sample> samples;
  for (int i = 0; i < blocks.size(); ++i) {
    samples.clear();
    if (Status d = decode_series(blocks.bytes(i, 1), blocks.int64(i, 0), series, samples); !d)
      return d;
    for (const auto& sample : samples) {
      if (sample.series != series || sample.ts_ms < from || sample.ts_ms > to) continue;
      if (Status s = add(sample); !s) return s;
    }
  }
  return Status::ok();
}

// Adds the samples of `series` in `blocks` (t_min, samples) that fall in [from, to].
Status add_block_samples(const pq::Rows& blocks, std::int64_t series, std::int64_t from,
                         std::int64_t to, std::int64_t bucket_width, bool limit_raw,
                         Merged& merged) {
  return each_sample(blocks, series, from, to, [&](const Sample& sample) {
    merged.add(bucket_width > 0 ? bucket_of(sample.ts_ms, bucket_width) : sample.ts_ms,
               sample.value, sample.value, sample.value, 1);
    if (limit_raw && static_cast<std::int64_t>(merged.size()) > kMaxPoints)
      return Status::invalid("more than 100000 raw samples in range; give a step");
    return Status::ok();
  });
}

// A pack's first bytes read with its size: the directory of a hundred series or so,
// and often the block wanted with it.
constexpr std::int64_t kPackHeadBytes = 1024;

// Whether table rollups holds rows (an older database's, not moved into packs yet): once
// the move is over it never does again, and reads skip it.
Result<bool> has_old_rollups(pq::Conn& conn) {
  auto rows = conn.query("SELECT EXISTS (SELECT 1 FROM rollups)");
  if (!rows) return rows.status();
  return rows->text(0, 0) == "t";
}

// The buckets of `series` (of `agent`) in `tier` starting in [from, to], ascending, each
// once: from its packs (their first bytes, then only the blocks those do not hold) and,
// while an older database's rows are moved into packs (`old_rows`, has_old_rollups()),
// from table rollups. Inside a snapshot (in_snapshot), so that the blocks read are those
// the directories name.
Status read_tier(pq::Conn& conn, std::int64_t tier, std::int64_t agent, std::int64_t series,
                 std::int64_t from, std::int64_t to, bool old_rows,
                 std::vector<RollupBucket>& out) {
  out.clear();
  const auto where = [&](std::int64_t start) {
    return "series " + std::to_string(series) + ", tier " + std::to_string(tier) + " at " +
           std::to_string(start);
  };
  std::map<std::int64_t, RollupBucket> merged;
  std::vector<RollupBucket> decoded;
  const auto add_block = [&](std::string_view block, std::int64_t start) -> Status {
    decoded.clear();
    if (Status d = decode_rollups(block, start, tier, decoded); !d)
      return d.with_context(where(start));
    for (const RollupBucket& b : decoded) {
      if (b.ts_ms < from || b.ts_ms > to) continue;
      auto [it, fresh] = merged.try_emplace(b.ts_ms, b);
      if (!fresh) merge_bucket(it->second, b);
    }
    return Status::ok();
  };
  const std::int64_t first_span = bucket_of(from, rollup_span(tier));
  auto heads = conn.query(
      "SELECT start_ms, length(buckets), substring(buckets FROM 1 FOR $5) FROM rollup_packs"
      " WHERE tier = $1 AND agent_id = $2 AND start_ms >= $3 AND start_ms <= $4",
      Params().add(tier).add(agent).add(first_span).add(to).add(kPackHeadBytes));
  if (!heads) return heads.status();
  std::vector<PackEntry> entries;
  pq::ArrayParams far;  // (span start, offset from 1, length) of blocks past the head
  for (int i = 0; i < heads->size(); ++i) {
    const std::int64_t start = heads->int64(i, 0);
    const auto size = static_cast<std::size_t>(heads->int64(i, 1));
    std::string head = heads->bytes(i, 2);
    const auto directory = pack_directory_bytes(head, size);
    if (!directory)
      return Status::corruption("rollup pack: unknown format").with_context(where(start));
    if (*directory > head.size()) {  // many series: a longer directory, read whole
      auto longer = conn.query(
          "SELECT substring(buckets FROM 1 FOR $4) FROM rollup_packs"
          " WHERE tier = $1 AND agent_id = $2 AND start_ms = $3",
          Params().add(tier).add(agent).add(start).add(static_cast<std::int64_t>(*directory)));
      if (!longer) return longer.status();
      if (longer->size() == 1) head = longer->bytes(0, 0);
    }
    if (Status s = parse_pack(head, size, entries); !s) return s.with_context(where(start));
    const PackEntry* entry = find_in_pack(entries, series);
    if (entry == nullptr) continue;
    if (entry->offset + entry->length <= head.size()) {
      if (Status s = add_block(std::string_view(head).substr(entry->offset, entry->length), start);
          !s)
        return s;
    } else {
      far.append(Params()
                     .add(start)
                     .add(static_cast<std::int64_t>(entry->offset) + 1)
                     .add(static_cast<std::int64_t>(entry->length)));
    }
  }
  if (far.rows() > 0) {
    Params params = Params().add(tier).add(agent);
    const Params columns = far.params();
    for (const auto& column : columns.values()) params.add(*column);
    auto blocks = conn.query(
        "SELECT w.start_ms, substring(p.buckets FROM w.off FOR w.len) FROM"
        " unnest($3::bigint[], $4::integer[], $5::integer[]) AS w(start_ms, off, len)"
        " JOIN rollup_packs p ON p.tier = $1 AND p.agent_id = $2 AND p.start_ms = w.start_ms",
        params);
    if (!blocks) return blocks.status();
    for (int i = 0; i < blocks->size(); ++i) {
      if (Status s = add_block(blocks->bytes(i, 1), blocks->int64(i, 0)); !s) return s;
    }
  }
  // Rows of a database of schema version 5 or before, not moved into packs yet.
  if (old_rows) {
    auto rows = conn.query(
        "SELECT bucket_ms, min_value, max_value, sum_value, n FROM rollups"
        " WHERE tier = $1 AND series_id = $2 AND bucket_ms >= $3 AND bucket_ms <= $4",
        Params().add(tier).add(series).add(from).add(to));
    if (!rows) return rows.status();
    for (int i = 0; i < rows->size(); ++i) {
      const RollupBucket b{rows->int64(i, 0), rows->real(i, 1), rows->real(i, 2), rows->real(i, 3),
                           rows->int64(i, 4)};
      if (b.n <= 0) continue;
      auto [it, fresh] = merged.try_emplace(b.ts_ms, b);
      if (!fresh) merge_bucket(it->second, b);
    }
  }
  out.reserve(merged.size());
  for (const auto& [ts, b] : merged) out.push_back(b);
  return Status::ok();
}

// Merges the samples of `series` in `blocks` (t_min, samples) that fall in [from, to]
// into `hours` (ascending), in their hours.
Status add_pending_hours(const pq::Rows& blocks, std::int64_t series, std::int64_t from,
                         std::int64_t to, std::vector<RollupBucket>& hours) {
  std::map<std::int64_t, RollupBucket> pending;
  if (Status s = each_sample(blocks, series, from, to,
                             [&](const Sample& sample) {
                               add_sample(pending, kHourMs, sample.ts_ms, sample.value);
                               return Status::ok();
                             });
      !s)
    return s;
  std::vector<RollupBucket> add;
  add.reserve(pending.size());
  for (const auto& [start, b] : pending) add.push_back(b);
  merge_buckets(hours, add);
  return Status::ok();
}

// The blocks of `agent` in the rollup queue (not in the tiers yet: the hour under way,
// at least, since an hour is rolled up once it is over) that hold samples in [from, to].
Result<pq::Rows> read_pending_blocks(pq::Conn& conn, std::int64_t agent, std::int64_t from,
                                     std::int64_t to) {
  return conn.query(
      "SELECT b.t_min, b.samples FROM sample_blocks b"
      " JOIN rollup_pending p ON p.block_id = b.id"
      " WHERE b.agent_id = $1 AND b.t_max >= $2 AND b.t_min <= $3",
      Params().add(agent).add(from).add(to));
}

Result<SeriesData> read_series_now(pq::Conn& conn, const SeriesQuery& q, const SeriesPlan& plan) {
  auto found = conn.query(
      "SELECT s.id, s.agent_id, s.unit FROM series s JOIN agents a ON a.id = s.agent_id"
      " WHERE a.name = $1 AND s.check_id = $2 AND s.metric = $3",
      Params().add(q.agent).add(q.check).add(q.metric));
  if (!found) return found.status();
  if (found->size() == 0)
    return Status::not_found("no series for agent \"" + q.agent + "\", check \"" + q.check +
                             "\", metric \"" + q.metric + "\"");
  const std::int64_t series = found->int64(0, 0);
  const std::int64_t agent = found->int64(0, 1);
  Merged merged(plan.step_ms);
  if (plan.tier == 0) {
    auto blocks = conn.query(
        "SELECT t_min, samples FROM sample_blocks WHERE agent_id = $1 AND t_max >= $2"
        " AND t_min <= $3",
        Params().add(agent).add(q.from_ms).add(q.to_ms));
    if (!blocks) return blocks.status();
    if (Status s =
            add_block_samples(*blocks, series, q.from_ms, q.to_ms, 0, plan.step_ms == 0, merged);
        !s)
      return s;
  } else {
    const std::int64_t from = bucket_of(q.from_ms, plan.tier);
    std::vector<RollupBucket> buckets;
    auto old_rows = has_old_rollups(conn);
    if (!old_rows) return old_rows.status();
    if (Status s = read_tier(conn, plan.tier, agent, series, from, q.to_ms, *old_rows, buckets); !s)
      return s;
    for (const RollupBucket& b : buckets) merged.add(b.ts_ms, b.min, b.max, b.sum, b.n);
    // Blocks not rolled up yet (the hour under way, at least) are bucketed here, so that
    // the newest bucket is never missing.
    auto tail = read_pending_blocks(conn, agent, from, q.to_ms);
    if (!tail) return tail.status();
    if (Status s = add_block_samples(*tail, series, from, q.to_ms, plan.tier, false, merged); !s)
      return s;
  }
  return SeriesData{.tier = plan.tier_name,
                    .step_ms = plan.step_ms,
                    .unit = found->text(0, 2),
                    .points = merged.points()};
}

Result<HistoryData> read_history_now(pq::Conn& conn, const HistoryQuery& q) {
  HistoryData out;
  std::vector<RollupBucket> hourly;
  pq::Rows pending;  // the rollup queue's blocks of agent pending_agent in the period
  std::int64_t pending_agent = -1;
  auto old_rows = has_old_rollups(conn);
  if (!old_rows) return old_rows.status();
  auto agents = conn.query(
      "SELECT name, site, hostname, version, first_seen_ms, last_seen_ms, lost_since_ms"
      " FROM agents WHERE ($1 = '' OR site = $1)"
      // A central poller (enrolled with --report-for) is no agent of its own site's.
      " AND name NOT IN (SELECT agent FROM tokens WHERE role = 'agent' AND revoked_ms = 0"
      " AND report_for <> '')"
      " ORDER BY site COLLATE \"C\", name COLLATE \"C\"",
      Params().add(q.site));
  if (!agents) return agents.status();
  for (int i = 0; i < agents->size(); ++i) {
    AgentState a;
    a.id = agents->text(i, 0);
    a.site = agents->text(i, 1);
    a.hostname = agents->text(i, 2);
    a.version = agents->text(i, 3);
    a.first_seen_ms = agents->int64(i, 4);
    a.last_seen_ms = agents->int64(i, 5);
    a.lost_since_ms = agents->int64(i, 6);
    a.lost = a.lost_since_ms != 0;
    out.agents.push_back(std::move(a));
  }  // A check is filed under its own site when it names one (a central poller's), else
  // under its agent's.
  auto checks = conn.query(std::string(kCheckColumns) +
                               " WHERE starts_with(c.check_id, $1)"
                               " AND ($2 = '' OR coalesce(nullif(c.site, ''), a.site) = $2)"
                               " ORDER BY coalesce(nullif(c.site, ''), a.site) COLLATE \"C\","
                               " a.name COLLATE \"C\", c.check_id COLLATE \"C\"",
                           Params().add(q.check_prefix).add(q.site));
  if (!checks) return checks.status();
  for (int i = 0; i < checks->size(); ++i) {
    CheckHistory h;
    h.state = check_from_row(*checks, i);
    h.state.last.details.clear();  // as SQLite's report query: not read
    h.state.last.duration_ms = 0;
    h.state.max_attempts = CheckState{}.max_attempts;
    h.state.history = 0;
    h.state.history_len = 0;
    h.state.flap_percent = 0;
    const std::int64_t agent_id = checks->int64(i, 27);
    const std::string& agent = h.state.agent;
    const std::string& check = h.state.last.check;
    for (const char* before : {" WHERE agent = $1 AND check_id = $2 AND kind = 'state'"
                               " AND state_type = 1 AND ts_ms < $3 ORDER BY id DESC LIMIT 1",
                               " WHERE agent = $1 AND check_id = $2 AND kind IN ('stale', 'fresh')"
                               " AND ts_ms < $3 ORDER BY id DESC LIMIT 1"}) {
      auto rows = conn.query(std::string(kEventColumns) + before,
                             Params().add(agent).add(check).add(q.from_ms));
      if (!rows) return rows.status();
      append_events(*rows, h.events);
    }
    std::sort(h.events.begin(), h.events.end(),
              [](const Event& a, const Event& b) { return a.id < b.id; });
    auto period =
        conn.query(std::string(kEventColumns) +
                       " WHERE agent = $1 AND check_id = $2 AND ts_ms >= $3 AND ts_ms < $4"
                       " AND ((kind = 'state' AND state_type = 1) OR kind IN ('stale', 'fresh'))"
                       " ORDER BY id",
                   Params().add(agent).add(check).add(q.from_ms).add(q.to_ms));
    if (!period) return period.status();
    append_events(*period, h.events);
    for (const std::string& metric : q.metrics) {
      auto series =
          conn.query("SELECT id FROM series WHERE agent_id = $1 AND check_id = $2 AND metric = $3",
                     Params().add(agent_id).add(check).add(metric));
      if (!series) return series.status();
      if (series->size() == 0) continue;  // a metric the check never had is left out
      const std::int64_t series_id = series->int64(0, 0);
      if (Status s = read_tier(conn, kHourMs, agent_id, series_id, q.from_ms, q.to_ms - 1,
                               *old_rows, hourly);
          !s)
        return s;
      // The samples not rolled up yet, in their hours, whole as the tier's (those that
      // start in the period), read once an agent (its checks come together).
      const std::int64_t first_hour = bucket_of(q.from_ms + kHourMs - 1, kHourMs);
      const std::int64_t last_ms = bucket_of(q.to_ms - 1, kHourMs) + kHourMs - 1;
      if (pending_agent != agent_id) {
        auto blocks = read_pending_blocks(conn, agent_id, first_hour, last_ms);
        if (!blocks) return blocks.status();
        pending = std::move(*blocks);
        pending_agent = agent_id;
      }
      if (Status s = add_pending_hours(pending, series_id, first_hour, last_ms, hourly); !s)
        return s;
      std::vector<SeriesPoint>& points = h.series[metric];
      points.reserve(hourly.size());
      for (const RollupBucket& b : hourly) {
        points.push_back({.ts_ms = b.ts_ms,
                          .min = b.min,
                          .max = b.max,
                          .avg = b.sum / static_cast<double>(b.n),
                          .count = b.n});
      }
    }
    if (q.silences) {
      // The check's own, then its agent's and its site's.
      auto silences = conn.query(
          std::string(kEventColumns) +
              " WHERE ((agent = $1 AND check_id = $2 AND kind IN ('acknowledged', 'ack_removed',"
              " 'ack_expired', 'downtime_start', 'downtime_end'))"
              " OR (agent = $1 AND check_id = '' AND kind IN ('downtime_start', 'downtime_end'))"
              " OR (agent = '' AND check_id = '' AND site = $3"
              " AND kind IN ('downtime_start', 'downtime_end')))"
              " AND ts_ms < $4 ORDER BY id",
          Params().add(agent).add(check).add(h.state.site).add(q.to_ms));
      if (!silences) return silences.status();
      append_events(*silences, h.silences);
    }
    out.checks.push_back(std::move(h));
  }
  return out;
}

// The state of every agent (`agent` empty) or of one, with the downtimes not over.
Result<StateSnapshot> read_state_now(pq::Conn& conn, std::int64_t now_ms,
                                     const std::string& agent = {}) {
  StateSnapshot snapshot;
  const std::string agent_columns =
      "SELECT name, site, hostname, version, first_seen_ms, last_seen_ms, last_seq,"
      " coalesce(clock_skew_ms, 0), clock_skew_ms IS NOT NULL, spool_depth, spool_oldest_ms,"
      " spool_dropped, lost_since_ms FROM agents";
  auto agents = agent.empty() ? conn.query(agent_columns)
                              : conn.query(agent_columns + " WHERE name = $1", Params().add(agent));
  if (!agents) return agents.status();
  for (int i = 0; i < agents->size(); ++i) {
    AgentState a;
    a.id = agents->text(i, 0);
    a.site = agents->text(i, 1);
    a.hostname = agents->text(i, 2);
    a.version = agents->text(i, 3);
    a.first_seen_ms = agents->int64(i, 4);
    a.last_seen_ms = agents->int64(i, 5);
    a.last_seq = agents->int64(i, 6);
    a.clock_skew_ms = agents->int64(i, 7);
    a.skew_known = agents->text(i, 8) == "t";
    a.spool_depth = agents->int64(i, 9);
    a.spool_oldest_ms = agents->int64(i, 10);
    a.spool_dropped = agents->int64(i, 11);
    a.lost_since_ms = agents->int64(i, 12);
    a.lost = a.lost_since_ms != 0;
    snapshot.agents.push_back(std::move(a));
  }
  auto checks = agent.empty() ? conn.query(kCheckColumns)
                              : conn.query(std::string(kCheckColumns) + " WHERE a.name = $1",
                                           Params().add(agent));
  if (!checks) return checks.status();
  for (int i = 0; i < checks->size(); ++i) snapshot.checks.push_back(check_from_row(*checks, i));
  auto downtimes = conn.query(
      "SELECT id, site, agent, check_id, start_ms, end_ms, comment, author, created_ms,"
      " weekdays, start_minute, duration_minutes, time_zone, every, calendar FROM downtimes"
      " WHERE end_ms = 0 OR end_ms > $1 ORDER BY id",
      Params().add(now_ms));
  if (!downtimes) return downtimes.status();
  for (int i = 0; i < downtimes->size(); ++i) {
    const pq::Rows& r = *downtimes;
    Downtime d;
    d.id = r.int64(i, 0);
    d.site = r.text(i, 1);
    d.agent = r.text(i, 2);
    d.check = r.text(i, 3);
    d.start_ms = r.int64(i, 4);
    d.end_ms = r.int64(i, 5);
    d.comment = r.text(i, 6);
    d.author = r.text(i, 7);
    d.created_ms = r.int64(i, 8);
    d.weekdays = static_cast<int>(r.int64(i, 9));
    d.start_minute = static_cast<int>(r.int64(i, 10));
    d.duration_minutes = static_cast<int>(r.int64(i, 11));
    d.time_zone = r.text(i, 12);
    d.every = r.text(i, 13);
    d.calendar = r.text(i, 14);
    snapshot.downtimes.push_back(std::move(d));
  }
  if (!agent.empty()) return snapshot;
  auto last = conn.query("SELECT coalesce(max(id), 0) FROM events");
  if (!last) return last.status();
  snapshot.last_event_id = last->int64(0, 0);
  return snapshot;
}

}  // namespace

Result<StateSnapshot> read_state(pq::Conn& conn, std::int64_t now_ms) {
  return in_snapshot(conn, [&] { return read_state_now(conn, now_ms); });
}

Result<StateSnapshot> read_agent_state(pq::Conn& conn, const std::string& agent,
                                       std::int64_t now_ms) {
  return read_state_now(conn, now_ms, agent);
}

Result<std::vector<Event>> read_events(pq::Conn& conn, const EventQuery& q) {
  const bool one_check = !q.agent.empty() || !q.check.empty();
  Params p;
  p.add(q.after).add(static_cast<std::int64_t>(q.limit));
  if (one_check) p.add(q.agent).add(q.check);
  std::string sql = std::string(kEventColumns) + " WHERE id > $1";
  if (one_check) sql += " AND agent = $3 AND check_id = $4";
  if (q.traps == EventQuery::Traps::kOnly) sql += " AND kind = 'trap'";
  if (q.traps == EventQuery::Traps::kWithout) sql += " AND kind <> 'trap'";
  sql += one_check ? " ORDER BY id DESC LIMIT $2" : " ORDER BY id LIMIT $2";
  auto rows = conn.query(sql, p);
  if (!rows) return rows.status();
  std::vector<Event> out;
  append_events(*rows, out);
  return out;
}

Result<std::vector<AuditEntry>> read_audit(pq::Conn& conn, const AuditQuery& q) {
  auto rows = conn.query(
      "SELECT id, ts_ms, author, action, target, comment, before_value, after_value"
      " FROM audit WHERE id > $1"
      " ORDER BY id LIMIT $2",
      Params().add(q.after).add(static_cast<std::int64_t>(q.limit)));
  if (!rows) return rows.status();
  std::vector<AuditEntry> out;
  for (int i = 0; i < rows->size(); ++i)
    out.push_back({.id = rows->int64(i, 0),
                   .ts_ms = rows->int64(i, 1),
                   .author = rows->text(i, 2),
                   .action = rows->text(i, 3),
                   .target = rows->text(i, 4),
                   .comment = rows->text(i, 5),
                   .before = rows->text(i, 6),
                   .after = rows->text(i, 7)});
  return out;
}

Result<std::vector<NotificationRecord>> read_notifications(pq::Conn& conn,
                                                           const NotificationQuery& q) {
  auto rows = conn.query(
      "SELECT id, ts_ms, site, agent, check_id, channel, target, kind, state, status, detail"
      " FROM notifications WHERE ($1 = '' OR site = $1) AND ($2 = '' OR agent = $2)"
      " AND ($3 = '' OR check_id = $3) ORDER BY id DESC LIMIT $4",
      Params().add(q.site).add(q.agent).add(q.check).add(static_cast<std::int64_t>(q.limit)));
  if (!rows) return rows.status();
  std::vector<NotificationRecord> out;
  for (int i = 0; i < rows->size(); ++i)
    out.push_back({.id = rows->int64(i, 0),
                   .ts_ms = rows->int64(i, 1),
                   .site = rows->text(i, 2),
                   .agent = rows->text(i, 3),
                   .check = rows->text(i, 4),
                   .channel = rows->text(i, 5),
                   .target = rows->text(i, 6),
                   .kind = rows->text(i, 7),
                   .state = state_from_code(rows->int64(i, 8)).value_or(State::kUnknown),
                   .status = rows->text(i, 9),
                   .detail = rows->text(i, 10)});
  return out;
}

Result<SeriesData> read_series(pq::Conn& conn, const SeriesQuery& q, const SeriesPlan& plan) {
  return in_snapshot(conn, [&] { return read_series_now(conn, q, plan); });
}

Result<HistoryData> read_history(pq::Conn& conn, const HistoryQuery& q) {
  if (q.to_ms <= q.from_ms) return Status::invalid("history: the period ends before it starts");
  return in_snapshot(conn, [&] { return read_history_now(conn, q); });
}

Result<TokenRecord> read_token(pq::Conn& conn, const std::string& hash) {
  auto rows = conn.query(std::string(kTokenColumns) + " WHERE hash = $1", Params().add(hash));
  if (!rows) return rows.status();
  if (rows->size() == 0) return Status::not_found("no such token");
  return token_from_row(*rows, 0);
}

Result<std::vector<TokenRecord>> read_tokens(pq::Conn& conn) {
  auto rows = conn.query(std::string(kTokenColumns) + " ORDER BY id");
  if (!rows) return rows.status();
  std::vector<TokenRecord> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(token_from_row(*rows, i));
  return out;
}

Result<std::map<std::string, std::int64_t>> read_outbox_last_sent(pq::Conn& conn,
                                                                  std::int64_t since_ms) {
  auto rows = conn.query(
      "SELECT alert_key, max(done_ms) FROM outbox WHERE done_ms >= $1 AND done_ms <> 0"
      " AND status IN ('sent', 'digest') GROUP BY alert_key",
      Params().add(since_ms));
  if (!rows) return rows.status();
  std::map<std::string, std::int64_t> out;
  for (int i = 0; i < rows->size(); ++i) out[rows->text(i, 0)] = rows->int64(i, 1);
  return out;
}

Result<std::map<std::string, std::int64_t>> read_outbox_settled(
    pq::Conn& conn, const std::vector<std::string>& keys, std::int64_t since_ms) {
  if (keys.empty()) return std::map<std::string, std::int64_t>{};
  pq::ArrayParams column;
  for (const std::string& key : keys) column.append(Params().add(key));
  // A key with a row still waiting is not settled, whatever was settled before it.
  auto rows = conn.query(
      "SELECT alert_key, max(done_ms) FROM outbox WHERE alert_key = ANY($1::text[])"
      " AND (done_ms = 0 OR done_ms >= $2) GROUP BY alert_key HAVING min(done_ms) <> 0",
      column.params().add(since_ms));
  if (!rows) return rows.status();
  std::map<std::string, std::int64_t> out;
  for (int i = 0; i < rows->size(); ++i) out[rows->text(i, 0)] = rows->int64(i, 1);
  return out;
}

Result<std::vector<OutboxRow>> claim_outbox(pq::Conn& conn, const std::string& channel,
                                            std::int64_t now_ms, std::int64_t due_by_ms,
                                            std::size_t limit, std::int64_t lease_ms) {
  // One statement, its own transaction: the rows are leased by the time it returns, and
  // SKIP LOCKED lets two collectors claim at once without waiting for, or taking, each
  // other's rows. Past now_ms only rows never claimed: a row another collector holds is
  // due when its lease ends, not a hold earlier with a burst.
  auto rows = conn.query(
      "WITH picked AS (SELECT id, due_ms FROM outbox WHERE channel = $1 AND done_ms = 0"
      " AND (due_ms <= $5 OR (status = '' AND due_ms <= $2))"
      " ORDER BY created_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
      " UPDATE outbox o SET due_ms = $4, status = 'claimed' FROM picked p WHERE o.id = p.id"
      " RETURNING o.id, o.alert_key, o.alert, o.created_ms, p.due_ms, o.attempts, o.error",
      Params()
          .add(channel)
          .add(due_by_ms)
          .add(static_cast<std::int64_t>(limit))
          .add(now_ms + lease_ms)
          .add(now_ms));
  if (!rows) return rows.status().with_context("claim outbox rows");
  std::vector<OutboxRow> out;
  for (int i = 0; i < rows->size(); ++i)
    out.push_back({.id = rows->int64(i, 0),
                   .channel = channel,
                   .key = rows->text(i, 1),
                   .alert = rows->text(i, 2),
                   .created_ms = rows->int64(i, 3),
                   .due_ms = rows->int64(i, 4),
                   .attempts = static_cast<int>(rows->int64(i, 5)),
                   .error = rows->text(i, 6)});
  std::sort(out.begin(), out.end(), [](const OutboxRow& a, const OutboxRow& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
  });
  return out;
}

Result<std::vector<std::int64_t>> renew_outbox(pq::Conn& conn, const std::vector<std::int64_t>& ids,
                                               std::int64_t held_until_ms, std::int64_t until_ms) {
  if (ids.empty()) return std::vector<std::int64_t>{};
  pq::ArrayParams column;
  for (const std::int64_t id : ids) column.append(Params().add(id));
  auto rows = conn.query(
      "UPDATE outbox SET due_ms = $3 WHERE id = ANY($1::bigint[]) AND done_ms = 0"
      " AND due_ms = $2 RETURNING id",
      column.params().add(held_until_ms).add(until_ms));
  if (!rows) return rows.status().with_context("renew the claim of outbox rows");
  std::vector<std::int64_t> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(rows->int64(i, 0));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::int64_t> read_config_revision(pq::Conn& conn) {
  auto rows = conn.query("SELECT revision FROM config_revision WHERE id = 1");
  if (!rows) return rows.status();
  if (rows->size() == 0) return Status::internal("config_revision has no row");
  return rows->int64(0, 0);
}

Result<ConfigSnapshot> read_config_snapshot(pq::Conn& conn) {
  return in_snapshot(conn, [&]() -> Result<ConfigSnapshot> {
    ConfigSnapshot snapshot;
    auto revision = read_config_revision(conn);
    if (!revision) return revision.status();
    snapshot.revision = *revision;
    auto rows = conn.query(
        "SELECT kind, name, document, revision, updated_ms, author FROM config_entries"
        " ORDER BY kind COLLATE \"C\", name COLLATE \"C\"");
    if (!rows) return rows.status();
    for (int i = 0; i < rows->size(); ++i) {
      const auto kind = config_kind_from_name(rows->text(i, 0));
      if (!kind) continue;  // written by a newer collector: not ours to render
      snapshot.entries.push_back({.kind = *kind,
                                  .name = rows->text(i, 1),
                                  .document = rows->text(i, 2),
                                  .revision = rows->int64(i, 3),
                                  .updated_ms = rows->int64(i, 4),
                                  .author = rows->text(i, 5)});
    }
    return snapshot;
  });
}

Result<std::vector<AgentConfigReport>> read_agent_config_reports(pq::Conn& conn) {
  auto rows = conn.query(
      "SELECT agent, running, refused, error, reported_ms FROM agent_config_reports"
      " ORDER BY agent COLLATE \"C\"");
  if (!rows) return rows.status();
  std::vector<AgentConfigReport> out;
  for (int i = 0; i < rows->size(); ++i)
    out.push_back({.agent = rows->text(i, 0),
                   .running = rows->text(i, 1),
                   .refused = rows->text(i, 2),
                   .error = rows->text(i, 3),
                   .reported_ms = rows->int64(i, 4)});
  return out;
}

Result<std::string> read_synchronous(pq::Conn& conn) {
  auto rows = conn.query("SELECT current_setting('synchronous_commit')");
  if (!rows) return rows.status();
  // on, remote_write, remote_apply: a commit is on disk before it is answered.
  const std::string mode = rows->text(0, 0);
  return mode == "off" || mode == "local" ? std::string(mode == "off" ? "normal" : "full")
                                          : std::string("full");
}

Result<std::int64_t> read_database_bytes(pq::Conn& conn) {
  auto rows = conn.query("SELECT pg_database_size(current_database())");
  if (!rows) return rows.status();
  return rows->int64(0, 0);
}

}  // namespace vigie::collector::pg
