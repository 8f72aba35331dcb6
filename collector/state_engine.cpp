#include "collector/state_engine.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "collector/downtime.hpp"
#include "common/duration.hpp"
#include "common/utf8.hpp"

namespace vigie::collector {
namespace {

constexpr int kHistorySize = 21;
constexpr std::uint64_t kHistoryMask = (std::uint64_t{1} << (2 * kHistorySize)) - 1;
// The synthetic check that stands for an agent's reports arriving.
constexpr const char* kHeartbeatCheck = "vigie/heartbeat";
// What an unreachable site's row says when central probes of it tell more.
const std::string kLineDown = "site line down (no answer from the centre)";
const std::string kAgentSilent = "agent silent, the site answers";

int status_at(std::uint64_t history, int age) {  // age 0: newest
  return static_cast<int>((history >> (2 * age)) & 3);
}

// Nagios' flap detection: state changes between consecutive results, the newest
// weighing 1.2 and the oldest 0.8, as a percentage of the 20 possible changes. Few
// results give a low figure, so that a new check does not start out flapping.
double flap_percent(std::uint64_t history, int len) {
  double changes = 0;
  for (int age = 0; age + 1 < len; ++age) {
    if (status_at(history, age) == status_at(history, age + 1)) continue;
    const int index = (kHistorySize - 2) - age;  // 19 for the newest change, 0 oldest
    changes += 0.8 + 0.4 * index / (kHistorySize - 2);
  }
  return changes * 100.0 / (kHistorySize - 1);
}

std::string ago(std::int64_t ms) { return human_duration(std::chrono::milliseconds(ms)); }

// The central checks that tell whether a site's line answers: net/ping and net/http.
bool line_probe(const CheckState& c) {
  const std::string_view id = c.last.check;
  const auto type = id.substr(0, id.find(':'));
  return c.central && (type == "net/ping" || type == "net/http");
}

}  // namespace

std::string_view line_verdict_name(LineVerdict verdict) {
  switch (verdict) {
    case LineVerdict::kDown: return "down";
    case LineVerdict::kAnswers: return "answers";
    case LineVerdict::kUnknown: break;
  }
  return "";
}

std::string check_family(std::string_view check_id) {
  const auto end = check_id.find_first_of("/:");
  return std::string(check_id.substr(0, end));
}

struct StateEngine::AgentEntry {
  AgentState state;
  std::map<std::string, CheckState, std::less<>> checks;  // by check id
  bool dirty = false;                                     // state row behind memory
  std::set<std::string> dirty_checks;
  // A central poller's member sites: how many of its checks each one holds.
  std::map<std::string, int, std::less<>> member_sites;
  bool poller() const { return !member_sites.empty(); }
};

struct StateEngine::Site {
  std::vector<AgentEntry*> agents;  // its own agents (pollers included)
  std::set<AgentEntry*> pollers;    // central pollers that file checks under it
  bool unreachable = false;
  std::int64_t unreachable_since_ms = 0;
};

struct StateEngine::DowntimeEntry {
  Downtime downtime;
  bool active = false;
};

StateEngine::StateEngine(EngineOptions options) : options_(options), traps_(options.traps) {}
StateEngine::~StateEngine() = default;

void StateEngine::restore(StateSnapshot snapshot, std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  agents_.clear();
  sites_.clear();
  downtimes_.clear();
  now_ms_ = now_ms;
  restored_ms_ = now_ms;
  last_event_id_ = snapshot.last_event_id;
  last_downtime_id_ = 0;
  for (auto& agent : snapshot.agents) {
    auto entry = std::make_unique<AgentEntry>();
    entry->state = std::move(agent);
    auto& site = sites_[entry->state.site];
    if (!site) site = std::make_unique<Site>();
    site->agents.push_back(entry.get());
    agents_[entry->state.id] = std::move(entry);
  }
  for (auto& check : snapshot.checks) {
    auto it = agents_.find(check.agent);
    if (it == agents_.end()) continue;  // a check without its agent row: ignore it
    AgentEntry& agent = *it->second;
    const std::string site = check.central ? check.site : agent.state.site;
    check.central = false;
    std::string id = check.last.check;
    CheckState& c = agent.checks.emplace(std::move(id), std::move(check)).first->second;
    file_check(agent, c, site);
  }
  for (auto& [name, site] : sites_) {
    site->unreachable = own_agents_lost(*site);
    if (site->unreachable) {
      for (const auto* a : site->agents)
        site->unreachable_since_ms = std::max(site->unreachable_since_ms, a->state.lost_since_ms);
    }
  }
  for (auto& downtime : snapshot.downtimes) {
    last_downtime_id_ = std::max(last_downtime_id_, downtime.id);
    auto entry = std::make_unique<DowntimeEntry>();
    entry->downtime = std::move(downtime);
    entry->active = downtime_active(entry->downtime, now_ms, options_.calendars.get());
    downtimes_[entry->downtime.id] = std::move(entry);
  }
  refresh_downtime_flags(now_ms);
}

void StateEngine::reload_agent(const std::string& id, StateSnapshot stored) {
  std::unique_lock lock(mu_);
  if (const auto it = agents_.find(id); it != agents_.end()) {
    AgentEntry* old = it->second.get();
    for (const auto& [site, count] : old->member_sites) {
      if (const auto s = sites_.find(site); s != sites_.end()) s->second->pollers.erase(old);
    }
    if (const auto s = sites_.find(old->state.site); s != sites_.end())
      std::erase(s->second->agents, old);
    agents_.erase(it);
  }
  AgentEntry* entry = nullptr;
  for (auto& agent : stored.agents) {
    if (agent.id != id) continue;
    auto made = std::make_unique<AgentEntry>();
    made->state = std::move(agent);
    auto& site = sites_[made->state.site];
    if (!site) site = std::make_unique<Site>();
    site->agents.push_back(made.get());
    entry = made.get();
    agents_[id] = std::move(made);
    break;
  }
  if (entry) {
    for (auto& check : stored.checks) {
      if (check.agent != id) continue;
      const std::string site = check.central ? check.site : entry->state.site;
      check.central = false;
      std::string check_id = check.last.check;
      CheckState& c = entry->checks.emplace(std::move(check_id), std::move(check)).first->second;
      file_check(*entry, c, site);
    }
  }
  std::map<std::int64_t, std::unique_ptr<DowntimeEntry>> downtimes;
  for (auto& downtime : stored.downtimes) {
    last_downtime_id_ = std::max(last_downtime_id_, downtime.id);
    auto made = std::make_unique<DowntimeEntry>();
    made->downtime = std::move(downtime);
    // One it knew keeps its flag: its start or end is the sweep's to announce.
    const auto known = downtimes_.find(made->downtime.id);
    made->active = known != downtimes_.end()
                       ? known->second->active
                       : downtime_active(made->downtime, now_ms_, options_.calendars.get());
    downtimes[made->downtime.id] = std::move(made);
  }
  downtimes_ = std::move(downtimes);
  refresh_downtime_flags(now_ms_);
}

void StateEngine::refresh(StateSnapshot snapshot, std::int64_t now_ms) {
  std::int64_t since = 0;
  {
    std::shared_lock lock(mu_);
    since = restored_ms_;
  }
  restore(std::move(snapshot), now_ms);
  std::unique_lock lock(mu_);
  restored_ms_ = since;
}

Event& StateEngine::push_event(StateDelta& delta, Event event) {
  event.id = ++last_event_id_;
  if (event.recorded_ms == 0) event.recorded_ms = now_ms_;
  if (event.ts_ms == 0) event.ts_ms = now_ms_;
  delta.events.push_back(std::move(event));
  return delta.events.back();
}

void StateEngine::mark_state_changed(StateDelta& delta, const CheckState& check) {
  delta.checks.push_back(check);
  auto it = agents_.find(check.agent);
  if (it != agents_.end()) it->second->dirty_checks.erase(check.last.check);
}

bool StateEngine::quiet(const CheckState& check) const {
  if (check.ack || check.in_downtime || check.flapping || check.agent_lost) return true;
  return site_unreachable(check.site);
}

bool StateEngine::site_unreachable(const std::string& site) const {
  const auto it = sites_.find(site);
  return it != sites_.end() && it->second->unreachable;
}

void StateEngine::file_check(AgentEntry& agent, CheckState& c, const std::string& site) {
  const bool central = site != agent.state.site;
  if (c.central == central && c.site == site) return;
  if (c.central) {  // leaves its member site
    const auto it = agent.member_sites.find(c.site);
    if (it != agent.member_sites.end() && --it->second == 0) {
      agent.member_sites.erase(it);
      if (const auto s = sites_.find(c.site); s != sites_.end()) s->second->pollers.erase(&agent);
    }
  }
  c.site = site;
  c.central = central;
  if (central) {
    ++agent.member_sites[site];
    auto& member = sites_[site];
    if (!member) member = std::make_unique<Site>();
    member->pollers.insert(&agent);
  }
}

bool StateEngine::own_agents_lost(const Site& site) const {
  bool any = false;
  for (const AgentEntry* a : site.agents) {
    if (a->poller()) continue;
    if (!a->state.lost) return false;
    any = true;
  }
  return any;
}

LineVerdict StateEngine::line_verdict(const std::string& name) const {
  const auto site = sites_.find(name);
  if (site == sites_.end()) return LineVerdict::kUnknown;
  LineVerdict verdict = LineVerdict::kUnknown;
  for (const AgentEntry* poller : site->second->pollers) {
    if (poller->state.lost) continue;
    for (const auto& [id, c] : poller->checks) {
      if (c.site != name || !line_probe(c) || c.stale) continue;
      // WARNING is an answer (slow, some loss); UNKNOWN says nothing.
      if (c.last.status == State::kOk || c.last.status == State::kWarning)
        return LineVerdict::kAnswers;
      if (c.last.status == State::kCritical) verdict = LineVerdict::kDown;
    }
  }
  return verdict;
}

std::string StateEngine::lost_text(const AgentEntry& agent, std::int64_t now_ms) const {
  const std::string silent = "no report for " + ago(now_ms - agent.state.last_seen_ms);
  if (!agent.poller()) return silent;
  const std::size_t n = agent.member_sites.size();
  return "poller " + agent.state.id + " lost, " + std::to_string(n) +
         (n == 1 ? " site" : " sites") + " not watched (" + silent + ")";
}

bool StateEngine::site_in_downtime(const std::string& site, std::int64_t) const {
  for (const auto& [id, entry] : downtimes_) {
    const Downtime& d = entry->downtime;
    if (entry->active && d.site == site && d.agent.empty() && d.check.empty()) return true;
  }
  return false;
}

bool StateEngine::downtime_covers_check(const CheckState& check, std::int64_t) const {
  // A central check is its member site's, and its poller's too: a downtime of the
  // poller (the agent, at its own site) covers what it reports about its members.
  const AgentEntry* poller = nullptr;
  if (check.central) {
    const auto it = agents_.find(check.agent);
    if (it != agents_.end()) poller = it->second.get();
  }
  for (const auto& [id, entry] : downtimes_) {
    if (!entry->active) continue;
    const Downtime& d = entry->downtime;
    if (d.covers(check.site, check.agent, check.last.check)) return true;
    if (poller && !d.agent.empty() && d.covers(poller->state.site, check.agent, check.last.check))
      return true;
  }
  return false;
}

void StateEngine::refresh_downtime_flags(std::int64_t now_ms) {
  for (auto& [id, agent] : agents_) {
    for (auto& [check_id, check] : agent->checks)
      check.in_downtime = downtime_covers_check(check, now_ms);
  }
}

StateEngine::AgentEntry& StateEngine::agent_of_report(const protocol::AgentInfo& info,
                                                      std::int64_t received_ms, bool* is_new) {
  auto& slot = agents_[info.id];
  *is_new = !slot;
  if (*is_new) {
    slot = std::make_unique<AgentEntry>();
    slot->state.id = info.id;
    slot->state.first_seen_ms = received_ms;
  }
  AgentEntry& agent = *slot;
  if (*is_new || agent.state.site != info.site) {
    if (!*is_new) {
      auto& old_site = sites_[agent.state.site];
      if (old_site) std::erase(old_site->agents, &agent);
    }
    agent.state.site = info.site;
    auto& site = sites_[agent.state.site];
    if (!site) site = std::make_unique<Site>();
    site->agents.push_back(&agent);
  }
  return agent;
}

void StateEngine::mark_agent_back(AgentEntry& agent, std::int64_t received_ms, StateDelta& delta) {
  AgentState& a = agent.state;
  Site& site = *sites_[a.site];
  a.lost = false;
  // A poller back does not make its own site reachable: its own agents do.
  const bool site_back = site.unreachable && !agent.poller();
  if (site_back) site.unreachable = false;
  const bool downtime = site_in_downtime(a.site, received_ms);
  push_event(delta, {.kind = EventKind::kAgentBack,
                     .site = a.site,
                     .agent = a.id,
                     .from = State::kCritical,
                     .to = State::kOk,
                     .summary = "reporting again after " + ago(received_ms - a.lost_since_ms),
                     .notify = !site_back && !downtime});
  if (site_back) {
    push_event(delta, {.kind = EventKind::kSiteReachable,
                       .site = a.site,
                       .from = State::kCritical,
                       .to = State::kOk,
                       .summary = "site reachable again after " +
                                  ago(received_ms - site.unreachable_since_ms),
                       .notify = !downtime});
  }
  a.lost_since_ms = 0;
  for (auto& [id, check] : agent.checks) {
    if (!check.agent_lost) continue;
    check.agent_lost = false;
    check.stale_reason = "no result since the agent came back";
    mark_state_changed(delta, check);
  }
}

StateDelta StateEngine::apply(protocol::Report report, std::int64_t received_ms) {
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, received_ms);
  StateDelta delta;

