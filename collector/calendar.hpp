#pragma once
// Calendars: when the support desk works. A calendar has working hours per weekday in a
// time zone, public holidays (a built-in set such as "fr", plus listed dates) and
// closures (date ranges). Alert routes, downtimes and the availability report ask it
// whether an instant is working time, and how much working time lies between two.
//
// Dates are civil dates in the calendar's zone; instants are ms since the epoch, read as
// the nearest instant of the years 1 to 9999 when outside them. cctz
// reads the system's zoneinfo, so daylight-saving changes follow the zone's rules: a
// desk open 08:30-17:30 is open 08:30-17:30 local time on both sides of a change.
//
// A Calendar is immutable once made and may be shared between threads.

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.hpp"

namespace vigie::collector {

struct Date {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  auto operator<=>(const Date&) const = default;
};

// "2027-05-14"; parse_date() refuses anything else, and dates that do not exist.
std::string date_text(const Date& date);
Result<Date> parse_date(std::string_view text);

// Easter Sunday of a Gregorian year (the anonymous Gregorian algorithm, as in Meeus).
Date easter_sunday(int year);

struct Holiday {
  Date date;
  std::string name;
  bool operator==(const Holiday&) const = default;
};

// The built-in holiday sets: "fr" (the eleven public holidays of France) and
// "fr-alsace" (those and the two of Alsace-Moselle: Good Friday, St Stephen's Day).
std::span<const std::string_view> holiday_sets();
// The holidays of a built-in set in a year (1583..9999), in date order. kNotFound for
// an unknown set, naming the known ones.
Result<std::vector<Holiday>> builtin_holidays(std::string_view set, int year);

// A span of the day, minutes after midnight local time: [start, end).
struct DayWindow {
  int start_minute = 0;
  int end_minute = 0;  // <= 1440
  bool operator==(const DayWindow&) const = default;
};

// A closure: the desk is shut from `first` to `last`, both included.
struct Closure {
  Date first;
  Date last;
  std::string name;
  bool operator==(const Closure&) const = default;
};

class Calendar {
 public:
  // A calendar from its configuration object (docs/operations.md, "Calendars"):
  //   { "time_zone": "Europe/Paris",
  //     "hours": { "mon-fri": "08:30-17:30", "sat": ["09:00-12:00"] },
  //     "holidays": "fr",
  //     "extra_holidays": [ { "date": "2026-12-24", "name": "Veille de Noël" } ],
  //     "closures": [ { "from": "2026-08-03", "to": "2026-08-14", "name": "Été" } ] }
  // `path` prefixes every error ("calendars.desk").
  static Result<Calendar> from_json(const nlohmann::json& object, std::string_view path);
  // A calendar with no working hours on any day but only a built-in holiday set, in
  // the given zone: what `calendar show fr` prints.
  static Result<Calendar> of_holiday_set(std::string_view set, std::string_view time_zone);

  const std::string& time_zone() const;
  // Monday first.
  const std::array<std::vector<DayWindow>, 7>& hours() const;

  // Every day off of the year that is a public holiday (built-in or listed), in date
  // order. Closures are not holidays: see day_off().
  std::vector<Holiday> holidays(int year) const;
  // Why a date is not worked ("Noël", "Fermeture estivale"), or nullopt when it is a
  // normal day (its weekday may still have no hours).
  std::optional<std::string> day_off(const Date& date) const;

  // The public holiday (built-in or listed, not a closure) of the day holding `ms` in
  // the calendar's zone, or nullopt.
  std::optional<Holiday> public_holiday_at(std::int64_t ms) const;
  // The civil date holding `ms` in the calendar's zone.
  Date date_at(std::int64_t ms) const;

  // Whether `ms` falls within working hours on a working day.
  bool working_at(std::int64_t ms) const;
  // The working time, in ms, within [from_ms, to_ms). Periods longer than 20 years
  // are cut at 20 years.
  std::int64_t working_ms_between(std::int64_t from_ms, std::int64_t to_ms) const;
  // The first instant after `ms` at which working_at() changes, or nullopt when it
  // never does within a year (a calendar without hours).
  std::optional<std::int64_t> next_change(std::int64_t ms) const;

 private:
  struct Data;
  explicit Calendar(std::shared_ptr<const Data> data);
  std::shared_ptr<const Data> data_;
};

// The named calendars of the collector, from the calendars file (docs/operations.md,
// "Calendars"; /etc/vigie/calendars.json by default, comments allowed):
//   { "calendars": { "desk": { "time_zone": "Europe/Paris", ... }, "alsace": { ... } } }
// Alert rules, reminders, downtimes and the availability report name one.
class CalendarSet {
 public:
  CalendarSet() = default;
  static Result<CalendarSet> parse(std::string_view text, std::string_view where);
  static Result<CalendarSet> load(const std::filesystem::path& path);

  void add(std::string name, Calendar calendar);
  // A configured calendar, or nullptr.
  const Calendar* find(std::string_view name) const;
  // A configured calendar, else a built-in holiday set (in `zone`, without working
  // hours); kNotFound naming the configured calendars and the sets otherwise.
  Result<Calendar> resolve(std::string_view name, std::string_view zone = "localtime") const;
  // "desk, alsace" or "none", for messages.
  std::string names() const;
  bool empty() const { return named_.empty(); }

 private:
  std::map<std::string, Calendar, std::less<>> named_;
};

}  // namespace vigie::collector
