#include "collector/postgres/schema.hpp"

#include <iterator>
#include <string>

#include "common/log.hpp"

namespace vigie::collector::pg {
namespace {

// Version 1: what SQLite's versions 1 to 8 hold, in PostgreSQL's types. Times are
// epoch milliseconds (bigint), as everywhere in vigie.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE agents (
  id              bigserial PRIMARY KEY,
  name            text NOT NULL UNIQUE,
  site            text NOT NULL,
  hostname        text NOT NULL DEFAULT '',
  version         text NOT NULL DEFAULT '',
  first_seen_ms   bigint NOT NULL DEFAULT 0,
  last_seen_ms    bigint NOT NULL DEFAULT 0,
  last_seq        bigint NOT NULL DEFAULT 0,
  clock_skew_ms   bigint,  -- NULL: unknown
  spool_depth     bigint NOT NULL DEFAULT -1,
  spool_oldest_ms bigint NOT NULL DEFAULT 0,
  spool_dropped   bigint NOT NULL DEFAULT -1,
  lost_since_ms   bigint NOT NULL DEFAULT 0,  -- 0: not lost
  -- The high-water mark of the batches retention let go: a report at or below it,
  -- whose results are no newer than the last of them, was stored already.
  pruned_seq          bigint NOT NULL DEFAULT 0,
  pruned_received_ms  bigint NOT NULL DEFAULT 0
);
-- One row per stored report: (agent, seq) makes ingest idempotent, across collectors
-- too (the second insert of a pair waits for the first's transaction, then conflicts).
CREATE TABLE batches (
  agent_id    bigint NOT NULL,
  seq         bigint NOT NULL,
  received_ms bigint NOT NULL,
  results     integer NOT NULL,
  PRIMARY KEY (agent_id, seq)
);
CREATE INDEX batches_by_time ON batches (received_ms);
CREATE TABLE checks (
  id             bigserial PRIMARY KEY,
  agent_id       bigint NOT NULL REFERENCES agents (id),
  check_id       text NOT NULL,
  name           text NOT NULL,
  status         integer NOT NULL,
  summary        text NOT NULL,
  details        text NOT NULL,
  metrics        text NOT NULL,  -- JSON array, protocol form
  ts_ms          bigint NOT NULL,
  duration_ms    bigint NOT NULL,
  interval_s     bigint NOT NULL,
  received_ms    bigint NOT NULL,
  since_ms       bigint NOT NULL,
  max_attempts   integer NOT NULL,
  state_type     integer NOT NULL,  -- 0 soft, 1 hard
  attempt        integer NOT NULL,
  hard_state     integer NOT NULL,
  hard_since_ms  bigint NOT NULL,
  history        bigint NOT NULL,  -- 2 bits a result
  history_len    integer NOT NULL,
  flapping       integer NOT NULL,
  flap_percent   double precision NOT NULL,
  stale          integer NOT NULL,
  stale_reason   text NOT NULL,
  stale_since_ms bigint NOT NULL,
  agent_lost     integer NOT NULL,
  ack            text NOT NULL,  -- JSON object, '' if none
  site           text NOT NULL DEFAULT '',  -- filed under ('' : its agent's site)
  UNIQUE (agent_id, check_id)
);
CREATE TABLE series (
  id       bigserial PRIMARY KEY,
  agent_id bigint NOT NULL,
  check_id text NOT NULL,
  metric   text NOT NULL,
  unit     text NOT NULL,
  UNIQUE (agent_id, check_id, metric)
);
-- Raw samples packed by report (collector/sample_block.hpp), as in SQLite.
CREATE TABLE sample_blocks (
  id       bigserial PRIMARY KEY,
  agent_id bigint NOT NULL,
  t_min    bigint NOT NULL,
  t_max    bigint NOT NULL,
  samples  bytea NOT NULL
);
CREATE INDEX sample_blocks_by_agent ON sample_blocks (agent_id, t_max);
CREATE INDEX sample_blocks_by_time ON sample_blocks USING brin (t_max);
-- The blocks not rolled up yet. A queue rather than a cursor: ids are handed out
-- before commit, so several collectors commit blocks out of id order.
CREATE TABLE rollup_pending (
  block_id bigint PRIMARY KEY
);
CREATE TABLE rollups (
  tier      integer NOT NULL,  -- bucket width in ms: 300000 or 3600000
  series_id bigint NOT NULL,
  bucket_ms bigint NOT NULL,
  min_value double precision NOT NULL,
  max_value double precision NOT NULL,
  sum_value double precision NOT NULL,
  n         bigint NOT NULL,
  PRIMARY KEY (tier, series_id, bucket_ms)
);
CREATE INDEX rollups_by_time ON rollups (tier, bucket_ms);
CREATE TABLE tokens (
  id         bigserial PRIMARY KEY,
  hash       text NOT NULL UNIQUE,
  role       text NOT NULL,
  agent      text NOT NULL DEFAULT '',
  site       text NOT NULL DEFAULT '',
  label      text NOT NULL DEFAULT '',
  created_ms bigint NOT NULL,
  expires_ms bigint NOT NULL DEFAULT 0,
  used_ms    bigint NOT NULL DEFAULT 0,
  revoked_ms bigint NOT NULL DEFAULT 0,
  report_for text NOT NULL DEFAULT ''  -- "", "*" or a comma list of sites
);
CREATE INDEX tokens_by_agent ON tokens (agent) WHERE agent <> '';
CREATE TABLE events (
  id          bigint PRIMARY KEY,
  ts_ms       bigint NOT NULL,
  recorded_ms bigint NOT NULL,
  kind        text NOT NULL,
  site        text NOT NULL,
  agent       text NOT NULL,
  check_id    text NOT NULL,
  from_state  integer NOT NULL,
  to_state    integer NOT NULL,
  state_type  integer NOT NULL,
  attempt     integer NOT NULL,
  summary     text NOT NULL,
  author      text NOT NULL,
  notify      integer NOT NULL,
  backfill    integer NOT NULL,
  trap        text NOT NULL DEFAULT ''  -- kind 'trap': what it said (JSON text)
);
CREATE INDEX events_by_check ON events (agent, check_id, id);
CREATE INDEX events_traps_by_check ON events (agent, check_id, id) WHERE kind = 'trap';
CREATE INDEX events_by_time ON events (recorded_ms);
CREATE TABLE downtimes (
  id               bigint PRIMARY KEY,
  site             text NOT NULL,
  agent            text NOT NULL,
  check_id         text NOT NULL,
  start_ms         bigint NOT NULL,
  end_ms           bigint NOT NULL,  -- recurring: 0 for ever
  comment          text NOT NULL,
  author           text NOT NULL,
  created_ms       bigint NOT NULL,
  weekdays         integer NOT NULL,  -- bit 0 Monday; 0: one-off
  start_minute     integer NOT NULL,
  duration_minutes integer NOT NULL,
  time_zone        text NOT NULL,
  every            text NOT NULL DEFAULT '',  -- public-holidays, outside-working-hours
  calendar         text NOT NULL DEFAULT ''
);
CREATE TABLE audit (
  id      bigserial PRIMARY KEY,
  ts_ms   bigint NOT NULL,
  author  text NOT NULL,
  action  text NOT NULL,
  target  text NOT NULL,
  comment text NOT NULL,
  before_value text NOT NULL DEFAULT '',
  after_value  text NOT NULL DEFAULT ''
);
CREATE TABLE notifications (
  id       bigserial PRIMARY KEY,
  ts_ms    bigint NOT NULL,
  site     text NOT NULL,
  agent    text NOT NULL,
  check_id text NOT NULL,
  channel  text NOT NULL,
  target   text NOT NULL,
  kind     text NOT NULL,
  state    integer NOT NULL,
  status   text NOT NULL,
  detail   text NOT NULL
);
CREATE INDEX notifications_by_check ON notifications (check_id, id);
CREATE INDEX notifications_by_site ON notifications (site, id);
CREATE INDEX notifications_by_time ON notifications (ts_ms);
-- The alert outbox: written in the transaction of the event that causes an alert,
-- claimed with FOR UPDATE SKIP LOCKED, settled once delivered or given up.
CREATE TABLE outbox (
  id         bigserial PRIMARY KEY,
  channel    text NOT NULL,
  alert_key  text NOT NULL,
  alert      text NOT NULL,  -- JSON
  created_ms bigint NOT NULL,
  due_ms     bigint NOT NULL,
  attempts   integer NOT NULL DEFAULT 0,
  error      text NOT NULL DEFAULT '',
  done_ms    bigint NOT NULL DEFAULT 0,
  status     text NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (channel, due_ms) WHERE done_ms = 0;
CREATE INDEX outbox_sent ON outbox (alert_key, done_ms) WHERE done_ms <> 0;
CREATE INDEX outbox_by_time ON outbox (created_ms);
-- Agent configurations kept centrally, and what each agent says it runs.
CREATE TABLE config_entries (
  kind       text NOT NULL,  -- template, site, agent
  name       text NOT NULL,
  document   text NOT NULL,  -- JSON
  revision   bigint NOT NULL,
  updated_ms bigint NOT NULL,
  author     text NOT NULL,
  PRIMARY KEY (kind, name)
);
-- Bumped by every change of config_entries (its row lock orders the changes).
CREATE TABLE config_revision (
  id       integer PRIMARY KEY CHECK (id = 1),
  revision bigint NOT NULL
);
INSERT INTO config_revision (id, revision) VALUES (1, 0);
CREATE TABLE agent_config_reports (
  agent       text PRIMARY KEY,
  running     text NOT NULL,
  refused     text NOT NULL,
  error       text NOT NULL,
  reported_ms bigint NOT NULL
);
)sql";

// Version 2: raw sample blocks in daily partitions by t_max (UTC days), so that
// retention drops whole partitions instead of deleting rows. The blocks already stored
// stay where they are: their table becomes the partition of everything up to the end
// of the day of its newest block, and goes as a whole once that day is past retention
// (an empty one goes at once). Housekeeping makes the days ahead (sample_partitions
// lists each partition's range); a block no partition covers (a very late sample, or
// housekeeping stopped for days) lands in the default partition.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE sample_blocks RENAME TO sample_blocks_legacy;
ALTER TABLE sample_blocks_legacy DROP CONSTRAINT sample_blocks_pkey;
ALTER TABLE sample_blocks_legacy ALTER COLUMN id DROP DEFAULT;
ALTER INDEX sample_blocks_by_agent RENAME TO sample_blocks_legacy_by_agent;
ALTER INDEX sample_blocks_by_time RENAME TO sample_blocks_legacy_by_time;
ALTER SEQUENCE sample_blocks_id_seq OWNED BY NONE;
CREATE TABLE sample_blocks (
  id       bigint NOT NULL DEFAULT nextval('sample_blocks_id_seq'),
  agent_id bigint NOT NULL,
  t_min    bigint NOT NULL,
  t_max    bigint NOT NULL,
  samples  bytea NOT NULL,
  PRIMARY KEY (id, t_max)
) PARTITION BY RANGE (t_max);
ALTER SEQUENCE sample_blocks_id_seq OWNED BY sample_blocks.id;
CREATE INDEX sample_blocks_by_agent ON sample_blocks (agent_id, t_max);
CREATE INDEX sample_blocks_by_time ON sample_blocks USING brin (t_max);
CREATE TABLE sample_blocks_default PARTITION OF sample_blocks DEFAULT;
CREATE TABLE sample_partitions (
  name    text PRIMARY KEY,
  from_ms bigint NOT NULL,
  to_ms   bigint NOT NULL  -- exclusive
);
DO $$
DECLARE
  day constant bigint := 86400000;
  newest bigint := (SELECT max(t_max) FROM sample_blocks_legacy);
  until_ms bigint := (newest / day + 1) * day;
BEGIN
  IF newest IS NULL THEN
    DROP TABLE sample_blocks_legacy;
  ELSE
    EXECUTE format('ALTER TABLE sample_blocks ATTACH PARTITION sample_blocks_legacy'
                   ' FOR VALUES FROM (MINVALUE) TO (%s)', until_ms);
    INSERT INTO sample_partitions VALUES ('sample_blocks_legacy', -9223372036854775808, until_ms);
  END IF;
END $$;
)sql";

// Version 3: the lead among collectors sharing the database (lease.hpp). Its term is
// bumped by each collector that takes the lead; a duty's transaction reads it FOR
// SHARE and goes on only while it is still its own, so that a takeover waits for the
// duty in flight and sees what it committed.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE vigie_lead (
  id       integer PRIMARY KEY CHECK (id = 1),
  term     bigint NOT NULL,
  holder   text NOT NULL,   -- the collector that took it last (host and process)
  since_ms bigint NOT NULL
);
INSERT INTO vigie_lead (id, term, holder, since_ms) VALUES (1, 0, '', 0);
)sql";

