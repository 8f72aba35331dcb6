#include "collector/alert_config.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

TEST_CASE("Alerts config: the example parses, and each error names the file, key and reason",
          "[alert_config]") {
  testing::TempDir dir;
  const auto pass = dir / "smtp.pass";
  std::ofstream(pass) << "secret\n";
  std::ifstream in(std::string(VIGIE_SOURCE_DIR) + "/config/alerts.example.json");
  std::string example((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE_FALSE(example.empty());
  const auto at = example.find("/etc/vigie/smtp.pass");
  REQUIRE(at != std::string::npos);
  example.replace(at, std::strlen("/etc/vigie/smtp.pass"), pass.string());
  auto config = parse_alert_config(example, "alerts.example.json");
  INFO(config.status().message());
  REQUIRE(config.is_ok());
  CHECK(config->smtp);
  CHECK(config->channels.size() >= 2);
  CHECK(config->renotify == std::chrono::hours(4));
  CHECK(config->storm_threshold == 20);

  const std::string channels =
      R"("channels": [{"name": "chat", "type": "webhook", "url": "https://chat.example.org/hooks/x"}])";
  const std::string rules = R"("rules": [{"channels": ["chat"]}])";
  auto error = [&](const std::string& body) {
    auto c = parse_alert_config(body, "alerts.json");
    REQUIRE_FALSE(c.is_ok());
    return c.status().message();
  };
  CHECK(parse_alert_config("{" + channels + "," + rules + "}", "alerts.json").is_ok());
  CHECK_THAT(error("{" + channels + "," + rules + ", \"renotfy\": \"1h\"}"),
             Catch::StartsWith("alerts.json: renotfy: unknown key (did you mean \"renotify\"?)"));
  CHECK_THAT(error("{" + rules + "}"), Catch::Contains("alerts.json: channels: required"));
  CHECK_THAT(error("{" + channels + "}"), Catch::Contains("alerts.json: rules: required"));
  CHECK_THAT(
      error(R"({"channels": [{"name": "c", "type": "webhook", "url": "ftp://x"}],)" + rules + "}"),
      Catch::Contains("alerts.json: channels[0].url: expected an http:// or https:// URL"));
  CHECK_THAT(error(R"({"channels": [{"name": "c", "type": "pager"}],)" + rules + "}"),
             Catch::Contains("channels[0].type: expected \"webhook\" or \"email\""));
  CHECK_THAT(
      error(
          R"({"channels": [{"name": "m", "type": "email", "to": "a@b.org"}], "rules": [{"channels": "m"}]})"),
      Catch::Contains("channels[0]: an e-mail channel needs the \"smtp\" relay block"));
  CHECK_THAT(
      error(
          R"({"channels": [{"name": "m", "type": "webhook", "url": "http://h", "body_text": "{\"a\": {{state}}}"}],)" +
          rules + "}"),
      Catch::Contains("channels[0].body_text: is not JSON"));
  CHECK_THAT(error("{" + channels + R"(, "rules": [{"channels": ["pager"]}]})"),
             Catch::Contains("rules[0].channels[0]: no channel named \"pager\" (channels: chat)"));
  CHECK_THAT(error("{" + channels + R"(, "rules": [{"channels": ["chat"], "min_state": "ok"}]})"),
             Catch::Contains("rules[0].min_state: expected"));
  CHECK_THAT(error("{" + channels + "," + rules + R"(, "storm": {"threshold": 0}})"),
             Catch::Contains("storm.threshold: 0: must be in 1..100000"));
  CHECK_THAT(error("{" + channels + "," + rules + R"(, "renotify": "soon"})"),
             Catch::Contains("alerts.json: renotify:"));
  CHECK_THAT(error(R"({"smtp": {"url": "smtp://mail.example.org", "pasword_file": "x"},)" +
                   channels + "," + rules + "}"),
             Catch::Contains("alerts.json: smtp"));
  CHECK_THAT(error("{ nope"), Catch::StartsWith("alerts.json: not valid JSON"));
  CHECK_THAT(load_alert_config(dir / "missing.json").status().message(),
             Catch::Contains("missing.json"));
}

TEST_CASE("Alerts config: rules by working hours name a calendar of the calendars file",
          "[alert_config][calendar]") {
  auto calendars = CalendarSet::parse(R"({"calendars": {
      "desk": {"time_zone": "Europe/Paris", "hours": {"mon-fri": "08:30-17:30"}, "holidays": "fr"},
      "alsace": {"time_zone": "Europe/Paris", "holidays": "fr-alsace"}}})",
                                      "calendars.json");
  REQUIRE(calendars.is_ok());
  const std::string channels =
      R"("channels": [{"name": "chat", "type": "webhook", "url": "https://chat.example.org/x"}])";
  const auto parse = [&](const std::string& rest) {
    return parse_alert_config("{" + channels + "," + rest + "}", "alerts.json", *calendars);
  };
  auto ok = parse(R"("rules": [{"channels": "chat", "when": "working-hours", "calendar": "desk"},
                               {"channels": "chat", "when": "outside-working-hours",
                                "calendar": "desk", "min_state": "critical"}],
                     "renotify": "4h", "renotify_calendar": "desk")");
  REQUIRE(ok.is_ok());
  CHECK(ok->rules[0].when == AlertRule::When::kWorkingHours);
  CHECK(ok->rules[1].when == AlertRule::When::kOutsideWorkingHours);
  CHECK(ok->rules[1].calendar_name == "desk");
  CHECK(ok->renotify_calendar.has_value());
  constexpr std::int64_t kChristmas10 = 1'798'189'200'000;  // 2026-12-25 10:00 Paris
  CHECK_FALSE(ok->rules[0].holds_at(kChristmas10));
  CHECK(ok->rules[1].holds_at(kChristmas10));

  const auto error = [&](const std::string& rest) { return parse(rest).status().message(); };
  CHECK(error(R"("rules": [{"channels": "chat", "when": "office-hours", "calendar": "desk"}])") ==
        "alerts.json: rules[0].when: expected \"always\", \"working-hours\" or "
        "\"outside-working-hours\", got \"office-hours\"");
  CHECK(error(R"("rules": [{"channels": "chat", "when": "working-hours"}])") ==
        "alerts.json: rules[0].calendar: required: which calendar? (calendars: alsace, desk)");
  CHECK(error(R"("rules": [{"channels": "chat", "when": "working-hours", "calendar": "dsk"}])") ==
        "alerts.json: rules[0].calendar: no calendar named \"dsk\" (calendars: alsace, desk)");
  CHECK(error(R"("rules": [{"channels": "chat", "calendar": "desk"}])") ==
        "alerts.json: rules[0].calendar: only with \"when\": \"working-hours\" or "
        "\"outside-working-hours\"");
  CHECK(error(R"("rules": [{"channels": "chat"}], "renotify_calendar": "desk")") ==
        "alerts.json: renotify_calendar: only with \"renotify\" (reminders are off)");
}

}  // namespace
}  // namespace vigie::collector
