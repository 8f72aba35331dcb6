#include "collector/alert_planner.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace vigie::collector {

AlertPlanner::AlertPlanner(const AlertConfig& config, const StateEngine& engine)
    : config_(config), engine_(engine) {}

std::vector<std::size_t> AlertPlanner::route(const Alert& alert) const {
  std::vector<bool> chosen(config_.channels.size(), false);
  const int level = severity(routing_state(alert));
  for (const auto& rule : config_.rules) {
    if (level < severity(rule.min_state)) continue;
    // Working hours at the time of the alert; a recovery also goes where the problem it
    // ends went (the desk that saw the night's problem in the morning, the on-call that
    // was woken by it).
    if (!rule.holds_at(alert.ts_ms) &&
        !(alert.kind == "recovery" && alert.since_ms != 0 && rule.holds_at(alert.since_ms)))
      continue;
    if (!rule.families.empty() &&
        std::find(rule.families.begin(), rule.families.end(), alert.family) == rule.families.end())
      continue;
    if (!rule.sites.empty() &&
        std::none_of(rule.sites.begin(), rule.sites.end(),
                     [&](const auto& g) { return fnmatch(g.c_str(), alert.site.c_str(), 0) == 0; }))
      continue;
    for (const auto& name : rule.channels) {
      for (std::size_t i = 0; i < config_.channels.size(); ++i) {
        if (config_.channels[i].name == name) chosen[i] = true;
      }
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i]) out.push_back(i);
  }
  return out;
}

std::optional<std::string> AlertPlanner::quiet_reason(const Alert& alert) const {
  auto site_state = [&]() -> std::optional<SiteSummary> {
    for (auto& s : engine_.sites()) {
      if (s.name == alert.site) return s;
    }
    return std::nullopt;
  };
  if (!alert.check.empty()) {
    const auto c = engine_.check(alert.agent, alert.check);
    if (!c || !c->problem()) return std::nullopt;
    if (c->ack) return "acknowledged by " + c->ack->author;
    if (c->in_downtime) return std::string("in downtime");
    if (c->flapping) return std::string("flapping");
    if (c->agent_lost) {
      if (c->central) return "poller " + c->agent + " lost";
      const auto site = site_state();
      return std::string(site && site->unreachable ? "site unreachable" : "agent unreachable");
    }
    return std::string();
  }
  const auto site = site_state();
  if (!site) return std::nullopt;
  if (!alert.agent.empty()) {
    const auto agents = engine_.agents(alert.site);
    const auto it = std::find_if(agents.begin(), agents.end(),
                                 [&](const AgentState& a) { return a.id == alert.agent; });
    if (it == agents.end() || !it->lost) return std::nullopt;
    if (site->unreachable) return std::string("site unreachable");
    if (site->in_downtime) return std::string("in downtime");
    return std::string();
  }
  if (!site->unreachable) return std::nullopt;
  if (site->in_downtime) return std::string("in downtime");
  return std::string();
}

std::optional<Alert> AlertPlanner::open_problem(const CheckState& c) {
  if (c.last.check == "vigie/heartbeat") return std::nullopt;
  if (c.ack || c.in_downtime || c.flapping || c.agent_lost) return std::nullopt;
  return Alert{.site = c.site,
               .agent = c.agent,
               .check = c.last.check,
               .family = check_family(c.last.check),
               .kind = "problem",
               .state = c.effective_hard(),
               .from = State::kOk,
               .summary = c.stale ? c.stale_reason : c.last.summary,
               .ts_ms = c.hard_since_ms,
               .since_ms = c.hard_since_ms};
}

void AlertPlanner::reseed_agent(const std::string& agent, std::int64_t now_ms) {
  std::map<std::string, Alert> problems;
  for (const auto& c : engine_.checks({.agent = agent, .problems_only = true})) {
    if (auto a = open_problem(c)) problems.emplace(alert_key(*a), std::move(*a));
  }
  // The agent's checks' keys (alert_key): "c", the agent, then the check.
  const std::string prefix = std::string("c\x1f") + agent + "\x1f";
  for (auto it = open_.lower_bound(prefix); it != open_.end() && it->first.starts_with(prefix);) {
    it = problems.contains(it->first) ? std::next(it) : open_.erase(it);
  }
  for (auto& [key, a] : problems) {
    const auto [it, added] = open_.try_emplace(key);
    // New here: its message was queued by the collector that received the change, at
    // the earliest when the problem began, and may still wait (a channel down, or
    // claimed by a collector that died): unsettled until the outbox says otherwise, so
    // that no reminder comes on top of it.
    if (added) it->second.queued_ms = a.since_ms > 0 ? std::min(a.since_ms, now_ms) : now_ms;
    it->second.alert = std::move(a);
  }
}

