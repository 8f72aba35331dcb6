#include "plugins/backup/file_age_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <string>

#include "tests/plugins/check_test_util.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::backup {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

// Writes `size` bytes to dir/name, modified `age` ago.
void dump(const testing::TempDir& dir, const std::string& name, std::size_t size,
          std::chrono::seconds age) {
  const auto file = dir.write(name, std::string(size, 'x'));
  const timespec when{std::time(nullptr) - age.count(), 0};
  const timespec times[2] = {when, when};
  REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
}

Outcome run_file_age(const json& params) {
  return testing::configured(make_file_age_check, params)->run(testing::context(5s));
}

TEST_CASE("FileAgeCheck: the newest matching file, its age, size and change", "[file-age]") {
  testing::TempDir dir;
  dump(dir, "mairie-1.sql.gz", 3000, 50h);
  dump(dir, "mairie-2.sql.gz", 3000, 26h);
  dump(dir, "mairie-3.sql.gz", 4500, 2h);
  dump(dir, "notes.txt", 10, 60s);       // newer, but not a dump
  dump(dir, ".partial.sql.gz", 10, 0s);  // hidden: a copy in progress
  const json params = {{"path", dir.path().string()}, {"pattern", "*.sql.gz"}};

  auto outcome = run_file_age(params);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::StartsWith("last file 2h ago (") &&
                                  Catch::EndsWith(", 3 files, 4.4 KiB (+50% from the previous "
                                                  "one); newest: mairie-3.sql.gz"));
  CHECK(find_metric(outcome, "count").value == 3);
  CHECK(find_metric(outcome, "size").value == 4500);
  CHECK(find_metric(outcome, "size").crit == Range{1, INFINITY});
  CHECK(find_metric(outcome, "size_change").value == 50);
  CHECK(testing::configured(make_file_age_check, params)->instance() ==
        dir.path().string() + "/*.sql.gz");

  auto stricter = params;
  stricter["warn"] = "1h";
  CHECK(run_file_age(stricter).status == State::kWarning);
  stricter["crit"] = "90m";
  outcome = run_file_age(stricter);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::Contains(" (CRITICAL > 90m), 3 files"));

  // Everything matches "*" but the hidden file: notes.txt is the newest.
  outcome = run_file_age({{"path", dir.path().string()}});
  CHECK_THAT(outcome.summary, Catch::EndsWith("newest: notes.txt"));
  CHECK(find_metric(outcome, "count").value == 4);
  CHECK(outcome.status == State::kWarning);  // 10 B after 4.4 KiB: shrank by 99%
}

TEST_CASE("FileAgeCheck: a dump below min_size is CRITICAL, an empty one by default",
          "[file-age]") {
  testing::TempDir dir;
  dump(dir, "base.dump", 0, 60s);
  auto outcome = run_file_age({{"path", dir.path().string()}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary,
             Catch::EndsWith(", 1 file, 0 B; newest: base.dump, below min_size 1 B "
                             "(CRITICAL)"));
  dump(dir, "base.dump", 5000, 60s);
  outcome = run_file_age({{"path", dir.path().string()}, {"min_size", "1MB"}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary,
             Catch::EndsWith("4.9 KiB; newest: base.dump, below min_size 977 KiB (CRITICAL)"));
  CHECK(run_file_age({{"path", dir.path().string()}, {"min_size", 4096}}).status == State::kOk);
}

TEST_CASE("FileAgeCheck: no file, no folder, subfolders", "[file-age]") {
  testing::TempDir dir;
  auto outcome = run_file_age({{"path", dir.path().string()}, {"pattern", "*.tar"}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no file matching \"*.tar\" in " + dir.path().string());

  outcome = run_file_age({{"path", (dir / "nas").string()}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == (dir / "nas").string() + ": No such file or directory");

  dump(dir, "2026/11/site.tar", 100, 3h);
  CHECK(run_file_age({{"path", dir.path().string()}, {"pattern", "*.tar"}}).status ==
        State::kCritical);
  outcome =
      run_file_age({{"path", dir.path().string()}, {"pattern", "*.tar"}, {"recursive", true}});
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::EndsWith("newest: 2026/11/site.tar"));
}

TEST_CASE("FileAgeCheck: configure names the bad parameter", "[file-age]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_file_age_check, params);
  };
  CHECK(error(json::object()) == "path: required, an absolute path");
  CHECK_THAT(error({{"path", "dumps"}}), Catch::Contains("\"dumps\": must be an absolute path"));
  CHECK(error({{"path", "/srv"}, {"pattern", "a/*.gz"}}) ==
        "pattern: matches file names, so it cannot hold a '/'");
  CHECK_THAT(error({{"path", "/srv"}, {"min_size", "10 parsecs"}}),
             Catch::StartsWith("min_size: \"10 parsecs\": must be a size"));
  CHECK_THAT(error({{"path", "/srv"}, {"min_size", -1}}),
             Catch::StartsWith("min_size: -1: must be a size"));
  CHECK(error({{"path", "/srv"}, {"recursive", "yes"}}) ==
        "recursive: expected true or false, got string");
  CHECK(testing::configured(make_file_age_check, {{"path", "/srv/dumps/"}})->instance() ==
        "/srv/dumps");
}

TEST_CASE("Backup checks: a misspelt parameter is refused, the right one suggested", "[file-age]") {
  testing::check_misspellings({
      {"backup/file-age", "recursiv", "recursive"},
      {"backup/restic", "pasword_file", "password_file"},
      {"backup/borg", "archive", "archives"},
      {"backup/avamar", "clinet", "client"},
      {"backup/avamar-server", "gc_wran", "gc_warn"},
      {"backup/restic", "shrink-warn", "shrink_warn"},
  });
}

}  // namespace
}  // namespace vigie::plugins::backup
