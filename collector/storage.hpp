#pragma once
// Where the collector keeps what agents report: the current state of every check and
// the metric samples. One interface, two backends: SQLite (collector/sqlite/), the
// default, and PostgreSQL (collector/postgres/), which several collectors may share.
//
// Threading: submit() may be called from any thread; it hands the report to the
// storage's single writer, which commits many reports per transaction and then calls
// each `done` (on the writer thread). Read functions may be called from any thread at
// the same time as writes; they never wait for the writer.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collector/config_store.hpp"
#include "collector/metrics.hpp"
#include "collector/state.hpp"
#include "collector/token_store.hpp"
#include "common/check_result.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::collector {

enum class IngestOutcome { kStored, kDuplicate };

// How long each tier of samples is kept.
struct Retention {
  std::chrono::milliseconds raw{std::chrono::hours(24 * 8)};            // default 8 days
  std::chrono::milliseconds five_minutes{std::chrono::hours(24 * 90)};  // default 90 days
  std::chrono::milliseconds hour{std::chrono::hours(24 * 730)};         // default 2 years
  std::chrono::milliseconds day{std::chrono::hours(24 * 1830)};         // default 5 years
  // State-change events (a check's history, the events API): default 400 days, so that
  // a year's backup-health report still finds last year's failures.
  std::chrono::milliseconds events{std::chrono::hours(24 * 400)};
  // The notification history: as long as the events it tells of (default 400 days).
  std::chrono::milliseconds notifications{std::chrono::hours(24 * 400)};
  // Outbox rows once sent or given up (reminders after a restart count from the last
  // sending they find): default 30 days. Rows never delivered go after as long.
  std::chrono::milliseconds outbox{std::chrono::hours(24 * 30)};
};

inline constexpr std::int64_t kFiveMinutesMs = 300'000;
inline constexpr std::int64_t kHourMs = 3'600'000;
// The daily tier's buckets: days in the collector's --day-zone (SqliteOptions::day_zone,
// PostgresOptions::day_zone; day_zone.hpp).
inline constexpr std::int64_t kDayMs = 86'400'000;

struct SeriesQuery {
  std::string agent;   // agent id
  std::string check;   // check id, e.g. "system/disk:/srv"
  std::string metric;  // perfdata label
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  // Width of the returned buckets; 0 returns raw samples when the raw tier is used.
  std::int64_t step_ms = 0;
  std::string tier;  // "raw", "5m", "1h" or "1d" to force a tier; "" picks one
};

struct SeriesPoint {
  std::int64_t ts_ms = 0;  // start of the bucket (or the sample's time)
  double min = 0;
  double max = 0;
  double avg = 0;
  std::int64_t count = 0;
  bool operator==(const SeriesPoint&) const = default;
};

struct SeriesData {
  std::string tier;          // "raw", "5m", "1h" or "1d": where the points come from
  std::int64_t step_ms = 0;  // the bucket width used (0: raw samples)
  std::string unit;
  std::vector<SeriesPoint> points;  // in time order
};

struct EventQuery {
  std::int64_t after = 0;  // events with a larger id
  std::size_t limit = 1000;
  std::string agent;  // with check: one check's history, newest first
  std::string check;
  // Which events: all, none of kind "trap", or only those.
  enum class Traps { kWith, kWithout, kOnly } traps = Traps::kWith;
  // Read on the primary even when reads go to a standby (--read-db): what the live
  // stream follows must be current.
  bool primary = false;
};

// The notification history, newest first; empty fields match everything.
struct NotificationQuery {
  std::string site;
  std::string agent;
  std::string check;
  std::size_t limit = 100;
};

struct AuditQuery {
  std::int64_t after = 0;
  std::size_t limit = 1000;
};

// The most due roll-up blocks StorageStats::rollup_due_blocks counts: a longer backlog
// is said to be that long (at least), rather than read whole at each scrape of /metrics.
inline constexpr std::int64_t kRollupDueCounted = 10'000;

struct StorageStats {
  std::size_t queue_depth = 0;      // jobs waiting for the writer
  std::int64_t database_bytes = 0;  // on disk, write-ahead log included
  std::int64_t commits = 0;         // transactions committed since start
  std::int64_t commit_failures = 0;
  std::int64_t refused_busy = 0;  // reports refused because the queue was full
  // Reads run again on a fresh connection after a broken connection or a conflict with
  // recovery on a standby (PostgreSQL; 0 on SQLite).
  std::int64_t reads_retried = 0;
  std::string synchronous;  // the writer's PRAGMA synchronous: "full" or "normal"
  // Raw sample blocks whose hour is over and not rolled up into the tiers yet (counted up
  // to kRollupDueCounted: at least that many when it says so), and how long ago the
  // oldest one ended, in seconds (0 when none): PostgreSQL's roll-up queue, which the
  // lead empties within minutes of an hour's end; 0 on SQLite.
  std::int64_t rollup_due_blocks = 0;
  double rollup_oldest_due_seconds = 0;
  // The writer's group commits and housekeeping slices, by length (writer_times.hpp).
  HistogramCounts commit_seconds;
  HistogramCounts housekeeping_seconds;
};

