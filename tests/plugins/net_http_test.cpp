#include "plugins/net/http_check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "plugins/net/tls_check.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/net_peers.hpp"
#include "tests/support/smtp_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::net {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

// Certificates of one CA (valid 2 years, 60 days, 5 days, expired 3 days ago, for
// another name) and of another CA nobody trusts; the servers that present them.
struct Web {
  testing::TempDir dir;
  testing::TempDir other_ca;
  std::unique_ptr<testing::NetPeers> peers;
  std::string ca;

  Web() {
    const std::vector<std::string> local = {"localhost", "127.0.0.1"};
    testing::make_certificate(dir.path(), "good", 730, local);
    testing::make_certificate(dir.path(), "sixty", 60, local);
    testing::make_certificate(dir.path(), "five", 5, local);
    testing::make_certificate(dir.path(), "expired", -3, local);
    testing::make_certificate(dir.path(), "wrong-name", 365, {"www.example.org"});
    testing::make_certificate(other_ca.path(), "unknown", 365, local);
    ca = (dir / "ca.crt").string();
    const auto tls = [&](const std::string& name, const testing::TempDir& where) {
      return testing::NetPeers::Tls{name, (where / (name + ".crt")).string(),
                                    (where / (name + ".key")).string()};
    };
    testing::NetPeers::Options options;
    options.https = {tls("good", dir),    tls("sixty", dir),      tls("five", dir),
                     tls("expired", dir), tls("wrong-name", dir), tls("unknown", other_ca)};
    options.http = {"plain"};
    options.silent = {"silent"};
    options.tls = {tls("good", dir)};
    options.tls[0].name = "tls-good";
    options.imap = {tls("good", dir)};
    options.imap[0].name = "imap";
    options.pop3 = {tls("good", dir)};
    options.pop3[0].name = "pop3";
    peers = std::make_unique<testing::NetPeers>(dir.path(), options);
  }

  std::string url(const std::string& server, const std::string& path = "/") const {
    const bool tls = server != "plain" && server != "silent";
    return std::string(tls ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(peers->port(server)) + path;
  }
};

Web& web() {
  static Web instance;
  return instance;
}

std::vector<Outcome> http(json params, std::chrono::milliseconds budget = 5s) {
  params.emplace("ca_file", web().ca);
  return testing::configured(make_http_check, params)->run_all(testing::context(budget));
}

Outcome http_one(json target, json params = json::object(), std::chrono::milliseconds budget = 5s) {
  params["targets"] = json::array({std::move(target)});
  const auto outcomes = http(params, budget);
  REQUIRE(outcomes.size() == 1);
  INFO(outcomes[0].summary << "\n" << outcomes[0].details);
  return outcomes[0];
}

TEST_CASE("HttpCheck: a good HTTPS site: OK, its time, certificate days and issuer", "[http]") {
  const std::string url = web().url("good");
  const Outcome outcome = http_one({{"url", url}, {"site", "onesse"}, {"match", "Bienvenue"}});
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.target == url);
  CHECK(outcome.site == "onesse");
  // The certificate was made for 730 days a moment ago: 729 whole days left, or 730.
  CHECK_THAT(outcome.summary,
             Catch::Matches("HTTP 200 in [0-9.]+ ms, the body matches \"Bienvenue\", certificate "
                            "valid 7(29|30) days \\(issued by vigie test CA\\)"));
  CHECK(find_metric(outcome, "cert_days").value >= 729);
  CHECK(find_metric(outcome, "cert_days").warn ==
        Range{21, std::numeric_limits<double>::infinity()});
  CHECK(find_metric(outcome, "response_ms").value > 0);
  CHECK(find_metric(outcome, "body_bytes").value > 50);
  CHECK_THAT(outcome.details, Catch::Contains("TLSv1.3"));
}

