// `vigie-collector report availability ...` (command.hpp, availability.hpp).

#include <charconv>
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
  std::string out = "-";
  std::string format;
  std::string site;
  std::string calendar;
  std::string calendars_file;
  Lang lang = Lang::kFrench;
  std::string tz;
  char separator = ',';
  std::string db = std::string(kDefaultDatabase);
  std::vector<std::string> mail_to;
  std::string smtp;
  int attempts = 3;
  std::chrono::milliseconds retry_wait{10'000};
};

bool plausible_address(std::string_view a) {
  const auto at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= a.size()) return false;
  return a.find_first_of(" \t\r\n<>,;\"()") == std::string_view::npos;
}

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
    } else if (a == "--out") {
      r.out = std::string(v);
    } else if (a == "--format") {
      if (v != "html" && v != "csv" && v != "json" && v != "md")
        return Status::invalid("--format " + quote(v) + ": expected html, csv, json or md");
      r.format = std::string(v);
    } else if (a == "--site") {
      if (v.empty()) return Status::invalid("--site: empty site name");
      r.site = std::string(v);
    } else if (a == "--calendar") {
      r.calendar = std::string(v);
    } else if (a == "--calendars") {
      r.calendars_file = std::string(v);
    } else if (a == "--lang") {
      auto lang = parse_lang(v);
      if (!lang) return lang.status();
      r.lang = *lang;
    } else if (a == "--tz") {
      r.tz = std::string(v);
    } else if (a == "--csv-separator") {
      if (v != "," && v != ";")
        return Status::invalid("--csv-separator " + quote(v) + ": expected \",\" or \";\"");
      r.separator = v[0];
    } else if (a == "--db") {
      r.db = std::string(v);
    } else if (a == "--mail-to") {
      std::string_view rest = v;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view one = rest.substr(0, comma);
        while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
        while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
        if (!plausible_address(one))
          return Status::invalid("--mail-to: " + quote(one) + " is not a mail address");
        r.mail_to.emplace_back(one);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      if (r.mail_to.empty()) return Status::invalid("--mail-to: no address");
    } else if (a == "--smtp") {
      r.smtp = std::string(v);
    } else if (a == "--mail-attempts") {
      int n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 20)
        return Status::invalid("--mail-attempts " + quote(v) + ": expected 1 to 20");
      r.attempts = n;
    } else if (a == "--mail-retry-wait") {
      auto d = parse_duration(v);
      if (!d) return d.status().with_context("--mail-retry-wait");
      r.retry_wait = *d;
    } else {
      return Status::invalid("report availability: unknown option " + quote(a));
    }
  }
  if (!r.end.empty() && (r.period == "last-month" || r.period.find('-') != std::string::npos))
    return Status::invalid("--end goes with a period of whole days (--period 30d)");
  if (r.format.empty()) {
    const auto dot = r.out.rfind('.');
    const std::string ext = dot == std::string::npos ? "" : r.out.substr(dot + 1);
    r.format = (ext == "csv" || ext == "json" || ext == "md") ? ext : "html";
  }
  if (!r.mail_to.empty() && r.smtp.empty())
    return Status::invalid("--mail-to needs --smtp FILE (the relay to send through)");
  if (r.mail_to.empty() && !r.smtp.empty())
    return Status::invalid("--smtp is only used with --mail-to");
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
  const AvailabilityArgs& a = *parsed;
  const std::int64_t now = wall_ms();

  std::optional<Calendar> calendar;
  if (!a.calendar.empty()) {
    CalendarSet calendars;
    std::error_code ec;
    const bool read =
        !a.calendars_file.empty() || std::filesystem::exists(kDefaultCalendarsFile, ec);
    if (read) {
      auto loaded =
          CalendarSet::load(a.calendars_file.empty() ? kDefaultCalendarsFile : a.calendars_file);
      if (!loaded) return fail(2, loaded.status().message());
      calendars = std::move(*loaded);
    }
    const Calendar* found = calendars.find(a.calendar);
    if (!found)
      return fail(2, "--calendar " + quote(a.calendar) + ": no such calendar (calendars: " +
                         calendars.names() + ")" + (read ? "" : no_calendars_file_note()));
    calendar = *found;
  }
  // Days are the calendar's, unless told otherwise.
  const std::string tz = !a.tz.empty() ? a.tz : calendar ? calendar->time_zone() : "";
  auto period = period_of(a.period, a.end, tz == "localtime" ? "" : tz, now);
  if (!period) return fail(2, period.status().message());

  auto catalogue = find_catalogue(a.lang);
  if (!catalogue) return fail(1, catalogue.status().message());
  const Locale locale(a.lang, std::move(*catalogue));

  std::optional<MailSettings> mail;
  if (!a.mail_to.empty()) {
    auto settings = load_mail_settings(a.smtp);
    if (!settings) return fail(2, settings.status().message());
    settings->to = a.mail_to;
    settings->attempts = a.attempts;
    settings->retry_wait = a.retry_wait;
    mail = std::move(*settings);
  }

  auto reader = open_reader(a.db);
  if (!reader) return fail(1, reader.status().message());
  auto data = (*reader)->history(availability_query(*period, a.site));
  if (!data) return fail(1, data.status().message());
  if (!a.site.empty() && data->agents.empty())
    return fail(2, "--site " + quote(a.site) + ": no agent reports for this site");
  const AvailabilityReport report =
      make_availability_report(*data, std::move(*period), a.period, calendar ? &*calendar : nullptr,
                               a.calendar, now, a.site);

  std::string content;
  if (a.format == "html") content = render_availability_html(report, locale);
  else if (a.format == "csv") content = render_availability_csv(report, locale, a.separator);
  else if (a.format == "json") content = render_availability_json(report, locale);
  else content = render_availability_markdown(report, locale);

  if (a.out == "-") {
    std::cout << content << std::flush;
  } else {
    if (Status s = write_atomically(a.out, content); !s) return fail(1, s.message());
    log::info("availability report written to " + a.out + " (" +
              std::to_string(report.sites.size()) + " sites)");
  }
  if (mail) {
    if (Status s = mail_availability(*mail, report, locale, a.separator); !s) {
      log::error("availability report not mailed: " + s.message());
      return 3;
    }
  }
  return 0;
}

}  // namespace vigie::collector
