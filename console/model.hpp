#pragma once
// The console's model: what the collector's query API says, parsed strictly into the
// rows and replies that console/live.hpp gathers into a World for the views. The
// console decides nothing the collector decides: a check is stale when the API says so.
//
//   GET /api/v1/checks, GET /api/v1/problems  ->
//   { "now": <collector ms>,
//     "checks": [ { "agent", "site", "name", "check", "status", "state", "summary",
//                   "details", "metrics", "ts", "received", "since", "interval_s",
//                   "duration_ms" } ] }

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.hpp"
#include "common/status.hpp"

namespace vigie::console {

// An acknowledgement: a technician said "known, being handled".
struct AckInfo {
  std::string author;
  std::string comment;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;  // 0: until the check recovers
  bool sticky = false;
  bool operator==(const AckInfo&) const = default;
};

// One check as the query API lists it: the agent's last result plus what the
// collector knows about it. Times are ms since the epoch. The members after `since_ms`
// are optional in a reply (older collectors did not send them) and keep their defaults.
struct CheckRow {
  std::string agent;  // the agent's id
  std::string site;   // the member site the agent watches
  // The last result: name, check id, status (what to show: UNKNOWN when stale),
  // summary, details, metrics, ts (agent clock), duration_ms, interval_s.
  CheckResult result;
  std::int64_t received_ms = 0;  // when the collector received the result (its clock)
  std::int64_t since_ms = 0;     // the last state change (collector clock)
  std::string family;            // "backup", "firewall"...: the check id before '/' or ':'
  State hard = State::kOk;       // the state alerts are about; `status` when not sent
  std::int64_t hard_since_ms = 0;
  bool soft = false;  // a failure not yet confirmed max_attempts times
  int attempt = 0;
  int max_attempts = 0;
  bool stale = false;  // the collector says no result came in time
  std::string stale_reason;
  bool agent_lost = false;
  bool flapping = false;
  bool in_downtime = false;
  // A central poller's result about this site: `agent` is the poller, its source.
  bool central = false;
  std::optional<AckInfo> ack;
  bool operator==(const CheckRow&) const = default;