// What a report reads about a family of checks over a period (report/backup.hpp).
struct HistoryQuery {
  std::string check_prefix;  // checks whose id starts with this, e.g. "backup/"
  std::string site;          // "" : every site
  std::int64_t from_ms = 0;  // the period, [from, to)
  std::int64_t to_ms = 0;
  std::vector<std::string> metrics;  // series to read over the period, e.g. "size"
  // The zone of the period's days (a tz database name), when its bounds are local
  // midnights: whole days are read from the daily tier when its days are in this zone.
  // "": hourly points only.
  std::string day_zone;
  // Also each check's acknowledgement and downtime events (CheckHistory::silences).
  bool silences = false;
};

struct CheckHistory {
  CheckState state;  // the check as it is now (result, hard state, staleness, ack)
  // Its state, stale and fresh events, in the order they were recorded: every one
  // that happened in the period, preceded by the last hard state change and the last
  // stale or fresh event before it (which give the state when the period starts).
  std::vector<Event> events;
  // Points of each metric asked for, in time order: hourly ones (the 1-hour tier, and in
  // the period's last hours the samples not rolled up yet), each hour whole when it
  // starts in the period, and a point a day (at the local day's start) for the whole
  // days of HistoryQuery::day_zone when the daily tier has them (its days in that zone).
  std::map<std::string, std::vector<SeriesPoint>> series;
  // With HistoryQuery::silences: the events that start and end its acknowledgements
  // (acknowledged, ack_removed, ack_expired) and the downtimes over it, its agent or its
  // site (downtime_start, downtime_end whose summary names the downtime: "downtime 12:
  // ...", "downtime ended 12: ..."), recorded before the period ends, oldest first.
  std::vector<Event> silences;
};

struct HistoryData {
  std::vector<AgentState> agents;  // every agent of the site(s) asked for, pollers aside
  std::vector<CheckHistory> checks;
};

// Read-only queries for reports. Safe while a collector writes: they run on read
// connections of their own and see the last committed state.
class HistoryReader {
 public:
  virtual ~HistoryReader() = default;
  virtual Result<HistoryData> history(const HistoryQuery& query) = 0;
};

// The tokens (token_store.hpp) and the agent configurations (config_store.hpp) are kept
// in the same database.
class Storage : public HistoryReader, public TokenStore, public ConfigStore {
 public:
  using Done = std::function<void(Result<IngestOutcome>)>;
  // What the storage knows of a report's agent under its row lock, when on_stored runs.
  struct StoredAgent {
    std::string agent;  // its id
    // False when another collector sharing the database changed the agent's states
    // since this one last read or wrote them (or this one's memory may be ahead of
    // what is stored: a rolled-back transaction): what it holds of the agent must be
    // read again (`load`) before the report is applied to it. Always true on SQLite.
    bool current = true;
    // The agent's row and its checks as stored now, in the report's transaction (a
    // snapshot without downtimes; no agent when it has none yet).
    std::function<Result<StateSnapshot>()> load;
  };
  // Runs on the writer thread, inside the transaction that stores a report, once the
  // report is known not to be a duplicate; what it returns is stored in the same
  // transaction (the state engine's reaction to the report); an error fails the report.
  using OnStored = std::function<Result<StateDelta>(protocol::Report&&, std::int64_t received_ms,
                                                    const StoredAgent& agent)>;
  // After the commit: the outcome, and the events stored with the report, with their
  // ids as committed (a shared storage gives event ids in commit order, as the
  // transaction commits, not as the state engine made them).
  using Stored = std::function<void(Result<IngestOutcome>, std::vector<Event> events)>;
  using Change = std::function<Result<StateDelta>()>;
  using ChangeDone = std::function<void(Result<StateDelta>)>;

  virtual ~Storage() = default;

  // Stores a validated report once per (agent id, seq): a report already stored gives
  // kDuplicate and changes nothing. `done` runs after the commit, or with the error
  // that prevented it; nothing of a failed report is kept. `on_stored` may be empty.
  // kUnavailable at once when the writer's queue is full (SqliteOptions).
  virtual void submit(protocol::Report report, std::int64_t received_ms, OnStored on_stored,
                      Stored done) = 0;

