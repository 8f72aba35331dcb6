#include "collector/postgres/reads.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "collector/day_zone.hpp"
#include "collector/rollup_pack.hpp"
#include "collector/sample_block.hpp"
#include "collector/series_merge.hpp"
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

// The columns of kEventColumns.
constexpr int kEventFields = 16;

Event event_from_row(const pq::Rows& rows, int i) {
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
  return e;
}

void append_events(const pq::Rows& rows, std::vector<Event>& into) {
  for (int i = 0; i < rows.size(); ++i) into.push_back(event_from_row(rows, i));
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

// Rows [first, last) of an answer: one agent's blocks in an answer of several agents'.
struct RowRange {
  int first = 0;
  int last = 0;
};

RowRange all_rows(const pq::Rows& rows) { return {0, rows.size()}; }

// Calls `add(sample)` for each sample of `series` in `blocks` (t_min, samples) that falls
// in [from, to], block by block; stops at the first error `add` returns.
template <class Add>
Status each_sample(const pq::Rows& blocks, RowRange range, std::int64_t series, std::int64_t from,
                   std::int64_t to, Add add) {
  std::vector<Sample> samples;
  for (int i = range.first; i < range.last; ++i) {
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

// Adds the samples of `series` in `blocks` (t_min, samples) that fall in [from, to],
// each in the bucket of `bucket_width` (0: as it is), or of its local day in `days`.
Status add_block_samples(const pq::Rows& blocks, std::int64_t series, std::int64_t from,
                         std::int64_t to, std::int64_t bucket_width, bool limit_raw,
                         SeriesMerge& merged, const DayZone* days = nullptr) {
  return each_sample(blocks, all_rows(blocks), series, from, to, [&](const Sample& sample) {
    const std::int64_t at = days != nullptr    ? days->day_of(sample.ts_ms)
                            : bucket_width > 0 ? bucket_of(sample.ts_ms, bucket_width)
                                               : sample.ts_ms;
    merged.add(at, sample.value, sample.value, sample.value, 1);
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

// Params with the columns of `arrays` first ($1, $2, ...), then `rest`.
Params with_arrays(const pq::ArrayParams& arrays, const Params& rest) {
  Params params = arrays.params();
  for (const auto& value : rest.values()) {
    if (value) params.add(*value);
    else params.add_null();
  }
  return params;
}

// The buckets in `tier` starting in [from, to] of each series in `wants` (out[i], of
// wants[i]), ascending, each once: from their agents' packs (the packs' first bytes in
// one statement for every agent, then in one more the blocks those do not hold) and,
// while an older database's rows are moved into packs (`old_rows`, has_old_rollups()),
// from table rollups. Inside a snapshot (in_snapshot), so that the blocks read are those
// the directories name.
Status read_tiers(pq::Conn& conn, std::int64_t tier, const std::vector<TierWant>& wants,
                  std::int64_t from, std::int64_t to, bool old_rows,
                  std::vector<std::vector<RollupBucket>>& out) {
  out.assign(wants.size(), {});
  if (wants.empty()) return Status::ok();
  std::map<std::int64_t, std::vector<std::size_t>> by_agent;  // agent: its wants
  for (std::size_t i = 0; i < wants.size(); ++i) by_agent[wants[i].agent].push_back(i);
  const auto where = [&](std::int64_t agent, std::int64_t start) {
    return "agent " + std::to_string(agent) + ", tier " + std::to_string(tier) + " at " +
           std::to_string(start);
  };
  // Each want's buckets as read, in the packs' order; sorted and merged at the end.
  std::vector<std::vector<RollupBucket>> read(wants.size());
  std::vector<RollupBucket> decoded;
  const auto add_block = [&](std::size_t want, std::string_view block,
                             std::int64_t start) -> Status {
    decoded.clear();
    if (Status d = decode_rollups(block, start, tier, decoded); !d)
      return d.with_context("series " + std::to_string(wants[want].series) + ", " +
                            where(wants[want].agent, start));
    for (const RollupBucket& b : decoded) {
      if (b.ts_ms >= from && b.ts_ms <= to) read[want].push_back(b);
    }
    return Status::ok();
  };
  pq::ArrayParams agents;
  for (const auto& [agent, _] : by_agent) agents.append(Params().add(agent));
  auto heads = conn.query(
      "SELECT agent_id, start_ms, length(buckets), substring(buckets FROM 1 FOR $5)"
      " FROM rollup_packs WHERE tier = $2 AND agent_id = ANY($1::bigint[])"
      " AND start_ms >= $3 AND start_ms <= $4 ORDER BY agent_id, start_ms",
      with_arrays(
          agents,
          Params().add(tier).add(bucket_of(from, rollup_span(tier))).add(to).add(kPackHeadBytes)));
  if (!heads) return heads.status();
  // Each pack's directory: in its head, or read whole when longer (many series).
  std::vector<std::string> directories(static_cast<std::size_t>(heads->size()));
  pq::ArrayParams longer;  // (agent, span start, directory length)
  std::vector<int> longer_rows;
  for (int i = 0; i < heads->size(); ++i) {
    directories[i] = heads->bytes(i, 3);
    const auto size = static_cast<std::size_t>(heads->int64(i, 2));
    const auto directory = pack_directory_bytes(directories[i], size);
    if (!directory)
      return Status::corruption("rollup pack: unknown format")
          .with_context(where(heads->int64(i, 0), heads->int64(i, 1)));
    if (*directory > directories[i].size()) {
      longer.append(Params()
                        .add(heads->int64(i, 0))
                        .add(heads->int64(i, 1))
                        .add(static_cast<std::int64_t>(*directory)));
      longer_rows.push_back(i);
    }
  }
  if (longer.rows() > 0) {
    auto read = conn.query(
        "SELECT w.n, substring(p.buckets FROM 1 FOR w.len) FROM"
        " unnest($1::bigint[], $2::bigint[], $3::integer[]) WITH ORDINALITY"
        " AS w(agent_id, start_ms, len, n)"
        " JOIN rollup_packs p ON p.tier = $4 AND p.agent_id = w.agent_id"
        " AND p.start_ms = w.start_ms",
        with_arrays(longer, Params().add(tier)));
    if (!read) return read.status();
    for (int i = 0; i < read->size(); ++i)
      directories[longer_rows[read->int64(i, 0) - 1]] = read->bytes(i, 1);
  }
  std::vector<PackEntry> entries;
  pq::ArrayParams far;  // (agent, span start, offset from 1, length) of blocks past the head
  std::vector<std::size_t> far_wants;
  for (int i = 0; i < heads->size(); ++i) {
    const std::int64_t agent = heads->int64(i, 0);
    const std::int64_t start = heads->int64(i, 1);
    const std::string& head = directories[i];
    if (Status s = parse_pack(head, static_cast<std::size_t>(heads->int64(i, 2)), entries); !s)
      return s.with_context(where(agent, start));
    const auto of_agent = by_agent.find(agent);
    if (of_agent == by_agent.end()) continue;
    for (const std::size_t want : of_agent->second) {
      const PackEntry* entry = find_in_pack(entries, wants[want].series);
      if (entry == nullptr) continue;
      if (entry->offset + entry->length <= head.size()) {
        if (Status s =
                add_block(want, std::string_view(head).substr(entry->offset, entry->length), start);
            !s)
          return s;
      } else {
        far.append(Params()
                       .add(agent)
                       .add(start)
                       .add(static_cast<std::int64_t>(entry->offset) + 1)
                       .add(static_cast<std::int64_t>(entry->length)));
        far_wants.push_back(want);
      }
    }
  }
  if (far.rows() > 0) {
    auto blocks = conn.query(
        "SELECT w.n, w.start_ms, substring(p.buckets FROM w.off FOR w.len) FROM"
        " unnest($1::bigint[], $2::bigint[], $3::integer[], $4::integer[]) WITH ORDINALITY"
        " AS w(agent_id, start_ms, off, len, n)"
        " JOIN rollup_packs p ON p.tier = $5 AND p.agent_id = w.agent_id"
        " AND p.start_ms = w.start_ms",
        with_arrays(far, Params().add(tier)));
    if (!blocks) return blocks.status();
    for (int i = 0; i < blocks->size(); ++i) {
      const std::size_t want = far_wants[blocks->int64(i, 0) - 1];
      if (Status s = add_block(want, blocks->bytes(i, 2), blocks->int64(i, 1)); !s) return s;
    }
  }
  // Rows of a database of schema version 5 or before, not moved into packs yet.
  if (old_rows) {
    std::map<std::int64_t, std::vector<std::size_t>> by_series;
    pq::ArrayParams series;
    for (std::size_t i = 0; i < wants.size(); ++i) {
      if (by_series[wants[i].series].empty()) series.append(Params().add(wants[i].series));
      by_series[wants[i].series].push_back(i);
    }
    auto rows = conn.query(
        "SELECT series_id, bucket_ms, min_value, max_value, sum_value, n FROM rollups"
        " WHERE tier = $2 AND series_id = ANY($1::bigint[]) AND bucket_ms >= $3"
        " AND bucket_ms <= $4",
        with_arrays(series, Params().add(tier).add(from).add(to)));
    if (!rows) return rows.status();
    for (int i = 0; i < rows->size(); ++i) {
      const RollupBucket b{rows->int64(i, 1), rows->real(i, 2), rows->real(i, 3), rows->real(i, 4),
                           rows->int64(i, 5)};
      if (b.n <= 0) continue;
      for (const std::size_t want : by_series[rows->int64(i, 0)]) read[want].push_back(b);
    }
  }
  // In time order, a bucket read twice (from a pack and an older row) merged into one.
  const auto earlier = [](const RollupBucket& a, const RollupBucket& b) {
    return a.ts_ms < b.ts_ms;
  };
  for (std::size_t i = 0; i < wants.size(); ++i) {
    std::vector<RollupBucket>& buckets = read[i];
    if (!std::is_sorted(buckets.begin(), buckets.end(), earlier))
      std::stable_sort(buckets.begin(), buckets.end(), earlier);
    out[i].reserve(buckets.size());
    for (const RollupBucket& b : buckets) {
      if (!out[i].empty() && out[i].back().ts_ms == b.ts_ms) merge_bucket(out[i].back(), b);
      else out[i].push_back(b);
    }
  }
  return Status::ok();
}

// Merges the samples of `series` in rows `range` of `blocks` (t_min, samples) that fall
// in [from, to] into `hours` (ascending), in their hours.
Status add_pending_hours(const pq::Rows& blocks, RowRange range, std::int64_t series,
                         std::int64_t from, std::int64_t to, std::vector<RollupBucket>& hours) {
  std::map<std::int64_t, RollupBucket> pending;
  if (Status s = each_sample(blocks, range, series, from, to,
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

// The blocks of `agents` in the rollup queue (not in the tiers yet: the hour under way,
// at least, since an hour is rolled up once it is over) that hold samples in [from, to]:
// t_min, samples and agent_id, by agent.
Result<pq::Rows> read_pending_blocks(pq::Conn& conn, const pq::ArrayParams& agents,
                                     std::int64_t from, std::int64_t to) {
  return conn.query(
      "SELECT b.t_min, b.samples, b.agent_id FROM sample_blocks b"
      " JOIN rollup_pending p ON p.block_id = b.id"
      " WHERE b.agent_id = ANY($1::bigint[]) AND b.t_max >= $2 AND b.t_min <= $3"
      " ORDER BY b.agent_id",
      with_arrays(agents, Params().add(from).add(to)));
}

// A series' points from a tier's `buckets` (starts, or day keys with `days`), then from
// its agent's samples not rolled up yet in [from, to], each in the bucket of `width` (or
// the local day of `days`) that holds it, so that the newest bucket is never missing.
Status merge_tier_and_pending(pq::Conn& conn, const std::vector<RollupBucket>& buckets,
                              std::int64_t agent, std::int64_t series, std::int64_t from,
                              std::int64_t to, std::int64_t width, SeriesMerge& merged,
                              const DayZone* days = nullptr) {
  for (const RollupBucket& b : buckets) merged.add(b.ts_ms, b.min, b.max, b.sum, b.n);
  pq::ArrayParams one;
  one.append(Params().add(agent));
  auto tail = read_pending_blocks(conn, one, from, to);
  if (!tail) return tail.status();
  return add_block_samples(*tail, series, from, to, width, false, merged, days);
}

// The local days (day_zone.hpp) of the daily tier's zone that hold [q.from_ms, q.to_ms],
// as SQLite reads them: its buckets, or while the tier is being rebuilt into that zone
// and the series' days are not yet, its hourly buckets by local day; then the samples
// not rolled up yet.
Status read_day_series(pq::Conn& conn, const SeriesQuery& q, std::int64_t agent,
                       std::int64_t series, SeriesMerge& merged) {
  auto state = read_daily_tier_zone(conn);
  if (!state) return state.status();
  const std::string_view in = state->zone_of(series);
  auto zone = DayZone::named(in.empty() ? std::string_view(state->target()) : in);
  if (!zone) return zone.status();
  const std::int64_t first = zone->day_of(q.from_ms);
  const std::int64_t last = zone->day_of(q.to_ms);
  const std::int64_t from = zone->start_of(first);
  auto old_rows = has_old_rollups(conn);
  if (!old_rows) return old_rows.status();
  std::vector<std::vector<RollupBucket>> buckets;
  if (in.empty()) {
    if (Status s = read_tiers(conn, kHourMs, {{agent, series}}, from, q.to_ms, *old_rows, buckets);
        !s)
      return s;
    for (RollupBucket& b : buckets[0]) b.ts_ms = zone->day_of(b.ts_ms);
  } else {
    if (Status s = read_tiers(conn, kDayMs, {{agent, series}}, first, last, *old_rows, buckets); !s)
      return s;
  }
  if (Status s = merge_tier_and_pending(conn, buckets[0], agent, series, from, q.to_ms, kDayMs,
                                        merged, &*zone);
      !s)
    return s;
  merged.by_days_of(*zone);
  return Status::ok();
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
  SeriesMerge merged(plan.step_ms);
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
  } else if (plan.tier == kDayMs) {
    if (Status s = read_day_series(conn, q, agent, series, merged); !s) return s;
  } else {
    const std::int64_t from = bucket_of(q.from_ms, plan.tier);
    std::vector<std::vector<RollupBucket>> buckets;
    auto old_rows = has_old_rollups(conn);
    if (!old_rows) return old_rows.status();
    if (Status s =
            read_tiers(conn, plan.tier, {{agent, series}}, from, q.to_ms, *old_rows, buckets);
        !s)
      return s;
    if (Status s = merge_tier_and_pending(conn, buckets[0], agent, series, from, q.to_ms, plan.tier,
                                          merged);
        !s)
      return s;
  }
  return SeriesData{.tier = plan.tier_name,
                    .step_ms = plan.step_ms,
                    .unit = found->text(0, 2),
                    .points = merged.points()};
}

// How many checks a history reads together.
constexpr int kHistoryChunk = 256;

// For each check of `keys` (agent, check), into histories[its row]: the last hard state
// and the last staleness change before [from_ms, to_ms), then those in it, in id order.
Status read_check_events(pq::Conn& conn, const pq::ArrayParams& keys, std::int64_t from_ms,
                         std::int64_t to_ms, CheckHistory* histories) {
  const std::string each =
      " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(agent, check_id, n)"
      " CROSS JOIN LATERAL (" +
      std::string(kEventColumns) + " WHERE agent = c.agent AND check_id = c.check_id AND ";
  auto rows =
      conn.query("SELECT e.*, c.n, 0 AS part" + each +
                     "kind = 'state' AND state_type = 1 AND ts_ms < $3 ORDER BY id DESC LIMIT 1) e"
                     " UNION ALL SELECT e.*, c.n, 0" +
                     each +
                     "kind IN ('stale', 'fresh') AND ts_ms < $3 ORDER BY id DESC LIMIT 1) e"
                     " UNION ALL SELECT e.*, c.n, 1" +
                     each +
                     "ts_ms >= $3 AND ts_ms < $4"
                     " AND ((kind = 'state' AND state_type = 1) OR kind IN ('stale', 'fresh'))) e"
                     " ORDER BY n, part, id",
                 with_arrays(keys, Params().add(from_ms).add(to_ms)));
  if (!rows) return rows.status();
  for (int i = 0; i < rows->size(); ++i)
    histories[rows->int64(i, kEventFields) - 1].events.push_back(event_from_row(*rows, i));
  return Status::ok();
}

// For each check of `keys` (agent, check, site), into histories[its row].silences, in id
// order: the events before to_ms that start and end its acknowledgements and downtimes,
// its own, then its agent's and its site's.
Status read_check_silences(pq::Conn& conn, const pq::ArrayParams& keys, std::int64_t to_ms,
                           CheckHistory* histories) {
  auto rows = conn.query(
      "SELECT e.*, c.n FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
      " AS c(agent, check_id, site, n) CROSS JOIN LATERAL (" +
          std::string(kEventColumns) +
          " WHERE ((agent = c.agent AND check_id = c.check_id AND kind IN ('acknowledged',"
          " 'ack_removed', 'ack_expired', 'downtime_start', 'downtime_end'))"
          " OR (agent = c.agent AND check_id = '' AND kind IN ('downtime_start', 'downtime_end'))"
          " OR (agent = '' AND check_id = '' AND site = c.site"
          " AND kind IN ('downtime_start', 'downtime_end')))"
          " AND ts_ms < $4) e ORDER BY c.n, e.id",
      with_arrays(keys, Params().add(to_ms)));
  if (!rows) return rows.status();
  for (int i = 0; i < rows->size(); ++i)
    histories[rows->int64(i, kEventFields) - 1].silences.push_back(event_from_row(*rows, i));
  return Status::ok();
}

// For each check of a history (histories[i], of agent agent_ids[i]), the points of each
// of q.metrics it has: the hourly tier, and the samples not rolled up yet in their hours,
// whole as the tier's (those that start in the period); or when the daily tier's days
// are q.day_zone's, a point a day of its whole days and the hours of the others.
Status read_check_hours(pq::Conn& conn, const HistoryQuery& q, bool old_rows,
                        const std::vector<std::int64_t>& agent_ids, CheckHistory* histories) {
  if (q.metrics.empty()) return Status::ok();
  pq::ArrayParams keys;  // (agent, check, metric)
  for (std::size_t i = 0; i < agent_ids.size(); ++i) {
    for (const std::string& metric : q.metrics)
      keys.append(Params().add(agent_ids[i]).add(histories[i].state.last.check).add(metric));
  }
  auto found = conn.query(
      "SELECT c.n, s.id FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY"
      " AS c(agent_id, check_id, metric, n) JOIN series s ON s.agent_id = c.agent_id"
      " AND s.check_id = c.check_id AND s.metric = c.metric ORDER BY c.n",
      keys.params());
  if (!found) return found.status();
  // A metric the check never had is left out.
  std::vector<TierWant> wants;
  std::vector<std::pair<std::size_t, const std::string*>> of_want;  // (check, metric)
  for (int i = 0; i < found->size(); ++i) {
    const auto key = static_cast<std::size_t>(found->int64(i, 0) - 1);
    const std::size_t check = key / q.metrics.size();
    wants.push_back({agent_ids[check], found->int64(i, 1)});
    of_want.emplace_back(check, &q.metrics[key % q.metrics.size()]);
  }
  if (wants.empty()) return Status::ok();
  // The whole local days of the period from the daily tier when its days are the
  // period's (its zone, for the series: not one being rebuilt), as SQLite reads them,
  // and the hours of the partial days at its edges; the hourly tier alone otherwise.
  std::optional<DayZone> days;
  DailyTierZone daily;
  std::int64_t first = 0, end = 0;  // day keys: the first whole day, the one after the last
  if (!q.day_zone.empty()) {
    auto zone = DayZone::named(q.day_zone);
    if (!zone) return zone.status();
    auto state = read_daily_tier_zone(conn);
    if (!state) return state.status();
    days = std::move(*zone);
    daily = std::move(*state);
    first = days->day_of(q.from_ms);
    if (days->start_of(first) < q.from_ms) first += kDayMs;
    end = days->day_of(q.to_ms);  // the days before it end by q.to_ms
  }
  // Each want's points, ascending, their times those of the answer.
  std::vector<std::vector<RollupBucket>> buckets(wants.size());
  std::vector<std::size_t> by_hours, by_days;  // indexes into wants
  for (std::size_t w = 0; w < wants.size(); ++w) {
    const bool whole_days =
        days && first < end && daily.zone_of(wants[w].series) == std::string_view(days->name());
    (whole_days ? by_days : by_hours).push_back(w);
  }
  std::vector<std::vector<RollupBucket>> read;
  // The hourly tier's buckets of wants `which` that start in [from, to], added to theirs.
  const auto add_hours = [&](const std::vector<std::size_t>& which, std::int64_t from,
                             std::int64_t to) -> Status {
    std::vector<TierWant> some;
    for (const std::size_t w : which) some.push_back(wants[w]);
    if (Status s = read_tiers(conn, kHourMs, some, from, to, old_rows, read); !s) return s;
    for (std::size_t i = 0; i < which.size(); ++i)
      buckets[which[i]].insert(buckets[which[i]].end(), read[i].begin(), read[i].end());
    return Status::ok();
  };
  // The period's last hours, [from, to], with the samples not rolled up yet in their
  // hours, so that a report made now counts what just came. Hours are whole, as the
  // tier's: those that start in [from, to].
  const auto add_last_hours = [&](const std::vector<std::size_t>& which, std::int64_t from,
                                  std::int64_t to) -> Status {
    if (which.empty()) return Status::ok();
    std::vector<std::vector<RollupBucket>> hourly(which.size());
    std::vector<TierWant> some;
    pq::ArrayParams agents;
    for (const std::size_t w : which) {
      if (some.empty() || some.back().agent != wants[w].agent)
        agents.append(Params().add(wants[w].agent));  // an agent twice is harmless
      some.push_back(wants[w]);
    }
    if (Status s = read_tiers(conn, kHourMs, some, from, to, old_rows, hourly); !s) return s;
    const std::int64_t first_hour = bucket_of(from + kHourMs - 1, kHourMs);
    const std::int64_t last_ms = bucket_of(to, kHourMs) + kHourMs - 1;
    auto pending = read_pending_blocks(conn, agents, first_hour, last_ms);
    if (!pending) return pending.status();
    std::map<std::int64_t, RowRange> blocks_of;  // agent: its rows of `pending`
    for (int i = 0; i < pending->size(); ++i) {
      auto [it, fresh] = blocks_of.try_emplace(pending->int64(i, 2), RowRange{i, i});
      it->second.last = i + 1;
    }
    for (std::size_t i = 0; i < which.size(); ++i) {
      if (auto blocks = blocks_of.find(some[i].agent); blocks != blocks_of.end()) {
        if (Status s = add_pending_hours(*pending, blocks->second, some[i].series, first_hour,
                                         last_ms, hourly[i]);
            !s)
          return s;
      }
      auto& into = buckets[which[i]];
      into.insert(into.end(), hourly[i].begin(), hourly[i].end());
    }
    return Status::ok();
  };
  if (Status s = add_last_hours(by_hours, q.from_ms, q.to_ms - 1); !s) return s;
  if (!by_days.empty()) {
    if (Status s = add_hours(by_days, q.from_ms, days->start_of(first) - 1); !s) return s;
    std::vector<TierWant> some;
    for (const std::size_t w : by_days) some.push_back(wants[w]);
    if (Status s = read_tiers(conn, kDayMs, some, first, end - kDayMs, old_rows, read); !s)
      return s;
    for (std::size_t i = 0; i < by_days.size(); ++i) {
      for (RollupBucket b : read[i]) {
        b.ts_ms = days->start_of(b.ts_ms);  // a point a day, at the local day's start
        buckets[by_days[i]].push_back(b);
      }
    }
    if (Status s = add_last_hours(by_days, days->start_of(end), q.to_ms - 1); !s) return s;
  }
  for (std::size_t w = 0; w < wants.size(); ++w) {
    std::vector<SeriesPoint>& points = histories[of_want[w].first].series[*of_want[w].second];
    points.reserve(buckets[w].size());
    for (const RollupBucket& b : buckets[w]) {
      points.push_back({.ts_ms = b.ts_ms,
                        .min = b.min,
                        .max = b.max,
                        .avg = b.sum / static_cast<double>(b.n),
                        .count = b.n});
    }
  }
  return Status::ok();
}

Result<HistoryData> read_history_now(pq::Conn& conn, const HistoryQuery& q) {
  HistoryData out;
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
  }
  // A check is filed under its own site when it names one (a central poller's), else
  // under its agent's.
  auto checks = conn.query(std::string(kCheckColumns) +
                               " WHERE starts_with(c.check_id, $1)"
                               " AND ($2 = '' OR coalesce(nullif(c.site, ''), a.site) = $2)"
                               " ORDER BY coalesce(nullif(c.site, ''), a.site) COLLATE \"C\","
                               " a.name COLLATE \"C\", c.check_id COLLATE \"C\"",
                           Params().add(q.check_prefix).add(q.site));
  if (!checks) return checks.status();
  // Then kHistoryChunk checks at a time, each step in one statement for all of them.
  for (int first = 0; first < checks->size(); first += kHistoryChunk) {
    const int last = std::min(checks->size(), first + kHistoryChunk);
    const std::size_t base = out.checks.size();
    std::vector<std::int64_t> agent_ids;
    pq::ArrayParams keys;      // (agent, check)
    pq::ArrayParams in_sites;  // (agent, check, site)
    for (int i = first; i < last; ++i) {
      CheckHistory h;
      h.state = check_from_row(*checks, i);
      h.state.last.details.clear();  // as SQLite's report query: not read
      h.state.last.duration_ms = 0;
      h.state.max_attempts = CheckState{}.max_attempts;
      h.state.history = 0;
      h.state.history_len = 0;
      h.state.flap_percent = 0;
      agent_ids.push_back(checks->int64(i, 27));
      keys.append(Params().add(h.state.agent).add(h.state.last.check));
      in_sites.append(Params().add(h.state.agent).add(h.state.last.check).add(h.state.site));
      out.checks.push_back(std::move(h));
    }
    CheckHistory* histories = &out.checks[base];
    if (Status s = read_check_events(conn, keys, q.from_ms, q.to_ms, histories); !s) return s;
    if (q.silences) {
      if (Status s = read_check_silences(conn, in_sites, q.to_ms, histories); !s) return s;
    }
    if (Status s = read_check_hours(conn, q, *old_rows, agent_ids, histories); !s) return s;
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

Result<RollupBacklog> read_rollup_backlog(pq::Conn& conn, std::int64_t now_ms) {
  // The due blocks in the order of the queue's index by end, the first kRollupDueCounted
  // only: the oldest is the first of them, and a backlog of millions (an hour of a large
  // fleet, just over) is not read whole at each scrape. A plan that scans the table
  // would read every block queued, due or not.
  auto rows = conn.query(
      "SELECT count(*), coalesce(min(t_max), 0) FROM (SELECT t_max FROM rollup_pending"
      " WHERE t_max < $1 ORDER BY t_max LIMIT $2) due",
      Params().add(bucket_of(now_ms, kHourMs)).add(kRollupDueCounted));
  if (!rows) return rows.status().with_context("read the roll-up's queue");
  return RollupBacklog{.blocks = rows->int64(0, 0), .oldest_ms = rows->int64(0, 1)};
}

Result<DailyTierZone> read_daily_tier_zone(pq::Conn& conn) {
  auto rows = conn.query("SELECT zone, next_zone, rebuilt_through FROM daily_tier");
  if (!rows) return rows.status().with_context("read the daily tier's zone");
  if (rows->size() != 1) return Status::internal("daily_tier holds no row");
  DailyTierZone z;
  z.zone = rows->text(0, 0);
  z.next = rows->text(0, 1);
  z.rebuilt_through = rows->int64(0, 2);
  return z;
}

Status read_tier_buckets(pq::Conn& conn, std::int64_t tier, const std::vector<TierWant>& wants,
                         std::int64_t from, std::int64_t to,
                         std::vector<std::vector<RollupBucket>>& out) {
  return read_tiers(conn, tier, wants, from, to, /*old_rows=*/false, out);
}

Result<std::int64_t> read_database_bytes(pq::Conn& conn) {
  auto rows = conn.query("SELECT pg_database_size(current_database())");
  if (!rows) return rows.status();
  return rows->int64(0, 0);
}

}  // namespace vigie::collector::pg
