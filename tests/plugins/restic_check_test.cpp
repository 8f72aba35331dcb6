#include "plugins/backup/restic_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "plugins/process.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::backup {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

// A real restic repository in a temporary folder, with a folder of data to back up.
class ResticRepo {
 public:
  ResticRepo() {
    dir_.write("password", "correct horse\n");
    std::filesystem::create_directories(data());
    restic({"init"});
  }

  std::filesystem::path repository() const { return dir_ / "repo"; }
  std::filesystem::path password_file() const { return dir_ / "password"; }
  std::filesystem::path data() const { return dir_ / "data"; }
  const testing::TempDir& dir() const { return dir_; }

  // A snapshot of data() dated `age` ago (restic backup --time, local time).
  void backup(std::chrono::seconds age) {
    const std::time_t when = std::time(nullptr) - age.count();
    std::tm tm{};
    ::localtime_r(&when, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    restic({"backup", "--time", text, data().string()});
  }

  json params() const {
    return {{"repository", repository().string()}, {"password_file", password_file().string()}};
  }

  void restic(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        "restic",     "--repo", repository().string(), "--password-file", password_file().string(),
        "--no-cache", "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.timeout = 20s;
    const auto result = run_process(argv, options);
    REQUIRE(result.is_ok());
    INFO(result->err);
    REQUIRE(result->ending == ProcessResult::Ending::kExited);
    REQUIRE(result->exit_code == 0);
  }

 private:
  testing::TempDir dir_;
};

Outcome run_restic(const json& params) {
  return testing::configured(make_restic_check, params)->run(testing::context(15s));
}

TEST_CASE("ResticCheck: fresh snapshots are OK, one that shrinks by half is WARNING", "[restic]") {
  ResticRepo repo;
  repo.dir().write("data/a.bin", std::string(20000, 'a'));
  repo.dir().write("data/b.bin", std::string(20000, 'b'));
  repo.dir().write("data/c.bin", std::string(20000, 'c'));
  repo.backup(2h);
  repo.backup(60s);

  // One check for the two runs: it keeps the sizes of the snapshots it has seen.
  const auto check = testing::configured(make_restic_check, repo.params());
  auto outcome = check->run(testing::context(15s));
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("last snapshot 1m ago (") &&
                 Catch::Contains(", 2 snapshots, 59 KiB (+0% from the previous one)"));
  CHECK(find_metric(outcome, "age").value >= 60);
  CHECK(find_metric(outcome, "age").value < 120);
  CHECK(find_metric(outcome, "age").warn == Range{0, 26 * 3600});
  CHECK(find_metric(outcome, "age").crit == Range{0, 50 * 3600});
  CHECK(find_metric(outcome, "count").value == 2);
  CHECK(find_metric(outcome, "size").value == 60000);
  CHECK(find_metric(outcome, "size_change").value == 0);

  std::filesystem::remove(repo.data() / "b.bin");
  std::filesystem::remove(repo.data() / "c.bin");
  repo.backup(0s);
  outcome = check->run(testing::context(15s));
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::EndsWith(", 3 snapshots, 20 KiB, 67% smaller than the "
                                              "previous one (WARNING > 50%)"));
  CHECK(find_metric(outcome, "size_change").value == -66.67);
  CHECK(find_metric(outcome, "size_change").warn == Range{-50, INFINITY});
}

TEST_CASE("ResticCheck: an old snapshot is WARNING, then CRITICAL, filters apply", "[restic]") {
  ResticRepo repo;
  repo.dir().write("data/a.txt", "hello\n");
  repo.backup(30h);

  auto outcome = run_restic(repo.params());
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::StartsWith("last snapshot 30h ago (") &&
                                  Catch::Contains(") (WARNING > 26h), "));

  auto params = repo.params();
  params["warn"] = "12h";
  params["crit"] = "1d";
  outcome = run_restic(params);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::Contains(" (CRITICAL > 1d), 1 snapshot, "));
  CHECK_FALSE(find_metric(outcome, "size_change").value.has_value());

  params = repo.params();
  params["host"] = "no-such-host";
  outcome = run_restic(params);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no snapshot matching the filters in " + repo.repository().string());
}

TEST_CASE("ResticCheck: empty repository, wrong password, deleted repository are CRITICAL",
          "[restic]") {
  ResticRepo repo;
  auto outcome = run_restic(repo.params());
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no snapshot in " + repo.repository().string());
  CHECK(find_metric(outcome, "count").value == 0);

  auto params = repo.params();
  params["password_file"] = repo.dir().write("wrong", "battery staple\n").string();
  outcome = run_restic(params);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "restic snapshots failed: wrong password or no key found");

  std::filesystem::remove_all(repo.repository());
  outcome = run_restic(repo.params());
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::StartsWith("restic snapshots failed: ") &&
                                  Catch::Contains("no such file or directory"));
  CHECK_THAT(outcome.details, Catch::Contains("Is there a repository"));
}

TEST_CASE("ResticCheck: verify_every runs restic check, a damaged repository is CRITICAL",
          "[restic]") {
  ResticRepo repo;
  repo.dir().write("data/a.txt", "hello\n");
  repo.backup(60s);
  auto params = repo.params();
  params["verify_every"] = "1d";
  auto outcome = run_restic(params);
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::EndsWith("; checked 0s ago: no errors"));

  // Without its index the repository is damaged: restic stats fails, restic check says so.
  for (const auto& entry : std::filesystem::directory_iterator(repo.repository() / "index"))
    std::filesystem::remove(entry.path());
  outcome = run_restic(params);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::StartsWith("repository check failed 0s ago: repository "
                                                "contains errors; restic stats failed: "));
}

