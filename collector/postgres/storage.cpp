// The PostgreSQL backend of Storage, put together. One writer thread per collector
// owns a connection and commits the reports queued since its last transaction in one
// transaction (group commit), each in a savepoint of its own, as SQLite's writer does;
// reads take a connection from a pool (the primary's, or the standby's named by
// --read-db for the query API's reads). Several collectors may share one database:
// the replay guard, the agent's row lock and SKIP LOCKED rollups keep their writes
// apart (writes.hpp).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "collector/day_zone.hpp"
#include "collector/housekeeping_pacer.hpp"
#include "collector/postgres/lease.hpp"
#include "collector/postgres/listen.hpp"
#include "collector/postgres/pq.hpp"
#include "collector/postgres/reads.hpp"
#include "collector/postgres/schema.hpp"
#include "collector/postgres/writes.hpp"
#include "collector/storage.hpp"
#include "collector/writer_times.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxJobsPerTransaction = 64;

// Connections to one server, handed out one caller at a time.
class Pool {
 public:
  explicit Pool(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  // Runs `read` on a connection; when it fails in a way a new attempt may not (a
  // broken connection, a conflict with recovery on a standby), runs it again on a
  // fresh connection, twice at most: on a standby replaying much cleanup, a read run
  // again at once may meet the next conflict.
  template <class Read>
  auto with(Read read) -> decltype(read(std::declval<pq::Conn&>())) {
    constexpr int kAttempts = 3;
    for (int attempt = 0;; ++attempt) {
      // A later attempt never takes an idle connection: it may be as broken as the first.
      std::unique_ptr<pq::Conn> conn = attempt == 0 ? take() : nullptr;
      if (!conn) {
        auto made = pq::Conn::connect(conninfo_);
        if (!made) return made.status();
        conn = std::move(*made);
      }
      auto result = read(*conn);
      const bool healthy = conn->ok();
      if (healthy) give_back(std::move(conn));
      if (result || attempt + 1 >= kAttempts || !pq::retryable(result.status())) return result;
      retried_.fetch_add(1, std::memory_order_relaxed);
      log::notice("storage: a read runs again on a new connection: " + result.status().message());
    }
  }
  // Reads run again since start (each attempt after a first that failed as above).
  std::int64_t retried() const { return retried_.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<pq::Conn> take() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return nullptr;
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }
  void give_back(std::unique_ptr<pq::Conn> conn) {
    std::lock_guard lock(mu_);
    if (idle_.size() < 8) idle_.push_back(std::move(conn));
  }

  const std::string conninfo_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pq::Conn>> idle_;
  std::atomic<std::int64_t> retried_{0};
};

// A unit of the writer's work: apply() runs in the group's transaction, in a savepoint
// of its own; done() runs after the commit with the job's status or the commit's.
struct Job {
  std::string agent;  // the agent whose row it locks first ("" : none), for lock order
  std::function<Status(pg::Writes&)> apply;
  std::function<void(Status)> done;
};

std::string random_name() {
  std::random_device device;
  std::uniform_int_distribution<std::uint64_t> any;
  std::mt19937_64 generator((std::uint64_t{device()} << 32) ^ device());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (std::uint64_t v = any(generator), i = 0; i < 16; ++i, v >>= 4) name += kHex[v & 15];
  return name;
}

class PostgresStorage final : public Storage {
 public:
  explicit PostgresStorage(PostgresOptions options)
      : options_(std::move(options)),
        primary_(options_.conninfo),
        replica_(options_.read_conninfo.empty() ? options_.conninfo : options_.read_conninfo) {}
  ~PostgresStorage() override { close(); }

