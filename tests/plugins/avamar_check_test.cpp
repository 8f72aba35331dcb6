#include "plugins/backup/avamar_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "plugins/backup/mccli.hpp"
#include "plugins/check_support.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::backup {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

const std::string kFixtures = VIGIE_SOURCE_DIR "/tests/fixtures/avamar/";
const std::string kHead =
    "0,23000,CLI command completed successfully.\n"
    "ID               Status                   Error Code Start Time           Elapsed     End "
    "Time             Type             Progress Bytes New Bytes Client       Domain\n"
    "---------------- ------------------------ ---------- -------------------- ----------- "
    "-------------------- ---------------- -------------- --------- ------------ --------\n";

std::string utc(std::chrono::seconds age) {
  const std::time_t when = std::time(nullptr) - age.count();
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
  return text;
}

// One activity in the layout of the fixtures; `ended` ago, or still running (0s).
std::string row(const std::string& status, int code, std::chrono::seconds started,
                std::chrono::seconds ended, const std::string& bytes,
                const std::string& client = "mairie-srv") {
  char line[512];
  std::snprintf(line, sizeof line,
                "%-16s %-24s %-10d %-20s %-11s %-20s %-16s %-14s %-9s %-12s %s\n",
                "9164831100012345", status.c_str(), code, utc(started).c_str(), "00h:12m:31s",
                ended.count() == 0 ? "N/A" : utc(ended).c_str(), "Scheduled Backup", bytes.c_str(),
                "0.8%", client.c_str(), "/clients");
  return line;
}

Outcome run_output(const std::string& output, json params = json::object()) {
  testing::TempDir dir;
  params["command"] = {"cat", dir.write("out.txt", output).string()};
  return testing::configured(make_avamar_check, params)->run(testing::context(5s));
}

// The per-client fixtures were listed on 2026-11-28 at 22:10 UTC (the running backup's
// ten minutes), and are judged as of then: by the wall clock, their ages grow until any
// threshold is passed.
std::chrono::system_clock::time_point client_listing_time() {
  const auto when = parse_timestamp("2026-11-28T22:10:00Z", false);
  REQUIRE(when);
  return std::chrono::system_clock::from_time_t(static_cast<std::time_t>(*when));
}

Outcome run_fixture(const std::string& name, json params = json::object()) {
  params["command"] = {"cat", kFixtures + name};
  auto check = make_avamar_check();
  check->attach({.now = client_listing_time});
  const Status s = check->configure(params);
  INFO(s.to_string());
  REQUIRE(s.is_ok());
  return check->run(testing::context(5s));
}

TEST_CASE("AvamarCheck: a recent completed backup is OK, with its size and change", "[avamar]") {
  // Times are written to the minute: ages of 10 hours or more read the same whatever the
  // seconds ("12h", not "2h1m").
  auto outcome = run_output(kHead + row("Completed", 0, 13h, 12h, "12.6 GB") +
                            row("Completed", 0, 27h, 26h, "12.0 GB"));
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::StartsWith("last completed backup 12h ago (") &&
                                  Catch::EndsWith("), 2 completed backups, 13 GiB (+5% from the "
                                                  "previous one)"));
  CHECK(find_metric(outcome, "size").value == Approx(12.6 * 1073741824.0));
  CHECK(find_metric(outcome, "error_code").value == 0);
  CHECK(find_metric(outcome, "age").value >= 12 * 3600);

  outcome = run_output(kHead + row("Completed", 0, 31h, 30h, "12.6 GB"));
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::Contains(" (WARNING > 26h), 1 completed backup, "));
  outcome = run_output(kHead + row("Completed", 0, 61h, 60h, "12.6 GB"));
  CHECK(outcome.status == State::kCritical);
}