  // Runs `change` on the writer thread inside a transaction, stores the delta it
  // returns, commits, then calls `done` with it as stored (its events' ids as
  // committed), or with the error. Mutations of the state engine go through here, so
  // that they are applied in commit order.
  virtual void change(Change change, ChangeDone done) = 0;

  using AgentsChange = std::function<Result<StateDelta>(const std::vector<StoredAgent>& agents)>;
  // Runs `make` as change() does, once the rows of `agents` (those stored) are locked
  // (PostgreSQL): an operator's action on some agents' states (an acknowledgement, a
  // downtime), applied to them as stored, whichever collector wrote them last.
  virtual void change_agents(std::vector<std::string> agents, AgentsChange make, ChangeDone done) {
    change(
        [agents = std::move(agents), make = std::move(make)] {
          std::vector<StoredAgent> stored;
          for (const auto& agent : agents) stored.push_back({.agent = agent});
          return make(stored);
        },
        std::move(done));
  }

  // An id for a new downtime, unique among the collectors sharing the database
  // (PostgreSQL: a sequence); 0 where the state engine numbers downtimes itself
  // (SQLite, which one collector owns).
  virtual Result<std::int64_t> new_downtime_id() { return std::int64_t{0}; }

  // What the state engine resumes from: agents, checks, downtimes not over at now_ms.
  virtual Result<StateSnapshot> load_state(std::int64_t now_ms) = 0;
  // Stored events, oldest first; with agent and check, that check's newest first.
  virtual Result<std::vector<Event>> events(const EventQuery& query) = 0;
  virtual Result<std::vector<AuditEntry>> audit(const AuditQuery& query) = 0;
  // Stored notifications (StateDelta::notifications), newest first.
  virtual Result<std::vector<NotificationRecord>> notifications(const NotificationQuery& query) = 0;

  // The alert outbox. Alerts to send are rows (OutboxRow) that the notifier adds to a
  // StateDelta (delta.outbox): they are written with the rest of the delta, in the
  // transaction of the report, tick or operator action that causes them, so that an
  // alert exists exactly when its event does. Delivery then works from the rows alone,
  // and a restart or a crash replays whatever was not marked sent. A backend keeps, per
  // row, what OutboxRow holds plus whether and when it was settled (sent or given up).
  //
  // Claims up to `limit` rows of `channel` not settled with due_ms <= now_ms, and those
  // never claimed with due_ms <= due_by_ms (the rest of a burst, whose hold is not
  // over), oldest (created_ms, id) first, and moves their due_ms to now_ms + lease_ms in
  // the same transaction: nobody claims them again before the lease ends (not even a
  // claim looking ahead to due_by_ms), and if the claimer dies before it settles them,
  // they are due again then (at least once). Returned rows carry their due_ms as it was
  // before the claim. Cheap when nothing is due (the notifier asks every few hundred
  // ms). PostgreSQL: one UPDATE ... WHERE id IN
  // (SELECT id ... ORDER BY created_ms, id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING.
  virtual Result<std::vector<OutboxRow>> claim_outbox(const std::string& channel,
                                                      std::int64_t now_ms, std::int64_t due_by_ms,
                                                      std::size_t limit, std::int64_t lease_ms) = 0;
  // Renews a claim before sending what it holds: those of `ids` not settled whose due_ms
  // is still held_until_ms (the end of this claim's lease, or of its last renewal:
  // nobody claimed them since) move to until_ms. Returns the ids renewed; the others
  // another collector claimed once the lease ran out (it sends them: this one must
  // not). A claim holds up to storm.threshold messages sent one after the other, longer
  // together than one lease.
  virtual Result<std::vector<std::int64_t>> renew_outbox(const std::vector<std::int64_t>& ids,
                                                         std::int64_t held_until_ms,
                                                         std::int64_t until_ms) = 0;
  // Settles rows as delivered at now_ms ("sent"; "digest" when one message carried
  // several) and stores `history` (their NotificationRecords) in the same transaction.
  virtual Status outbox_sent(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                             const std::string& status,
                             std::vector<NotificationRecord> history) = 0;
  // A failed delivery: each row's attempts + 1 and `error` stored; due again at
  // retry_at_ms, or, when retry_at_ms is 0, settled as "failed" at now_ms (given up),
  // with `history` stored in the same transaction.
  virtual Status outbox_failed(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                               std::int64_t retry_at_ms, const std::string& error,
                               std::vector<NotificationRecord> history) = 0;
  // For each key, when a row of it was last settled as delivered ("sent" or "digest")
  // at or after since_ms: re-notifications count from there after a restart.
  virtual Result<std::map<std::string, std::int64_t>> outbox_last_sent(std::int64_t since_ms) = 0;
  // For each of `keys` with no row waiting (not settled), when a row of it was last
  // settled (delivered or given up) at or after since_ms, by whichever collector: the
  // lead's reminders count from there when another collector delivered the last
  // message, and none comes while one waits (say, claimed by a collector that died).
  virtual Result<std::map<std::string, std::int64_t>> outbox_settled(
      const std::vector<std::string>& keys, std::int64_t since_ms) = 0;

