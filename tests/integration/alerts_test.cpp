// Alert notifications end to end: a real collector started with --alerts, real
// reports over HTTPS, a real webhook receiver (Python's http.server, over HTTPS with
// its own CA) and a real SMTP server (python3-aiosmtpd) on loopback; the history read
// back through GET /api/v1/notifications.

#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/smtp_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::HttpReply;
using testing::SmtpServer;
using testing::WebhookReceiver;

json body_of(const HttpReply& reply) {
  INFO(reply.status << " " << reply.body << reply.error);
  REQUIRE(reply.status == 200);
  auto j = json::parse(reply.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

json result(const std::string& check, int status, int max_attempts = 1) {
  return {{"name", check},    {"check", check},
          {"status", status}, {"summary", status == 0 ? "fine" : "broken: \"quoted\" \\ text"},
          {"ts", wall_ms()},  {"duration_ms", 3},
          {"interval_s", 60}, {"max_attempts", max_attempts}};
}

// A collector with alerts, a webhook receiver over HTTPS and, optionally, an SMTP server.
struct Setup {
  testing::TempDir dir;
  std::unique_ptr<WebhookReceiver> hook;
  std::unique_ptr<SmtpServer> smtp;
  std::unique_ptr<Collector> collector;
  std::string viewer;
  std::string operator_;
  std::map<std::string, std::string> agent_tokens;
  std::map<std::string, std::uint64_t> seqs;

  struct Options {
    WebhookReceiver::Options hook;
    bool mail = true;
    json channel_extra = json::object();  // added to the webhook channel
    json top_extra = json::object();      // added to the file's top level
    json more_channels = json::array();   // channels added after the webhook's
    std::vector<std::string> collector_args;
  };

  explicit Setup(Options o) {
    auto certs = testing::run(
        {std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs", (dir / "hook-tls").string()});
    REQUIRE(certs.exit_code == 0);
    o.hook.cert = (dir / "hook-tls/server.crt").string();
    o.hook.key = (dir / "hook-tls/server.key").string();
    std::filesystem::create_directories(dir / "hook");
    hook = std::make_unique<WebhookReceiver>(dir / "hook", o.hook);
    json channel = {{"name", "chat"},
                    {"type", "webhook"},
                    {"url", hook->url("/hooks/chat")},
                    {"ca_file", (dir / "hook-tls/ca.crt").string()},
                    {"body", {{"text", "{{state}} {{site}} {{check}}: {{summary}} ({{kind}})"}}},
                    {"attempts", 3},
                    {"retry_wait", "300ms"}};
    channel.update(o.channel_extra);
    json config = {{"channels", json::array({channel})},
                   {"rules", json::array({{{"channels", {"chat"}}}})},
                   {"storm", {{"hold", "300ms"}}}};
    if (o.mail) {
      std::filesystem::create_directories(dir / "smtp");
      smtp = std::make_unique<SmtpServer>(dir / "smtp");
      config["smtp"] = {{"url", "smtp://127.0.0.1:" + std::to_string(smtp->port())},
                        {"tls", "none"},
                        {"from", "vigie@example.org"},
                        {"timeout", "10s"}};
      config["channels"].push_back(
          {{"name", "oncall"}, {"type", "email"}, {"to", {"astreinte@example.org"}}});
      config["rules"].push_back(
          {{"families", {"backup", "site"}}, {"min_state", "critical"}, {"channels", {"oncall"}}});
    }
    for (const auto& c : o.more_channels) config["channels"].push_back(c);
    config.update(o.top_extra);
    const auto file = dir.write("alerts.json", "// written by the test\n" + config.dump(2));
    std::vector<std::string> args = {"--alerts", file.string()};
    args.insert(args.end(), o.collector_args.begin(), o.collector_args.end());
    collector = std::make_unique<Collector>(dir, args);
    viewer = collector->token("viewer");
    operator_ = collector->token("operator");
  }

  void send(const std::string& agent, const std::string& site, const json& results) {
    if (!agent_tokens.count(agent)) agent_tokens[agent] = collector->enroll(agent, site);
    const json report = {{"protocol", 1},
                         {"agent", {{"id", agent}, {"site", site}}},
                         {"seq", ++seqs[agent]},
                         {"sent", wall_ms()},
                         {"results", results}};
    const HttpReply r = collector->post("/api/v1/reports", report.dump(), agent_tokens[agent]);
    INFO(r.body << r.error);
    REQUIRE(r.status == 200);
  }

  json notifications(const std::string& query) {
    return body_of(collector->get("/api/v1/notifications" + query, viewer))["notifications"];
  }

  std::string logs() const {
    return "collector:\n" + collector->child().log() + "\nwebhook:\n" + hook->log();
  }
};

std::size_t count_status(const json& list, const std::string& status) {
  std::size_t n = 0;
  for (const auto& item : list) n += item["status"] == status ? 1 : 0;
  return n;
}

TEST_CASE("Alerts: a hard failure reaches the webhook over HTTPS and the SMTP server", "[alerts]") {
  Setup s({});
  s.send("mairie-01", "mairie-onesse", json::array({result("backup/restic:/srv", 0)}));
  s.send("mairie-01", "mairie-onesse", json::array({result("backup/restic:/srv", 2)}));

  INFO(s.logs());
  REQUIRE(s.hook->wait_for(1, 15s));
  REQUIRE(s.smtp->wait_for(1, 15s));
  const auto request = s.hook->requests().at(0);
  CHECK(request.path == "/hooks/chat");
  CHECK(request.content_type == "application/json");
  const json chat = json::parse(request.body);
  CHECK(chat["text"] ==
        "CRITICAL mairie-onesse backup/restic:/srv: broken: \"quoted\" \\ text (problem)");
  const std::string mail = s.smtp->messages().at(0);
  CHECK_THAT(mail, Catch::Contains("astreinte@example.org"));
  CHECK_THAT(mail, Catch::Contains("[CRITICAL] mairie-onesse mairie-01 backup/restic:/srv"));

  // The history, newest first, in the shape the console shows.
  json history;
  REQUIRE(testing::eventually(
      [&] {
        history = s.notifications("?site=mairie-onesse&check=backup/restic:/srv");
        return history.size() == 2;
      },
      10s));
  for (const auto& n : history) {
    CHECK(n["status"] == "sent");
    CHECK(n["state"] == "CRITICAL");
    CHECK(n["check"] == "backup/restic:/srv");
    CHECK(n["site"] == "mairie-onesse");
    CHECK(n["time"].get<std::int64_t>() > 0);
  }
  std::set<std::string> channels;
  for (const auto& n : history) channels.insert(n["channel"].get<std::string>());
  CHECK(channels == std::set<std::string>{"email", "webhook"});
  CHECK(s.notifications("?site=elsewhere").empty());
  CHECK(s.collector->get("/api/v1/notifications?limit=0", s.viewer).status == 400);
  CHECK(s.collector->get("/api/v1/notifications", "").status == 401);
  CHECK(s.collector->get("/api/v1/notifications", s.agent_tokens["mairie-01"]).status == 403);

  // The recovery goes to both as well.
  s.send("mairie-01", "mairie-onesse", json::array({result("backup/restic:/srv", 0)}));
  REQUIRE(s.hook->wait_for(2, 15s));
  CHECK(json::parse(s.hook->requests().at(1).body)["text"] ==
        "OK mairie-onesse backup/restic:/srv: fine (recovery)");
  REQUIRE(s.smtp->wait_for(2, 15s));
  CHECK_THAT(s.smtp->messages().at(1), Catch::Contains("[RECOVERED]"));
  REQUIRE(testing::eventually(
      [&] { return s.notifications("?limit=1").size() == 1 && s.notifications("").size() == 4; },
      10s));
  const std::string metrics = s.collector->get("/metrics", s.viewer).body;
  CHECK_THAT(metrics,
             Catch::Contains("vigie_notifications_total{channel=\"webhook\",status=\"sent\"} 2"));
  CHECK_THAT(metrics,
             Catch::Contains("vigie_notifications_total{channel=\"email\",status=\"sent\"} 2"));
}

TEST_CASE("Alerts: a failing receiver is retried with backoff, then logged as failed", "[alerts]") {
  Setup s({.hook = {.always_fail = true}, .mail = false});
  s.send("a1", "ecole-x", json::array({result("firewall/sophos", 2)}));
  INFO(s.logs());
  REQUIRE(s.hook->wait_for(3, 15s));
  json history;
  REQUIRE(testing::eventually(
      [&] {
        history = s.notifications("?check=firewall/sophos");
        return history.size() == 1;
      },
      10s));
  CHECK(history[0]["status"] == "failed");
  CHECK_THAT(history[0]["error"].get<std::string>(), Catch::Contains("HTTP 500"));
  const auto requests = s.hook->requests();
  CHECK(requests.size() == 3);  // attempts: 3, no more
  // Waits of 300 ms, then 600 ms (lower bounds: a loaded machine only adds to them).
  CHECK(requests[1].time_ms - requests[0].time_ms >= 250);
  CHECK(requests[2].time_ms - requests[1].time_ms >= 550);
  CHECK_THAT(s.collector->get("/metrics", s.viewer).body,
             Catch::Contains("vigie_notifications_total{channel=\"webhook\",status=\"failed\"} 1"));

  // A receiver that fails twice and then answers: delivered, once.
  Setup t({.hook = {.fail_first = 2}, .mail = false});
  t.send("a1", "ecole-y", json::array({result("wifi/unifi", 1)}));
  REQUIRE(t.hook->wait_for(3, 15s));
  REQUIRE(testing::eventually([&] { return t.notifications("").size() == 1; }, 10s));
  CHECK(t.notifications("")[0]["status"] == "sent");
  std::this_thread::sleep_for(500ms);
  CHECK(t.hook->requests().size() == 3);
}

TEST_CASE(
    "Alerts: an alert not delivered when the collector stops or dies is sent after the "
    "restart, once",
    "[alerts][outbox]") {
  for (const bool kill : {true, false}) {
    INFO((kill ? "SIGKILL" : "SIGTERM"));
    // The receiver fails the first attempt; the retry is due 4 s later, after the stop.
    Setup s({.hook = {.fail_first = 1},
             .mail = false,
             .channel_extra = {{"attempts", 5}, {"retry_wait", "4s"}}});
    s.send("a1", "ecole-z", json::array({result("firewall/sophos", 2)}));
    INFO(s.logs());
    REQUIRE(s.hook->wait_for(1, 15s));
    std::this_thread::sleep_for(500ms);  // the failed attempt is recorded
    s.collector->stop(kill);
    std::this_thread::sleep_for(4s);
    CHECK(s.hook->requests().size() == 1);  // nobody sends while the collector is down
    s.collector->start();
    REQUIRE(s.hook->wait_for(2, 15s));
    const auto requests = s.hook->requests();
    CHECK(requests[1].status == 200);
    CHECK(requests[1].body == requests[0].body);
    json history;
    REQUIRE(testing::eventually(
        [&] {
          history = s.notifications("?check=firewall/sophos");
          return history.size() == 1;
        },
        10s));
    CHECK(history[0]["status"] == "sent");
    std::this_thread::sleep_for(1s);
    CHECK(s.hook->requests().size() == 2);  // delivered once: not sent again
    CHECK(s.notifications("").size() == 1);
  }
}

TEST_CASE("Alerts: a summary with line breaks and escapes is mailed on one subject line",
          "[alerts][text]") {
  Setup s({});
  s.send("mairie-01", "mairie-onesse", json::array({result("backup/restic:/srv", 0)}));
  json failing = result("backup/restic:/srv", 2);
  failing["summary"] =
      "repository locked\r\nBcc: intruder@example.org\x1b[31m by pid 4242 "
      "(sauvegarde arr\xC3\xAAt\xC3\xA9"
      "e par l'op\xC3\xA9rateur, "
      "une tr\xC3\xA8s longue explication qui d\xC3\xA9"
      "passe une ligne)";
  s.send("mairie-01", "mairie-onesse", json::array({failing}));
  INFO(s.logs());
  REQUIRE(s.smtp->wait_for(1, 15s));
  const std::string mail = s.smtp->messages().at(0);
  CHECK(mail.find('\x1b') == std::string::npos);
  INFO(mail);
  const std::string headers = mail.substr(0, mail.find("Message-ID:"));
  CHECK(headers.find("\nBcc:") == std::string::npos);  // no header smuggled in
  // The subject: encoded words (it is not ASCII), folded into lines of 78 at most.
  const auto subject = mail.find("Subject: ");
  REQUIRE(subject != std::string::npos);
  std::size_t end = subject;
  for (;;) {
    const auto eol = mail.find('\n', end);
    REQUIRE(eol != std::string::npos);
    CHECK(eol - end <= 79);
    end = eol + 1;
    if (mail[end] != ' ' && mail[end] != '\t') break;
  }
  CHECK_THAT(mail.substr(subject, end - subject), Catch::Contains("=?UTF-8?B?"));
  REQUIRE(s.hook->wait_for(1, 15s));
  CHECK_THAT(json::parse(s.hook->requests().at(0).body)["text"].get<std::string>(),
             Catch::Contains("repository locked Bcc: intruder@example.org"));
  REQUIRE(testing::eventually(
      [&] { return count_status(s.notifications("?check=backup/restic:/srv"), "sent") == 2; },
      10s));
}

TEST_CASE("Alerts: a channel that never answers does not delay the others", "[alerts][outbox]") {
  // A peer that takes connections and never answers them (the kernel completes the
  // handshake for the listen queue).
  const int peer = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(peer >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(peer, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(peer, 64) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(peer, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string dead_url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  const json dead = {{"name", "dead"},   {"type", "webhook"}, {"url", dead_url + "/hook"},
                     {"timeout", "20s"}, {"attempts", 3},     {"retry_wait", "1s"}};
  Setup s({.mail = false,
           .top_extra = {{"rules", json::array({{{"channels", {"dead", "chat"}}}})}},
           .more_channels = json::array({dead})});
  INFO(s.logs());
  const auto start = wall_ms();
  for (int i = 0; i < 3; ++i) {
    s.send("a" + std::to_string(i), "ecole-" + std::to_string(i),
           json::array({result("firewall/sophos", 2)}));
    std::this_thread::sleep_for(1s);
  }
  // Each alert reaches chat after the hold, while the dead channel's first attempt
  // still waits for its answer (20 s).
  REQUIRE(s.hook->wait_for(3, 10s));
  CHECK(wall_ms() - start < 15'000);
  ::close(peer);
}

TEST_CASE("Alerts: 200 checks failing in the same minute give one digest", "[alerts]") {
  // A 2 s hold: the four reports are one burst even on a loaded machine.
  Setup s({.top_extra = {{"storm", {{"hold", "2s"}}}}});
  // 50 checks on each of 4 sites: every agent enrolled and reporting OK first, then
  // 4 failing reports (results made now: a result no newer than the last changes nothing).
  for (int status : {0, 2}) {
    for (int site = 0; site < 4; ++site) {
      json part = json::array();
      for (int i = site * 50; i < site * 50 + 50; ++i)
        part.push_back(result("backup/restic:/vol" + std::to_string(i), status));
      s.send("agent-" + std::to_string(site), "mairie-" + std::to_string(site), part);
    }
    std::this_thread::sleep_for(5ms);
  }
  INFO(s.logs());
  REQUIRE(s.hook->wait_for(1, 15s));
  REQUIRE(s.smtp->wait_for(1, 15s));
  std::this_thread::sleep_for(1500ms);  // nothing else follows
  REQUIRE(s.hook->requests().size() == 1);
  REQUIRE(s.smtp->messages().size() == 1);
  const std::string text = json::parse(s.hook->requests()[0].body)["text"];
  CHECK_THAT(text, Catch::StartsWith("CRITICAL 4 sites : [CRITICAL] 200 alerts on 4 sites"));
  const std::string mail = s.smtp->messages()[0];
  CHECK_THAT(mail, Catch::Contains("200 alerts on 4 sites"));
  REQUIRE(testing::eventually([&] { return s.notifications("?limit=1000").size() == 400; }, 10s));
  CHECK(count_status(s.notifications("?limit=1000"), "digest") == 400);
  CHECK(s.notifications("?site=mairie-2&limit=1000").size() == 100);  // 50 checks, 2 channels
}

TEST_CASE("Alerts: acknowledged or in-downtime checks send nothing, an ack that expires does",
          "[alerts]") {
  Setup s({.mail = false});
  // Acknowledged while soft (3 attempts), then hard: nothing sent.
  s.send("a1", "mairie-a", json::array({result("antivirus/clamd", 1, 3)}));
  const json ack = {{"agent", "a1"},
                    {"check", "antivirus/clamd"},
                    {"comment", "signatures updating"},
                    {"expires", "4s"}};
  REQUIRE(s.collector->call("POST", "/api/v1/acks", s.operator_, ack.dump()).status == 200);
  // In downtime: nothing sent either.
  s.send("b1", "mairie-b", json::array({result("firewall/sophos", 0)}));
  const json downtime = {{"site", "mairie-b"}, {"duration", "1h"}, {"comment", "firmware"}};
  REQUIRE(s.collector->call("POST", "/api/v1/downtimes", s.operator_, downtime.dump()).status ==
          201);
  s.send("a1", "mairie-a", json::array({result("antivirus/clamd", 1, 3)}));
  s.send("a1", "mairie-a", json::array({result("antivirus/clamd", 1, 3)}));
  s.send("b1", "mairie-b", json::array({result("firewall/sophos", 2)}));

  INFO(s.logs());
  json history;
  REQUIRE(testing::eventually(
      [&] {
        history = s.notifications("");
        return history.size() == 2;
      },
      10s));
  for (const auto& n : history) {
    CHECK(n["status"] == "suppressed");
    if (n["site"] == "mairie-a")
      CHECK_THAT(n["reason"].get<std::string>(), Catch::StartsWith("acknowledged by token"));
    else CHECK(n["reason"] == "in downtime");
  }

  // The acknowledgement runs out, the check still fails: told again.
  REQUIRE(s.hook->wait_for(1, 15s));
  const json chat = json::parse(s.hook->requests()[0].body);
  CHECK_THAT(chat["text"].get<std::string>(),
             Catch::StartsWith("WARNING mairie-a antivirus/clamd: acknowledgement by token") &&
                 Catch::EndsWith("expired; still WARNING (ack expired)"));
  std::this_thread::sleep_for(1s);
  CHECK(s.hook->requests().size() == 1);  // the check in downtime stays quiet
}

TEST_CASE("Alerts: a site going unreachable gives one alert, not one per check", "[alerts]") {
  Setup s({.mail = true, .collector_args = {"--agent-timeout", "2s"}});
  json checks = json::array();
  for (int i = 0; i < 30; ++i) checks.push_back(result("wifi/ap:" + std::to_string(i), 0));
  s.send("hotspot-1", "mairie-c", checks);
  INFO(s.logs());
  REQUIRE(s.hook->wait_for(1, 15s));
  REQUIRE(s.smtp->wait_for(1, 15s));  // family "site", critical: the on-call mail too
  std::this_thread::sleep_for(1500ms);
  REQUIRE(s.hook->requests().size() == 1);
  CHECK_THAT(json::parse(s.hook->requests()[0].body)["text"].get<std::string>(),
             Catch::StartsWith("CRITICAL mairie-c : site unreachable"));
  CHECK(s.smtp->messages().size() == 1);

  s.send("hotspot-1", "mairie-c", checks);
  REQUIRE(s.hook->wait_for(2, 15s));
  CHECK_THAT(json::parse(s.hook->requests()[1].body)["text"].get<std::string>(),
             Catch::StartsWith("OK mairie-c : site reachable again"));
}

// Today's date and its neighbours in Paris: listed as public holidays of the test's
// calendar, whatever the time zone of the machine and the hour the test runs.
std::vector<std::string> days_around_today() {
  std::vector<std::string> out;
  for (int offset = -1; offset <= 1; ++offset) {
    const std::time_t t = std::time(nullptr) + offset * 86'400;
    std::tm utc{};
    gmtime_r(&t, &utc);
    char text[16];
    std::strftime(text, sizeof text, "%Y-%m-%d", &utc);
    out.emplace_back(text);
  }
  return out;
}

TEST_CASE("Alerts: an alert raised on a public holiday is routed as outside working hours",
          "[alerts][calendar]") {
  // The desk works every hour of every day, but today is a public holiday: only the
  // on-call route (CRITICAL, outside working hours) may hold.
  testing::TempDir config;
  json holidays = json::array();
  for (const auto& day : days_around_today())
    holidays.push_back({{"date", day}, {"name", "Fête de la commune"}});
  const json calendars = {{"calendars",
                           {{"desk",
                             {{"time_zone", "Europe/Paris"},
                              {"hours", {{"daily", "00:00-24:00"}}},
                              {"holidays", "fr"},
                              {"extra_holidays", holidays}}}}}};
  const auto calendars_file = config.write("calendars.json", calendars.dump(2));
  const json rules = json::array(
      {{{"when", "working-hours"}, {"calendar", "desk"}, {"channels", {"chat"}}},
       {{"when", "outside-working-hours"}, {"min_state", "critical"}, {"channels", {"oncall"}}}});
  Setup s({.top_extra = {{"rules", rules}},
           .collector_args = {"--calendars", calendars_file.string()}});

  s.send("a1", "mairie-d", json::array({result("system/disk:/", 1)}));    // WARNING
  s.send("a1", "mairie-d", json::array({result("firewall/sophos", 2)}));  // CRITICAL
  INFO(s.logs());
  REQUIRE(s.smtp->wait_for(1, 15s));
  CHECK_THAT(s.smtp->messages().at(0), Catch::Contains("[CRITICAL] mairie-d a1 firewall/sophos"));
  std::this_thread::sleep_for(1500ms);  // past the hold: the desk's webhook stays quiet
  CHECK(s.hook->requests().empty());
  CHECK(s.smtp->messages().size() == 1);
  json history;
  REQUIRE(testing::eventually(
      [&] {
        history = s.notifications("?site=mairie-d");
        return history.size() == 1;
      },
      10s));
  CHECK(history[0]["channel"] == "email");
  CHECK(history[0]["check"] == "firewall/sophos");

  // A downtime on every public holiday of the desk holds today, through the API and the
  // database.
  const json downtime = {{"site", "mairie-e"},
                         {"every", "public-holidays"},
                         {"calendar", "desk"},
                         {"comment", "closed on public holidays"}};
  const auto made = s.collector->call("POST", "/api/v1/downtimes", s.operator_, downtime.dump());
  INFO(made.body);
  REQUIRE(made.status == 201);
  CHECK(json::parse(made.body)["every"] ==
        json({{"schedule", "public-holidays"}, {"calendar", "desk"}}));
  CHECK(json::parse(made.body)["active"] == true);
  const json unknown = {
      {"site", "mairie-e"}, {"every", "public-holidays"}, {"calendar", "dsek"}, {"comment", "x"}};
  const auto refused = s.collector->call("POST", "/api/v1/downtimes", s.operator_, unknown.dump());
  CHECK(refused.status == 400);
  CHECK_THAT(refused.body, Catch::Contains("no calendar named \\\"dsek\\\" (calendars: desk)"));
  s.send("e1", "mairie-e", json::array({result("firewall/sophos", 2)}));
  REQUIRE(testing::eventually(
      [&] {
        history = s.notifications("?site=mairie-e");
        return history.size() == 1;
      },
      10s));
  CHECK(history[0]["status"] == "suppressed");
  CHECK(history[0]["reason"] == "in downtime");
}

TEST_CASE("Alerts: a rule naming an unknown calendar stops the start", "[alerts][calendar]") {
  testing::TempDir dir;
  const auto file = dir.write(
      "alerts.json", R"({"channels": [{"name": "chat", "type": "webhook", "url": "http://h"}],
                        "rules": [{"channels": ["chat"], "when": "working-hours"}]})");
  auto r = testing::run({VIGIE_COLLECTOR_BIN, "--alerts", file.string(), "--db",
                         (dir / "c.db").string(), "--listen", "127.0.0.1:0"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(file.string() + ": rules[0].calendar: required: no "
                                                    "calendars are configured"));
}

TEST_CASE("Alerts: a bad alerts file stops the start and says where and why", "[alerts]") {
  testing::TempDir dir;
  const auto file = dir.write(
      "alerts.json", R"({"channels": [{"name": "chat", "type": "webhook", "url": "ftp://x"}],
                        "rules": [{"channels": ["chat"]}]})");
  auto r = testing::run({VIGIE_COLLECTOR_BIN, "--alerts", file.string(), "--db",
                         (dir / "c.db").string(), "--listen", "127.0.0.1:0"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(file.string() + ": channels[0].url: expected an http:// or "
                                                    "https:// URL"));
  auto missing = testing::run({VIGIE_COLLECTOR_BIN, "--alerts", (dir / "none.json").string(),
                               "--db", (dir / "c.db").string()});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("none.json"));
}

}  // namespace
}  // namespace vigie
