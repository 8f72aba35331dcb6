#include "collector/report/backup.hpp"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <algorithm>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>

namespace vigie::collector {

std::string_view site_health_name(SiteHealth health) {
  switch (health) {
    case SiteHealth::kFailing: return "failing";
    case SiteHealth::kAtRisk: return "at_risk";
    case SiteHealth::kNoData: return "no_data";
    case SiteHealth::kHealthy: return "healthy";
  }
  return "no_data";
}

std::string_view day_state_name(DayState state) {
  switch (state) {
    case DayState::kNoData: return "no_data";
    case DayState::kOk: return "ok";
    case DayState::kUnknown: return "unknown";
    case DayState::kWarning: return "warning";
    case DayState::kCritical: return "critical";
  }
  return "no_data";
}

namespace {

using Clock = std::chrono::system_clock;
using Ms = std::chrono::milliseconds;

Result<cctz::time_zone> zone_named(const std::string& name) {
  if (name.empty() || name == "localtime") return cctz::local_time_zone();
  cctz::time_zone tz;
  if (!cctz::load_time_zone(name, &tz))
    return Status::invalid("--tz \"" + name + "\": unknown time zone (e.g. Europe/Paris, UTC)");
  return tz;
}

// The name of the machine's zone, for the reader: TZ, else /etc/timezone (Debian
// keeps it), else "localtime" (what cctz calls /etc/localtime).
std::string local_zone_name() {
  if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0')
    return tz[0] == ':' ? std::string(tz + 1) : std::string(tz);
  std::ifstream in("/etc/timezone");
  std::string name;
  if (in && std::getline(in, name) && !name.empty()) return name;
  return "localtime";
}

Day to_day(const cctz::civil_day& d) {
  const int wd = static_cast<int>(cctz::get_weekday(d));  // cctz: monday == 0
  return {static_cast<int>(d.year()), d.month(), d.day(), wd};
}

std::int64_t start_of(const cctz::civil_day& d, const cctz::time_zone& tz) {
  const auto tp = cctz::convert(cctz::civil_second(d), tz);
  return std::chrono::duration_cast<Ms>(tp.time_since_epoch()).count();
}

DayState day_state_of(State s) {
  switch (s) {
    case State::kOk: return DayState::kOk;
    case State::kWarning: return DayState::kWarning;
    case State::kCritical: return DayState::kCritical;
    case State::kUnknown: return DayState::kUnknown;
  }
  return DayState::kUnknown;
}

DayState worse(DayState a, DayState b) {
  return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

std::optional<double> metric_value(const CheckResult& r, std::string_view label) {
  for (const auto& m : r.metrics)
    if (m.label == label && m.value) return m.value;
  return std::nullopt;
}

// Replays the check's hard states over the period and marks each day.
void fill_days(CheckLine& line, const CheckHistory& h, const Period& p, std::int64_t known_from) {
  const std::size_t n = p.days.size();
  line.days.assign(n, DayState::kNoData);
  const std::int64_t from = p.from_ms();
  const std::int64_t to = p.to_ms();
  State hard = State::kOk;
  bool stale = false;
  for (const Event& e : h.events) {
    if (e.ts_ms < from) known_from = std::min(known_from, e.ts_ms);
  }
  std::int64_t t = from;
  auto mark = [&](std::int64_t a, std::int64_t b, State s, bool is_stale) {
    a = std::max(a, known_from);
    if (b <= a) return;
    if (!is_stale) line.reported = true;
    const DayState ds = is_stale ? DayState::kUnknown : day_state_of(s);
    for (std::size_t d = 0; d < n; ++d) {
      if (p.starts_ms[d + 1] <= a || p.starts_ms[d] >= b) continue;
      line.days[d] = worse(line.days[d], ds);
    }
  };
  for (const Event& e : h.events) {
    if (e.ts_ms >= from) {
      // The first event of a check that appeared in the period: it was known from then.
      if (known_from > e.ts_ms) known_from = e.ts_ms;
      const std::int64_t at = std::min(std::max(t, e.ts_ms), to);
      mark(t, at, hard, stale);
      t = at;
    }
    switch (e.kind) {
      case EventKind::kState:
        if (e.type == StateType::kHard) hard = e.to;
        break;
      case EventKind::kStale: stale = true; break;
      case EventKind::kFresh: stale = false; break;
      default: break;
    }
  }
  mark(t, to, hard, stale);
  for (const DayState d : line.days) {
    if (d == DayState::kNoData) continue;
    ++line.data_days;
    if (d == DayState::kOk) ++line.ok_days;
  }
}

void fill_sizes(CheckLine& line, const CheckHistory& h, const Period& p) {
  const std::size_t n = p.days.size();
  line.daily_size.assign(n, std::nullopt);
  const auto it = h.series.find("size");
  if (it != h.series.end()) {
    // A day's size: the mean of its samples, whether its points are hours or the day.
    std::vector<double> sum(n, 0);
    std::vector<std::int64_t> count(n, 0);
    std::size_t d = 0;
    for (const SeriesPoint& point : it->second) {
      while (d < n && point.ts_ms >= p.starts_ms[d + 1]) ++d;
      if (d >= n) break;
      if (point.ts_ms < p.starts_ms[d]) continue;
      sum[d] += point.avg * static_cast<double>(point.count);
      count[d] += point.count;
    }
    for (std::size_t i = 0; i < n; ++i)
      if (count[i] > 0) line.daily_size[i] = sum[i] / static_cast<double>(count[i]);
  }
  line.size_now = metric_value(h.state.last, "size");
  std::optional<double> first, last;
  for (const auto& v : line.daily_size) {
    if (!v) continue;
    if (!first) first = v;
    last = v;
  }
  if (line.size_now) last = line.size_now;
  if (!line.size_now) line.size_now = last;
  if (first && last && *first > 0) line.size_change = (*last - *first) / *first;
}

}  // namespace

Result<Period> make_period(int days, const std::string& end, const std::string& time_zone,
                           std::int64_t now_ms) {
  if (days < 1 || days > 400)
    return Status::invalid("--period: " + std::to_string(days) +
                           " days; give between 1d and 400d (events are kept 400 days)");
  auto tz = zone_named(time_zone);
  if (!tz) return tz.status();
  cctz::civil_day last;
  if (end.empty()) {
    const auto now = Clock::time_point(Ms(now_ms));
    last = cctz::civil_day(cctz::convert(std::chrono::time_point_cast<cctz::seconds>(now), *tz));
  } else {
    int y = 0, m = 0, d = 0;
    char tail = 0;
    if (std::sscanf(end.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
        d < 1 || d > 31 || y < 2000 || y > 2200)
      return Status::invalid("--end \"" + end + "\": expected a date, YYYY-MM-DD");
    last = cctz::civil_day(y, m, d);
    if (last.day() != d) return Status::invalid("--end \"" + end + "\": no such date");
  }
  Period p;
  p.time_zone = time_zone.empty() ? local_zone_name() : time_zone;
  for (int i = days; i >= 1; --i) {
    const cctz::civil_day day = last - i;
    p.days.push_back(to_day(day));
    p.starts_ms.push_back(start_of(day, *tz));
  }
  p.starts_ms.push_back(start_of(last, *tz));
  return p;
}

LocalTime local_time(const Period& period, std::int64_t ms) {
  auto tz = zone_named(period.time_zone);
  const cctz::time_zone zone = tz ? *tz : cctz::utc_time_zone();
  const auto tp = std::chrono::time_point_cast<cctz::seconds>(Clock::time_point(Ms(ms)));
  const cctz::civil_second cs = cctz::convert(tp, zone);
  return {to_day(cctz::civil_day(cs)), cs.hour(), cs.minute()};
}

HistoryQuery backup_history_query(const Period& period, const std::string& site) {
  return {.check_prefix = "backup/",
          .site = site,
          .from_ms = period.from_ms(),
          .to_ms = period.to_ms(),
          .metrics = {"size"},
          .day_zone = period.time_zone};
}

BackupReport make_backup_report(const HistoryData& data, Period period, std::int64_t now_ms,
                                const std::string& site_filter) {
  BackupReport report;
  report.period = std::move(period);
  report.generated_ms = now_ms;
  report.site_filter = site_filter;
  const Period& p = report.period;
  const std::size_t n = p.days.size();

  std::map<std::string, SiteLine> sites;
  std::map<std::string, std::int64_t> first_seen;
  for (const AgentState& a : data.agents) {
    SiteLine& site = sites[a.site];
    site.site = a.site;
    site.agents.push_back(a.id);
    first_seen[a.id] = a.first_seen_ms;
  }
  for (const CheckHistory& h : data.checks) {
    const CheckState& c = h.state;
    CheckLine line;
    line.agent = c.agent;
    line.check = c.last.check;
    line.name = c.last.name;
    line.stale = c.stale;
    line.state = c.effective_hard();
    line.summary = c.stale ? c.stale_reason + " (" + c.last.summary + ")" : c.last.summary;
    line.since_ms = c.stale ? c.stale_since_ms : c.hard_since_ms;
    line.last_result_ms = c.last.ts_ms;
    if (auto age = metric_value(c.last, "age"))
      line.last_success_ms = c.last.ts_ms - static_cast<std::int64_t>(*age * 1000.0);
    if (c.ack) line.ack = *c.ack;
    const auto seen = first_seen.find(c.agent);
    fill_days(line, h, p, seen != first_seen.end() ? seen->second : 0);
    if (c.received_ms >= p.from_ms() && c.received_ms < p.to_ms()) line.reported = true;
    fill_sizes(line, h, p);
    SiteLine& site = sites[c.site];
    site.site = c.site;
    site.checks.push_back(std::move(line));
  }

  for (auto& [name, site] : sites) {
    site.days.assign(n, DayState::kNoData);
    bool any_reported = false, all_reported = true, critical = false, no_ok = false,
         problem_now = false, bad_day = false;
    for (const CheckLine& c : site.checks) {
      for (std::size_t d = 0; d < n; ++d) site.days[d] = worse(site.days[d], c.days[d]);
      any_reported = any_reported || c.reported;
      all_reported = all_reported && c.reported;
      if (!c.reported) continue;
      critical = critical || c.state == State::kCritical;
      no_ok = no_ok || (c.data_days > 0 && c.ok_days == 0);
      problem_now = problem_now || c.state != State::kOk;
      bad_day = bad_day || c.ok_days < c.data_days;
    }
    for (const DayState d : site.days) {
      if (d == DayState::kNoData) continue;
      ++site.data_days;
      if (d == DayState::kOk) ++site.ok_days;
    }
    if (site.checks.empty() || !any_reported) site.health = SiteHealth::kNoData;
    else if (critical || no_ok) site.health = SiteHealth::kFailing;
    else if (problem_now || bad_day || !all_reported) site.health = SiteHealth::kAtRisk;
    else site.health = SiteHealth::kHealthy;
    // Worst check first inside a site too.
    std::stable_sort(site.checks.begin(), site.checks.end(),
                     [](const CheckLine& a, const CheckLine& b) {
                       if (severity(a.state) != severity(b.state))
                         return severity(a.state) > severity(b.state);
                       return a.ratio() < b.ratio();
                     });
    ++report.counts[static_cast<int>(site.health)];
    report.sites.push_back(std::move(site));
  }

  // A site without a backup check has never been seen backed up: oldest of all.
  auto oldest_success = [](const SiteLine& s) {
    std::int64_t oldest = s.checks.empty() ? 0 : std::numeric_limits<std::int64_t>::max();
    for (const CheckLine& c : s.checks) oldest = std::min(oldest, c.last_success_ms.value_or(0));
    return oldest;
  };
  std::stable_sort(report.sites.begin(), report.sites.end(),
                   [&](const SiteLine& a, const SiteLine& b) {
                     if (a.health != b.health) return a.health < b.health;
                     if (a.ratio() != b.ratio()) return a.ratio() < b.ratio();
                     const auto oa = oldest_success(a), ob = oldest_success(b);
                     if (oa != ob) return oa < ob;
                     return a.site < b.site;
                   });
  return report;
}

}  // namespace vigie::collector
