#include "collector/report/command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <string>
#include <system_error>

#include "collector/report/backup.hpp"
#include "collector/report/i18n.hpp"
#include "collector/report/mailing.hpp"
#include "collector/report/options.hpp"
#include "collector/storage.hpp"
#include "common/config_fields.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {

const CommandHelp kReportHelp = {
    .synopsis =
        "vigie-collector report backup --out FILE [options]\n"
        "vigie-collector report availability [--period 2026-11|last-month|7d] "
        "[--calendar NAME] [options]",
    .about = R"(Writes the backup-health report: every site's backup checks (backup/restic, borg,
file-age, avamar) over whole days, worst sites first, and mails it when asked.
)",
    .options =
        R"(  --out FILE            where to write the report ("-": standard output); written to a
                        temporary file first, then renamed, so readers never see half
  --format FMT          html, csv, json or md (default: from the --out extension, else html)
  --period DUR          whole days ending at the start of today (or of --end): 7d (default),
                        30d, 2w...
  --end YYYY-MM-DD      the period ends at the start of this day instead of today
  --site SITE           only this site
  --lang fr|en          the reader's language (default fr)
  --tz ZONE             the zone days and times are in (default: the machine's; e.g.
                        Europe/Paris)
  --csv-separator SEP   "," (default) or ";" (with decimal commas, for French spreadsheets)
  --db PATH|CONNINFO    the collector's database (default /var/lib/vigie-collector/collector.db),
                        opened read-only; a PostgreSQL standby's connection string will do
  --mail-to ADDR,...    mail the report (HTML, a plain-text alternative and the CSV attached)
  --smtp FILE           the SMTP relay, a JSON file (comments allowed), either the relay
                        object or an object with an "smtp" member:
                          { "url": "smtp://mail.example.org:587", "tls": "starttls",
                            "username": "vigie", "password_file": "/etc/vigie/smtp.pass",
                            "from": "vigie@example.org", "timeout": "30s" }
  --mail-attempts N     tries before giving up (default 3)
  --mail-retry-wait DUR wait before the second try, doubled each time (default 10s)


report availability: the share of time each site's firewall, Wi-Fi, backup, antivirus
and network checks were OK, the time in each state and the outages, from the events.
  --period P            a month (2026-11), last-month (default), or whole days ending at
                        the start of today, or of --end YYYY-MM-DD (7d, 30d)
  --calendar NAME       count only the working hours of this calendar (its zone is then
                        the default --tz)
  --calendars FILE      the calendars file (default /etc/vigie/calendars.json, if present)
  --out FILE            where to write it (default "-", standard output)
  --format, --site, --lang, --tz, --csv-separator, --db, --mail-to, --smtp,
  --mail-attempts, --mail-retry-wait: as for the backup report

exit codes: 0 written (and mailed), 1 not written, 2 bad usage, 3 written but not mailed
)",
};

namespace {

struct ReportArgs {
  int days = 7;
  std::string end;
  ReportOutput output;
};

Result<ReportArgs> parse_report_args(const std::vector<std::string_view>& args) {
  if (args.size() < 2) return Status::invalid("report: which report? (backup, availability)");
  if (args[1] != "backup")
    return Status::invalid("report: unknown report " + quote(args[1]) +
                           " (known: backup, availability)");
  ReportArgs r;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (i + 1 >= args.size()) {
      if (a.starts_with("--")) return Status::invalid(std::string(a) + ": missing value");
      return Status::invalid("unexpected argument " + quote(a));
    }
    const std::string_view v = args[++i];
    if (a == "--period") {
      auto d = parse_duration(v);
      if (!d) return d.status().with_context("--period");
      constexpr std::int64_t kDay = 86'400'000;
      if (d->count() <= 0 || d->count() % kDay != 0)
        return Status::invalid("--period " + quote(v) + ": give whole days (7d, 30d, 2w)");
      if (d->count() / kDay > 400)
        return Status::invalid("--period " + quote(v) +
                               ": at most 400d (events are kept 400 days)");
      r.days = static_cast<int>(d->count() / kDay);
    } else if (a == "--end") {
      r.end = std::string(v);
    } else {
      auto taken = r.output.take(a, v);
      if (!taken) return taken.status();
      if (!*taken) return Status::invalid("report backup: unknown option " + quote(a));
    }
  }
  if (r.output.out.empty())
    return Status::invalid("report backup: --out FILE is required (\"-\" for standard output)");
  if (Status s = r.output.finish(); !s) return s;
  return r;
}

}  // namespace

