#pragma once
// The availability report: for each member site and each family of checks (firewall,
// Wi-Fi, backup, antivirus, network), the share of time it was OK over a period, the
// time in each state, and its outages; over the whole period, or over the working
// hours of a calendar only. Computed from the stored events (state changes, stale and
// fresh, acknowledgements, downtimes), then written as HTML, CSV, JSON or Markdown.
//
// Definitions (also printed in the report):
//  - a check's state at an instant is its hard state; while it is stale (no result
//    for three intervals) it is UNKNOWN, never OK. A first result that is OK makes no
//    event: before its first state event, a check was in the state that event left,
//    since its agent first reported; before that, it has no data.
//  - a family of a site at an instant: its checks not in downtime that have data; the
//    worst of their states (CRITICAL, then UNKNOWN, then WARNING, then OK). When every
//    check that is not OK is acknowledged, the time counts as "acknowledged"; when
//    every check with data is in downtime, as "downtime". The site's line does the
//    same over the checks of all five families.
//  - availability: OK time / (OK + WARNING + CRITICAL + UNKNOWN + acknowledged time).
//    Downtime and time without data are shown, and left out of the ratio.
//  - an outage: a stretch of CRITICAL or UNKNOWN time (acknowledged or not), ended by
//    OK, WARNING, a downtime or no data; its length counts only the time counted
//    (working time, with a calendar).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/calendar.hpp"
#include "collector/report/backup.hpp"
#include "collector/state.hpp"
#include "collector/storage.hpp"

namespace vigie::collector {

// How the time of a family (or a site) was spent.
enum class Slice { kOk, kWarning, kCritical, kUnknown, kAcknowledged, kDowntime, kNoData };
inline constexpr std::size_t kSlices = 7;
std::string_view slice_name(Slice slice);  // "ok", "warning", ..., "no_data"

// The families of the report, in its order: name, and the first part of their checks'
// ids ("firewall" for "firewall/sophos"; "net" for the network checks).
struct AvailabilityFamily {
  const char* name;    // "firewall", "wifi", "backup", "antivirus", "network"
  const char* prefix;  // "firewall", "wifi", "backup", "antivirus", "net"
};
extern const std::array<AvailabilityFamily, 5> kAvailabilityFamilies;

struct Availability {
  std::array<std::int64_t, kSlices> ms{};  // time per Slice
  int outages = 0;
  std::int64_t outage_ms = 0;
  std::int64_t longest_outage_ms = 0;
  int checks = 0;  // checks counted

  std::int64_t time(Slice s) const { return ms[static_cast<std::size_t>(s)]; }
  // OK + WARNING + CRITICAL + UNKNOWN + acknowledged.
  std::int64_t counted_ms() const;
  // OK / counted; nullopt when nothing was counted.
  std::optional<double> ratio() const;
  void add(const Availability& other);
};

struct AvailabilityLine {
  std::string family;  // kAvailabilityFamilies' name
  Availability figures;
};

struct AvailabilitySite {
  std::string site;
  std::vector<AvailabilityLine> families;  // the five, in order
  Availability total;                      // all its checks of the five families
};

struct AvailabilityReport {
  Period period;
  std::string period_label;  // as asked: "2026-11", "7d"
  std::string calendar;      // "" : the whole period
  std::int64_t span_ms = 0;  // the time counted per check: the period, or its working time
  std::int64_t generated_ms = 0;
  std::string site_filter;
  std::vector<AvailabilitySite> sites;  // by name
  Availability overall;                 // the sites' totals added up
};

// What the report asks the storage for: every check, with its acknowledgements and
// downtimes.
HistoryQuery availability_query(const Period& period, const std::string& site);
// `working`: count only its working time (null: all of it).
AvailabilityReport make_availability_report(const HistoryData& data, Period period,
                                            std::string period_label, const Calendar* working,
                                            std::string calendar_name, std::int64_t now_ms,
                                            const std::string& site_filter);

std::string render_availability_html(const AvailabilityReport& report, const Locale& locale);
// One line per site and family, then the site's total; UTF-8 with a byte-order mark;
// `separator` ',' or ';' (with decimal commas).
std::string render_availability_csv(const AvailabilityReport& report, const Locale& locale,
                                    char separator);
// English keys, times in ms, ratios from 0 to 1 (null when nothing was counted).
std::string render_availability_json(const AvailabilityReport& report, const Locale& locale);
std::string render_availability_markdown(const AvailabilityReport& report, const Locale& locale);
std::string availability_subject(const AvailabilityReport& report, const Locale& locale);

}  // namespace vigie::collector
