#pragma once
// The backup-health report: which sites are backed up, which are not, over a period
// of whole days. Built from what the storage keeps about the `backup/*` checks (their
// current state, their hard state changes, their hourly size), then written as HTML,
// CSV, JSON or Markdown in the reader's language (i18n.hpp).
//
// Definitions (also printed in the report):
//  - a day of a check is OK when the check's hard state was OK during the whole part
//    of the day it was known; otherwise the day takes the worst state seen: WARNING,
//    CRITICAL, or UNKNOWN (the check could not tell, or sent nothing: stale). A day
//    before the check's agent first reported is "no data".
//  - success ratio: OK days / days with data.
//  - last success: when the newest backup was taken, from the check's `age` metric.
//  - a site is FAILING when one of its backup checks is CRITICAL now, or had no OK day
//    in the period; AT RISK when a check is WARNING or UNKNOWN now, or one of its days
//    was not OK, or one of its checks sent nothing in the period; NO DATA when it has
//    no backup check, or none sent a result in the period; HEALTHY otherwise.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/report/i18n.hpp"
#include "collector/state.hpp"
#include "collector/storage.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// Worst first: the order sites are listed in.
enum class SiteHealth { kFailing, kAtRisk, kNoData, kHealthy };
std::string_view site_health_name(SiteHealth health);  // "failing", "at_risk", ...

// A day of a check, by increasing gravity.
enum class DayState { kNoData, kOk, kUnknown, kWarning, kCritical };
std::string_view day_state_name(DayState state);  // "no_data", "ok", "unknown", ...

struct Period {
  std::vector<Day> days;                // oldest first
  std::vector<std::int64_t> starts_ms;  // start of each day, and the end of the last
  std::string time_zone;                // as given, or the machine's ("localtime")
  std::int64_t from_ms() const { return starts_ms.front(); }
  std::int64_t to_ms() const { return starts_ms.back(); }
};

// `days` whole days ending at the start of `end` (YYYY-MM-DD; "" : today, in the zone of
// `now_ms`) in `time_zone` ("" : the machine's zone, from TZ or /etc/localtime).
Result<Period> make_period(int days, const std::string& end, const std::string& time_zone,
                           std::int64_t now_ms);

// The civil date and time of `ms` in the period's zone.
struct LocalTime {
  Day day;
  int hour = 0;
  int minute = 0;
};
LocalTime local_time(const Period& period, std::int64_t ms);

struct CheckLine {
  std::string agent;
  std::string check;              // e.g. "backup/restic:/srv/restic"
  std::string name;               // its name in the agent's configuration
  State state = State::kUnknown;  // now: the hard state, UNKNOWN when stale
  bool stale = false;
  std::string summary;        // the last result's, or why it is stale
  std::int64_t since_ms = 0;  // the current hard state began
  std::int64_t last_result_ms = 0;
  std::optional<std::int64_t> last_success_ms;  // the newest backup
  std::vector<DayState> days;                   // one per day of the period
  int ok_days = 0;
  int data_days = 0;
  bool reported = false;                          // sent at least one result in the period
  std::vector<std::optional<double>> daily_size;  // bytes, one per day
  std::optional<double> size_now;
  std::optional<double> size_change;  // ratio: +0.05 is 5% more than the first day
  std::optional<Ack> ack;

  double ratio() const { return data_days > 0 ? static_cast<double>(ok_days) / data_days : 0; }
  bool problem() const { return state != State::kOk; }
};

struct SiteLine {
  std::string site;
  SiteHealth health = SiteHealth::kNoData;
  std::vector<std::string> agents;
  std::vector<DayState> days;  // the worst of its checks, day by day
  std::vector<CheckLine> checks;
  int ok_days = 0;  // days OK for every check
  int data_days = 0;
  double ratio() const { return data_days > 0 ? static_cast<double>(ok_days) / data_days : 0; }
};

struct BackupReport {
  Period period;
  std::int64_t generated_ms = 0;
  std::string site_filter;
  int counts[4] = {0, 0, 0, 0};  // by SiteHealth
  std::vector<SiteLine> sites;   // worst first
};

// What the report asks the storage for.
HistoryQuery backup_history_query(const Period& period, const std::string& site);
// Builds the report from what the storage returned; `now_ms` is when it is written.
BackupReport make_backup_report(const HistoryData& data, Period period, std::int64_t now_ms,
                                const std::string& site_filter);

// Writers. Each returns the whole document.
std::string render_html(const BackupReport& report, const Locale& locale);
// UTF-8 with a byte-order mark, one line per check (or per site without any), fields
// quoted per RFC 4180; `separator` is ',' or ';' (';' also writes decimal commas, as
// French spreadsheets expect).
std::string render_csv(const BackupReport& report, const Locale& locale, char separator);
// Keys and values for scripts: English names, times in ms and ISO 8601 UTC.
std::string render_json(const BackupReport& report, const Locale& locale);
// Markdown; also the plain-text part of the mail.
std::string render_markdown(const BackupReport& report, const Locale& locale);

// The mail's subject line, e.g. "Sauvegardes : 2 sites en échec, 3 à risque (semaine du ...)".
std::string report_subject(const BackupReport& report, const Locale& locale);

}  // namespace vigie::collector
