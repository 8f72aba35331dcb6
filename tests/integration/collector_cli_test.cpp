// vigie-collector's command line: its commands and their help; a bad serve option is
// named and nothing starts (exit 2).

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "collector/csv.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/peers.hpp"
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

TEST_CASE("Collector: enroll-token --report-for is checked, kept and listed",
          "[collector-cli][central]") {
  testing::TempDir dir;
  const std::string db = (dir / "collector.db").string();
  const auto create = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--site", "centre", "--db", db};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::run(argv);
  };
  for (const auto& [value, error] : std::vector<std::pair<std::string, std::string>>{
           {"a,,b", "--report-for: an empty site name"},
           {"a,*", "\"*\" (any site) stands alone"},
           {"mairie onesse", "--report-for: site \"mairie onesse\""}}) {
    INFO(value);
    const auto r = create({"--report-for", value});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(error));
  }
  auto r = create({"--report-for", "onesse, brest-ccas,onesse", "--label", "poller"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("reports for onesse,brest-ccas"));
  r = testing::run({VIGIE_COLLECTOR_BIN, "token", "create", "--role", "viewer", "--report-for", "*",
                    "--db", db});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--report-for is for enrollment tokens"));
  r = testing::run({VIGIE_COLLECTOR_BIN, "token", "list", "--db", db});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("poller [reports for onesse,brest-ccas]"));
  r = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "--help"});
  CHECK_THAT(r.out, Catch::Contains("--report-for SITES"));
  // A campaign's tokens are for member sites' own agents, never for a central poller.
  const auto sites = dir.write("sites.csv", "site,agent\nonesse,onesse-01\n");
  r = create({"--report-for", "*", "--sites", sites.string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--report-for with --sites"));
}

}  // namespace
}  // namespace vigie

