// What an alert says, in each form: templates, webhook bodies.

#include "collector/alert_message.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace vigie::collector {
namespace {

using nlohmann::json;

constexpr std::int64_t kT0 = 1'790'000'000'000;
constexpr std::int64_t kMinute = 60'000;

TEST_CASE("Alerts: templates fill placeholders, JSON-escaped in JSON bodies", "[alert_message]") {
  Alert a{.site = "mairie \"Onesse\"",
          .agent = "a1",
          .check = "backup/restic:/srv",
          .family = "backup",
          .kind = "problem",
          .state = State::kCritical,
          .from = State::kOk,
          .summary = "last snapshot\n3 days ago \\ bad",
          .ts_ms = kT0,
          .since_ms = kT0 - 3 * kMinute};
  const Outgoing one{.channel = 0, .alerts = {a}};
  CHECK(render_template("{{state}} {{ site }} {{check}} {{age}} {{nope}}", one, kT0, false) ==
        "CRITICAL mairie \"Onesse\" backup/restic:/srv 3m 00s {{nope}}");

  AlertChannel text{.name = "t", .body_text = R"({"text": "{{state}} {{site}}: {{summary}}"})"};
  const json body = json::parse(webhook_body(text, one, kT0));
  CHECK(body["text"] == "CRITICAL mairie \"Onesse\": last snapshot\n3 days ago \\ bad");

  AlertChannel object{.name = "o",
                      .body = json{{"text", "{{title}}"}, {"n", 1}, {"tags", {"{{family}}"}}}};
  const json filled = json::parse(webhook_body(object, one, kT0));
  CHECK(filled["text"] ==
        "[CRITICAL] mairie \"Onesse\" a1 backup/restic:/srv: last snapshot\n3 days ago \\ bad");
  CHECK(filled["n"] == 1);
  CHECK(filled["tags"][0] == "backup");

  const json plain = json::parse(webhook_body(AlertChannel{.name = "p"}, one, kT0));
  CHECK(plain["type"] == "alert");
  CHECK(plain["state"] == "CRITICAL");
  CHECK(plain["since"] == kT0 - 3 * kMinute);

  Outgoing digest{.channel = 0, .alerts = {a, a}, .digest = true};
  digest.alerts[1].site = "other";
  digest.alerts[1].state = State::kWarning;
  CHECK(render_template("{{count}} {{site}} {{state}}", digest, kT0, false) ==
        "2 2 sites CRITICAL");
  const json d = json::parse(webhook_body(AlertChannel{.name = "p"}, digest, kT0));
  CHECK(d["type"] == "digest");
  CHECK(d["alerts"].size() == 2);
}

}  // namespace
}  // namespace vigie::collector
