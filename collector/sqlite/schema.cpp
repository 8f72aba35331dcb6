#include "collector/sqlite/schema.hpp"

#include <sqlite3.h>

#include <iterator>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/protocol.hpp"
#include "common/sqlite.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;

// Version 1, the first schema.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE agents (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  site         TEXT NOT NULL,
  hostname     TEXT NOT NULL DEFAULT '',
  version      TEXT NOT NULL DEFAULT '',
  last_seen_ms INTEGER NOT NULL DEFAULT 0
);
-- One row per stored report: (agent, seq) makes ingest idempotent.
CREATE TABLE batches (
  agent_id    INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  results     INTEGER NOT NULL,
  PRIMARY KEY (agent_id, seq)
) WITHOUT ROWID;
CREATE INDEX batches_by_time ON batches (received_ms);
-- The current state of each check of each agent.
CREATE TABLE checks (
  id          INTEGER PRIMARY KEY,
  agent_id    INTEGER NOT NULL,
  check_id    TEXT NOT NULL,
  name        TEXT NOT NULL,
  status      INTEGER NOT NULL,
  summary     TEXT NOT NULL,
  details     TEXT NOT NULL,
  metrics     TEXT NOT NULL,  -- JSON array, protocol form
  ts_ms       INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  interval_s  INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  since_ms    INTEGER NOT NULL,
  UNIQUE (agent_id, check_id)
);
-- A time series per (agent, check, metric).
CREATE TABLE series (
  id       INTEGER PRIMARY KEY,
  agent_id INTEGER NOT NULL,
  check_id TEXT NOT NULL,
  metric   TEXT NOT NULL,
  unit     TEXT NOT NULL,
  UNIQUE (agent_id, check_id, metric)
);
-- Raw samples, packed: one row holds every sample of one stored report
-- (sample_block.hpp), so that ingest appends one row per report, not per sample.
CREATE TABLE sample_blocks (
  id       INTEGER PRIMARY KEY,
  agent_id INTEGER NOT NULL,
  t_min    INTEGER NOT NULL,
  t_max    INTEGER NOT NULL,
  samples  BLOB NOT NULL
);
CREATE INDEX sample_blocks_by_agent ON sample_blocks (agent_id, t_max);
CREATE INDEX sample_blocks_by_time ON sample_blocks (t_max);
-- Rolled-up samples: tier is the bucket width in ms (300000: 5 minutes, 3600000: 1 hour).
CREATE TABLE rollups (
  tier      INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  bucket_ms INTEGER NOT NULL,
  min_value REAL NOT NULL,
  max_value REAL NOT NULL,
  sum_value REAL NOT NULL,
  n         INTEGER NOT NULL,
  PRIMARY KEY (tier, series_id, bucket_ms)
) WITHOUT ROWID;
CREATE INDEX rollups_by_time ON rollups (tier, bucket_ms);
-- Progress of background work, e.g. the last sample block rolled up.
CREATE TABLE housekeeping (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
-- Every kind of token; only the SHA-256 of a secret is kept.
CREATE TABLE tokens (
  id         INTEGER PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  role       TEXT NOT NULL,
  agent      TEXT NOT NULL DEFAULT '',
  site       TEXT NOT NULL DEFAULT '',
  label      TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  used_ms    INTEGER NOT NULL DEFAULT 0,
  revoked_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_by_agent ON tokens (agent) WHERE agent != '';
)sql";

// Version 2: the state engine's columns and tables.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE checks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3;
ALTER TABLE checks ADD COLUMN state_type INTEGER NOT NULL DEFAULT 1;  -- 0 soft, 1 hard
ALTER TABLE checks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE checks ADD COLUMN hard_state INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN hard_since_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN history INTEGER NOT NULL DEFAULT 0;  -- 2 bits a result
ALTER TABLE checks ADD COLUMN history_len INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN flap_percent REAL NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN stale_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE checks ADD COLUMN stale_since_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN agent_lost INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN ack TEXT NOT NULL DEFAULT '';  -- JSON object, '' if none
UPDATE checks SET hard_state = status, hard_since_ms = since_ms;
ALTER TABLE agents ADD COLUMN first_seen_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN clock_skew_ms INTEGER;  -- NULL: unknown
ALTER TABLE agents ADD COLUMN spool_depth INTEGER NOT NULL DEFAULT -1;
ALTER TABLE agents ADD COLUMN spool_oldest_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN spool_dropped INTEGER NOT NULL DEFAULT -1;
ALTER TABLE agents ADD COLUMN lost_since_ms INTEGER NOT NULL DEFAULT 0;  -- 0: not lost
UPDATE agents SET first_seen_ms = last_seen_ms;
-- Every state change; id is the cursor of GET /api/v1/events.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  ts_ms       INTEGER NOT NULL,
  recorded_ms INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  site        TEXT NOT NULL,
  agent       TEXT NOT NULL,
  check_id    TEXT NOT NULL,
  from_state  INTEGER NOT NULL,
  to_state    INTEGER NOT NULL,
  state_type  INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  summary     TEXT NOT NULL,
  author      TEXT NOT NULL,
  notify      INTEGER NOT NULL,
  backfill    INTEGER NOT NULL
);
CREATE INDEX events_by_check ON events (agent, check_id, id);
CREATE INDEX events_by_time ON events (recorded_ms);
CREATE TABLE downtimes (
  id               INTEGER PRIMARY KEY,
  site             TEXT NOT NULL,
  agent            TEXT NOT NULL,
  check_id         TEXT NOT NULL,
  start_ms         INTEGER NOT NULL,
  end_ms           INTEGER NOT NULL,  -- recurring: 0 for ever
  comment          TEXT NOT NULL,
  author           TEXT NOT NULL,
  created_ms       INTEGER NOT NULL,
  weekdays         INTEGER NOT NULL,  -- bit 0 Monday; 0: one-off
  start_minute     INTEGER NOT NULL,
  duration_minutes INTEGER NOT NULL,
  time_zone        TEXT NOT NULL
);
-- Who acknowledged or scheduled what, when and why.
CREATE TABLE audit (
  id      INTEGER PRIMARY KEY,
  ts_ms   INTEGER NOT NULL,
  author  TEXT NOT NULL,
  action  TEXT NOT NULL,
  target  TEXT NOT NULL,
  comment TEXT NOT NULL
);
)sql";

