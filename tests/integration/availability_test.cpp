// `vigie-collector report availability` on a database built by replaying reports through
// the real collector (an agent's spool sent late: results of past weeks), against
// figures computed by hand. The period crosses the change back from summer time and
// two public holidays, All Saints' Day and Armistice Day.

#include <chrono>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono;

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kMinute = 60'000;

std::int64_t utc_ms(const year_month_day& day, int hour, int minute = 0) {
  return duration_cast<milliseconds>(sys_days(day).time_since_epoch()).count() + hour * kHour +
         minute * kMinute;
}

// The last October whose 12 November has passed: its events are kept (400 days).
year report_year() {
  const auto today = year_month_day(floor<days>(system_clock::now()));
  const bool passed = today.month() > November ||
                      (today.month() == November && today.day() >= std::chrono::day(13));
  return passed ? today.year() : today.year() - years(1);
}

json result(const std::string& check, int status, std::int64_t ts) {
  return {{"name", check}, {"check", check},   {"status", status},   {"summary", "s"},
          {"ts", ts},      {"duration_ms", 3}, {"interval_s", 3600}, {"max_attempts", 1}};
}

TEST_CASE(
    "report availability: figures from replayed reports, across a DST change and public "
    "holidays",
    "[report][availability]") {
  const year y = report_year();
  // The last Sunday of October: at 03:00 summer time the clocks go back to 02:00.
  const year_month_day sunday{year_month_weekday_last{y, October, weekday_last{Sunday}}};
  const auto nov = [&](unsigned d) { return year_month_day{y, November, std::chrono::day{d}}; };
  const year_month_day saturday{sys_days(sunday) - days(1)};
  const int days_in_period = static_cast<int>((sys_days(nov(12)) - sys_days(sunday)).count());

  // Paris is UTC+2 until the change, UTC+1 after.
  const std::int64_t start = utc_ms(saturday, 22);  // Sunday 00:00 local
  // Both checks failed before the period, and were OK again from an hour before it.
  const std::vector<std::tuple<std::string, int, std::int64_t>> replay = {
      {"firewall/sophos", 2, start - 2 * kHour},
      {"net/ping", 1, start - 2 * kHour},
      {"firewall/sophos", 0, start - kHour},
      {"net/ping", 0, start - kHour},
      {"system/disk:/", 2, start},                   // not a family of the report
      {"firewall/sophos", 2, utc_ms(saturday, 23)},  // 01:00 summer time
      {"firewall/sophos", 0, utc_ms(sunday, 3)},     // 04:00 winter time: 4 real hours
      {"net/ping", 3, utc_ms(nov(5), 9)},            // UNKNOWN, 10:00-11:00
      {"net/ping", 0, utc_ms(nov(5), 10)},
      {"firewall/sophos", 1, utc_ms(nov(10), 9)},  // WARNING, 10:00-11:30
      {"firewall/sophos", 0, utc_ms(nov(10), 10, 30)},
      {"firewall/sophos", 2, utc_ms(nov(11), 9)},  // CRITICAL on Armistice Day, 10:00-12:00
      {"firewall/sophos", 0, utc_ms(nov(11), 11)},
  };

  testing::TempDir dir;
  {
    testing::Collector collector(dir);
    const std::string token = collector.enroll("mairie-x-01", "mairie-x");
    std::uint64_t seq = 0;
    for (const auto& [check, status, ts] : replay) {
      const json report = {{"protocol", 1},
                           {"agent", {{"id", "mairie-x-01"}, {"site", "mairie-x"}}},
                           {"seq", ++seq},
                           {"sent", wall_ms()},
                           {"results", json::array({result(check, status, ts)})}};
      const auto r = collector.post("/api/v1/reports", report.dump(), token);
      INFO(r.body << r.error);
      REQUIRE(r.status == 200);
    }
    collector.stop(false);
  }
  const std::string calendars = dir.write("calendars.json", R"({"calendars": {"desk": {
      "time_zone": "Europe/Paris", "hours": {"daily": "08:00-18:00"}, "holidays": "fr"}}})")
                                    .string();
  char end[16];
  std::snprintf(end, sizeof end, "%04d-11-12", static_cast<int>(y));
  const auto report = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {VIGIE_COLLECTOR_BIN,
                                     "report",
                                     "availability",
                                     "--db",
                                     (dir / "collector.db").string(),
                                     "--period",
                                     std::to_string(days_in_period) + "d",
                                     "--end",
                                     end,
                                     "--tz",
                                     "Europe/Paris",
                                     "--calendars",
                                     calendars};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = testing::run(argv);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  };

  SECTION("over the whole period") {
    const json doc = json::parse(report({"--format", "json"}));
    const std::int64_t total = days_in_period * 24 * kHour + kHour;  // the day of 25 hours
    CHECK(doc["span_ms"] == total);
    CHECK(doc["counted"] == "whole_period");
    REQUIRE(doc["sites"].size() == 1);
    const json& site = doc["sites"][0];
    CHECK(site["site"] == "mairie-x");
    const json& firewall = site["families"]["firewall"];
    CHECK(firewall["time_ms"]["ok"] == total - 7 * kHour - 30 * kMinute);
    CHECK(firewall["time_ms"]["warning"] == 90 * kMinute);
    CHECK(firewall["time_ms"]["critical"] == 6 * kHour);
    CHECK(firewall["time_ms"]["no_data"] == 0);
    CHECK(firewall["outages"] == 2);
    CHECK(firewall["outage_ms"] == 6 * kHour);
    CHECK(firewall["longest_outage_ms"] == 4 * kHour);
    const json& network = site["families"]["network"];
    CHECK(network["time_ms"]["unknown"] == kHour);
    CHECK(network["outages"] == 1);
    for (const char* empty : {"wifi", "backup", "antivirus"}) {
      INFO(empty);
      CHECK(site["families"][empty]["time_ms"]["no_data"] == total);
      CHECK(site["families"][empty]["availability"].is_null());
    }
    const json& all = site["total"];
    CHECK(all["time_ms"]["ok"] == total - 8 * kHour - 30 * kMinute);
    CHECK(all["time_ms"]["unknown"] == kHour);
    CHECK(all["outages"] == 3);
    CHECK(all["outage_ms"] == 7 * kHour);
    CHECK(all["checks"] == 2);
    CHECK(all["availability"].get<double>() ==
          Approx(static_cast<double>(total - 8 * kHour - 30 * kMinute) / total));
  }

  SECTION("over the desk's working hours: the holidays left out") {
    const json doc = json::parse(report({"--format", "json", "--calendar", "desk"}));
    // Every day 08:00-18:00 local, but All Saints' Day and Armistice Day.
    const std::int64_t span = (days_in_period - 2) * 10 * kHour;
    CHECK(doc["span_ms"] == span);
    CHECK(doc["calendar"] == "desk");
    const json& site = doc["sites"][0];
    const json& firewall = site["families"]["firewall"];
    CHECK(firewall["time_ms"]["critical"] == 0);  // at night, and on a holiday
    CHECK(firewall["time_ms"]["warning"] == 90 * kMinute);
    CHECK(firewall["time_ms"]["ok"] == span - 90 * kMinute);
    CHECK(firewall["outages"] == 0);
    const json& network = site["families"]["network"];
    CHECK(network["outages"] == 1);
    CHECK(network["outage_ms"] == kHour);
    CHECK(site["total"]["time_ms"]["ok"] == span - 150 * kMinute);
  }

  SECTION("in French, as HTML, CSV and Markdown") {
    const std::string html = report({"--format", "html", "--lang", "fr", "--calendar", "desk"});
    CHECK_THAT(html, Catch::Contains("Rapport de disponibilité"));
    CHECK_THAT(html, Catch::Contains("Pare-feu"));
    CHECK_THAT(html, Catch::Contains("heures ouvrées du calendrier desk"));
    const std::string csv = report({"--format", "csv", "--lang", "en", "--csv-separator", ";"});
    CHECK_THAT(csv, Catch::Contains("mairie-x;Firewall;"));
    const std::string md = report({"--format", "md", "--lang", "en"});
    CHECK_THAT(md, Catch::Contains("| mairie-x | Network |"));
  }
}

TEST_CASE("report availability: bad arguments are named, exit code 2", "[report][availability]") {
  testing::TempDir dir;
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--period", "2026-13"}, "--period \"2026-13\": no such month"},
      {{"--period", "soon"}, "--period \"soon\": expected a month (2026-11), last-month"},
      {{"--period", "2026-11", "--end", "2026-12-01"}, "--end goes with a period of whole days"},
      {{"--calendar", "desk", "--calendars", (dir / "none.json").string()}, "none.json"},
      {{"--format", "pdf"}, "--format \"pdf\": expected html, csv, json or md"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {VIGIE_COLLECTOR_BIN, "report", "availability", "--db",
                                     (dir / "none.db").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = testing::run(argv);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(message));
  }
}

}  // namespace
}  // namespace vigie