// Version 4: room on each page of the rows every report rewrites (a check's state, its
// agent's last contact), so that an update writes the new version beside the old one
// without touching the indexes (a heap-only tuple) and the page's dead versions are
// pruned as it goes, rather than left to autovacuum while the table grows.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE checks SET (fillfactor = 50);
ALTER TABLE agents SET (fillfactor = 50);
)sql";

// Version 5: collectors own nothing (several may ingest at once). Event ids come from
// one counter row, bumped by a transaction just before it commits: a transaction that
// makes events holds its row lock from then to its commit, so ids are given in commit
// order, without gaps (a rollback takes its bump back), and a reader that has seen id
// N has seen every id below it. Downtime ids come from a sequence. An agent's
// states_by names the collector (and its cache's epoch) that last wrote its states: a
// collector whose name is not there reads that agent's states again before it applies
// a report to them; so does one that has not seen the downtimes' last revision (bumped
// by each transaction that adds or ends a downtime).
constexpr const char* kSchemaV5 = R"sql(
CREATE TABLE event_ids (
  id   integer PRIMARY KEY CHECK (id = 1),
  last bigint NOT NULL
);
INSERT INTO event_ids (id, last) SELECT 1, coalesce(max(id), 0) FROM events;
CREATE SEQUENCE downtimes_id_seq OWNED BY downtimes.id;
SELECT setval('downtimes_id_seq', coalesce(max(id), 0) + 1, false) FROM downtimes;
ALTER TABLE downtimes ALTER COLUMN id SET DEFAULT nextval('downtimes_id_seq');
ALTER TABLE agents ADD COLUMN states_by text NOT NULL DEFAULT '';
CREATE TABLE downtimes_revision (
  id       integer PRIMARY KEY CHECK (id = 1),
  revision bigint NOT NULL
);
INSERT INTO downtimes_revision (id, revision) VALUES (1, 0);
)sql";