TEST_CASE(
    "HttpCheck: certificates that expire soon, have expired, name another host or "
    "come from an unknown CA",
    "[http]") {
  const auto outcomes = http({{"targets",
                               {web().url("sixty"), web().url("five"), web().url("expired"),
                                web().url("wrong-name"), web().url("unknown")}}});
  REQUIRE(outcomes.size() == 5);
  for (const auto& o : outcomes) INFO(o.target << ": " << o.summary);
  CHECK(outcomes[0].status == State::kOk);
  CHECK(find_metric(outcomes[0], "cert_days").value >= 59);

  CHECK(outcomes[1].status == State::kCritical);
  CHECK_THAT(outcomes[1].summary, Catch::Matches("certificate expires in [45] days \\(.*") &&
                                      Catch::EndsWith("(issued by vigie test CA)"));

  CHECK(outcomes[2].status == State::kCritical);
  CHECK_THAT(outcomes[2].summary,
             Catch::StartsWith("certificate expired 3d") && Catch::Contains("ago ("));
  CHECK(find_metric(outcomes[2], "cert_days").value == -3);

  CHECK(outcomes[3].status == State::kCritical);
  CHECK_THAT(outcomes[3].summary, Catch::StartsWith("certificate refused: ") &&
                                      Catch::Contains("127.0.0.1") &&
                                      Catch::Contains("(subject www.example.org)"));

  CHECK(outcomes[4].status == State::kCritical);
  CHECK_THAT(outcomes[4].summary,
             Catch::StartsWith("certificate not trusted: unable to get local issuer "
                               "certificate (issued by vigie test CA)"));
}

TEST_CASE("HttpCheck: the expiry thresholds are the check's or the target's", "[http]") {
  const auto outcomes = http(
      {{"targets",
        {web().url("sixty"), {{"url", web().url("five")}, {"warn_days", 10}, {"crit_days", 2}}}},
       {"warn_days", 90},
       {"crit_days", 30}});
  REQUIRE(outcomes.size() == 2);
  INFO(outcomes[0].summary << "\n" << outcomes[1].summary);
  CHECK(outcomes[0].status == State::kWarning);
  CHECK_THAT(outcomes[0].summary, Catch::Matches("certificate expires in (59|60) days .*"));
  CHECK(outcomes[1].status == State::kWarning);
}

TEST_CASE("HttpCheck: a 500, a missing page, a body that does not match", "[http]") {
  const auto outcomes =
      http({{"targets",
             {web().url("good", "/error"),
              web().url("plain", "/nowhere"),
              {{"url", web().url("plain", "/nowhere?again")}, {"expect_status", "404"}},
              {{"url", web().url("plain")}, {"match", "Mairie de Brest"}}}}});
  REQUIRE(outcomes.size() == 4);
  for (const auto& o : outcomes) INFO(o.target << ": " << o.summary);
  CHECK(outcomes[0].status == State::kCritical);
  CHECK_THAT(outcomes[0].summary,
             Catch::StartsWith("HTTP 500 in ") && Catch::EndsWith("(expected 200-399)"));
  CHECK(outcomes[1].status == State::kCritical);
  CHECK_THAT(outcomes[1].summary, Catch::StartsWith("HTTP 404 in "));
  CHECK(outcomes[2].status == State::kOk);
  CHECK(outcomes[3].status == State::kCritical);
  CHECK(outcomes[3].summary == "the body does not match \"Mairie de Brest\"");
  CHECK(find_metric(outcomes[3], "tls_ms").value == std::nullopt);  // plain HTTP
}

TEST_CASE("HttpCheck: redirects followed or not, and a redirect loop", "[http]") {
  const auto outcomes =
      http({{"targets",
             {web().url("good", "/moved"),
              {{"url", web().url("plain", "/moved")}, {"follow_redirects", false}},
              {{"url", web().url("plain", "/moved?again")},
               {"follow_redirects", false},
               {"expect_status", "200"}},
              web().url("good", "/loop")}}});
  REQUIRE(outcomes.size() == 4);
  for (const auto& o : outcomes) INFO(o.target << ": " << o.summary << "\n" << o.details);
  CHECK(outcomes[0].status == State::kOk);
  CHECK_THAT(outcomes[0].summary, Catch::Contains("after 1 redirect"));
  CHECK(outcomes[1].status == State::kOk);
  CHECK_THAT(outcomes[1].summary, Catch::StartsWith("HTTP 301"));
  CHECK(outcomes[2].status == State::kCritical);
  CHECK(outcomes[3].status == State::kCritical);
  CHECK(outcomes[3].summary == "redirect loop: more than 10 redirects");
}

