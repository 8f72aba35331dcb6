#pragma once
// What an alert says: the alert itself, a message for one channel (one alert or a
// digest of several), and its text in each form: templates with placeholders, the
// webhook body, the e-mail subject and body.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collector/alert_config.hpp"
#include "collector/state.hpp"
#include "common/status.hpp"

namespace vigie::collector {

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

// An alert as the outbox keeps it (OutboxRow::alert), and back. alert_from_json gives
// kInvalidArgument for a row it cannot read.
std::string alert_to_json(const Alert& alert);
Result<Alert> alert_from_json(const std::string& text);
// What an alert is about, for the outbox's key: one check, one agent or one site.
std::string alert_key(const Alert& alert);

// The state a recovery counts as, for routing and sorting: what it ends.
State routing_state(const Alert& alert);

}  // namespace vigie::collector
