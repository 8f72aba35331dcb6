// The backup report's writers: HTML for mail clients, CSV for spreadsheets, JSON for
// scripts, Markdown for people (and the mail's plain-text part).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "collector/csv.hpp"
#include "collector/report/backup.hpp"

namespace vigie::collector {
namespace {

const char* health_label(SiteHealth h) {
  switch (h) {
    case SiteHealth::kFailing: return N_("Failing");
    case SiteHealth::kAtRisk: return N_("At risk");
    case SiteHealth::kNoData: return N_("No data");
    case SiteHealth::kHealthy: return N_("Healthy");
  }
  return N_("No data");
}

const char* state_label(State s) {
  switch (s) {
    case State::kOk: return N_("OK");
    case State::kWarning: return N_("Warning");
    case State::kCritical: return N_("Critical");
    case State::kUnknown: return N_("Unknown");
  }
  return N_("Unknown");
}

const char* day_label(DayState d) {
  switch (d) {
    case DayState::kNoData: return N_("no data");
    case DayState::kOk: return N_("backed up");
    case DayState::kUnknown: return N_("unknown");
    case DayState::kWarning: return N_("warning");
    case DayState::kCritical: return N_("failed");
  }
  return N_("no data");
}

// One character per day for text: OK, warning, critical, unknown, no data.
const char* day_symbol(DayState d) {
  switch (d) {
    case DayState::kNoData: return "·";
    case DayState::kOk: return "✓";
    case DayState::kUnknown: return "?";
    case DayState::kWarning: return "!";
    case DayState::kCritical: return "✗";
  }
  return "·";
}

const char* day_color(DayState d) {
  switch (d) {
    case DayState::kNoData: return "#e5e7eb";
    case DayState::kOk: return "#16a34a";
    case DayState::kUnknown: return "#6b7280";
    case DayState::kWarning: return "#f59e0b";
    case DayState::kCritical: return "#dc2626";
  }
  return "#e5e7eb";
}

const char* health_color(SiteHealth h) {
  switch (h) {
    case SiteHealth::kFailing: return "#dc2626";
    case SiteHealth::kAtRisk: return "#d97706";
    case SiteHealth::kNoData: return "#6b7280";
    case SiteHealth::kHealthy: return "#16a34a";
  }
  return "#6b7280";
}

const char* state_color(State s) {
  switch (s) {
    case State::kOk: return "#16a34a";
    case State::kWarning: return "#d97706";
    case State::kCritical: return "#dc2626";
    case State::kUnknown: return "#6b7280";
  }
  return "#6b7280";
}

std::string when(const BackupReport& r, const Locale& loc, std::int64_t ms) {
  const LocalTime t = local_time(r.period, ms);
  return loc.date_time(t.day, t.hour, t.minute);
}

std::string iso_local(const BackupReport& r, std::int64_t ms) {
  const LocalTime t = local_time(r.period, ms);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", t.day.year, t.day.month, t.day.day,
                t.hour, t.minute);
  return buf;
}

std::string iso_day(const Day& d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buf;
}

std::string iso_utc(std::int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string period_text(const BackupReport& r, const Locale& loc) {
  const auto& days = r.period.days;
  return loc.format(N_("from {first} to {last}"),
                    {{"first", loc.long_date(days.front())}, {"last", loc.long_date(days.back())}});
}

std::string ratio_text(const Locale& loc, int ok, int data) {
  if (data == 0) return loc.tr("no data");
  return loc.formatn("{ok}/{days} day ({percent})", "{ok}/{days} days ({percent})", data,
                     {{"ok", std::to_string(ok)},
                      {"days", std::to_string(data)},
                      {"percent", loc.percent(static_cast<double>(ok) / data)}});
}

std::string last_success_text(const BackupReport& r, const Locale& loc, const CheckLine& c) {
  return c.last_success_ms ? when(r, loc, *c.last_success_ms) : loc.tr("never");
}

std::string age_text(const BackupReport& r, const Locale& loc, const CheckLine& c) {
  return c.last_success_ms
             ? loc.duration(std::chrono::milliseconds(r.generated_ms - *c.last_success_ms))
             : "-";
}

std::string size_text(const Locale& loc, const CheckLine& c) {
  if (!c.size_now) return "-";
  std::string out = loc.size(*c.size_now);
  if (c.size_change) {
    const double pct = *c.size_change;
    out += " (";
    out += pct >= 0 ? "+" : "−";
    out += loc.percent(std::fabs(pct));
    out += ")";
  }
  return out;
}

std::string problem_text(const BackupReport& r, const Locale& loc, const CheckLine& c) {
  if (!c.problem()) return {};
  return loc.format(N_("{state} since {since}: {summary}"),
                    {{"state", loc.tr(state_label(c.state))},
                     {"since", when(r, loc, c.since_ms)},
                     {"summary", c.summary}});
}

std::string ack_text(const BackupReport& r, const Locale& loc, const CheckLine& c) {
  if (!c.ack) return {};
  return loc.format(N_("acknowledged by {author} on {when}: {comment}"),
                    {{"author", c.ack->author},
                     {"when", when(r, loc, c.ack->created_ms)},
                     {"comment", c.ack->comment}});
}

std::vector<std::pair<SiteHealth, std::string>> definitions(const Locale& loc) {
  return {
      {SiteHealth::kHealthy,
       loc.tr("every backup check of the site is OK now, and was OK every day of the period.")},
      {SiteHealth::kAtRisk,
       loc.tr("a backup check is in WARNING or UNKNOWN now, or was not OK on one day of the "
              "period, or sent nothing during the period.")},
      {SiteHealth::kFailing,
       loc.tr("a backup check is CRITICAL now (backup too old, failed or missing), or was not "
              "OK on any day of the period.")},
      {SiteHealth::kNoData,
       loc.tr("the site has no backup check, or none sent a result during the period.")},
  };
}

// --- HTML -------------------------------------------------------------------------

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// The day-by-day strip: one coloured cell per day, the date in each cell's title.
// At most `max_width` pixels wide (1 per day at least), so that a 90-day period still
// fits the mail's 820-pixel layout.
std::string strip_svg(const BackupReport& r, const Locale& loc, const std::vector<DayState>& days,
                      int height, int max_width) {
  const int n = static_cast<int>(days.size());
  const int cell = std::clamp(max_width / std::max(n, 1), 1, 22);
  const int gap = cell >= 8 ? 2 : (cell >= 4 ? 1 : 0);
  const int width = n * cell;
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                    "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + std::to_string(height) +
                    "\" role=\"img\" style=\"display:block\"><title>" + esc(loc.tr("Day by day")) +
                    "</title>";
  for (int i = 0; i < n; ++i) {
    out += "<rect x=\"" + std::to_string(i * cell) + "\" y=\"0\" width=\"" +
           std::to_string(cell - gap) + "\" height=\"" + std::to_string(height) +
           "\" rx=\"2\" fill=\"" + day_color(days[static_cast<std::size_t>(i)]) + "\"><title>" +
           esc(loc.long_date(r.period.days[static_cast<std::size_t>(i)])) + ": " +
           esc(loc.tr(day_label(days[static_cast<std::size_t>(i)]))) + "</title></rect>";
  }
  return out + "</svg>";
}

// The size of the backed-up data, one point a day.
std::string size_svg(const Locale& loc, const CheckLine& c) {
  std::vector<std::pair<int, double>> points;
  for (std::size_t i = 0; i < c.daily_size.size(); ++i)
    if (c.daily_size[i]) points.emplace_back(static_cast<int>(i), *c.daily_size[i]);
  if (points.empty()) return {};
  const int w = 120, h = 28, n = static_cast<int>(c.daily_size.size());
  double lo = points.front().second, hi = lo;
  for (const auto& p : points) {
    lo = std::min(lo, p.second);
    hi = std::max(hi, p.second);
  }
  auto x = [&](int i) { return n > 1 ? 2.0 + (w - 4.0) * i / (n - 1) : w / 2.0; };
  auto y = [&](double v) { return hi > lo ? 2.0 + (h - 4.0) * (hi - v) / (hi - lo) : h / 2.0; };
  char buf[64];
  std::string line;
  for (const auto& [i, v] : points) {
    std::snprintf(buf, sizeof buf, "%s%.1f,%.1f", line.empty() ? "" : " ", x(i), y(v));
    line += buf;
  }
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) +
                    "\" height=\"" + std::to_string(h) + "\" viewBox=\"0 0 " + std::to_string(w) +
                    " " + std::to_string(h) + "\" role=\"img\" style=\"display:block\"><title>" +
                    esc(loc.tr("Size of the backed-up data, day by day")) + "</title>" +
                    "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(w) + "\" height=\"" +
                    std::to_string(h) + "\" fill=\"#f9fafb\"/>";
  if (points.size() == 1) {
    std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#2563eb\"/>",
                  x(points[0].first), y(points[0].second));
    out += buf;
  } else {
    out +=
        "<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"" + line + "\"/>";
  }
  return out + "</svg>";
}