  Status start(std::unique_ptr<pq::Conn> conn) {
    auto day_zone = DayZone::named(options_.day_zone);
    if (!day_zone) return day_zone.status().with_context("--day-zone");
    conn_ = std::move(conn);
    writes_ = std::make_unique<pg::Writes>(*conn_, options_.max_series_per_agent);
    writes_->set_cache_token(cache_token());
    writes_->set_day_zone(*day_zone);
    auto synchronous = pg::read_synchronous(*conn_);
    if (!synchronous) return synchronous.status();
    synchronous_ = *synchronous;
    // The days' partitions exist before the first report, not from the lead's first
    // housekeeping on: a block of a day with no partition goes to the default one, and
    // one routed there while the lead attaches its day's partition is refused
    // ("violates partition constraint"). A check of one row once they are made.
    // Opened as every writer's transaction is (begin()): not across a migration.
    Status made = begin();
    if (made) made = writes_->make_partitions(now_ms());
    if (made) made = conn_->commit();
    if (!made) {
      (void)conn_->exec("ROLLBACK");
      return made.with_context("make the days' partitions");
    }
    // The daily tier's days are those of the collector that leads (PostgresOptions::
    // day_zone): one started with another zone says so now, not when it takes the lead.
    auto daily = pg::read_daily_tier_zone(*conn_);
    if (!daily) return daily.status();
    if (!daily->target().empty() && daily->target() != day_zone->name())
      log::warning("storage: --day-zone " + day_zone->name() +
                   ", but the database's daily tier is in " + daily->target() +
                   "'s days: they stay so while a collector of that zone leads; this one, "
                   "when it leads, rebuilds them in " +
                   day_zone->name() +
                   " (collectors sharing a database are started with the same --day-zone)");
    writer_ = std::thread([this] { writer_loop(); });
    return Status::ok();
  }

  void submit(protocol::Report report, std::int64_t received_ms, OnStored on_stored,
              Stored done) override;
  Result<std::int64_t> new_downtime_id() override {
    return pool_write([](pq::Conn& c) -> Result<std::int64_t> {
      auto id = c.query("SELECT nextval('downtimes_id_seq')");
      if (!id) return id.status().with_context("number a downtime");
      return id->int64(0, 0);
    });
  }
  void change(Change make, ChangeDone done) override;
  void change_agents(std::vector<std::string> agents, AgentsChange make, ChangeDone done) override;
  StorageStats stats() override;
  Status housekeep() override;
  void watch(std::function<void(const OthersChanged&)> changed) override {
    std::lock_guard lock(listener_mu_);
    listener_.reset();
    if (changed)
      listener_ =
          std::make_unique<pg::Listener>(options_.conninfo, self_, std::move(changed),
                                         [this](std::int64_t version) { found_schema(version); });
  }
  void lead(std::function<void(bool)> changed) override {
    std::unique_ptr<pg::Lease> old;
    {
      std::lock_guard lock(lease_mu_);
      old = std::move(lease_);
    }
    old.reset();  // stops leading before another lease starts
    if (!changed || outdated_.load() != 0) return;
    auto lease = std::make_unique<pg::Lease>(
        options_.conninfo, holder_name(), options_.lease, std::move(changed),
        [this](std::int64_t version) { found_schema(version); });
    std::lock_guard lock(lease_mu_);
    lease_ = std::move(lease);
  }
  bool leads() override { return outdated_.load() == 0 && lead_term() != 0; }
  Status health() override {
    const std::int64_t found = outdated_.load();
    if (found == 0) return Status::ok();
    return Status(Code::kFailedPrecondition, pg::migrated_under(found));
  }
  bool shared() const override { return true; }
  void duty(Change make, ChangeDone done) override;
  void duty_agents(std::vector<std::string> agents, AgentsChange make, ChangeDone done) override;
  void close() override;

  Result<StateSnapshot> load_state(std::int64_t now_ms) override {
    return primary_.with([&](pq::Conn& c) { return pg::read_state(c, now_ms); });
  }
  Result<std::vector<Event>> events(const EventQuery& query) override {
    return (query.primary ? primary_ : replica_).with([&](pq::Conn& c) {
      return pg::read_events(c, query);
    });
  }
  Result<std::vector<AuditEntry>> audit(const AuditQuery& query) override {
    return replica_.with([&](pq::Conn& c) { return pg::read_audit(c, query); });
  }
  Result<std::vector<NotificationRecord>> notifications(const NotificationQuery& query) override {
    return replica_.with([&](pq::Conn& c) { return pg::read_notifications(c, query); });
  }
  Result<SeriesData> series(const SeriesQuery& query) override {
    auto plan = plan_series(query, options_.retention, now_ms(), /*daily_tier=*/true);
    if (!plan) return plan.status();
    return replica_.with([&](pq::Conn& c) { return pg::read_series(c, query, *plan); });
  }
  Result<HistoryData> history(const HistoryQuery& query) override {
    return replica_.with([&](pq::Conn& c) { return pg::read_history(c, query); });
  }

