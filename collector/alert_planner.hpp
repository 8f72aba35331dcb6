#pragma once
// The notifier's decisions (notifier.hpp), apart from its threads, clocks and storage
// so that tests drive them with a fake clock: AlertPlanner turns events into rows of
// the alert outbox, ChannelPacer decides when a channel's rows go and as what.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collector/alert_config.hpp"
#include "collector/alert_message.hpp"
#include "collector/state.hpp"
#include "collector/state_engine.hpp"

namespace vigie::collector {

// Which events alert, where they go, what is held back and why, and which problems
// are due for a reminder. What it decides to send is rows of the alert outbox (one per
// channel, due after the storm hold), returned for the caller to store in the
// transaction of the events. Not thread-safe: the storage's writer thread owns it.
class AlertPlanner {
 public:
  AlertPlanner(const AlertConfig& config, const StateEngine& engine);

  struct Plan {
    std::vector<OutboxRow> outbox;            // to send
    std::vector<NotificationRecord> records;  // held back, with the reason
  };

  // Opens the problems the engine shows now (start-up, or after the state was
  // reloaded): recoveries and reminders of problems notified before keep working.
  // `last_sent`: when each key (alert_key) was last delivered (the outbox); a problem
  // it does not know counts as told at now_ms.
  void seed(std::int64_t now_ms, const std::map<std::string, std::int64_t>& last_sent = {});
  // The states of `agent` were read again from the database: another collector sharing
  // it changed them, and notified what changed there. Its checks' problems are open as
  // the engine now shows them (as seed() opens all), so that a recovery received here
  // of a problem another collector notified is sent, and a problem another collector
  // saw recover is closed. A problem already open keeps when it was last told; one new
  // here waits to be settled (unsettled(), from when it began): its reminders count
  // from the delivery of the message the other collector queued.
  void reseed_agent(const std::string& agent, std::int64_t now_ms);
  // Committed events.
  void add(const std::vector<Event>& events, std::int64_t now_ms, Plan& plan);
  // Reminders due at now_ms.
  void tick(std::int64_t now_ms, Plan& plan);
  // A message about `key` was delivered, or given up, at at_ms: its next reminder
  // counts from then.
  void settled(const std::string& key, std::int64_t at_ms);
  // The keys whose last message this planner queued and has not seen settled, and
  // (since_ms) when the oldest of them was queued: on a database shared by collectors,
  // another may have delivered it, and the caller asks the outbox (settled()).
  std::vector<std::string> unsettled(std::int64_t* since_ms) const;
  // Channels (indexes) an alert goes to.
  std::vector<std::size_t> route(const Alert& alert) const;
  std::size_t open_problems() const { return open_.size(); }

 private:
  struct Open {
    Alert alert;                  // the problem as last notified
    std::int64_t queued_ms = 0;   // when its last message was queued
    std::int64_t settled_ms = 0;  // when one was last delivered or given up
  };

  void consider(const Event& event, std::int64_t now_ms, Plan& plan);
  // The problem a check shows that seed() opens; nullopt when none (or a quiet one).
  static std::optional<Alert> open_problem(const CheckState& c);
  void enqueue(const Alert& alert, std::int64_t now_ms, Plan& plan);
  void suppress(const Alert& alert, const std::string& reason, std::int64_t now_ms, Plan& plan);
  // Why a problem of `key` should stay quiet now; "" when it may be notified; nullopt
  // when it is no longer a problem.
  std::optional<std::string> quiet_reason(const Alert& alert) const;

  const AlertConfig& config_;
  const StateEngine& engine_;
  std::map<std::string, Open> open_;  // by alert_key
};

// When one channel's outbox rows go, and as what: one message per alert, or, past
// `storm.threshold` messages within `storm.window`, one digest per window until the
// channel calms down. A burst goes together: once a row is due, the rows of the hold
// that follows it ride along. Not thread-safe: the channel's delivery thread owns it.
class ChannelPacer {
 public:
  explicit ChannelPacer(const AlertConfig& config) : config_(config) {}

  // Claims the channel's rows due by a time (Storage::claim_outbox, or a test's fake).
  using Claim = std::function<std::vector<OutboxRow>(std::int64_t due_by_ms)>;
  struct Message {
    std::vector<OutboxRow> rows;
    bool digest = false;
  };
  // What goes at now_ms, claimed through `claim`: nothing while a storm's window runs.
  std::vector<Message> next(std::int64_t now_ms, const Claim& claim);
  // Whether the channel is folding alerts into digests now.
  bool storming() const { return storm_; }
  // When the storm's window ends (next() has nothing before).
  std::int64_t window_end_ms() const { return window_end_ms_; }

 private:
  const AlertConfig& config_;
  std::deque<std::int64_t> sent_;  // times of the messages sent one by one in the window
  bool storm_ = false;
  std::int64_t window_end_ms_ = 0;
};

}  // namespace vigie::collector
