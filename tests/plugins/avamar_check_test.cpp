#include "plugins/backup/avamar_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

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

Outcome run_fixture(const std::string& name, json params = json::object()) {
  params["command"] = {"cat", kFixtures + name};
  return testing::configured(make_avamar_check, params)->run(testing::context(5s));
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
  const json wide = {{"warn", "1000d"}, {"crit", "2000d"}};
  auto params = wide;
  params["client"] = "mairie-srv";
  auto outcome = run_fixture("two-clients.txt", params);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("last completed backup ") &&
                 Catch::Contains("(2026-11-27 22:12 UTC), 2 completed backups, 12 GiB (+1% from "
                                 "the previous one); Running since 2026-11-28 22:00 UTC"));
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
  outcome = run_fixture("two-clients.txt", wide);
  CHECK(outcome.status == State::kCritical);
}

TEST_CASE("AvamarCheck: an unknown format is UNKNOWN, never OK", "[avamar]") {
  auto outcome = run_fixture("error.txt");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "mccli failed: Client does not exist. (code 1, event 22241)");
  outcome = run_fixture("no-dashes.txt");
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("mccli activity show: no dashed line under the header"));

  const std::string good = kHead + row("Completed", 0, 3h, 2h, "12.6 GB");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "mccli activity show: empty output"},
      {"<?xml version=\"1.0\"?><CLIOutput/>\n", "is not \"<code>,<event>,<message>\""},
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

TEST_CASE("AvamarCheck: configure names the bad parameter", "[avamar]") {
  CHECK_THAT(testing::configure_error(make_avamar_check, json::object()),
             Catch::StartsWith("command: required"));
  CHECK_THAT(testing::configure_error(make_avamar_check, {{"command", "mccli"}, {"client", 3}}),
             Catch::StartsWith("client: expected a string, got number"));
}

}  // namespace
}  // namespace vigie::plugins::backup