TEST_CASE("AvamarCheck: failed, excepted and running backups", "[avamar]") {
  // The last one failed: CRITICAL even though the one before is recent.
  auto outcome = run_output(kHead + row("Failed", 10007, 1h, 1h, "0 bytes") +
                            row("Completed", 0, 25h, 24h, "12.0 GB"));
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::StartsWith("last backup Failed (error code 10007, started ") &&
                                  Catch::Contains(") (CRITICAL); last completed backup 24h ago"));
  CHECK(find_metric(outcome, "error_code").value == 10007);

  outcome = run_output(kHead + row("Completed w/Exception(s)", 10020, 2h, 1h, "12.0 GB"));
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::StartsWith("last backup Completed w/Exception(s) (error code "
                                                "10020, started "));

  // A backup running now does not hide the last finished one.
  const std::string running = row("Running", 0, 10min, 0s, "1.1 GB");
  outcome = run_output(kHead + running + row("Completed", 0, 25h, 24h, "12.0 GB"));
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::EndsWith("; Running since " + running.substr(53, 20)));

  outcome = run_output(kHead + row("Failed", 1, 5h, 5h, "0 bytes"));
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::EndsWith("; no completed backup"));
}

TEST_CASE("AvamarCheck: the documented layout, per client", "[avamar]") {
  // mairie-srv's last completed backup ended 23h58m before the listing: within 26h.
  json params = {{"client", "mairie-srv"}};
  auto outcome = run_fixture("two-clients.txt", params);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("last completed backup ") &&
                 Catch::Contains("(2026-11-27 22:12 UTC), 2 completed backups, 12 GiB (+1% from "
                                 "the previous one); also listed: 1 with exceptions; Running "
                                 "since 2026-11-28 22:00 UTC"));
  CHECK(testing::configured(make_avamar_check, {{"command", "mccli"}, {"client", "mairie-srv"}})
            ->instance() == "mairie-srv");

  params["client"] = "ecole-srv";
  outcome = run_fixture("two-clients.txt", params);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("last backup for ecole-srv Failed (error code 10007, "
                               "started 2026-11-27 23:00 UTC) (CRITICAL); "));

  params["client"] = "nowhere";
  outcome = run_fixture("two-clients.txt", params);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no backup activity for nowhere");

  // All clients: the newest finished activity is ecole-srv's failure.
  outcome = run_fixture("two-clients.txt");
  CHECK(outcome.status == State::kCritical);
}

TEST_CASE("AvamarCheck: an unknown format is UNKNOWN, never OK", "[avamar]") {
  auto outcome = run_fixture("error.txt");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "mccli failed: Client does not exist. (code 1, event 22236)");
  outcome = run_fixture("no-dashes.txt");
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("mccli activity show: no dashed line under the header"));

  const std::string good = kHead + row("Completed", 0, 3h, 2h, "12.6 GB");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "mccli activity show: empty output"},
      {"<?xml version=\"1.0\"?><CLIOutput/>\n", "no Results element"},
      {"Welcome to the Avamar utility node\n", "is not \"<code>,<event>,<message>\""},
      {kHead.substr(0, kHead.find('\n') + 1), "no table after the status line"},
      {kHead + row("Exploded", 0, 3h, 2h, "1 GB"), "row 1: unknown status \"Exploded\""},
      {kHead + row("Completed", 0, 3h, 2h, "1 GB").replace(42, 10, "zero      "),
       "row 1: error code \"zero\" is not a number"},
      {kHead + row("Completed", 0, 3h, 2h, "1 GB").replace(53, 20, "yesterday           "),
       "row 1: unreadable start time \"yesterday\""},
      {good.substr(0, good.size() - 60), "row 1 is cut short"},
      {kHead + row("Completed", 0, 3h, 2h, "1 GB").replace(86, 20, "2026-11-29 00:35    "),
       "row 1: unreadable end time \"2026-11-29 00:35\""},
      {std::string(kHead).replace(kHead.find("Client "), 7, "Machine"), "no \"Client\" column"},
      {kHead + std::string(5 << 20, 'x'), "output larger than 4.0 MiB"},
  };
  for (const auto& [output, reason] : cases) {
    INFO(output.substr(0, 300));
    outcome = run_output(output);
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::Contains(reason));
  }
  // Unreadable sizes leave the size out, and say so.
  outcome = run_output(kHead + row("Completed", 0, 3h, 2h, "lots"));
  CHECK(outcome.status == State::kOk);
  CHECK_FALSE(find_metric(outcome, "size").value.has_value());
  CHECK_THAT(outcome.details, Catch::Contains("unreadable Progress Bytes \"lots\""));

  outcome = testing::configured(make_avamar_check, {{"command", {"ssh", "-V-no-such-option"}}})
                ->run(testing::context(5s));
  CHECK(outcome.status == State::kUnknown);
}

