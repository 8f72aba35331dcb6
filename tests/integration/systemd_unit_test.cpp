// The agent's unit file, checked by systemd's own analyzer (it needs no running
// systemd): verify must be silent, and the offline security review must rate the
// hardening well.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "plugins/process.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

constexpr const char* kAnalyze = "/usr/bin/systemd-analyze";

std::string read(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The unit with ExecStart pointing at the agent just built (verify wants the program to
// exist), in a folder of its own.
std::filesystem::path unit_copy(const testing::TempDir& dir) {
  std::string unit = read(std::filesystem::path(VIGIE_SOURCE_DIR) / "systemd/vigie-agent.service");
  const std::string installed = "ExecStart=/usr/bin/vigie-agent ";
  const auto at = unit.find(installed);
  REQUIRE(at != std::string::npos);
  unit.replace(at, installed.size(), std::string("ExecStart=") + VIGIE_AGENT_BIN + " ");
  return dir.write("vigie-agent.service", unit);
}

plugins::ProcessResult analyze(std::vector<std::string> argv) {
  argv.insert(argv.begin(), kAnalyze);
  auto r = plugins::run_process(argv, {.timeout = std::chrono::seconds(30)});
  REQUIRE(r.is_ok());
  return *r;
}

TEST_CASE("systemd: vigie-agent.service passes systemd-analyze verify without a warning",
          "[systemd]") {
  if (!std::filesystem::exists(kAnalyze))
    VIGIE_SKIP_TEST(testing::Absent::kPackage,
                    kAnalyze << " is not installed (scripts/bootstrap installs systemd)");
  testing::TempDir dir;
  const auto unit = unit_copy(dir);
  const auto verified = analyze({"verify", unit.string()});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  CHECK(verified.err.empty());
  CHECK(verified.out.empty());

  // The analyzer is not silent about everything: a misspelt key is reported.
  std::string bad = read(unit);
  bad.replace(bad.find("ProtectSystem="), 14, "ProtectSystemm=");
  const auto misspelt = analyze({"verify", dir.write("vigie-agent.service", bad).string()});
  CHECK(misspelt.err.find("ProtectSystemm") != std::string::npos);
}

TEST_CASE("systemd: vigie-agent.service has its own user and no capability by default",
          "[systemd]") {
  if (!std::filesystem::exists(kAnalyze))
    VIGIE_SKIP_TEST(testing::Absent::kPackage,
                    kAnalyze << " is not installed (scripts/bootstrap installs systemd)");
  testing::TempDir dir;
  const auto unit = unit_copy(dir);
  const std::string text = read(unit);
  for (const char* line : {"\nUser=vigie\n", "\nStateDirectory=vigie\n", "\nProtectSystem=strict\n",
                           "\nNoNewPrivileges=yes\n", "\nCapabilityBoundingSet=\n",
                           "\nType=notify\n", "\nWatchdogSec="}) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
  const auto security = analyze({"security", "--offline=true", unit.string()});
  INFO(security.out << security.err);
  const auto at = security.out.find("Overall exposure level for ");
  REQUIRE(at != std::string::npos);
  const auto colon = security.out.find(": ", at);
  REQUIRE(colon != std::string::npos);
  // 0 is a perfect sandbox, 10 none; under 3 systemd calls it OK.
  CHECK(std::stod(security.out.substr(colon + 2)) < 3.0);
}

// The agent runs as vigie, the collector as a dynamic user: a folder shared between
// them would be handed back and forth by systemd on a machine that runs both.
TEST_CASE("systemd: the agent and the collector have a state folder each", "[systemd]") {
  const std::filesystem::path units = std::filesystem::path(VIGIE_SOURCE_DIR) / "systemd";
  const std::string agent = read(units / "vigie-agent.service");
  const std::string collector = read(units / "vigie-collector.service");
  CHECK(agent.find("\nStateDirectory=vigie\n") != std::string::npos);
  CHECK(agent.find("--state-dir /var/lib/vigie\n") != std::string::npos);
  CHECK(collector.find("\nStateDirectory=vigie-collector\n") != std::string::npos);
  CHECK(collector.find("--db /var/lib/vigie-collector/collector.db\n") != std::string::npos);
  CHECK(collector.find("/var/lib/vigie/") == std::string::npos);
  // The reports read the collector's database, as the collector's user.
  for (const char* report : {"vigie-backup-report.service", "vigie-availability-report.service"}) {
    INFO(report);
    const std::string text = read(units / report);
    CHECK(text.find("\nStateDirectory=vigie-collector vigie-reports\n") != std::string::npos);
    CHECK(text.find("\nReadOnlyPaths=/var/lib/vigie-collector\n") != std::string::npos);
    CHECK(text.find("--db /var/lib/vigie-collector/collector.db ") != std::string::npos);
    CHECK(text.find("/var/lib/vigie/") == std::string::npos);
  }
}

}  // namespace
}  // namespace vigie