namespace vigie {
namespace {

TEST_CASE("Collector: a second collector on a database another one serves refuses to start",
          "[collector][db]") {
  testing::TempDir dir;
  testing::Collector first(dir);
  auto second = testing::run({VIGIE_COLLECTOR_BIN, "--db", first.db(), "--listen", "127.0.0.1:0"});
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.err, Catch::Contains("is served by another collector (process " +
                                         std::to_string(first.child().pid()) + ")"));
  // The first one still stores reports.
  CHECK(first.get("/healthz", "").status == 200);
  const std::string token = first.enroll("a1", "s1");
  CHECK_FALSE(token.empty());
}

TEST_CASE("Collector: another program's database is refused untouched", "[collector][db]") {
  testing::TempDir dir;
  // An agent's spool, as vigie-agent makes it, and a database of some other program.
  const auto spool = dir / "spool.db";
  REQUIRE(testing::run({"/usr/bin/sqlite3", spool.string(),
                        "PRAGMA application_id=1986619219; PRAGMA user_version=1;"
                        "CREATE TABLE results (seq INTEGER PRIMARY KEY, body TEXT);"})
              .exit_code == 0);
  const auto other = dir / "other.db";
  REQUIRE(
      testing::run({"/usr/bin/sqlite3", other.string(), "CREATE TABLE things (x);"}).exit_code ==
      0);
  for (const auto& [db, what] : {std::pair{spool, "a vigie agent's spool"},
                                 std::pair{other, "another program's SQLite database"}}) {
    INFO(db);
    const std::string before = testing::run({"/usr/bin/sha256sum", db.string()}).out;
    auto r = testing::run({VIGIE_COLLECTOR_BIN, "--db", db.string(), "--listen", "127.0.0.1:0"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(std::string(what) + ", not a vigie collector database"));
    auto token = testing::run(
        {VIGIE_COLLECTOR_BIN, "token", "create", "--role", "viewer", "--db", db.string()});
    CHECK(token.exit_code != 0);
    CHECK(testing::run({"/usr/bin/sha256sum", db.string()}).out == before);
    CHECK_FALSE(std::filesystem::exists(db.string() + "-wal"));
  }
}

TEST_CASE("Collector: a --db URI of another scheme is refused, not made into folders",
          "[collector][db]") {
  testing::TempDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto unknown = testing::run(
      {VIGIE_COLLECTOR_BIN, "--db", "mysql://db.example.org/vigie", "--listen", "127.0.0.1:0"});
  auto postgres = testing::run(
      {VIGIE_COLLECTOR_BIN, "--db", "postgresql://127.0.0.1:1/vigie", "--listen", "127.0.0.1:0"});
  auto token = testing::run(
      {VIGIE_COLLECTOR_BIN, "token", "create", "--role", "viewer", "--db", "sqlite://x.db"});
  std::filesystem::current_path(cwd);
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("unknown scheme \"mysql://\""));
  CHECK(postgres.exit_code == 1);
  // PostgreSQL's is the other backend: here no server answers on port 1.
  CHECK_THAT(postgres.err, Catch::Contains("postgresql://127.0.0.1:1/vigie"));
  CHECK_FALSE(std::filesystem::exists(dir / "postgresql:"));
  CHECK(token.exit_code != 0);
  CHECK_THAT(token.err, Catch::Contains("unknown scheme \"sqlite://\""));
  CHECK_FALSE(std::filesystem::exists(dir / "mysql:"));
  CHECK_FALSE(std::filesystem::exists(dir / "sqlite:"));
}

TEST_CASE("Collector: a command given no --db whose default folder is missing says so",
          "[collector][db]") {
  // The default database's folder is the service's state folder, which systemd or the
  // package makes: a command run without --db does not make it (as root, with the wrong
  // owner) nor fails obscurely, it names the folder. A private mount namespace with an
  // empty /var/lib gives every machine the missing folder, whatever this one has.
  const std::vector<std::vector<std::string>> commands = {
      {"token", "create", "--role", "viewer"},
      {"token", "list"},
      {"report", "availability", "--period", "7d"},
      {"--listen", "127.0.0.1:0"},
  };
  for (const auto& command : commands) {
    // A collector that would serve is stopped after 10 s (timeout's exit 124).
    std::string line = "/usr/bin/timeout 10 " + std::string(VIGIE_COLLECTOR_BIN);
    for (const auto& a : command) line += " " + a;
    INFO(line);
    auto r = testing::run(
        {"/usr/bin/unshare", "--mount", "/bin/sh", "-c",
         "mount -t tmpfs none /var/lib && " + line + "; echo \"exit $?\"; ls -A /var/lib"});
    // A missing unshare (util-linux) fails in testing::run; its refusal is the host's.
    if (r.exit_code != 0 && r.err.find("unshare") != std::string::npos)
      VIGIE_SKIP_TEST(testing::Absent::kRefusal, "no mount namespace here: " << r.err);
    CHECK_THAT(r.err, Catch::Contains("/var/lib/vigie-collector") &&
                          Catch::Contains("does not exist") && Catch::Contains("--db"));
    // It exits 1, and nothing is made under the (empty) /var/lib: ls prints nothing.
    const auto at = r.out.rfind("exit ");
    REQUIRE(at != std::string::npos);
    CHECK(r.out.substr(at) == "exit 1\n");
  }
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

TEST_CASE("Collector: a calendar named while no calendars file exists says where it was looked for",
          "[collector-cli][calendar]") {
  std::error_code ec;
  if (std::filesystem::exists("/etc/vigie/calendars.json", ec))
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "this machine has /etc/vigie/calendars.json");
  testing::TempDir dir;
  const std::string note =
      "no calendars file: /etc/vigie/calendars.json does not exist (--calendars FILE names "
      "another)";
  const auto show = testing::run({VIGIE_COLLECTOR_BIN, "calendar", "show", "desk"});
  CHECK(show.exit_code == 2);
  CHECK_THAT(show.err, Catch::Contains("no calendar named \"desk\"") && Catch::Contains(note));

  // The README's availability report, on a machine without the file: the calendar is
  // refused before the database is read.
  const auto report =
      testing::run({VIGIE_COLLECTOR_BIN, "report", "availability", "--period", "2026-11",
                    "--calendar", "desk", "--db", (dir.path() / "collector.db").string()});
  CHECK(report.exit_code == 2);
  CHECK_THAT(report.err, Catch::Contains("--calendar \"desk\": no such calendar (calendars: "
                                         "none); " +
                                         note));

  // An alerts file whose rule names it: serve refuses to start, saying the same.
  const auto alerts = dir.write(
      "alerts.json",
      R"({"channels": [{"name": "desk", "type": "webhook", "url": "http://127.0.0.1:9/"}],)"
      R"( "rules": [{"channels": ["desk"], "when": "working-hours", "calendar": "desk"}]})");
  const auto serve = testing::run({VIGIE_COLLECTOR_BIN, "serve", "--alerts", alerts.string(),
                                   "--db", (dir.path() / "collector.db").string()});
  CHECK(serve.exit_code == 2);
  CHECK_THAT(serve.err, Catch::Contains("no calendar named \"desk\"") && Catch::Contains(note));
  CHECK_THAT(serve.err, !Catch::Contains("usage:"));  // the file's error alone, not buried

  // A file that was read names its calendars, and no note about the default one.
  const auto file = dir.write("calendars.json", R"({"calendars": {"desk": {}}})");
  const auto other =
      testing::run({VIGIE_COLLECTOR_BIN, "calendar", "show", "dsek", "--calendars", file.string()});
  CHECK(other.exit_code == 2);
  CHECK_THAT(other.err, !Catch::Contains("no calendars file"));
}

// The number of lines of `token list` (its header aside).
std::size_t token_count(const testing::Collector& collector) {
  const auto list = testing::run({VIGIE_COLLECTOR_BIN, "token", "list", "--db", collector.db()});
  REQUIRE(list.exit_code == 0);
  return static_cast<std::size_t>(std::count(list.out.begin(), list.out.end(), '\n')) - 1;
}

TEST_CASE("Collector: enroll-token create --sites gives one token per line, as CSV",
          "[collector-cli][enroll-campaign]") {
  testing::TempDir dir;
  testing::Collector collector(dir);
  const auto sites = dir.write("campaign.csv",
                               "site,agent,contact\n"
                               "mairie-a,a-01,maire@a.example\n"
                               "mairie-b,b-01,\"Secretariat, B\"\n"
                               "mairie-c,,c@c.example\n");
  const auto created = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--sites",
                                     sites.string(), "--count", "3", "--db", collector.db()});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  CHECK_THAT(created.err, Catch::Contains("3 enrollment tokens created"));
  const auto records = collector::parse_csv(created.out);
  REQUIRE(records);
  REQUIRE(records->size() == 4);
  CHECK((*records)[0].fields ==
        std::vector<std::string>{"site", "agent", "contact", "token", "expires"});
  CHECK((*records)[2].fields[2] == "Secretariat, B");
  const auto token_of = [&](std::size_t row) { return (*records)[row].fields.at(3); };
  for (std::size_t row = 1; row <= 3; ++row) CHECK_THAT(token_of(row), Catch::StartsWith("vge_"));

  const auto enroll = [&](const std::string& agent, const std::string& site,
                          const std::string& secret) {
    const nlohmann::json request = {{"agent", {{"id", agent}, {"site", site}}}};
    return collector.post("/api/v1/enroll", request.dump(), secret);
  };
  // A token is for its line's site, and for its agent id when the line gives one.
  auto r = enroll("intruder", "mairie-b", token_of(2));
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains("is for agent \\\"b-01\\\""));
  CHECK(enroll("b-01", "mairie-a", token_of(2)).status == 403);
  CHECK(enroll("a-01", "mairie-a", token_of(1)).status == 200);
  CHECK(enroll("b-01", "mairie-b", token_of(2)).status == 200);
  CHECK(enroll("c-any", "mairie-c", token_of(3)).status == 200);

  SECTION("a count that does not match, or a bad line, stores no token at all") {
    const std::size_t before = token_count(collector);
    auto wrong = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--sites",
                               sites.string(), "--count", "600", "--db", collector.db()});
    CHECK(wrong.exit_code == 2);
    CHECK_THAT(wrong.err, Catch::Contains("--count 600, but " + sites.string() + " lists 3"));
    CHECK(wrong.out.empty());
    const auto bad = dir.write("bad.csv", "mairie-d,d-01\nmairie-e,e-01\nmairie f,f-01\n");
    wrong = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--sites", bad.string(),
                          "--db", collector.db()});
    CHECK(wrong.exit_code == 2);
    CHECK_THAT(wrong.err, Catch::Contains(bad.string() + ":3: site \"mairie f\""));
    CHECK(wrong.out.empty());
    CHECK(token_count(collector) == before);
  }
}

TEST_CASE("Collector: config set names the account running it without USER or SUDO_USER",
          "[collector][config]") {
  // A job under systemd or a bare `env -i` has no USER: the audit trail still names the
  // account ("by default the user", docs/operations.md), not "someone".
  testing::TempDir dir;
  const auto db = (dir / "collector.db").string();
  const auto file = dir.write("townhall.json", R"({"checks": []})");
  const auto set = testing::run({"/usr/bin/env", "-u", "USER", "-u", "SUDO_USER", "-u", "LOGNAME",
                                 VIGIE_COLLECTOR_BIN, "config", "set", "template", "townhall",
                                 file.string(), "--db", db});
  INFO(set.err);
  REQUIRE(set.exit_code == 0);
  const passwd* account = ::getpwuid(::geteuid());
  REQUIRE(account != nullptr);
  const auto list = testing::run({VIGIE_COLLECTOR_BIN, "config", "list", "--db", db});
  CHECK_THAT(list.out, Catch::Contains(std::string(account->pw_name) + " (command line)"));
  CHECK_THAT(list.out, !Catch::Contains("someone"));
}

}  // namespace
}  // namespace vigie
