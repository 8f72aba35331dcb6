#include "plugins/net/ping_check.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/plugins/check_test_util.hpp"
#include "tests/support/net_namespace.hpp"
#include "tests/support/peers.hpp"

namespace vigie::plugins::net {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

// Short rounds: three requests 50 ms apart, replies within 300 ms.
json fast(json params) {
  params.emplace("count", 3);
  params.emplace("packet_interval", "50ms");
  params.emplace("packet_timeout", "300ms");
  return params;
}

std::vector<Outcome> ping(const json& params, std::chrono::milliseconds budget = 5s) {
  return testing::configured(make_ping_check, params)->run_all(testing::context(budget));
}

const Outcome& about(const std::vector<Outcome>& outcomes, const std::string& target) {
  for (const auto& outcome : outcomes) {
    if (outcome.target == target) return outcome;
  }
  FAIL("no outcome for " << target);
  throw std::logic_error("unreachable");
}

TEST_CASE("PingCheck: 127.0.0.1 answers: OK with its round trip, filed under its site", "[ping]") {
  const auto outcomes =
      ping(fast({{"targets", {{{"host", "127.0.0.1"}, {"site", "onesse"}}, "localhost"}}}));
  REQUIRE(outcomes.size() == 2);
  const Outcome& local = outcomes[0];
  INFO(local.summary << "\n" << local.details);
  CHECK(local.status == State::kOk);
  CHECK(local.target == "127.0.0.1");
  CHECK(local.site == "onesse");
  CHECK_THAT(local.summary,
             Catch::StartsWith("127.0.0.1: rtt ") && Catch::EndsWith(", 0% lost (3/3)"));
  CHECK(find_metric(local, "loss_pct").value == 0);
  CHECK(find_metric(local, "rtt_avg").value > 0);
  CHECK(find_metric(local, "rtt_avg").unit == "ms");
  CHECK(find_metric(local, "rtt_avg").crit == Range{0, 500});
  CHECK(find_metric(local, "rtt_max").value >= find_metric(local, "rtt_min").value);
  // A name is resolved first (here through /etc/hosts).
  INFO(outcomes[1].summary);
  CHECK(outcomes[1].status == State::kOk);
  CHECK(outcomes[1].target == "localhost");
  CHECK(outcomes[1].site.empty());
  CHECK_THAT(outcomes[1].summary, Catch::StartsWith("localhost ("));
}

TEST_CASE("PingCheck: IPv6 ::1", "[ping]") {
  const auto outcomes = ping(fast({{"targets", {"::1"}}}));
  INFO(outcomes[0].summary << "\n" << outcomes[0].details);
  CHECK(outcomes[0].status == State::kOk);
  CHECK(outcomes[0].target == "::1");
}

TEST_CASE("PingCheck: 200 hosts at once, one result each, in one round", "[ping]") {
  json targets = json::array();
  for (int i = 1; i <= 200; ++i) targets.push_back("127.0.0." + std::to_string(i));
  const auto start = std::chrono::steady_clock::now();
  const auto outcomes = ping(fast({{"targets", targets}}), 10s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(outcomes.size() == 200);
  int ok = 0;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    CHECK(outcomes[i].target == "127.0.0." + std::to_string(i + 1));
    if (outcomes[i].status == State::kOk) ++ok;
    else WARN(outcomes[i].summary);
  }
  CHECK(ok == 200);
  // Concurrently: 3 requests 50 ms apart, not 200 x 3 one after the other.
  CHECK(elapsed < 3s);
}

TEST_CASE("PingCheck: a name that does not resolve is UNKNOWN, the others are judged", "[ping]") {
  const auto outcomes = ping(fast({{"targets", {"no-such-host.invalid", "127.0.0.1"}}}), 3s);
  REQUIRE(outcomes.size() == 2);
  INFO(outcomes[0].summary);
  CHECK(outcomes[0].status == State::kUnknown);
  CHECK_THAT(outcomes[0].summary, Catch::StartsWith("no-such-host.invalid: "));
  CHECK(outcomes[1].status == State::kOk);
}

// The namespace's own network: a route that sends 192.0.2.0/24 out through the
// loopback, where nothing answers (the namespace does not forward), and a blackhole
// route (nothing can be sent there).
struct Silent {
  testing::NetNamespace ns{"ping"};
  bool ready = false;
  std::string error;  // why not ready
  Silent() {
    error = ns.error();
    if (!ns.created()) return;
    ready = ns.run({"ip", "route", "add", "192.0.2.0/24", "dev", "lo"}, &error) &&
            ns.run({"ip", "route", "add", "blackhole", "198.51.100.0/24"}, &error);
  }
};

TEST_CASE("PingCheck: hosts that do not answer are CRITICAL, within the round", "[ping]") {
  Silent net;
  if (!net.ready)
    VIGIE_SKIP_TEST(net.ns.absent(), "cannot set up a network namespace (" << net.error << ")");
  testing::NetNamespace::Inside inside(net.ns);
  const auto start = std::chrono::steady_clock::now();
  const auto outcomes = ping(fast({{"targets", {"192.0.2.2", "198.51.100.7", "127.0.0.1"}}}));
  // 3 requests 50 ms apart, then 300 ms for the last reply; a loaded machine may add some.
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  REQUIRE(outcomes.size() == 3);
  const Outcome& silent = about(outcomes, "192.0.2.2");
  INFO(silent.summary << "\n" << silent.details);
  CHECK(silent.status == State::kCritical);
  CHECK(silent.summary == "192.0.2.2: no answer (3 sent)");
  CHECK(find_metric(silent, "loss_pct").value == 100);
  CHECK_FALSE(find_metric(silent, "rtt_avg").value.has_value());
  const Outcome& blackhole = about(outcomes, "198.51.100.7");
  INFO(blackhole.summary);
  CHECK(blackhole.status == State::kCritical);
  CHECK_THAT(blackhole.summary, Catch::StartsWith("198.51.100.7: no answer (3 sent; sendto: "));
  CHECK(about(outcomes, "127.0.0.1").status == State::kOk);
}

TEST_CASE("PingCheck: the run ends by its deadline, however long the options ask for", "[ping]") {
  Silent net;
  if (!net.ready)
    VIGIE_SKIP_TEST(net.ns.absent(), "cannot set up a network namespace (" << net.error << ")");
  testing::NetNamespace::Inside inside(net.ns);
  const auto start = std::chrono::steady_clock::now();
  // 10 requests a second apart and 5 s for a reply would take 15 s: the round shrinks.
  const auto outcomes = ping({{"targets", {"192.0.2.2", "127.0.0.1"}},
                              {"count", 10},
                              {"packet_interval", "1s"},
                              {"packet_timeout", "5s"}},
                             1500ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < 1700ms);
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].status == State::kCritical);
  CHECK(outcomes[0].summary == "192.0.2.2: no answer (10 sent)");
  INFO(outcomes[1].summary);
  CHECK(outcomes[1].status == State::kOk);
}

