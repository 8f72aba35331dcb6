#include "collector/calendar.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vigie::collector {
namespace {

using json = nlohmann::json;
using namespace std::chrono;

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kMinute = 60'000;

// ms since the epoch of a UTC date and time.
std::int64_t utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0) {
  const sys_days date = year{y} / month{m} / std::chrono::day{d};
  return duration_cast<milliseconds>(date.time_since_epoch()).count() + hh * kHour + mm * kMinute;
}

Calendar desk() {
  auto calendar = Calendar::from_json(json::parse(R"({
      "time_zone": "Europe/Paris",
      "hours": { "mon-fri": "08:30-17:30" },
      "holidays": "fr",
      "extra_holidays": [ { "date": "2026-12-24", "name": "Veille de Noël" }, "2027-05-07" ],
      "closures": [ { "from": "2027-08-09", "to": "2027-08-13", "name": "Fermeture estivale" } ]
    })"),
                                      "calendars.desk");
  REQUIRE(calendar.is_ok());
  return *calendar;
}

}  // namespace

TEST_CASE("Calendar: Easter Sunday of known years", "[calendar]") {
  CHECK(easter_sunday(1818) == Date{1818, 3, 22});  // the earliest possible date
  CHECK(easter_sunday(1943) == Date{1943, 4, 25});  // the latest
  CHECK(easter_sunday(2000) == Date{2000, 4, 23});
  CHECK(easter_sunday(2008) == Date{2008, 3, 23});
  CHECK(easter_sunday(2024) == Date{2024, 3, 31});
  CHECK(easter_sunday(2027) == Date{2027, 3, 28});
  CHECK(easter_sunday(2038) == Date{2038, 4, 25});
}

