#pragma once
// What the state engine (state_engine.hpp) knows, as plain values: the state of each
// check and agent, acknowledgements, downtimes, the events that record every change,
// and the audit trail. Storage persists these; the query API shows them.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.hpp"

namespace vigie::collector {

enum class StateType { kSoft, kHard };
std::string_view state_type_name(StateType type);  // "soft", "hard"

// A technician's "I know, I'm on it" on a failing check. Notifications stop while it
// holds. A plain acknowledgement ends at the next hard state change (a recovery, or
// WARNING turning CRITICAL); a sticky one only when it expires or is removed.
struct Ack {
  std::string author;
  std::string comment;
  bool sticky = false;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;  // 0: never
  bool operator==(const Ack&) const = default;
};

// A planned maintenance window, over a whole site, one agent, or one check.
// One-off: [start_ms, end_ms). Recurring: every week on the days of `weekdays`
// (bit 0 Monday ... bit 6 Sunday), from `start_minute` (minutes after midnight, in
// `time_zone`, e.g. "Europe/Paris") for `duration_minutes`; start_ms/end_ms then bound
// the period in which the schedule applies (end_ms 0: for ever).
struct Downtime {
  std::int64_t id = 0;
  std::string site;
  std::string agent;  // "" : every agent of the site
  std::string check;  // "" : every check (of the agent, or of the site)
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::string comment;
  std::string author;
  std::int64_t created_ms = 0;
  // Recurrence; weekdays == 0 for a one-off downtime.
  int weekdays = 0;
  int start_minute = 0;
  int duration_minutes = 0;
  std::string time_zone;
  // Or by a calendar of the calendars file: "public-holidays" (every public holiday of
  // `calendar`, whole days in its zone) or "outside-working-hours" (whenever it is not
  // working time); "" for a one-off or weekly downtime.
  std::string every;
  std::string calendar;
  bool operator==(const Downtime&) const = default;

  bool weekly() const { return weekdays != 0; }
  bool recurring() const { return weekdays != 0 || !every.empty(); }
  bool covers(std::string_view site, std::string_view agent, std::string_view check) const;
};

// The state of one check of one agent.
struct CheckState {
  std::string agent;
  std::string site;  // the site it is filed under: its result's `site`, else its agent's
  // Filed under another site than its agent's: a central poller's result about a
  // member site (protocol results[].site); the agent is its source.
  bool central = false;
  CheckResult last;              // the latest result (by agent time)
  std::int64_t received_ms = 0;  // when the collector received it
  int max_attempts = 3;
  StateType type = StateType::kHard;
  int attempt = 1;  // consecutive non-OK results, 1 when OK
  State hard_state = State::kOk;
  std::int64_t since_ms = 0;       // agent time the current status began
  std::int64_t hard_since_ms = 0;  // agent time the current hard state began
  // The last 21 statuses, newest in the low bits, 2 bits each; history_len of them valid.
  std::uint64_t history = 0;
  int history_len = 0;
  bool flapping = false;
  double flap_percent = 0;  // weighted state changes over the history, 0..100
  // No result for 3 intervals: shown as UNKNOWN. `stale_reason` says why.
  bool stale = false;
  std::string stale_reason;         // "" when fresh; "no result for 4m" or "agent unreachable"
  std::int64_t stale_since_ms = 0;  // collector time it went stale
  bool agent_lost = false;          // stale because its agent stopped reporting
  std::shared_ptr<const Ack> ack;   // none when null; shared: states are copied often
  bool in_downtime = false;         // computed on every change and tick

