#pragma once
// Ties the state engine to storage and time: every change of state happens on the
// storage's writer thread, inside the transaction that stores its cause, so that
// states, events and reports on disk always agree; events are published to live
// readers (GET /api/v1/events) only once committed, in id order.
//
// A thread of its own ticks the engine (staleness, downtimes, expiries) every
// second where the storage says this collector leads (Storage::leads: always on
// SQLite, one collector at a time on PostgreSQL), checkpoints checks whose state did not change but
// whose latest result did (every 10 s by default: after a crash, a summary may be that much behind,
// a state never), and answers long-polls. When several collectors share a database (PostgreSQL), it
// follows what the others commit: their events wake its long-polls, their acknowledgements and
// downtimes show in its views (Storage::watch).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collector/state_engine.hpp"
#include "collector/storage.hpp"

namespace vigie::collector {

struct MonitorOptions {
  EngineOptions engine;
  std::chrono::milliseconds tick{1000};
  std::chrono::milliseconds checkpoint{10'000};
  std::size_t recent_events = 10'000;    // kept in memory for live readers
  std::function<std::int64_t()> now_ms;  // wall clock; vigie::wall_ms when empty
  bool run_thread = true;                // false: tests call tick() themselves
};

// Counters for /metrics.
struct MonitorStats {
  std::int64_t reports_stored = 0;
  std::int64_t reports_duplicate = 0;
  std::int64_t results_stored = 0;
  std::int64_t samples_stored = 0;
  std::int64_t events = 0;
  std::int64_t waiting_polls = 0;
  // Changes of other collectors sharing the database followed (Storage::watch): by
  // reading the whole state again, and by reading some agents again (how many agents).
  std::int64_t followed_all = 0;
  std::int64_t followed_agents = 0;
};

class Monitor {
 public:
  using EventsReply = std::function<void(std::vector<Event> events, std::int64_t cursor)>;

  // Loads the stored state and starts ticking. `storage` must outlive the monitor.
  static Result<std::unique_ptr<Monitor>> open(Storage& storage, MonitorOptions options);
  ~Monitor();

  // Commits what is pending (a last checkpoint), answers waiting polls, stops the thread.
  void stop();
  // Answers every waiting long-poll now, and later ones at once (shutdown).
  void end_polls();

  // Stores a report and applies it to the state engine in one transaction.
  void ingest(protocol::Report report, std::int64_t received_ms, Storage::Done done);

  // Operator actions: applied and committed before they return (call them from a
  // worker thread). Each leaves an audit entry.
  Result<StateDelta> acknowledge(const std::string& agent, const std::string& check, Ack ack);
  Result<StateDelta> unacknowledge(const std::string& agent, const std::string& check,
                                   const std::string& author, const std::string& comment);
  Result<Downtime> add_downtime(Downtime downtime);
  Result<StateDelta> remove_downtime(std::int64_t id, const std::string& author,
                                     const std::string& comment);

  // Events after `after`: at once if there are some, else when the next ones are
  // committed or at `timeout`, with none. `reply` gets the events (at most `limit`)
  // and the cursor to ask from next time. It may run on another thread.
  void wait_events(std::int64_t after, std::size_t limit, std::chrono::milliseconds timeout,
                   EventsReply reply);

  // What reacts to each change of state inside its transaction (the notifier): on the
  // writer thread, after the engine made `delta` (a report, a tick, an operator's
  // action), `plan` may add to it (the alert outbox's rows), and what it adds is stored
  // with it. `reseed` runs (writer thread) after the state was reloaded following a
  // failed commit. Set it before reports come; clear it before its owner goes.
  struct Alerting {
    std::function<void(StateDelta& delta, std::int64_t now_ms, bool tick)> plan;
    std::function<void(std::int64_t now_ms)> reseed;
    // An agent's states were read again from the database (another collector changed
    // them), on the writer thread: its open problems follow.
    std::function<void(const std::string& agent, std::int64_t now_ms)> reseed_agent;
  };
  void set_alerting(Alerting alerting);

