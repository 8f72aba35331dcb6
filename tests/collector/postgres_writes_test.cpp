// What the PostgreSQL backend's writer does inside a transaction
// (collector/postgres/writes.hpp): reports' samples wait for the group's one COPY, and a
// job rolled back to its savepoint takes its samples with it.

#include <catch2/catch.hpp>

#include "collector/postgres/pq.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/postgres/writes.hpp"
#include "collector/sample_block.hpp"
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

std::string sql(pq::Conn& conn, const std::string& query) {
  auto rows = conn.query(query);
  REQUIRE(rows.is_ok());
  return rows->text(0, 0);
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
  // Two picks of blocks, each with its buckets in one statement, the partitions' and
  // the retention's few, each prepared on first use: not a statement per bucket (1,800
  // here, 1,847 round trips in all before).
  CHECK(trips <= 60);
  CHECK(sql(c, "SELECT count(*) FROM rollup_pending") == "0");
  CHECK(sql(c, "SELECT count(*) FROM rollups") == "1800");
  CHECK(sql(c, "SELECT sum(n) FROM rollups") == "1800");
  // m2's samples are 1.0 each, whichever the agent.
  CHECK(sql(c,
            "SELECT min(min_value) || '..' || max(max_value) || ':' || sum(sum_value) FROM"
            " rollups r JOIN series s ON s.id = r.series_id WHERE s.metric = 'm2'") == "1..1:600");
}

}  // namespace
}  // namespace vigie::collector::pg
