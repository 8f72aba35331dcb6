// VIGIE_REQUIRE_PEERS=1 (tests/support/peers.hpp), as scripts/test sets it after
// scripts/bootstrap: a test whose peer is a package bootstrap installs fails when the peer
// is missing, instead of passing with a warning while testing nothing; a host's refusal
// (not root) stays a warned skip. This program runs its own tests, in an environment made
// for each: the real skip sites, not a copy of their logic.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "plugins/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Runs this test program with `arguments` (a filter) and exactly `environment`, as the
// user `run_as` when given; the compact reporter writes a message on one line.
plugins::ProcessResult run_self(const fs::path& program, const std::vector<std::string>& arguments,
                                std::vector<std::string> environment,
                                std::optional<plugins::RunAs> run_as = std::nullopt) {
  std::vector<std::string> argv = {program.string(), "--reporter", "compact"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  plugins::ProcessOptions options;
  options.timeout = 60s;
  options.environment = std::move(environment);
  options.run_as = std::move(run_as);
  auto result = plugins::run_process(argv, options);
  REQUIRE(result.is_ok());
  INFO(result->out << result->err);
  REQUIRE(result->ending == plugins::ProcessResult::Ending::kExited);
  return std::move(*result);
}

TEST_CASE(
    "Test peers: PostgreSQL missing fails its test under VIGIE_REQUIRE_PEERS=1, and is a warned "
    "skip without it",
    "[peers]") {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  // PATH holds one empty folder: tests/support/postgres_server finds no pg_config.
  testing::TempDir empty;
  const std::string path = "PATH=" + empty.path().string();
  const std::vector<std::string> test = {"[postgres-e2e]"};

  const auto required = run_self(self, test, {path, "LANG=C", "VIGIE_REQUIRE_PEERS=1"});
  INFO(required.out << required.err);
  CHECK(required.exit_code != 0);
  CHECK_THAT(required.out,
             Catch::Contains("failed: explicitly with 1 message: 'PostgreSQL is not installed") &&
                 Catch::Contains("postgresql-15") && Catch::Contains("VIGIE_REQUIRE_PEERS=1"));
  CHECK_THAT(required.out, !Catch::Contains("skipped: "));

  for (const std::string setting : {"", "VIGIE_REQUIRE_PEERS=0"}) {
    std::vector<std::string> environment = {path, "LANG=C"};
    if (!setting.empty()) environment.push_back(setting);
    const auto relaxed = run_self(self, test, environment);
    INFO(setting << "\n" << relaxed.out << relaxed.err);
    CHECK(relaxed.exit_code == 0);
    CHECK_THAT(relaxed.out, Catch::Contains("warning: 'skipped: PostgreSQL is not installed") &&
                                Catch::Contains("postgresql-15") &&
                                Catch::Contains("Passed 1 test case"));
  }
}

TEST_CASE("Test peers: a host's refusal (not root) stays a warned skip under VIGIE_REQUIRE_PEERS=1",
          "[peers]") {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  std::optional<plugins::RunAs> nobody;
  testing::TempDir dir;
  fs::path program = self;
  if (::geteuid() == 0) {
    // As nobody, from a copy in a folder nobody can reach wherever the build tree is.
    auto user = plugins::find_user("nobody");
    REQUIRE(user.is_ok());
    nobody = *user;
    fs::permissions(dir.path(), fs::perms(0755));
    program = dir / "tests";
    fs::copy_file(self, program);
    fs::permissions(program, fs::perms(0755));
  }
  const auto refused =
      run_self(program, {"Agent: a plugin run as another user dies with its group at its timeout"},
               {"PATH=/usr/bin:/bin", "LANG=C", "VIGIE_REQUIRE_PEERS=1"}, nobody);
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 0);
  CHECK_THAT(refused.out, Catch::Contains("warning: 'skipped: not root") &&
                              Catch::Contains("Passed 1 test case"));
}

}  // namespace
}  // namespace vigie
