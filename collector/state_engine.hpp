#pragma once
// The state engine: turns results into states a technician can trust.
//
// - Soft and hard states: a failure must repeat `max_attempts` times (default 3)
//   before it is hard, i.e. alert-worthy; a change between failing states while hard
//   is hard at once; a recovery from a hard failure is a hard recovery.
// - Flapping: the weighted share of state changes over the last 21 results; it starts
//   above flap_high percent and stops below flap_low (hysteresis).
// - Staleness: a check without a result for `stale_intervals` of its interval is shown
//   UNKNOWN "stale"; an agent without a report for `agent_timeout` is lost, and its
//   checks are stale under it ("agent unreachable"). A site whose agents are all lost
//   is unreachable: one site-level problem, not one per check.
// - Central pollers: a result naming another site (results[].site) is filed under it
//   (CheckState::central), so a site may hold only central results. A poller is not
//   part of any site's reachability: silent, it is one problem ("poller P lost, N sites
//   not watched") and its results go stale under their sites without alerts. An
//   unreachable site's row says what the centre's net/ping and net/http results about
//   it see: "site line down (no answer from the centre)" or "agent silent, the site
//   answers" (LineVerdict). Missing data is never
//   a recovery: a stale check keeps its last real state underneath. After a restart,
//   agents and checks get their full timeout again: the collector's own downtime is
//   not theirs.
// - Late results (a replayed spool) older than the check's latest are history only;
//   newer ones received long after they ran change the state but notify no one.
// - Acknowledgements, downtimes (one-off and weekly) and an event for every change.
// - The SNMP traps a report carries become events of kind "trap" in their check's
//   history (bounded: trap_events.hpp); they change no state and alert no one.
//
// Every mutating call returns a StateDelta that the caller persists; the engine is
// meant to be mutated from one thread at a time (the storage's writer) and read from
// any thread. It never reads a clock: time is always passed in.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "collector/calendar.hpp"
#include "collector/state.hpp"
#include "collector/trap_events.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::collector {

struct EngineOptions {
  int max_attempts = 3;  // for results that do not say
  std::int64_t agent_timeout_ms = 180'000;
  int stale_intervals = 3;
  double flap_low = 20;   // percent
  double flap_high = 30;  // percent
  // A result is backfill when it reaches the collector this much (or two of its
  // intervals, if longer) after it ran.
  std::int64_t backfill_after_ms = 300'000;
  // The traps kept of a storm (trap_events.hpp): per agent, device and check.
  TrapGateOptions traps;
  // The calendars downtimes by calendar name (null: none).
  std::shared_ptr<const CalendarSet> calendars;
};

// What the centre sees of a site whose own agents are all silent, from the central
// net/ping and net/http results filed under it (issue "line down or agent down").
enum class LineVerdict {
  kUnknown,  // no central probe of the site, or none that says
  kDown,     // every central probe fails: "site line down (no answer from the centre)"
  kAnswers,  // a central probe gets an answer: "agent silent, the site answers"
};
std::string_view line_verdict_name(LineVerdict verdict);  // "", "down", "answers"

// One line per site for the overview.
struct SiteSummary {
  std::string name;
  State worst = State::kOk;               // of its checks' effective states and agents
  int counts[4] = {0, 0, 0, 0};           // checks by effective state
  std::map<std::string, State> families;  // "firewall" -> worst state of its checks
  int agents = 0;
  int agents_lost = 0;
  std::int64_t last_report_ms = 0;
  // Every one of its own agents is lost (central pollers reporting for it do not
  // count: a silent poller is its own problem, not its member sites').
  bool unreachable = false;
  std::int64_t unreachable_since_ms = 0;
  LineVerdict line = LineVerdict::kUnknown;  // when unreachable: what the centre sees
  int central = 0;                           // checks filed under it by central pollers
  bool in_downtime = false;                  // a downtime covers the whole site now
  int problems = 0;                          // checks with a non-OK hard state
  int acknowledged = 0;                      // of which acknowledged
};

struct CheckFilter {
  std::string site;   // "" : all
  std::string agent;  // "" : all
  bool problems_only = false;
};

