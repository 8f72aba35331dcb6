// Reminders across vigie-collector processes sharing one PostgreSQL database, the
// collector delivering a message SIGKILLed while the webhook has not answered: the lead
// plans, another collector claims the message (a lease on its outbox row) and dies in
// the middle of the request. Nothing is lost and nothing doubled: the message goes out
// once the lease runs out, sent by a collector still alive, and the reminders go on
// after it at their interval, one at a time, none before the message they follow.

#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/time.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::run;

// The channel's request timeout; a claim of its rows lasts twice as long
// (collector/notifier.cpp), after which a dead collector's rows are due again.
constexpr auto kTimeout = 2s;
constexpr std::int64_t kLeaseMs = 2 * 2000;
constexpr std::int64_t kRenotifyMs = 2000;
constexpr const char* kSite = "remind-site";

json failing_report(const std::string& agent) {
  return {{"protocol", 1},
          {"agent", {{"id", agent}, {"site", kSite}}},
          {"seq", 1},
          {"sent", wall_ms()},
          {"results",
           {{{"name", "backup"},
             {"check", "backup/restic"},
             {"status", 2},
             {"summary", "last snapshot 3 days ago"},
             {"ts", wall_ms()},
             {"duration_ms", 1},
             {"interval_s", 3600},
             {"max_attempts", 1}}}}};
}

// Each collector's alerts file: the same channel ("desk", the same rows of the outbox),
// sent to a path of its own, so the receiver tells which collector sent a request.
std::filesystem::path alerts_file(const testing::TempDir& dir, const testing::WebhookReceiver& hook,
                                  const std::string& path) {
  const json alerts = {{"channels",
                        {{{"name", "desk"},
                          {"type", "webhook"},
                          {"url", hook.url(path)},
                          {"timeout", std::to_string(kTimeout.count()) + "s"},
                          {"retry_wait", "1s"}}}},
                       {"rules", {{{"channels", {"desk"}}}}},
                       {"storm", {{"hold", "1s"}}},
                       {"renotify", std::to_string(kRenotifyMs / 1000) + "s"}};
  return dir.write("alerts.json", alerts.dump(2));
}

// vigie_leader from a collector's /metrics; nullopt when it does not answer.
std::optional<int> leader_metric(Collector& c, const std::string& token) {
  const auto reply = c.get("/metrics", token);
  if (reply.status != 200) return std::nullopt;
  const auto at = reply.body.find("\nvigie_leader ");
  if (at == std::string::npos) return std::nullopt;
  return std::stoi(reply.body.substr(at + 14));
}

// SIGSTOPs a collector for a scope: it keeps its connections (and the lead) but claims
// nothing meanwhile.
class Frozen {
 public:
  explicit Frozen(Collector& c) : pid_(c.child().pid()) { REQUIRE(::kill(pid_, SIGSTOP) == 0); }
  ~Frozen() { thaw(); }
  void thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
    pid_ = 0;
  }

 private:
  pid_t pid_;
};