// Version 3: the notification history.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE notifications (
  id       INTEGER PRIMARY KEY,
  ts_ms    INTEGER NOT NULL,
  site     TEXT NOT NULL,
  agent    TEXT NOT NULL,
  check_id TEXT NOT NULL,
  channel  TEXT NOT NULL,  -- email, webhook
  target   TEXT NOT NULL,
  kind     TEXT NOT NULL,  -- problem, recovery, reminder, ...
  state    INTEGER NOT NULL,
  status   TEXT NOT NULL,  -- sent, failed, suppressed, digest
  detail   TEXT NOT NULL
);
CREATE INDEX notifications_by_check ON notifications (check_id, id);
CREATE INDEX notifications_by_site ON notifications (site, id);
CREATE INDEX notifications_by_time ON notifications (ts_ms);
)sql";

// Version 4: the alert outbox (Storage's outbox operations), and the agents' replay
// high-water marks. done_ms 0: still to
// deliver (status '' until first claimed, then 'claimed'); otherwise when it was
// settled, with status sent, digest or failed.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE outbox (
  id         INTEGER PRIMARY KEY,
  channel    TEXT NOT NULL,
  alert_key  TEXT NOT NULL,
  alert      TEXT NOT NULL,  -- JSON
  created_ms INTEGER NOT NULL,
  due_ms     INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  error      TEXT NOT NULL DEFAULT '',
  done_ms    INTEGER NOT NULL DEFAULT 0,
  status     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (channel, due_ms) WHERE done_ms = 0;