// restic's output replaced by a script's, to feed the parser what a real restic never
// prints (or prints when broken).
Outcome run_fake(const std::string& snapshots, const std::string& stats = "{\"total_size\": 5}",
                 const std::string& extra = "") {
  testing::TempDir dir;
  const auto snapshots_file = dir.write("snapshots.out", snapshots);
  const auto stats_file = dir.write("stats.out", stats);
  const auto script = dir.write("restic",
                                "#!/bin/sh\n" + extra +
                                    "for a in \"$@\"; do\n"
                                    "  case $a in\n"
                                    "    snapshots) exec cat '" +
                                    snapshots_file.string() +
                                    "';;\n"
                                    "    stats) exec cat '" +
                                    stats_file.string() +
                                    "';;\n"
                                    "  esac\n"
                                    "done\nexit 9\n",
                                true);
  return run_restic({{"repository", "/srv/restic"},
                     {"password_file", "/etc/vigie/restic.pass"},
                     {"restic", script.string()}});
}

std::string snapshot_json(const std::string& time) {
  return R"([{"time":")" + time + R"(","id":"abc","tree":"t","paths":["/srv"]}])";
}

TEST_CASE("ResticCheck: unreadable output is UNKNOWN with the reason", "[restic]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "restic snapshots: empty output"},
      {"not json", "restic snapshots: not valid JSON"},
      {R"([{"time":"2026-11-27T10:00:00Z","id":"a)", "restic snapshots: not valid JSON"},
      {R"({"time":"x"})", "restic snapshots: expected a JSON array of snapshots"},
      {R"([42])", "restic snapshots: snapshot 0 is not an object"},
      {R"([{"id":"a"}])", "restic snapshots: snapshot 0 has no \"time\""},
      {snapshot_json("yesterday"), "restic snapshots: snapshot 0: unreadable time \"yesterday\""},
      {snapshot_json("2026-13-01T00:00:00Z"), "restic snapshots: snapshot 0: unreadable time"},
      {snapshot_json("2026-11-27T10:00:00"), "restic snapshots: snapshot 0: unreadable time"},
      {snapshot_json("2026-11-27T10:00:00+5"), "restic snapshots: snapshot 0: unreadable time"},
      {R"([{"time":"2026-11-27T10:00:00Z"}])", "restic snapshots: snapshot 0 has no \"id\""},
      {std::string(100000, '[') + std::string(100000, ']'),
       "restic snapshots: JSON nested deeper than 32 levels"},
  };
  for (const auto& [output, reason] : cases) {
    INFO(output.substr(0, 80));
    const auto outcome = run_fake(output);
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::StartsWith(reason));
  }

  auto outcome = run_fake(snapshot_json("2026-11-27T10:00:00Z"), "{\"total_size\": \"big\"}");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "restic stats: no \"total_size\" number");
  outcome = run_fake(snapshot_json("2026-11-27T10:00:00Z"), "{\"total_si");
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::StartsWith("restic stats: not valid JSON"));
}

TEST_CASE("ResticCheck: oversized output, a crash and a hang are UNKNOWN", "[restic]") {
  testing::TempDir dir;
  // 17 MiB of snapshot-looking text, past the 16 MiB the check reads.
  const auto big = dir.write("big", "[" + std::string(17 << 20, ' ') + "]");
  auto outcome =
      run_fake("", "", "case \"$*\" in *snapshots*) exec cat '" + big.string() + "';; esac\n");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "restic snapshots: output larger than 16 MiB, not read");

  outcome = run_fake("", "", "kill -SEGV $$\n");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "restic snapshots killed by signal 11");

  const auto check = testing::configured(
      make_restic_check, {{"repository", "/srv/restic"},
                          {"password_file", "/etc/vigie/restic.pass"},
                          {"restic", dir.write("slow", "#!/bin/sh\nsleep 10\n", true).string()}});
  const auto start = std::chrono::steady_clock::now();
  outcome = check->run(testing::context(500ms));
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("timed out after 0.5 s"));

  outcome = testing::configured(make_restic_check, {{"repository", "/srv/restic"},
                                                    {"password_file", "/etc/vigie/restic.pass"},
                                                    {"restic", "/nonexistent/restic"}})
                ->run(testing::context(5s));
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("/nonexistent/restic: No such file or directory"));
}

TEST_CASE("ResticCheck: configure names the bad parameter", "[restic]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_restic_check, params);
  };
  const json ok = {{"repository", "/srv/restic"}, {"password_file", "/etc/vigie/restic.pass"}};
  CHECK(error({{"password_file", "/p"}}) == "repository: required, a string");
  CHECK(error({{"repository", "/r"}}) == "password_file: required, an absolute path");
  CHECK_THAT(error({{"repository", "/r"}, {"password_file", "p"}}),
             Catch::Contains("\"p\": must be an absolute path"));
  auto params = ok;
  params["warn"] = "3d";
  CHECK(error(params) == "warn: 3d is above crit (50h)");
  params = ok;
  params["crit"] = 50;
  CHECK_THAT(error(params), Catch::StartsWith("crit: expected a duration such as"));
  params = ok;
  params["shrink_warn"] = 120;
  CHECK(error(params) == "shrink_warn: 120: must be in 0..100");
  params = ok;
  params["restic"] = "bin/restic";
  CHECK_THAT(error(params), Catch::Contains("must be an absolute path or a bare program name"));
  params = ok;
  params["env"] = {{"AWS KEY", "x"}};
  CHECK_THAT(error(params), Catch::Contains("is not a variable name"));

  const auto check = testing::configured(make_restic_check, ok);
  CHECK(check->instance() == "/srv/restic");
}

}  // namespace
}  // namespace vigie::plugins::backup
