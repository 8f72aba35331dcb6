// vigie-collector's command line: its commands and their help; a bad serve option is
// named and nothing starts (exit 2).

#include <catch2/catch.hpp>

#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

TEST_CASE("Collector: a bad serve option is named, with the usage, and exits 2",
          "[collector-cli]") {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--agent-rate", "fast"}, "--agent-rate: expected a number 0..1000000, got \"fast\""},
      {{"--agent-rate", "-1"}, "--agent-rate: expected a number 0..1000000, got \"-1\""},
      {{"--agent-burst", "0"}, "--agent-burst: expected a number 1..1000000, got \"0\""},
      {{"--max-queued-reports", "-5"},
       "--max-queued-reports: expected a number 0..100000000, got \"-5\""},
      {{"--threads", "0"}, "--threads: expected a number 1..64"},
      {{"--listen", "127.0.0.1"}, "--listen \"127.0.0.1\": expected ADDR:PORT"},
      {{"--agent-rate"}, "--agent-rate"},
      {{"--frobnicate"}, "unknown argument \"--frobnicate\""},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {VIGIE_COLLECTOR_BIN, "--db", "/nonexistent/never.db"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = testing::run(argv);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("vigie-collector: " + message));
    CHECK_THAT(r.err, Catch::Contains("usage: vigie-collector"));
  }
}

TEST_CASE("Collector: --help lists every command, and each command has its own",
          "[collector-cli]") {
  const auto all = testing::run({VIGIE_COLLECTOR_BIN, "--help"});
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out, Catch::StartsWith("usage: vigie-collector [serve] [options]\n"
                                        "       vigie-collector token create"));
  const std::pair<std::string, std::string> commands[] = {
      {"serve", "usage: vigie-collector [serve] [options]"},
      {"token", "usage: vigie-collector token create"},
      {"enroll-token", "usage: vigie-collector enroll-token create"},
      {"report", "usage: vigie-collector report backup"},
      {"calendar", "usage: vigie-collector calendar show NAME"},
  };
  for (const auto& [name, usage] : commands) {
    INFO(name);
    CHECK_THAT(all.out, Catch::Contains("\n  " + name + " "));  // in the list of commands
    const auto one = testing::run({VIGIE_COLLECTOR_BIN, name, "--help"});
    CHECK(one.exit_code == 0);
    CHECK_THAT(one.out, Catch::StartsWith(usage));
  }
  // Without a command, serve runs: the overview ends with its options.
  CHECK_THAT(all.out, Catch::Contains("serve options:\n  --listen ADDR:PORT"));

  const auto unknown = testing::run({VIGIE_COLLECTOR_BIN, "tokens", "list"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::StartsWith("vigie-collector: unknown command \"tokens\" (did "
                                            "you mean \"token\"?)"));
}

TEST_CASE("Collector: calendar show prints a year's public holidays, one a line",
          "[collector-cli][calendar]") {
  const auto fr = testing::run({VIGIE_COLLECTOR_BIN, "calendar", "show", "fr", "--year", "2027",
                                "--calendars", "/nonexistent/calendars.json"});
  // A missing file given by name is an error, even for a built-in set.
  CHECK(fr.exit_code == 2);
  CHECK_THAT(fr.err, Catch::Contains("/nonexistent/calendars.json"));

  const auto builtin =
      testing::run({VIGIE_COLLECTOR_BIN, "calendar", "show", "fr", "--year", "2027"});
  INFO(builtin.err);
  CHECK(builtin.exit_code == 0);
  CHECK(builtin.out ==
        "2027-01-01 Jour de l'an\n"
        "2027-03-29 Lundi de Pâques\n"
        "2027-05-01 Fête du Travail\n"
        "2027-05-06 Ascension\n"
        "2027-05-08 Victoire 1945\n"
        "2027-05-17 Lundi de Pentecôte\n"
        "2027-07-14 Fête nationale\n"
        "2027-08-15 Assomption\n"
        "2027-11-01 Toussaint\n"
        "2027-11-11 Armistice 1918\n"
        "2027-12-25 Noël\n");

  testing::TempDir dir;
  const auto file = dir.write("calendars.json", R"(// the desk
    { "calendars": { "desk": { "time_zone": "Europe/Paris", "hours": {"mon-fri": "08:30-17:30"},
        "holidays": "fr-alsace",
        "extra_holidays": [ { "date": "2027-12-24", "name": "Veille de Noël" } ],
        "closures": [ { "from": "2027-08-02", "to": "2027-08-13", "name": "Été" } ] } } })");
  const auto desk = testing::run({VIGIE_COLLECTOR_BIN, "calendar", "show", "desk", "--year", "2027",
                                  "--calendars", file.string()});
  INFO(desk.err);
  CHECK(desk.exit_code == 0);
  CHECK_THAT(desk.out, Catch::Contains("2027-03-26 Vendredi saint\n"));
  CHECK_THAT(desk.out, Catch::EndsWith("2027-12-24 Veille de Noël\n2027-12-25 Noël\n"
                                       "2027-12-26 Saint-Étienne\n"));
  CHECK_THAT(desk.out, !Catch::Contains("Été"));  // a closure is not a holiday

  const auto unknown =
      testing::run({VIGIE_COLLECTOR_BIN, "calendar", "show", "dsek", "--calendars", file.string()});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("no calendar named \"dsek\" (calendars: desk; "
                                          "holiday sets: fr, fr-alsace)"));
  const auto bad_year =
      testing::run({VIGIE_COLLECTOR_BIN, "calendar", "show", "fr", "--year", "27"});
  CHECK(bad_year.exit_code == 2);
  CHECK_THAT(bad_year.err, Catch::Contains("--year \"27\": expected a year 1583 to 9999"));

  const auto bad_file =
      dir.write("bad.json", R"({"calendars": {"desk": {"hours": {"mon": "9-5"}}}})");
  const auto bad = testing::run(
      {VIGIE_COLLECTOR_BIN, "calendar", "show", "desk", "--calendars", bad_file.string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains(bad_file.string() + ": calendars.desk.hours.mon: expected "
                                                          "HH:MM-HH:MM"));
}

}  // namespace
}  // namespace vigie