constexpr const char* kTd =
    "padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top;font-size:13px";
constexpr const char* kTh =
    "padding:6px 8px;border-bottom:2px solid #d1d5db;text-align:left;font-size:12px;"
    "color:#4b5563;font-weight:bold";

}  // namespace

std::string render_html(const BackupReport& r, const Locale& loc) {
  std::string o;
  o.reserve(4096 + r.sites.size() * 3000);
  const std::string title = loc.tr("Backup health report");
  o += "<!DOCTYPE html>\n<html lang=\"" + std::string(loc.code()) +
       "\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
       esc(title) + "</title>\n</head>\n";
  o += "<body style=\"margin:0;padding:0;background:#f3f4f6;color:#111827;"
       "font-family:Arial,Helvetica,sans-serif\">\n";
  o += "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
       "style=\"background:#f3f4f6\"><tr><td align=\"center\" style=\"padding:16px\">\n";
  o += "<table role=\"presentation\" width=\"820\" cellpadding=\"0\" cellspacing=\"0\" "
       "style=\"width:820px;max-width:100%;background:#ffffff;border:1px solid #e5e7eb\">\n";

  // Header.
  o += "<tr><td style=\"padding:20px 24px;background:#1e3a8a;color:#ffffff\">"
       "<div style=\"font-size:22px;font-weight:bold\">" +
       esc(title) +
       "</div>"
       "<div style=\"font-size:14px;margin-top:4px\">" +
       esc(period_text(r, loc)) +
       "</div>"
       "<div style=\"font-size:12px;margin-top:4px;color:#c7d2fe\">" +
       esc(loc.format(N_("Written on {when}"), {{"when", when(r, loc, r.generated_ms)}})) +
       (r.site_filter.empty()
            ? std::string()
            : " — " + esc(loc.format(N_("site {site}"), {{"site", r.site_filter}}))) +
       "</div></td></tr>\n";

  // Summary.
  const int total = static_cast<int>(r.sites.size());
  o += "<tr><td style=\"padding:16px 24px\"><div style=\"font-size:17px;font-weight:bold;"
       "margin-bottom:8px\">" +
       esc(loc.tr("Summary")) + " — " +
       esc(loc.formatn("{n} site", "{n} sites", total, {{"n", loc.integer(total)}})) +
       "</div>\n"
       "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"6\"><tr>";
  for (const SiteHealth h :
       {SiteHealth::kHealthy, SiteHealth::kAtRisk, SiteHealth::kFailing, SiteHealth::kNoData}) {
    o += "<td width=\"25%\" style=\"border:1px solid #e5e7eb;border-top:4px solid " +
         std::string(health_color(h)) +
         ";padding:10px;text-align:center\">"
         "<div style=\"font-size:26px;font-weight:bold;color:" +
         health_color(h) + "\">" + loc.integer(r.counts[static_cast<int>(h)]) +
         "</div><div style=\"font-size:13px\">" + esc(loc.tr(health_label(h))) + "</div></td>";
  }
  o += "</tr></table>\n<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
       "style=\"margin-top:10px;font-size:12px;color:#374151\">";
  for (const auto& [h, text] : definitions(loc)) {
    o += "<tr><td style=\"padding:2px 8px 2px 0;white-space:nowrap;vertical-align:top;"
         "font-weight:bold;color:" +
         std::string(health_color(h)) + "\">" + esc(loc.tr(health_label(h))) +
         "</td><td style=\"padding:2px 0\">" + esc(text) + "</td></tr>";
  }
  o += "</table>\n<div style=\"font-size:12px;color:#374151;margin-top:8px\">" +
       esc(loc.tr("Days:")) + " ";
  for (const DayState d : {DayState::kOk, DayState::kWarning, DayState::kCritical,
                           DayState::kUnknown, DayState::kNoData}) {
    o += "<span style=\"display:inline-block;width:10px;height:10px;background:" +
         std::string(day_color(d)) + ";margin:0 3px 0 8px\"></span>" + esc(loc.tr(day_label(d)));
  }
  o += "<br>" +
       esc(loc.tr("A day is OK when the check was OK all the day; the success ratio "
                  "counts OK days among the days with data.")) +
       "</div></td></tr>\n";

  // Sites, worst first.
  for (const SiteLine& s : r.sites) {
    o += "<tr><td style=\"padding:12px 24px 4px 24px;border-top:1px solid #e5e7eb\">"
         "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr>"
         "<td style=\"font-size:16px;font-weight:bold\">" +
         esc(s.site) +
         " <span style=\"font-size:12px;color:#ffffff;background:" + health_color(s.health) +
         ";padding:2px 8px;border-radius:10px;vertical-align:middle\">" +
         esc(loc.tr(health_label(s.health))) +
         "</span></td>"
         "<td align=\"right\" style=\"font-size:12px;color:#374151\">" +
         esc(ratio_text(loc, s.ok_days, s.data_days)) +
         "</td></tr></table>"
         "<div style=\"margin-top:6px\">" +
         strip_svg(r, loc, s.days, 14, 560) + "</div>";
    if (s.checks.empty()) {
      o += "<div style=\"font-size:13px;color:#6b7280;margin:6px 0 8px 0\">" +
           esc(loc.tr("No backup check on this site.")) + "</div></td></tr>\n";
      continue;
    }
    o += "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"margin:8px 0 8px 0;"
         "border-collapse:collapse\"><tr>";
    for (const char* h : {N_("Backup"), N_("State"), N_("Last success"), N_("Age"), N_("Success"),
                          N_("Data size"), N_("Problem")})
      o += "<th style=\"" + std::string(kTh) + "\">" + esc(loc.tr(h)) + "</th>";
    o += "</tr>\n";
    for (const CheckLine& c : s.checks) {
      o += "<tr><td style=\"" + std::string(kTd) + "\"><b>" + esc(c.name) +
           "</b><br><span style=\"color:#6b7280;font-size:11px\">" + esc(c.check) + " · " +
           esc(c.agent) + "</span></td>";
      o += "<td style=\"" + std::string(kTd) + ";color:" + state_color(c.state) +
           ";font-weight:bold\">" + esc(loc.tr(state_label(c.state))) + "</td>";
      o += "<td style=\"" + std::string(kTd) + "\">" + esc(last_success_text(r, loc, c)) + "</td>";
      o += "<td style=\"" + std::string(kTd) + ";white-space:nowrap\">" + esc(age_text(r, loc, c)) +
           "</td>";
      o += "<td style=\"" + std::string(kTd) + "\">" +
           esc(ratio_text(loc, c.ok_days, c.data_days)) + "<div style=\"margin-top:3px\">" +
           strip_svg(r, loc, c.days, 8, 160) + "</div></td>";
      o += "<td style=\"" + std::string(kTd) + ";white-space:nowrap\">" + esc(size_text(loc, c)) +
           "<div style=\"margin-top:3px\">" + size_svg(loc, c) + "</div></td>";
      std::string problem = esc(problem_text(r, loc, c));
      if (c.ack) {
        problem +=
            "<div style=\"margin-top:3px;color:#1d4ed8\">" + esc(ack_text(r, loc, c)) + "</div>";
      }
      o += "<td style=\"" + std::string(kTd) + "\">" + (problem.empty() ? "—" : problem) +
           "</td></tr>\n";
    }
    o += "</table></td></tr>\n";
  }
  if (r.sites.empty()) {
    o +=
        "<tr><td style=\"padding:16px 24px\">" + esc(loc.tr("No site to report.")) + "</td></tr>\n";
  }
  o += "<tr><td style=\"padding:12px 24px;font-size:11px;color:#6b7280;border-top:1px solid "
       "#e5e7eb\">" +
       esc(loc.format(N_("vigie — times are in the {zone} time zone."),
                      {{"zone", r.period.time_zone}})) +
       "</td></tr>\n</table>\n</td></tr></table>\n</body>\n</html>\n";
  return o;
}