// Writes `content` to a temporary file next to `path`, then renames it over `path`:
// a reader (a web server, a mail script) sees the old report or the new one, whole.
Status write_atomically(const std::string& path, const std::string& content) {
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0)
    return Status::io_error("cannot create a file next to " + path + ": " +
                            std::generic_category().message(errno));
  const mode_t mask = ::umask(0);
  ::umask(mask);
  (void)::fchmod(fd, 0666 & ~mask);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return Status::io_error("cannot write " + temp + ": " + std::generic_category().message(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    return Status::io_error("cannot write " + temp + ": " + std::generic_category().message(e));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    return Status::io_error("cannot rename " + temp + " to " + path + ": " +
                            std::generic_category().message(e));
  }
  return Status::ok();
}

int report_command(const std::vector<std::string_view>& args) {
  if (args.size() >= 2 && args[1] == "availability") return availability_command(args);
  auto parsed = parse_report_args(args);
  if (!parsed) {
    std::cerr << "vigie-collector: " << parsed.status().message()
              << "\n(vigie-collector report --help lists the options)\n";
    return 2;
  }
  const ReportArgs& args_read = *parsed;
  const ReportOutput& a = args_read.output;
  const std::int64_t now = wall_ms();
  auto period = make_period(args_read.days, args_read.end, a.tz, now);
  if (!period) {
    std::cerr << "vigie-collector: " << period.status().message() << "\n";
    return 2;
  }
  auto catalogue = find_catalogue(a.lang);
  if (!catalogue) {
    std::cerr << "vigie-collector: " << catalogue.status().message() << "\n";
    return 1;
  }
  const Locale locale(a.lang, std::move(*catalogue));

  auto mail = a.mail_settings();
  if (!mail) {
    std::cerr << "vigie-collector: " << mail.status().message() << "\n";
    return 2;
  }

  auto reader = open_reader(a.db);
  if (!reader) {
    std::cerr << "vigie-collector: " << reader.status().message() << "\n";
    return 1;
  }
  auto data = (*reader)->history(backup_history_query(*period, a.site));
  if (!data) {
    std::cerr << "vigie-collector: " << data.status().message() << "\n";
    return 1;
  }
  if (!a.site.empty() && data->agents.empty() && data->checks.empty()) {
    std::cerr << "vigie-collector: --site \"" << a.site << "\": no agent reports for this site\n";
    return 2;
  }
  const BackupReport report = make_backup_report(*data, std::move(*period), now, a.site);

  std::string content;
  if (a.format == "html") content = render_html(report, locale);
  else if (a.format == "csv") content = render_csv(report, locale, a.separator);
  else if (a.format == "json") content = render_json(report, locale);
  else content = render_markdown(report, locale);

  if (Status s = a.write(content, "backup report", report.sites.size()); !s) {
    std::cerr << "vigie-collector: " << s.message() << "\n";
    return 1;
  }
  if (*mail) {
    if (Status s = mail_report(**mail, report, locale, a.separator); !s) {
      log::error("backup report not mailed: " + s.message());
      return 3;
    }
    std::string to;
    for (const auto& t : (*mail)->to) to += (to.empty() ? "" : ", ") + t;
    log::info("backup report mailed to " + to);
  }
  return 0;
}

}  // namespace vigie::collector