// Version 6: the tiers packed as SQLite packs them (rollup_pack.hpp), a row per tier,
// agent and span holding each of the agent's series' buckets of the span, where a row
// per bucket took about 150 bytes with its keys. The packs are compressed already: they
// are stored out of line as they are (EXTERNAL), so that a read takes a pack's
// directory and then one series' block (substring) without the rest. Table rollups
// (version 5 and before) moves into packs in housekeeping slices, each read adding
// what it still holds; it stays, empty. The rollup queue knows each block's agent and
// end, so that housekeeping rolls an agent's blocks up together (each pack rewritten
// once for all of them) without reading the blocks to choose: the oldest ends first
// (by end, however long the queue: an hour of blocks waits in it), then those agents'
// blocks due (by agent and end).
constexpr const char* kSchemaV6 = R"sql(
CREATE TABLE rollup_packs (
  tier     integer NOT NULL,  -- bucket width in ms
  agent_id bigint NOT NULL,
  start_ms bigint NOT NULL,   -- the span's start (rollup_span)
  buckets  bytea NOT NULL,
  PRIMARY KEY (tier, agent_id, start_ms)
);
ALTER TABLE rollup_packs ALTER COLUMN buckets SET STORAGE EXTERNAL;
CREATE INDEX rollup_packs_by_time ON rollup_packs (tier, start_ms);
ALTER TABLE rollup_pending ADD COLUMN agent_id bigint, ADD COLUMN t_max bigint;
UPDATE rollup_pending p SET agent_id = b.agent_id, t_max = b.t_max
  FROM sample_blocks b WHERE b.id = p.block_id;
