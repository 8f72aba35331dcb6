#include "collector/calendar_command.hpp"

#include <charconv>
#include <ctime>
#include <iostream>
#include <string>

#include "collector/calendar.hpp"
#include "common/config_fields.hpp"
#include "common/time.hpp"

namespace vigie::collector {

const CommandHelp kCalendarHelp = {
    .synopsis = "vigie-collector calendar show NAME [--year YYYY] [--calendars FILE]",
    .about = R"(Prints the public holidays of a calendar in a year, one a line: the ISO date, a
space, then its name. NAME is a calendar of the calendars file or a built-in holiday
set: "fr" (the eleven French public holidays) or "fr-alsace" (and the two of
Alsace-Moselle). A calendar's listed days off are holidays; its closures are not.
)",
    .options = R"(  --year YYYY           the year (default: this year)
  --calendars FILE      the calendars file (default /etc/vigie/calendars.json, if present)
)",
};

std::string no_calendars_file_note() {
  return std::string("; no calendars file: ") + kDefaultCalendarsFile +
         " does not exist (--calendars FILE names another)";
}

namespace {

int usage_error(const std::string& message) {
  std::cerr << "vigie-collector: " << message
            << "\n(vigie-collector calendar --help lists the options)\n";
  return 2;
}

int this_year() {
  const std::time_t now = static_cast<std::time_t>(wall_ms() / 1000);
  std::tm local{};
  localtime_r(&now, &local);
  return local.tm_year + 1900;
}

}  // namespace

int calendar_command(const std::vector<std::string_view>& args) {
  if (args.size() < 2 || args[1] != "show")
    return usage_error(args.size() < 2
                           ? "calendar: what? (show)"
                           : "calendar: unknown action " + quote(args[1]) + " (known: show)");
  std::string name, file;
  int year = this_year();
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--year" || a == "--calendars") {
      if (i + 1 >= args.size()) return usage_error(std::string(a) + ": missing value");
      const std::string_view v = args[++i];
      if (a == "--calendars") {
        file = std::string(v);
        continue;
      }
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), year);
      if (ec != std::errc() || end != v.data() + v.size() || year < 1583 || year > 9999)
        return usage_error("--year " + quote(v) + ": expected a year 1583 to 9999");
    } else if (a.starts_with("-") || !name.empty()) {
      return usage_error("calendar show: unexpected argument " + quote(a));
    } else {
      name = std::string(a);
    }
  }
  if (name.empty()) return usage_error("calendar show: which calendar? (NAME, or fr)");

  CalendarSet calendars;
  std::error_code ec;
  const bool read = !file.empty() || std::filesystem::exists(kDefaultCalendarsFile, ec);
  if (read) {
    auto loaded = CalendarSet::load(file.empty() ? kDefaultCalendarsFile : file);
    if (!loaded) return usage_error(loaded.status().message());
    calendars = std::move(*loaded);
  }
  auto calendar = calendars.resolve(name);
  if (!calendar)
    return usage_error(calendar.status().message() + (read ? "" : no_calendars_file_note()));
  for (const Holiday& h : calendar->holidays(year))
    std::cout << date_text(h.date) << ' ' << h.name << '\n';
  std::cout << std::flush;
  return 0;
}

}  // namespace vigie::collector