// --- grid mode ---------------------------------------------------------------------------

// The fixtures' listings were taken on 2025-03-03 at 08:00, in the grid's zone (CET),
// which the check reads as the agent's local time: so is this.
std::chrono::system_clock::time_point listing_time() {
  const auto when = parse_timestamp("2025-03-03T08:00:00", true);
  REQUIRE(when);
  return std::chrono::system_clock::from_time_t(static_cast<std::time_t>(*when));
}

const json kGridSites = {
    {"/clients/mairie-exemple", "saint-exemple"},
    {"/clients/mairie-exemple/pc-neuf", "annexe"},  // longest prefix wins
    {"/clients/ccas-test/", "village-test"},
    {"/clients/sivom-val", "sivom"},
    {"/clients/ecole", "ecole"},
    {"/clients/archives", {{"site", "archives"}, {"warn", "8d"}, {"crit", "15d"}}},
    {"/vc01.example/VirtualMachines/vm-compta", "saint-exemple"},
    {"/clients/nowhere", "nowhere"}};

std::vector<Outcome> run_grid(const std::vector<std::string>& command, json sites = kGridSites) {
  auto check = make_avamar_check();
  check->attach({.now = listing_time});
  const Status s = check->configure({{"command", command}, {"sites", std::move(sites)}});
  INFO(s.to_string());
  REQUIRE(s.is_ok());
  auto outcomes = check->run_all(testing::context(5s));
  for (const auto& o : outcomes) {
    UNSCOPED_INFO(o.target << " [" << o.site << "] " << state_name(o.status) << ": " << o.summary);
  }
  return outcomes;
}

const Outcome& of(const std::vector<Outcome>& outcomes, const std::string& target) {
  for (const auto& o : outcomes) {
    if (o.target == target) return o;
  }
  FAIL("no outcome for " << target);
  return outcomes.front();
}