  // What another collector sharing the database committed: events, acknowledgements,
  // new checks of `agents`, or, when `all`, changes that may touch any agent
  // (downtimes, more agents than a notification names, or changes missed while the
  // storage could not hear of them).
  struct OthersChanged {
    bool all = false;
    std::vector<std::string> agents;  // sorted, each once
  };
  // Calls `changed` (on a thread of the storage's) whenever another collector sharing
  // the database may have committed events, acknowledgements or downtimes, and with
  // `all` once after the storage lost track of them (a lost connection made again):
  // the caller reads what changed again from the database. An empty function stops
  // it. SQLite, which one collector owns, never calls it.
  virtual void watch(std::function<void(const OthersChanged&)> changed) { (void)changed; }

  // The lead among collectors sharing a database. The duties only one collector may
  // run at a time (staleness and lost-agent sweeps, unreachable sites, expiries,
  // housekeeping) run where leads() is true. A PostgreSQL storage competes for the
  // lead once lead() is called (postgres/lease.hpp) and leads only while it holds it;
  // `changed` hears of each change, on a thread of the storage's; an empty function
  // stops competing. SQLite, which one collector owns, always leads.
  virtual void lead(std::function<void(bool leading)> changed) {
    if (changed) changed(true);
  }
  virtual bool leads() { return true; }
  // Whether other collectors may write to the same database: what this one holds in
  // memory may then be behind what is stored.
  virtual bool shared() const { return false; }
  // Runs `make` as change() does, as a duty of the lead: inside the transaction the
  // lead is confirmed first (PostgreSQL: the lead's term, read FOR SHARE, so that a
  // collector taking over waits for this transaction and then sees it). When this
  // collector does not lead, `make` does not run and `done` gets kFailedPrecondition.
  virtual void duty(Change make, ChangeDone done) { change(std::move(make), std::move(done)); }
  // duty() once the rows of `agents` (those stored) are locked, as change_agents() does:
  // the lead's sweep, applied to the agents it finds due as they are stored.
  virtual void duty_agents(std::vector<std::string> agents, AgentsChange make, ChangeDone done) {
    duty(
        [agents = std::move(agents), make = std::move(make)] {
          std::vector<StoredAgent> stored;
          for (const auto& agent : agents) stored.push_back({.agent = agent});
          return make(stored);
        },
        std::move(done));
  }

  virtual StorageStats stats() = 0;
  // Whether this collector may serve (GET /healthz), without a round trip to the
  // database: kFailedPrecondition, saying why and what to do, once a newer collector
  // migrated a shared PostgreSQL database under it (it then writes nothing more and no
  // longer leads). SQLite, which one collector owns, is always fine.
  virtual Status health() { return Status::ok(); }

  // Samples of one series between from and to, from the finest tier that still covers
  // `from` and is no finer than `step`: raw (8 days), 5-minute (90 days), 1-hour.
  // kNotFound for an unknown series; kInvalidArgument for a bad range or too many points.
  virtual Result<SeriesData> series(const SeriesQuery& query) = 0;

  // Runs housekeeping (rollups, then retention in every tier) until nothing is left,
  // in the same slices the writer runs in the background. For tests and maintenance.
  virtual Status housekeep() = 0;

  // Commits everything submitted so far and stops the writer; later submit() calls
  // fail with kUnavailable. Called by the destructor too.
  virtual void close() = 0;
};

