#include "plugins/net/dns_check.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "plugins/net/probe.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/child.hpp"
#include "tests/support/snmpsim.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::net {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

// dnsmasq on 127.0.0.1, authoritative for the test zone onesse.test (a name that is not
// in it does not exist), forwarding nothing.
struct Dnsmasq {
  testing::TempDir dir;
  int port = testing::free_udp_port();
  std::unique_ptr<testing::Child> child;

  Dnsmasq() {
    std::vector<std::string> argv = {"/usr/sbin/dnsmasq",
                                     "--keep-in-foreground",
                                     "--conf-file=/dev/null",
                                     "--no-resolv",
                                     "--no-hosts",
                                     "--bind-interfaces",
                                     "--listen-address=127.0.0.1",
                                     "--port=" + std::to_string(port),
                                     "--pid-file=",
                                     "--local=/onesse.test/",
                                     "--host-record=www.onesse.test,192.0.2.10,2001:db8::10",
                                     "--host-record=mail.onesse.test,192.0.2.25",
                                     "--mx-host=onesse.test,mail.onesse.test,10",
                                     "--txt-record=onesse.test,v=spf1 mx -all",
                                     "--cname=webmail.onesse.test,www.onesse.test",
                                     "--log-facility=-"};
    if (::geteuid() == 0) argv.push_back("--user=root");  // it would switch to nobody
    child = std::make_unique<testing::Child>(argv, dir / "dnsmasq.log");
    const bool ready = testing::eventually(
        [&] {
          const auto answers = probe_dns({{"www.onesse.test", "A", server()}},
                                         std::chrono::steady_clock::now() + 300ms);
          return answers[0].error.is_ok();
        },
        10s);
    if (!ready) throw std::runtime_error("dnsmasq did not answer:\n" + child->log());
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port); }
};

Dnsmasq& dnsmasq() {
  static Dnsmasq instance;
  return instance;
}

// One target, through dnsmasq.
Outcome dns(json target, std::chrono::milliseconds budget = 3s) {
  const json params = {{"server", dnsmasq().server()}, {"targets", {target}}};
  const auto outcomes =
      testing::configured(make_dns_check, params)->run_all(testing::context(budget));
  REQUIRE(outcomes.size() == 1);
  INFO(outcomes[0].summary << "\n" << outcomes[0].details);
  return outcomes[0];
}

TEST_CASE("DnsCheck: A, AAAA, MX, TXT and CNAME records from a given server", "[dns]") {
  const Outcome a = dns({{"name", "www.onesse.test"}});
  CHECK(a.status == State::kOk);
  CHECK_THAT(a.summary, Catch::StartsWith("A www.onesse.test: 192.0.2.10 in ") &&
                            Catch::EndsWith("(server " + dnsmasq().server() + ")"));
  CHECK(find_metric(a, "records").value == 1);
  CHECK(find_metric(a, "response_ms").value > 0);

  const Outcome aaaa = dns({{"name", "www.onesse.test"}, {"type", "AAAA"}});
  CHECK(aaaa.status == State::kOk);
  CHECK_THAT(aaaa.summary, Catch::StartsWith("AAAA www.onesse.test: 2001:db8::10 in "));

  const Outcome mx = dns({{"name", "onesse.test"}, {"type", "mx"}, {"expect", "^10 mail\\."}});
  CHECK(mx.status == State::kOk);
  CHECK_THAT(mx.summary, Catch::StartsWith("MX onesse.test: 10 mail.onesse.test in "));

  const Outcome txt = dns({{"name", "onesse.test"}, {"type", "TXT"}, {"expect", "v=spf1"}});
  CHECK(txt.status == State::kOk);
  CHECK_THAT(txt.summary, Catch::StartsWith("TXT onesse.test: v=spf1 mx -all in "));

  const Outcome cname = dns({{"name", "webmail.onesse.test"}, {"type", "CNAME"}});
  CHECK(cname.status == State::kOk);
  CHECK_THAT(cname.summary, Catch::StartsWith("CNAME webmail.onesse.test: www.onesse.test in "));
}

TEST_CASE("DnsCheck: many names at once, one result each, named by name, type and server",
          "[dns]") {
  const json params = {{"server", dnsmasq().server()},
                       {"targets",
                        {"www.onesse.test",
                         {{"name", "onesse.test"}, {"type", "MX"}, {"site", "onesse"}},
                         {{"name", "www.onesse.test"}, {"type", "aaaa"}},
                         "nowhere.onesse.test"}}};
  const auto outcomes = testing::configured(make_dns_check, params)->run_all(testing::context(3s));
  REQUIRE(outcomes.size() == 4);
  const std::string at = "@" + dnsmasq().server();
  CHECK(outcomes[0].target == "www.onesse.test" + at);
  CHECK(outcomes[0].status == State::kOk);
  CHECK(outcomes[1].target == "onesse.test/MX" + at);
  CHECK(outcomes[1].site == "onesse");
  CHECK(outcomes[1].status == State::kOk);
  CHECK(outcomes[2].target == "www.onesse.test/AAAA" + at);
  CHECK(outcomes[3].status == State::kCritical);
  // The same name twice through the same server is the same target.
  CHECK_THAT(testing::configure_error(
                 make_dns_check, {{"targets", {"a.test", {{"name", "a.test"}, {"type", "a"}}}}}),
             Catch::StartsWith("targets[1].name: a.test is listed twice"));
  // Without a server, the system's.
  const auto system = testing::configured(make_dns_check, {{"targets", {"localhost"}}})
                          ->run_all(testing::context(2s));
  CHECK(system[0].target == "localhost");
}