TEST_CASE("AvamarCheck: grid mode, one listing, one result per client filed under its site",
          "[avamar]") {
  for (const char* file : {"grid.txt", "grid.xml"}) {
    const bool xml = std::string(file).ends_with(".xml");
    INFO(file);
    const auto outcomes = run_grid({"cat", kFixtures + file});
    REQUIRE(outcomes.size() == 12);

    const Outcome& own = outcomes.front();
    CHECK(own.target.empty());
    CHECK(own.site.empty());
    CHECK(own.status == State::kWarning);
    CHECK(own.summary == std::string("12 clients in the listing (19 activities") +
                             (xml ? ", XML" : "") +
                             "): 10 filed under their site; 1 sites entry with no activity "
                             "listed: /clients/nowhere; 1 client without a site: "
                             "/clients/inconnu/srv-inconnu");
    CHECK(find_metric(own, "clients").value == 12);
    CHECK(find_metric(own, "unmapped").value == 1);  // the retired client is nobody's
    for (const auto& o : outcomes) CHECK(o.target.find("MC_RETIRED") == std::string::npos);

    const Outcome& mairie = of(outcomes, "/clients/mairie-exemple/srv-mairie01");
    CHECK(mairie.site == "saint-exemple");
    CHECK(mairie.status == State::kOk);
    CHECK_THAT(mairie.summary, Catch::StartsWith("last completed backup 11h ago (") &&
                                   Catch::Contains("), 2 completed backups"));
    if (xml) {
      CHECK_FALSE(find_metric(mairie, "size").value.has_value());  // not in --xml's columns
    } else {
      CHECK_THAT(mairie.summary, Catch::EndsWith(", 61 GiB (+1% from the previous one)"));
      CHECK(find_metric(mairie, "new_bytes").value == Approx(0.8));
    }

    const Outcome& accueil = of(outcomes, "/clients/mairie-exemple/pc-accueil");
    CHECK(accueil.site == "saint-exemple");
    CHECK(accueil.status == State::kCritical);
    CHECK_THAT(accueil.summary,
               Catch::StartsWith("last backup Failed (error code 10007, started ") &&
                   Catch::Contains("(CRITICAL); last completed backup 35h ago (") &&
                   Catch::Contains("(WARNING > 26h), 1 completed backup"));
    CHECK(find_metric(accueil, "failures").value == 1);

    const Outcome& never = of(outcomes, "/clients/mairie-exemple/pc-neuf");
    CHECK(never.site == "annexe");
    CHECK(never.status == State::kCritical);
    CHECK_THAT(never.summary, Catch::EndsWith("(CRITICAL); no completed backup; also listed: "
                                              "1 failed"));
    CHECK(find_metric(never, "failures").value == 2);

    const Outcome& timed_out = of(outcomes, "/clients/mairie-exemple/pc-mairie02");
    CHECK(timed_out.status == State::kCritical);
    CHECK_THAT(timed_out.summary, Catch::StartsWith("last backup Timed Out - Start (error code "
                                                    "10004, "));

    const Outcome& ccas = of(outcomes, "/clients/ccas-test/srv-ccas01");
    CHECK(ccas.site == "village-test");
    CHECK(ccas.status == State::kWarning);
    CHECK_THAT(ccas.summary, Catch::StartsWith("last backup Completed w/Exception(s) (error code "
                                               "10020, "));
    CHECK(find_metric(ccas, "exceptions").value == 1);

    const Outcome& sivom = of(outcomes, "/clients/sivom-val/srv-sivom01");
    CHECK(sivom.site == "sivom");
    CHECK(sivom.status == State::kCritical);
    CHECK_THAT(sivom.summary, Catch::StartsWith("last backup Canceled (error code 10002, ") &&
                                  Catch::Contains("last completed backup 3d9h ago (") &&
                                  Catch::Contains(" (CRITICAL > 50h)"));

    const Outcome& ecole = of(outcomes, "/clients/ecole/srv-ecole01");
    CHECK(ecole.status == State::kOk);
    CHECK_THAT(ecole.summary, Catch::Contains("; Running since "));
    const Outcome& waiting = of(outcomes, "/clients/ecole/pc-ecole02");
    CHECK(waiting.status == State::kOk);
    CHECK_THAT(waiting.summary, Catch::Contains("; Waiting-Client since "));

    // A weekly schedule, with its own thresholds: five days is fine.
    const Outcome& archives = of(outcomes, "/clients/archives/srv-archives");
    CHECK(archives.site == "archives");
    CHECK(archives.status == State::kOk);
    CHECK_THAT(archives.summary, Catch::StartsWith("last completed backup 5d5h ago"));
    CHECK(find_metric(archives, "age").crit == Range{0, 15 * 86400});

    const Outcome& vm = of(outcomes, "/vc01.example/VirtualMachines/vm-compta");
    CHECK(vm.site == "saint-exemple");
    CHECK(vm.status == State::kOk);

    const Outcome& nowhere = of(outcomes, "/clients/nowhere");
    CHECK(nowhere.site == "nowhere");
    CHECK(nowhere.status == State::kCritical);
    CHECK(nowhere.summary == "no backup activity listed under /clients/nowhere");
  }
}