  Result<std::int64_t> add_token(const TokenRecord& record, const std::string& hash) override {
    std::int64_t id = 0;
    Status s = write([&](pg::Writes& w) -> Status {
      auto inserted = w.insert_token(record, hash);
      if (!inserted) return inserted.status();
      id = *inserted;
      return Status::ok();
    });
    if (!s) return s;
    return id;
  }
  // Tokens are read on the primary: a revoked token stops working at once.
  Result<TokenRecord> find_token(const std::string& hash) override {
    return primary_.with([&](pq::Conn& c) { return pg::read_token(c, hash); });
  }
  Result<std::vector<TokenRecord>> list_tokens() override {
    return primary_.with([&](pq::Conn& c) { return pg::read_tokens(c); });
  }
  Status revoke_token(std::int64_t id, std::int64_t now_ms) override {
    return write([&](pg::Writes& w) { return w.revoke_token(id, now_ms); });
  }
  Result<std::vector<std::int64_t>> add_tokens(
      const std::vector<std::pair<TokenRecord, std::string>>& tokens) override {
    std::vector<std::int64_t> ids;
    Status s = write([&](pg::Writes& w) -> Status {
      auto inserted = w.insert_tokens(tokens);
      if (!inserted) return inserted.status();
      ids = std::move(*inserted);
      return Status::ok();
    });
    if (!s) return s;
    return ids;
  }

  // The outbox: claimed in one statement on a connection of the pool (SKIP LOCKED:
  // collectors claiming at once take different rows), in a transaction opened as the
  // writer's (pool_write()); settled by the writer with the notification history.
  Result<std::vector<OutboxRow>> claim_outbox(const std::string& channel, std::int64_t now_ms,
                                              std::int64_t due_by_ms, std::size_t limit,
                                              std::int64_t lease_ms) override {
    return pool_write([&](pq::Conn& c) {
      return pg::claim_outbox(c, channel, now_ms, due_by_ms, limit, lease_ms);
    });
  }
  Result<std::vector<std::int64_t>> renew_outbox(const std::vector<std::int64_t>& ids,
                                                 std::int64_t held_until_ms,
                                                 std::int64_t until_ms) override {
    return pool_write(
        [&](pq::Conn& c) { return pg::renew_outbox(c, ids, held_until_ms, until_ms); });
  }
  Status outbox_sent(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                     const std::string& status, std::vector<NotificationRecord> history) override {
    return write([&](pg::Writes& w) {
      return w.settle_outbox(ids, now_ms, status, "", 0, std::move(history));
    });
  }
  Status outbox_failed(const std::vector<std::int64_t>& ids, std::int64_t now_ms,
                       std::int64_t retry_at_ms, const std::string& error,
                       std::vector<NotificationRecord> history) override {
    return write([&](pg::Writes& w) {
      return w.settle_outbox(ids, now_ms, "failed", error, retry_at_ms, std::move(history));
    });
  }
  Result<std::map<std::string, std::int64_t>> outbox_last_sent(std::int64_t since_ms) override {
    return primary_.with([&](pq::Conn& c) { return pg::read_outbox_last_sent(c, since_ms); });
  }
  Result<std::map<std::string, std::int64_t>> outbox_settled(const std::vector<std::string>& keys,
                                                             std::int64_t since_ms) override {
    return primary_.with([&](pq::Conn& c) { return pg::read_outbox_settled(c, keys, since_ms); });
  }

  // Agent configurations, read and written on the primary.
  Result<ConfigSnapshot> config_snapshot() override {
    return primary_.with([](pq::Conn& c) { return pg::read_config_snapshot(c); });
  }
  Result<std::int64_t> config_revision() override {
    return primary_.with([](pq::Conn& c) { return pg::read_config_revision(c); });
  }
  Result<std::int64_t> change_config(const ConfigChange& change) override {
    std::int64_t revision = 0;
    Status s = write([&](pg::Writes& w) -> Status {
      auto applied = w.change_config(change);
      if (!applied) return applied.status();
      revision = *applied;
      return Status::ok();
    });
    if (!s) return s;
    return revision;
  }
  Status put_agent_config_report(const AgentConfigReport& report) override {
    return write([&](pg::Writes& w) { return w.put_agent_config_report(report); });
  }
  Result<std::vector<AgentConfigReport>> agent_config_reports() override {
    return primary_.with([](pq::Conn& c) { return pg::read_agent_config_reports(c); });
  }

  Result<TokenRecord> enroll(const Enrollment& enrollment) override {
    TokenRecord issued;
    Status s = write([&](pg::Writes& w) -> Status {
      auto token = w.enroll(enrollment);
      if (!token) return token.status();
      issued = std::move(*token);
      return Status::ok();
    });
    if (!s) return s;
    return issued;
  }