void AlertPlanner::seed(std::int64_t now_ms, const std::map<std::string, std::int64_t>& last_sent) {
  open_.clear();
  auto open = [&](const Alert& a) {
    const std::string key = alert_key(a);
    const auto told = last_sent.find(key);
    const std::int64_t at = told == last_sent.end() ? now_ms : told->second;
    open_[key] = {.alert = a, .queued_ms = at, .settled_ms = at};
  };
  for (const auto& c : engine_.checks({.problems_only = true})) {
    if (auto a = open_problem(c)) open(*a);
  }
  for (const auto& s : engine_.sites()) {
    if (!s.unreachable || s.in_downtime) continue;
    Alert a{.site = s.name,
            .family = "site",
            .kind = "problem",
            .state = State::kCritical,
            .summary = "site unreachable",
            .ts_ms = s.unreachable_since_ms,
            .since_ms = s.unreachable_since_ms};
    open(a);
  }
}

void AlertPlanner::add(const std::vector<Event>& events, std::int64_t now_ms, Plan& plan) {
  for (const auto& e : events) consider(e, now_ms, plan);
}

void AlertPlanner::suppress(const Alert& alert, const std::string& reason, std::int64_t now_ms,
                            Plan& plan) {
  for (const std::size_t i : route(alert)) {
    const auto& c = config_.channels[i];
    plan.records.push_back({.ts_ms = now_ms,
                            .site = alert.site,
                            .agent = alert.agent,
                            .check = alert.check,
                            .channel = c.kind == AlertChannel::Kind::kEmail ? "email" : "webhook",
                            .target = channel_target(c),
                            .kind = alert.kind,
                            .state = alert.state,
                            .status = "suppressed",
                            .detail = reason});
  }
}

void AlertPlanner::consider(const Event& e, std::int64_t now_ms, Plan& plan) {
  if (e.backfill) return;  // the past: a check's history, not news
  Alert a{.site = e.site,
          .agent = e.agent,
          .check = e.check,
          .family = e.check.empty() ? (e.agent.empty() ? "site" : "agent") : check_family(e.check),
          .kind = "problem",
          .state = e.to,
          .from = e.from,
          .summary = e.summary,
          .ts_ms = e.ts_ms,
          .since_ms = e.ts_ms,
          .event_id = e.id};
  switch (e.kind) {
    case EventKind::kState:
      if (e.type != StateType::kHard) return;
      break;
    case EventKind::kStale:
      if (!e.notify) return;  // staleness under a lost agent or a quiet check: no news
      break;
    case EventKind::kFresh: {
      // A check that was notified stale and reports OK again: its recovery (a hard
      // recovery, when there is one, comes as its own event and finds nothing open).
      const auto it = open_.find(alert_key(a));
      if (it == open_.end() || e.to != State::kOk ||
          it->second.alert.summary.rfind("stale", 0) != 0)
        return;
      break;
    }
    case EventKind::kAgentLost:
      a.check.clear();
      a.family = "agent";
      break;
    case EventKind::kAgentBack:
    case EventKind::kSiteUnreachable:
    case EventKind::kSiteReachable: break;
    case EventKind::kAckExpired: a.kind = "ack expired"; break;
    case EventKind::kAckRemoved:
      if (!e.notify) return;
      a.kind = "ack removed";
      break;
    case EventKind::kDowntimeEnd:
      if (!e.notify) return;
      a.kind = "downtime over";
      break;
    case EventKind::kFlappingStop:
      if (!e.notify) return;
      a.kind = "flapping over";
      break;
    default: return;  // acknowledgements, downtimes starting, flapping starting: no alert
  }
  const std::string key = alert_key(a);
  const bool recovery = e.to == State::kOk;
  if (recovery) {
    const auto it = open_.find(key);
    if (it == open_.end()) return;  // no problem was notified: nothing to take back
    a.kind = "recovery";
    a.from = it->second.alert.state;
    a.since_ms = it->second.alert.since_ms;
    open_.erase(it);
    if (!e.notify) {
      std::string reason = "site reachable again: its own alert says so";
      if (!a.check.empty()) {
        const auto c = engine_.check(a.agent, a.check);
        reason = c && c->in_downtime ? "in downtime" : c && c->flapping ? "flapping" : "silenced";
      } else if (e.kind == EventKind::kSiteReachable) {
        reason = "in downtime";
      }
      suppress(a, reason, now_ms, plan);
      return;
    }
    enqueue(a, now_ms, plan);
    return;
  }
  // Still failing since an earlier alert (WARNING turning CRITICAL, an acknowledgement
  // over): {{age}} counts from when the problem began.
  if (const auto it = open_.find(key); it != open_.end()) {
    a.since_ms = it->second.alert.since_ms;
  } else if (a.kind != "problem" && !a.check.empty()) {
    if (const auto c = engine_.check(a.agent, a.check); c) a.since_ms = c->hard_since_ms;
  }
  if (!e.notify) {
    std::string reason = quiet_reason(a).value_or("");
    if (reason.empty()) reason = "silenced by the state engine";
    suppress(a, reason, now_ms, plan);
    return;
  }
  open_[key] = {.alert = a, .queued_ms = now_ms};
  enqueue(a, now_ms, plan);
}

