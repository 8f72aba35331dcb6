#include "plugins/backup/avamar_server_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "plugins/check_support.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::backup {
namespace {

using namespace std::chrono_literals;
using Catch::Contains;
using Catch::StartsWith;
using nlohmann::json;
using testing::find_metric;

const std::string kFixtures = VIGIE_SOURCE_DIR "/tests/fixtures/avamar/";

std::string fixture(const std::string& name) {
  std::ifstream in(kFixtures + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// The published checkpoint list is of 2016-12-01 (its tags are UTC): looked at that
// evening. status.dpn's last GC is moved to that afternoon (local time, as the check
// reads it).
std::chrono::system_clock::time_point evening() {
  return std::chrono::system_clock::from_time_t(*parse_timestamp("2016-12-01T20:00:00Z", false));
}
const std::string kPublishedGc = "Sun Jan 23 17:07:26 2013";
std::string recent_gc() {
  const std::time_t when =
      static_cast<std::time_t>(*parse_timestamp("2016-12-01T20:00:00Z", false)) - 3 * 3600;
  std::tm tm{};
  ::localtime_r(&when, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%a %b %d %H:%M:%S %Y", &tm);
  return text;
}

struct Files {
  testing::TempDir dir;
  std::string show_prop = fixture("show-prop.txt");
  std::string checkpoints = fixture("checkpoint-show.txt");
  std::string status = replaced(fixture("status.dpn"), kPublishedGc, recent_gc());

  Outcome run(json extra = json::object()) const {
    json params = {{"show_prop_command", {"cat", dir.write("show-prop", show_prop).string()}},
                   {"checkpoint_command", {"cat", dir.write("checkpoints", checkpoints).string()}},
                   {"status_command", {"cat", dir.write("status.dpn", status).string()}}};
    params.update(extra);
    auto check = make_avamar_server_check();
    check->attach({.now = evening});
    const Status s = check->configure(params);
    INFO(s.to_string());
    REQUIRE(s.is_ok());
    const Outcome outcome = check->run(testing::context(5s));
    INFO(state_name(outcome.status) << ": " << outcome.summary);
    return outcome;
  }
};

TEST_CASE("AvamarServerCheck: the published outputs, plain and XML", "[avamar-server]") {
  Files files;
  for (bool xml : {false, true}) {
    INFO(xml);
    if (xml) {
      files.show_prop = fixture("show-prop.xml");
      files.checkpoints = fixture("checkpoint-show.xml");
    }
    const Outcome outcome = files.run();
    CHECK(outcome.status == State::kOk);
    CHECK(outcome.summary ==
          "17.1% used (322 GiB of 1.9 TiB); last validated checkpoint cp.20161201192407 35m ago, "
          "newest cp.20161201193119 not validated; last GC 3h ago (OK, recovered 342 MiB)");
    CHECK(find_metric(outcome, "used").value == Approx(17.1));
    CHECK(find_metric(outcome, "used").warn == Range{0, 80});
    CHECK(find_metric(outcome, "used").crit == Range{0, 90});
    CHECK(find_metric(outcome, "capacity").value == Approx(1.9 * 1099511627776.0));
    CHECK(find_metric(outcome, "protected").value == Approx(373.3 * 1073741824.0));
    CHECK(find_metric(outcome, "checkpoint_age").value == 35 * 60 + 53);
    CHECK(find_metric(outcome, "checkpoints").value == 3);
    CHECK(find_metric(outcome, "gc_age").value == 3 * 3600);
    CHECK(find_metric(outcome, "gc_recovered").value == Approx(342.02 * 1048576.0));
    CHECK(find_metric(outcome, "nodes").value == 1);
    CHECK(find_metric(outcome, "nodes_offline").value == 0);
  }
  // The published status.dpn as it is: its GC is years old.
  files.status = fixture("status.dpn");
  const Outcome old = files.run();
  CHECK(old.status == State::kWarning);
  CHECK_THAT(old.summary, Contains("; last GC ") && Contains("(WARNING > 50h)"));
}

TEST_CASE("AvamarServerCheck: capacity, checkpoints and the grid's state judged",
          "[avamar-server]") {
  struct Case {
    const char* name;
    std::string Files::*file;
    std::string from, to;
    State state;
    const char* says;
  };
  const std::string gc_line =
      "Last GC: finished " + recent_gc() + " after 01m 25s >> recovered 342.02 MB (OK)";
  const Case cases[] = {
      {"83% used", &Files::show_prop, "17.1%", "83.4%", State::kWarning,
       "83.4% used (322 GiB of 1.9 TiB) (WARNING > 80%)"},
      {"95% used", &Files::show_prop, "17.1%", "95%", State::kCritical, "95% used"},
      {"no utilization: used over total", &Files::show_prop, "Server utilization 17.1%\n", "",
       State::kOk, "16.6% used (322 GiB of 1.9 TiB)"},
      {"nothing to tell the capacity", &Files::show_prop,
       "Capacity used      322.2 GB\nServer utilization 17.1%\n", "", State::kUnknown,
       "mccli server show-prop: neither \"Server utilization\" nor"},
      {"an unreadable size", &Files::show_prop, "322.2 GB", "lots    ", State::kUnknown,
       "mccli server show-prop: unreadable row 2 \"Capacity used      lots"},
      {"no validated checkpoint", &Files::checkpoints,
       "Validated Yes\ncp.20161201192407 2016-12-01 14:24:07 EST Validated",
       "          Yes\ncp.20161201192407 2016-12-01 14:24:07 EST          ", State::kCritical,
       "no validated checkpoint among 3"},
      {"validation in progress", &Files::checkpoints, fixture("checkpoint-show.txt"),
       "0,23000,CLI command completed successfully.\n"
       "Tag               Time                    Validated   Deletable\n"
       "----------------- ----------------------- ----------- ---------\n"
       "cp.20161201191440 2016-12-01 14:14:40 EST Validated   Yes\n"
       "cp.20161201193119 2016-12-01 14:31:19 EST In Progress No\n",
       State::kOk, "newest cp.20161201193119 validation in progress"},
      {"a Validated value not known", &Files::checkpoints, "14:31:19 EST           No",
       "14:31:19 EST Maybe     No", State::kUnknown,
       "mccli checkpoint show: Validated \"Maybe\" not understood in row 3 \"cp.20161201193119"},
      {"a tag not understood", &Files::checkpoints, "cp.20161201193119", "cp.2016120119311x",
       State::kUnknown, "mccli checkpoint show: unreadable tag in row 3"},
      {"a node offline", &Files::status, "ONLINE fullaccess mhpu", "OFFLINE fullaccess mhpu",
       State::kCritical, "node 0.0 OFFLINE"},
      {"a node suspended", &Files::status, "1 false   0.01", "1 true    0.01", State::kWarning,
       "node 0.0 suspended (true)"},
      {"admin access", &Files::status, "Access-Status: full", "Access-Status: admin",
       State::kWarning, "Access-Status admin (lower while maintenance runs)"},
      {"system not ok", &Files::status, "System-Status: ok", "System-Status: degraded",
       State::kCritical, "System-Status degraded"},
      {"GC failed", &Files::status, "342.02 MB (OK)", "342.02 MB (FAILED)", State::kCritical,
       "last GC 3h ago (FAILED, recovered 342 MiB)"},
      {"GC line not understood", &Files::status, gc_line, "Last GC: running since 17:02",
       State::kUnknown, "status.dpn: line not understood: \"Last GC: running since 17:02\""},
      {"no GC line", &Files::status, gc_line + "\n", "", State::kUnknown,
       "status.dpn: no \"Last GC:\" line"},
      {"a node row cut", &Files::status, "6.1.0-402  ONLINE fullaccess mhpu+0hpu+0hpu   1 false",
       "6.1.0-402", State::kUnknown,
       "status.dpn: line not understood: \"0.0    10.20.30.41  6.1.0-402   0.01"},
      {"a warning line", &Files::status, "System-Status: ok",
       "WARNING: node 0.1 disk 3 is slow\nSystem-Status: ok", State::kWarning,
       "status.dpn: \"WARNING: node 0.1 disk 3 is slow\""},
      {"hfscheck failed", &Files::status, "2132 of 2132 stripes (OK)",
       "2130 of 2132 stripes (ERROR)", State::kWarning, "status.dpn: \"Last hfscheck: finished"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Files files;
    files.*c.file = replaced(files.*c.file, c.from, c.to);
    const Outcome outcome = files.run();
    CHECK(outcome.status == c.state);
    CHECK_THAT(outcome.summary, Contains(c.says));
  }
  // Old checkpoints, against the thresholds.
  Files files;
  auto outcome = files.run({{"checkpoint_warn", "10m"}, {"checkpoint_crit", "30m"}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Contains("cp.20161201192407 35m ago (CRITICAL > 30m)"));
  outcome = files.run({{"checkpoint_warn", "10m"}, {"warn", 10}, {"crit", 50}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, StartsWith("17.1% used (322 GiB of 1.9 TiB) (WARNING > 10%)") &&
                                  Contains("35m ago (WARNING > 10m)"));
}

TEST_CASE("AvamarServerCheck: the three commands through one way in, and when it fails",
          "[avamar-server]") {
  testing::TempDir dir;
  Files files;
  const auto show_prop = dir.write("show-prop.txt", files.show_prop);
  const auto checkpoints = dir.write("checkpoint-show.txt", files.checkpoints);
  const auto status = dir.write("status.dpn", files.status);
  // Like ssh: the host, then the command's words.
  const auto fake_ssh = dir.write("fake-ssh",
                                  "#!/bin/sh\n"
                                  "[ \"$1\" = admin@avamar ] || exit 255\n"
                                  "shift\n"
                                  "case \"$*\" in\n"
                                  "  'mccli server show-prop') cat " +
                                      show_prop.string() +
                                      " ;;\n"
                                      "  'mccli checkpoint show') cat " +
                                      checkpoints.string() +
                                      " ;;\n"
                                      "  'status.dpn') cat " +
                                      status.string() +
                                      " ;;\n"
                                      "  *) echo \"unknown command: $*\" >&2; exit 127 ;;\n"
                                      "esac\n",
                                  true);
  auto check = make_avamar_server_check();
  check->attach({.now = evening});
  REQUIRE(check->configure({{"command", {fake_ssh.string(), "admin@avamar"}}}).is_ok());
  Outcome outcome = check->run(testing::context(5s));
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, StartsWith("17.1% used"));

  check = make_avamar_server_check();
  check->attach({.now = evening});
  REQUIRE(check
              ->configure({{"command", {fake_ssh.string(), "admin@elsewhere"}},
                           {"status_command", {"cat", status.string()}}})
              .is_ok());
  outcome = check->run(testing::context(5s));
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary,
             StartsWith("mccli server show-prop: " + fake_ssh.string() +
                        " failed with code 255: no reason given; mccli checkpoint show: ") &&
                 Contains("; last GC 3h ago (OK"));
}

TEST_CASE("AvamarServerCheck: configure names the bad parameter", "[avamar-server]") {
  CHECK_THAT(testing::configure_error(make_avamar_server_check, {{"warn", 95}, {"crit", 90}}),
             StartsWith("warn"));
  CHECK_THAT(testing::configure_error(make_avamar_server_check,
                                      {{"checkpoint_warn", "3d"}, {"checkpoint_crit", "1d"}}),
             StartsWith("checkpoint_warn: 3d is above checkpoint_crit"));
  CHECK_THAT(testing::configure_error(make_avamar_server_check, {{"command", json::array()}}),
             StartsWith("command: "));
  CHECK_THAT(testing::configure_error(make_avamar_server_check, {{"gc_warn", "soon"}}),
             StartsWith("gc_warn: "));
  CHECK_THAT(testing::configure_error(make_avamar_server_check, {{"checkpoints", 3}}),
             StartsWith("checkpoints: unknown key; known keys: command"));
  testing::configured(make_avamar_server_check, json::object());
}

}  // namespace
}  // namespace vigie::plugins::backup