  // Called with each batch of events once committed, in commit order, on the storage's
  // writer thread: it must return at once (the notifier only queues them).
  void set_listener(std::function<void(const std::vector<Event>&)> listener);

  // One tick and one checkpoint now, committed before it returns (tests, shutdown).
  Status tick();
  Status checkpoint();

  const StateEngine& engine() const { return engine_; }
  Storage& storage() const { return storage_; }
  std::int64_t now_ms() const { return options_.now_ms(); }
  std::int64_t published_cursor() const;
  MonitorStats stats() const;

 private:
  struct Waiter {
    std::int64_t after;
    std::size_t limit;
    std::chrono::steady_clock::time_point deadline;
    EventsReply reply;
  };

  Monitor(Storage& storage, MonitorOptions options);
  void run();
  // Runs `make` on the writer, then the alerting's plan on its delta (with `tick`: the
  // reminders too), and waits for the commit.
  Result<StateDelta> change_and_wait(std::function<Result<StateDelta>()> make, bool tick = false);
  void submit_change(std::function<Result<StateDelta>()> make, bool tick);
  // The same for a change of some agents' states (Storage::change_agents): applied to
  // them as stored, read again first when another collector changed them.
  Result<StateDelta> change_agents_and_wait(std::vector<std::string> agents,
                                            std::function<Result<StateDelta>()> make);
  // The agents a downtime covers, as this collector knows them.
  std::vector<std::string> agents_under(const Downtime& downtime) const;
  // A downtime added or removed starts or ends at once (tick(), or on a shared storage
  // its downtimes' part only: the sweeps are the lead's).
  StateDelta start_downtimes(std::int64_t now);
  // The same as a duty of the lead (Storage::duty_agents): not run when this collector
  // does not lead. `agents` are locked first, and read again when another collector
  // wrote them since this one knew them.
  void submit_duty(std::vector<std::string> agents, std::function<Result<StateDelta>()> make,
                   bool tick);
  // `make`, then the alerting's plan on its delta (writer thread).
  std::function<Result<StateDelta>()> with_alerts(std::function<Result<StateDelta>()> make,
                                                  bool tick);
  void plan_alerts(StateDelta& delta, bool tick);
  // The open problems of `agent` follow its states, read again from the database.
  void reseed_alerts(const std::string& agent);
  // The open problems of every agent follow the states, read again from the database.
  void reseed_all_alerts();
  // Events committed (writer thread): after those of other collectors committed
  // before them and not yet published (a shared storage).
  void publish(const std::vector<Event>& events);
  void publish_in_order(const std::vector<Event>& events);
  void resync();  // after a failed commit: memory back to what is stored
  // Events after `after` from memory, or nullopt when memory no longer has them all.
  std::optional<std::vector<Event>> recent_after(std::int64_t after, std::size_t limit) const;
  void serve_waiters(bool all);
  // Another collector sharing the database committed changes (Storage::watch). With
  // `all`: on the writer, this collector's own unsaved results first (a checkpoint),
  // then the whole state is read again. Otherwise only `agents`, each under its row
  // lock and only when another collector wrote it since this one knew it. Then the
  // events it has not published are read.
  void follow_others(bool all, std::vector<std::string> agents);
  // Publishes the events committed by others that this collector has not (writer).
  void publish_others_events();
  // Takes the changes to follow and follows them (mu_ held by `lock`, released while
  // follow_others() is called).
  void start_following(std::unique_lock<std::mutex>& lock);

  // Changes to follow (mu_): any at all, and whether everything or some agents.
  bool others_changed_ = false;
  bool others_all_ = false;
  std::set<std::string> others_agents_;
  bool following_ = false;  // follow_others() in progress (mu_)

  Storage& storage_;
  MonitorOptions options_;
  StateEngine engine_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> recent_;
  std::int64_t published_ = 0;  // id of the last committed event
  std::vector<Waiter> waiters_;
  std::function<void(const std::vector<Event>&)> listener_;
  std::shared_ptr<const Alerting> alerting_;
  MonitorStats stats_;
  bool stopping_ = false;
  bool polls_ended_ = false;
  std::thread thread_;
};

}  // namespace vigie::collector
