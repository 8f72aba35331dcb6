// `vigie-collector report availability ...` (command.hpp, availability.hpp).

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "collector/calendar.hpp"
#include "collector/calendar_command.hpp"
#include "collector/report/availability.hpp"
#include "collector/report/command.hpp"
#include "collector/report/i18n.hpp"
#include "collector/report/mailing.hpp"
#include "collector/report/options.hpp"
#include "collector/storage.hpp"
#include "common/config_fields.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

struct AvailabilityArgs {
  std::string period = "last-month";
  std::string end;  // with whole days: they end at the start of this day, not today
  std::string calendar;
  std::string calendars_file;
  ReportOutput output{.out = "-"};
};

Result<AvailabilityArgs> parse_args(const std::vector<std::string_view>& args) {
  AvailabilityArgs r;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (i + 1 >= args.size()) {
      if (a.starts_with("--")) return Status::invalid(std::string(a) + ": missing value");
      return Status::invalid("unexpected argument " + quote(a));
    }
    const std::string_view v = args[++i];
    if (a == "--period") {
      r.period = std::string(v);
    } else if (a == "--end") {
      r.end = std::string(v);
    } else if (a == "--calendar") {
      r.calendar = std::string(v);
    } else if (a == "--calendars") {
      r.calendars_file = std::string(v);
    } else {
      auto taken = r.output.take(a, v);
      if (!taken) return taken.status();
      if (!*taken) return Status::invalid("report availability: unknown option " + quote(a));
    }
  }
  if (!r.end.empty() && (r.period == "last-month" || r.period.find('-') != std::string::npos))
    return Status::invalid("--end goes with a period of whole days (--period 30d)");
  if (Status s = r.output.finish(); !s) return s;
  return r;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// The month starting on year-month-01, as whole days in `tz`.
Result<Period> month_period(int year, int month, const std::string& tz, std::int64_t now_ms) {
  const int next_year = month == 12 ? year + 1 : year;
  const int next_month = month == 12 ? 1 : month + 1;
  char end[32];
  std::snprintf(end, sizeof end, "%04d-%02d-01", next_year % 10000, next_month % 100);
  return make_period(days_in_month(year, month), end, tz, now_ms);
}

// "2026-11", "last-month", or whole days ("7d") ending at the start of `end` (or today).
Result<Period> period_of(const std::string& text, const std::string& end, const std::string& tz,
                         std::int64_t now_ms) {
  int year = 0, month = 0;
  char tail = 0;
  if (text == "last-month") {
    auto today = make_period(1, "", tz, now_ms);
    if (!today) return today.status();
    const Day now = local_time(*today, now_ms).day;
    year = now.month == 1 ? now.year - 1 : now.year;
    month = now.month == 1 ? 12 : now.month - 1;
    return month_period(year, month, tz, now_ms);
  }
  if (text.size() == 7 && std::sscanf(text.c_str(), "%4d-%2d%c", &year, &month, &tail) == 2) {
    if (month < 1 || month > 12 || year < 2000 || year > 2200)
      return Status::invalid("--period " + quote(text) + ": no such month");
    return month_period(year, month, tz, now_ms);
  }
  auto d = parse_duration(text);
  constexpr std::int64_t kDay = 86'400'000;
  if (!d || d->count() <= 0 || d->count() % kDay != 0)
    return Status::invalid("--period " + quote(text) +
                           ": expected a month (2026-11), last-month, or whole days (7d)");
  return make_period(static_cast<int>(d->count() / kDay), end, tz, now_ms);
}

int fail(int code, const std::string& message) {
  std::cerr << "vigie-collector: " << message << "\n";
  if (code == 2) std::cerr << "(vigie-collector report --help lists the options)\n";
  return code;
}

}  // namespace

int availability_command(const std::vector<std::string_view>& args) {
  auto parsed = parse_args(args);
  if (!parsed) return fail(2, parsed.status().message());
  const AvailabilityArgs& args_read = *parsed;
  const ReportOutput& a = args_read.output;
  const std::int64_t now = wall_ms();

  std::optional<Calendar> calendar;
  if (!args_read.calendar.empty()) {
    CalendarSet calendars;
    std::error_code ec;
    const bool read =
        !args_read.calendars_file.empty() || std::filesystem::exists(kDefaultCalendarsFile, ec);
    if (read) {
      auto loaded = CalendarSet::load(args_read.calendars_file.empty() ? kDefaultCalendarsFile
                                                                       : args_read.calendars_file);
      if (!loaded) return fail(2, loaded.status().message());
      calendars = std::move(*loaded);
    }
    const Calendar* found = calendars.find(args_read.calendar);
    if (!found)
      return fail(2, "--calendar " + quote(args_read.calendar) + ": no such calendar (calendars: " +
                         calendars.names() + ")" + (read ? "" : no_calendars_file_note()));
    calendar = *found;
  }
  // Days are the calendar's, unless told otherwise.
  const std::string tz = !a.tz.empty() ? a.tz : calendar ? calendar->time_zone() : "";
  auto period = period_of(args_read.period, args_read.end, tz == "localtime" ? "" : tz, now);
  if (!period) return fail(2, period.status().message());

  auto catalogue = find_catalogue(a.lang);
  if (!catalogue) return fail(1, catalogue.status().message());
  const Locale locale(a.lang, std::move(*catalogue));

  auto mail = a.mail_settings();
  if (!mail) return fail(2, mail.status().message());

  auto reader = open_reader(a.db);
  if (!reader) return fail(1, reader.status().message());
  auto data = (*reader)->history(availability_query(*period, a.site));
  if (!data) return fail(1, data.status().message());
  if (!a.site.empty() && data->agents.empty())
    return fail(2, "--site " + quote(a.site) + ": no agent reports for this site");
  const AvailabilityReport report =
      make_availability_report(*data, std::move(*period), args_read.period,
                               calendar ? &*calendar : nullptr, args_read.calendar, now, a.site);

  std::string content;
  if (a.format == "html") content = render_availability_html(report, locale);
  else if (a.format == "csv") content = render_availability_csv(report, locale, a.separator);
  else if (a.format == "json") content = render_availability_json(report, locale);
  else content = render_availability_markdown(report, locale);

  if (Status s = a.write(content, "availability report", report.sites.size()); !s)
    return fail(1, s.message());
  if (*mail) {
    if (Status s = mail_availability(**mail, report, locale, a.separator); !s) {
      log::error("availability report not mailed: " + s.message());
      return 3;
    }
  }
  return 0;
}

}  // namespace vigie::collector