TEST_CASE("PingCheck: lost requests against the loss thresholds", "[ping]") {
  Silent net;
  if (!net.ready)
    VIGIE_SKIP_TEST(net.ns.absent(), "cannot set up a network namespace (" << net.error << ")");
  // nftables drops 2 echo requests of every 5 to 127.0.0.2 (40 %), and 1 of every 10 to
  // 127.0.0.3 (10 %), counted in order.
  std::string error;
  const bool rules =
      net.ns.run({"nft", "add table inet t"}, &error) &&
      net.ns.run({"nft", "add chain inet t in { type filter hook input priority 0; }"}, &error) &&
      net.ns.run({"nft",
                  "add rule inet t in ip daddr 127.0.0.2 icmp type echo-request "
                  "numgen inc mod 5 < 2 drop"},
                 &error) &&
      net.ns.run({"nft",
                  "add rule inet t in ip daddr 127.0.0.3 icmp type echo-request "
                  "numgen inc mod 10 < 1 drop"},
                 &error);
  if (!rules) {
    // nft missing is a package's absence (nftables); nft refused, the kernel's (no
    // nf_tables).
    if (!std::filesystem::exists("/usr/sbin/nft"))
      VIGIE_SKIP_TEST(testing::Absent::kPackage,
                      "/usr/sbin/nft is not installed (scripts/bootstrap installs nftables)");
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "nft failed (" << error << ")");
  }
  testing::NetNamespace::Inside inside(net.ns);
  const auto outcomes = ping({{"targets", {"127.0.0.2", "127.0.0.3"}},
                              {"count", 10},
                              {"packet_interval", "20ms"},
                              {"packet_timeout", "300ms"}});
  REQUIRE(outcomes.size() == 2);
  INFO(outcomes[0].summary << "\n" << outcomes[1].summary);
  CHECK(outcomes[0].status == State::kWarning);
  CHECK_THAT(outcomes[0].summary, Catch::Contains("40% lost (WARNING > 20%) (6/10)"));
  CHECK(find_metric(outcomes[0], "loss_pct").value == 40);
  CHECK(outcomes[1].status == State::kOk);
  CHECK_THAT(outcomes[1].summary, Catch::Contains("10% lost (9/10)"));

  const auto strict = ping({{"targets", {"127.0.0.2"}},
                            {"count", 10},
                            {"packet_interval", "20ms"},
                            {"packet_timeout", "300ms"},
                            {"loss_warn", 10},
                            {"loss_crit", 30}});
  INFO(strict[0].summary);
  CHECK(strict[0].status == State::kCritical);
  CHECK_THAT(strict[0].summary, Catch::Contains("40% lost (CRITICAL > 30%)"));
}

