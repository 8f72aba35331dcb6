#include "plugins/antivirus/sophos_linux_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/plugins/check_test_util.hpp"
#include "tests/support/child.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::antivirus {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

const std::string kFixtures = VIGIE_SOURCE_DIR "/tests/fixtures/sophos/";

std::string local_time(long age) {
  const std::time_t when = std::time(nullptr) - age;
  std::tm tm{};
  ::localtime_r(&when, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S.125", &tm);
  return text;
}

// A fixture with its "@AGE@<seconds>" placeholders turned into local times.
std::string fixture(const std::string& name) {
  std::ifstream in(kFixtures + name);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  const std::regex placeholder("@AGE@([0-9]+)");
  std::string out;
  auto last = text.cbegin();
  for (std::sregex_iterator it(text.begin(), text.end(), placeholder), end; it != end; ++it) {
    out.append(last, (*it)[0].first);
    out += local_time(std::stol((*it)[1].str()));
    last = (*it)[0].second;
  }
  out.append(last, text.cend());
  return out;
}

// An SPL install tree whose processes are real programs (copies of sleep under the
// names SPL gives them), so that the check finds them in /proc.
class FakeInstall {
 public:
  FakeInstall() {
    dir_.write("spl/logs/base/suldownloader.log", fixture("suldownloader.log"));
    dir_.write("spl/plugins/av/log/av.log", fixture("av.log"));
  }
  std::string root() const { return (dir_ / "spl").string(); }
  const testing::TempDir& dir() const { return dir_; }
  void start(const std::string& relative) {
    const auto program = dir_ / ("spl/" + relative);
    std::filesystem::create_directories(program.parent_path());
    std::filesystem::copy_file("/bin/sleep", program);
    children_.push_back(std::make_unique<testing::Child>(
        std::vector<std::string>{program.string(), "30"}, dir_ / "children.log"));
  }

 private:
  testing::TempDir dir_;
  std::vector<std::unique_ptr<testing::Child>> children_;
};

Outcome run_sophos(const json& params) {
  return testing::configured(make_sophos_linux_check, params)->run(testing::context(5s));
}

TEST_CASE("SophosLinuxCheck: running, updated, no recent detection", "[sophos]") {
  FakeInstall spl;
  spl.start("base/bin/sophos_watchdog");
  spl.start("plugins/av/sbin/sophos_threat_detector");
  const bool both = testing::eventually(
      [&] {
        return find_metric(run_sophos({{"root", spl.root()}}), "processes_missing").value == 0;
      },
      2s);
  REQUIRE(both);
  auto outcome = run_sophos({{"root", spl.root()}});
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary ==
        "Sophos Protection for Linux running, updated 2h1m ago, no detection "
        "in the last 1d");
  CHECK(find_metric(outcome, "update_age").value >= 7290);
  CHECK(find_metric(outcome, "detections").value == 0);

  outcome = run_sophos({{"root", spl.root()}, {"update_warn", "1h"}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::Contains("updated 2h1m ago (WARNING > 1h)"));

  // The 3-day-old detection counts in a 3-day window.
  outcome = run_sophos({{"root", spl.root()}, {"detections_window", "3d"}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::EndsWith(", 1 detection in the last 3d, the latest "
                                              "'EICAR-AV-Test' in '/home/old/eicar.com'"));

  // A failed attempt after the last success.
  std::ofstream(spl.root() + "/logs/base/suldownloader.log", std::ios::app)
      << "190001  [" << local_time(60) << "]    ERROR [9263606720] SulDownloader <> "
      << "Update failed, with code: 112\n";
  outcome = run_sophos({{"root", spl.root()}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::Contains(", last update attempt failed at ") &&
                                  Catch::Contains(": Update failed, with code: 112"));
}

TEST_CASE("SophosLinuxCheck: not installed, not running, never updated", "[sophos]") {
  testing::TempDir dir;
  auto outcome = run_sophos({{"root", (dir / "none").string()}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary ==
        "Sophos Protection for Linux is not installed (no " + (dir / "none").string() + ")");
  std::filesystem::create_directories(dir / "spl");
  outcome = run_sophos({{"root", (dir / "spl").string()}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::Contains("has no anti-virus plugin"));

  FakeInstall spl;
  spl.start("base/bin/sophos_watchdog");
  // Until the child has exec'ed, /proc shows the test's own command line.
  REQUIRE(testing::eventually(
      [&] {
        outcome = run_sophos({{"root", spl.root()}});
        return find_metric(outcome, "processes_missing").value == 1;
      },
      2s));
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("Sophos Protection for Linux not running: sophos_threat_detector "
                               "(CRITICAL), updated "));
  CHECK(find_metric(outcome, "processes_missing").value == 1);

  // Logs without the lines the check looks for, or with garbage: never updated.
  spl.dir().write("spl/logs/base/suldownloader.log",
                  "garbage\n[not a time] x <> Update success\n" + std::string(3 << 20, 'x') + "\n");
  outcome = run_sophos({{"root", spl.root()}, {"processes", json::array()}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "Sophos Protection for Linux running, no successful update in " +
                               spl.root() +
                               "/logs/base/suldownloader.log (CRITICAL), no "
                               "detection in the last 1d");
}

TEST_CASE("SophosLinuxCheck: configure names the bad parameter", "[sophos]") {
  CHECK(testing::configure_error(make_sophos_linux_check, {{"processes", "sophos_watchdog"}}) ==
        "processes: expected an array of strings, got string");
  CHECK(testing::configure_error(make_sophos_linux_check, {{"processes", {"bin/x"}}}) ==
        "processes[0]: \"bin/x\": must be a program name, without a '/'");
  CHECK(testing::configure_error(make_sophos_linux_check, {{"update_warn", "8d"}}) ==
        "update_warn: 8d is above update_crit (1w)");
  CHECK_THAT(testing::configure_error(make_sophos_linux_check, {{"root", "opt/sophos-spl"}}),
             Catch::Contains("must be an absolute path"));
}

}  // namespace
}  // namespace vigie::plugins::antivirus
