// The availability report's writers (availability.hpp): HTML for the mail and the web,
// CSV for spreadsheets, JSON for scripts, Markdown for the plain-text part.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "collector/csv.hpp"
#include "collector/report/availability.hpp"

namespace vigie::collector {
namespace {

using Ms = std::chrono::milliseconds;

const char* family_label(std::string_view family) {
  if (family == "firewall") return N_("Firewall");
  if (family == "wifi") return N_("Wi-Fi");
  if (family == "backup") return N_("Backup");
  if (family == "antivirus") return N_("Antivirus");
  if (family == "network") return N_("Network");
  return N_("All");
}

const char* slice_label(Slice s) {
  switch (s) {
    case Slice::kOk: return N_("OK");
    case Slice::kWarning: return N_("Warning");
    case Slice::kCritical: return N_("Critical");
    case Slice::kUnknown: return N_("Unknown");
    case Slice::kAcknowledged: return N_("Acknowledged");
    case Slice::kDowntime: return N_("Downtime");
    case Slice::kNoData: return N_("No data");
  }
  return N_("No data");
}

constexpr Slice kAllSlices[] = {Slice::kOk,      Slice::kWarning,      Slice::kCritical,
                                Slice::kUnknown, Slice::kAcknowledged, Slice::kDowntime,
                                Slice::kNoData};

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

std::string when(const AvailabilityReport& r, const Locale& loc, std::int64_t ms) {
  const LocalTime t = local_time(r.period, ms);
  return loc.date_time(t.day, t.hour, t.minute);
}

std::string period_text(const AvailabilityReport& r, const Locale& loc) {
  const auto& days = r.period.days;
  return loc.format(N_("from {first} to {last}"),
                    {{"first", loc.long_date(days.front())}, {"last", loc.long_date(days.back())}});
}

// "over the whole period" / "over the working hours of calendar desk (180 h)".
std::string scope_text(const AvailabilityReport& r, const Locale& loc) {
  if (r.calendar.empty()) return loc.tr("counted over the whole period");
  return loc.format(N_("counted over the working hours of calendar {calendar} ({time})"),
                    {{"calendar", r.calendar}, {"time", loc.duration(Ms(r.span_ms))}});
}

std::string ratio_text(const Locale& loc, const Availability& a) {
  const auto ratio = a.ratio();
  if (!ratio) return loc.tr("no data");
  // Two decimals: 99.6 % and 99.95 % are different promises.
  std::string text = loc.number(*ratio * 100, 2);
  return loc.lang() == Lang::kFrench ? text + "\u00a0%" : text + "%";
}

std::string duration_text(const Locale& loc, std::int64_t ms) {
  return ms == 0 ? std::string("0") : loc.duration(Ms(ms));
}

std::string outages_text(const Locale& loc, const Availability& a) {
  if (a.outages == 0) return "0";
  return loc.formatn("{count} ({total}, longest {longest})", "{count} ({total}, longest {longest})",
                     a.outages,
                     {{"count", loc.integer(a.outages)},
                      {"total", loc.duration(Ms(a.outage_ms))},
                      {"longest", loc.duration(Ms(a.longest_outage_ms))}});
}

std::vector<std::string> definitions(const Locale& loc) {
  return {
      loc.tr("Availability: time OK divided by the time counted (OK, warning, critical, "
             "unknown and acknowledged). Downtime and time without data are left out."),
      loc.tr("A check that sends nothing (stale) counts as unknown, never as OK."),
      loc.tr("A family of a site is as bad as its worst check; acknowledged: every failing "
             "check was acknowledged; downtime: every check was in a planned downtime."),
      loc.tr("Outage: a stretch of critical or unknown time, acknowledged or not."),
  };
}

std::string esc(std::string_view s) {
  std::string out;
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

std::string md(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '|' || c == '\\' || c == '*' || c == '_' || c == '`' || c == '[' || c == ']' ||
        c == '<' || c == '>')
      out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

const char* ratio_color(const Availability& a) {
  const auto ratio = a.ratio();
  if (!ratio) return "#6b7280";
  if (*ratio >= 0.995) return "#15803d";
  if (*ratio >= 0.98) return "#b45309";
  return "#b91c1c";
}

// The rows of a site: its families, then its total.
template <typename Row>
void for_each_row(const AvailabilitySite& site, Row row) {
  for (const auto& line : site.families) row(std::string_view(line.family), line.figures);
  row(std::string_view("all"), site.total);
}

}  // namespace

std::string render_availability_html(const AvailabilityReport& r, const Locale& loc) {
  const std::string title = loc.tr("Availability report");
  std::string o = "<!DOCTYPE html>\n<html lang=\"" + std::string(loc.code()) +
                  "\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + esc(title) +
                  "</title>\n</head>\n<body style=\"font-family:Arial,Helvetica,sans-serif;"
                  "color:#111827;margin:16px\">\n";
  o += "<h1 style=\"font-size:22px\">" + esc(title) + "</h1>\n";
  o += "<p>" + esc(period_text(r, loc)) + ", " + esc(scope_text(r, loc)) + ". " +
       esc(loc.format(N_("Written on {when}"), {{"when", when(r, loc, r.generated_ms)}})) +
       "</p>\n";
  o += "<p style=\"font-size:18px\"><b>" + esc(loc.tr("All sites")) +
       "</b>: " + "<span style=\"color:" + ratio_color(r.overall) + "\">" +
       esc(ratio_text(loc, r.overall)) + "</span> — " + esc(loc.tr("Outages")) + ": " +
       esc(outages_text(loc, r.overall)) + "</p>\n";
  o += "<table cellpadding=\"4\" cellspacing=\"0\" style=\"border-collapse:collapse;"
       "font-size:13px\">\n<tr style=\"background:#1e3a8a;color:#ffffff\"><th align=\"left\">" +
       esc(loc.tr("Site")) + "</th><th align=\"left\">" + esc(loc.tr("Family")) +
       "</th><th align=\"right\">" + esc(loc.tr("Availability")) + "</th>";
  for (const Slice s : kAllSlices)
    o += "<th align=\"right\">" + esc(loc.tr(slice_label(s))) + "</th>";
  o += "<th align=\"left\">" + esc(loc.tr("Outages")) + "</th></tr>\n";
  for (const auto& site : r.sites) {
    for_each_row(site, [&](std::string_view family, const Availability& a) {
      const bool total = family == "all";
      o += std::string("<tr style=\"border-top:1px solid #e5e7eb") +
           (total ? ";font-weight:bold;background:#f3f4f6" : "") + "\"><td>" + esc(site.site) +
           "</td><td>" + esc(loc.tr(family_label(family))) +
           "</td><td align=\"right\" style=\"color:" + ratio_color(a) + "\">" +
           esc(ratio_text(loc, a)) + "</td>";
      for (const Slice s : kAllSlices)
        o += "<td align=\"right\">" + esc(duration_text(loc, a.time(s))) + "</td>";
      o += "<td>" + esc(outages_text(loc, a)) + "</td></tr>\n";
    });
  }
  o += "</table>\n<h2 style=\"font-size:16px\">" + esc(loc.tr("Definitions")) + "</h2>\n<ul>\n";
  for (const auto& d : definitions(loc)) o += "<li>" + esc(d) + "</li>\n";
  o += "</ul>\n</body>\n</html>\n";
  return o;
}

std::string render_availability_csv(const AvailabilityReport& r, const Locale& loc, char sep) {
  std::string o = "\xEF\xBB\xBF";
  std::vector<std::string> header = {loc.tr("Site"), loc.tr("Family"), loc.tr("Availability (%)")};
  for (const Slice s : kAllSlices)
    header.push_back(loc.format(N_("{state} (h)"), {{"state", loc.tr(slice_label(s))}}));
  header.push_back(loc.tr("Outages"));
  header.push_back(loc.tr("Outage time (h)"));
  header.push_back(loc.tr("Longest outage (h)"));
  for (std::size_t i = 0; i < header.size(); ++i)
    o += (i ? std::string(1, sep) : std::string()) + spreadsheet_field(header[i], sep);
  o += "\r\n";
  const auto hours = [&](std::int64_t ms) { return spreadsheet_number(ms / 3'600'000.0, 3, sep); };
  for (const auto& site : r.sites) {
    for_each_row(site, [&](std::string_view family, const Availability& a) {
      const auto ratio = a.ratio();
      o += spreadsheet_field(site.site, sep) + sep +
           spreadsheet_field(loc.tr(family_label(family)), sep) + sep +
           (ratio ? spreadsheet_number(*ratio * 100, 3, sep) : std::string());
      for (const Slice s : kAllSlices) o += sep + hours(a.time(s));
      o += sep + std::to_string(a.outages) + sep + hours(a.outage_ms) + sep +
           hours(a.longest_outage_ms) + "\r\n";
    });
  }
  return o;
}

std::string render_availability_json(const AvailabilityReport& r, const Locale& loc) {
  using nlohmann::json;
  const auto figures = [](const Availability& a) {
    json times = json::object();
    for (const Slice s : kAllSlices) times[std::string(slice_name(s))] = a.time(s);
    const auto ratio = a.ratio();
    return json{{"availability", ratio ? json(*ratio) : json(nullptr)},
                {"counted_ms", a.counted_ms()},
                {"time_ms", times},
                {"outages", a.outages},
                {"outage_ms", a.outage_ms},
                {"longest_outage_ms", a.longest_outage_ms},
                {"checks", a.checks}};
  };
  json sites = json::array();
  for (const auto& site : r.sites) {
    json families = json::object();
    for (const auto& line : site.families) families[line.family] = figures(line.figures);
    sites.push_back({{"site", site.site}, {"families", families}, {"total", figures(site.total)}});
  }
  const json doc = {{"report", "availability"},
                    {"lang", std::string(loc.code())},
                    {"period",
                     {{"label", r.period_label},
                      {"first_day", iso_day(r.period.days.front())},
                      {"last_day", iso_day(r.period.days.back())},
                      {"from", r.period.from_ms()},
                      {"to", r.period.to_ms()},
                      {"time_zone", r.period.time_zone}}},
                    {"calendar", r.calendar.empty() ? json(nullptr) : json(r.calendar)},
                    {"counted", r.calendar.empty() ? "whole_period" : "working_hours"},
                    {"span_ms", r.span_ms},
                    {"generated", r.generated_ms},
                    {"generated_utc", iso_utc(r.generated_ms)},
                    {"site_filter", r.site_filter},
                    {"overall", figures(r.overall)},
                    {"sites", sites}};
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string render_availability_markdown(const AvailabilityReport& r, const Locale& loc) {
  std::string o = "# " + md(loc.tr("Availability report")) + "\n\n";
  o += md(period_text(r, loc)) + ", " + md(scope_text(r, loc)) + ". " +
       md(loc.format(N_("Written on {when}"), {{"when", when(r, loc, r.generated_ms)}})) + "\n\n";
  o += "**" + md(loc.tr("All sites")) + "**: " + md(ratio_text(loc, r.overall)) + " — " +
       md(loc.tr("Outages")) + ": " + md(outages_text(loc, r.overall)) + "\n\n";
  o += "| " + md(loc.tr("Site")) + " | " + md(loc.tr("Family")) + " | " +
       md(loc.tr("Availability")) + " |";
  for (const Slice s : kAllSlices) o += " " + md(loc.tr(slice_label(s))) + " |";
  o += " " + md(loc.tr("Outages")) + " |\n| --- | --- | ---: |";
  for (std::size_t i = 0; i < std::size(kAllSlices); ++i) o += " ---: |";
  o += " --- |\n";
  for (const auto& site : r.sites) {
    for_each_row(site, [&](std::string_view family, const Availability& a) {
      const std::string b = family == "all" ? "**" : "";
      o += "| " + md(site.site) + " | " + b + md(loc.tr(family_label(family))) + b + " | " + b +
           md(ratio_text(loc, a)) + b + " |";
      for (const Slice s : kAllSlices) o += " " + md(duration_text(loc, a.time(s))) + " |";
      o += " " + md(outages_text(loc, a)) + " |\n";
    });
  }
  o += "\n## " + md(loc.tr("Definitions")) + "\n\n";
  for (const auto& d : definitions(loc)) o += "- " + md(d) + "\n";
  return o;
}

std::string availability_subject(const AvailabilityReport& r, const Locale& loc) {
  return loc.format(N_("Availability {period}: {ratio}"),
                    {{"period", r.period_label}, {"ratio", ratio_text(loc, r.overall)}});
}

}  // namespace vigie::collector
