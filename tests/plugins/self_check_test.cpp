#include "plugins/agent/self_check.hpp"

#include <catch2/catch.hpp>

#include <chrono>

#include "tests/plugins/check_test_util.hpp"

namespace vigie::plugins::agent {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

constexpr std::int64_t kNow = 1'800'000'000'000;

double metric(const Outcome& out, const std::string& name) {
  for (const auto& m : out.metrics) {
    if (m.label == name && m.value) return *m.value;
  }
  FAIL("no metric " << name);
  return 0;
}

struct Fixture {
  AgentHealth health;
  std::int64_t now = kNow;
  std::unique_ptr<Check> check = make_self_check([this] { return health; });
  Fixture() {
    Environment env;
    env.now = [this] {
      return std::chrono::system_clock::time_point(std::chrono::milliseconds(now));
    };
    check->attach(env);
    REQUIRE(check->configure(nlohmann::json::object()).is_ok());
    health.started_ms = kNow - 3'600'000;
  }
  Outcome run() { return check->run(testing::context(5s)); }
};

TEST_CASE("agent/self: OK with the figures as metrics", "[self]") {
  Fixture f;
  f.health.spool_depth = 12;
  f.health.spool_oldest_ms = kNow - 4000;
  f.health.last_sent_ms = kNow - 2000;
  f.health.check_durations_ms = {5,  1,  9,  3,  120, 7,  2,  8,  6,  4,
                                 10, 11, 12, 13, 14,  15, 16, 17, 18, 19};
  const Outcome out = f.run();
  CHECK(out.status == State::kOk);
  CHECK_THAT(out.summary, StartsWith(std::string("vigie-agent ") + VIGIE_VERSION + ": "));
  CHECK_THAT(out.summary, Contains("12 results waiting, oldest 4s old"));
  CHECK(metric(out, "spool_depth") == 12);
  CHECK(metric(out, "spool_oldest_age") == 4);
  CHECK(metric(out, "last_send_age") == 2);
  CHECK(metric(out, "spool_dropped") == 0);
  CHECK(metric(out, "check_runs") == 20);
  CHECK(metric(out, "check_latency_max") == 120);
  CHECK(metric(out, "check_latency_p95") == 19);  // the 19th of 20 sorted
  CHECK(metric(out, "rss") > 100'000);            // this test program's own memory
  // Every metric it reports is declared for the docs.
  for (const auto& m : out.metrics) {
    bool declared = false;
    for (const auto& spec : kSelfMetrics) declared |= spec.name == m.label && spec.unit == m.unit;
    INFO(m.label);
    CHECK(declared);
  }
}

TEST_CASE("agent/self: an old backlog is WARNING after 15 min and CRITICAL after 1 h", "[self]") {
  Fixture f;
  f.health.spool_depth = 900;
  f.health.spool_oldest_ms = kNow - 16 * 60'000;
  Outcome out = f.run();
  CHECK(out.status == State::kWarning);
  CHECK_THAT(out.summary, Contains("oldest unsent result 16m old"));
  f.health.spool_oldest_ms = kNow - 61 * 60'000;
  out = f.run();
  CHECK(out.status == State::kCritical);
  CHECK_THAT(out.summary, Contains("oldest unsent result 1h1m old"));
  CHECK(metric(out, "last_send_age") == 3600);  // nothing since the start, an hour ago
}

TEST_CASE("agent/self: new drops are WARNING for an hour, a rejected token CRITICAL", "[self]") {
  Fixture f;
  f.health.spool_dropped = 4;  // from before this start: noted, not alarmed
  CHECK(f.run().status == State::kOk);
  f.health.spool_dropped = 9;
  f.now += 60'000;
  Outcome out = f.run();
  CHECK(out.status == State::kWarning);
  CHECK_THAT(out.summary, Contains("9 results dropped by the spool"));
  CHECK(metric(out, "spool_dropped") == 9);
  f.now += 59 * 60'000;
  CHECK(f.run().status == State::kWarning);
  f.now += 2 * 60'000;
  CHECK(f.run().status == State::kOk);

  f.health.sending_halted = true;
  out = f.run();
  CHECK(out.status == State::kCritical);
  CHECK_THAT(out.summary, Contains("rejects the agent's token"));
}

TEST_CASE("agent/self: a newly quarantined result is WARNING for an hour", "[self]") {
  Fixture f;
  f.health.spool_quarantined = 2;  // from before this start: noted, not alarmed
  CHECK(f.run().status == State::kOk);
  f.health.spool_quarantined = 3;
  f.now += 60'000;
  Outcome out = f.run();
  CHECK(out.status == State::kWarning);
  CHECK_THAT(out.summary, Contains("3 results refused by the collector and quarantined"));
  CHECK(metric(out, "spool_quarantined") == 3);
  f.now += 61 * 60'000;
  CHECK(f.run().status == State::kOk);
}

TEST_CASE("agent/self: without an agent behind it, memory and version only", "[self]") {
  auto check = make_self_check();
  REQUIRE(check->configure(nlohmann::json::object()).is_ok());
  const Outcome out = check->run(testing::context(5s));
  CHECK(out.status == State::kOk);
  CHECK_THAT(out.summary, Contains("only under vigie-agent run"));
  REQUIRE(out.metrics.size() == 1);
  CHECK(out.metrics[0].label == "rss");
}

TEST_CASE("agent/self: percentile by nearest rank", "[self]") {
  std::vector<std::int64_t> none;
  CHECK(percentile(none, 95) == 0);
  std::vector<std::int64_t> one = {7};
  CHECK(percentile(one, 95) == 7);
  std::vector<std::int64_t> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  CHECK(percentile(hundred, 95) == 95);
  CHECK(percentile(hundred, 100) == 100);
  CHECK(percentile(hundred, 0) == 1);
}

}  // namespace
}  // namespace vigie::plugins::agent

namespace vigie::plugins::agent {
namespace {

TEST_CASE("agent/self: the SNMP traps accepted and dropped, and a receiver that does not listen",
          "[self]") {
  Fixture f;
  CHECK_FALSE(f.run().details.find("SNMP traps") != std::string::npos);  // no traps block
  f.health.traps = AgentHealth::Traps{.accepted = 57, .dropped = 9943, .listening = true};
  Outcome out = f.run();
  CHECK(out.status == State::kOk);  // a storm held to its rate is no fault of the agent's
  CHECK(metric(out, "traps_accepted") == 57);
  CHECK(metric(out, "traps_dropped") == 9943);
  CHECK_THAT(out.details, Contains("SNMP traps: 57 accepted, 9943 dropped, listening"));
  for (const auto& m : out.metrics) {
    bool declared = false;
    for (const auto& spec : kSelfMetrics) declared |= spec.name == m.label && spec.unit == m.unit;
    INFO(m.label);
    CHECK(declared);
  }
  // Not listening: the agent's first minute is its start; after it, a WARNING.
  f.health.traps->listening = false;
  f.health.started_ms = kNow - 30'000;
  CHECK(f.run().status == State::kOk);
  f.health.started_ms = kNow - 120'000;
  out = f.run();
  CHECK(out.status == State::kWarning);
  CHECK_THAT(out.summary, Contains("the SNMP trap receiver is not listening"));
}

}  // namespace
}  // namespace vigie::plugins::agent