// --- CSV --------------------------------------------------------------------------

std::string render_csv(const BackupReport& r, const Locale& loc, char sep) {
  std::string o = "\xEF\xBB\xBF";  // UTF-8 byte-order mark: spreadsheets then read UTF-8
  std::vector<std::string> header;
  for (const char* h :
       {N_("Site"), N_("Site status"), N_("Agent"), N_("Check"), N_("Name"), N_("State"),
        N_("Last success"), N_("Age (hours)"), N_("OK days"), N_("Days with data"),
        N_("Success ratio (%)"), N_("Data size (bytes)"), N_("Size change (%)"),
        N_("Problem since"), N_("Problem"), N_("Acknowledged by"), N_("Acknowledgement")})
    header.push_back(loc.tr(h));
  for (const Day& d : r.period.days) header.push_back(iso_day(d));
  auto line = [&](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) o += sep;
      o += spreadsheet_field(fields[i], sep);
    }
    o += "\r\n";  // RFC 4180
  };
  line(header);
  for (const SiteLine& s : r.sites) {
    const std::string health = loc.tr(health_label(s.health));
    if (s.checks.empty()) {
      std::vector<std::string> f = {s.site, health};
      f.resize(header.size());
      for (std::size_t i = 0; i < r.period.days.size(); ++i)
        f[17 + i] = loc.tr(day_label(DayState::kNoData));
      line(f);
      continue;
    }
    for (const CheckLine& c : s.checks) {
      std::vector<std::string> f = {
          s.site,
          health,
          c.agent,
          c.check,
          c.name,
          loc.tr(state_label(c.state)),
          c.last_success_ms ? iso_local(r, *c.last_success_ms) : std::string(),
          c.last_success_ms
              ? spreadsheet_number((r.generated_ms - *c.last_success_ms) / 3.6e6, 1, sep)
              : std::string(),
          std::to_string(c.ok_days),
          std::to_string(c.data_days),
          c.data_days > 0 ? spreadsheet_number(c.ratio() * 100.0, 1, sep) : std::string(),
          c.size_now ? spreadsheet_number(*c.size_now, 0, sep) : std::string(),
          c.size_change ? spreadsheet_number(*c.size_change * 100.0, 1, sep) : std::string(),
          c.problem() ? iso_local(r, c.since_ms) : std::string(),
          c.problem() ? c.summary : std::string(),
          c.ack ? c.ack->author : std::string(),
          c.ack ? c.ack->comment : std::string(),
      };
      for (const DayState d : c.days) f.push_back(loc.tr(day_label(d)));
      line(f);
    }
  }
  return o;
}