 private:
  std::int64_t now_ms() const { return options_.now_ms ? options_.now_ms() : wall_ms(); }
  // What agents.states_by says of an agent whose states this collector wrote last:
  // its name and the epoch of its memory (writer thread).
  std::string cache_token() const { return self_ + "/" + std::to_string(epoch_); }
  // After a rollback the state engine's memory may be ahead of what is stored: every
  // agent's states are read again before its next report is applied (writer thread).
  void new_epoch() {
    ++epoch_;
    if (writes_) writes_->set_cache_token(cache_token());
  }
  // The term this collector leads in; 0 when it does not lead.
  std::int64_t lead_term() {
    std::lock_guard lock(lease_mu_);
    return lease_ ? lease_->term() : 0;
  }
  // That this collector still leads, in the writer's transaction (Writes::confirm_lead).
  // A term the lease holds but the database does not (another collector bumped it,
  // this one's lock lost and not noticed yet) is said once per term and given up at
  // once: the lease competes again, and this collector or another runs the duties,
  // where they would otherwise be refused in silence until the lease's next
  // confirmation (writer thread).
  Status confirm_lead(pg::Writes& w) {
    const std::int64_t term = lead_term();
    Status s = w.confirm_lead(term);
    if (s || term == 0 || s.code() != Code::kFailedPrecondition) return s;
    if (std::exchange(refused_term_, term) != term)
      log::warning("lead: the duties of this collector's term are refused (" + s.message() +
                   "): it gives the lead up and competes again");
    std::lock_guard lock(lease_mu_);
    if (lease_) lease_->give_up(term);
    return s;
  }
  // The database's schema version, as the writer or the Listener found it (any thread).
  // Another than this collector's (a newer collector migrated the database under it,
  // during a rolling upgrade): it stops for good what assumes its schema: writes (the
  // writer commits nothing more, jobs are refused as unavailable: agents keep their
  // reports and send them again, to an upgraded collector behind the balancer) and the
  // lead; /healthz fails. Said once, at error.
  void found_schema(std::int64_t version) {
    if (version == pg::kSchemaVersion) return;
    std::int64_t none = 0;
    if (!outdated_.compare_exchange_strong(none, version)) return;
    log::error("storage: " + pg::migrated_under(version));
    std::lock_guard lock(lease_mu_);
    if (lease_) lease_->retire("the database was migrated under it by a newer collector");
  }
  // A write on a connection of the pool, outside the writer (an outbox claim or renewal,
  // a downtime's id), in a transaction opened as the writer's (pg::begin_writes()): not
  // across a migration, and refused, as the writer's, once the database's version is
  // not this collector's, which it then knows (found_schema()), notified or not.
  template <class Write>
  auto pool_write(Write write) -> decltype(write(std::declval<pq::Conn&>())) {
    using Written = decltype(write(std::declval<pq::Conn&>()));
    if (outdated_.load() != 0) return outdated_status();
    Written written = primary_.with([&](pq::Conn& c) -> Written {
      auto version = pg::begin_writes(c);
      if (version) found_schema(*version);
      if (!version || outdated_.load() != 0) {
        (void)c.exec("ROLLBACK");
        // Refused for the schema: not an outage, which the pool would try again.
        if (version) return Status(Code::kFailedPrecondition, "the schema moved");
        return version.status();
      }
      Written done = write(c);
      Status s = done ? c.commit() : done.status();
      if (!s) {
        (void)c.exec("ROLLBACK");
        return s;
      }
      return done;
    });
    if (!written && outdated_.load() != 0) return outdated_status();
    return written;
  }
  Status outdated_status() const {
    return Status::unavailable("the database's schema version is now " +
                               std::to_string(outdated_.load()) + ", this collector's " +
                               std::to_string(pg::kSchemaVersion) + ": it writes nothing more");
  }
  // This collector in vigie_lead.holder: its host, process and name.
  std::string holder_name() const {
    char host[256] = {};
    (void)::gethostname(host, sizeof host - 1);
    return std::string(host) + " pid " + std::to_string(::getpid()) + " (" + self_ + ")";
  }
  // Jobs in one transaction: at most 64, each in a savepoint (a subtransaction), so
  // that a transaction never has more than PostgreSQL caches per backend
  // (PGPROC_MAX_CACHED_SUBXIDS): past it every snapshot taken meanwhile, by any
  // session, must look its subtransactions up (suboverflow).
  std::size_t batch_limit() const {
    return std::clamp<std::size_t>(options_.max_batch_reports, 1, kMaxJobsPerTransaction);
  }
  void enqueue(Job job);
  Status write(std::function<Status(pg::Writes&)> apply);
  // One slice of housekeeping; `as_duty`: only while this collector leads (the
  // background slices), confirmed in the transaction.
  Job housekeeping_job(std::shared_ptr<bool> more, bool as_duty);
  // Locks the rows of `agents` (sorted, each once), in the writer's transaction, and
  // says of each whether this collector's memory of it is current.
  Result<std::vector<StoredAgent>> lock_agents(pg::Writes& w,
                                               const std::vector<std::string>& agents);
  void writer_loop();
  bool connected();
  Status begin();
  void commit_group(std::vector<Job>& group);
  // `first`: the transaction's first job.
  Status apply_in_savepoint(const Job& job, bool first);

