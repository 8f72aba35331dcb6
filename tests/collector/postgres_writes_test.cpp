// What the PostgreSQL backend's writer does inside a transaction
// (collector/postgres/writes.hpp): reports' samples wait for the group's one COPY, and a
// job rolled back to its savepoint takes its samples with it.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "collector/postgres/pq.hpp"
#include "collector/postgres/reads.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/postgres/writes.hpp"
#include "collector/rollup_pack.hpp"
#include "collector/sample_block.hpp"
#include "tests/support/child.hpp"
#include "tests/support/postgres_database.hpp"

namespace vigie::collector::pg {
namespace {

protocol::Report report(const std::string& agent, std::uint64_t seq, int metrics) {
  protocol::Report r;
  r.agent = {agent, "site-a", "host", "0.1"};
  r.seq = seq;
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = State::kOk;
  c.ts_ms = 1'764'892'800'000 + static_cast<std::int64_t>(seq) * 60'000;
  c.interval_s = 60;
  for (int i = 0; i < metrics; ++i)
    c.metrics.push_back(Metric{.label = "m" + std::to_string(i), .value = 0.5 * i});
  r.results.push_back(c);
  return r;
}

// Stores, in one transaction, `agents` agents' hour of reports a minute apart (seq 0..59,
// from the hour report() starts at), each of `metrics` metrics; agents named `prefix`0,
// `prefix`1, ...
void store_hour(pq::Conn& conn, Writes& writes, const std::string& prefix, int agents,
                int metrics) {
  REQUIRE(conn.exec("BEGIN"));
  writes.new_transaction();
  for (int agent = 0; agent < agents; ++agent) {
    for (std::uint64_t seq = 0; seq < 60; ++seq) {
      writes.job_starts();
      REQUIRE(writes.store(report(prefix + std::to_string(agent), seq, metrics), 1000).is_ok());
    }
  }
  REQUIRE(writes.flush_blocks());
  REQUIRE(conn.commit());
}

std::string sql(pq::Conn& conn, const std::string& query) {
  auto rows = conn.query(query);
  REQUIRE(rows.is_ok());
  return rows->text(0, 0);
}

// Every bucket the rollup packs hold of the series whose metric is `metric` (all when
// empty), every tier together.
std::vector<RollupBucket> packed(pq::Conn& conn, const std::string& metric = {}) {
  auto ids =
      conn.query("SELECT id FROM series WHERE $1 = '' OR metric = $1", pq::Params().add(metric));
  REQUIRE(ids.is_ok());
  std::set<std::int64_t> wanted;
  for (int i = 0; i < ids->size(); ++i) wanted.insert(ids->int64(i, 0));
  auto packs = conn.query("SELECT tier, start_ms, buckets FROM rollup_packs");
  REQUIRE(packs.is_ok());
  std::vector<RollupBucket> out;
  std::vector<PackEntry> entries;
  for (int i = 0; i < packs->size(); ++i) {
    const std::string pack = packs->bytes(i, 2);
    REQUIRE(parse_pack(pack, pack.size(), entries));
    for (const PackEntry& e : entries) {
      if (!wanted.contains(e.series)) continue;
      REQUIRE(decode_rollups(std::string_view(pack).substr(e.offset, e.length), packs->int64(i, 1),
                             packs->int64(i, 0), out));
    }
  }
  return out;
}

// n, min..max and sum of `buckets`, e.g. "600 1..1:600".
std::string totals(const std::vector<RollupBucket>& buckets) {
  std::int64_t n = 0;
  double lo = 1e300, hi = -1e300, sum = 0;
  for (const RollupBucket& b : buckets) {
    n += b.n;
    lo = std::min(lo, b.min);
    hi = std::max(hi, b.max);
    sum += b.sum;
  }
  std::ostringstream out;
  out << n << ' ' << lo << ".." << hi << ':' << sum;
  return out.str();
}

// Runs `work` on a connection of its own while another session holds the rows `lock_rows`
// selects FOR UPDATE, and terminates its backend once it waits for them (seen by
// `watcher`), as when a collector dies or a server drops its connection: what `work`
// returned.
Status terminated_while_waiting(const std::string& conninfo, pq::Conn& watcher,
                                const std::string& lock_rows,
                                const std::function<Status(pq::Conn&, Writes&)>& work) {
  auto holder = pq::Conn::connect(conninfo);
  REQUIRE(holder.is_ok());
  REQUIRE((*holder)->exec("BEGIN"));
  REQUIRE((*holder)->query(lock_rows + " FOR UPDATE").is_ok());
  auto doomed = pq::Conn::connect(conninfo);
  REQUIRE(doomed.is_ok());
  const std::string pid = sql(**doomed, "SELECT pg_backend_pid()");
  Writes doomed_writes(**doomed, 0);
  Status doomed_status;
  std::thread working([&] { doomed_status = work(**doomed, doomed_writes); });
  const bool waiting = testing::eventually(
      [&] {
        return sql(watcher, "SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid +
                                " AND wait_event_type = 'Lock'") == "1";
      },
      std::chrono::seconds(10));
  if (waiting) CHECK(sql(watcher, "SELECT pg_terminate_backend(" + pid + ")") == "t");
  REQUIRE((*holder)->exec("ROLLBACK"));
  working.join();
  REQUIRE(waiting);
  return doomed_status;
}

// A connection to `conninfo` (a fresh database), migrated to this collector's schema.
std::unique_ptr<pq::Conn> migrated_connection(const std::string& conninfo) {
  auto conn = pq::Conn::connect(conninfo);
  REQUIRE(conn.is_ok());
  REQUIRE(migrate(**conn));
  return std::move(*conn);
}

TEST_CASE("PostgreSQL writes: a group's samples go in one COPY, a failed job's with it",
          "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);

  REQUIRE(c.exec("BEGIN"));
  writes.new_transaction();
  // Job 1: stored. Job 2: stored, then its savepoint rolled back. Job 3: a replay of
  // job 1. Job 4: a report without samples.
  REQUIRE(c.exec("SAVEPOINT job"));
  writes.job_starts();
  auto first = writes.store(report("a1", 1, 3), 1000);
  REQUIRE(first.is_ok());
  CHECK(*first == IngestOutcome::kStored);
  REQUIRE(c.exec("RELEASE SAVEPOINT job; SAVEPOINT job"));
  writes.job_starts();
  auto second = writes.store(report("a2", 1, 4), 1000);
  REQUIRE(second.is_ok());
  REQUIRE(c.exec("ROLLBACK TO SAVEPOINT job"));
  writes.job_failed();
  REQUIRE(c.exec("RELEASE SAVEPOINT job; SAVEPOINT job"));
  writes.job_starts();
  auto replay = writes.store(report("a1", 1, 3), 1000);
  REQUIRE(replay.is_ok());
  CHECK(*replay == IngestOutcome::kDuplicate);
  REQUIRE(c.exec("RELEASE SAVEPOINT job; SAVEPOINT job"));
  writes.job_starts();
  auto empty = writes.store(report("a3", 7, 0), 1000);
  REQUIRE(empty.is_ok());
  CHECK(*empty == IngestOutcome::kStored);
  // Nothing in the table before the flush; one block after it, queued for rollup.
  CHECK(sql(c, "SELECT count(*) FROM sample_blocks") == "0");
  REQUIRE(writes.flush_blocks());
  CHECK(writes.flush_blocks());  // nothing left: a no-op
  REQUIRE(c.commit());
  CHECK(sql(c, "SELECT count(*) FROM sample_blocks") == "1");
  CHECK(sql(c,
            "SELECT count(*) FROM sample_blocks b JOIN agents a ON a.id = b.agent_id"
            " JOIN rollup_pending p ON p.block_id = b.id WHERE a.name = 'a1'") == "1");
  CHECK(sql(c,
            "SELECT string_agg(a.name || ':' || b.seq, ',' ORDER BY a.name) FROM batches b"
            " JOIN agents a ON a.id = b.agent_id") == "a1:1,a3:7");
  // The block holds the report's three samples, at its time.
  auto block = c.query("SELECT t_min, t_max, samples FROM sample_blocks");
  REQUIRE(block.is_ok());
  std::vector<Sample> samples;
  REQUIRE(decode_samples(block->bytes(0, 2), block->int64(0, 0), samples));
  REQUIRE(samples.size() == 3);
  CHECK(samples[2].value == 1.0);
  CHECK(block->int64(0, 0) == report("a1", 1, 3).results[0].ts_ms);

  // A transaction that fails leaves no block behind for the next one.
  REQUIRE(c.exec("BEGIN"));
  writes.new_transaction();
  writes.job_starts();
  REQUIRE(writes.store(report("a1", 2, 3), 1000).is_ok());
  REQUIRE(c.exec("ROLLBACK"));
  writes.forget_cached_ids();
  REQUIRE(c.exec("BEGIN"));
  writes.new_transaction();
  REQUIRE(writes.flush_blocks());
  REQUIRE(c.commit());
  CHECK(sql(c, "SELECT count(*) FROM sample_blocks") == "1");
}

TEST_CASE("PostgreSQL writes: a replayed report changes nothing, not even its series",
          "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);
  auto store = [&](const protocol::Report& r) {
    REQUIRE(c.exec("BEGIN"));
    writes.new_transaction();
    writes.job_starts();
    auto outcome = writes.store(r, 1000);
    REQUIRE(outcome.is_ok());
    REQUIRE(writes.flush_blocks());
    REQUIRE(c.commit());
    return *outcome;
  };
  CHECK(store(report("a1", 1, 2)) == IngestOutcome::kStored);
  const std::string series =
      "SELECT string_agg(metric || ':' || unit, ',' ORDER BY metric)"
      " FROM series";
  const std::string before = sql(c, series);
  CHECK(before == "m0:,m1:");
  // The same (agent, seq) again, with a metric more and a unit changed.
  protocol::Report replay = report("a1", 1, 3);
  replay.results[0].metrics[0].unit = "s";
  CHECK(store(replay) == IngestOutcome::kDuplicate);
  CHECK(sql(c, series) == before);
  CHECK(sql(c, "SELECT count(*) FROM sample_blocks") == "1");
}

TEST_CASE(
    "PostgreSQL writes: an agent's series are read in one statement and its new ones written in "
    "one, after a restart too",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  // The round trips store() waited for, and the series ids of the block it wrote.
  const auto store = [&](Writes& writes, const protocol::Report& r) {
    REQUIRE(c.exec("BEGIN"));
    writes.new_transaction();
    writes.job_starts();
    const std::int64_t before = c.round_trips();
    auto outcome = writes.store(r, 1000);
    const std::int64_t trips = c.round_trips() - before;
    REQUIRE(outcome.is_ok());
    CHECK(*outcome == IngestOutcome::kStored);
    REQUIRE(writes.flush_blocks());
    REQUIRE(c.commit());
    return trips;
  };
  const auto series_of = [&](const std::string& agent) {
    auto rows = c.query(
        "SELECT samples, t_min FROM sample_blocks b JOIN agents a ON a.id = b.agent_id"
        " WHERE a.name = $1 ORDER BY b.id DESC LIMIT 1",
        pq::Params().add(agent));
    REQUIRE(rows.is_ok());
    REQUIRE(rows->size() == 1);
    std::vector<Sample> samples;
    REQUIRE(decode_samples(rows->bytes(0, 0), rows->int64(0, 1), samples));
    std::vector<std::int64_t> ids;
    for (const Sample& sample : samples) ids.push_back(sample.series);
    return ids;
  };
  {
    Writes writes(c, 200);
    store(writes, report("warm", 1, 90));  // the statements are prepared once
    // A new agent's 90 series: one statement to find none, one to write them all.
    CHECK(store(writes, report("a1", 1, 90)) <= 4);
    CHECK(sql(c, "SELECT count(*) FROM series") == "180");
  }
  const std::vector<std::int64_t> first = series_of("a1");
  REQUIRE(first.size() == 90);

  // A restart: nothing in memory. The agent's series are read at once, not one by one,
  // and its samples keep their series.
  Writes restarted(c, 200);
  store(restarted, report("warm", 2, 90));
  CHECK(store(restarted, report("a1", 2, 90)) <= 4);
  CHECK(series_of("a1") == first);
  CHECK(sql(c, "SELECT count(*) FROM series") == "180");

  // Another collector writes a series of a1 meanwhile; this one learns its id from the
  // upsert. One unit changes, a metric comes twice with two units (the last wins).
  {
    auto other_conn = pq::Conn::connect(postgres->conninfo);
    REQUIRE(other_conn.is_ok());
    Writes other(**other_conn, 200);
    REQUIRE((*other_conn)->exec("BEGIN"));
    other.new_transaction();
    other.job_starts();
    REQUIRE(other.store(report("a1", 3, 91), 1000).is_ok());
    REQUIRE(other.flush_blocks());
    REQUIRE((*other_conn)->commit());
  }
  protocol::Report changed = report("a1", 4, 91);
  changed.results[0].metrics[0].unit = "s";
  Metric twice = changed.results[0].metrics[1];
  twice.unit = "B";
  changed.results[0].metrics.push_back(twice);
  CHECK(store(restarted, changed) <= 4);
  std::vector<std::int64_t> now = series_of("a1");
  REQUIRE(now.size() == 92);
  CHECK(std::vector<std::int64_t>(now.begin(), now.begin() + 90) == first);
  CHECK(now[91] == first[1]);
  CHECK(sql(c, "SELECT count(*) FROM series") == "181");
  CHECK(sql(c,
            "SELECT string_agg(metric || ':' || unit, ',' ORDER BY metric) FROM series s"
            " JOIN agents a ON a.id = s.agent_id WHERE a.name = 'a1' AND unit <> ''") ==
        "m0:s,m1:B");
  // m90's samples carry the id the other collector's series got.
  CHECK(std::to_string(now[90]) ==
        sql(c,
            "SELECT s.id FROM series s JOIN agents a ON a.id = s.agent_id"
            " WHERE a.name = 'a1' AND metric = 'm90'"));
}

TEST_CASE("PostgreSQL writes: a roll-up of many blocks writes its buckets in a few statements",
          "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);
  // 300 agents' reports of 3 metrics, a minute apart for two agents in ten: 300 blocks,
  // 900 samples in 5-minute and hourly buckets long closed.
  REQUIRE(c.exec("BEGIN"));
  writes.new_transaction();
  for (int agent = 0; agent < 300; ++agent) {
    writes.job_starts();
    REQUIRE(
        writes.store(report("r" + std::to_string(agent), agent % 10 < 2 ? 2 : 1, 3), 1000).is_ok());
  }
  REQUIRE(writes.flush_blocks());
  REQUIRE(c.commit());
  const std::int64_t now = report("x", 1, 0).results[0].ts_ms + 86'400'000;
  REQUIRE(c.exec("BEGIN"));
  const std::int64_t before = c.round_trips();
  bool more = false;
  REQUIRE(writes.housekeeping_slice({}, std::chrono::seconds(30), now, &more));
  const std::int64_t trips = c.round_trips() - before;
  REQUIRE(c.commit());
  CHECK_FALSE(more);
  // Five picks of 64 agents' blocks, each with a statement to take the blocks, one to
  // read their packs and one to write them back, the partitions' and the retention's
  // few, each prepared on first use: not a statement per bucket (1,800 here, 1,847 round
  // trips in all before the rows were batched).
  CHECK(trips <= 90);
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "0");
  // An agent's pack in each of the three tiers; a bucket per sample in each.
  CHECK(sql(c, "SELECT count(*) FROM rollup_packs") == "900");
  const auto buckets = packed(c);
  CHECK(buckets.size() == 2700);
  CHECK(totals(buckets).starts_with("2700 "));
  // m2's samples are 1.0 each, whichever the agent.
  CHECK(totals(packed(c, "m2")) == "900 1..1:900");
}

TEST_CASE(
    "PostgreSQL writes: a roll-up pick is sized by the time the last one took, so that an hour "
    "of many agents' blocks is rolled up in picks that fit the slice, each sample once",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);
  // 10 agents, a report a minute for an hour, 3 metrics: 600 blocks due once it is over.
  const std::int64_t hour = report("x", 0, 0).results[0].ts_ms;
  store_hour(c, writes, "p", 10, 3);
  const auto slice = [&](std::chrono::milliseconds budget) {
    REQUIRE(c.exec("BEGIN"));
    bool more = false;
    REQUIRE(writes.housekeeping_slice({}, budget, hour + 2 * 3'600'000, &more));
    REQUIRE(c.commit());
    return std::pair{writes.slice_work(), more};
  };
  // No time at all: a slice makes one pick, the first of a few agents' blocks (not the
  // 10 agents' whole hour), and the next ones shrink to the least.
  const auto [first, more] = slice(std::chrono::milliseconds(0));
  CHECK(more);
  CHECK(first.rollup_picks == 1);
  CHECK(first.blocks_rolled_up > 0);
  CHECK(first.blocks_rolled_up <= Writes::kFirstPick);
  const auto [second, more_again] = slice(std::chrono::milliseconds(0));
  CHECK(more_again);
  CHECK(second.rollup_picks == 1);
  CHECK(second.blocks_rolled_up > 0);
  CHECK(second.blocks_rolled_up <= Writes::kLeastPick);
  // With time, the picks grow again and take the rest, each sample once.
  bool left = true;
  for (int i = 0; left && i < 100; ++i) left = slice(std::chrono::seconds(30)).second;
  CHECK_FALSE(left);
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "0");
  // 600 blocks of 0, 0.5 and 1 in the three tiers.
  CHECK(totals(packed(c)) == "5400 0..1:2700");
}