  bool new_agent = false;
  AgentEntry& agent = agent_of_report(report.agent, received_ms, &new_agent);
  AgentState& a = agent.state;
  const bool identity_changed =
      new_agent || a.hostname != report.agent.hostname || a.version != report.agent.version;
  a.hostname = report.agent.hostname;
  a.version = report.agent.version;
  a.last_seen_ms = std::max(a.last_seen_ms, received_ms);
  a.last_seq = static_cast<std::int64_t>(report.seq);
  if (report.sent_ms != 0) {
    a.clock_skew_ms = report.sent_ms - received_ms;
    a.skew_known = true;
  }
  if (report.spool) {
    a.spool_depth = report.spool->depth;
    a.spool_oldest_ms = report.spool->oldest_ms;
    a.spool_dropped = report.spool->dropped;
  }
  if (a.lost) mark_agent_back(agent, received_ms, delta);
  // Only a new name or version is worth a row now; the rest waits for a checkpoint.
  if (identity_changed) delta.agents.push_back(a);
  else agent.dirty = true;

  for (auto& result : report.results) apply_result(agent, std::move(result), received_ms, delta);
  for (const auto& trap : report.events) apply_trap(agent, trap, received_ms, delta);
  return delta;
}

void StateEngine::apply_trap(const AgentEntry& agent, const protocol::Event& trap,
                             std::int64_t received_ms, StateDelta& delta) {
  if (trap.kind != "trap") return;
  std::int64_t not_kept_before = 0;
  if (!traps_.admit(agent.state.id, trap.device, trap.check, received_ms, &not_kept_before)) return;
  // Filed where its check is; a trap no check reads is the agent's site's.
  std::string site = agent.state.site;
  if (const auto it = agent.checks.find(trap.check); it != agent.checks.end())
    site = it->second.site;
  push_event(delta, {.ts_ms = trap.ts_ms,
                     .recorded_ms = received_ms,
                     .kind = EventKind::kTrap,
                     .site = std::move(site),
                     .agent = agent.state.id,
                     .check = trap.check,
                     .summary = cut_utf8(trap.summary, kMaxTrapSummary),
                     .trap = trap_text(trap, not_kept_before)});
}