void AlertPlanner::settled(const std::string& key, std::int64_t at_ms) {
  if (const auto it = open_.find(key); it != open_.end())
    it->second.settled_ms = std::max(it->second.settled_ms, at_ms);
}

std::vector<std::string> AlertPlanner::unsettled(std::int64_t* since_ms) const {
  std::vector<std::string> keys;
  for (const auto& [key, o] : open_) {
    if (o.settled_ms >= o.queued_ms) continue;
    *since_ms = keys.empty() ? o.queued_ms : std::min(*since_ms, o.queued_ms);
    keys.push_back(key);
  }
  return keys;
}

void AlertPlanner::enqueue(const Alert& alert, std::int64_t now_ms, Plan& plan) {
  const std::string key = alert_key(alert);
  const std::string text = alert_to_json(alert);
  for (const std::size_t i : route(alert)) {
    plan.outbox.push_back({.channel = config_.channels[i].name,
                           .key = key,
                           .alert = text,
                           .created_ms = now_ms,
                           .due_ms = now_ms + config_.hold.count()});
  }
}

void AlertPlanner::tick(std::int64_t now_ms, Plan& plan) {
  // Reminders of problems still failing, counted from when the last message was
  // delivered (or given up): none while one still waits in the outbox. And a clean-up
  // of those no longer failing.
  if (config_.renotify.count() <= 0) return;
  for (auto it = open_.begin(); it != open_.end();) {
    Open& o = it->second;
    // Counted in working time when reminders follow a calendar (walked only once the
    // last message is settled).
    if (o.settled_ms < o.queued_ms ||
        (config_.renotify_calendar
             ? config_.renotify_calendar->working_ms_between(o.settled_ms, now_ms)
             : now_ms - o.settled_ms) < config_.renotify.count()) {
      ++it;
      continue;
    }
    const auto reason = quiet_reason(o.alert);
    if (!reason) {
      it = open_.erase(it);
      continue;
    }
    o.queued_ms = now_ms;
    if (reason->empty()) {
      Alert a = o.alert;
      a.kind = "reminder";
      a.ts_ms = now_ms;
      a.event_id = 0;
      if (!a.check.empty()) {
        if (const auto c = engine_.check(a.agent, a.check); c) {
          a.state = c->effective_hard();
          a.summary = c->stale ? c->stale_reason : c->last.summary;
        }
      }
      enqueue(a, now_ms, plan);
    }
    ++it;
  }
}

std::vector<ChannelPacer::Message> ChannelPacer::next(std::int64_t now_ms, const Claim& claim) {
  std::vector<Message> out;
  const std::int64_t hold = config_.hold.count();
  if (storm_) {
    if (now_ms < window_end_ms_) return out;
    // The window is over: whatever came meanwhile goes as one digest.
    auto rows = claim(now_ms + hold);
    const std::size_t count = rows.size();
    if (!rows.empty()) out.push_back({std::move(rows), true});
    if (count <= static_cast<std::size_t>(config_.storm_threshold)) {
      storm_ = false;  // calm again: back to one message per alert
      sent_.clear();
    } else {
      window_end_ms_ = now_ms + config_.storm_window.count();
    }
    return out;
  }
  auto rows = claim(now_ms);
  if (rows.empty()) return out;
  // The rest of the burst the first due row belongs to.
  auto more = claim(now_ms + hold);
  rows.insert(rows.end(), std::make_move_iterator(more.begin()),
              std::make_move_iterator(more.end()));
  while (!sent_.empty() && sent_.front() <= now_ms - config_.storm_window.count())
    sent_.pop_front();
  if (sent_.size() + rows.size() > static_cast<std::size_t>(config_.storm_threshold)) {
    storm_ = true;
    window_end_ms_ = now_ms + config_.storm_window.count();
    out.push_back({std::move(rows), true});
    return out;
  }
  for (auto& row : rows) {
    sent_.push_back(now_ms);
    out.push_back({{std::move(row)}, false});
  }
  return out;
}

}  // namespace vigie::collector