// The family of a check id: "firewall" for "firewall/sophos", "external" for "external".
std::string check_family(std::string_view check_id);

class StateEngine {
 public:
  explicit StateEngine(EngineOptions options = {});
  ~StateEngine();
  StateEngine(const StateEngine&) = delete;
  StateEngine& operator=(const StateEngine&) = delete;

  // Replaces everything with a stored snapshot (start-up, or after a failed commit).
  void restore(StateSnapshot snapshot, std::int64_t now_ms);
  // The same, to follow what other collectors sharing the database committed: unlike
  // a restart, it grants no new grace before results and agents count as late.
  void refresh(StateSnapshot snapshot, std::int64_t now_ms);

  // Replaces what it holds of one agent (its row and its checks) and the downtimes
  // with what is stored (Storage::StoredAgent::load): another collector sharing the
  // database changed them. Other agents are left as they are; like refresh(), it
  // grants no new grace.
  void reload_agent(const std::string& agent, StateSnapshot stored);

  // A stored report. Results older than a check's latest change nothing but count; its
  // traps are kept as events, as many as the storm bound lets through.
  StateDelta apply(protocol::Report report, std::int64_t received_ms);

  // Staleness, lost agents, unreachable sites, expired acknowledgements, downtimes
  // that start or end.
  StateDelta tick(std::int64_t now_ms);

  // The downtimes' part of tick(): those that start or end, and the checks they cover
  // or leave. For an operator's downtime on a collector that shares its database,
  // which leaves the sweeps to the lead.
  StateDelta tick_downtimes(std::int64_t now_ms);

  // The agents tick(now_ms) would find lost or with a check stale, by name: before
  // such a sweep, a collector sharing its database with others reads them again (under
  // their row locks), since results others received may make them fresh. Memory is
  // never ahead of what is stored, so an agent not among them is not due either.
  std::vector<std::string> sweep_candidates(std::int64_t now_ms) const;

  // Checks and agents whose stored row is behind memory (results that changed no
  // state), at most `max_checks` of them; clears their marks. Call again until it
  // returns fewer than asked for.
  StateDelta checkpoint(std::size_t max_checks = SIZE_MAX);
  // The same for one agent's rows: where other collectors share the database, a
  // report's agent and checks are stored with it, so that the database is never behind
  // any collector's memory (the lead's sweeps read it).
  StateDelta checkpoint_agent(const std::string& agent);

  // kNotFound: no such check; kFailedPrecondition: it is OK (nothing to acknowledge).
  Result<StateDelta> acknowledge(const std::string& agent, const std::string& check, Ack ack,
                                 std::int64_t now_ms);
  Result<StateDelta> unacknowledge(const std::string& agent, const std::string& check,
                                   const std::string& author, std::int64_t now_ms);
  // Gives the downtime its id (when 0) and applies it at once.
  Result<StateDelta> add_downtime(Downtime downtime, std::int64_t now_ms);
  Result<StateDelta> remove_downtime(std::int64_t id, const std::string& author,
                                     std::int64_t now_ms);

  // Reads; each returns a copy taken under a shared lock.
  std::vector<CheckState> checks(const CheckFilter& filter) const;
  std::optional<CheckState> check(const std::string& agent, const std::string& check) const;
  std::vector<AgentState> agents(const std::string& site = {}) const;
  std::vector<SiteSummary> sites() const;
  std::vector<Downtime> downtimes() const;
  // The calendars downtimes name (null: none configured).
  const CalendarSet* calendars() const { return options_.calendars.get(); }
  std::optional<Downtime> downtime(std::int64_t id) const;
  std::int64_t last_event_id() const;
  std::int64_t late_results() const;
  // Traps kept as events, and traps a storm bound left out, since the engine started.
  std::int64_t traps_kept() const;
  std::int64_t traps_not_kept() const;

 private:
  struct Site;
  struct AgentEntry;
  struct DowntimeEntry;

  struct Prior;
  struct Transition;
  struct DowntimeChanges;
  struct LostAgents;