TEST_CASE("Calendar: every French public holiday of 2024 to 2030", "[calendar]") {
  // Easter Monday, Ascension and Whit Monday of each year, then the fixed ones.
  const std::map<int, std::vector<std::string>> movable = {
      {2024, {"2024-04-01", "2024-05-09", "2024-05-20"}},
      {2025, {"2025-04-21", "2025-05-29", "2025-06-09"}},
      {2026, {"2026-04-06", "2026-05-14", "2026-05-25"}},
      {2027, {"2027-03-29", "2027-05-06", "2027-05-17"}},
      {2028, {"2028-04-17", "2028-05-25", "2028-06-05"}},
      {2029, {"2029-04-02", "2029-05-10", "2029-05-21"}},
      {2030, {"2030-04-22", "2030-05-30", "2030-06-10"}},
  };
  for (const auto& [year, dates] : movable) {
    INFO(year);
    const std::string y = std::to_string(year);
    const std::vector<std::pair<std::string, std::string>> expected_unsorted = {
        {y + "-01-01", "Jour de l'an"},
        {dates[0], "Lundi de Pâques"},
        {y + "-05-01", "Fête du Travail"},
        {y + "-05-08", "Victoire 1945"},
        {dates[1], "Ascension"},
        {dates[2], "Lundi de Pentecôte"},
        {y + "-07-14", "Fête nationale"},
        {y + "-08-15", "Assomption"},
        {y + "-11-01", "Toussaint"},
        {y + "-11-11", "Armistice 1918"},
        {y + "-12-25", "Noël"},
    };
    auto expected = expected_unsorted;
    std::stable_sort(expected.begin(), expected.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const auto holidays = builtin_holidays("fr", year);
    REQUIRE(holidays.is_ok());
    REQUIRE(holidays->size() == 11);
    for (std::size_t i = 0; i < expected.size(); ++i) {
      CHECK(date_text((*holidays)[i].date) == expected[i].first);
      CHECK((*holidays)[i].name == expected[i].second);
    }
  }
}

TEST_CASE("Calendar: Alsace-Moselle adds Good Friday and St Stephen's Day", "[calendar]") {
  const auto holidays = builtin_holidays("fr-alsace", 2026);
  REQUIRE(holidays.is_ok());
  REQUIRE(holidays->size() == 13);
  CHECK(std::count(holidays->begin(), holidays->end(), Holiday{{2026, 4, 3}, "Vendredi saint"}));
  CHECK(holidays->back() == Holiday{{2026, 12, 26}, "Saint-Étienne"});

  const auto unknown = builtin_holidays("fr-bzh", 2026);
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK(unknown.status().message() ==
        "unknown holiday set \"fr-bzh\" (known: \"fr\", \"fr-alsace\")");
  CHECK_FALSE(builtin_holidays("fr", 1200).is_ok());
}

TEST_CASE("Calendar: working hours in the desk's time zone", "[calendar]") {
  const Calendar c = desk();
  // Tuesday 1 December 2026, Paris is UTC+1: the desk opens at 07:30 UTC.
  CHECK_FALSE(c.working_at(utc(2026, 12, 1, 7, 29)));
  CHECK(c.working_at(utc(2026, 12, 1, 7, 30)));
  CHECK(c.working_at(utc(2026, 12, 1, 16, 29)));
  CHECK_FALSE(c.working_at(utc(2026, 12, 1, 16, 30)));
  // Tuesday 1 June 2027, Paris is UTC+2.
  CHECK(c.working_at(utc(2027, 6, 1, 6, 30)));
  CHECK_FALSE(c.working_at(utc(2027, 6, 1, 15, 30)));
  // Saturday; Christmas (a Friday); the listed eve; a closure; a bare listed date.
  CHECK_FALSE(c.working_at(utc(2026, 12, 5, 10)));
  CHECK_FALSE(c.working_at(utc(2026, 12, 25, 10)));
  CHECK(c.day_off({2026, 12, 24}) == "Veille de Noël");
  CHECK(c.day_off({2027, 8, 11}) == "Fermeture estivale");
  CHECK(c.day_off({2027, 5, 7}) == "Jour chômé");
  CHECK_FALSE(c.working_at(utc(2027, 8, 13, 10)));
  CHECK(c.working_at(utc(2027, 8, 16, 10)));
  CHECK_FALSE(c.day_off({2027, 8, 16}));
  // holidays() lists public holidays, listed dates included, closures not.
  const auto h2026 = c.holidays(2026);
  CHECK(h2026.size() == 12);
  CHECK(h2026[10] == Holiday{{2026, 12, 24}, "Veille de Noël"});
}

TEST_CASE("Calendar: working time across a daylight-saving change and a public holiday",
          "[calendar]") {
  const Calendar c = desk();
  // Friday 26 March 2027 00:00 (UTC+1) to Wednesday 31 March 00:00 (UTC+2): the clocks
  // go forward on Sunday 28 March, Monday 29 is Easter Monday. Worked: Friday and
  // Tuesday, 9 hours each.
  CHECK(c.working_ms_between(utc(2027, 3, 25, 23), utc(2027, 3, 30, 22)) == 18 * kHour);
  // Part of a day: Tuesday from 12:00 local (10:00 UTC) to 13:00 local.
  CHECK(c.working_ms_between(utc(2027, 3, 30, 10), utc(2027, 3, 30, 11)) == kHour);
  CHECK(c.working_ms_between(utc(2027, 3, 30, 11), utc(2027, 3, 30, 10)) == 0);
  // A whole week of October 2027 across the change back (Sunday 31 October) and All
  // Saints' Day (Monday 1 November): Monday 25 to Friday 29, then Tuesday 2 to
  // Friday 5 November: 9 days of 9 hours.
  CHECK(c.working_ms_between(utc(2027, 10, 24, 22), utc(2027, 11, 6, 23)) == 81 * kHour);

  // A night window on the night the clocks go forward lasts an hour less.
  auto night = Calendar::from_json(
      json{{"time_zone", "Europe/Paris"}, {"hours", {{"sun", "01:00-04:00"}}}}, "night");
  REQUIRE(night.is_ok());
  CHECK(night->working_ms_between(utc(2027, 3, 27), utc(2027, 3, 29)) == 2 * kHour);
  CHECK(night->working_ms_between(utc(2027, 10, 30), utc(2027, 11, 1)) == 4 * kHour);
}

TEST_CASE("Calendar: the next change of working state", "[calendar]") {
  const Calendar c = desk();
  // Friday 2 April 2027, 17:00 local (15:00 UTC): closes at 17:30.
  CHECK(c.next_change(utc(2027, 4, 2, 15)) == utc(2027, 4, 2, 15, 30));
  // Wednesday 5 May 2027, 18:00 local: Thursday 6 is Ascension and Friday 7 a listed
  // day off, so the desk opens again on Monday 10 May at 08:30 local (06:30 UTC).
  CHECK(c.next_change(utc(2027, 5, 5, 16)) == utc(2027, 5, 10, 6, 30));
  auto closed = Calendar::of_holiday_set("fr", "Europe/Paris");
  REQUIRE(closed.is_ok());
  CHECK_FALSE(closed->next_change(utc(2027, 1, 1)));
  CHECK_FALSE(closed->working_at(utc(2027, 1, 4, 10)));
  CHECK(closed->holidays(2027).size() == 11);
}

TEST_CASE("Calendar: instants past the years 1 to 9999 read as the nearest within them",
          "[calendar]") {
  // Found by fuzzing (tests/fuzz/corpus/desk_files): at the ends of int64 the floor
  // division to seconds negated INT64_MIN, and a working time's period overflowed.
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const Calendar c = desk();
  CHECK(c.date_at(kMin) == Date{1, 1, 1});
  CHECK(c.date_at(kMax) == Date{10000, 1, 1});  // 9999-12-31 23:59 UTC, in Paris
  CHECK_FALSE(c.working_at(kMin));
  CHECK_FALSE(c.next_change(kMax));
  CHECK(c.next_change(kMin) == c.next_change(utc(1, 1, 1)));
  // At most 20 years of working time, however long the period; none when it is empty.
  const std::int64_t all = c.working_ms_between(kMin, kMax);
  CHECK(all > 0);
  CHECK(all <= std::int64_t{20} * 366 * 24 * kHour);
  CHECK(c.working_ms_between(kMax, kMin) == 0);
  CHECK(c.working_ms_between(kMax - 1, kMax) == 0);
  // Within the years, unchanged: an hour of a working Monday.
  CHECK(c.working_ms_between(utc(2027, 1, 4, 9), utc(2027, 1, 4, 10)) == kHour);
  CHECK(c.date_at(-1) == Date{1970, 1, 1});  // 1969-12-31 23:59:59.999 UTC, in Paris
}

TEST_CASE("Calendar: a configuration error names the field", "[calendar]") {
  const auto error = [](const char* text) {
    return Calendar::from_json(json::parse(text), "calendars.desk").status().message();
  };
  CHECK(error(R"({"hours": {"mon-fri": "8:30-17:30"}})") ==
        "calendars.desk.hours.mon-fri: expected HH:MM-HH:MM (e.g. \"08:30-17:30\"), got "
        "\"8:30-17:30\"");
  CHECK(error(R"({"hours": {"mon-fry": "08:30-17:30"}})") ==
        "calendars.desk.hours.mon-fry: expected days such as \"mon-fri\", \"sat,sun\" or "
        "\"weekdays\", got \"mon-fry\"");
  CHECK(error(R"({"hours": {"mon": ["08:00-12:00", "11:00-14:00"]}})") ==
        "calendars.desk.hours: two windows overlap on mon");
  CHECK(error(R"({"hours": {"mon": "17:30-08:30"}})") ==
        "calendars.desk.hours.mon: \"17:30-08:30\": the start must come before the end");
  CHECK(error(R"({"time_zone": "Europe/Pariss"})") ==
        "calendars.desk.time_zone: unknown time zone \"Europe/Pariss\" (a name of the tz "
        "database, e.g. \"Europe/Paris\")");
  CHECK(error(R"({"holidays": "fr-bzh"})") ==
        "calendars.desk.holidays: unknown holiday set \"fr-bzh\" (known: \"fr\", \"fr-alsace\")");
  CHECK(error(R"({"extra_holidays": ["2027-02-30"]})") ==
        "calendars.desk.extra_holidays[0]: \"2027-02-30\" is not a date (years 1583 to 9999)");
  CHECK(error(R"({"closures": [{"from": "2027-08-13", "to": "2027-08-09", "name": "x"}]})") ==
        "calendars.desk.closures[0]: \"to\" comes before \"from\"");
  CHECK(error(R"({"holiday": "fr"})") ==
        "calendars.desk.holiday: unknown key (did you mean \"holidays\"?); known keys: time_zone "
        "hours holidays extra_holidays closures");
  CHECK(error(R"([])") == "calendars.desk: expected an object, got array");
}

TEST_CASE("Calendar: the calendars file names its calendars", "[calendar]") {
  auto set = CalendarSet::parse(R"(// the desk and a site in Alsace
    { "calendars": {
        "desk": { "time_zone": "Europe/Paris", "hours": { "mon-fri": "08:30-17:30" },
                  "holidays": "fr" },
        "strasbourg": { "time_zone": "Europe/Paris", "holidays": "fr-alsace" } } })",
                                "calendars.json");
  REQUIRE(set.is_ok());
  CHECK(set->names() == "desk, strasbourg");
  REQUIRE(set->find("desk"));
  CHECK(set->find("desk")->working_at(utc(2026, 12, 1, 9)));
  CHECK_FALSE(set->find("fr"));
  // A built-in set resolves too (no working hours), a configured name first.
  auto fr = set->resolve("fr", "Europe/Paris");
  REQUIRE(fr.is_ok());
  CHECK(fr->holidays(2026).size() == 11);
  CHECK(set->resolve("dsek").status().message() ==
        "no calendar named \"dsek\" (calendars: desk, strasbourg; holiday sets: fr, fr-alsace)");

  // The public holiday of an instant, in the calendar's zone: 25 December from 00:00
  // Paris time (23:00 UTC the day before), a closure is not one.
  const Calendar c = desk();
  CHECK_FALSE(c.public_holiday_at(utc(2026, 12, 24, 22, 59)) == Holiday{{2026, 12, 25}, "Noël"});
  REQUIRE(c.public_holiday_at(utc(2026, 12, 24, 23)));
  CHECK(c.public_holiday_at(utc(2026, 12, 24, 23))->name == "Noël");
  CHECK_FALSE(c.public_holiday_at(utc(2026, 12, 25, 23)));
  CHECK_FALSE(c.public_holiday_at(utc(2027, 8, 11, 10)));  // closed, but no holiday
  CHECK(c.date_at(utc(2026, 12, 31, 23, 30)) == Date{2027, 1, 1});

  const auto error = [](const char* text) {
    return CalendarSet::parse(text, "calendars.json").status().message();
  };
  CHECK(error("{}") == "calendars.json: calendars: required, an object");
  CHECK(error(R"({"calendar": {}})") ==
        "calendars.json: calendar: unknown key (did you mean \"calendars\"?); known keys: "
        "calendars");
  CHECK(error(R"({"calendars": {"fr": {}}})") ==
        "calendars.json: calendars.fr: the name of a built-in holiday set: choose another");
  CHECK(error(R"({"calendars": {"desk": {"hours": 9}}})") ==
        "calendars.json: calendars.desk.hours: expected an object, got number");
  CHECK(error(R"({"calendars": {"desk": {"closures": [{"from": "2027-01-01"}]}}})") ==
        "calendars.json: calendars.desk.closures[0].to: required, a string");
  CHECK_THAT(error("{"), Catch::StartsWith("calendars.json: not valid JSON"));
}

}  // namespace vigie::collector
