// Alert decisions with a fake clock: a real state engine fed with reports, and the
// planner that turns its events into messages. Nothing is sent here: deliveries are
// tested end to end in tests/integration/alerts_test.cpp.

#include "collector/notifier.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;

constexpr std::int64_t kT0 = 1'790'000'000'000;
constexpr std::int64_t kMinute = 60'000;

AlertConfig two_channels() {
  AlertConfig c;
  c.channels.push_back(
      {.name = "chat", .kind = AlertChannel::Kind::kWebhook, .url = "http://127.0.0.1:9/hook"});
  c.channels.push_back(
      {.name = "backup-team", .kind = AlertChannel::Kind::kEmail, .to = {"backup@example.org"}});
  c.rules.push_back({.channels = {"chat"}});
  c.rules.push_back({.sites = {"mairie-*"},
                     .families = {"backup"},
                     .min_state = State::kCritical,
                     .channels = {"backup-team"}});
  c.hold = std::chrono::milliseconds(2000);
  return c;
}

struct Fake {
  AlertConfig config;
  StateEngine engine;
  AlertPlanner planner;
  std::int64_t now = kT0;
  std::uint64_t seq = 0;
  std::vector<Outgoing> sent;
  std::vector<NotificationRecord> records;

  explicit Fake(AlertConfig c = two_channels(), EngineOptions options = {.max_attempts = 1})
      : config(std::move(c)), engine(options), planner(config, engine) {}

  void feed(const StateDelta& delta) {
    AlertPlanner::Plan plan;
    planner.add(delta.events, now, plan);
    keep(plan);
  }
  void keep(AlertPlanner::Plan& plan) {
    for (auto& o : plan.send) sent.push_back(std::move(o));
    for (auto& r : plan.records) records.push_back(std::move(r));
  }
  // Results of `checks` (one report per agent), received now.
  void report(const std::string& site, const std::string& agent,
              const std::vector<std::pair<std::string, State>>& checks) {
    protocol::Report r;
    r.agent = {agent, site, "host", "1.0"};
    r.seq = ++seq;
    for (const auto& [id, status] : checks) {
      CheckResult c;
      c.name = id;
      c.check = id;
      c.status = status;
      c.summary = std::string(state_name(status)) + " " + id;
      c.ts_ms = now;
      c.interval_s = 60;
      r.results.push_back(c);
    }
    feed(engine.apply(r, now));
  }
  // Moves the clock in one-second steps, ticking the engine and the planner.
  void pass(std::int64_t ms) {
    for (std::int64_t done = 0; done < ms; done += 1000) {
      now += std::min<std::int64_t>(1000, ms - done);
      feed(engine.tick(now));
      AlertPlanner::Plan plan;
      planner.tick(now, plan);
      keep(plan);
    }
  }
  std::vector<Outgoing> to(const std::string& channel) const {
    std::vector<Outgoing> out;
    for (const auto& o : sent) {
      if (config.channels[o.channel].name == channel) out.push_back(o);
    }
    return out;
  }
};