struct SqliteOptions {
  std::filesystem::path path;           // the database file; created when missing
  std::size_t max_batch_reports = 512;  // reports the writer commits in one transaction
  // Reports waiting for the writer past which submit() refuses more with kUnavailable
  // (the API answers 503 and Retry-After): an overloaded collector sheds load rather
  // than holding ever more reports in memory. 0: no bound.
  std::size_t max_queued_reports = 20'000;
  Retention retention;
  // Background housekeeping: one slice at most this often (default 1 s), each holding
  // the writer for at most `housekeeping_budget` (default 50 ms).
  std::chrono::milliseconds housekeeping_every{1000};
  std::chrono::milliseconds housekeeping_budget{50};
  std::function<std::int64_t()> now_ms;  // wall clock for retention; vigie::wall_ms if empty
  // PRAGMA synchronous: FULL (the default) makes each commit, hence each "stored"
  // answer, survive a power cut; NORMAL survives a crash of the process only, for a
  // little less work per commit (docs/performance.md).
  bool synchronous_full = true;
  // Series one agent may create (0: no bound; default 200,000, a central poller's
  // hundreds of tenants included): past it a report is refused (kTooLarge, 413) naming
  // the result, so that one agent cannot fill the database with labels.
  std::int64_t max_series_per_agent = 200'000;
  // The time zone of the daily tier's days (a tz database name; "" : UTC): the reports'
  // --tz, so that their days are whole daily buckets. Changing it rebuilds the tier in
  // the background (rollups.hpp).
  std::string day_zone;
};

// The commands' --db when none is given: in the service's state folder, which systemd
// (StateDirectory=) or the package makes.
inline constexpr std::string_view kDefaultDatabase = "/var/lib/vigie-collector/collector.db";

// Whether `db` (--db) is a place this collector can keep its data: a path, or a
// PostgreSQL URI (postgresql://, postgres://). Any other scheme is refused as unknown
// (kInvalidArgument), never created as folders. The default database whose folder does
// not exist is refused too, naming it (kNotFound): a command run by hand does not make
// the service's state folder with its own owner.
Status check_database_location(std::string_view db);

// Opens or creates the database at options.path and migrates it. A database that is
// not a collector's (another program's, an agent's spool) is refused untouched.
Result<std::unique_ptr<Storage>> open_sqlite_storage(const SqliteOptions& options);

// Opens an existing database for reading only (a report, a maintenance tool): no
// writer, no migration; the database must have this collector's schema version.
// It works while a collector writes to the database, and from a read-only folder.
Result<std::unique_ptr<HistoryReader>> open_sqlite_reader(const std::filesystem::path& path);

struct PostgresOptions {
  // libpq connection string: a URI (postgresql://user@host/db) or key=value pairs. No
  // password: libpq reads it from passfile=, PGPASSFILE or ~/.pgpass.
  std::string conninfo;
  // Where the query API's reads (events, series, history, audit, notifications) go:
  // a streaming standby's connection string; "" : the primary.
  std::string read_conninfo;
  // Migrate an older schema at start (true), or refuse it (false). A newer schema
  // than this collector knows is always refused.
  bool migrate = true;
  // At most 64 (each report is a savepoint, and past 64 subtransactions PostgreSQL's
  // snapshots slow down for every session).
  std::size_t max_batch_reports = 64;
  std::size_t max_queued_reports = 20'000;
  Retention retention;
  std::chrono::milliseconds housekeeping_every{1000};
  std::chrono::milliseconds housekeeping_budget{50};
  std::function<std::int64_t()> now_ms;
  std::int64_t max_series_per_agent = 200'000;  // as SqliteOptions'
  // The lead (Storage::lead): how often a collector that does not lead tries to take
  // it, and how long the leader goes on without confirming it (it confirms every
  // third of it). Another collector leads within twice this after the leader died.
  std::chrono::milliseconds lease{5000};
  // The time zone of the daily tier's days, as SqliteOptions::day_zone ("" : UTC). The
  // database records the zone its days are in; the collector that leads rolls up into
  // its own, and rebuilds the tier into it when the database's differs (the lead's zone
  // wins: collectors sharing a database are started with the same --day-zone, and one
  // started with another says so at start).
  std::string day_zone;
};

// True when `db` names a PostgreSQL database (a postgresql:// or postgres:// URI, or a
// key=value connection string) rather than a SQLite file.
bool is_postgres_database(std::string_view db);
Result<std::unique_ptr<Storage>> open_postgres_storage(const PostgresOptions& options);
Result<std::unique_ptr<HistoryReader>> open_postgres_reader(const std::string& conninfo);
// Brings the database's schema to this collector's version (vigie-collector db migrate).
Status migrate_postgres(const std::string& conninfo);

// The storage `db` names: PostgreSQL for a connection string, else the SQLite file,
// with `tuning`'s queue bound (and its path replaced by `db`).
Result<std::unique_ptr<Storage>> open_storage(const std::string& db, SqliteOptions tuning = {});
Result<std::unique_ptr<HistoryReader>> open_reader(const std::string& db);
// `db` for a log line: a connection string without its password, or the file's path.
std::string describe_database(const std::string& db);

}  // namespace vigie::collector