TEST_CASE(
    "DnsCheck: a name that does not exist, no record of the type, an answer that does "
    "not match",
    "[dns]") {
  const Outcome missing = dns({{"name", "nowhere.onesse.test"}});
  CHECK(missing.status == State::kCritical);
  CHECK_THAT(missing.summary, Catch::StartsWith("nowhere.onesse.test does not exist (NXDOMAIN)"));
  CHECK(find_metric(missing, "records").value == 0);

  const Outcome no_mx = dns({{"name", "www.onesse.test"}, {"type", "MX"}});
  CHECK(no_mx.status == State::kCritical);
  CHECK_THAT(no_mx.summary, Catch::StartsWith("no MX www.onesse.test record"));

  const Outcome moved = dns({{"name", "www.onesse.test"}, {"expect", "^198\\.51\\.100\\."}});
  CHECK(moved.status == State::kCritical);
  CHECK_THAT(moved.summary,
             Catch::StartsWith("A www.onesse.test: no record matches \"^198\\.51\\.100\\.\" "
                               "(192.0.2.10)"));
}

TEST_CASE("DnsCheck: a server that does not answer is CRITICAL within the run", "[dns]") {
  // A UDP socket that receives queries and never answers them.
  const int silent = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(silent >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  ::getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string server = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const auto start = std::chrono::steady_clock::now();
  auto check =
      testing::configured(make_dns_check, {{"targets", {"www.onesse.test"}}, {"server", server}});
  const Outcome outcome = check->run_all(testing::context(1s)).front();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ::close(silent);
  INFO(outcome.summary);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::StartsWith("no answer to A www.onesse.test"));
  CHECK(elapsed < 1s);
}

TEST_CASE("DnsCheck: answer time thresholds", "[dns]") {
  const Outcome outcome =
      dns({{"name", "www.onesse.test"}, {"response_warn", "1ms"}, {"response_crit", "5s"}});
  // dnsmasq on loopback answers in well under a millisecond, mostly: the threshold is
  // in the metric either way.
  CHECK(find_metric(outcome, "response_ms").warn == Range{0, 1});
  CHECK(find_metric(outcome, "response_ms").crit == Range{0, 5000});
  CHECK((outcome.status == State::kOk || outcome.status == State::kWarning));
}

TEST_CASE("DnsCheck: parameters are validated", "[dns]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_dns_check, params);
  };
  CHECK_THAT(error(json::object()), Catch::StartsWith("targets: required"));
  CHECK_THAT(error({{"targets", {"a b"}}}),
             Catch::StartsWith("targets[0].name: \"a b\" is not a domain name"));
  CHECK_THAT(error({{"targets", {{{"type", "MX"}}}}}),
             Catch::StartsWith("targets[0].name: required"));
  CHECK_THAT(error({{"targets", {{{"name", "a"}, {"type", "AXFR"}}}}}),
             Catch::StartsWith("targets[0].type: \"AXFR\" is not one"));
  CHECK_THAT(error({{"targets", {"a"}}, {"server", "dns.example.org"}}),
             Catch::StartsWith("server: \"dns.example.org\" is not an IP address"));
  CHECK_THAT(error({{"targets", {{{"name", "a"}, {"server", "127.0.0.1:99999"}}}}}),
             Catch::StartsWith("targets[0].server: port \"99999\""));
  CHECK_THAT(error({{"targets", {"a"}}, {"expect", "[a-"}}),
             Catch::StartsWith("expect: \"[a-\" is not a POSIX extended"));
  CHECK_THAT(error({{"targets", {"a"}}, {"response_warn", "2s"}, {"response_crit", "1s"}}),
             Catch::StartsWith("response_warn: 2s is above response_crit (1s)"));
  CHECK_THAT(error({{"targets", {{{"name", "a"}, {"port", 53}}}}}),
             Catch::StartsWith("targets[0].port: unknown key; known keys: name type"));
  CHECK_THAT(error({{"targets", {"a.test", {{"name", "a.test"}, {"type", "a"}}}}}),
             Catch::StartsWith("targets[1].name: a.test is listed twice"));
}

}  // namespace
}  // namespace vigie::plugins::net