  const PostgresOptions options_;
  Pool primary_;
  Pool replica_;
  std::unique_ptr<pq::Conn> conn_;  // the writer's; writer thread only after start()
  std::unique_ptr<pg::Writes> writes_;
  std::atomic<std::int64_t> commits_{0};
  std::atomic<std::int64_t> commit_failures_{0};
  std::atomic<std::int64_t> refused_busy_{0};
  // The schema version found when it is not kSchemaVersion (found_schema()); 0 while
  // it is.
  std::atomic<std::int64_t> outdated_{0};
  WriterTimes times_;
  // A housekeeping slice ran in the group being committed (writer thread).
  bool slice_in_group_ = false;
  std::string synchronous_;  // read at start
  // This collector's name in its notifications (listen.hpp): random, so that two
  // collectors never take each other's for their own.
  const std::string self_ = random_name();
  std::int64_t epoch_ = 0;         // writer thread
  std::int64_t refused_term_ = 0;  // the last term confirm_lead() found refused (writer thread)
  std::mutex listener_mu_;
  std::unique_ptr<pg::Listener> listener_;
  std::mutex lease_mu_;
  std::unique_ptr<pg::Lease> lease_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool closing_ = false;
  std::thread writer_;
};

void PostgresStorage::enqueue(Job job) {
  if (outdated_.load() != 0) return job.done(outdated_status());
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      queue_.push_back(std::move(job));
      cv_.notify_one();
      return;
    }
  }
  job.done(Status::unavailable("the collector is shutting down"));
}

Status PostgresStorage::write(std::function<Status(pg::Writes&)> apply) {
  std::promise<Status> committed;
  auto future = committed.get_future();
  enqueue({"", std::move(apply), [&committed](Status s) { committed.set_value(std::move(s)); }});
  return future.get();
}

void PostgresStorage::submit(protocol::Report report, std::int64_t received_ms, OnStored on_stored,
                             Stored done) {
  if (options_.max_queued_reports > 0) {
    std::size_t waiting = 0;
    {
      std::lock_guard lock(mu_);
      waiting = queue_.size();
    }
    if (waiting >= options_.max_queued_reports) {
      refused_busy_.fetch_add(1, std::memory_order_relaxed);
      return done(Status::unavailable("the collector is busy: " + std::to_string(waiting) +
                                      " reports wait to be written"),
                  {});
    }
  }
  auto outcome = std::make_shared<IngestOutcome>(IngestOutcome::kStored);
  auto shared = std::make_shared<protocol::Report>(std::move(report));
  auto delta = std::make_shared<StateDelta>();
  std::string agent = shared->agent.id;
  enqueue({std::move(agent),
           [this, shared, received_ms, outcome, delta,
            on_stored = std::move(on_stored)](pg::Writes& w) -> Status {
             auto stored = w.store(*shared, received_ms);
             if (!stored) return stored.status();
             *outcome = *stored;
             if (*stored != IngestOutcome::kStored || !on_stored) return Status::ok();
             // Under the agent's row lock: whether this collector's memory of it is
             // current, and how to read it again if not.
             const std::string name = shared->agent.id;
             StoredAgent agent{
                 .agent = name, .current = w.agent_current(name), .load = [this, name] {
                   return pg::read_agent_state(*conn_, name, now_ms());
                 }};
             auto made = on_stored(std::move(*shared), received_ms, agent);
             if (!made) return made.status();
             *delta = std::move(*made);
             return w.persist(*delta);
           },
           [done = std::move(done), outcome, delta](Status status) {
             if (!status) return done(status, {});
             done(*outcome, std::move(delta->events));
           }});
}