// --- JSON -------------------------------------------------------------------------

std::string render_json(const BackupReport& r, const Locale& loc) {
  using nlohmann::json;
  json days = json::array();
  for (const Day& d : r.period.days) days.push_back(iso_day(d));
  json summary = {{"sites", r.sites.size()}};
  for (const SiteHealth h :
       {SiteHealth::kHealthy, SiteHealth::kAtRisk, SiteHealth::kFailing, SiteHealth::kNoData})
    summary[std::string(site_health_name(h))] = r.counts[static_cast<int>(h)];
  json sites = json::array();
  for (const SiteLine& s : r.sites) {
    json checks = json::array();
    for (const CheckLine& c : s.checks) {
      json day_states = json::array();
      for (const DayState d : c.days) day_states.push_back(day_state_name(d));
      json sizes = json::array();
      for (const auto& v : c.daily_size) sizes.push_back(v ? json(*v) : json(nullptr));
      json check = {
          {"agent", c.agent},
          {"check", c.check},
          {"name", c.name},
          {"state", state_name(c.state)},
          {"stale", c.stale},
          {"summary", c.summary},
          {"since_ms", c.since_ms},
          {"last_result_ms", c.last_result_ms},
          {"last_success_ms", c.last_success_ms ? json(*c.last_success_ms) : json(nullptr)},
          {"last_success", c.last_success_ms ? json(iso_utc(*c.last_success_ms)) : json(nullptr)},
          {"age_s",
           c.last_success_ms ? json((r.generated_ms - *c.last_success_ms) / 1000) : json(nullptr)},
          {"ok_days", c.ok_days},
          {"data_days", c.data_days},
          {"success_ratio", c.data_days > 0 ? json(c.ratio()) : json(nullptr)},
          {"reported", c.reported},
          {"days", std::move(day_states)},
          {"size_bytes", c.size_now ? json(*c.size_now) : json(nullptr)},
          {"size_change", c.size_change ? json(*c.size_change) : json(nullptr)},
          {"daily_size_bytes", std::move(sizes)}};
      if (c.ack) {
        check["ack"] = {{"author", c.ack->author},
                        {"comment", c.ack->comment},
                        {"created_ms", c.ack->created_ms},
                        {"sticky", c.ack->sticky}};
      } else {
        check["ack"] = nullptr;
      }
      checks.push_back(std::move(check));
    }
    json day_states = json::array();
    for (const DayState d : s.days) day_states.push_back(day_state_name(d));
    sites.push_back({{"site", s.site},
                     {"health", site_health_name(s.health)},
                     {"agents", s.agents},
                     {"ok_days", s.ok_days},
                     {"data_days", s.data_days},
                     {"success_ratio", s.data_days > 0 ? json(s.ratio()) : json(nullptr)},
                     {"days", std::move(day_states)},
                     {"checks", std::move(checks)}});
  }
  json out = {{"report", "backup"},
              {"lang", loc.code()},
              {"generated_ms", r.generated_ms},
              {"generated", iso_utc(r.generated_ms)},
              {"time_zone", r.period.time_zone},
              {"site_filter", r.site_filter.empty() ? json(nullptr) : json(r.site_filter)},
              {"period",
               {{"from_ms", r.period.from_ms()},
                {"to_ms", r.period.to_ms()},
                {"from", iso_utc(r.period.from_ms())},
                {"to", iso_utc(r.period.to_ms())},
                {"days", std::move(days)}}},
              {"summary", std::move(summary)},
              {"sites", std::move(sites)}};
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// --- Markdown ---------------------------------------------------------------------

namespace {

std::string md(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '|' || c == '\\' || c == '*' || c == '_' || c == '`' || c == '[' || c == ']' ||
        c == '<' || c == '>')
      out += '\\';
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

std::string symbols(const std::vector<DayState>& days) {
  std::string out;
  for (const DayState d : days) out += day_symbol(d);
  return out;
}

}  // namespace

std::string render_markdown(const BackupReport& r, const Locale& loc) {
  std::string o = "# " + md(loc.tr("Backup health report")) + "\n\n";
  o += md(period_text(r, loc)) + ". " +
       md(loc.format(N_("Written on {when}"), {{"when", when(r, loc, r.generated_ms)}})) + ".";
  if (!r.site_filter.empty())
    o += " " + md(loc.format(N_("site {site}"), {{"site", r.site_filter}})) + ".";
  o += "\n\n## " + md(loc.tr("Summary")) + "\n\n";
  o += "| " + md(loc.tr("Status")) + " | " + md(loc.tr("Sites")) + " |\n| --- | ---: |\n";
  for (const SiteHealth h :
       {SiteHealth::kHealthy, SiteHealth::kAtRisk, SiteHealth::kFailing, SiteHealth::kNoData})
    o += "| " + md(loc.tr(health_label(h))) + " | " + loc.integer(r.counts[static_cast<int>(h)]) +
         " |\n";
  o += "| **" + md(loc.tr("Total")) + "** | **" +
       loc.integer(static_cast<long long>(r.sites.size())) + "** |\n\n";
  for (const auto& [h, text] : definitions(loc))
    o += "- " +
         loc.format(N_("{label}: {text}"),
                    {{"label", "**" + md(loc.tr(health_label(h))) + "**"}, {"text", md(text)}}) +
         "\n";
  o += "\n" + md(loc.tr("Days, oldest first:")) + " ✓ " + md(loc.tr("backed up")) + ", ! " +
       md(loc.tr("warning")) + ", ✗ " + md(loc.tr("failed")) + ", ? " + md(loc.tr("unknown")) +
       ", · " + md(loc.tr("no data")) + ".\n";
  o += "\n## " + md(loc.tr("Sites, worst first")) + "\n";
  for (const SiteLine& s : r.sites) {
    o += "\n### " + md(s.site) + " — " + md(loc.tr(health_label(s.health))) + "\n\n";
    o += "`" + symbols(s.days) + "` " + md(ratio_text(loc, s.ok_days, s.data_days)) + "\n\n";
    if (s.checks.empty()) {
      o += md(loc.tr("No backup check on this site.")) + "\n";
      continue;
    }
    o += "| " + md(loc.tr("Backup")) + " | " + md(loc.tr("State")) + " | " +
         md(loc.tr("Last success")) + " | " + md(loc.tr("Age")) + " | " + md(loc.tr("Success")) +
         " | " + md(loc.tr("Data size")) + " | " + md(loc.tr("Problem")) + " |\n";
    o += "| --- | --- | --- | --- | --- | --- | --- |\n";
    for (const CheckLine& c : s.checks) {
      std::string problem = problem_text(r, loc, c);
      if (c.ack) problem += (problem.empty() ? "" : "; ") + ack_text(r, loc, c);
      o += "| " + md(c.name) + " (" + md(c.check) + ", " + md(c.agent) + ") | " +
           md(loc.tr(state_label(c.state))) + " | " + md(last_success_text(r, loc, c)) + " | " +
           md(age_text(r, loc, c)) + " | `" + symbols(c.days) + "` " +
           md(ratio_text(loc, c.ok_days, c.data_days)) + " | " + md(size_text(loc, c)) + " | " +
           (problem.empty() ? "—" : md(problem)) + " |\n";
    }
  }
  if (r.sites.empty()) o += "\n" + md(loc.tr("No site to report.")) + "\n";
  return o;
}

std::string report_subject(const BackupReport& r, const Locale& loc) {
  const int failing = r.counts[static_cast<int>(SiteHealth::kFailing)];
  const int risk = r.counts[static_cast<int>(SiteHealth::kAtRisk)];
  const int none = r.counts[static_cast<int>(SiteHealth::kNoData)];
  return loc.format(N_("Backups: {failing} failing, {at_risk} at risk, {no_data} without data, "
                       "{sites} sites ({from} to {to})"),
                    {{"failing", loc.integer(failing)},
                     {"at_risk", loc.integer(risk)},
                     {"no_data", loc.integer(none)},
                     {"sites", loc.integer(static_cast<long long>(r.sites.size()))},
                     {"from", loc.short_date(r.period.days.front())},
                     {"to", loc.short_date(r.period.days.back())}});
}

}  // namespace vigie::collector
