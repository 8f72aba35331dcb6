#include "collector/report/availability.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <string_view>

namespace vigie::collector {

const std::array<AvailabilityFamily, 5> kAvailabilityFamilies = {{
    {"firewall", "firewall"},
    {"wifi", "wifi"},
    {"backup", "backup"},
    {"antivirus", "antivirus"},
    {"network", "net"},
}};

std::string_view slice_name(Slice slice) {
  switch (slice) {
    case Slice::kOk: return "ok";
    case Slice::kWarning: return "warning";
    case Slice::kCritical: return "critical";
    case Slice::kUnknown: return "unknown";
    case Slice::kAcknowledged: return "acknowledged";
    case Slice::kDowntime: return "downtime";
    case Slice::kNoData: return "no_data";
  }
  return "no_data";
}

std::int64_t Availability::counted_ms() const {
  return time(Slice::kOk) + time(Slice::kWarning) + time(Slice::kCritical) + time(Slice::kUnknown) +
         time(Slice::kAcknowledged);
}

std::optional<double> Availability::ratio() const {
  const std::int64_t counted = counted_ms();
  if (counted <= 0) return std::nullopt;
  return static_cast<double>(time(Slice::kOk)) / static_cast<double>(counted);
}

void Availability::add(const Availability& other) {
  for (std::size_t i = 0; i < kSlices; ++i) ms[i] += other.ms[i];
  outages += other.outages;
  outage_ms += other.outage_ms;
  longest_outage_ms = std::max(longest_outage_ms, other.longest_outage_ms);
  checks += other.checks;
}

HistoryQuery availability_query(const Period& period, const std::string& site) {
  return {.check_prefix = "",
          .site = site,
          .from_ms = period.from_ms(),
          .to_ms = period.to_ms(),
          .metrics = {},
          .silences = true};
}

namespace {

// What a check was from one instant on.
struct Snapshot {
  std::int64_t t = 0;
  bool data = false;
  State state = State::kOk;  // the hard state
  bool stale = false;
  bool acked = false;
  bool downtime = false;
};

// The id a downtime's own event names: "downtime 12: ..." or "downtime ended 12: ...";
// nullopt for the other downtime events ("downtime over, still CRITICAL: ...").
std::optional<std::int64_t> downtime_id(const std::string& summary) {
  std::string_view text = summary;
  for (std::string_view prefix : {"downtime ended ", "downtime "}) {
    if (!text.starts_with(prefix)) continue;
    text.remove_prefix(prefix.size());
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec == std::errc() && end != text.data() && end < text.data() + text.size() && *end == ':')
      return id;
    return std::nullopt;
  }
  return std::nullopt;
}

// A check's history as snapshots in time order. A check's first result makes no event
// when it is OK: before its first state event, it was in the state that event left,
// since its agent first reported (`first_seen_ms`, 0 unknown) or since that event.
std::vector<Snapshot> check_timeline(const CheckHistory& h, std::int64_t first_seen_ms) {
  std::vector<const Event*> events;
  for (const auto& e : h.events) events.push_back(&e);
  for (const auto& e : h.silences) events.push_back(&e);
  std::stable_sort(events.begin(), events.end(),
                   [](const Event* a, const Event* b) { return a->id < b->id; });
  const bool has_state = std::any_of(h.events.begin(), h.events.end(), [](const Event& e) {
    return e.kind == EventKind::kState || e.kind == EventKind::kStale;
  });

  std::vector<Snapshot> out;
  Snapshot now;
  std::set<std::int64_t> downtimes;
  if (!has_state && h.state.hard_since_ms > 0) {
    // Its state events are older than the events kept: it has been in its hard state
    // since hard_since_ms.
    now.t = h.state.hard_since_ms;
    now.data = true;
    now.state = h.state.hard_state;
    out.push_back(now);
  }
  const auto first_state = std::find_if(
      events.begin(), events.end(), [](const Event* e) { return e->kind == EventKind::kState; });
  if (out.empty() && first_state != events.end()) {
    const std::int64_t since =
        first_seen_ms > 0 ? std::min(first_seen_ms, (*first_state)->ts_ms) : (*first_state)->ts_ms;
    if (since < (*first_state)->ts_ms) {
      now.t = since;
      now.data = true;
      now.state = (*first_state)->from;
      out.push_back(now);
    }
  }
  for (const Event* e : events) {
    now.t = std::max(now.t, e->ts_ms);
    switch (e->kind) {
      case EventKind::kState:
        now.data = true;
        now.state = e->to;
        break;
      case EventKind::kStale:
        now.data = true;
        now.stale = true;
        break;
      case EventKind::kFresh: now.stale = false; break;
      case EventKind::kAcknowledged: now.acked = true; break;
      case EventKind::kAckRemoved:
      case EventKind::kAckExpired: now.acked = false; break;
      case EventKind::kDowntimeStart:
      case EventKind::kDowntimeEnd: {
        const auto id = downtime_id(e->summary);
        if (!id) continue;
        if (e->kind == EventKind::kDowntimeStart) downtimes.insert(*id);
        else downtimes.erase(*id);
        now.downtime = !downtimes.empty();
        break;
      }
      default: continue;
    }
    if (!out.empty() && out.back().t == now.t) out.back() = now;
    else out.push_back(now);
  }
  return out;
}

// Gravity for "the worst": OK < WARNING < UNKNOWN < CRITICAL.
int gravity(State s) {
  switch (s) {
    case State::kOk: return 0;
    case State::kWarning: return 1;
    case State::kUnknown: return 2;
    case State::kCritical: return 3;
  }
  return 2;
}

struct Combined {
  Slice slice = Slice::kNoData;
  bool outage = false;
};

// The group's slice at one instant: check i is as its snapshot next[i] - 1 says (no
// data when next[i] is 0).
Combined combine(const std::vector<const std::vector<Snapshot>*>& group,
                 const std::vector<std::size_t>& next) {
  bool any_data = false, any_counted = false, all_problems_acked = true;
  State worst = State::kOk, worst_unacked = State::kOk;
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (next[i] == 0) continue;
    const Snapshot* s = &(*group[i])[next[i] - 1];
    if (!s->data) continue;
    any_data = true;
    if (s->downtime) continue;
    any_counted = true;
    const State state = s->stale ? State::kUnknown : s->state;
    if (gravity(state) > gravity(worst)) worst = state;
    if (state != State::kOk && !s->acked) {
      all_problems_acked = false;
      if (gravity(state) > gravity(worst_unacked)) worst_unacked = state;
    }
  }
  if (!any_data) return {};
  if (!any_counted) return {Slice::kDowntime, false};
  const bool outage = worst == State::kCritical || worst == State::kUnknown;
  if (worst == State::kOk) return {Slice::kOk, false};
  if (all_problems_acked) return {Slice::kAcknowledged, outage};
  switch (worst_unacked) {
    case State::kWarning: return {Slice::kWarning, outage};
    case State::kCritical: return {Slice::kCritical, outage};
    default: return {Slice::kUnknown, outage};
  }
}