CREATE INDEX outbox_sent ON outbox (alert_key, done_ms) WHERE done_ms != 0;
CREATE INDEX outbox_by_time ON outbox (created_ms);
-- Each agent's high-water mark of the batches retention let go: a report at or below
-- it, whose results are no newer than the last of them, was stored already.
ALTER TABLE agents ADD COLUMN pruned_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN pruned_received_ms INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 5: central pollers. A token may let its agent file results under other
// sites (report_for: "", "*" or a comma list), and a check is filed under the site
// its results name ('' : its agent's site).
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE tokens ADD COLUMN report_for TEXT NOT NULL DEFAULT '';
ALTER TABLE checks ADD COLUMN site TEXT NOT NULL DEFAULT '';
)sql";

// Version 6: SNMP traps, kept as events of kind 'trap' with their detail (a JSON
// object's text; '' for other kinds), and found per check without the state changes.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE events ADD COLUMN trap TEXT NOT NULL DEFAULT '';
CREATE INDEX events_traps_by_check ON events (agent, check_id, id) WHERE kind = 'trap';
)sql";

// Version 7: downtimes by calendar (every public holiday, outside working hours).
constexpr const char* kSchemaV7 = R"sql(
ALTER TABLE downtimes ADD COLUMN every TEXT NOT NULL DEFAULT '';
ALTER TABLE downtimes ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
)sql";

// Version 8: agent configurations kept centrally (templates, per-site and per-agent
// values), what each agent says it runs, and the audit trail's before and after.
constexpr const char* kSchemaV8 = R"sql(
ALTER TABLE audit ADD COLUMN before_value TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN after_value TEXT NOT NULL DEFAULT '';
CREATE TABLE config_entries (
  kind       TEXT NOT NULL,  -- template, site, agent
  name       TEXT NOT NULL,
  document   TEXT NOT NULL,  -- JSON
  revision   INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  author     TEXT NOT NULL,
  PRIMARY KEY (kind, name)
);
-- Bumped by every change of config_entries: readers cache what they render by it.
CREATE TABLE config_revision (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL
);
INSERT INTO config_revision (id, revision) VALUES (1, 0);
CREATE TABLE agent_config_reports (
  agent       TEXT PRIMARY KEY,
  running     TEXT NOT NULL,  -- version the agent runs; '' none
  refused     TEXT NOT NULL,  -- version it refused last; '' none
  error       TEXT NOT NULL,  -- why
  reported_ms INTEGER NOT NULL
);
)sql";

// Version 9: compacted sample blocks (housekeeping.hpp). level 0: one report's block,
// as ingest writes it; 1: an agent's fresh blocks merged; 2: an agent's hour merged;
// 3: a block that did not decode, left as it was. Blocks carry their encoding in their
// first byte (sample_block.hpp), so that every version's blocks read the same way.
constexpr const char* kSchemaV9 = R"sql(
ALTER TABLE sample_blocks ADD COLUMN level INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sample_blocks_open ON sample_blocks (t_max) WHERE level < 2;
)sql";

// Version 10: the tiers packed (rollups.hpp): a row per tier, series and span of time
// whose blob holds the span's buckets (rollup_block.hpp), instead of a row per bucket,
// and a daily tier (86400000). Housekeeping moves the rows of `rollups` into it in
// bounded slices, then drops the table; its time index is of no use meanwhile.
constexpr const char* kSchemaV10 = R"sql(
DROP INDEX rollups_by_time;
CREATE TABLE rollup_blocks (
  id        INTEGER PRIMARY KEY,
  tier      INTEGER NOT NULL,  -- bucket width in ms: 300000, 3600000, 86400000
  series_id INTEGER NOT NULL,
  start_ms  INTEGER NOT NULL,  -- the span's start (rollup_span)
  buckets   BLOB NOT NULL
);
CREATE UNIQUE INDEX rollup_blocks_by_series ON rollup_blocks (tier, series_id, start_ms);
-- Retention, by tier and age.
CREATE INDEX rollup_blocks_by_time ON rollup_blocks (tier, start_ms);
)sql";

