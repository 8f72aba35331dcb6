#pragma once
// Alert notifications: tells the on-duty technician when something breaks, once.
//
// The monitor hands every committed batch of events to post(), which only queues
// them: the storage writer never waits for a notification. The notifier's own thread
// turns the events the state engine marked `notify` into alerts (hard changes,
// recoveries, a site unreachable, an acknowledgement or a downtime over while still
// failing), routes them to channels by site, family and severity, re-notifies problems
// still failing and unacknowledged every `renotify`, and folds a storm (more than
// `storm.threshold` alerts for one channel within `storm.window`) into one digest per
// channel. Each channel delivers on a thread of its own, with retries and exponential
// backoff. Every outcome (sent, failed, suppressed with its reason, part of a digest)
// is stored through Storage::change as StateDelta::notifications.
//
// The alerts file is read by alert_config.hpp, messages are written by
// alert_message.hpp, and the decisions live in AlertPlanner (alert_planner.hpp), which
// never reads a clock (tests drive it with a fake one); Notifier adds the threads and
// the deliveries.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "collector/alert_config.hpp"
#include "collector/state.hpp"
#include "collector/state_engine.hpp"
#include "collector/storage.hpp"

namespace vigie::collector {

struct NotifierStats {
  std::int64_t sent[2] = {0, 0};    // by AlertChannel::Kind: messages delivered
  std::int64_t failed[2] = {0, 0};  // messages given up after every attempt
  std::int64_t digests[2] = {0, 0};
  std::int64_t suppressed = 0;
  std::int64_t dropped = 0;  // events lost to a full queue
};

struct NotifierOptions {
  std::function<std::int64_t()> now_ms;  // wall clock; vigie::wall_ms when empty
  std::size_t max_queue = 200'000;       // events waiting for the notifier thread
};

class Notifier {
 public:
  // Starts the notifier's and the channels' threads. `storage` and `engine` must
  // outlive it.
  Notifier(AlertConfig config, Storage& storage, const StateEngine& engine,
           NotifierOptions options = {});
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Committed events; returns at once (any thread).
  void post(const std::vector<Event>& events);
  // Stops the threads; deliveries under way give up their remaining retries.
  void stop();
  NotifierStats stats() const;

 private:
  struct Worker;
  void run();
  void deliver(Worker& worker);
  void record(std::vector<NotificationRecord> records);

  AlertConfig config_;
  Storage& storage_;
  const StateEngine& engine_;
  NotifierOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> incoming_;
  bool stopping_ = false;
  NotifierStats stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::thread thread_;
};

}  // namespace vigie::collector