  // "agent/check", how the console names a check on its command line.
  std::string id() const { return agent + "/" + result.check; }
};

// The Problems view's order: the most severe hard state first, then the oldest
// problem, then site, name, agent and check id.
bool problem_before(const CheckRow& a, const CheckRow& b);

// The console's order: most severe first (vigie::severity), then the oldest state
// change, then site, name, agent and check id, so that the order is total.
bool row_before(const CheckRow& a, const CheckRow& b);
void sort_rows(std::vector<CheckRow>& rows);
// The Problems view's order: problem_before(), then row_before() between rows it ties.
void sort_problems(std::vector<CheckRow>& rows);

struct ChecksReply {
  std::int64_t now_ms = 0;     // the collector's clock when it answered
  std::vector<CheckRow> rows;  // sorted by sort_rows()
  bool operator==(const ChecksReply&) const = default;
};

// Parses the body of a 200 reply. Strict: every field is present with the right type
// and range, or the whole reply is refused with kInvalidArgument naming the field by its
// path, e.g. `checks[3].status: expected an integer 0..3, got "warn"`. "details" and
// "metrics" may be absent; "state" is derived from "status"; unknown fields are ignored.
Result<ChecksReply> parse_checks_reply(std::string_view body);
// The same, its rows in sort_problems() order.
Result<ChecksReply> parse_problems_reply(std::string_view body);

// The first check of a reply in the shape of GET /api/v1/check: one check object with
// its "history" (newest first) and "now".
struct HistoryEvent {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;
  std::string kind;  // "state", "stale", "acknowledged"...
  std::string from, to;
  std::string state_type;  // "soft" or "hard"
  std::string summary;
  std::string author;
  // Kind "trap": what its "trap" object says ("" or 0 when it does not).
  std::string trap_name;  // "linkDown", "sfosNotification"...
  std::string trap_oid;
  std::string device;
  std::string source;
  bool inform = false;
  std::int64_t not_kept_before = 0;  // traps before it the collector did not keep
  bool operator==(const HistoryEvent&) const = default;
};

struct CheckDetail {
  CheckRow row;
  std::vector<HistoryEvent> history;  // newest first
  std::int64_t now_ms = 0;
  bool operator==(const CheckDetail&) const = default;
};
Result<CheckDetail> parse_check_reply(std::string_view body);

// One line of GET /api/v1/sites.
struct SiteRow {
  std::string name;
  State worst = State::kOk;
  std::array<int, 4> counts{};            // checks by state, indexed by State
  std::map<std::string, State> families;  // worst state per family
  int agents = 0;
  int agents_lost = 0;
  std::int64_t last_report_ms = 0;
  bool unreachable = false;
  // When unreachable, what the centre's probes of it say: "down" (its line), "answers"
  // (only its agents are silent), "" (nothing to tell).
  std::string line;
  int central = 0;  // checks filed under it by central pollers
  bool in_downtime = false;
  int problems = 0;
  int acknowledged = 0;
  bool operator==(const SiteRow&) const = default;
};

struct SitesReply {
  std::int64_t now_ms = 0;
  std::vector<SiteRow> sites;  // as the collector orders them: worst first
  bool operator==(const SitesReply&) const = default;
};
Result<SitesReply> parse_sites_reply(std::string_view body);

// One agent of GET /api/v1/agents.
struct AgentRow {
  std::string id;
  std::string site;
  std::string hostname;
  std::string version;
  std::int64_t last_seen_ms = 0;
  bool lost = false;
  int member_sites = 0;  // a central poller: the sites it reports for; 0 otherwise
  std::optional<std::int64_t> clock_skew_ms;
  std::optional<std::int64_t> spool_depth;
  // Its configuration from the centre ("config" of the reply): whether it is managed,
  // the version it runs ("" none yet), whether that is behind the centre's, and
  // whether it refused the centre's.
  bool config_managed = false;
  std::string config_running;
  bool config_behind = false;
  bool config_refused = false;
  bool operator==(const AgentRow&) const = default;
};

struct AgentsReply {
  std::int64_t now_ms = 0;
  std::vector<AgentRow> agents;
  bool operator==(const AgentsReply&) const = default;
};
Result<AgentsReply> parse_agents_reply(std::string_view body);

// GET /api/v1/site?name=S: its line, checks, agents and the downtimes not over yet.
struct SiteDowntime {
  std::int64_t id = 0;
  std::string agent, check, comment, author;
  std::int64_t start_ms = 0, end_ms = 0;
  bool active = false;
  bool operator==(const SiteDowntime&) const = default;
};
struct SiteDetail {
  SiteRow site;
  std::vector<CheckRow> checks;
  std::vector<AgentRow> agents;
  std::vector<SiteDowntime> downtimes;
  std::int64_t now_ms = 0;
  bool operator==(const SiteDetail&) const = default;
};
Result<SiteDetail> parse_site_reply(std::string_view body);

// GET /api/v1/overview: the header's counts and the events cursor.
struct Overview {
  std::int64_t now_ms = 0;
  std::int64_t cursor = 0;
  std::array<int, 4> checks{};  // by state, indexed by State
  int sites = 0;
  int sites_unreachable = 0;
  int agents = 0;
  int agents_lost = 0;
  int problems = 0;
  int acknowledged = 0;
  bool operator==(const Overview&) const = default;
};
Result<Overview> parse_overview_reply(std::string_view body);

// GET /api/v1/series: one metric's points (the average of each bucket).
struct SeriesPoint {
  std::int64_t ts_ms = 0;
  double value = 0;
  bool operator==(const SeriesPoint&) const = default;
};
struct Series {
  std::string metric;
  std::string unit;
  std::vector<SeriesPoint> points;
  bool operator==(const Series&) const = default;
};
Result<Series> parse_series_reply(std::string_view body);

// GET /api/v1/notifications?check=ID: the alerts sent about a check.
struct NotificationRow {
  std::int64_t time_ms = 0;
  std::string channel, target, state, status, error;
  bool operator==(const NotificationRow&) const = default;
};
Result<std::vector<NotificationRow>> parse_notifications_reply(std::string_view body);

// GET /api/v1/events: the cursor to ask from next, and how many events came.
struct EventsReply {
  std::int64_t cursor = 0;
  std::size_t events = 0;
  bool operator==(const EventsReply&) const = default;
};
Result<EventsReply> parse_events_reply(std::string_view body);

// The two readers behind each parse_*_reply() above, apart for the tests and the fuzz
// target. The fast one (simdjson's on-demand parser, model_fast.cpp) reads a reply
// straight into its rows; wherever it is not sure (any error, a member given twice, a
// number simdjson 3.0 may misread) it gives nullopt, and never reads a reply otherwise
// than the careful one (nlohmann::json), which decides those and names what is wrong.
namespace detail {
// The checks of a reply in its own order: the public functions sort them.
std::optional<ChecksReply> parse_checks_fast(std::string_view body);
Result<ChecksReply> parse_checks_careful(std::string_view body);
std::optional<CheckDetail> parse_check_fast(std::string_view body);
Result<CheckDetail> parse_check_careful(std::string_view body);
std::optional<SitesReply> parse_sites_fast(std::string_view body);
Result<SitesReply> parse_sites_careful(std::string_view body);
std::optional<AgentsReply> parse_agents_fast(std::string_view body);
Result<AgentsReply> parse_agents_careful(std::string_view body);
std::optional<SiteDetail> parse_site_fast(std::string_view body);
Result<SiteDetail> parse_site_careful(std::string_view body);
std::optional<Overview> parse_overview_fast(std::string_view body);
Result<Overview> parse_overview_careful(std::string_view body);
std::optional<Series> parse_series_fast(std::string_view body);
Result<Series> parse_series_careful(std::string_view body);
std::optional<std::vector<NotificationRow>> parse_notifications_fast(std::string_view body);
Result<std::vector<NotificationRow>> parse_notifications_careful(std::string_view body);
std::optional<EventsReply> parse_events_fast(std::string_view body);
Result<EventsReply> parse_events_careful(std::string_view body);
}  // namespace detail

// The JSON array that `vigie-console --once --json` prints: one object per row with
// the query API's fields, in the order given.
std::string rows_to_json(const std::vector<CheckRow>& rows);

}  // namespace vigie::console