TEST_CASE(
    "PostgreSQL writes: an agent's hour of blocks is rolled up once the hour is over, each "
    "pack written once, late samples merged into it",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);
  // Three agents, a report a minute for an hour (seq 0..59 from 00:00 UTC), 2 metrics.
  const std::int64_t hour = report("x", 0, 0).results[0].ts_ms;
  store_hour(c, writes, "h", 3, 2);
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "180");
  const auto slice = [&](std::int64_t now) {
    // What the slice does to the packs: the backend's counts not sent to the
    // statistics yet, before and after it.
    const auto counts = [&] {
      auto rows = c.query(
          "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables"
          " WHERE relname = 'rollup_packs'");
      REQUIRE(rows.is_ok());
      return std::pair{rows->int64(0, 0), rows->int64(0, 1)};
    };
    REQUIRE(c.exec("BEGIN"));
    const auto [inserted, updated] = counts();
    bool more = false;
    REQUIRE(writes.housekeeping_slice({}, std::chrono::seconds(30), now, &more));
    const auto [inserted_after, updated_after] = counts();
    REQUIRE(c.commit());
    CHECK_FALSE(more);
    return std::to_string(inserted_after - inserted) + " inserted, " +
           std::to_string(updated_after - updated) + " updated";
  };
  // What a series query of h0's 5-minute tier answers for the hour: buckets and samples.
  const auto five_minutes = [&] {
    auto data = read_series(c,
                            {.agent = "h0",
                             .check = "system/load",
                             .metric = "m1",
                             .from_ms = hour,
                             .to_ms = hour + 3'600'000 - 1},
                            {.tier = kFiveMinutesMs, .tier_name = "5m"});
    REQUIRE(data.is_ok());
    std::int64_t samples = 0;
    for (const SeriesPoint& p : data->points) samples += p.count;
    return std::to_string(data->points.size()) + " buckets, " + std::to_string(samples);
  };
  // The hour is not over: nothing rolled up; reads take the queued blocks.
  CHECK(slice(hour + 59 * 60'000 + 30'000) == "0 inserted, 0 updated");
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "180");
  CHECK(five_minutes() == "12 buckets, 60");
  // Over: every block at once, a pack per agent and tier, each written once.
  CHECK(slice(hour + 3'600'000) == "9 inserted, 0 updated");
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "0");
  CHECK(five_minutes() == "12 buckets, 60");
  auto buckets = packed(c, "m1");  // 0.5 each
  CHECK(totals(buckets) == "540 0.5..0.5:270");
  // 12 five-minute buckets of 5 samples, one hourly bucket of 60 and one daily, for each
  // agent.
  CHECK(std::count_if(buckets.begin(), buckets.end(),
                      [](const RollupBucket& b) { return b.n == 5; }) == 36);
  CHECK(std::count_if(buckets.begin(), buckets.end(),
                      [](const RollupBucket& b) { return b.n == 60; }) == 6);

  // A late sample of that hour (an agent's spool) joins its buckets: its agent's three
  // packs are rewritten, nothing is added beside them.
  REQUIRE(c.exec("BEGIN"));
  writes.new_transaction();
  writes.job_starts();
  auto late = report("h1", 60, 2);
  late.results[0].ts_ms = hour + 30 * 60'000 + 15'000;
  late.results[0].metrics[1].value = 4.5;
  REQUIRE(writes.store(late, 1000).is_ok());
  REQUIRE(writes.flush_blocks());
  REQUIRE(c.commit());
  CHECK(slice(hour + 2 * 3'600'000) == "0 inserted, 3 updated");
  buckets = packed(c, "m1");
  CHECK(totals(buckets) == "543 0.5..4.5:283.5");
  CHECK(std::count_if(buckets.begin(), buckets.end(),
                      [](const RollupBucket& b) { return b.n == 6 && b.max == 4.5; }) == 1);
  CHECK(sql(c, "SELECT count(*) FROM rollup_packs") == "9");
}