TEST_CASE("AvamarCheck: grid mode, what it cannot read is UNKNOWN, never OK", "[avamar]") {
  SECTION("an unknown status: that client only, naming the row") {
    for (const char* file : {"grid-unknown-status.txt", "grid-unknown-status.xml"}) {
      INFO(file);
      const auto outcomes = run_grid({"cat", kFixtures + file});
      REQUIRE(outcomes.size() == 12);
      const Outcome& sivom = of(outcomes, "/clients/sivom-val/srv-sivom01");
      CHECK(sivom.status == State::kUnknown);
      CHECK(sivom.site == "sivom");
      CHECK_THAT(sivom.summary, Catch::StartsWith("mccli activity show: row 11: unknown status "
                                                  "\"Suspended\" in \"") &&
                                    Catch::Contains("9174120000211115"));
      CHECK(of(outcomes, "/clients/ecole/srv-ecole01").status == State::kOk);
    }
  }
  SECTION("a truncated listing, an mccli error: the whole listing") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"grid-truncated.txt", "mccli activity show: row 10 is cut short: \"9174120000211014 "},
        {"grid-truncated.xml", "mccli activity show: unreadable XML: "},
        {"error.txt", "mccli failed: Client does not exist. (code 1, event 22236)"},
        {"error.xml", "mccli failed: Client does not exist. (code 1, event 22236)"},
        {"no-dashes.txt", "mccli activity show: no dashed line under the header"},
    };
    for (const auto& [file, why] : cases) {
      INFO(file);
      const auto outcomes = run_grid({"cat", kFixtures + file});
      REQUIRE(outcomes.size() == 1);
      CHECK(outcomes[0].status == State::kUnknown);
      CHECK_THAT(outcomes[0].summary, Catch::StartsWith(why));
    }
  }
  SECTION("mccli exiting with an error: what its status line says") {
    const auto outcomes =
        run_grid({"sh", "-c", "cat " + kFixtures + "error.txt; echo 'mccli: error' >&2; exit 1"});
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].summary == "mccli failed: Client does not exist. (code 1, event 22236)");
  }
  SECTION("a row whose client cannot be told: the whole listing") {
    testing::TempDir dir;
    std::ifstream in(kFixtures + "grid.txt");
    std::stringstream text;
    text << in.rdbuf();
    std::string listing = text.str();
    // The first row's status and domain, gone.
    const auto row = listing.find("9174120000210509");
    listing.replace(row + 17, 9, "Exploded ");
    listing.replace(listing.find("/clients/mairie-exemple", row), 23, "                       ");
    const auto outcomes = run_grid({"cat", dir.write("grid.txt", listing).string()});
    REQUIRE(outcomes.size() == 1);
    CHECK_THAT(outcomes[0].summary,
               Catch::StartsWith("mccli activity show: row 1: unknown status \"Exploded\""));
  }
}

