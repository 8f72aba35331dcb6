#pragma once
// The alerts file (config/alerts.example.json, docs/operations.md): the channels
// alerts go to (webhooks, e-mail through an SMTP relay), the rules that route them,
// re-notification and storm settings.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "collector/calendar.hpp"
#include "collector/mail.hpp"
#include "collector/state.hpp"
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
  // When the rule holds: always, or only within (or outside) the working hours of
  // `calendar` ("when": "working-hours" / "outside-working-hours", "calendar": "desk").
  enum class When { kAlways, kWorkingHours, kOutsideWorkingHours };
  When when = When::kAlways;
  std::optional<Calendar> calendar;  // set unless kAlways
  std::string calendar_name;
  // Whether the rule's time condition holds at `ms`.
  bool holds_at(std::int64_t ms) const;
};

struct AlertConfig {
  std::optional<mail::Relay> smtp;  // required by e-mail channels
  std::vector<AlertChannel> channels;
  std::vector<AlertRule> rules;
  std::chrono::milliseconds renotify{0};  // 0: never re-notify
  // Reminders counted in this calendar's working time ("renotify_calendar": "desk"):
  // a 4h reminder of a problem raised on Friday evening goes on Monday at 12:30.
  std::optional<Calendar> renotify_calendar;
  int storm_threshold = 20;  // alerts per channel per window
  std::chrono::milliseconds storm_window{60'000};
  // Alerts wait this long before they go, so that a burst is seen as one.
  std::chrono::milliseconds hold{2000};
};

// Parses an alerts file (JSON; comments allowed). Errors name `where`, the key and
// the reason: "alerts.json: channels[1].url: expected http:// or https://". Rules and
// reminders name calendars of `calendars` (the calendars file).
Result<AlertConfig> parse_alert_config(std::string_view text, std::string_view where,
                                       const CalendarSet& calendars = {});
Result<AlertConfig> load_alert_config(const std::filesystem::path& path,
                                      const CalendarSet& calendars = {});

// How the notification history names a channel: "name (host)" for a webhook,
// "name (address, ...)" for e-mail.
std::string channel_target(const AlertChannel& channel);
// The host (and port) of a URL, without user information.
std::string url_host(const std::string& url);

}  // namespace vigie::collector