void PostgresStorage::change(Change make, ChangeDone done) {
  auto delta = std::make_shared<StateDelta>();
  enqueue({"",
           [delta, make = std::move(make)](pg::Writes& w) -> Status {
             auto made = make();
             if (!made) return made.status();
             *delta = std::move(*made);
             return w.persist(*delta);
           },
           [delta, done = std::move(done)](Status status) {
             if (!status) return done(status);
             done(std::move(*delta));
           }});
}

Result<std::vector<Storage::StoredAgent>> PostgresStorage::lock_agents(
    pg::Writes& w, const std::vector<std::string>& agents) {
  std::vector<StoredAgent> stored;
  for (const std::string& agent : agents) {  // in name order
    auto locked = w.lock_agent(agent);
    if (!locked) return locked.status();
    stored.push_back(
        {.agent = agent, .current = *locked && w.agent_current(agent), .load = [this, agent] {
           return pg::read_agent_state(*conn_, agent, now_ms());
         }});
  }
  return stored;
}

void PostgresStorage::change_agents(std::vector<std::string> agents, AgentsChange make,
                                    ChangeDone done) {
  std::sort(agents.begin(), agents.end());
  agents.erase(std::unique(agents.begin(), agents.end()), agents.end());
  auto delta = std::make_shared<StateDelta>();
  // One agent's change joins a group of reports (its row locked in name order with
  // theirs); one of several agents commits alone.
  std::string first = agents.size() == 1 ? agents.front() : "";
  enqueue({std::move(first),
           [this, agents, delta, make = std::move(make)](pg::Writes& w) -> Status {
             auto stored = lock_agents(w, agents);
             if (!stored) return stored.status();
             auto made = make(*stored);
             if (!made) return made.status();
             *delta = std::move(*made);
             return w.persist(*delta);
           },
           [delta, done = std::move(done)](Status status) {
             if (!status) return done(status);
             done(std::move(*delta));
           }});
}

void PostgresStorage::duty_agents(std::vector<std::string> agents, AgentsChange make,
                                  ChangeDone done) {
  std::sort(agents.begin(), agents.end());
  agents.erase(std::unique(agents.begin(), agents.end()), agents.end());
  auto delta = std::make_shared<StateDelta>();
  enqueue({"",
           [this, agents, delta, make = std::move(make)](pg::Writes& w) -> Status {
             // The lead first (as duty()), then the agents' rows in name order.
             if (Status s = confirm_lead(w); !s) return s;
             auto stored = lock_agents(w, agents);
             if (!stored) return stored.status();
             auto made = make(*stored);
             if (!made) return made.status();
             *delta = std::move(*made);
             return w.persist(*delta);
           },
           [delta, done = std::move(done)](Status status) {
             if (!status) return done(status);
             done(std::move(*delta));
           }});
}

void PostgresStorage::duty(Change make, ChangeDone done) {
  auto delta = std::make_shared<StateDelta>();
  enqueue({"",
           [this, delta, make = std::move(make)](pg::Writes& w) -> Status {
             if (Status s = confirm_lead(w); !s) return s;
             auto made = make();
             if (!made) return made.status();
             *delta = std::move(*made);
             return w.persist(*delta);
           },
           [delta, done = std::move(done)](Status status) {
             if (!status) return done(status);
             done(std::move(*delta));
           }});
}

StorageStats PostgresStorage::stats() {
  StorageStats s;
  {
    std::lock_guard lock(mu_);
    s.queue_depth = queue_.size();
  }
  s.commits = commits_.load(std::memory_order_relaxed);
  s.commit_failures = commit_failures_.load(std::memory_order_relaxed);
  s.refused_busy = refused_busy_.load(std::memory_order_relaxed);
  s.synchronous = synchronous_;
  s.commit_seconds = times_.commits();
  s.housekeeping_seconds = times_.housekeeping();
  s.reads_retried = primary_.retried() + replica_.retried();
  if (auto bytes = primary_.with([](pq::Conn& c) { return pg::read_database_bytes(c); }))
    s.database_bytes = *bytes;
  const std::int64_t now = now_ms();
  if (auto backlog = primary_.with([&](pq::Conn& c) { return pg::read_rollup_backlog(c, now); })) {
    s.rollup_due_blocks = backlog->blocks;
    if (backlog->blocks > 0)
      s.rollup_oldest_due_seconds = static_cast<double>(now - backlog->oldest_ms) / 1000.0;
  }
  return s;
}