DELETE FROM rollup_pending WHERE agent_id IS NULL;
ALTER TABLE rollup_pending ALTER COLUMN agent_id SET NOT NULL,
  ALTER COLUMN t_max SET NOT NULL;
CREATE INDEX rollup_pending_by_end ON rollup_pending (t_max);
CREATE INDEX rollup_pending_by_agent ON rollup_pending (agent_id, t_max);
)sql";

// Version 7: the daily tier rolled up on PostgreSQL too, in the local days of the
// leading collector's --day-zone (day_zone.hpp), and the zone its days are in, as
// SQLite's housekeeping rows day_zone, day_zone_next and day_zone_series record it:
// while the lead rebuilds the tier from the hourly one into another zone, next_zone
// names that zone and rebuilt_through the last series rebuilt (by id). The daily
// buckets of a database before this version came from a SQLite collector's `db copy`,
// in a zone it did not record, and end where the copy did: zone '' (none), so that the
// lead's housekeeping rebuilds them in its zone's days (a new database has no series:
// at once).
constexpr const char* kSchemaV7 = R"sql(
CREATE TABLE daily_tier (
  id              integer PRIMARY KEY CHECK (id = 1),
  zone            text NOT NULL,               -- a tz database name; '' : none yet
  next_zone       text NOT NULL DEFAULT '',    -- '' unless a rebuild is under way
  rebuilt_through bigint NOT NULL DEFAULT 0    -- series ids up to this one are in next_zone
);
INSERT INTO daily_tier (id, zone) VALUES (1, '');
)sql";

// Entry N-1 takes a database from version N-1 to N. A new version appends its step
// and bumps kSchemaVersion; a released step is never edited.
constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4,
                                       kSchemaV5, kSchemaV6, kSchemaV7};
static_assert(std::size(kMigrations) == kSchemaVersion, "a new schema version is a new step");

