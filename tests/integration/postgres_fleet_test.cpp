// Three vigie-collector processes on one PostgreSQL database under faults, as a fleet
// runs them behind DNS: simulated agents (the fault soak's load, bench/ingest/soak.hpp)
// spread over the three and moving to the next after a failure, some reports
// acknowledged sent again (an answer lost), and real agents, one per collector. One
// collector is SIGKILLed every 30 s (in turn) and started again; PostgreSQL is
// restarted once (fast shutdown). At the end: every acknowledged result is stored once
// and nothing else is; the final check states are those a single SQLite collector
// computes from the same reports; the alert outbox holds one row per hard transition
// that notifies (the events say which); the server logged no deadlock.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "bench/ingest/loopback_client.hpp"
#include "bench/ingest/soak.hpp"
#include "bench/ingest/workload.hpp"
#include "collector/postgres/pq.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::Collector;
using testing::run;

constexpr int kCollectors = 3;
constexpr int kSimulatedAgents = 30;
constexpr int kChecks = 10;  // each report holds one result of each
constexpr auto kLoad = 140s;
constexpr auto kDrain = 40s;
constexpr auto kKillEvery = 30s;
constexpr auto kServerRestartAt = 70s;  // between two kills
constexpr const char* kSite = "fleet-site";

// A real agent reporting to one collector: a check that is always OK, one always
// CRITICAL, and one whose status (0 or 2) the test writes in a file, for hard
// transitions of the real agent too.
std::string agent_config(const std::string& id, const std::string& url, const std::string& ca,
                         const std::filesystem::path& token,
                         const std::filesystem::path& status_file) {
  const std::string plugins = "/usr/lib/nagios/plugins";
  json config = {
      {"agent", {{"id", id}, {"site", kSite}}},
      {"collector",
       {{"url", url}, {"ca_file", ca}, {"token_file", token.string()}, {"send_interval", "1s"}}},
      // Results every 5 s: a collector away for a few seconds leaves them fresh (stale
      // after 3 intervals), and the switch's 20 s are 4 results, hard after 3.
      {"defaults", {{"interval", "5s"}, {"timeout", "5s"}}},
      {"checks",
       {{{"name", "dummy-ok"},
         {"type", "external"},
         {"command", {plugins + "/check_dummy", "0", "all fine"}}},
        {{"name", "dummy-critical"},
         {"type", "external"},
         {"command", {plugins + "/check_dummy", "2", "disk on fire"}}},
        {{"name", "switch"},
         {"type", "external"},
         {"command",
          {"/bin/sh", "-c",
           "s=$(cat " + status_file.string() + "); echo \"switch $s\"; exit $s"}}}}}};
  return config.dump(2);
}

// Checks as a viewer sees them, by (agent, check), those of agents named bench-*
// only, without the collector's own heartbeat.
std::map<std::pair<std::string, std::string>, json> simulated_checks(Collector& c,
                                                                     const std::string& viewer) {
  const auto reply = c.get("/api/v1/checks", viewer);
  INFO(reply.status << " " << reply.body.substr(0, 300) << reply.error);
  REQUIRE(reply.status == 200);
  std::map<std::pair<std::string, std::string>, json> out;
  json body = json::parse(reply.body);
  for (auto& row : body.at("checks")) {
    const std::string agent = row.at("agent");
    const std::string check = row.at("check");
    if (agent.rfind("bench-", 0) != 0 || check == "vigie/heartbeat") continue;
    out[{agent, check}] = std::move(row);
  }
  return out;
}

// One alert as the outbox should hold it.
using AlertId = std::tuple<std::string, std::string, std::string, int, std::int64_t>;
std::string describe(const AlertId& a) {
  return std::get<0>(a) + " " + std::get<1>(a) + " " + std::get<2>(a) + " state " +
         std::to_string(std::get<3>(a)) + " ts " + std::to_string(std::get<4>(a));
}