// apply_result's steps ------------------------------------------------------------------
// They run for every result: `inline` lets the compiler fold them back into
// apply_result, as they were written before they had names.

// What a check was before a result changed it.
struct StateEngine::Prior {
  State shown;   // effective(): UNKNOWN when it was stale
  State status;  // the last status; OK for a new check
  State hard;
  StateType type;
  int attempt;
};

// How a result moved a check between soft and hard states.
struct StateEngine::Transition {
  bool hard_change = false;
  bool soft_change = false;
};

inline CheckState* StateEngine::check_for_result(AgentEntry& agent, const CheckResult& result,
                                                 std::int64_t received_ms, bool* is_new) {
  auto it = agent.checks.find(result.check);
  *is_new = it == agent.checks.end();
  if (!*is_new) return result.ts_ms <= it->second.last.ts_ms ? nullptr : &it->second;
  CheckState fresh;
  fresh.agent = agent.state.id;
  fresh.site = agent.state.site;  // file_check() moves it under result.site
  fresh.last.check = result.check;
  fresh.last.status = State::kOk;
  fresh.hard_state = State::kOk;
  fresh.since_ms = result.ts_ms;
  fresh.hard_since_ms = result.ts_ms;
  it = agent.checks.emplace(result.check, std::move(fresh)).first;
  file_check(agent, it->second, result.site.empty() ? agent.state.site : result.site);
  it->second.in_downtime = downtime_covers_check(it->second, received_ms);
  return &it->second;
}

inline bool StateEngine::mark_fresh(CheckState& c, const CheckResult& result, bool backfill,
                                    StateDelta& delta) {
  if (!c.stale) return false;
  c.stale = false;
  c.agent_lost = false;
  c.stale_reason.clear();
  c.stale_since_ms = 0;
  push_event(delta, {.ts_ms = result.ts_ms,
                     .kind = EventKind::kFresh,
                     .site = c.site,
                     .agent = c.agent,
                     .check = result.check,
                     .from = State::kUnknown,
                     .to = result.status,
                     .summary = "reporting again: " + result.summary,
                     .backfill = backfill});
  return true;
}

