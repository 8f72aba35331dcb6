// Three vigie-collector processes on one PostgreSQL database: exactly one leads (holds
// vigie's advisory lock, pg_locks sampled every 100 ms by the test: never two
// holders, never none for longer than twice the lease); a stale check makes one
// event, from the leader, not one per collector; the leader SIGKILLed, another
// leads within twice the lease; the leader's lock connection terminated by the
// server, it stops leading at once (its vigie_leader metric) and someone leads again.

#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "collector/postgres/pq.hpp"
#include "common/time.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::Collector;
using testing::run;

constexpr auto kLease = 1000ms;

// The sessions that hold vigie's lead lock (collector/postgres/lease.hpp) in this
// database.
constexpr const char* kHolders =
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0"
    " AND objid = 7612003 AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

// Samples the lock's holders every 100 ms on a connection of its own.
class LockSampler {
 public:
  explicit LockSampler(const std::string& conninfo) {
    auto conn = collector::pq::Conn::connect(conninfo);
    REQUIRE(conn.is_ok());
    conn_ = std::move(*conn);
    thread_ = std::thread([this] { run(); });
  }
  ~LockSampler() { stop(); }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int most_holders() const { return most_; }
  int failed_samples() const { return failed_; }
  // The longest time without a holder, from the first sample on.
  Clock::duration longest_gap() const {
    std::lock_guard lock(mu_);
    auto gap = longest_;
    if (none_since_) gap = std::max(gap, Clock::now() - *none_since_);
    return gap;
  }
  // The holder's backend pid now (0: none).
  int holder() const { return holder_; }

