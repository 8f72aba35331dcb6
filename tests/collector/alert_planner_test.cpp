// Alert decisions with a fake clock: a real state engine fed with reports, the planner
// that turns its events into outbox rows, an outbox in memory and the channels' pacers
// that turn its rows into messages. Nothing is sent here: deliveries are tested end to
// end in tests/integration/alerts_test.cpp.

#include "collector/alert_planner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

namespace vigie::collector {
namespace {

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
  std::vector<ChannelPacer> pacers;
  std::int64_t now = kT0;
  std::uint64_t seq = 0;
  std::vector<OutboxRow> outbox;  // rows not delivered yet
  std::vector<Outgoing> sent;
  std::vector<NotificationRecord> records;
  std::set<std::string> down;  // channels that deliver nothing

  explicit Fake(AlertConfig c = two_channels(), EngineOptions options = {.max_attempts = 1})
      : config(std::move(c)), engine(options), planner(config, engine) {
    for (std::size_t i = 0; i < config.channels.size(); ++i) pacers.emplace_back(config);
  }

  void feed(const StateDelta& delta) {
    AlertPlanner::Plan plan;
    planner.add(delta.events, now, plan);
    keep(plan);
  }
  void keep(AlertPlanner::Plan& plan) {
    for (auto& row : plan.outbox) outbox.push_back(std::move(row));
    for (auto& r : plan.records) records.push_back(std::move(r));
  }
  // What each channel's delivery thread does at `now`, every message delivered.
  void deliver() {
    for (std::size_t i = 0; i < config.channels.size(); ++i) {
      if (down.count(config.channels[i].name)) continue;
      const auto claim = [&](std::int64_t due_by) {
        std::vector<OutboxRow> claimed;
        for (auto it = outbox.begin(); it != outbox.end();) {
          if (it->channel == config.channels[i].name && it->due_ms <= due_by) {
            claimed.push_back(std::move(*it));
            it = outbox.erase(it);
          } else {
            ++it;
          }
        }
        return claimed;
      };
      for (auto& message : pacers[i].next(now, claim)) {
        Outgoing out{.channel = i, .digest = message.digest};
        for (const auto& row : message.rows) {
          auto alert = alert_from_json(row.alert);
          REQUIRE(alert.is_ok());
          CHECK(row.key == alert_key(*alert));
          out.alerts.push_back(*alert);
          planner.settled(row.key, now);
        }
        sent.push_back(std::move(out));
      }
    }
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
      deliver();
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

TEST_CASE("Alerts: a hard failure alerts once after the hold, its recovery once",
          "[alert_planner]") {
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

// What another collector sharing the database reads of an agent (StoredAgent::load):
// its row and its checks, as `from` holds them.
StateSnapshot stored_agent(const Fake& from, const std::string& agent) {
  StateSnapshot stored;
  for (const auto& a : from.engine.agents("")) {
    if (a.id == agent) stored.agents.push_back(a);
  }
  stored.checks = from.engine.checks({.agent = agent});
  return stored;
}

// A report through `to` of an agent whose states `from` wrote last: as Monitor does
// under the agent's row lock, `to` reads them again, its planner follows, then it
// applies the report.
void report_after(Fake& from, Fake& to, const std::string& agent, State status) {
  to.engine.reload_agent(agent, stored_agent(from, agent));
  to.planner.reseed_agent(agent, to.now);
  to.seq = std::max(from.seq, to.seq);
  to.now = std::max(from.now, to.now) + 1000;
  to.report("mairie-onesse", agent, {{"system/load", status}});
}

TEST_CASE("Alerts: two collectors, a problem notified by one, its recovery by the other",
          "[alert_planner]") {
  Fake a;
  Fake b;
  a.report("mairie-onesse", "a1", {{"system/load", State::kOk}});
  report_after(a, b, "a1", State::kCritical);
  REQUIRE(b.outbox.size() == 1);
  CHECK(alert_from_json(b.outbox[0].alert)->kind == "problem");

  // The recovery reaches the other collector: it sends it, once, from CRITICAL.
  report_after(b, a, "a1", State::kOk);
  REQUIRE(a.outbox.size() == 1);
  const auto recovery = alert_from_json(a.outbox[0].alert);
  CHECK(recovery->kind == "recovery");
  CHECK(recovery->from == State::kCritical);
  CHECK(a.planner.open_problems() == 0);

  // The first collector still holds the problem open; once it reads the agent again
  // it is closed there too: its next failure is a new problem, and a recovery of a
  // problem never notified is not sent.
  CHECK(b.planner.open_problems() == 1);
  b.engine.reload_agent("a1", stored_agent(a, "a1"));
  b.planner.reseed_agent("a1", b.now);
  CHECK(b.planner.open_problems() == 0);
  report_after(a, b, "a1", State::kWarning);
  REQUIRE(b.outbox.size() == 2);
  const auto second = alert_from_json(b.outbox[1].alert);
  CHECK(second->kind == "problem");
  CHECK(second->since_ms == b.now);
}

TEST_CASE("Alerts: a problem another collector queued gets no reminder before its delivery",
          "[alert_planner]") {
  AlertConfig c = two_channels();
  c.renotify = std::chrono::minutes(30);
  c.rules.resize(1);  // chat only
  Fake lead(c);
  Fake other(c);
  lead.report("mairie-onesse", "a1", {{"system/load", State::kOk}});
  // The other collector receives the failure and queues the problem; the lead follows
  // (reads the agent again) but the message is not delivered: the collector that
  // claimed it died, its lease runs.
  report_after(lead, other, "a1", State::kCritical);
  REQUIRE(other.outbox.size() == 1);
  const std::string key = other.outbox[0].key;
  const std::int64_t began = other.now;
  lead.now = other.now + 1000;
  lead.engine.reload_agent("a1", stored_agent(other, "a1"));
  lead.planner.reseed_agent("a1", lead.now);
  std::int64_t since = 0;
  CHECK(lead.planner.unsettled(&since) == std::vector<std::string>{key});
  CHECK(since == began);  // the outbox is asked from when the problem began
  // The lead's ticks (the planner alone: the engine keeps the agent as it was read).
  const auto reminders_at = [&](std::int64_t at) {
    AlertPlanner::Plan plan;
    lead.planner.tick(at, plan);
    return plan.outbox;
  };
  for (int minute = 1; minute <= 40; ++minute)
    REQUIRE(reminders_at(lead.now + minute * kMinute).empty());  // none on a message waiting

  // Delivered at last (the outbox says so): reminders count from then.
  const std::int64_t delivered = lead.now + 40 * kMinute;
  lead.planner.settled(key, delivered);
  CHECK(reminders_at(delivered + 29 * kMinute).empty());
  const auto reminder = reminders_at(delivered + 30 * kMinute);
  REQUIRE(reminder.size() == 1);
  CHECK(alert_from_json(reminder[0].alert)->kind == "reminder");
  CHECK(reminders_at(delivered + 31 * kMinute).empty());  // one at a time
}

TEST_CASE("Alerts: routing by site glob, family and severity", "[alert_planner]") {
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

TEST_CASE("Alerts: a central poller's result is routed by its member site's glob",
          "[alert_planner][central]") {
  Fake f;
  // The Avamar grid's poller at "centre" reports a failed backup of mairie-onesse's client.
  protocol::Report r;
  r.agent = {"avamar-poller", "centre", "host", "1.0"};
  r.seq = 1;
  CheckResult c;
  c.name = "avamar";
  c.check = "backup/avamar:/clients/onesse/srv";
  c.site = "mairie-onesse";
  c.status = State::kCritical;
  c.summary = "last backup Failed";
  c.ts_ms = f.now;
  c.interval_s = 60;
  r.results.push_back(c);
  f.feed(f.engine.apply(r, f.now));
  f.pass(3000);
  // The "mairie-*" backup rule matches: the member's site, not the poller's.
  REQUIRE(f.to("backup-team").size() == 1);
  const Alert alert = f.to("backup-team")[0].alerts[0];
  CHECK(alert.site == "mairie-onesse");
  CHECK(alert.agent == "avamar-poller");
  CHECK(f.to("chat").size() == 1);
}

TEST_CASE("Alerts: soft states and flapping send nothing", "[alert_planner]") {
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
          "[alert_planner]") {
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

TEST_CASE("Alerts: a problem still failing is re-notified every interval", "[alert_planner]") {
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

TEST_CASE("Alerts: a reminder counts from the delivery, not from the queueing", "[alert_planner]") {
  AlertConfig c = two_channels();
  c.renotify = std::chrono::minutes(30);
  c.rules.resize(1);  // chat only
  Fake f(c);
  f.down.insert("chat");
  // The receiver is down for 40 minutes: the problem waits in the outbox.
  for (int i = 0; i < 40; ++i) {
    f.report("s", "a1", {{"antivirus/clamd", State::kWarning}});
    f.pass(kMinute);
  }
  CHECK(f.sent.empty());
  REQUIRE(f.outbox.size() == 1);  // one row, no reminder piled on an alert never sent
  f.down.clear();
  f.pass(1000);
  REQUIRE(f.sent.size() == 1);
  CHECK(f.sent[0].alerts[0].kind == "problem");
  for (int i = 0; i < 29; ++i) {
    f.report("s", "a1", {{"antivirus/clamd", State::kWarning}});
    f.pass(kMinute);
  }
  CHECK(f.sent.size() == 1);
  for (int i = 0; i < 2; ++i) {
    f.report("s", "a1", {{"antivirus/clamd", State::kWarning}});
    f.pass(kMinute);
  }
  REQUIRE(f.sent.size() == 2);
  CHECK(f.sent[1].alerts[0].kind == "reminder");

  // After a restart, reminders count from the last delivery the outbox remembers.
  AlertPlanner again(f.config, f.engine);
  const std::int64_t last = f.now - 10 * kMinute;
  again.seed(f.now, {{"c\x1f"
                      "a1\x1f"
                      "antivirus/clamd",
                      last}});
  REQUIRE(again.open_problems() == 1);
  AlertPlanner::Plan plan;
  again.tick(last + 30 * kMinute - 1000, plan);
  CHECK(plan.outbox.empty());
  again.tick(last + 30 * kMinute, plan);
  REQUIRE(plan.outbox.size() == 1);
  CHECK(alert_from_json(plan.outbox[0].alert)->kind == "reminder");
}

TEST_CASE("Alerts: 200 failures within a minute make one digest per channel, then calm",
          "[alert_planner]") {
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
  CHECK(f.pacers[0].storming());
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
  CHECK_FALSE(f.pacers[0].storming());
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

TEST_CASE("Alerts: a site going unreachable is one alert, and so is its return",
          "[alert_planner]") {
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

// The desk: Monday to Friday 08:30-17:30 in Paris, outside French public holidays.
Calendar desk_calendar() {
  auto c = Calendar::from_json(nlohmann::json{{"time_zone", "Europe/Paris"},
                                              {"hours", {{"mon-fri", "08:30-17:30"}}},
                                              {"holidays", "fr"}},
                               "calendars.desk");
  REQUIRE(c.is_ok());
  return *c;
}

TEST_CASE("Alerts: routes by working hours, a public holiday being outside them",
          "[alert_planner][calendar]") {
  AlertConfig c = two_channels();
  c.rules = {{.channels = {"chat"},
              .when = AlertRule::When::kWorkingHours,
              .calendar = desk_calendar(),
              .calendar_name = "desk"},
             {.min_state = State::kCritical,
              .channels = {"backup-team"},
              .when = AlertRule::When::kOutsideWorkingHours,
              .calendar = desk_calendar(),
              .calendar_name = "desk"}};
  Fake f(c);
  auto route = [&](std::int64_t ts, State state, const char* kind = "problem",
                   std::int64_t since = 0) {
    std::vector<std::string> names;
    Alert a{.site = "s",
            .family = "firewall",
            .kind = kind,
            .state = state,
            .ts_ms = ts,
            .since_ms = since};
    if (a.kind == "recovery") {
      a.from = state;
      a.state = State::kOk;
    }
    for (auto i : f.planner.route(a)) names.push_back(f.config.channels[i].name);
    return names;
  };
  using V = std::vector<std::string>;
  constexpr std::int64_t kTuesday10 = 1'796'115'600'000;    // 2026-12-01 10:00 Paris
  constexpr std::int64_t kChristmas10 = 1'798'189'200'000;  // 2026-12-25 10:00, a Friday
  CHECK(route(kTuesday10, State::kWarning) == V{"chat"});
  CHECK(route(kTuesday10, State::kCritical) == V{"chat"});
  CHECK(route(kTuesday10 + 8 * 3'600'000, State::kWarning) == V{});  // 18:00: closed
  CHECK(route(kTuesday10 + 8 * 3'600'000, State::kCritical) == V{"backup-team"});
  CHECK(route(kChristmas10, State::kWarning) == V{});
  CHECK(route(kChristmas10, State::kCritical) == V{"backup-team"});
  // The recovery, on Monday morning, of a problem raised at Christmas: where it went,
  // and to the desk, now open.
  constexpr std::int64_t kMonday0930 = 1'798'443'000'000;  // 2026-12-28 08:30 UTC
  CHECK(route(kMonday0930, State::kCritical, "recovery", kChristmas10) == V{"chat", "backup-team"});
  CHECK(route(kMonday0930, State::kWarning, "recovery", kMonday0930 - 60'000) == V{"chat"});
}

TEST_CASE("Alerts: reminders counted in working time skip the weekend and Easter Monday",
          "[alert_planner][calendar]") {
  AlertConfig c = two_channels();
  c.rules = {{.channels = {"chat"}}};
  c.renotify = std::chrono::hours(1);
  c.renotify_calendar = desk_calendar();
  Fake f(c);
  // Friday 3 April 2026, 17:00 Paris (15:00 UTC): half an hour of the day is left; Monday
  // 6 is Easter Monday; the desk opens again on Tuesday 7 at 08:30.
  f.now = 1'775'228'400'000;
  f.report("s", "a1", {{"firewall/sophos", State::kCritical}});
  constexpr std::int64_t kTuesday0900 = 1'775'545'200'000;  // 07:00 UTC
  while (f.now < kTuesday0900 + 90 * kMinute) {
    f.now += kMinute;
    f.report("s", "a1", {{"firewall/sophos", State::kCritical}});
    AlertPlanner::Plan plan;
    f.planner.tick(f.now, plan);
    f.keep(plan);
    f.deliver();  // reminders count from the last delivery
  }
  std::vector<std::int64_t> reminders;
  for (const auto& o : f.sent) {
    if (o.alerts[0].kind == "reminder") reminders.push_back(o.alerts[0].ts_ms);
  }
  REQUIRE_FALSE(f.sent.empty());
  CHECK(f.sent.front().alerts[0].kind == "problem");
  REQUIRE(reminders.size() == 2);  // 09:00 and 10:00 on Tuesday, none before
  CHECK(reminders[0] >= kTuesday0900);
  CHECK(reminders[0] <= kTuesday0900 + 2 * kMinute);
  CHECK(reminders[1] >= kTuesday0900 + 60 * kMinute);
  CHECK(reminders[1] <= kTuesday0900 + 62 * kMinute);
}

}  // namespace
}  // namespace vigie::collector