TEST_CASE(
    "HttpCheck: a slow server against the response thresholds, a server that never "
    "answers, a port closed",
    "[http]") {
  web();  // the servers start before the clock does
  const auto start = std::chrono::steady_clock::now();
  const auto outcomes = http({{"targets",
                               {web().url("good", "/slow?ms=400"),
                                {{"url", web().url("plain", "/slow?ms=400")},
                                 {"response_warn", "100ms"},
                                 {"response_crit", "300ms"}},
                                web().url("silent"),
                                "https://127.0.0.1:1/"}},
                              {"response_warn", "200ms"}},
                             1500ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(outcomes.size() == 4);
  for (const auto& o : outcomes) INFO(o.target << ": " << o.summary);
  CHECK(outcomes[0].status == State::kWarning);
  CHECK_THAT(outcomes[0].summary, Catch::Contains("(WARNING > 200 ms)"));
  CHECK(outcomes[1].status == State::kCritical);
  CHECK_THAT(outcomes[1].summary, Catch::Contains("(CRITICAL > 300 ms)"));
  CHECK(outcomes[2].status == State::kCritical);
  CHECK_THAT(outcomes[2].summary, Catch::StartsWith("no answer in time: "));
  CHECK(outcomes[3].status == State::kCritical);
  CHECK_THAT(outcomes[3].summary, Catch::Contains("127.0.0.1"));
  // All at once, and within the run's time.
  CHECK(elapsed < 1500ms);
}

TEST_CASE("HttpCheck: parameters are validated", "[http]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_http_check, params);
  };
  CHECK_THAT(error(json::object()), Catch::StartsWith("targets: required"));
  CHECK_THAT(error({{"targets", {"ftp://x/"}}}),
             Catch::StartsWith("targets[0].url: \"ftp://x/\" is not an http:// or https:// URL"));
  CHECK_THAT(error({{"targets", {"https://"}}}), Catch::StartsWith("targets[0].url:"));
  CHECK_THAT(error({{"targets", {"https://a/", "https://a/"}}}),
             Catch::StartsWith("targets[1].url: \"https://a/\" is listed twice"));
  CHECK_THAT(error({{"targets", {{{"url", "https://a/"}, {"expect_status", "2xx"}}}}}),
             Catch::StartsWith("targets[0].expect_status: \"2xx\": must be"));
  CHECK_THAT(error({{"targets", {{{"url", "https://a/"}, {"expect_status", "399-200"}}}}}),
             Catch::StartsWith("targets[0].expect_status:"));
  CHECK_THAT(error({{"targets", {{{"url", "https://a/"}, {"match", "(unclosed"}}}}}),
             Catch::StartsWith("targets[0].match: \"(unclosed\" is not a POSIX extended"));
  CHECK_THAT(error({{"targets", {{{"url", "https://a/"}, {"site", "a b"}}}}}),
             Catch::StartsWith("targets[0].site:"));
  CHECK_THAT(error({{"targets", {"https://a/"}}, {"warn_days", 5}}),
             Catch::StartsWith("crit_days: 7 is above warn_days (5)"));
  CHECK_THAT(error({{"targets", {{{"url", "https://a/"}, {"crit_days", 30}}}}}),
             Catch::StartsWith("targets[0].crit_days: 30 is above warn_days (21)"));
  CHECK_THAT(error({{"targets", {"https://a/"}}, {"response_warn", "2s"}, {"response_crit", "1s"}}),
             Catch::StartsWith("response_warn: 2s is above response_crit (1s)"));
  CHECK_THAT(error({{"targets", {"https://a/"}}, {"ca_file", "ca.crt"}}),
             Catch::StartsWith("ca_file:"));
  CHECK_THAT(error({{"targets", {{{"url", "https://a/"}, {"method", "POST"}}}}}),
             Catch::StartsWith("targets[0].method: unknown key; known keys: url site"));
}

// --- net/tls ------------------------------------------------------------------------------

std::vector<Outcome> tls(json targets, json params = json::object(),
                         std::chrono::milliseconds budget = 5s) {
  params["targets"] = std::move(targets);
  params.emplace("ca_file", web().ca);
  return testing::configured(make_tls_check, params)->run_all(testing::context(budget));
}

