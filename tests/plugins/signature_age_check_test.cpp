#include "plugins/antivirus/signature_age_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <string>

#include "tests/plugins/check_test_util.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::antivirus {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

// A ClamAV database as freshclam writes it: a 512-byte header padded with spaces, then
// the signatures (a few bytes stand for them: the check reads the header only).
std::string database(long long version, std::time_t built) {
  std::string header =
      "ClamAV-VDB:28 Nov 2026 09-35 +0000:" + std::to_string(version) +
      ":2072433:90:b4b3b4e5a0b2f1e2d3c4b5a6978877aa:dsigdsigdsig:raynman:" + std::to_string(built);
  header.resize(512, ' ');
  return header + std::string(64, '\x1f');
}

void touch(const std::filesystem::path& file, std::chrono::seconds age) {
  const timespec when{std::time(nullptr) - age.count(), 0};
  const timespec times[2] = {when, when};
  REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
}

Outcome run_age(const json& params) {
  return testing::configured(make_signature_age_check, params)->run(testing::context(5s));
}

TEST_CASE("SignatureAgeCheck: ClamAV headers, the highest daily version wins", "[signature-age]") {
  testing::TempDir dir;
  const std::time_t now = std::time(nullptr);
  dir.write("daily.cvd", database(27830, now - 9 * 86400));
  dir.write("daily.cld", database(27837, now - 3 * 3600));
  dir.write("main.cvd", database(62, now - 400 * 86400));
  const json params = {{"path", dir.path().string()}, {"format", "clamav"}};

  auto outcome = run_age(params);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::StartsWith("signatures 27837 of ") &&
                                  Catch::EndsWith(" (3h old) in " + (dir / "daily.cld").string()));
  CHECK(find_metric(outcome, "signature_version").value == 27837);
  CHECK(find_metric(outcome, "signature_age").value >= 3 * 3600);
  CHECK(find_metric(outcome, "signature_age").crit == Range{0, 7 * 86400});

  // Only the old .cvd: CRITICAL past 7 days.
  outcome = run_age({{"path", (dir / "daily.cvd").string()}, {"format", "clamav"}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary,
             Catch::EndsWith(" (9d old) in " + (dir / "daily.cvd").string() + " (CRITICAL > 1w)"));
  outcome = run_age({{"path", dir.path().string()}, {"format", "clamav"}, {"warn", "1h"}});
  CHECK(outcome.status == State::kWarning);
}

TEST_CASE("SignatureAgeCheck: modification times, for any engine", "[signature-age]") {
  testing::TempDir dir;
  touch(dir.write("vdl00123.vdb", "x"), 50h);
  touch(dir.write("vdl00124.vdb", "x"), 30h);
  touch(dir.write("readme.txt", "x"), 1h);
  auto outcome = run_age({{"path", dir.path().string()}, {"pattern", "*.vdb"}});
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("signatures of ") &&
                 Catch::EndsWith(" (30h old) in " + (dir / "vdl00124.vdb").string()));
  CHECK_FALSE(find_metric(outcome, "signature_version").value.has_value());
  outcome = run_age({{"path", dir.path().string()}, {"pattern", "*.vdb"}, {"warn", "1d"}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::EndsWith(" (WARNING > 1d)"));
}

TEST_CASE("SignatureAgeCheck: missing and malformed databases", "[signature-age]") {
  testing::TempDir dir;
  auto outcome = run_age({{"path", (dir / "clamav").string()}, {"format", "clamav"}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == (dir / "clamav").string() + ": No such file or directory");
  outcome = run_age({{"path", dir.path().string()}, {"format", "clamav"}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no file matching \"daily.c[lvu]d\" in " + dir.path().string());

  const std::time_t now = std::time(nullptr);
  std::string no_seconds = database(1, now);
  no_seconds.replace(no_seconds.find("raynman:") + 8, 10, "yesterday!");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a ClamAV database (no ClamAV-VDB header)"},
      {"PK\x03\x04 zip", "not a ClamAV database (no ClamAV-VDB header)"},
      {database(1, now).substr(0, 100), "header cut short"},
      {"ClamAV-VDB:a:b" + std::string(600, ' '), "header has 3 fields, not 9"},
      {"ClamAV-VDB:t:x1:2:90:m:d:b:1700000000" + std::string(600, ' '),
       "version \"x1\" is not a number"},
      {no_seconds, "build time \"yesterday!\" is not a number"},
      {std::string(1 << 20, 'A'), "not a ClamAV database (no ClamAV-VDB header)"},
  };
  for (const auto& [content, reason] : cases) {
    INFO(content.substr(0, 60));
    const auto file = dir.write("daily.cld", content);
    outcome = run_age({{"path", file.string()}, {"format", "clamav"}});
    CHECK(outcome.status == State::kUnknown);
    CHECK(outcome.summary == file.string() + ": " + reason);
  }
}

TEST_CASE("SignatureAgeCheck: configure names the bad parameter", "[signature-age]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_signature_age_check, params);
  };
  CHECK(error(json::object()) == "path: required, an absolute path");
  CHECK(error({{"path", "/var/lib/clamav"}, {"format", "cvd"}}) ==
        "format: must be \"mtime\" or \"clamav\"");
  CHECK(error({{"path", "/x"}, {"warn", "8d"}}) == "warn: 8d is above crit (1w)");
  CHECK(error({{"path", "/x"}, {"pattern", "a/b"}}) ==
        "pattern: matches file names, so it cannot hold a '/'");
}

}  // namespace
}  // namespace vigie::plugins::antivirus