TEST_CASE(
    "PostgreSQL writes: a roll-up whose connection dies half-way leaves its blocks queued, "
    "and the next one counts them once",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);
  const std::int64_t hour = report("x", 0, 0).results[0].ts_ms;
  const auto store = [&](const protocol::Report& r) {
    REQUIRE(c.exec("BEGIN"));
    writes.new_transaction();
    writes.job_starts();
    REQUIRE(writes.store(r, 1000).is_ok());
    REQUIRE(writes.flush_blocks());
    REQUIRE(c.commit());
  };
  const auto roll_up = [&](pq::Conn& on, Writes& w) {
    bool more = false;
    Status s = on.exec("BEGIN");
    if (s) s = w.housekeeping_slice({}, std::chrono::seconds(30), hour + 2 * 3'600'000, &more);
    if (s) s = on.commit();
    return s;
  };
  // Two agents' hour of reports (2 metrics, 0.5 each for m1), rolled up into packs.
  for (const char* agent : {"k0", "k1"}) {
    for (std::uint64_t seq = 0; seq < 60; ++seq) store(report(agent, seq, 2));
  }
  REQUIRE(roll_up(c, writes));
  // A late report of that hour for each agent: the next roll-up merges into their packs.
  for (const char* agent : {"k0", "k1"}) {
    auto late = report(agent, 60, 2);
    late.results[0].ts_ms = hour + 20 * 60'000 + 30'000;
    store(late);
  }
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "2");

  // Another session holds the packs, so that the roll-up of a second connection takes
  // the queued blocks, then waits for the packs' row locks; its backend is terminated
  // there, as a collector dies or a server drops its connection.
  CHECK_FALSE(
      terminated_while_waiting(postgres->conninfo, c, "SELECT tier FROM rollup_packs", roll_up)
          .is_ok());
  // Its transaction is gone: the blocks are queued again, the packs as they were.
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "2");
  CHECK(totals(packed(c, "m1")) == "360 0.5..0.5:180");

  // The next roll-up counts each late sample once, in the three tiers.
  REQUIRE(roll_up(c, writes));
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "0");
  CHECK(totals(packed(c, "m1")) == "366 0.5..0.5:183");
  CHECK(sql(c, "SELECT count(*) FROM rollup_packs") == "6");
}