TEST_CASE("parse_mccli: --xml read as XML is written, a hostile document refused", "[avamar]") {
  const std::string results =
      "<Results><ReturnCode> 0 </ReturnCode><EventCode>23000</EventCode>"
      "<EventSummary>CLI command\n    completed &amp; <![CDATA[<done>]]></EventSummary></Results>";
  SECTION("entities, CDATA, comments, attributes, an encoding and blanks") {
    const std::string document =
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!-- mccli -->\n<CLIOutput v=\"1\">" +
        results +
        "<Data><Row kind=\"a\"><Client>mairie&#45;01</Client><Domain>/clients/caf\xe9</Domain>"
        "<Group>Daily</Group><Group>Weekly</Group><!-- note --></Row>"
        "<Row><Client>  ecole\n\tsrv  </Client></Row></Data></CLIOutput>";
    const auto out = parse_mccli(document, "mccli client show");
    REQUIRE(out.is_ok());
    CHECK(out->xml);
    CHECK(out->event_code == 23000);
    CHECK(out->summary == "CLI command completed & <done>");
    REQUIRE(out->rows.size() == 2);
    CHECK(out->rows[0].cell("Client") == "mairie-01");
    CHECK(out->rows[0].cell("Domain") == "/clients/caf\xc3\xa9");  // UTF-8
    CHECK(out->rows[0].cell("Group") == "Daily, Weekly");
    CHECK(out->rows[1].cell("Client") == "ecole srv");
    CHECK(out->columns == std::vector<std::string>{"Client", "Domain", "Group"});
  }
  SECTION("what is not well formed, or not mccli's, names why") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"<CLIOutput>" + results + "</CLIOutput><CLIOutput/>",
         "unreadable XML: junk after document element (line 2)"},
        {"<CLIOutput>" + results + "<Data><Row>", "unreadable XML: no element found"},
        {"<CLIOutput>" + results + "<Data><Row><ID>1</Id></Row></Data></CLIOutput>",
         "unreadable XML: mismatched tag"},
        {"<CLIOutput>&undefined;</CLIOutput>", "unreadable XML: undefined entity"},
        {"<CLIOutput>" + results + "<Data><Row><ID><b>1</b></ID></Row></Data></CLIOutput>",
         "row 1: <ID> holds elements"},
        {"<CLIOutput>" + results + "<Data><Line/></Data></CLIOutput>",
         "unexpected element <Line> in Data"},
    };
    for (const auto& [document, reason] : cases) {
      INFO(document);
      const auto out = parse_mccli(document, "mccli activity show");
      REQUIRE_FALSE(out.is_ok());
      CHECK_THAT(out.status().message(), Catch::StartsWith("mccli activity show: " + reason));
    }
  }
  SECTION("nesting is bounded, whatever its depth") {
    for (const std::size_t depth : {33, 100'000}) {
      std::string document;
      for (std::size_t i = 0; i < depth; ++i) document += "<a>";
      for (std::size_t i = 0; i < depth; ++i) document += "</a>";
      const auto out = parse_mccli(document, "mccli activity show");
      REQUIRE_FALSE(out.is_ok());
      CHECK_THAT(out.status().message(),
                 Catch::Contains("unreadable XML: elements nested deeper than 32"));
    }
  }
  SECTION("entities that expand a billion times are refused") {
    std::string document = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY e0 \"lol\">";
    for (int i = 1; i < 10; ++i) {
      document += "<!ENTITY e" + std::to_string(i) + " \"";
      for (int j = 0; j < 10; ++j) document += "&e" + std::to_string(i - 1) + ";";
      document += "\">";
    }
    document += "]><d>&e9;</d>";
    const auto out = parse_mccli(document, "mccli activity show");
    REQUIRE_FALSE(out.is_ok());
    CHECK_THAT(out.status().message(), Catch::Contains("unreadable XML: "));
  }
}

TEST_CASE("AvamarCheck: configure names the bad parameter", "[avamar]") {
  CHECK_THAT(testing::configure_error(make_avamar_check, json::object()),
             Catch::StartsWith("command: required"));
  CHECK_THAT(testing::configure_error(make_avamar_check, {{"command", "mccli"}, {"client", 3}}),
             Catch::StartsWith("client: expected a string, got number"));
  struct Case {
    json params;
    const char* error;
  };
  for (const Case& c : {
           Case{{{"client", "srv"}, {"sites", {{"/clients", "a"}}}}, "sites: not with client"},
           Case{{{"sites", json::array()}}, "sites: must be an object"},
           Case{{{"sites", json::object()}}, "sites: must be an object"},
           Case{{{"sites", {{"clients/a", "a"}}}}, "sites: \"clients/a\": must be a domain"},
           Case{{{"sites", {{"/clients/a", "Not a site"}}}},
                "sites: \"/clients/a\": \"Not a site\" is "
                "not a site name"},
           Case{{{"sites", {{"/clients/a", {{"warn", "2d"}}}}}},
                "sites: \"/clients/a\": site: required"},
           Case{{{"sites", {{"/clients/a", {{"site", "a"}, {"warn", "9d"}, {"crit", "2d"}}}}}},
                "sites: \"/clients/a\": warn: "},
           Case{{{"sites", {{"/clients/a", "a"}, {"/clients/a/", "b"}}}},
                "sites: \"/clients/a/\": given twice"},
           Case{{{"site", {{"/clients/a", "a"}}}}, "site: unknown key (did you mean \"sites\"?)"},
       }) {
    json params = c.params;
    params["command"] = "mccli";
    INFO(params.dump());
    CHECK_THAT(testing::configure_error(make_avamar_check, params), Catch::StartsWith(c.error));
  }
}

}  // namespace
}  // namespace vigie::plugins::backup