inline bool StateEngine::update_flapping(CheckState& c, const Prior& prior, bool backfill,
                                         StateDelta& delta) {
  const CheckResult& r = c.last;
  c.history = ((c.history << 2) | static_cast<std::uint64_t>(r.status)) & kHistoryMask;
  c.history_len = std::min(c.history_len + 1, kHistorySize);
  c.flap_percent = flap_percent(c.history, c.history_len);
  // Hysteresis: it starts above flap_high and stops below flap_low.
  if (!c.flapping && c.flap_percent >= options_.flap_high) {
    c.flapping = true;
    push_event(delta, {.ts_ms = r.ts_ms,
                       .kind = EventKind::kFlappingStart,
                       .site = c.site,
                       .agent = c.agent,
                       .check = r.check,
                       .from = prior.status,
                       .to = r.status,
                       .summary = "flapping: " + std::to_string(static_cast<int>(c.flap_percent)) +
                                  "% state changes",
                       .notify = !backfill && !c.ack && !c.in_downtime,
                       .backfill = backfill});
    return true;
  }
  if (c.flapping && c.flap_percent < options_.flap_low) {
    c.flapping = false;
    push_event(delta, {.ts_ms = r.ts_ms,
                       .kind = EventKind::kFlappingStop,
                       .site = c.site,
                       .agent = c.agent,
                       .check = r.check,
                       .from = prior.status,
                       .to = r.status,
                       .summary = "stopped flapping; now " + std::string(state_name(r.status)),
                       .notify = !backfill && !c.ack && !c.in_downtime && r.status != State::kOk,
                       .backfill = backfill});
    return true;
  }
  return false;
}

inline StateEngine::Transition StateEngine::update_soft_hard(CheckState& c, const Prior& prior,
                                                             bool is_new) {
  const State now_status = c.last.status;
  Transition t;
  if (now_status == State::kOk) {
    if (prior.hard != State::kOk) t.hard_change = true;
    else if (prior.type == StateType::kSoft) t.soft_change = true;
    c.type = StateType::kHard;
    c.attempt = 1;
    c.hard_state = State::kOk;
  } else if (prior.type == StateType::kHard && prior.hard == State::kOk) {
    c.attempt = 1;
    if (c.max_attempts <= 1) {
      t.hard_change = true;
      c.hard_state = now_status;
    } else {
      c.type = StateType::kSoft;
      t.soft_change = true;
    }
  } else if (prior.type == StateType::kSoft) {
    c.attempt = prior.attempt + 1;
    if (c.attempt >= c.max_attempts) {
      c.attempt = c.max_attempts;
      c.type = StateType::kHard;
      c.hard_state = now_status;
      t.hard_change = true;
    } else if (now_status != prior.status) {
      t.soft_change = true;
    }
  } else if (now_status != prior.hard) {  // hard and failing, in another way
    c.hard_state = now_status;
    t.hard_change = true;
  }
  if (now_status != prior.status || is_new) c.since_ms = c.last.ts_ms;
  if (t.hard_change) c.hard_since_ms = c.last.ts_ms;
  return t;
}

inline void StateEngine::clear_ack_on_change(CheckState& c, const Prior& prior, const Transition& t,
                                             bool backfill, StateDelta& delta) {
  // A failure turning hard is what was acknowledged (one can acknowledge a soft
  // state): only a recovery or a change between failing states ends a plain ack.
  const bool ack_ending_change =
      t.hard_change && (c.hard_state == State::kOk || prior.hard != State::kOk);
  if (!ack_ending_change || !c.ack || c.ack->sticky) return;
  c.ack.reset();
  push_event(delta, {.ts_ms = c.last.ts_ms,
                     .kind = EventKind::kAckRemoved,
                     .site = c.site,
                     .agent = c.agent,
                     .check = c.last.check,
                     .from = prior.hard,
                     .to = c.hard_state,
                     .summary = "acknowledgement cleared by the change to " +
                                std::string(state_name(c.hard_state)),
                     .backfill = backfill});
}

inline void StateEngine::push_state_event(const CheckState& c, const Prior& prior,
                                          const Transition& t, bool is_new, bool backfill,
                                          StateDelta& delta) {
  const CheckResult& r = c.last;
  if (t.hard_change) {
    const bool recovery = c.hard_state == State::kOk;
    const bool silenced =
        recovery ? (c.in_downtime || c.flapping || site_unreachable(c.site)) : quiet(c);
    push_event(delta, {.ts_ms = r.ts_ms,
                       .kind = EventKind::kState,
                       .site = c.site,
                       .agent = c.agent,
                       .check = r.check,
                       .from = prior.shown == State::kUnknown && !is_new ? prior.shown : prior.hard,
                       .to = c.hard_state,
                       .type = StateType::kHard,
                       .attempt = c.attempt,
                       .summary = r.summary,
                       .notify = !backfill && !silenced,
                       .backfill = backfill});
  } else if (t.soft_change || (is_new && r.status != State::kOk)) {
    push_event(delta, {.ts_ms = r.ts_ms,
                       .kind = EventKind::kState,
                       .site = c.site,
                       .agent = c.agent,
                       .check = r.check,
                       .from = prior.status,
                       .to = r.status,
                       .type = StateType::kSoft,
                       .attempt = c.attempt,
                       .summary = r.summary,
                       .backfill = backfill});
  }
}

void StateEngine::apply_result(AgentEntry& agent, CheckResult result, std::int64_t received_ms,
                               StateDelta& delta) {
  bool is_new = false;
  CheckState* found = check_for_result(agent, result, received_ms, &is_new);
  if (!found) {
    ++late_results_;  // older than what we show: history (samples) only
    return;
  }
  CheckState& c = *found;
  bool moved = false;  // filed under another site than before: its row must say so
  if (const std::string& site = result.site.empty() ? agent.state.site : result.site;
      site != c.site || c.central != (site != agent.state.site)) {
    file_check(agent, c, site);
    c.in_downtime = downtime_covers_check(c, received_ms);
    moved = true;
  }
  c.max_attempts = result.max_attempts > 0 ? result.max_attempts : options_.max_attempts;
  const Prior prior{.shown = c.effective(),
                    .status = is_new ? State::kOk : c.last.status,
                    .hard = c.hard_state,
                    .type = c.type,
                    .attempt = c.attempt};
  // Received long after it ran (a replayed spool): history, never news.
  const bool backfill = received_ms - result.ts_ms >
                        std::max(options_.backfill_after_ms, 2 * result.interval_s * 1000);

  bool changed = mark_fresh(c, result, backfill, delta) || is_new || moved;
  c.last = std::move(result);
  c.received_ms = received_ms;
  changed = update_flapping(c, prior, backfill, delta) || changed;
  const Transition t = update_soft_hard(c, prior, is_new);
  clear_ack_on_change(c, prior, t, backfill, delta);
  push_state_event(c, prior, t, is_new, backfill, delta);
  changed = changed || t.hard_change || t.soft_change || c.attempt != prior.attempt ||
            c.type != prior.type;
  if (changed) mark_state_changed(delta, c);
  else agent.dirty_checks.insert(c.last.check);
}

