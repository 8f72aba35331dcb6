#include "plugins/backup/borg_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
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

// A real borg repository (repokey encryption) in a temporary folder, with a folder of
// data to back up.
class BorgRepo {
 public:
  BorgRepo() {
    dir_.write("passphrase", "correct horse\n");
    std::filesystem::create_directories(data());
    borg({"init", "--encryption=repokey", repository().string()});
  }

  std::filesystem::path repository() const { return dir_ / "repo"; }
  std::filesystem::path data() const { return dir_ / "data"; }
  const testing::TempDir& dir() const { return dir_; }

  // An archive of data() dated `age` ago (borg create --timestamp takes UTC).
  void backup(const std::string& name, std::chrono::seconds age) {
    const std::time_t when = std::time(nullptr) - age.count();
    std::tm tm{};
    ::gmtime_r(&when, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    borg({"create", "--timestamp", text, repository().string() + "::" + name, data().string()});
  }

  json params() const {
    return {{"repository", repository().string()},
            {"passphrase_file", (dir_ / "passphrase").string()},
            {"base_dir", (dir_ / "agent-base").string()}};
  }

  void borg(std::vector<std::string> args) {
    std::vector<std::string> argv = {"borg"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.timeout = 20s;
    options.environment = default_environment();
    options.environment.push_back("BORG_PASSPHRASE=correct horse");
    options.environment.push_back("BORG_BASE_DIR=" + (dir_ / "test-base").string());
    const auto result = run_process(argv, options);
    REQUIRE(result.is_ok());
    INFO(result->err);
    REQUIRE(result->ending == ProcessResult::Ending::kExited);
    REQUIRE(result->exit_code == 0);
  }

 private:
  testing::TempDir dir_;
};

Outcome run_borg(const json& params) {
  return testing::configured(make_borg_check, params)->run(testing::context(15s));
}

TEST_CASE("BorgCheck: fresh archives are OK, one that shrinks by half is WARNING", "[borg]") {
  BorgRepo repo;
  repo.dir().write("data/a.bin", std::string(20000, 'a'));
  repo.dir().write("data/b.bin", std::string(20000, 'b'));
  repo.dir().write("data/c.bin", std::string(20000, 'c'));
  repo.backup("mairie-1", 2h);
  repo.backup("mairie-2", 60s);

  // One check for the runs: it keeps the sizes of the archives it has seen, so the second
  // run needs no `borg info`.
  const auto check = testing::configured(make_borg_check, repo.params());
  auto outcome = check->run(testing::context(15s));
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("last archive 1m ago (") &&
                 Catch::EndsWith(", 2 archives, 59 KiB (+0% from the previous one)"));
  CHECK(check->run(testing::context(15s)).summary == outcome.summary);
  CHECK(find_metric(outcome, "age").value >= 60);
  CHECK(find_metric(outcome, "age").value < 120);
  CHECK(find_metric(outcome, "count").value == 2);
  CHECK(find_metric(outcome, "size").value == 60000);
  CHECK(find_metric(outcome, "size_change").value == 0);

  std::filesystem::remove(repo.data() / "b.bin");
  std::filesystem::remove(repo.data() / "c.bin");
  repo.backup("mairie-3", 0s);
  outcome = check->run(testing::context(15s));
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::EndsWith(", 3 archives, 20 KiB, 67% smaller than the "
                                              "previous one (WARNING > 50%)"));
  CHECK(find_metric(outcome, "size_change").value == -66.67);
}

TEST_CASE("BorgCheck: an old archive is WARNING, then CRITICAL, the glob applies", "[borg]") {
  BorgRepo repo;
  repo.dir().write("data/a.txt", "hello\n");
  repo.backup("mairie-old", 30h);

  auto outcome = run_borg(repo.params());
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("last archive 30h ago (") && Catch::Contains(") (WARNING > 26h), "));

  auto params = repo.params();
  params["warn"] = "12h";
  params["crit"] = "1d";
  outcome = run_borg(params);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::Contains(" (CRITICAL > 1d), 1 archive, 6 B"));

  params = repo.params();
  params["archives"] = "ecole-*";
  outcome = run_borg(params);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no archive matching \"ecole-*\" in " + repo.repository().string());
}

TEST_CASE("BorgCheck: empty repository, wrong passphrase, deleted repository are CRITICAL",
          "[borg]") {
  BorgRepo repo;
  auto outcome = run_borg(repo.params());
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no archive in " + repo.repository().string());

  auto params = repo.params();
  params["passphrase_file"] = repo.dir().write("wrong", "battery staple\n").string();
  outcome = run_borg(params);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::StartsWith("borg list failed: passphrase supplied in ") &&
                                  Catch::EndsWith(" is incorrect."));

  // No passphrase at all: borg must not prompt, the repository is encrypted.
  params = repo.params();
  params.erase("passphrase_file");
  outcome = run_borg(params);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::StartsWith("borg list failed: "));

  params = repo.params();
  params["passphrase_file"] = (repo.dir() / "missing").string();
  outcome = run_borg(params);
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::StartsWith("passphrase_file: ") && Catch::Contains("missing"));

  std::filesystem::remove_all(repo.repository());
  outcome = run_borg(repo.params());
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary ==
        "borg list failed: Repository " + repo.repository().string() + " does not exist.");
}