// The figures of a group of checks (their timelines) over [from, to).
Availability figures_of(const std::vector<const std::vector<Snapshot>*>& group, std::int64_t from,
                        std::int64_t to, const Calendar* working) {
  Availability out;
  out.checks = static_cast<int>(group.size());
  std::vector<std::int64_t> bounds = {from, to};
  for (const auto* timeline : group) {
    for (const Snapshot& s : *timeline) {
      if (s.t > from && s.t < to) bounds.push_back(s.t);
    }
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());

  std::vector<std::size_t> next(group.size(), 0);  // first snapshot after the instant
  std::int64_t outage = 0;
  bool in_outage = false;
  const auto end_outage = [&] {
    if (in_outage && outage > 0) {
      ++out.outages;
      out.outage_ms += outage;
      out.longest_outage_ms = std::max(out.longest_outage_ms, outage);
    }
    in_outage = false;
    outage = 0;
  };
  for (std::size_t b = 0; b + 1 < bounds.size(); ++b) {
    const std::int64_t x = bounds[b], y = bounds[b + 1];
    for (std::size_t i = 0; i < group.size(); ++i) {
      const auto& timeline = *group[i];
      while (next[i] < timeline.size() && timeline[next[i]].t <= x) ++next[i];
    }
    const Combined c = combine(group, next);
    const std::int64_t weight = working ? working->working_ms_between(x, y) : y - x;
    out.ms[static_cast<std::size_t>(c.slice)] += weight;
    if (c.outage) {
      in_outage = true;
      outage += weight;
    } else {
      end_outage();
    }
  }
  end_outage();
  return out;
}

std::string family_of(const std::string& check_id) {
  const std::string prefix = check_id.substr(0, check_id.find('/'));
  for (const auto& f : kAvailabilityFamilies) {
    if (prefix == f.prefix) return f.name;
  }
  return {};
}

}  // namespace

AvailabilityReport make_availability_report(const HistoryData& data, Period period,
                                            std::string period_label, const Calendar* working,
                                            std::string calendar_name, std::int64_t now_ms,
                                            const std::string& site_filter) {
  AvailabilityReport r;
  r.period = std::move(period);
  r.period_label = std::move(period_label);
  r.calendar = std::move(calendar_name);
  r.generated_ms = now_ms;
  r.site_filter = site_filter;
  const std::int64_t from = r.period.from_ms(), to = r.period.to_ms();
  r.span_ms = working ? working->working_ms_between(from, to) : to - from;

  std::set<std::string> sites;
  std::map<std::string, std::int64_t> first_seen;
  for (const auto& a : data.agents) {
    sites.insert(a.site);
    first_seen[a.id] = a.first_seen_ms;
  }
  // site -> family -> the timelines of its checks
  std::map<std::string, std::map<std::string, std::vector<std::vector<Snapshot>>>> timelines;
  for (const auto& h : data.checks) {
    const std::string family = family_of(h.state.last.check);
    if (family.empty()) continue;
    sites.insert(h.state.site);
    timelines[h.state.site][family].push_back(check_timeline(h, first_seen[h.state.agent]));
  }
  for (const auto& site : sites) {
    if (!site_filter.empty() && site != site_filter) continue;
    AvailabilitySite line{.site = site};
    std::vector<const std::vector<Snapshot>*> all;
    for (const auto& f : kAvailabilityFamilies) {
      std::vector<const std::vector<Snapshot>*> group;
      for (const auto& t : timelines[site][f.name]) group.push_back(&t);
      all.insert(all.end(), group.begin(), group.end());
      line.families.push_back({f.name, figures_of(group, from, to, working)});
    }
    line.total = figures_of(all, from, to, working);
    r.overall.add(line.total);
    r.sites.push_back(std::move(line));
  }
  return r;
}

}  // namespace vigie::collector