Job PostgresStorage::housekeeping_job(std::shared_ptr<bool> more, bool as_duty) {
  return {"",
          [this, more, as_duty](pg::Writes& w) {
            if (as_duty) {
              if (Status s = confirm_lead(w); !s) {
                *more = false;
                return Status::ok();  // another collector's to do
              }
            }
            slice_in_group_ = true;
            return w.housekeeping_slice(options_.retention, options_.housekeeping_budget, now_ms(),
                                        more.get());
          },
          [more](Status status) {
            if (!status) {
              log::error("storage: housekeeping failed: " + status.message());
              *more = false;  // try again at the next period, not in a tight loop
            }
          }};
}

Status PostgresStorage::housekeep() {
  auto more = std::make_shared<bool>(true);
  while (*more) {
    std::promise<Status> committed;
    auto future = committed.get_future();
    Job job = housekeeping_job(more, false);
    job.done = [&committed, done = std::move(job.done)](Status s) {
      done(s);
      committed.set_value(std::move(s));
    };
    enqueue(std::move(job));
    if (Status s = future.get(); !s) return s;
  }
  return Status::ok();
}

void PostgresStorage::close() {
  watch({});
  lead({});
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
}

// BEGIN, refused on a database another collector migrated since this one started.
Status PostgresStorage::begin() {
  auto version = pg::begin_writes(*conn_);
  Status s = version ? Status::ok() : version.status();
  if (version) {
    found_schema(*version);
    if (outdated_.load() != 0) s = outdated_status();
  }
  // Refused, the transaction is not left open: idle, it would hold the schema's lock,
  // which the next migration waits for, and its snapshot.
  if (!s) (void)conn_->exec("ROLLBACK");
  return s;
}

// The writer's connection, made again after it broke.
bool PostgresStorage::connected() {
  if (conn_ && conn_->ok()) return true;
  auto made = pq::Conn::connect(options_.conninfo);
  if (!made) {
    log::warning("storage: " + made.status().message());
    return false;
  }
  conn_ = std::move(*made);
  writes_ = std::make_unique<pg::Writes>(*conn_, options_.max_series_per_agent);
  new_epoch();
  log::notice("storage: connected to the database again");
  return true;
}