TEST_CASE(
    "PostgreSQL: a collector killed while delivering, its messages go out once after the lease "
    "and the reminders go on",
    "[postgres-reminders]") {
  auto postgres = testing::postgres_database({.migrate = true});
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;

  testing::TempDir hook_dir;
  testing::WebhookReceiver hook(hook_dir.path(), {.hold_paths = {"/killed"}});
  // The lead first, alone, so that it leads; then the collector to be killed and another.
  testing::TempDir lead_dir, killed_dir, other_dir;
  const auto args = [&](const testing::TempDir& dir, const std::string& path) {
    return std::vector<std::string>{"--alerts", alerts_file(dir, hook, path).string(),
                                    "--agent-timeout", "1h", "--verbose"};
  };
  Collector lead(lead_dir, args(lead_dir, "/lead"), conninfo);
  const std::string viewer = lead.token("viewer");
  REQUIRE(testing::eventually([&] { return leader_metric(lead, viewer) == 1; }, 10s));
  Collector killed(killed_dir, args(killed_dir, "/killed"), conninfo);
  Collector other(other_dir, args(other_dir, "/other"), conninfo);
  const auto logs = [&] {
    std::ifstream killed_log(killed_dir / "collector.log");  // also once it is gone
    return "lead:\n" + lead.child().log() + "killed:\n" +
           std::string(std::istreambuf_iterator<char>(killed_log), {}) + "other:\n" +
           other.child().log() + "webhook:\n" + hook.log();
  };

  // Two problems: one received (and planned) by the collector to be killed, which the
  // lead learns by following it; one received and planned by the lead, which waits for
  // its delivery. Both due a second later (the storm hold), as one burst.
  const std::string by_killed = "remind-killed";
  const std::string by_lead = "remind-lead";
  const std::string killed_agent_token = lead.enroll(by_killed, kSite);
  const std::string lead_agent_token = lead.enroll(by_lead, kSite);
  std::optional<Frozen> lead_frozen, other_frozen;
  {
    const auto r =
        killed.post("/api/v1/reports", failing_report(by_killed).dump(), killed_agent_token);
    INFO(r.status << " " << r.body);
    REQUIRE(r.status / 100 == 2);
  }
  {
    const auto r = lead.post("/api/v1/reports", failing_report(by_lead).dump(), lead_agent_token);
    INFO(r.status << " " << r.body);
    REQUIRE(r.status / 100 == 2);
    // Before the messages are due, only the collector to be killed may claim them.
    lead_frozen.emplace(lead);
    other_frozen.emplace(other);
  }
  const auto held = [&] {
    std::vector<testing::WebhookReceiver::Request> out;
    for (auto& r : hook.requests())
      if (r.status == 0) out.push_back(r);
    return out;
  };
  const bool claimed = testing::eventually([&] { return !held().empty(); }, 5s);
  // Killed in the middle of its first request, the webhook not having answered.
  const std::int64_t held_at = held().empty() ? 0 : held().front().time_ms;
  killed.stop(true);
  const std::int64_t killed_at = wall_ms();
  lead_frozen.reset();
  other_frozen.reset();
  if (!claimed) FAIL("the collector to be killed sent nothing\n" << logs());
  INFO("held at " << held_at << ", killed at " << killed_at);
  CHECK(killed_at - held_at < kTimeout.count() * 1000);  // before its own timeout

  // What the webhook answered, by agent: (kind, time).
  using Told = std::vector<std::pair<std::string, std::int64_t>>;
  const auto answered = [&] {
    std::map<std::string, Told> out;
    for (const auto& r : hook.requests()) {
      if (r.status != 200) continue;
      const auto body = json::parse(r.body, nullptr, false);
      if (body.is_discarded()) continue;
      out[body.value("agent", "")].emplace_back(body.value("kind", ""), r.time_ms);
    }
    return out;
  };
  // Each problem, then two reminders: within the lease and three intervals of the kill.
  const bool reminded = testing::eventually(
      [&] {
        const auto told = answered();
        return told.contains(by_killed) && told.contains(by_lead) &&
               told.at(by_killed).size() >= 3 && told.at(by_lead).size() >= 3;
      },
      std::chrono::milliseconds(kLeaseMs + 4 * kRenotifyMs + 4000));
  const auto told = answered();
  std::string seen;
  for (const auto& r : hook.requests()) {
    const auto body = json::parse(r.body, nullptr, false);
    seen += r.path + " " + std::to_string(r.time_ms) + " " + std::to_string(r.status) + " " +
            (body.is_discarded() ? "?" : body.value("agent", "") + " " + body.value("kind", "")) +
            "\n";
  }
  INFO("the webhook got (path, time, status, agent, kind):\n" << seen);
  if (!reminded) FAIL("no problem and two reminders for each agent\n" << logs());
  INFO("outbox:\n"
       << server
              .psql(db,
                    "SELECT id, alert_key, created_ms, due_ms, done_ms, status, attempts, error"
                    " FROM outbox ORDER BY id")
              .value_or("?")
       << "\n"
       << logs());

  // The held request was the only one never answered, and was the killed collector's.
  const auto held_now = held();
  REQUIRE(held_now.size() == 1);
  CHECK(held_now[0].path == "/killed");
  for (const std::string& agent : {by_killed, by_lead}) {
    INFO(agent);
    const Told& t = told.at(agent);
    // The problem once, first, sent when the dead collector's claim ran out, not before.
    CHECK(t[0].first == "problem");
    CHECK(std::count_if(t.begin(), t.end(), [](auto& k) { return k.first == "problem"; }) == 1);
    CHECK(t[0].second >= held_at + kLeaseMs - 500);
    CHECK(t[0].second <= killed_at + kLeaseMs + 3000);
    // Then reminders, each an interval after the message before it, never two at once.
    for (std::size_t i = 1; i < t.size(); ++i) {
      CHECK(t[i].first == "reminder");
      CHECK(t[i].second - t[i - 1].second >= kRenotifyMs - 100);
    }
  }
  // Nothing sent twice by the collectors still alive, nothing sent unrecorded: every
  // answered request is one outbox row marked sent (recorded just after the answer).
  const auto sent_rows = [&] {
    return server.psql(db, "SELECT count(*) FROM outbox WHERE status = 'sent'").value_or("?");
  };
  const auto answered_requests = [&] {
    std::size_t n = 0;
    for (const auto& r : hook.requests()) n += r.status == 200 ? 1 : 0;
    return std::to_string(n);
  };
  CHECK(testing::eventually([&] { return sent_rows() == answered_requests(); }, 3s));
  CHECK(server.psql(db, "SELECT count(*) FROM outbox WHERE status = 'failed'") == "0");
  lead.stop(false);
  other.stop(false);
}

}  // namespace
}  // namespace vigie