// tick's steps ---------------------------------------------------------------------------

// What tick's downtime step found.
struct StateEngine::DowntimeChanges {
  bool changed = false;                  // a downtime started or ended
  std::vector<std::string> sites_ended;  // site-wide downtimes that ended
  std::vector<std::int64_t> finished;    // over for good: to forget at the end of the tick
};

// Agents tick found lost now: their sites, and their kAgentLost events.
struct StateEngine::LostAgents {
  std::set<std::string> sites;
  std::vector<std::size_t> events;  // indexes in delta.events
};

StateEngine::DowntimeChanges StateEngine::start_and_end_downtimes(std::int64_t now_ms,
                                                                  StateDelta& delta) {
  DowntimeChanges out;
  for (auto& [id, entry] : downtimes_) {
    const bool active = downtime_active(entry->downtime, now_ms, options_.calendars.get());
    const Downtime& d = entry->downtime;
    if (active != entry->active) {
      entry->active = active;
      out.changed = true;
      if (!active && d.agent.empty() && d.check.empty()) out.sites_ended.push_back(d.site);
      push_event(delta, {.kind = active ? EventKind::kDowntimeStart : EventKind::kDowntimeEnd,
                         .site = d.site,
                         .agent = d.agent,
                         .check = d.check,
                         .summary = (active ? "downtime " : "downtime ended ") +
                                    std::to_string(d.id) + ": " + d.comment,
                         .author = d.author});
    }
    if (!d.recurring() && now_ms >= d.end_ms) out.finished.push_back(id);
    if (d.recurring() && d.end_ms != 0 && now_ms >= d.end_ms) out.finished.push_back(id);
  }
  return out;
}

void StateEngine::announce_sites_still_unreachable(const std::vector<std::string>& sites_ended,
                                                   std::int64_t now_ms, StateDelta& delta) {
  std::set<std::string> said;
  for (const auto& site : sites_ended) {
    if (!site_unreachable(site) || site_in_downtime(site, now_ms) || !said.insert(site).second)
      continue;
    push_event(delta, {.kind = EventKind::kDowntimeEnd,
                       .site = site,
                       .from = State::kCritical,
                       .to = State::kCritical,
                       .summary = "downtime over, site still unreachable",
                       .notify = true});
  }
}

void StateEngine::apply_downtimes_to_checks(std::int64_t now_ms, StateDelta& delta) {
  for (auto& [agent_id, agent] : agents_) {
    for (auto& [check_id, c] : agent->checks) {
      const bool was = c.in_downtime;
      c.in_downtime = downtime_covers_check(c, now_ms);
      if (was == c.in_downtime) continue;
      mark_state_changed(delta, c);
      // A downtime over while the check still fails: say so, once.
      if (was && c.problem() && !c.ack && !c.flapping && !c.agent_lost &&
          !site_unreachable(c.site)) {
        push_event(delta, {.kind = EventKind::kDowntimeEnd,
                           .site = c.site,
                           .agent = c.agent,
                           .check = check_id,
                           .from = c.effective_hard(),
                           .to = c.effective_hard(),
                           .summary = "downtime over, still " +
                                      std::string(state_name(c.effective_hard())) + ": " +
                                      (c.stale ? c.stale_reason : c.last.summary),
                           .notify = true});
      }
    }
  }
}

StateEngine::LostAgents StateEngine::mark_lost_agents(std::int64_t now_ms, StateDelta& delta) {
  LostAgents lost;
  for (auto& [agent_id, agent] : agents_) {
    AgentState& a = agent->state;
    // Silence while the collector itself was down is not the agent's: after a restart
    // each agent gets a full timeout to report again.
    if (!lost_due(a, now_ms)) continue;
    a.lost = true;
    a.lost_since_ms = now_ms;
    delta.agents.push_back(a);
    push_event(delta, {.kind = EventKind::kAgentLost,
                       .site = a.site,
                       .agent = a.id,
                       .check = kHeartbeatCheck,
                       .from = State::kOk,
                       .to = State::kCritical,
                       .summary = lost_text(*agent, now_ms)});
    lost.events.push_back(delta.events.size() - 1);
    lost.sites.insert(a.site);
    for (auto& [check_id, c] : agent->checks) {
      const State before = c.effective();
      c.agent_lost = true;
      c.stale_reason = c.central ? "poller " + a.id + " lost" : "agent unreachable";
      if (!c.stale) {
        c.stale = true;
        c.stale_since_ms = now_ms;
        push_event(delta, {.kind = EventKind::kStale,
                           .site = c.site,
                           .agent = c.agent,
                           .check = check_id,
                           .from = before,
                           .to = State::kUnknown,
                           .summary = "stale: " + c.stale_reason});
      }
      mark_state_changed(delta, c);
    }
  }
  return lost;
}

void StateEngine::mark_unreachable_sites(const LostAgents& lost, std::int64_t now_ms,
                                         StateDelta& delta) {
  for (const auto& name : lost.sites) {
    Site& site = *sites_[name];
    const bool all_lost = own_agents_lost(site);
    const bool downtime = site_in_downtime(name, now_ms);
    if (all_lost && !site.unreachable) {
      site.unreachable = true;
      site.unreachable_since_ms = now_ms;
      std::int64_t last_seen = 0;
      int own = 0;
      for (const auto* a : site.agents) {
        if (a->poller()) continue;
        last_seen = std::max(last_seen, a->state.last_seen_ms);
        ++own;
      }
      const std::string silent = "no report from its " +
                                 std::string(own == 1 ? "agent" : "agents") + " for " +
                                 ago(now_ms - last_seen);
      const LineVerdict line = line_verdict(name);
      push_event(delta, {.kind = EventKind::kSiteUnreachable,
                         .site = name,
                         .from = State::kOk,
                         .to = State::kCritical,
                         .summary = line == LineVerdict::kDown      ? kLineDown + (": " + silent)
                                    : line == LineVerdict::kAnswers ? kAgentSilent + (": " + silent)
                                                                    : "site unreachable: " + silent,
                         .notify = !downtime});
    }
    // The site's own alert stands for its agents'.
    for (std::size_t index : lost.events) {
      Event& e = delta.events[index];
      if (e.site != name) continue;
      e.notify = !site.unreachable && !downtime &&
                 !std::any_of(downtimes_.begin(), downtimes_.end(), [&](const auto& d) {
                   return d.second->active && d.second->downtime.covers(e.site, e.agent, e.check);
                 });
    }
  }
}