  // What a technician should see: UNKNOWN when stale, else the last status.
  State effective() const { return stale ? State::kUnknown : last.status; }
  // The hard state to alert on: stale counts as UNKNOWN.
  State effective_hard() const { return stale ? State::kUnknown : hard_state; }
  bool problem() const { return effective_hard() != State::kOk; }
};

// An agent, and its health as it reports it.
struct AgentState {
  std::string id;
  std::string site;
  std::string hostname;
  std::string version;
  std::int64_t first_seen_ms = 0;  // collector time
  std::int64_t last_seen_ms = 0;   // collector time of the last report
  std::int64_t last_seq = 0;
  // Agent clock minus collector clock at the last report that said when it was sent
  // (positive: the agent is ahead); 0 when unknown.
  std::int64_t clock_skew_ms = 0;
  bool skew_known = false;
  std::int64_t spool_depth = -1;     // results waiting on the agent; -1 unknown
  std::int64_t spool_oldest_ms = 0;  // agent time of the oldest unsent one; 0 none
  std::int64_t spool_dropped = -1;   // results the agent dropped past its spool bound
  bool lost = false;                 // no report within the heartbeat timeout
  std::int64_t lost_since_ms = 0;
  // A central poller's: the member sites its results are filed under (other than its
  // own). Derived from its checks, not stored; 0 for an ordinary agent.
  int member_sites = 0;
};

// One change the engine made. `id` is the cursor of GET /api/v1/events.
enum class EventKind {
  kState,  // a check changed status (soft or hard, see `type`)
  kStale,  // a check stopped reporting
  kFresh,  // a stale check reported again
  kFlappingStart,
  kFlappingStop,
  kAcknowledged,
  kAckRemoved,  // removed by a technician, or cleared by a state change
  kAckExpired,
  kDowntimeStart,
  kDowntimeEnd,
  kAgentLost,
  kAgentBack,
  kSiteUnreachable,
  kSiteReachable,
  kTrap,  // an SNMP trap or inform a device sent its agent (a report's events): no state
};
std::string_view event_kind_name(EventKind kind);
std::optional<EventKind> event_kind_from_name(std::string_view name);

struct Event {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;        // when it happened (agent time for results)
  std::int64_t recorded_ms = 0;  // collector time it was recorded
  EventKind kind = EventKind::kState;
  std::string site;
  std::string agent;  // "" for site events
  std::string check;  // "" for site and agent events
  State from = State::kOk;
  State to = State::kOk;
  StateType type = StateType::kHard;
  int attempt = 0;
  std::string summary;
  std::string author;  // acknowledgements and downtimes
  // Whether an alert should go out: false for soft changes, backfilled results, checks
  // acknowledged, in downtime or flapping, and checks under an unreachable site.
  bool notify = false;
  bool backfill = false;  // from a result that arrived late (a replayed spool)
  // kTrap: what the trap said, a JSON object's text as the API shows it ("device",
  // "source", "version", "inform", "oid", "name", "varbinds", and "not_kept_before" when
  // traps before it were not kept), at most kMaxTrapText bytes (trap_text()). "" else.
  std::string trap;
  bool operator==(const Event&) const = default;
};

// Who did what, when and why.
struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;
  std::string author;
  std::string action;  // "acknowledge", "unacknowledge", "downtime", "delete downtime"
  std::string target;  // "site/agent/check" or "downtime 12"
  std::string comment;
  // What was changed, before and after (JSON texts), for changes of documents such as
  // agent configurations; "" when the action says it all.
  std::string before;
  std::string after;
  bool operator==(const AuditEntry&) const = default;
};

// One alert notification, or one that was held back: the notification history
// (GET /api/v1/notifications).
struct NotificationRecord {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;  // collector time of the attempt (or of the decision)
  std::string site;
  std::string agent;    // "" for a site alert
  std::string check;    // "" for site and agent alerts
  std::string channel;  // "email" or "webhook"
  std::string target;   // the channel's name and where it goes (addresses, host)
  std::string kind;     // "problem", "recovery", "reminder", "ack expired", ...
  State state = State::kOk;
  std::string status;  // "sent", "failed", "suppressed" or "digest"
  std::string detail;  // suppressed: the reason; failed: the error; digest: its size
  bool operator==(const NotificationRecord&) const = default;
};

// One message to deliver, in the alert outbox (Storage's outbox operations): written
// in the transaction of the event that causes it, delivered at least once, then marked
// sent (or failed, after the channel's attempts).
struct OutboxRow {
  std::int64_t id = 0;  // given by storage
  std::string channel;  // the channel's name in the alerts file
  std::string key;      // what it is about: one check, agent or site (reminders)
  std::string alert;    // the alert, JSON (alert_message.hpp: alert_to_json)
  std::int64_t created_ms = 0;
  std::int64_t due_ms = 0;  // not delivered before (the storm hold, a retry's backoff)
  int attempts = 0;         // failed deliveries so far
  std::string error;        // the last one's error
  bool operator==(const OutboxRow&) const = default;
};

// What one engine step changed, for storage to persist in the same transaction as
// the report that caused it.
struct StateDelta {
  std::vector<Event> events;
  std::vector<CheckState> checks;   // full rows of the checks that changed state
  std::vector<AgentState> agents;   // agents whose stored row changed
  std::vector<Downtime> downtimes;  // added or changed (ended early)
  std::vector<AuditEntry> audit;
  std::vector<NotificationRecord> notifications;  // from the notifier, not the engine
  std::vector<OutboxRow> outbox;                  // alerts to send, from the notifier
  bool empty() const {
    return events.empty() && checks.empty() && agents.empty() && downtimes.empty() &&
           audit.empty() && notifications.empty() && outbox.empty();
  }
  void append(StateDelta other);
};

// Everything the engine needs to resume after a restart.
struct StateSnapshot {
  std::vector<AgentState> agents;
  std::vector<CheckState> checks;  // acks included
  std::vector<Downtime> downtimes;
  std::int64_t last_event_id = 0;
};

}  // namespace vigie::collector