// Version 11: the replay guard's ranges (replay_guard.hpp). Housekeeping folds the
// batches rows older than a few minutes into them, those of an older database too, in
// bounded slices; received_ms is the newest of the range's reports (for retention),
// results their results summed.
constexpr const char* kSchemaV11 = R"sql(
CREATE TABLE batch_ranges (
  agent_id    INTEGER NOT NULL,
  first_seq   INTEGER NOT NULL,
  last_seq    INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  results     INTEGER NOT NULL,
  PRIMARY KEY (agent_id, first_seq)
) WITHOUT ROWID;
CREATE INDEX batch_ranges_by_time ON batch_ranges (received_ms);
)sql";

// Version 12: no new table. The tiers' blobs of encoding 2 (rollup_block.hpp) are what
// a collector of version 11 cannot read: the version tells it so, and it refuses the
// database instead of taking those blobs for damaged ones.
constexpr const char* kSchemaV12 = R"sql(
-- the blobs' encodings only
)sql";

// Version 13: the tiers packed by agent (rollups.hpp, rollup_pack.hpp): a row per tier,
// agent and span whose blob holds every series' rollup block, instead of a row per
// series. Housekeeping moves the rows of rollup_blocks into it an agent at a time, then
// drops the table; its time index is of no use meanwhile.
constexpr const char* kSchemaV13 = R"sql(
DROP INDEX rollup_blocks_by_time;
CREATE TABLE rollup_packs (
  id       INTEGER PRIMARY KEY,
  tier     INTEGER NOT NULL,  -- bucket width in ms: 300000, 3600000, 86400000
  agent_id INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,  -- the span's start (rollup_span)
  buckets  BLOB NOT NULL      -- rollup_pack.hpp
);
CREATE UNIQUE INDEX rollup_packs_by_agent ON rollup_packs (tier, agent_id, start_ms);
-- Retention, by tier and age.
CREATE INDEX rollup_packs_by_time ON rollup_packs (tier, start_ms);
)sql";

// Version 14: the compaction's day pass (housekeeping.hpp): an agent's hour blocks
// (level 2) of a day that is over become one block for the agent and day (level 4); its
// scan finds the hour blocks among the days' blocks through this index.
constexpr const char* kSchemaV14 = R"sql(
CREATE INDEX sample_blocks_settled ON sample_blocks (t_max) WHERE level = 2;
)sql";

// The schema's history: entry N-1 takes a database from version N-1 to N. A new
// version appends its step here and never edits an earlier one; each step runs in one
// transaction with the user_version bump. tests/fixtures/schema/ keeps a database of
// every released version, and a test migrates each to the current one.
constexpr const char* kMigrations[] = {kSchemaV1,  kSchemaV2,  kSchemaV3,  kSchemaV4, kSchemaV5,
                                       kSchemaV6,  kSchemaV7,  kSchemaV8,  kSchemaV9, kSchemaV10,
                                       kSchemaV11, kSchemaV12, kSchemaV13, kSchemaV14};
static_assert(std::size(kMigrations) == kSchemaVersion, "a new schema version is a new step");

}  // namespace

Result<std::int64_t> schema_version(sqlite3* db) {
  auto version = Statement::prepare(db, "PRAGMA user_version");
  if (!version) return version.status();
  if (version->step() != SQLITE_ROW) return sqlite::error(db, "read schema version");
  return version->int64(0);
}