TEST_CASE("BorgCheck: verify_every runs borg check, a damaged repository is CRITICAL", "[borg]") {
  BorgRepo repo;
  repo.dir().write("data/a.txt", std::string(3000, 'a'));
  repo.backup("mairie-1", 2h);
  repo.backup("mairie-2", 60s);
  auto params = repo.params();
  params["verify_every"] = "1d";
  auto outcome = run_borg(params);
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::EndsWith("; checked 0s ago: no errors"));

  // One flipped byte in the first segment holding data: the manifest, in a later
  // segment, still lists the archives; borg check finds the damage.
  std::filesystem::path segment;
  for (int i = 0; i < 50 && segment.empty(); ++i) {
    const auto candidate = repo.repository() / "data" / "0" / std::to_string(i);
    if (std::filesystem::exists(candidate) && std::filesystem::file_size(candidate) > 100)
      segment = candidate;
  }
  REQUIRE_FALSE(segment.empty());
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-5, std::ios::end);
    char byte = 0;
    file.get(byte);
    file.seekp(-5, std::ios::end);
    file.put(static_cast<char>(byte ^ 0xff));
  }
  outcome = run_borg(params);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::StartsWith("repository check failed 0s ago: Data integrity "
                                                "error: "));
}

// borg's output replaced by a script's, to feed the parser what a real borg never
// prints (or prints when broken).
Outcome run_fake(const std::string& list, const std::string& info, const std::string& extra = "") {
  testing::TempDir dir;
  const auto list_file = dir.write("list.out", list);
  const auto info_file = dir.write("info.out", info);
  const auto script =
      dir.write("borg",
                "#!/bin/sh\n" + extra + "case $1 in\n  list) exec cat '" + list_file.string() +
                    "';;\n  info) exec cat '" + info_file.string() + "';;\nesac\nexit 9\n",
                true);
  return run_borg({{"repository", "/srv/borg"}, {"borg", script.string()}});
}

std::string archives_json(const std::string& archive) {
  return R"({"archives":[)" + archive + R"(],"repository":{"location":"/srv/borg"}})";
}

TEST_CASE("BorgCheck: unreadable output is UNKNOWN with the reason", "[borg]") {
  const std::string good_list =
      archives_json(R"({"name":"a","start":"2026-11-27T10:00:00.000000"})");
  const std::string good_info = archives_json(
      R"({"name":"a","start":"2026-11-27T10:00:00.000000","stats":{"original_size":5}})");
  REQUIRE(run_fake(good_list, good_info).status != State::kUnknown);

  const std::vector<std::pair<std::string, std::string>> list_cases = {
      {"", "borg list: empty output"},
      {"{\"archives\": [", "borg list: not valid JSON"},
      {"[]", "borg list: expected a JSON object"},
      {"{\"archives\": {}}", "borg list: no \"archives\" array"},
      {archives_json("7"), "borg list: archive 0 is not an object"},
      {archives_json(R"({"name":"a"})"), "borg list: archive 0 has no \"start\""},
      {archives_json(R"({"name":"a","start":"27/11/2026"})"),
       "borg list: archive 0: unreadable start \"27/11/2026\""},
      {archives_json(R"({"start":"2026-11-27T10:00:00"})"), "borg list: archive 0 has no \"name\""},
      {std::string(50000, '{'), "borg list: "},
  };
  for (const auto& [output, reason] : list_cases) {
    INFO(output.substr(0, 80));
    const auto outcome = run_fake(output, good_info);
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::StartsWith(reason));
  }
  const std::vector<std::pair<std::string, std::string>> info_cases = {
      {"{\"archives\":[{\"name\"", "borg info: not valid JSON"},
      {archives_json(R"({"name":"a","start":"2026-11-27T10:00:00"})"),
       "borg info: archive 0 has no \"stats\""},
      {archives_json(R"({"name":"a","start":"2026-11-27T10:00:00","stats":{"original_size":-1}})"),
       "borg info: archive 0 has no \"stats.original_size\" number"},
      {archives_json(""), "borg info: no archive, though borg list showed 1"},
  };
  for (const auto& [output, reason] : info_cases) {
    INFO(output.substr(0, 80));
    const auto outcome = run_fake(good_list, output);
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::StartsWith(reason));
  }

  testing::TempDir dir;
  const auto big = dir.write("big", "{\"archives\":[" + std::string(17 << 20, ' ') + "]}");
  auto outcome = run_fake("", "", "[ \"$1\" = list ] && exec cat '" + big.string() + "'\n");
  CHECK(outcome.status == State::kUnknown);
  CHECK(outcome.summary == "borg list: output larger than 16 MiB, not read");
}

TEST_CASE("BorgCheck: a traceback gives borg's error, not its platform report", "[borg]") {
  const auto outcome = run_fake("", "",
                                "cat >&2 <<'EOF'\nData integrity error: Segment entry "
                                "checksum mismatch [segment 8, offset 8]\nTraceback (most recent "
                                "call last):\n  File \"borg/archiver.py\", line 5213\n"
                                "Platform: Linux vm\nSSH_ORIGINAL_COMMAND: None\nEOF\nexit 2\n");
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary ==
        "borg list failed: Data integrity error: Segment entry checksum "
        "mismatch [segment 8, offset 8]");
}

TEST_CASE("BorgCheck: configure names the bad parameter", "[borg]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_borg_check, params);
  };
  CHECK(error(json::object()) == "repository: required, a string");
  CHECK_THAT(error({{"repository", "/r"}, {"passphrase_file", "pass"}}),
             Catch::Contains("\"pass\": must be an absolute path"));
  CHECK_THAT(error({{"repository", "/r"}, {"base_dir", 3}}),
             Catch::StartsWith("base_dir: expected a string, got number"));
  CHECK(error({{"repository", "/r"}, {"warn", "2d"}, {"crit", "1d"}}) ==
        "warn: 2d is above crit (1d)");
  CHECK_THAT(error({{"repository", "/r"}, {"archives", ""}}),
             Catch::StartsWith("archives: must not be empty"));
  CHECK(testing::configured(make_borg_check, {{"repository", "ssh://b@h/./r"}})->instance() ==
        "ssh://b@h/./r");
}

}  // namespace
}  // namespace vigie::plugins::backup