void PostgresStorage::writer_loop() {
  std::vector<Job> group;
  HousekeepingPacer pacer(options_.housekeeping_every);
  auto more = std::make_shared<bool>(false);
  for (;;) {
    bool idle = false;  // no job came while it waited
    {
      std::unique_lock lock(mu_);
      idle = !cv_.wait_for(lock, pacer.wait(*more), [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty() && closing_) return;
      // A job that is not one agent's report (an operator's action, a sweep, a
      // checkpoint) may write the states of any agents: it commits alone, so that
      // the agents' rows are locked in name order in every transaction.
      while (!queue_.empty() && group.size() < batch_limit()) {
        if (queue_.front().agent.empty() && !group.empty()) break;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (group.back().agent.empty()) break;
      }
    }
    if (!group.empty()) {
      commit_group(group);
      group.clear();
    }
    // Housekeeping is the lead's (one collector's at a time).
    if (!leads()) {
      *more = false;
    } else if (pacer.due(*more, idle)) {
      const auto start = Clock::now();
      group.push_back(housekeeping_job(more, true));
      commit_group(group);
      group.clear();
      pacer.ran(start, Clock::now());
    }
  }
}

Status PostgresStorage::apply_in_savepoint(const Job& job, bool first) {
  // The savepoint of the job before is released as this one's is made (one round
  // trip); COMMIT releases the last.
  if (Status s = conn_->exec(first ? "SAVEPOINT job" : "RELEASE SAVEPOINT job; SAVEPOINT job"); !s)
    return s;
  Status status;
  writes_->job_starts();
  try {
    status = job.apply(*writes_);
  } catch (const std::exception& e) {  // bad_alloc, or a bug: fail this job only
    status = Status::internal(e.what());
  }
  if (!status) {
    (void)conn_->exec("ROLLBACK TO SAVEPOINT job");
    writes_->job_failed();
    // The state engine may have applied what was rolled back (not when it refused).
    const Code code = status.code();
    if (code != Code::kFailedPrecondition && code != Code::kNotFound &&
        code != Code::kInvalidArgument)
      new_epoch();
  }
  return status;
}

void PostgresStorage::commit_group(std::vector<Job>& group) {
  // Reports of one agent keep their order; agents' rows are locked in name order, the
  // same in every collector, so that two groups never wait for each other in a cycle.
  std::stable_sort(group.begin(), group.end(),
                   [](const Job& a, const Job& b) { return a.agent < b.agent; });
  std::vector<Status> outcomes;
  outcomes.reserve(group.size());
  const auto start = Clock::now();
  slice_in_group_ = false;
  Status tx = connected() ? begin() : Status::unavailable("the database cannot be reached");
  if (tx) {
    writes_->new_transaction();
    for (const auto& job : group) outcomes.push_back(apply_in_savepoint(job, outcomes.empty()));
    tx = writes_->flush_blocks();
    // The events last: their ids are given in commit order (writes.hpp).
    if (tx) tx = writes_->flush_events();
    // Other collectors hear of it once it is committed (NOTIFY is delivered at
    // COMMIT, and never for a rollback).
    if (const auto announce = writes_->take_announce(); tx && announce) {
      auto notified = conn_->query(
          "SELECT pg_notify($1, $2)",
          pq::Params().add(std::string(pg::kChannel)).add(pg::payload(self_, *announce)));
      if (!notified) tx = notified.status().with_context("announce the change");
    }
    if (tx) tx = conn_->commit();
    if (!tx) (void)conn_->exec("ROLLBACK");
  }
  if (!tx) {
    if (writes_) writes_->forget_cached_ids();
    new_epoch();
    // What is not known committed is answered as not stored: the agent sends it again,
    // and the replay guard makes that harmless if it was committed after all.
    if (tx.code() != Code::kUnavailable) tx = Status::unavailable(tx.message());
  }
  (tx ? commits_ : commit_failures_).fetch_add(1, std::memory_order_relaxed);
  // A group refused for the schema is said once, by found_schema().
  if (!tx && outdated_.load() == 0) log::error("storage: commit failed: " + tx.message());
  const auto took = Clock::now() - start;
  if (slice_in_group_ && writes_) times_.housekept(took, writes_->slice_work());
  else times_.committed(took, group.size());
  for (std::size_t i = 0; i < group.size(); ++i) group[i].done(tx ? std::move(outcomes[i]) : tx);
}

// The read-only side of a database, for the report command.
class PostgresReader final : public HistoryReader {
 public:
  explicit PostgresReader(std::string conninfo) : pool_(std::move(conninfo)) {}
  Result<HistoryData> history(const HistoryQuery& query) override {
    return pool_.with([&](pq::Conn& c) { return pg::read_history(c, query); });
  }

 private:
  Pool pool_;
};

}  // namespace

bool is_postgres_database(std::string_view db) { return pq::is_postgres(db); }

Status migrate_postgres(const std::string& conninfo) {
  auto conn = pq::Conn::connect(conninfo);
  if (!conn) return conn.status();
  return pg::migrate(**conn);
}

Result<std::unique_ptr<Storage>> open_postgres_storage(const PostgresOptions& options) {
  if (!options.read_conninfo.empty()) {
    if (Status s = pq::check_conninfo(options.read_conninfo); !s)
      return s.with_context("--read-db");
  }
  auto conn = pq::Conn::connect(options.conninfo);
  if (!conn) return conn.status();
  if (Status s = options.migrate ? pg::migrate(**conn) : pg::check_version(**conn); !s) return s;
  auto storage = std::make_unique<PostgresStorage>(options);
  if (Status s = storage->start(std::move(*conn)); !s) return s;
  // The reads' database (a standby) asked once now, so that one that cannot answer is
  // said at start rather than at the first read. Not a reason to stop: ingest needs the
  // primary only, and each read connects again.
  if (!options.read_conninfo.empty()) {
    auto read = pq::Conn::connect(options.read_conninfo);
    const Status s = read ? pg::check_version(**read) : read.status();
    if (!s)
      log::warning("--read-db: " + s.message() +
                   ": the query API, the console and the reports fail until it answers;"
                   " reports are stored meanwhile");
  }
  return std::unique_ptr<Storage>(std::move(storage));
}

Result<std::unique_ptr<HistoryReader>> open_postgres_reader(const std::string& conninfo) {
  auto conn = pq::Conn::connect(conninfo);
  if (!conn) return conn.status();
  if (Status s = pg::check_version(**conn); !s) return s;
  return std::unique_ptr<HistoryReader>(std::make_unique<PostgresReader>(conninfo));
}

}  // namespace vigie::collector