TEST_CASE("PostgreSQL: three collectors, SIGKILLs and a server restart, nothing lost or doubled",
          "[.][postgres-fleet]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  REQUIRE(bench::ingest::init_http().is_ok());
  const std::size_t server_log_from = server.log().size();

  // One CA for the three (make-certs keeps files that exist): agents trust one.
  testing::TempDir dirs[kCollectors];
  REQUIRE(run({std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs", (dirs[0] / "tls").string()})
              .exit_code == 0);
  for (int i = 1; i < kCollectors; ++i) std::filesystem::copy(dirs[0] / "tls", dirs[i] / "tls");

  testing::TempDir hook_dir;
  testing::WebhookReceiver hook(hook_dir.path());
  const json alerts = {
      {"channels",
       {{{"name", "desk"}, {"type", "webhook"}, {"url", hook.url("/hook")}, {"retry_wait", "1s"}}}},
      {"rules", {{{"channels", {"desk"}}}}}};
  const auto alerts_file = hook_dir.write("alerts.json", alerts.dump(2));
  const std::vector<std::string> extra = {
      "--alerts", alerts_file.string(), "--lease", "1s", "--agent-timeout",
      "1h",       "--enroll-rate",      "0"};
  std::vector<std::unique_ptr<Collector>> collectors;
  for (auto& dir : dirs) collectors.push_back(std::make_unique<Collector>(dir, extra, conninfo));
  // The reference: one collector on SQLite, fed the same reports afterwards.
  testing::TempDir reference_dir;
  Collector reference(reference_dir, {"--agent-timeout", "1h", "--enroll-rate", "0"});
  const std::string viewer = collectors[0]->token("viewer");
  const std::string reference_viewer = reference.token("viewer");
  const auto logs = [&] {
    std::string text;
    for (std::size_t i = 0; i < collectors.size(); ++i)
      text += "collector " + std::to_string(i) + ":\n" + collectors[i]->child().log();
    return text;
  };

  // Simulated agents, each enrolled through the collector it starts on, and on the
  // reference.
  std::vector<bench::ingest::Credential> credentials;
  std::map<std::string, std::string> reference_tokens;
  for (int i = 0; i < kSimulatedAgents; ++i) {
    const std::string id = bench::ingest::agent_id(i);
    credentials.push_back({id, collectors[i % kCollectors]->enroll(id, kSite)});
    reference_tokens[id] = reference.enroll(id, kSite);
  }

  // Real agents, one per collector (an agent knows one URL).
  std::vector<std::unique_ptr<testing::Child>> agents;
  std::vector<std::filesystem::path> switches;
  testing::TempDir agent_dirs[kCollectors];
  for (int i = 0; i < kCollectors; ++i) {
    auto& dir = agent_dirs[i];
    const std::string id = "fleet-agent-" + std::to_string(i);
    const auto token = dir / "agent.token";
    switches.push_back(dir.write("status", "0\n"));
    const auto config = dir.write(
        "agent.json",
        agent_config(id, collectors[i]->url(), collectors[i]->ca(), token, switches.back()));
    auto enrolled = run({VIGIE_AGENT_BIN, "enroll", "--config", config.string(), "--enroll-token",
                         collectors[i]->enroll_token(kSite)});
    INFO(enrolled.err);
    REQUIRE(enrolled.exit_code == 0);
    agents.push_back(std::make_unique<testing::Child>(
        std::vector<std::string>{VIGIE_AGENT_BIN, "run", "--config", config.string(), "--state-dir",
                                 dir.path().string()},
        dir / "agent.log"));
  }

  // The load runs on a thread of its own (no test assertion there); the faults on this one.
  std::mutex acked_mutex;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> acked;
  bench::ingest::SoakOptions options;
  for (auto& c : collectors) options.base_urls.push_back(c->url());
  options.ca_file = collectors[0]->ca();
  options.site = kSite;
  options.results_per_report = kChecks;
  options.connections = 6;
  options.duration = kLoad;
  options.interval = 1s;
  options.timeout = 10s;
  options.drain = kDrain;
  options.viewer_token = viewer;
  options.duplicate_share = 0.05;
  options.on_acknowledged = [&](const std::string& agent, std::uint64_t seq,
                                const std::string& body) {
    std::lock_guard lock(acked_mutex);
    acked[agent].emplace_back(seq, body);
  };
  const bench::ingest::Catalogue catalogue(kChecks, 1);
  std::atomic<int> soak_verdict{-1};
  const auto started = Clock::now();
  std::thread load(
      [&] { soak_verdict = bench::ingest::run_soak(options, catalogue, credentials); });

  // Faults: a collector SIGKILLed every 30 s, in turn, started again 2 s later; the
  // server restarted (fast shutdown) once, between two kills; the real agents' switch
  // flipped every 20 s.
  int kills = 0;
  bool server_restarted = false;
  int flips = 0;
  for (int step = 0; step < 400 && Clock::now() < started + kLoad; ++step) {
    const auto now = Clock::now() - started;
    if (now >= (kills + 1) * kKillEvery - 5s && now < kLoad - 10s) {
      auto& victim = *collectors[static_cast<std::size_t>(kills % kCollectors)];
      victim.stop(true);
      std::this_thread::sleep_for(2s);
      victim.start();
      ++kills;
    }
    if (!server_restarted && now >= kServerRestartAt) {
      const bool restarted = server.restart();
      server_restarted = true;
      INFO(server.why());
      CHECK(restarted);
    }
    if (now >= (flips + 1) * 20s) {
      ++flips;
      for (const auto& file : switches) {
        std::ofstream out(file, std::ios::trunc);
        out << (flips % 2 ? "2" : "0") << "\n";
      }
    }
    std::this_thread::sleep_for(500ms);
  }
  load.join();
  for (auto& agent : agents) agent->stop(SIGTERM);
  CHECK(kills == 4);
  CHECK(server_restarted);

  // The soak's own verdict: every acknowledged result stored once through the API,
  // nothing stored that was never sent, nothing held at the end, every report sent
  // again answered "duplicate".
  if (soak_verdict != 0) FAIL("the soak failed (its summary is above)\n" << logs());

  // In the database: one row of `batches` per acknowledged report of a simulated
  // agent, none other.
  auto conn = collector::pq::Conn::connect(conninfo);
  REQUIRE(conn.is_ok());
  std::set<std::pair<std::string, std::uint64_t>> expected_batches;
  std::size_t reports = 0;
  for (const auto& [agent, list] : acked) {
    for (const auto& [seq, body] : list) expected_batches.insert({agent, seq});
    reports += list.size();
  }
  CHECK(expected_batches.size() == reports);  // each acknowledged once by the soak
  auto batch_rows = (*conn)->query(
      "SELECT a.name, b.seq FROM batches b JOIN agents a ON a.id = b.agent_id"
      " WHERE a.name LIKE 'bench-%'");
  REQUIRE(batch_rows.is_ok());
  std::set<std::pair<std::string, std::uint64_t>> stored_batches;
  for (int r = 0; r < batch_rows->size(); ++r)
    stored_batches.insert(
        {batch_rows->text(r, 0), static_cast<std::uint64_t>(batch_rows->int64(r, 1))});
  CHECK(batch_rows->size() == static_cast<int>(stored_batches.size()));
  CHECK(stored_batches == expected_batches);
  // The real agents reported through the faults.
  for (int i = 0; i < kCollectors; ++i) {
    const std::string id = "fleet-agent-" + std::to_string(i);
    auto n = server.psql(db,
                         "SELECT count(*) FROM batches b JOIN agents a ON a.id = b.agent_id"
                         " WHERE a.name = '" +
                             id + "'");
    REQUIRE(n.has_value());
    INFO(id << " log:\n" << agents[static_cast<std::size_t>(i)]->log());
    CHECK(std::stoi(*n) >= 15);  // a report every 5 s, less the faults
    CHECK_THAT(agents[static_cast<std::size_t>(i)]->log(),
               !Catch::Contains("the collector refuse", Catch::CaseSensitive::No));
  }

  // The reference fed the same reports, each agent's in seq order, each once.
  {
    std::vector<std::pair<std::string, std::vector<std::pair<std::uint64_t, std::string>>*>> work;
    for (auto& [agent, list] : acked) {
      std::sort(list.begin(), list.end());
      work.emplace_back(agent, &list);
    }
    std::atomic<std::size_t> next{0};
    std::atomic<int> refused{0};
    std::string first_refusal;
    std::mutex refusal_mutex;
    std::vector<std::thread> feeders;
    for (int t = 0; t < 3; ++t) {
      feeders.emplace_back([&] {
        auto client = bench::ingest::LoopbackClient::create(reference.ca(), 30s);
        if (!client) {
          ++refused;
          return;
        }
        for (std::size_t k = next++; k < work.size(); k = next++) {
          const bench::ingest::Headers headers(
              {"Authorization: Bearer " + reference_tokens[work[k].first],
               "Content-Type: application/json"});
          for (const auto& [seq, body] : *work[k].second) {
            const auto reply = client->post(reference.url() + "/api/v1/reports", headers, body);
            if (reply.status != 200 || reply.body.find("\"stored\"") == std::string::npos) {
              std::lock_guard lock(refusal_mutex);
              if (refused++ == 0)
                first_refusal = work[k].first + " " + std::to_string(seq) + ": " +
                                std::to_string(reply.status) + " " + reply.body + reply.error;
            }
          }
        }
      });
    }
    for (auto& t : feeders) t.join();
    INFO(first_refusal);
    REQUIRE(refused == 0);
  }
  // Final states: the same on PostgreSQL (through any collector) as on the reference,
  // but for when each result was received.
  auto fleet_states = simulated_checks(*collectors[1], viewer);
  auto reference_states = simulated_checks(reference, reference_viewer);
  CHECK(fleet_states.size() == static_cast<std::size_t>(kSimulatedAgents * kChecks));
  CHECK(reference_states.size() == fleet_states.size());
  int differ = 0;
  for (auto& [key, state] : fleet_states) {
    auto it = reference_states.find(key);
    if (it == reference_states.end()) {
      if (differ++ < 5) FAIL_CHECK("not on the reference: " << key.first << " " << key.second);
      continue;
    }
    state.erase("received");
    it->second.erase("received");
    if (state != it->second && differ++ < 5)
      FAIL_CHECK("states differ for " << key.first << " " << key.second << ":\nPostgreSQL: "
                                      << state.dump() << "\nreference:  " << it->second.dump());
  }
  CHECK(differ == 0);

  // The outbox: one row per hard transition that notifies, as the events say. A
  // problem notifies when its event does (notify = 1); its recovery, when the problem
  // was notified and the recovery's event notifies. A real agent's check may go stale
  // while its collector is away (a 503 asks for 5 to 15 s): a stale check alerts as a
  // problem, and its return to OK ("fresh") is the recovery of that alert only.
  auto events = (*conn)->query(
      "SELECT agent, check_id, kind, to_state, state_type, notify, ts_ms FROM events"
      " WHERE kind IN ('state', 'flapping_stop', 'stale', 'fresh', 'agent_lost')"
      " ORDER BY id");
  REQUIRE(events.is_ok());
  std::multiset<AlertId> expected_alerts;
  std::map<std::pair<std::string, std::string>, bool> open;  // true: opened by "stale"
  int hard_transitions = 0;
  int stale_alerts = 0;
  std::map<std::string, int> other_kinds;
  for (int r = 0; r < events->size(); ++r) {
    const std::pair<std::string, std::string> key{events->text(r, 0), events->text(r, 1)};
    const std::string kind = events->text(r, 2);
    const int to = static_cast<int>(events->int64(r, 3));
    const bool hard = events->int64(r, 4) == 1;
    const bool notify = events->int64(r, 5) == 1;
    const std::int64_t ts = events->int64(r, 6);
    const auto recover = [&] {
      if (open.erase(key) > 0 && notify)
        expected_alerts.insert({key.first, key.second, "recovery", 0, ts});
    };
    if (kind == "state") {
      if (!hard) continue;
      ++hard_transitions;
      if (to == 0) {
        recover();
      } else if (notify) {
        open[key] = false;
        expected_alerts.insert({key.first, key.second, "problem", to, ts});
      }
    } else if (kind == "flapping_stop") {
      if (!notify) continue;
      open[key] = false;
      expected_alerts.insert({key.first, key.second, "flapping over", to, ts});
    } else if (kind == "stale") {
      if (!notify) continue;
      ++stale_alerts;
      open[key] = true;
      expected_alerts.insert({key.first, key.second, "problem", to, ts});
    } else if (kind == "fresh") {
      if (const auto it = open.find(key); to == 0 && it != open.end() && it->second) recover();
    } else {
      ++other_kinds[kind];  // an agent lost: not in this run (--agent-timeout 1h)
    }
  }
  for (const auto& [kind, n] : other_kinds) FAIL_CHECK(n << " events of kind " << kind);
  auto outbox = (*conn)->query("SELECT alert FROM outbox ORDER BY id");
  REQUIRE(outbox.is_ok());
  std::multiset<AlertId> outbox_alerts;
  for (int r = 0; r < outbox->size(); ++r) {
    const json a = json::parse(outbox->text(r, 0));
    outbox_alerts.insert({a.at("agent"), a.at("check"), a.at("kind"), a.at("state").get<int>(),
                          a.at("ts").get<std::int64_t>()});
  }
  std::printf(
      "fleet: %d hard transitions, %d checks notified stale, %zu outbox rows expected, "
      "%zu found\n",
      hard_transitions, stale_alerts, expected_alerts.size(), outbox_alerts.size());
  CHECK(hard_transitions >= 20);
  int missing = 0;
  int extra_rows = 0;
  for (const auto& a : expected_alerts) {
    if (outbox_alerts.count(a) < expected_alerts.count(a) && missing++ < 10)
      FAIL_CHECK("no outbox row for " << describe(a));
  }
  for (const auto& a : outbox_alerts) {
    if (outbox_alerts.count(a) > expected_alerts.count(a) && extra_rows++ < 10)
      FAIL_CHECK("an outbox row too many: " << describe(a));
  }
  CHECK(missing == 0);
  CHECK(extra_rows == 0);
  CHECK(outbox_alerts == expected_alerts);

  // Every row delivered in the end, those a killed collector had claimed too (once
  // their claim's lease is over), alone or in a digest: the webhook answers 200 to all.
  const auto undelivered = [&] {
    auto n = server.psql(
        db, "SELECT count(*) FROM outbox WHERE done_ms = 0 OR status NOT IN ('sent', 'digest')");
    return n ? std::stoi(*n) : -1;
  };
  CHECK(testing::eventually([&] { return undelivered() == 0; }, 60s));
  CHECK_FALSE(hook.requests().empty());

  // No deadlock, ever.
  const std::string server_log = server.log().substr(server_log_from);
  CHECK_THAT(server_log, !Catch::Contains("deadlock detected") && !Catch::Contains("40P01"));

  for (auto& c : collectors) c->stop(false);
}

}  // namespace
}  // namespace vigie