TEST_CASE("Alerts: a hard failure alerts once after the hold, its recovery once", "[notifier]") {
  Fake f;
  f.report("mairie-onesse", "a1", {{"backup/restic:/srv", State::kOk}});
  f.pass(10'000);
  CHECK(f.sent.empty());

  f.report("mairie-onesse", "a1", {{"backup/restic:/srv", State::kCritical}});
  f.pass(1000);
  CHECK(f.sent.empty());  // held, in case a burst follows
  f.pass(2000);
  REQUIRE(f.to("chat").size() == 1);
  REQUIRE(f.to("backup-team").size() == 1);
  const Outgoing out = f.to("chat")[0];
  CHECK_FALSE(out.digest);
  REQUIRE(out.alerts.size() == 1);
  CHECK(out.alerts[0].kind == "problem");
  CHECK(out.alerts[0].state == State::kCritical);
  CHECK(out.alerts[0].check == "backup/restic:/srv");
  CHECK(out.alerts[0].family == "backup");

  // Still failing: nothing more (no re-notification configured).
  for (int i = 0; i < 5; ++i) {
    f.report("mairie-onesse", "a1", {{"backup/restic:/srv", State::kCritical}});
    f.pass(kMinute);
  }
  CHECK(f.sent.size() == 2);

  f.report("mairie-onesse", "a1", {{"backup/restic:/srv", State::kOk}});
  f.pass(3000);
  REQUIRE(f.sent.size() == 4);
  for (std::size_t i = 2; i < 4; ++i) {
    CHECK(f.sent[i].alerts[0].kind == "recovery");
    CHECK(f.sent[i].alerts[0].from == State::kCritical);
  }
}

TEST_CASE("Alerts: routing by site glob, family and severity", "[notifier]") {
  Fake f;
  auto route = [&](const std::string& site, const std::string& family, State state) {
    std::vector<std::string> names;
    Alert a{.site = site, .family = family, .kind = "problem", .state = state};
    for (auto i : f.planner.route(a)) names.push_back(f.config.channels[i].name);
    return names;
  };
  using V = std::vector<std::string>;
  CHECK(route("mairie-onesse", "backup", State::kCritical) == V{"chat", "backup-team"});
  CHECK(route("mairie-onesse", "backup", State::kWarning) == V{"chat"});     // below critical
  CHECK(route("mairie-onesse", "firewall", State::kCritical) == V{"chat"});  // other family
  CHECK(route("ecole-onesse", "backup", State::kCritical) == V{"chat"});     // other sites
  // A recovery goes where the problem went.
  Alert recovery{.site = "mairie-x",
                 .family = "backup",
                 .kind = "recovery",
                 .state = State::kOk,
                 .from = State::kCritical};
  CHECK(f.planner.route(recovery).size() == 2);

  AlertConfig only_critical = two_channels();
  only_critical.rules = {{.min_state = State::kCritical, .channels = {"chat"}}};
  Fake g(only_critical);
  g.report("s", "a1", {{"system/disk:/", State::kWarning}});
  g.pass(3000);
  CHECK(g.sent.empty());
  CHECK(g.records.empty());  // routed nowhere: nothing to record
}

TEST_CASE("Alerts: soft states and flapping send nothing", "[notifier]") {
  AlertConfig c = two_channels();
  Fake f(c);
  // max_attempts 3 from the result: two failures stay soft.
  protocol::Report r;
  r.agent = {"a1", "s", "host", "1.0"};
  for (int i = 0; i < 2; ++i) {
    r.seq = ++f.seq;
    r.results = {{.name = "c",
                  .check = "c",
                  .status = State::kCritical,
                  .summary = "x",
                  .ts_ms = f.now,
                  .interval_s = 60,
                  .max_attempts = 3}};
    f.feed(f.engine.apply(r, f.now));
    f.pass(10'000);
  }
  CHECK(f.sent.empty());
  // Flapping: OK and CRITICAL in turn; once flapping, the changes stay quiet.
  for (int i = 0; i < 12; ++i) {
    f.report("s", "a2", {{"wifi/ap", i % 2 ? State::kOk : State::kCritical}});
    f.pass(3000);
  }
  REQUIRE(f.engine.check("a2", "wifi/ap")->flapping);
  const auto before = f.sent.size();
  for (int i = 0; i < 4; ++i) {
    f.report("s", "a2", {{"wifi/ap", i % 2 ? State::kOk : State::kCritical}});
    f.pass(3000);
  }
  CHECK(f.sent.size() == before);
  bool flapping_recorded = false;
  for (const auto& rec : f.records)
    flapping_recorded |= rec.status == "suppressed" && rec.detail == "flapping";
  CHECK(flapping_recorded);
}

TEST_CASE("Alerts: acknowledged and in-downtime problems are held back, with the reason",
          "[notifier]") {
  Fake f;
  // Acknowledged while still soft (max_attempts 3): the hard failure is not sent.
  protocol::Report r;
  r.agent = {"a1", "mairie-x", "host", "1.0"};
  r.seq = ++f.seq;
  r.results = {{.name = "b",
                .check = "backup/borg",
                .status = State::kCritical,
                .summary = "no archive",
                .ts_ms = f.now,
                .interval_s = 60,
                .max_attempts = 3}};
  f.feed(f.engine.apply(r, f.now));
  REQUIRE(
      f.engine
          .acknowledge(
              "a1", "backup/borg",
              {.author = "alice", .comment = "NAS replaced", .expires_ms = f.now + 10 * kMinute},
              f.now)
          .is_ok());
  for (int i = 0; i < 3; ++i) {
    f.now += kMinute;
    r.seq = ++f.seq;
    r.results[0].ts_ms = f.now;
    f.feed(f.engine.apply(r, f.now));
    f.pass(3000);
  }
  REQUIRE(f.engine.check("a1", "backup/borg")->hard_state == State::kCritical);
  CHECK(f.sent.empty());
  REQUIRE(f.records.size() == 2);  // one per channel it would have gone to
  for (const auto& rec : f.records) {
    CHECK(rec.status == "suppressed");
    CHECK(rec.detail == "acknowledged by alice");
    CHECK(rec.check == "backup/borg");
  }

  // The acknowledgement expires, the check still fails: notified again.
  for (int i = 0; i < 10 && f.sent.empty(); ++i) {
    f.now += kMinute;
    r.seq = ++f.seq;
    r.results[0].ts_ms = f.now;
    f.feed(f.engine.apply(r, f.now));
    f.pass(3000);
  }
  REQUIRE(f.to("chat").size() == 1);
  CHECK(f.to("chat")[0].alerts[0].kind == "ack expired");
  CHECK(f.to("chat")[0].alerts[0].state == State::kCritical);

  // A downtime: what breaks in it is held back, what still fails after is sent.
  Fake g;
  g.report("mairie-y", "a1", {{"firewall/sophos", State::kOk}});
  REQUIRE(g.engine
              .add_downtime({.site = "mairie-y",
                             .start_ms = g.now,
                             .end_ms = g.now + 5 * kMinute,
                             .comment = "upgrade",
                             .author = "bob"},
                            g.now)
              .is_ok());
  g.pass(1000);
  g.report("mairie-y", "a1", {{"firewall/sophos", State::kCritical}});
  g.pass(3000);
  CHECK(g.sent.empty());
  REQUIRE(g.records.size() == 1);
  CHECK(g.records[0].detail == "in downtime");
  for (int i = 0; i < 6; ++i) {
    g.report("mairie-y", "a1", {{"firewall/sophos", State::kCritical}});
    g.pass(kMinute);
  }
  REQUIRE(g.sent.size() == 1);
  CHECK(g.sent[0].alerts[0].kind == "downtime over");
}

TEST_CASE("Alerts: a problem still failing is re-notified every interval", "[notifier]") {
  AlertConfig c = two_channels();
  c.renotify = std::chrono::minutes(30);
  Fake f(c);
  f.report("s", "a1", {{"antivirus/clamd", State::kWarning}});
  f.pass(3000);
  REQUIRE(f.to("chat").size() == 1);
  for (int i = 0; i < 29; ++i) {
    f.report("s", "a1", {{"antivirus/clamd", State::kWarning}});
    f.pass(kMinute);
  }
  CHECK(f.to("chat").size() == 1);
  for (int i = 0; i < 2; ++i) {
    f.report("s", "a1", {{"antivirus/clamd", State::kWarning}});
    f.pass(kMinute);
  }
  REQUIRE(f.to("chat").size() == 2);
  const Alert reminder = f.to("chat")[1].alerts[0];
  CHECK(reminder.kind == "reminder");
  CHECK(reminder.since_ms < reminder.ts_ms - 29 * kMinute);  // {{age}} tells how long

  // Acknowledged: no more reminders.
  REQUIRE(f.engine.acknowledge("a1", "antivirus/clamd", {.author = "x", .comment = "y"}, f.now)
              .is_ok());
  for (int i = 0; i < 65; ++i) {
    f.report("s", "a1", {{"antivirus/clamd", State::kWarning}});
    f.pass(kMinute);
  }
  CHECK(f.to("chat").size() == 2);
}

TEST_CASE("Alerts: 200 failures within a minute make one digest per channel, then calm",
          "[notifier]") {
  Fake f;
  for (int s = 0; s < 10; ++s) {
    std::vector<std::pair<std::string, State>> ok, failing;
    for (int i = 0; i < 20; ++i) {
      ok.push_back({"backup/restic:/vol" + std::to_string(i), State::kOk});
      failing.push_back({"backup/restic:/vol" + std::to_string(i), State::kCritical});
    }
    f.report("mairie-" + std::to_string(s), "a" + std::to_string(s), ok);
    f.pass(100);
    (void)failing;
  }
  f.pass(10'000);
  REQUIRE(f.sent.empty());
  for (int s = 0; s < 10; ++s) {
    std::vector<std::pair<std::string, State>> failing;
    for (int i = 0; i < 20; ++i)
      failing.push_back({"backup/restic:/vol" + std::to_string(i), State::kCritical});
    f.report("mairie-" + std::to_string(s), "a" + std::to_string(s), failing);
  }
  f.pass(3000);
  REQUIRE(f.to("chat").size() == 1);
  REQUIRE(f.to("backup-team").size() == 1);
  const Outgoing digest = f.to("chat")[0];
  CHECK(digest.digest);
  CHECK(digest.alerts.size() == 200);
  CHECK(f.planner.storming(0));
  const std::string text = mail_text(digest, f.now);
  CHECK_THAT(text, Catch::Contains("200 alerts on 10 sites"));
  CHECK_THAT(text, Catch::Contains("\nmairie-3 (20)\n"));
  CHECK_THAT(mail_subject(digest), Catch::StartsWith("[vigie] [CRITICAL] 200 alerts"));

  // While it storms, more alerts wait for the next digest; then it calms down.
  f.report("mairie-0", "a0", {{"firewall/sophos", State::kCritical}});
  f.pass(10'000);
  CHECK(f.to("chat").size() == 1);
  f.pass(kMinute);
  REQUIRE(f.to("chat").size() == 2);
  CHECK(f.to("chat")[1].digest);
  CHECK(f.to("chat")[1].alerts.size() == 1);
  CHECK_FALSE(f.planner.storming(0));
  f.report("mairie-1", "a1", {{"firewall/sophos", State::kCritical}});
  f.pass(3000);
  REQUIRE(f.to("chat").size() == 3);
  CHECK_FALSE(f.to("chat")[2].digest);

  // 20 in the window is no storm.
  Fake g;
  std::vector<std::pair<std::string, State>> twenty;
  for (int i = 0; i < 20; ++i)
    twenty.push_back({"system/disk:/" + std::to_string(i), State::kCritical});
  g.report("s", "a1", twenty);
  g.pass(3000);
  CHECK(g.to("chat").size() == 20);
}

TEST_CASE("Alerts: a site going unreachable is one alert, and so is its return", "[notifier]") {
  Fake f(two_channels(), {.max_attempts = 1, .agent_timeout_ms = 90'000});
  std::vector<std::pair<std::string, State>> checks;
  for (int i = 0; i < 30; ++i) checks.push_back({"wifi/ap:" + std::to_string(i), State::kOk});
  f.report("mairie-z", "a1", checks);
  f.report("mairie-w", "b1", {{"system/load", State::kOk}});
  for (int i = 0; i < 3; ++i) {
    f.pass(kMinute);
    f.report("mairie-w", "b1", {{"system/load", State::kOk}});
  }
  REQUIRE(f.to("chat").size() == 1);
  const Alert a = f.to("chat")[0].alerts[0];
  CHECK(a.family == "site");
  CHECK(a.site == "mairie-z");
  CHECK(a.check.empty());
  CHECK_THAT(a.summary, Catch::Contains("site unreachable"));
  CHECK(f.to("backup-team").empty());

  f.report("mairie-z", "a1", checks);
  f.pass(3000);
  REQUIRE(f.to("chat").size() == 2);
  CHECK(f.to("chat")[1].alerts[0].kind == "recovery");
  CHECK(f.to("chat")[1].alerts[0].family == "site");
}

TEST_CASE("Alerts: templates fill placeholders, JSON-escaped in JSON bodies", "[notifier]") {
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

TEST_CASE("Alerts config: the example parses, and each error names the file, key and reason",
          "[notifier]") {
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
             Catch::StartsWith("alerts.json: renotfy: unknown key"));
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
             Catch::Contains("storm.threshold: expected a whole number 1..100000"));
  CHECK_THAT(error("{" + channels + "," + rules + R"(, "renotify": "soon"})"),
             Catch::Contains("alerts.json: renotify:"));
  CHECK_THAT(error(R"({"smtp": {"url": "smtp://mail.example.org", "pasword_file": "x"},)" +
                   channels + "," + rules + "}"),
             Catch::Contains("alerts.json: smtp"));
  CHECK_THAT(error("{ nope"), Catch::StartsWith("alerts.json: not valid JSON"));
  CHECK_THAT(load_alert_config(dir / "missing.json").status().message(),
             Catch::Contains("missing.json"));
}

}  // namespace
}  // namespace vigie::collector
