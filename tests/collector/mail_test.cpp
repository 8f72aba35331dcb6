#include "collector/mail.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/collector_fixture.hpp"
#include "tests/support/smtp_server.hpp"
#include "tests/support/temp_dir.hpp"

using namespace vigie;
using namespace vigie::collector;
using vigie::testing::SmtpServer;
using vigie::testing::TempDir;
using json = nlohmann::json;

namespace {

mail::Relay plain_relay(int port) {
  auto relay = mail::parse_relay(json{{"url", "smtp://127.0.0.1:" + std::to_string(port)},
                                      {"tls", "none"},
                                      {"from", "Supervision <vigie@example.org>"},
                                      {"timeout", "10s"}},
                                 "smtp");
  REQUIRE(relay);
  return *relay;
}

mail::Message report_message() {
  mail::Message m;
  m.to = {"Mairie d'Onesse <mairie@onesse.example>", "support@example.org"};
  m.subject = "Sauvegardes : 3 sites à surveiller, semaine 48";
  m.text = "Bonjour,\nvoici l'état des sauvegardes.\n";
  m.html = "<html><body><p>Bonjour, voici l'état des sauvegardes.</p></body></html>";
  m.attachments.push_back({"sauvegardes.csv", "text/csv; charset=utf-8", "site;état\nonesse;OK\n"});
  return m;
}

std::string make_certs(const TempDir& dir) {
  auto r = vigie::testing::run(
      {std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs", (dir / "tls").string()});
  REQUIRE(r.exit_code == 0);
  return (dir / "tls").string();
}

}  // namespace

TEST_CASE("mail: a message with an HTML alternative and an attachment reaches the relay whole",
          "[mail]") {
  TempDir dir;
  SmtpServer server(dir.path());
  const auto relay = plain_relay(server.port());
  REQUIRE(mail::send(relay, report_message()).is_ok());
  REQUIRE(server.wait_for(1, std::chrono::seconds(5)));
  const std::string raw = server.messages().at(0);
  CHECK(raw.find("From: Supervision <vigie@example.org>") != std::string::npos);
  CHECK(raw.find("To: =?UTF-8?B?") == std::string::npos);  // ASCII names stay readable
  CHECK(raw.find("mairie@onesse.example") != std::string::npos);
  CHECK(raw.find("support@example.org") != std::string::npos);
  CHECK(raw.find("Subject: " +
                 mail::encode_header("Sauvegardes : 3 sites à surveiller, semaine 48")) !=
        std::string::npos);
  CHECK(raw.find("Message-ID: <") != std::string::npos);
  CHECK(raw.find("Date: ") != std::string::npos);
  CHECK(raw.find("multipart/alternative") != std::string::npos);
  const auto plain = raw.find("text/plain; charset=utf-8");
  const auto html = raw.find("text/html; charset=utf-8");
  REQUIRE(plain != std::string::npos);
  REQUIRE(html != std::string::npos);
  CHECK(plain < html);  // the preferred alternative comes last
  CHECK(raw.find("filename=\"sauvegardes.csv\"") != std::string::npos);
  // base64 of "site;état\nonesse;OK\n"
  CHECK(raw.find("c2l0ZTvDqXRhdApvbmVzc2U7T0sK") != std::string::npos);
}

TEST_CASE("mail: STARTTLS with a login, against the relay's own CA", "[mail]") {
  TempDir dir;
  const std::string tls = make_certs(dir);
  SmtpServer server(dir.path(), {.starttls = true,
                                 .cert = tls + "/server.crt",
                                 .key = tls + "/server.key",
                                 .user = "vigie",
                                 .password = "s3cret"});
  dir.write("smtp.pass", "s3cret\n");
  json block{{"url", "smtp://127.0.0.1:" + std::to_string(server.port())},
             {"username", "vigie"},
             {"password_file", (dir / "smtp.pass").string()},
             {"ca_file", tls + "/ca.crt"},
             {"from", "vigie@example.org"}};
  auto relay = mail::parse_relay(block, "smtp");
  REQUIRE(relay);
  CHECK(relay->security == mail::Security::kStartTls);
  mail::Message m;
  m.to = {"tech@example.org"};
  m.subject = "CRITICAL onesse/backup";
  m.text = "restic: last snapshot 3 days ago";
  REQUIRE(mail::send(*relay, m).is_ok());
  REQUIRE(server.wait_for(1, std::chrono::seconds(5)));
  CHECK(server.messages().at(0).find("restic: last snapshot 3 days ago") != std::string::npos);

  SECTION("a wrong password is refused, not retried as if the relay were away") {
    relay->password = "wrong";
    const Status s = mail::send(*relay, m);
    CHECK(s.code() == Code::kPermissionDenied);
    CHECK(s.message().find("authentication") != std::string::npos);
  }
  SECTION("a relay whose certificate the CA did not sign is not trusted") {
    relay->ca_file.clear();  // the system's CAs know nothing of the test CA
    const Status s = mail::send(*relay, m);
    CHECK(s.code() == Code::kPermissionDenied);
    CHECK(s.message().find("certificate") != std::string::npos);
  }
  SECTION("no mail is sent in clear to a relay that offers STARTTLS only on demand") {
    relay->security = mail::Security::kNone;
    relay->username.clear();
    CHECK_FALSE(mail::send(*relay, m).is_ok());  // the relay requires STARTTLS
  }
}

TEST_CASE("mail: a relay that refuses or is down gives errors that say so", "[mail]") {
  TempDir dir;
  mail::Message m;
  m.to = {"tech@example.org"};
  m.subject = "test";
  m.text = "body";
  {
    SmtpServer refusing(dir.path(), {.refuse = true});
    const auto relay = plain_relay(refusing.port());
    const Status s = mail::send_with_retries(relay, m, 2, std::chrono::milliseconds(10));
    CHECK(s.code() == Code::kPermissionDenied);
    CHECK(s.message().find("550") != std::string::npos);
    CHECK(refusing.messages().empty());
  }
  TempDir other;
  SmtpServer server(other.path());
  const auto relay = plain_relay(server.port());
  server.stop();
  const Status s = mail::send(relay, m);
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.message().find("127.0.0.1:" + std::to_string(relay.port)) != std::string::npos);
}

TEST_CASE("mail: messages that would be unsafe or undeliverable are refused before sending",
          "[mail]") {
  const auto relay = plain_relay(25);
  mail::Message m;
  m.to = {"tech@example.org"};
  m.text = "x";
  m.subject = "two\r\nBcc: everyone@example.org";
  CHECK(mail::send(relay, m).code() == Code::kInvalidArgument);
  m.subject = "ok";
  m.to = {"not an address"};
  CHECK(mail::send(relay, m).message().find("not an e-mail address") != std::string::npos);
  m.to = {};
  CHECK(mail::send(relay, m).message() == "no recipient");
  m.to = {"tech@example.org"};
  m.attachments.push_back({"a\"b.csv", "text/csv", "x"});
  CHECK(mail::send(relay, m).code() == Code::kInvalidArgument);
}

TEST_CASE("mail: relay configuration errors name the key and the reason", "[mail]") {
  const auto error = [](const json& block) {
    auto r = mail::parse_relay(block, "alerts.json: smtp");
    REQUIRE_FALSE(r);
    return r.status().message();
  };
  CHECK(error(json{{"url", "http://mail.example.org"}}).find("alerts.json: smtp.url") !=
        std::string::npos);
  CHECK(error(json{{"url", "smtp://mail.example.org:99999"}}).find("bad port") !=
        std::string::npos);
  CHECK(error(json{{"url", "smtp://mail.example.org"}, {"tls", "none"}}).find("loopback") !=
        std::string::npos);
  CHECK(error(json{{"url", "smtp://mail.example.org"}, {"tsl", "none"}})
            .find("smtp.tsl: unknown key") != std::string::npos);
  CHECK(error(json{{"url", "smtp://mail.example.org"}, {"pasword_file", "x"}})
            .find("smtp.pasword_file: unknown key (did you mean \"password_file\"?)") !=
        std::string::npos);
  CHECK(error(json{{"url", "smtp://mail.example.org"}, {"password_file", "/nonexistent/pass"}})
            .find("password_file") != std::string::npos);
  CHECK(error(json{{"url", "smtps://mail.example.org"}, {"tls", "starttls"}}).find(".tls") !=
        std::string::npos);
  CHECK(error(json{{"url", "smtp://mail.example.org"}, {"timeout", 30}})
            .find("expected a duration") != std::string::npos);

  auto relay = mail::parse_relay(json{{"url", "smtps://[::1]"}}, "smtp");
  REQUIRE(relay);
  CHECK(relay->host == "::1");
  CHECK(relay->port == 465);
  CHECK(relay->security == mail::Security::kTls);
}

TEST_CASE("mail: non-ASCII header text becomes encoded words cut on character boundaries",
          "[mail]") {
  CHECK(mail::encode_header("plain ascii") == "plain ascii");
  const std::string long_french(40, 'x');
  const std::string encoded = mail::encode_header(long_french + "ééééé");
  // 40 'x' and 5 two-byte characters: the first word takes 45 bytes at most without
  // splitting the 'é' that straddles the limit.
  CHECK(encoded.starts_with("=?UTF-8?B?"));
  CHECK(encoded.find("\r\n =?UTF-8?B?") != std::string::npos);
  for (std::size_t at = 0; (at = encoded.find("=?UTF-8?B?", at)) != std::string::npos; ++at) {
    const auto end = encoded.find("?=", at + 10);
    REQUIRE(end != std::string::npos);
    CHECK(end + 2 - at <= 75);
  }
}