// Held while migrating, so that collectors started at once migrate one after another,
// and that writers' transactions (begin_writes()) never run across a step.
const std::string kMigrationLock =
    "SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLock) + ")";

Status too_new(std::int64_t version) {
  return Status(Code::kFailedPrecondition, "database schema version " + std::to_string(version) +
                                               " is newer than this collector's (" +
                                               std::to_string(kSchemaVersion) +
                                               "): upgrade the collector");
}

}  // namespace

Result<std::int64_t> schema_version(pq::Conn& conn) {
  auto exists = conn.query("SELECT to_regclass('vigie_schema') IS NOT NULL");
  if (!exists) return exists.status();
  if (exists->text(0, 0) != "t") return std::int64_t{0};
  auto version = conn.query("SELECT version FROM vigie_schema");
  if (!version) return version.status();
  return version->size() == 0 ? std::int64_t{0} : version->int64(0, 0);
}

Status check_version(pq::Conn& conn) {
  auto version = schema_version(conn);
  if (!version) return version.status();
  if (*version > kSchemaVersion) return too_new(*version);
  if (*version < kSchemaVersion)
    return Status(Code::kFailedPrecondition,
                  "database schema version " + std::to_string(*version) + ", this collector uses " +
                      std::to_string(kSchemaVersion) + ": run `vigie-collector db migrate`");
  return Status::ok();
}

Result<std::int64_t> begin_writes(pq::Conn& conn) {
  // Two statements: the version is read by a statement whose snapshot is taken once the
  // lock is held, after the migration that held it committed.
  auto answered = conn.pipeline(
      pq::Batch()
          .add("BEGIN")
          .add("SELECT pg_advisory_xact_lock_shared($1)", pq::Params().add(kSchemaLock))
          .add("SELECT version FROM vigie_schema"));
  if (!answered) return answered.status();
  const pq::Rows& version = answered->back();
  if (version.size() != 1) return Status::internal("vigie_schema holds no version");
  return version.int64(0, 0);
}

std::string migrated_under(std::int64_t version) {
  const std::string stops =
      ": it writes nothing more (reports are answered 503: agents keep them and send them "
      "again) and no longer leads";
  if (version < kSchemaVersion)
    return "the database's schema version went back to " + std::to_string(version) +
           " under this collector, which knows " + std::to_string(kSchemaVersion) + stops +
           ": see what restored the database, then start the collector again (it migrates)";
  return "the database was migrated to schema version " + std::to_string(version) +
         " by a newer collector; this one knows " + std::to_string(kSchemaVersion) + stops +
         ": upgrade it (then start it again)";
}

Status migrate(pq::Conn& conn, std::int64_t target) {
  // Most starts have nothing to migrate: the version is read first under no lock, so
  // that such a start waits for no writer's transaction (each holds the lock shared)
  // and holds none up (a request of the exclusive lock queues every later shared one
  // behind it). A step under way is not seen (not committed yet): the version is then
  // older than the target, and read again under the exclusive lock, after the step.
  auto found = schema_version(conn);
  if (!found) return found.status().with_context("migrate the database");
  if (*found >= target) return *found > kSchemaVersion ? too_new(*found) : Status::ok();
  for (;;) {
    if (Status s = conn.exec("BEGIN"); !s) return s;
    Status s = conn.exec(kMigrationLock);
    if (s)
      s = conn.exec(
          "CREATE TABLE IF NOT EXISTS vigie_schema (version bigint NOT NULL);"
          " INSERT INTO vigie_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM vigie_schema)");
    Result<std::int64_t> version = s ? schema_version(conn) : Result<std::int64_t>(s);
    if (!version) {
      (void)conn.exec("ROLLBACK");
      return version.status().with_context("migrate the database");
    }
    if (*version >= target) {
      (void)conn.exec("ROLLBACK");
      return *version > kSchemaVersion ? too_new(*version) : Status::ok();
    }
    const std::int64_t next = *version + 1;
    s = conn.exec(kMigrations[next - 1]);
    if (s) s = conn.exec("UPDATE vigie_schema SET version = " + std::to_string(next));
    // Collectors still running on the database hear of it when it commits.
    if (s)
      s = conn.exec("SELECT pg_notify('" + std::string(kSchemaChannel) + "', '" +
                    std::to_string(next) + "')");
    if (s) s = conn.exec("COMMIT");
    if (!s) {
      (void)conn.exec("ROLLBACK");
      return s.with_context("migrate the database to schema version " + std::to_string(next));
    }
    if (*version > 0) log::notice("database migrated to schema version " + std::to_string(next));
  }
}

}  // namespace vigie::collector::pg
