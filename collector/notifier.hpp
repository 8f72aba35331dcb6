#pragma once
// Alert notifications: tells the on-duty technician when something breaks, once, and
// never loses the message to a restart.
//
// The monitor calls plan() on the storage's writer thread inside the transaction of
// every change of state (Monitor::set_alerting): the events the state engine marked
// `notify` become alerts (hard changes, recoveries, a site unreachable, an
// acknowledgement or a downtime over while still failing), routed to channels by site,
// family and severity, and each becomes a row of the alert outbox (Storage) written in
// that same transaction; reminders of problems still failing and unacknowledged
// every `renotify` are rows too. Each channel then delivers from the outbox on a
// thread of its own: it claims the rows due, folds a storm (more than
// `storm.threshold` messages within `storm.window`) into one digest per window, sends,
// and marks the rows sent, or due again after an exponential backoff, or failed after
// the channel's attempts. A dead channel only holds its own rows. What a crash or a
// stop leaves unsent is sent after the restart. A delivery the database could not
// record (unreachable) is recorded once it can, before the channel claims anything
// more. Every outcome (sent, failed, suppressed with its reason, part of a digest) goes
// to the notification history.
//
// The alerts file is read by alert_config.hpp, messages are written by
// alert_message.hpp, and the decisions live in AlertPlanner and ChannelPacer
// (alert_planner.hpp), which never read a clock (tests drive them with a fake one);
// Notifier adds the threads, the storage and the deliveries.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "collector/alert_config.hpp"
#include "collector/alert_planner.hpp"
#include "collector/monitor.hpp"
#include "collector/state.hpp"
#include "collector/state_engine.hpp"
#include "collector/storage.hpp"

namespace vigie::collector {

struct NotifierStats {
  std::int64_t sent[2] = {0, 0};    // by AlertChannel::Kind: messages delivered
  std::int64_t failed[2] = {0, 0};  // messages given up after every attempt
  std::int64_t digests[2] = {0, 0};
  std::int64_t suppressed = 0;
  std::int64_t retried = 0;  // failed attempts to be tried again
};

struct NotifierOptions {
  std::function<std::int64_t()> now_ms;  // wall clock; vigie::wall_ms when empty
  // How often each channel looks for rows due (default 250 ms).
  std::chrono::milliseconds poll{250};
  std::size_t max_claim = 10'000;  // rows one message (a digest) carries at most
  // The longest wait between two attempts (default 1 hour).
  std::chrono::milliseconds max_wait{3'600'000};
};

class Notifier {
 public:
  // Seeds the open problems from the engine and the outbox, then starts a delivery
  // thread per channel. `storage` and `engine` must outlive it.
  Notifier(AlertConfig config, Storage& storage, const StateEngine& engine,
           NotifierOptions options = {});
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Writer thread, inside the transaction that stores `delta`, after the engine made
  // it: adds the outbox rows and the held-back records of its events, and on a tick
  // the reminders due.
  void plan(StateDelta& delta, std::int64_t now_ms, bool tick);
  // Writer thread: the engine's state was reloaded after a failed commit.
  void reseed(std::int64_t now_ms);
  // Writer thread: the engine read `agent`'s states again (another collector changed
  // them), under the agent's row lock, before applying what comes next.
  void reseed_agent(const std::string& agent, std::int64_t now_ms);
  // plan, reseed and reseed_agent, for Monitor::set_alerting.
  Monitor::Alerting hooks();
  // Stops the delivery threads; a webhook request under way is aborted, a mail ends
  // first (within the relay's timeout). Rows not delivered stay in the outbox for the
  // next start.
  void stop();
  NotifierStats stats() const;

 private:
  struct Worker;
  void deliver(Worker& worker);
  // Renews the claim of a message's rows (held until held_until_ms) for another lease
  // and drops those another collector claimed meanwhile; false when none is left.
  bool renew(Worker& worker, ChannelPacer::Message& message, std::int64_t held_until_ms,
             std::int64_t lease_ms);
  void send(Worker& worker, ChannelPacer::Message& message);
  // Records as sent the messages delivered whose record the database could not take
  // (kUnavailable), oldest first; false while some are left.
  bool record_delivered(Worker& worker);

  AlertConfig config_;
  Storage& storage_;
  NotifierOptions options_;
  AlertPlanner planner_;  // writer thread only (plan, reseed)

  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::int64_t>> delivered_;  // keys settled, for planner_
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};  // aborts a webhook delivery under way (stop)
  NotifierStats stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace vigie::collector