 private:
  void run() {
    while (!stopping_) {
      auto rows = conn_->query(kHolders);
      if (!rows) {
        ++failed_;
      } else {
        const int n = rows->size();
        most_ = std::max(most_.load(), n);
        holder_ = n > 0 ? static_cast<int>(rows->int64(0, 0)) : 0;
        std::lock_guard lock(mu_);
        const auto now = Clock::now();
        if (n == 0 && !none_since_) none_since_ = now;
        if (n > 0 && none_since_) {
          longest_ = std::max(longest_, now - *none_since_);
          none_since_.reset();
        }
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  std::unique_ptr<collector::pq::Conn> conn_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> most_{0};
  std::atomic<int> failed_{0};
  std::atomic<int> holder_{0};
  mutable std::mutex mu_;
  std::optional<Clock::time_point> none_since_;
  Clock::duration longest_{};
  std::thread thread_;
};

// vigie_leader from a collector's /metrics; nullopt when it does not answer.
std::optional<int> leader_metric(Collector& c, const std::string& token) {
  const auto reply = c.get("/metrics", token);
  if (reply.status != 200) return std::nullopt;
  const auto at = reply.body.find("\nvigie_leader ");
  if (at == std::string::npos) return std::nullopt;
  return std::stoi(reply.body.substr(at + 14));
}

json report(const std::string& agent, std::uint64_t seq) {
  return {{"protocol", 1},
          {"agent", {{"id", agent}, {"site", "lead-site"}}},
          {"seq", seq},
          {"sent", wall_ms()},
          {"results",
           {{{"name", "load"},
             {"check", "system/load"},
             {"status", 0},
             {"summary", "load 0.1"},
             {"ts", wall_ms()},
             {"duration_ms", 1},
             {"interval_s", 1},
             {"max_attempts", 1}}}}};
}

TEST_CASE("PostgreSQL: one leader among three collectors, taken over when it dies or is cut off",
          "[postgres-lead]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;

  LockSampler sampler(conninfo);
  testing::TempDir dirs[3];
  std::vector<std::unique_ptr<Collector>> collectors;
  for (auto& dir : dirs)
    collectors.push_back(std::make_unique<Collector>(
        dir, std::vector<std::string>{"--lease", "1s", "--agent-timeout", "1h", "--verbose"},
        conninfo));
  const std::string viewer = collectors[0]->token("viewer");
  const auto logs = [&] {
    std::string text;
    for (std::size_t i = 0; i < collectors.size(); ++i)
      if (collectors[i])
        text += "collector " + std::to_string(i) + ":\n" + collectors[i]->child().log();
    return text;
  };
  // The index of the one collector whose vigie_leader is 1, when exactly one's is.
  const auto leader = [&]() -> std::optional<std::size_t> {
    std::optional<std::size_t> found;
    int leaders = 0;
    for (std::size_t i = 0; i < collectors.size(); ++i) {
      if (!collectors[i]) continue;
      if (leader_metric(*collectors[i], viewer) == 1) {
        ++leaders;
        found = i;
      }
    }
    return leaders == 1 ? found : std::nullopt;
  };
  // Fails the test with every collector's log.
  const auto require = [&](bool ok, const char* what) {
    if (!ok) FAIL(what << "\n" << logs());
  };

  // Exactly one leads, and its metric says so.
  require(testing::eventually([&] { return leader().has_value(); }, 2 * kLease),
          "no single leader");
  std::this_thread::sleep_for(2 * kLease);
  const std::size_t first = *leader();
  CHECK(sampler.holder() != 0);

  // Checks gone stale: one event each, made by the leader, though every collector
  // holds them (their reports came through the two others, at different times).
  std::vector<std::size_t> followers;
  for (std::size_t i = 0; i < 3; ++i)
    if (i != first) followers.push_back(i);
  constexpr int kAgents = 3;
  for (int a = 0; a < kAgents; ++a) {
    const std::string agent = "lead-agent-" + std::to_string(a);
    const std::string agent_token = collectors[0]->enroll(agent, "lead-site");
    for (std::uint64_t seq = 1; seq <= 2; ++seq) {
      auto& through = *collectors[followers[(a + seq) % 2]];
      const auto r = through.post("/api/v1/reports", report(agent, seq).dump(), agent_token);
      INFO(r.status << " " << r.body);
      REQUIRE(r.status / 100 == 2);
      std::this_thread::sleep_for(400ms);
    }
  }
  const auto stale_events = [&] {
    auto n = server.psql(db, "SELECT count(*) FROM events WHERE kind = 'stale'");
    return n ? std::stoi(*n) : -1;
  };
  require(testing::eventually([&] { return stale_events() >= kAgents; }, 10s), "no stale events");
  std::this_thread::sleep_for(3 * kLease);  // time for more, were they made
  CHECK(stale_events() == kAgents);
  CHECK(server.psql(db, "SELECT count(DISTINCT agent) FROM events WHERE kind = 'stale'") ==
        std::to_string(kAgents));
  // ...and no collector tried to make one of its own (its transaction would fail on
  // the event's id, the state reloaded); the sweeps that made them are the leader's.
  CHECK_THAT(logs(), !Catch::Contains("not stored") && !Catch::Contains("reloaded"));
  CHECK_THAT(collectors[first]->child().log(), Catch::Contains("sweep (this collector leads)"));
  for (const std::size_t i : followers)
    CHECK_THAT(collectors[i]->child().log(), !Catch::Contains("sweep"));
  // Every collector shows it stale.
  for (auto& c : collectors) {
    CHECK(testing::eventually(
        [&] {
          const auto reply = c->get("/api/v1/checks?agent=lead-agent-0", viewer);
          return reply.status == 200 && reply.body.find("\"stale\":true") != std::string::npos;
        },
        3s));
  }

  // The leader SIGKILLed: another leads within twice the lease.
  const int killed_session = sampler.holder();
  const auto killed_at = Clock::now();
  collectors[first]->stop(true);
  collectors[first].reset();
  require(
      testing::eventually(
          [&] { return sampler.holder() != 0 && sampler.holder() != killed_session; }, 4 * kLease),
      "no new holder after the leader was killed");
  CHECK(Clock::now() - killed_at <= 2 * kLease + 200ms);  // the sampler's period
  require(testing::eventually([&] { return leader().has_value(); }, 2 * kLease),
          "no single leader after the kill");
  const std::size_t second = *leader();

  // Its lock connection terminated by the server: it stops leading at once (its
  // metric), and a collector leads again within twice the lease.
  auto terminated = server.psql(
      db, "SELECT count(pg_terminate_backend(pid)) FROM (" + std::string(kHolders) + ") h");
  REQUIRE(terminated == "1");
  const auto cut_at = Clock::now();
  CHECK(
      testing::eventually([&] { return leader_metric(*collectors[second], viewer) == 0; }, kLease));
  CHECK(Clock::now() - cut_at < kLease);
  require(testing::eventually([&] { return leader().has_value(); }, 3 * kLease),
          "no single leader after the termination");
  CHECK(Clock::now() - cut_at <= 2 * kLease + 200ms);
  CHECK_THAT(collectors[second]->child().log(), Catch::Contains("no longer leads"));

  sampler.stop();
  CHECK(sampler.failed_samples() == 0);
  CHECK(sampler.most_holders() == 1);
  CHECK(sampler.longest_gap() <= 2 * kLease);
  for (auto& c : collectors)
    if (c) c->stop(false);
}

}  // namespace
}  // namespace vigie