bool StateEngine::lost_due(const AgentState& a, std::int64_t now_ms) const {
  return !a.lost && now_ms - std::max(a.last_seen_ms, restored_ms_) > options_.agent_timeout_ms;
}

bool StateEngine::stale_due(const CheckState& c, std::int64_t now_ms) const {
  const std::int64_t limit = options_.stale_intervals * c.last.interval_s * 1000;
  return !c.stale && c.last.interval_s > 0 &&
         now_ms - std::max(c.received_ms, restored_ms_) > limit;
}

std::vector<std::string> StateEngine::sweep_candidates(std::int64_t now_ms) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> due;
  for (const auto& [agent_id, agent] : agents_) {
    const bool checks_due = !agent->state.lost &&
                            std::any_of(agent->checks.begin(), agent->checks.end(),
                                        [&](const auto& c) { return stale_due(c.second, now_ms); });
    if (lost_due(agent->state, now_ms) || checks_due) due.push_back(agent_id);
  }
  return due;
}

bool StateEngine::mark_stale(CheckState& c, const AgentState& agent, std::int64_t now_ms,
                             StateDelta& delta) {
  if (!stale_due(c, now_ms)) return false;
  const std::int64_t limit = options_.stale_intervals * c.last.interval_s * 1000;
  const State before = c.effective();
  c.stale = true;
  c.stale_since_ms = now_ms;
  c.stale_reason = "no result for " + ago(now_ms - c.received_ms) + " (runs every " +
                   ago(c.last.interval_s * 1000) + ")";
  push_event(delta, {.kind = EventKind::kStale,
                     .site = c.site,
                     .agent = c.agent,
                     .check = c.last.check,
                     .from = before,
                     .to = State::kUnknown,
                     .summary = "stale: " + c.stale_reason,
                     // When the whole agent has been silent as long, it is the agent
                     // (or its site) that is down: that alert comes once, when the agent
                     // is declared lost, not once per check.
                     .notify = !quiet(c) && now_ms - agent.last_seen_ms <= limit});
  return true;
}

bool StateEngine::expire_ack(CheckState& c, std::int64_t now_ms, StateDelta& delta) {
  if (!c.ack || c.ack->expires_ms == 0 || now_ms < c.ack->expires_ms) return false;
  const Ack expired = *c.ack;
  c.ack.reset();
  push_event(delta, {.kind = EventKind::kAckExpired,
                     .site = c.site,
                     .agent = c.agent,
                     .check = c.last.check,
                     .from = c.effective_hard(),
                     .to = c.effective_hard(),
                     .summary = "acknowledgement by " + expired.author + " expired; still " +
                                std::string(state_name(c.effective_hard())),
                     .author = expired.author,
                     .notify = c.problem() && !quiet(c)});
  return true;
}

StateDelta StateEngine::tick(std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  StateDelta delta;

  // Downtimes first: what starts now silences what the rest of this tick finds.
  const DowntimeChanges downtimes = start_and_end_downtimes(now_ms, delta);
  if (downtimes.changed) {
    announce_sites_still_unreachable(downtimes.sites_ended, now_ms, delta);
    apply_downtimes_to_checks(now_ms, delta);
  }

  // Lost agents, then unreachable sites: a site whose every agent is lost is one
  // problem, and its agents' own events stay quiet.
  const LostAgents lost = mark_lost_agents(now_ms, delta);
  mark_unreachable_sites(lost, now_ms, delta);

  // Checks that stopped on their own, and acknowledgements that ran out.
  for (auto& [agent_id, agent] : agents_) {
    if (agent->state.lost) continue;
    for (auto& [check_id, c] : agent->checks) {
      const bool went_stale = mark_stale(c, agent->state, now_ms, delta);
      const bool ack_expired = expire_ack(c, now_ms, delta);
      if (went_stale || ack_expired) mark_state_changed(delta, c);
    }
  }
  for (std::int64_t id : downtimes.finished) downtimes_.erase(id);
  return delta;
}

StateDelta StateEngine::tick_downtimes(std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  StateDelta delta;
  const DowntimeChanges downtimes = start_and_end_downtimes(now_ms, delta);
  if (downtimes.changed) {
    announce_sites_still_unreachable(downtimes.sites_ended, now_ms, delta);
    apply_downtimes_to_checks(now_ms, delta);
  }
  for (std::int64_t id : downtimes.finished) downtimes_.erase(id);
  return delta;
}

StateDelta StateEngine::checkpoint(std::size_t max_checks) {
  std::unique_lock lock(mu_);
  StateDelta delta;
  for (auto& [id, agent] : agents_) {
    if (delta.checks.size() >= max_checks) break;
    if (agent->dirty) {
      delta.agents.push_back(agent->state);
      agent->dirty = false;
    }
    while (!agent->dirty_checks.empty() && delta.checks.size() < max_checks) {
      const auto first = agent->dirty_checks.begin();
      const auto it = agent->checks.find(*first);
      if (it != agent->checks.end()) delta.checks.push_back(it->second);
      agent->dirty_checks.erase(first);
    }
  }
  return delta;
}

StateDelta StateEngine::checkpoint_agent(const std::string& agent_id) {
  std::unique_lock lock(mu_);
  StateDelta delta;
  const auto it = agents_.find(agent_id);
  if (it == agents_.end()) return delta;
  AgentEntry& agent = *it->second;
  if (agent.dirty) {
    delta.agents.push_back(agent.state);
    agent.dirty = false;
  }
  for (const auto& check : agent.dirty_checks) {
    if (const auto c = agent.checks.find(check); c != agent.checks.end())
      delta.checks.push_back(c->second);
  }
  agent.dirty_checks.clear();
  return delta;
}