TEST_CASE(
    "PostgreSQL writes: a series is read from its agent's pack when the directory is longer "
    "than the first bytes read, or its block lies past them",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);
  // Agent "wide": 600 series (a directory of about 1,200 bytes), 12 reports. Agent
  // "long": 100 series whose values move (blocks of tens of bytes each), 60 reports.
  const auto value = [](std::uint64_t seq, int metric) { return 0.5 * metric + (seq % 7) * 0.25; };
  REQUIRE(c.exec("BEGIN"));
  writes.new_transaction();
  for (std::uint64_t seq = 0; seq < 60; ++seq) {
    if (seq < 12) {
      writes.job_starts();
      REQUIRE(writes.store(report("wide", seq, 600), 1000).is_ok());
    }
    auto r = report("long", seq, 100);
    for (int i = 0; i < 100; ++i) r.results[0].metrics[i].value = value(seq, i);
    writes.job_starts();
    REQUIRE(writes.store(r, 1000).is_ok());
  }
  REQUIRE(writes.flush_blocks());
  REQUIRE(c.commit());
  const std::int64_t hour = report("x", 0, 0).results[0].ts_ms;
  REQUIRE(c.exec("BEGIN"));
  bool more = false;
  REQUIRE(writes.housekeeping_slice({}, std::chrono::seconds(30), hour + 3'600'000, &more));
  REQUIRE(c.commit());
  // Past what the first read and a directory's longest bound (20 bytes an entry) hold.
  CHECK(std::stoll(sql(c,
                       "SELECT length(buckets) FROM rollup_packs p JOIN agents a"
                       " ON a.id = p.agent_id WHERE tier = 300000 AND a.name = 'long'")) >
        1 + 10 + 100 * 20 + 1000);
  const auto read = [&](const std::string& agent, int metric) {
    REQUIRE(c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    auto data = read_series(c,
                            {.agent = agent,
                             .check = "system/load",
                             .metric = "m" + std::to_string(metric),
                             .from_ms = hour,
                             .to_ms = hour + 3'600'000 - 1},
                            {.tier = kFiveMinutesMs, .tier_name = "5m"});
    REQUIRE(c.exec("COMMIT"));
    REQUIRE(data.is_ok());
    return data->points;
  };
  for (int metric : {0, 1, 299, 599}) {
    INFO("wide, m" << metric);
    // Minutes 0-4, 5-9 and 10-11, every sample 0.5 x the metric's number.
    const auto points = read("wide", metric);
    REQUIRE(points.size() == 3);
    CHECK(points[0].count == 5);
    CHECK(points[2].count == 2);
    CHECK(points[2].ts_ms == hour + 600'000);
    for (const SeriesPoint& p : points) {
      CHECK(p.min == 0.5 * metric);
      CHECK(p.max == 0.5 * metric);
      CHECK(p.avg == 0.5 * metric);
    }
  }
  for (int metric : {0, 50, 99}) {
    INFO("long, m" << metric);
    const auto points = read("long", metric);
    REQUIRE(points.size() == 12);
    for (std::size_t b = 0; b < points.size(); ++b) {
      double lo = 1e9, hi = -1e9, sum = 0;
      for (std::uint64_t seq = 5 * b; seq < 5 * b + 5; ++seq) {
        lo = std::min(lo, value(seq, metric));
        hi = std::max(hi, value(seq, metric));
        sum += value(seq, metric);
      }
      CHECK(points[b].count == 5);
      CHECK(points[b].min == lo);
      CHECK(points[b].max == hi);
      CHECK(points[b].avg == Approx(sum / 5));
    }
  }
}

TEST_CASE(
    "PostgreSQL writes: the tiers of a version 5 database move into packs a slice at a time "
    "and read the same throughout, a move whose connection dies half-way included",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = pq::Conn::connect(postgres->conninfo);
  REQUIRE(conn.is_ok());
  pq::Conn& c = **conn;
  REQUIRE(migrate(c, 5));
  // What version 5 kept: a row per bucket, for two agents of 3 series each, in the
  // three tiers (the daily one from a `db copy`), over 3 days; and rows of a series
  // that is gone.
  const std::int64_t day0 = 1'764'892'800'000;  // 2025-12-05, UTC
  REQUIRE(
      c.exec("INSERT INTO agents (name, site) VALUES ('v5-a', 'site'), ('v5-b', 'site');"
             " INSERT INTO series (agent_id, check_id, metric, unit) SELECT a.id, 'system/load', m,"
             " '' FROM agents a, unnest(ARRAY['load1', 'load5', 'load15']) AS m;"
             " INSERT INTO rollups (tier, series_id, bucket_ms, min_value, max_value, sum_value, n)"
             " SELECT t.w, s.id, " +
             std::to_string(day0) +
             " + k * t.w, s.id + k * 0.25,"
             " s.id + k * 0.25 + 1, (s.id + k * 0.25) * 5 + 2, 5"
             " FROM series s, (VALUES (300000, 864), (3600000, 72), (86400000, 3)) AS t(w, count),"
             " generate_series(0, t.count - 1) AS k;"
             " INSERT INTO rollups VALUES (3600000, 999999, " +
             std::to_string(day0) + ", 1, 1, 1, 1);"));
  REQUIRE(migrate(c));
  const auto read_all = [&] {
    std::string out;
    for (const char* agent : {"v5-a", "v5-b"}) {
      for (const char* metric : {"load1", "load5", "load15"}) {
        for (const auto& [tier, name] :
             {std::pair{kFiveMinutesMs, "5m"}, std::pair{kHourMs, "1h"}, std::pair{kDayMs, "1d"}}) {
          auto data = read_series(c,
                                  {.agent = agent,
                                   .check = "system/load",
                                   .metric = metric,
                                   .from_ms = day0 - kDayMs,
                                   .to_ms = day0 + 4 * kDayMs},
                                  {.tier = tier, .tier_name = name});
          REQUIRE(data.is_ok());
          for (const SeriesPoint& p : data->points)
            out += std::to_string(p.ts_ms) + ' ' + std::to_string(p.min) + ' ' +
                   std::to_string(p.max) + ' ' + std::to_string(p.avg) + ' ' +
                   std::to_string(p.count) + '\n';
        }
      }
    }
    return out;
  };
  const std::string before = read_all();
  // 6 series x (864 + 72 + 3) buckets.
  CHECK(std::count(before.begin(), before.end(), '\n') == 6 * 939);
  Writes writes(c, 0);
  int slices = 0;
  const Retention keep{.raw = std::chrono::hours(24 * 3650),
                       .five_minutes = std::chrono::hours(24 * 3650),
                       .hour = std::chrono::hours(24 * 3650),
                       .day = std::chrono::hours(24 * 3650)};
  bool more = false;
  const auto slice = [&](pq::Conn& on, Writes& w) {
    Status s = on.exec("BEGIN");
    if (s) s = w.housekeeping_slice(keep, std::chrono::milliseconds(0), day0 + 4 * kDayMs, &more);
    if (s) s = on.commit();
    return s;
  };
  // A report of v5-a on the second day, rolled up by the first slice: its pack of that
  // day exists when the move comes to it (the first slice moves the first day's).
  {
    REQUIRE(c.exec("BEGIN"));
    writes.new_transaction();
    writes.job_starts();
    auto r = report("v5-a", 1, 2);
    r.results[0].ts_ms = day0 + kDayMs + 30 * 60'000;
    REQUIRE(writes.store(r, 1000).is_ok());
    REQUIRE(writes.flush_blocks());
    REQUIRE(c.commit());
  }
  REQUIRE(slice(c, writes));
  ++slices;
  CHECK(read_all() == before);
  // The next move merges into that pack: another session holds it, so that the move of
  // a second connection deletes the day's rows and then waits; its backend is
  // terminated there. Nothing of it stays: the rows are all there, read the same.
  {
    const std::string rows_left = sql(c, "SELECT count(*) FROM rollups");
    CHECK_FALSE(terminated_while_waiting(
                    postgres->conninfo, c,
                    "SELECT p.tier FROM rollup_packs p JOIN agents a ON a.id = p.agent_id"
                    " WHERE a.name = 'v5-a' AND p.tier = 300000 AND p.start_ms = " +
                        std::to_string(day0 + kDayMs),
                    slice)
                    .is_ok());
    CHECK(sql(c, "SELECT count(*) FROM rollups") == rows_left);
    CHECK(read_all() == before);
  }
  while (sql(c, "SELECT count(*) FROM rollups") != "0" && slices < 200) {
    REQUIRE(slice(c, writes));
    ++slices;
    // Each slice moves a pack at least; what is read does not change.
    if (slices % 3 == 1) CHECK(read_all() == before);
  }
  // 2 agents x (3 days of 5-minute packs, a week's hourly pack, a 128-day daily one).
  CHECK(sql(c, "SELECT count(*) FROM rollup_packs") == "10");
  CHECK(slices >= 10);
  CHECK(sql(c, "SELECT count(*) FROM rollups") == "0");  // the gone series' row too
  CHECK(read_all() == before);
}

TEST_CASE(
    "PostgreSQL writes: retention finds what is past it through the indexes, before the "
    "tables are analyzed",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  // A busy first day: 300,000 batches of 1,000 agents, none past retention, as the replay
  // guard holds them before autovacuum has analyzed the table (kept from it here).
  REQUIRE(c.exec("ALTER TABLE batches SET (autovacuum_enabled = false)"));
  REQUIRE(
      c.exec("INSERT INTO agents (name, site, hostname, version, first_seen_ms, last_seen_ms)"
             " SELECT 'a' || i, 's', 'h', '1', 0, 0 FROM generate_series(1, 1000) i"));
  REQUIRE(
      c.exec("INSERT INTO batches (agent_id, seq, received_ms, results)"
             " SELECT a.id, s, 1764892800000 + s * 60000, 30 FROM agents a,"
             " generate_series(1, 300) s"));
  CHECK(sql(c, "SELECT reltuples < 0 FROM pg_class WHERE relname = 'batches'") == "t");
  Writes writes(c, 0);
  REQUIRE(c.exec("BEGIN"));
  bool more = false;
  REQUIRE(
      writes.housekeeping_slice({}, std::chrono::seconds(30), 1764892800000 + 3'600'000, &more));
  // This transaction's reads of the table (pg_stat_xact_user_tables): by index only, not
  // a scan of every batch at every slice (0.3 to 1 s each on a 1,000-agent bench).
  CHECK(sql(c, "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'batches'") == "0");
  REQUIRE(c.exec("ROLLBACK"));
}

TEST_CASE(
    "PostgreSQL writes: retention finds what is past it through the indexes, its statements "
    "first run on empty tables",
    "[postgres]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto setup = migrated_connection(postgres->conninfo);
  // Statistics that say it is empty (a new database analyzed, or a table autovacuum
  // found empty), then kept from autovacuum, whose ANALYZE would make the statements
  // planned again. The tier's days are the collector's own (UTC): nothing to rebuild.
  for (const char* table : {"rollup_packs", "batches"}) {
    REQUIRE(setup->exec(std::string("ANALYZE ") + table));
    REQUIRE(setup->exec(std::string("ALTER TABLE ") + table + " SET (autovacuum_enabled = false)"));
  }
  REQUIRE(setup->exec("UPDATE daily_tier SET zone = 'UTC'"));
  auto conn = migrated_connection(postgres->conninfo);
  pq::Conn& c = *conn;
  Writes writes(c, 0);
  const std::int64_t now = 1764892800000 + 3'600'000;
  bool more = false;
  // A new database's first slices: the retention's statements (prepared, three tiers a
  // slice) run on the empty table, and PostgreSQL keeps a generic plan for them after
  // five, made for what the statistics say.
  for (int slice = 0; slice < 3; ++slice) {
    REQUIRE(c.exec("BEGIN"));
    REQUIRE(writes.housekeeping_slice({}, std::chrono::seconds(30), now, &more));
    REQUIRE(c.commit());
  }
  // Then a first busy day's packs (1,000 agents, a day's 5-minute pack and a week's
  // hourly and daily ones each, rewritten by every roll-up since), none past retention.
  REQUIRE(
      setup->exec("INSERT INTO rollup_packs (tier, agent_id, start_ms, buckets)"
                  " SELECT t, a, 1764892800000, '\\x01' FROM generate_series(1, 1000) a,"
                  " (VALUES (300000), (3600000), (86400000)) tiers(t)"));
  for (int rewrite = 0; rewrite < 5; ++rewrite)
    REQUIRE(setup->exec("UPDATE rollup_packs SET buckets = buckets"));
  // And the replay guard's batches of those agents' first hours.
  REQUIRE(
      setup->exec("INSERT INTO agents (name, site, hostname, version, first_seen_ms, last_seen_ms)"
                  " SELECT 'a' || i, 's', 'h', '1', 0, 0 FROM generate_series(1, 1000) i"));
  REQUIRE(
      setup->exec("INSERT INTO batches (agent_id, seq, received_ms, results)"
                  " SELECT a.id, s, 1764892800000 + s * 60000, 30 FROM agents a,"
                  " generate_series(1, 60) s"));
  REQUIRE(c.exec("BEGIN"));
  const std::string scans =
      "SELECT string_agg(relname || ' ' || seq_scan, ', ' ORDER BY relname)"
      " FROM pg_stat_xact_user_tables WHERE relname IN ('rollup_packs', 'batches')";
  const std::string before = sql(c, scans);
  REQUIRE(writes.housekeeping_slice({}, std::chrono::seconds(30), now, &more));
  // This slice's reads of the tables (pg_stat_xact_user_tables, within its transaction):
  // by index only, not a scan of every pack and its dead versions for each of them (a
  // nested loop planned for an empty table: 7 to 12 ms a tier, three a slice, on a
  // 1,000-agent bench whose hour was being rolled up; 3,003 scans here), nor of every
  // batch.
  CHECK(sql(c, scans) == before);
  CHECK(sql(c, "SELECT count(*) FROM rollup_packs") == "3000");
  REQUIRE(c.exec("ROLLBACK"));
}

}  // namespace
}  // namespace vigie::collector::pg