Status check_application(sqlite3* db, const std::string& where) {
  auto read = [&](const char* sql) -> Result<std::int64_t> {
    auto stmt = Statement::prepare(db, sql);
    if (!stmt) return stmt.status();
    if (stmt->step() != SQLITE_ROW) return sqlite::error(db, sql);
    return stmt->int64(0);
  };
  auto id = read("PRAGMA application_id");
  if (!id) return id.status().with_context(where);
  if (*id == kApplicationId) return Status::ok();
  auto version = read("PRAGMA user_version");
  if (!version) return version.status().with_context(where);
  auto tables = read("SELECT count(*) FROM sqlite_master");
  if (!tables) return tables.status().with_context(where);
  if (*id == 0 && *tables == 0 && *version == 0) return Status::ok();  // new
  // A collector's before application_id: its own tables and a known version.
  auto ours = read(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('batches',"
      " 'checks', 'series', 'sample_blocks', 'tokens')");
  if (!ours) return ours.status().with_context(where);
  if (*id == 0 && *ours == 5 && *version >= 1) return Status::ok();
  std::string what = "another program's SQLite database";
  if (*id == 0x76696753) what = "a vigie agent's spool";
  else if (*id != 0) what += " (application_id " + std::to_string(*id) + ")";
  return Status(Code::kFailedPrecondition,
                where + " is " + what + ", not a vigie collector database: left untouched");
}

Status migrate(sqlite3* db) {
  auto stored = schema_version(db);
  if (!stored) return stored.status();
  const std::int64_t current = *stored;
  if (current == kSchemaVersion) {
    auto id = Statement::prepare(db, "PRAGMA application_id");
    if (!id) return id.status();
    if (id->step() == SQLITE_ROW && id->int64(0) == kApplicationId) return Status::ok();
    return sqlite::exec(db, ("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
  }
  if (current > kSchemaVersion) {
    return Status(Code::kCorruption, "database schema version " + std::to_string(current) +
                                         " is newer than this collector's (" +
                                         std::to_string(kSchemaVersion) +
                                         "): upgrade the collector");
  }
  for (std::int64_t version = current + 1; version <= kSchemaVersion; ++version) {
    if (Status s = sqlite::exec(db, "BEGIN IMMEDIATE"); !s) return s;
    Status s = sqlite::exec(db, kMigrations[version - 1]);
    if (s) s = sqlite::exec(db, ("PRAGMA user_version = " + std::to_string(version)).c_str());
    if (s) {
      s = sqlite::exec(db, ("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
    }
    if (s) s = sqlite::exec(db, "COMMIT");
    if (!s) {
      (void)sqlite::exec(db, "ROLLBACK");
      return s.with_context("migrate the database to schema version " + std::to_string(version));
    }
    if (current > 0) log::notice("database migrated to schema version " + std::to_string(version));
  }
  return Status::ok();
}

std::string ack_text(const std::shared_ptr<const Ack>& ack) {
  if (!ack) return {};
  return nlohmann::json{{"author", ack->author},
                        {"comment", ack->comment},
                        {"sticky", ack->sticky},
                        {"created", ack->created_ms},
                        {"expires", ack->expires_ms}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<Ack> ack_from_text(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Ack ack;
  ack.author = j.value("author", "");
  ack.comment = j.value("comment", "");
  ack.sticky = j.value("sticky", false);
  ack.created_ms = j.value("created", std::int64_t{0});
  ack.expires_ms = j.value("expires", std::int64_t{0});
  return ack;
}

std::vector<Metric> metrics_from_text(const std::string& text) {
  std::vector<Metric> out;
  const auto metrics = nlohmann::json::parse(text, nullptr, false);
  if (!metrics.is_array()) return out;
  for (const auto& m : metrics) {
    if (auto metric = protocol::metric_from_json(m, "metrics"); metric)
      out.push_back(std::move(*metric));
  }
  return out;
}

std::string metrics_text(const std::vector<Metric>& metrics) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : metrics) out.push_back(protocol::metric_to_json(m));
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vigie::collector
