#pragma once
// The notifier's decisions (notifier.hpp), apart from its threads and clocks so that
// tests drive them with a fake clock.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collector/alert_config.hpp"
#include "collector/alert_message.hpp"
#include "collector/state.hpp"
#include "collector/state_engine.hpp"

namespace vigie::collector {

// The decisions: which events alert, where they go, what is held back and why, when
// a storm becomes a digest, and which problems are due for a reminder. Not
// thread-safe: the notifier's thread owns it.
class AlertPlanner {
 public:
  AlertPlanner(const AlertConfig& config, const StateEngine& engine);

  struct Plan {
    std::vector<Outgoing> send;
    std::vector<NotificationRecord> records;  // suppressed alerts, and digests' members
  };

  // Opens the problems the engine shows now (start-up): recoveries and reminders of
  // problems notified before a restart keep working.
  void seed(std::int64_t now_ms);
  // Committed events.
  void add(const std::vector<Event>& events, std::int64_t now_ms, Plan& plan);
  // Sends what is due at now_ms: held alerts, digests, reminders.
  void tick(std::int64_t now_ms, Plan& plan);
  // Channels (indexes) an alert goes to.
  std::vector<std::size_t> route(const Alert& alert) const;
  std::size_t open_problems() const { return open_.size(); }
  // Whether a channel is folding alerts into digests now.
  bool storming(std::size_t channel) const { return channels_[channel].storm; }

 private:
  struct Open {
    Alert alert;  // the problem as last notified
    std::int64_t last_sent_ms = 0;
  };
  struct ChannelState {
    std::deque<std::int64_t> sent;  // times of the alerts sent one by one in the window
    std::vector<Alert> held;
    std::int64_t held_since_ms = 0;
    bool storm = false;
    std::int64_t window_end_ms = 0;
    int window_count = 0;
  };

  void consider(const Event& event, std::int64_t now_ms, Plan& plan);
  void enqueue(const Alert& alert, std::int64_t now_ms, Plan& plan);
  void suppress(const Alert& alert, const std::string& reason, std::int64_t now_ms, Plan& plan);
  // Why a problem of `key` should stay quiet now; "" when it may be notified; nullopt
  // when it is no longer a problem.
  std::optional<std::string> quiet_reason(const Alert& alert) const;

  const AlertConfig& config_;
  const StateEngine& engine_;
  std::map<std::string, Open> open_;  // by alert key
  std::vector<ChannelState> channels_;
};

}  // namespace vigie::collector