Result<StateDelta> StateEngine::acknowledge(const std::string& agent, const std::string& check,
                                            Ack ack, std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  const auto a = agents_.find(agent);
  if (a == agents_.end()) return Status::not_found("no agent \"" + agent + "\"");
  const auto c = a->second->checks.find(check);
  if (c == a->second->checks.end())
    return Status::not_found("agent \"" + agent + "\" has no check \"" + check + "\"");
  CheckState& state = c->second;
  if (!state.problem() && state.effective() == State::kOk) {
    return Status(Code::kFailedPrecondition, "check \"" + check + "\" of agent \"" + agent +
                                                 "\" is OK: nothing to acknowledge");
  }
  if (ack.expires_ms != 0 && ack.expires_ms <= now_ms)
    return Status::invalid("expires: already in the past");
  ack.created_ms = now_ms;
  StateDelta delta;
  state.ack = std::make_shared<const Ack>(std::move(ack));
  push_event(delta, {.kind = EventKind::kAcknowledged,
                     .site = state.site,
                     .agent = agent,
                     .check = check,
                     .from = state.effective_hard(),
                     .to = state.effective_hard(),
                     .summary = state.ack->comment,
                     .author = state.ack->author});
  mark_state_changed(delta, state);
  return delta;
}

Result<StateDelta> StateEngine::unacknowledge(const std::string& agent, const std::string& check,
                                              const std::string& author, std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  const auto a = agents_.find(agent);
  if (a == agents_.end()) return Status::not_found("no agent \"" + agent + "\"");
  const auto c = a->second->checks.find(check);
  if (c == a->second->checks.end() || !c->second.ack) {
    return Status::not_found("check \"" + check + "\" of agent \"" + agent +
                             "\" is not acknowledged");
  }
  CheckState& state = c->second;
  StateDelta delta;
  state.ack.reset();
  push_event(delta, {.kind = EventKind::kAckRemoved,
                     .site = state.site,
                     .agent = agent,
                     .check = check,
                     .from = state.effective_hard(),
                     .to = state.effective_hard(),
                     .summary = "acknowledgement removed",
                     .author = author,
                     .notify = state.problem() && !quiet(state)});
  mark_state_changed(delta, state);
  return delta;
}

Result<StateDelta> StateEngine::add_downtime(Downtime downtime, std::int64_t now_ms) {
  if (Status s = validate_downtime(downtime, options_.calendars.get()); !s) return s;
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  if (downtime.id == 0) downtime.id = ++last_downtime_id_;
  last_downtime_id_ = std::max(last_downtime_id_, downtime.id);
  downtime.created_ms = now_ms;
  auto entry = std::make_unique<DowntimeEntry>();
  entry->downtime = downtime;
  downtimes_[downtime.id] = std::move(entry);
  StateDelta delta;
  delta.downtimes.push_back(downtime);
  return delta;  // the next tick starts it, with its event
}

Result<StateDelta> StateEngine::remove_downtime(std::int64_t id, const std::string& author,
                                                std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  auto it = downtimes_.find(id);
  if (it == downtimes_.end()) return Status::not_found("no downtime " + std::to_string(id));
  StateDelta delta;
  Downtime d = it->second->downtime;
  // Ends it now: the next tick sees it inactive and sends what an end sends.
  d.end_ms = now_ms;
  if (d.start_ms >= now_ms) d.start_ms = now_ms - 1;
  d.comment += " (removed by " + author + ")";
  it->second->downtime = d;
  delta.downtimes.push_back(d);
  return delta;
}

