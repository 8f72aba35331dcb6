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
// The decisions live in AlertPlanner, which never reads a clock (tests drive it with
// a fake one); Notifier adds the threads and the deliveries.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "collector/state.hpp"
#include "collector/state_engine.hpp"
#include "collector/storage.hpp"
#include "common/mail.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// Where alerts go.
struct AlertChannel {
  enum class Kind { kWebhook, kEmail };
  std::string name;  // referred to by rules
  Kind kind = Kind::kWebhook;
  // Webhook: a JSON POST to `url` (http or https), with `headers` ("Name: value").
  std::string url;
  std::string ca_file;  // "": the system's CAs
  std::vector<std::string> headers;
  // The body: `body` is a JSON value whose strings may hold {{placeholders}} (e.g.
  // {"text": "{{state}} {{site}} {{check}}: {{summary}}"} for Mattermost or Slack);
  // or `body_text`, JSON text in which each substituted value is JSON-escaped. Neither:
  // vigie's own JSON document (docs/operations.md).
  std::optional<nlohmann::json> body;
  std::optional<std::string> body_text;
  // E-mail: through the configuration's SMTP relay, to these addresses.
  std::vector<std::string> to;
  // Delivery: `attempts` tries, waiting `first_wait`, then twice as long each time.
  int attempts = 4;
  std::chrono::milliseconds first_wait{2000};
  std::chrono::milliseconds timeout{10'000};  // one HTTP request
};

// Which alerts go to which channels: every rule that matches adds its channels.
struct AlertRule {
  std::vector<std::string> sites;     // globs (fnmatch); empty: every site
  std::vector<std::string> families;  // "firewall", "backup", "site", "agent"...; empty: all
  State min_state = State::kWarning;  // by severity(); a recovery counts as what it ends
  std::vector<std::string> channels;
};

struct AlertConfig {
  std::optional<mail::Relay> smtp;  // required by e-mail channels
  std::vector<AlertChannel> channels;
  std::vector<AlertRule> rules;
  std::chrono::milliseconds renotify{0};  // 0: never re-notify
  int storm_threshold = 20;               // alerts per channel per window
  std::chrono::milliseconds storm_window{60'000};
  // Alerts wait this long before they go, so that a burst is seen as one.
  std::chrono::milliseconds hold{2000};
};

// Parses an alerts file (JSON; comments allowed). Errors name `where`, the key and
// the reason: "alerts.json: channels[1].url: expected http:// or https://".
Result<AlertConfig> parse_alert_config(std::string_view text, std::string_view where);
Result<AlertConfig> load_alert_config(const std::filesystem::path& path);

// One alert for one problem: a check, an agent (its checks then unknown) or a site.
struct Alert {
  std::string site;
  std::string agent;   // "" for a site
  std::string check;   // "" for a site or an agent
  std::string family;  // of the check; "site" or "agent" otherwise
  std::string kind;    // "problem", "recovery", "reminder", "ack expired", "downtime over"...
  State state = State::kOk;
  State from = State::kOk;
  std::string summary;
  std::int64_t ts_ms = 0;     // when it happened
  std::int64_t since_ms = 0;  // when the problem began ({{age}})
  std::int64_t event_id = 0;  // 0 for a reminder
  bool operator==(const Alert&) const = default;
};

// What the notifier sends to one channel: one alert, or a digest of several.
struct Outgoing {
  std::size_t channel = 0;  // index in AlertConfig::channels
  std::vector<Alert> alerts;
  bool digest = false;
};

// Placeholders: {{site}} {{agent}} {{check}} {{family}} {{state}} {{from}} {{kind}}
// {{summary}} {{age}} {{time}} (UTC, ISO 8601) {{title}} (one line) {{text}} (the
// whole message; for a digest, every alert grouped by site) and {{count}}. Unknown
// placeholders are left as they are. `json_escape`: values escaped for a JSON string.
std::string render_template(std::string_view text, const Outgoing& out, std::int64_t now_ms,
                            bool json_escape);
// The webhook body for `out` on `channel`.
std::string webhook_body(const AlertChannel& channel, const Outgoing& out, std::int64_t now_ms);
// The e-mail subject and plain-text body.
std::string mail_subject(const Outgoing& out);
std::string mail_text(const Outgoing& out, std::int64_t now_ms);

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