TEST_CASE("TlsCheck: TLS at once, and STARTTLS for IMAP and POP3", "[tls]") {
  const auto outcomes =
      tls({{{"host", "127.0.0.1"}, {"port", web().peers->port("tls-good")}, {"site", "onesse"}},
           {{"host", "localhost"}, {"port", web().peers->port("imap")}, {"starttls", "imap"}},
           {{"host", "127.0.0.1"}, {"port", web().peers->port("pop3")}, {"starttls", "pop3"}}});
  REQUIRE(outcomes.size() == 3);
  for (const auto& o : outcomes) {
    INFO(o.target << ": " << o.summary << "\n" << o.details);
    CHECK(o.status == State::kOk);
    CHECK_THAT(o.summary, Catch::Matches("TLSv1.3, handshake in [0-9.]+ ms, certificate valid "
                                         "7(29|30) days \\(issued by vigie test CA\\)"));
    CHECK(find_metric(o, "cert_days").value >= 729);
    CHECK(find_metric(o, "handshake_ms").value > 0);
  }
  CHECK(outcomes[0].target == "127.0.0.1:" + std::to_string(web().peers->port("tls-good")));
  CHECK(outcomes[0].site == "onesse");
  CHECK(outcomes[1].target == "localhost:" + std::to_string(web().peers->port("imap")));
}

TEST_CASE("TlsCheck: STARTTLS for SMTP on a real SMTP server", "[tls]") {
  testing::TempDir dir;
  testing::make_certificate(dir.path(), "mail", 10, {"localhost", "127.0.0.1"});
  testing::SmtpServer smtp(
      dir.path(),
      {.starttls = true, .cert = (dir / "mail.crt").string(), .key = (dir / "mail.key").string()});
  const auto outcomes = tls({{{"host", "127.0.0.1"}, {"port", smtp.port()}, {"starttls", "smtp"}}},
                            {{"ca_file", (dir / "ca.crt").string()}});
  INFO(outcomes[0].summary << "\n" << outcomes[0].details << "\n" << smtp.log());
  CHECK(outcomes[0].status == State::kWarning);
  CHECK_THAT(outcomes[0].summary, Catch::Matches("certificate expires in (9|10) days \\(.*"));
}

TEST_CASE(
    "TlsCheck: untrusted and expired certificates, a server that does not speak, the "
    "protocol version",
    "[tls]") {
  const auto outcomes =
      tls({{{"host", "127.0.0.1"}, {"port", web().peers->port("expired")}},
           {{"host", "127.0.0.1"}, {"port", web().peers->port("unknown")}},
           {{"host", "127.0.0.1"}, {"port", web().peers->port("silent")}},
           {{"host", "127.0.0.1"}, {"port", web().peers->port("plain")}, {"starttls", "imap"}}},
          {{"min_version", "TLSv1.3"}}, 1500ms);
  REQUIRE(outcomes.size() == 4);
  for (const auto& o : outcomes) INFO(o.target << ": " << o.summary);
  CHECK(outcomes[0].status == State::kCritical);
  CHECK_THAT(outcomes[0].summary, Catch::StartsWith("certificate expired 3d"));
  CHECK(outcomes[1].status == State::kCritical);
  CHECK_THAT(outcomes[1].summary, Catch::StartsWith("certificate not trusted: "));
  CHECK(outcomes[2].status == State::kCritical);
  CHECK_THAT(outcomes[2].summary, Catch::StartsWith("no handshake in time"));
  CHECK(outcomes[3].status == State::kCritical);  // an HTTP server is no IMAP server
}

TEST_CASE("TlsCheck: parameters are validated", "[tls]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_tls_check, params);
  };
  CHECK_THAT(error(json::object()), Catch::StartsWith("targets: required"));
  CHECK_THAT(error({{"targets", {"mail.example.org"}}}), Catch::StartsWith("targets[0]: must be"));
  CHECK_THAT(error({{"targets", {{{"host", "a"}, {"starttls", "ftp"}}}}}),
             Catch::StartsWith("targets[0].starttls: must be"));
  CHECK_THAT(error({{"targets", {{{"host", "a"}, {"port", 70000}}}}}),
             Catch::StartsWith("targets[0].port: 70000: must be in 1..65535"));
  CHECK_THAT(error({{"targets", {{{"host", "a/b"}}}}}), Catch::StartsWith("targets[0].host:"));
  CHECK_THAT(error({{"targets", {{{"host", "a"}}, {{"host", "a"}, {"port", 443}}}}}),
             Catch::StartsWith("targets[1].host: a:443 is listed twice"));
  CHECK_THAT(error({{"targets", {{{"host", "a"}}}}, {"min_version", "SSLv3"}}),
             Catch::StartsWith("min_version: must be"));
}

}  // namespace
}  // namespace vigie::plugins::net