std::vector<CheckState> StateEngine::checks(const CheckFilter& filter) const {
  std::shared_lock lock(mu_);
  std::vector<CheckState> out;
  std::set<std::string> site_rows;  // unreachable sites already shown once
  // The agents to look at: all, or a site's own agents and the pollers filing under it.
  std::vector<const AgentEntry*> candidates;
  if (filter.site.empty() && !filter.agent.empty()) {
    // One agent (the API's ?agent=, an agent read again): no walk over the fleet.
    if (const auto it = agents_.find(filter.agent); it != agents_.end())
      candidates.push_back(it->second.get());
  } else if (filter.site.empty()) {
    for (const auto& [id, agent] : agents_) candidates.push_back(agent.get());
  } else if (const auto site = sites_.find(filter.site); site != sites_.end()) {
    candidates.assign(site->second->agents.begin(), site->second->agents.end());
    for (const AgentEntry* p : site->second->pollers) {
      if (std::find(candidates.begin(), candidates.end(), p) == candidates.end())
        candidates.push_back(p);
    }
  }
  for (const AgentEntry* agent : candidates) {
    const AgentState& a = agent->state;
    if (!filter.agent.empty() && a.id != filter.agent) continue;
    const bool own = filter.site.empty() || a.site == filter.site;
    // A poller is not part of its own site's reachability (own_agents_lost).
    const bool unreachable = !agent->poller() && site_unreachable(a.site);
    // The heartbeat: one row per agent, standing for the agent's reports.
    CheckState beat;
    beat.agent = a.id;
    beat.site = a.site;
    beat.last.name = "heartbeat";
    beat.last.check = kHeartbeatCheck;
    beat.last.ts_ms = a.last_seen_ms;
    // Reads as stale (three intervals) exactly when the agent is lost.
    beat.last.interval_s = std::max<std::int64_t>(1, options_.agent_timeout_ms / 3000);
    beat.received_ms = a.last_seen_ms;
    beat.since_ms = a.lost ? a.lost_since_ms : a.first_seen_ms;
    beat.hard_since_ms = beat.since_ms;
    beat.in_downtime = std::any_of(downtimes_.begin(), downtimes_.end(), [&](const auto& d) {
      return d.second->active && d.second->downtime.covers(a.site, a.id, kHeartbeatCheck);
    });
    if (a.lost) {
      beat.last.status = beat.hard_state = State::kCritical;
      std::string text = lost_text(*agent, now_ms_);
      if (unreachable) {
        const LineVerdict line = line_verdict(a.site);
        text = (line == LineVerdict::kDown      ? kLineDown
                : line == LineVerdict::kAnswers ? kAgentSilent
                                                : std::string("site unreachable")) +
               ": " + text;
      }
      beat.last.summary = std::move(text);
    } else {
      beat.last.status = beat.hard_state = State::kOk;
      beat.last.summary =
          "last report " + ago(std::max<std::int64_t>(0, now_ms_ - a.last_seen_ms)) + " ago";
      if (agent->poller()) {
        const std::size_t n = agent->member_sites.size();
        beat.last.summary += "; poller for " + std::to_string(n) + (n == 1 ? " site" : " sites");
      }
    }
    const bool show_beat = own && (!filter.problems_only ||
                                   (a.lost && (!unreachable || site_rows.insert(a.site).second)));
    if (show_beat) out.push_back(std::move(beat));
    for (const auto& [check_id, c] : agent->checks) {
      if (!filter.site.empty() && c.site != filter.site) continue;
      if (filter.problems_only) {
        if (!c.problem() || c.agent_lost) continue;
        // The centre's probes of an unreachable site speak in its one row.
        if (line_probe(c) && site_unreachable(c.site)) continue;
      }
      out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end(), [](const CheckState& x, const CheckState& y) {
    const int sx = severity(x.effective_hard()), sy = severity(y.effective_hard());
    if (sx != sy) return sx > sy;
    const int ex = severity(x.effective()), ey = severity(y.effective());
    if (ex != ey) return ex > ey;
    if (x.hard_since_ms != y.hard_since_ms) return x.hard_since_ms < y.hard_since_ms;
    if (x.site != y.site) return x.site < y.site;
    if (x.agent != y.agent) return x.agent < y.agent;
    return x.last.check < y.last.check;
  });
  return out;
}

std::optional<CheckState> StateEngine::check(const std::string& agent,
                                             const std::string& check) const {
  std::shared_lock lock(mu_);
  const auto a = agents_.find(agent);
  if (a == agents_.end()) return std::nullopt;
  const auto c = a->second->checks.find(check);
  if (c == a->second->checks.end()) return std::nullopt;
  return c->second;
}

std::vector<AgentState> StateEngine::agents(const std::string& site) const {
  std::shared_lock lock(mu_);
  std::vector<AgentState> out;
  for (const auto& [id, agent] : agents_) {
    if (!site.empty() && agent->state.site != site) continue;
    out.push_back(agent->state);
    out.back().member_sites = static_cast<int>(agent->member_sites.size());
  }
  // Lost first (longest lost first), then by site and id.
  std::sort(out.begin(), out.end(), [](const AgentState& x, const AgentState& y) {
    if (x.lost != y.lost) return x.lost;
    if (x.lost && x.last_seen_ms != y.last_seen_ms) return x.last_seen_ms < y.last_seen_ms;
    if (x.site != y.site) return x.site < y.site;
    return x.id < y.id;
  });
  return out;
}

std::vector<SiteSummary> StateEngine::sites() const {
  std::shared_lock lock(mu_);
  std::vector<SiteSummary> out;
  // The central checks by member site, in one pass over the pollers.
  std::map<std::string_view, std::vector<const CheckState*>> central;
  for (const auto& [id, agent] : agents_) {
    if (!agent->poller()) continue;
    for (const auto& [check_id, c] : agent->checks) {
      if (c.central) central[c.site].push_back(&c);
    }
  }
  for (const auto& [name, site] : sites_) {
    if (site->agents.empty() && site->pollers.empty()) continue;
    SiteSummary s;
    s.name = name;
    s.unreachable = site->unreachable;
    s.unreachable_since_ms = site->unreachable_since_ms;
    if (s.unreachable) s.line = line_verdict(name);
    s.in_downtime = site_in_downtime(name, now_ms_);
    const auto count = [&](const CheckState& c) {
      const State state = c.effective();
      ++s.counts[static_cast<int>(state)];
      auto [family, inserted] = s.families.emplace(check_family(c.last.check), c.effective_hard());
      if (!inserted) family->second = worst(family->second, c.effective_hard());
      // A silent poller is its own problem (its heartbeat), not its member sites'.
      if (c.central && c.agent_lost) return;
      s.worst = worst(s.worst, c.effective_hard());
      if (c.problem()) {
        ++s.problems;
        if (c.ack) ++s.acknowledged;
      }
    };
    for (const AgentEntry* agent : site->agents) {
      ++s.agents;
      if (agent->state.lost) {
        ++s.agents_lost;
        s.worst = worst(s.worst, State::kCritical);
      }
      s.last_report_ms = std::max(s.last_report_ms, agent->state.last_seen_ms);
      for (const auto& [check_id, c] : agent->checks) {
        if (c.site == name) count(c);
      }
    }
    if (const auto it = central.find(name); it != central.end()) {
      for (const CheckState* c : it->second) {
        count(*c);
        ++s.central;
        s.last_report_ms = std::max(s.last_report_ms, c->received_ms);
      }
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const SiteSummary& x, const SiteSummary& y) {
    const int sx = severity(x.worst), sy = severity(y.worst);
    if (sx != sy) return sx > sy;
    return x.name < y.name;
  });
  return out;
}

std::vector<Downtime> StateEngine::downtimes() const {
  std::shared_lock lock(mu_);
  std::vector<Downtime> out;
  for (const auto& [id, entry] : downtimes_) out.push_back(entry->downtime);
  return out;
}

std::optional<Downtime> StateEngine::downtime(std::int64_t id) const {
  std::shared_lock lock(mu_);
  const auto it = downtimes_.find(id);
  if (it == downtimes_.end()) return std::nullopt;
  return it->second->downtime;
}

std::int64_t StateEngine::last_event_id() const {
  std::shared_lock lock(mu_);
  return last_event_id_;
}

std::int64_t StateEngine::late_results() const {
  std::shared_lock lock(mu_);
  return late_results_;
}

std::int64_t StateEngine::traps_kept() const {
  std::shared_lock lock(mu_);
  return traps_.kept();
}

std::int64_t StateEngine::traps_not_kept() const {
  std::shared_lock lock(mu_);
  return traps_.not_kept();
}

}  // namespace vigie::collector