  Event& push_event(StateDelta& delta, Event event);
  void mark_state_changed(StateDelta& delta, const CheckState& check);

  // apply()'s steps: the report's agent (created when new, moved when its site
  // changed), its return when it was lost, then each result.
  AgentEntry& agent_of_report(const protocol::AgentInfo& info, std::int64_t received_ms,
                              bool* is_new);
  void mark_agent_back(AgentEntry& agent, std::int64_t received_ms, StateDelta& delta);
  // One result, and its steps.
  void apply_result(AgentEntry& agent, CheckResult result, std::int64_t received_ms,
                    StateDelta& delta);
  // The result's check, created when new (*is_new); null when the result is older than
  // the check's latest.
  CheckState* check_for_result(AgentEntry& agent, const CheckResult& result,
                               std::int64_t received_ms, bool* is_new);
  // Each returns whether the check's row changed.
  bool mark_fresh(CheckState& check, const CheckResult& result, bool backfill, StateDelta& delta);
  bool update_flapping(CheckState& check, const Prior& prior, bool backfill, StateDelta& delta);
  Transition update_soft_hard(CheckState& check, const Prior& prior, bool is_new);
  void clear_ack_on_change(CheckState& check, const Prior& prior, const Transition& t,
                           bool backfill, StateDelta& delta);
  void push_state_event(const CheckState& check, const Prior& prior, const Transition& t,
                        bool is_new, bool backfill, StateDelta& delta);
  // One trap of the report: an event, unless the storm bound leaves it out.
  void apply_trap(const AgentEntry& agent, const protocol::Event& trap, std::int64_t received_ms,
                  StateDelta& delta);

  // tick()'s steps, in order.
  DowntimeChanges start_and_end_downtimes(std::int64_t now_ms, StateDelta& delta);
  void announce_sites_still_unreachable(const std::vector<std::string>& sites_ended,
                                        std::int64_t now_ms, StateDelta& delta);
  void apply_downtimes_to_checks(std::int64_t now_ms, StateDelta& delta);
  LostAgents mark_lost_agents(std::int64_t now_ms, StateDelta& delta);
  void mark_unreachable_sites(const LostAgents& lost, std::int64_t now_ms, StateDelta& delta);
  bool mark_stale(CheckState& check, const AgentState& agent, std::int64_t now_ms,
                  StateDelta& delta);
  // The sweeps' tests: the agent silent past its timeout, the check past its intervals.
  bool lost_due(const AgentState& agent, std::int64_t now_ms) const;
  bool stale_due(const CheckState& check, std::int64_t now_ms) const;
  bool expire_ack(CheckState& check, std::int64_t now_ms, StateDelta& delta);

  bool downtime_covers_check(const CheckState& check, std::int64_t now_ms) const;
  void refresh_downtime_flags(std::int64_t now_ms);
  bool quiet(const CheckState& check) const;  // acknowledged, in downtime, flapping, lost
  bool site_unreachable(const std::string& site) const;
  // Files `check` under `site` (its agent's, or a member's for a central poller).
  void file_check(AgentEntry& agent, CheckState& check, const std::string& site);
  // Whether every one of the site's own agents (pollers aside) is lost; false if none.
  bool own_agents_lost(const Site& site) const;
  LineVerdict line_verdict(const std::string& site) const;
  // The text of a lost agent: "no report for 4m", or for a poller "poller X lost, ...".
  std::string lost_text(const AgentEntry& agent, std::int64_t now_ms) const;
  bool site_in_downtime(const std::string& site, std::int64_t now_ms) const;

  const EngineOptions options_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<AgentEntry>> agents_;
  std::map<std::string, std::unique_ptr<Site>> sites_;
  std::map<std::int64_t, std::unique_ptr<DowntimeEntry>> downtimes_;
  std::int64_t last_event_id_ = 0;
  std::int64_t last_downtime_id_ = 0;
  std::int64_t late_results_ = 0;
  TrapGate traps_;
  std::int64_t now_ms_ = 0;       // the latest time the engine was given
  std::int64_t restored_ms_ = 0;  // when restore() last ran: staleness counts from there
};

}  // namespace vigie::collector
