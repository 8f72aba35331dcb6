// The options both report commands share: each value checked where it is read, the
// format from --out's extension, the mailing options only together.

#include "collector/report/options.hpp"

#include <catch2/catch.hpp>

namespace vigie::collector {
namespace {

// Takes each (option, value) pair in turn; the first error, or ok.
Status take_all(ReportOutput& o, std::initializer_list<std::pair<const char*, const char*>> args) {
  for (const auto& [option, value] : args) {
    auto taken = o.take(option, value);
    if (!taken) return taken.status();
    if (!*taken) return Status::invalid(std::string("not taken: ") + option);
  }
  return Status::ok();
}

TEST_CASE("ReportOutput: the format follows --out's extension unless --format says", "[report]") {
  for (const auto& [out, expected] : {std::pair{"r.csv", "csv"},
                                      {"r.json", "json"},
                                      {"r.md", "md"},
                                      {"r.html", "html"},
                                      {"report", "html"},
                                      {"dir.v2/report", "html"},
                                      {"-", "html"}}) {
    ReportOutput o;
    REQUIRE(take_all(o, {{"--out", out}}));
    REQUIRE(o.finish());
    CHECK(o.format == expected);
  }
  ReportOutput o;
  REQUIRE(take_all(o, {{"--out", "r.csv"}, {"--format", "md"}}));
  REQUIRE(o.finish());
  CHECK(o.format == "md");
}

TEST_CASE("ReportOutput: an option of another command is left to it", "[report]") {
  ReportOutput o;
  for (const char* other : {"--days", "--month", "--from", "--bogus"}) {
    auto taken = o.take(other, "x");
    REQUIRE(taken);
    CHECK_FALSE(*taken);
  }
}

TEST_CASE("ReportOutput: a wrong value is an error naming the option and the value", "[report]") {
  const std::pair<const char*, const char*> cases[] = {
      {"--format", "pdf"},
      {"--csv-separator", "|"},
      {"--site", ""},
      {"--mail-attempts", "0"},
      {"--mail-attempts", "21"},
      {"--mail-attempts", "3x"},
      {"--mail-retry-wait", "soon"},
      {"--mail-to", "nobody"},
      {"--mail-to", "a@x.org, b@"},
      {"--mail-to", "a@x.org\r\nRCPT TO:<c@y.org>"},
      {"--lang", "xx"}};
  for (const auto& [option, value] : cases) {
    INFO(option << " " << value);
    ReportOutput o;
    auto taken = o.take(option, value);
    REQUIRE_FALSE(taken);
    const std::string message = taken.status().message();
    if (std::string_view(option) != "--lang") CHECK(message.find(option) != std::string::npos);
  }
}

TEST_CASE("ReportOutput: the mailing is --mail-to and --smtp together, each address kept",
          "[report]") {
  ReportOutput o;
  REQUIRE(take_all(o, {{"--mail-to", " a@x.org ,b@y.org"}, {"--mail-attempts", "5"}}));
  CHECK(o.mail_to == std::vector<std::string>{"a@x.org", "b@y.org"});
  CHECK(o.attempts == 5);
  const Status alone = o.finish();
  REQUIRE_FALSE(alone);
  CHECK(alone.message().find("--smtp") != std::string::npos);

  ReportOutput relay_only;
  REQUIRE(take_all(relay_only, {{"--smtp", "/etc/vigie/smtp.conf"}}));
  REQUIRE_FALSE(relay_only.finish());

  ReportOutput neither;
  REQUIRE(neither.finish());
  auto settings = neither.mail_settings();
  REQUIRE(settings);
  CHECK_FALSE(settings->has_value());
}

}  // namespace
}  // namespace vigie::collector