TEST_CASE("PingCheck: unprivileged ICMP sockets when ping_group_range allows, else raw", "[ping]") {
  testing::NetNamespace ns("icmp");
  if (!ns.created())
    VIGIE_SKIP_TEST(ns.absent(), "cannot create a network namespace (" << ns.error() << ")");
  // A new namespace starts with ping_group_range "1 0": nobody may.
  {
    testing::NetNamespace::Inside inside(ns);
    const auto refused = ping(fast({{"targets", {"127.0.0.1"}}, {"icmp_socket", "unprivileged"}}));
    INFO(refused[0].summary);
    CHECK(refused[0].status == State::kUnknown);
    CHECK_THAT(refused[0].summary,
               Catch::Contains("unprivileged ICMP sockets refused") &&
                       Catch::Contains("net.ipv4.ping_group_range is \"1\t0\"") ||
                   Catch::Contains("net.ipv4.ping_group_range is \"1 0\""));
    const auto fallback = ping(fast({{"targets", {"127.0.0.1"}}}));
    CHECK(fallback[0].status == State::kOk);
    CHECK_THAT(fallback[0].details, Catch::Contains("over a raw socket"));
  }
  REQUIRE(ns.run({"sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"}));
  testing::NetNamespace::Inside inside(ns);
  for (const char* kind : {"auto", "unprivileged"}) {
    const auto outcomes = ping(fast({{"targets", {"127.0.0.1", "::1"}}, {"icmp_socket", kind}}));
    for (const auto& outcome : outcomes) {
      INFO(kind << ": " << outcome.summary << "\n" << outcome.details);
      CHECK(outcome.status == State::kOk);
      CHECK_THAT(outcome.details, Catch::Contains("over a unprivileged ICMP socket"));
    }
  }
  const auto raw = ping(fast({{"targets", {"127.0.0.1", "::1"}}, {"icmp_socket", "raw"}}));
  for (const auto& outcome : raw) {
    INFO(outcome.summary);
    CHECK(outcome.status == State::kOk);
    CHECK_THAT(outcome.details, Catch::Contains("over a raw socket"));
  }
}

TEST_CASE("PingCheck: parameters are validated", "[ping]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_ping_check, params);
  };
  CHECK_THAT(error(json::object()), Catch::StartsWith("targets: required"));
  CHECK_THAT(error({{"targets", json::array()}}), Catch::StartsWith("targets: required"));
  CHECK_THAT(error({{"targets", {42}}}), Catch::StartsWith("targets[0]: must be a host"));
  CHECK_THAT(error({{"targets", {{{"site", "a"}}}}}),
             Catch::StartsWith("targets[0].host: required"));
  CHECK_THAT(error({{"targets", {{{"host", "a"}, {"port", 1}}}}}),
             Catch::StartsWith("targets[0].port: unknown key (did you mean \"host\"?)"));
  CHECK_THAT(error({{"targets", {{{"host", "a"}, {"site", "no site"}}}}}),
             Catch::StartsWith("targets[0].site: \"no site\": may only contain"));
  CHECK_THAT(error({{"targets", {"a b"}}}),
             Catch::StartsWith("targets[0].host: \"a b\" is not a host"));
  CHECK_THAT(error({{"targets", {"a", "a"}}}),
             Catch::StartsWith("targets[1].host: \"a\" is listed twice"));
  CHECK_THAT(error({{"targets", {"a"}}, {"count", 0}}),
             Catch::StartsWith("count: 0: must be in 1..100"));
  CHECK_THAT(error({{"targets", {"a"}}, {"count", 2.5}}),
             Catch::StartsWith("count: expected an integer 1..100"));
  CHECK_THAT(error({{"targets", {"a"}}, {"rtt_warn", "2s"}, {"rtt_crit", "1s"}}),
             Catch::StartsWith("rtt_warn: 2s is above rtt_crit (1s)"));
  CHECK_THAT(error({{"targets", {"a"}}, {"rtt_warn", 200}}),
             Catch::StartsWith("rtt_warn: expected a duration"));
  CHECK_THAT(error({{"targets", {"a"}}, {"loss_warn", 70}}),
             Catch::StartsWith("loss_warn: 70% is above loss_crit (60%)"));
  CHECK_THAT(error({{"targets", {"a"}}, {"icmp_socket", "udp"}}),
             Catch::StartsWith("icmp_socket: \"udp\": must be"));
  json many = json::array();
  for (int i = 0; i < 1000; ++i) many.push_back("h" + std::to_string(i));
  CHECK_THAT(error({{"targets", many}, {"count", 100}}), Catch::StartsWith("count: 100 requests"));
  CHECK_THAT(error({{"targets", {"a"}}, {"colour", 1}}), Catch::StartsWith("colour: unknown"));
}

TEST_CASE("Network checks: a misspelt parameter is refused, the right one suggested", "[ping]") {
  testing::check_misspellings({
      {"net/ping", "rtt_wran", "rtt_warn"},
      {"net/http", "follow_redirect", "follow_redirects"},
      {"net/tls", "min_versoin", "min_version"},
      {"net/dns", "sever", "server"},
  });
}

}  // namespace
}  // namespace vigie::plugins::net
