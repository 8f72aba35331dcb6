// Collectors own nothing (issue "Scale-out on PostgreSQL", item 2): two collectors on
// one database, the reports of each agent alternating between them, several agents
// at once, give the events one collector gives for the same stream, and every report
// is stored. Event ids come from the database in commit order (no two collectors pick
// the same; a long-poll never passes an event committed later with a smaller id),
// downtime ids from a sequence, and a collector applies a report or an operator's
// action to an agent's states only once it knows them current (agents.states_by,
// read under the agent's row lock), reading that agent again when not.

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "collector/alert_config.hpp"
#include "collector/monitor.hpp"
#include "collector/notifier.hpp"
#include "collector/storage.hpp"
#include "common/time.hpp"
#include "tests/collector/monitor_ingest.hpp"
#include "tests/support/child.hpp"
#include "tests/support/postgres_database.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/smtp_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/webhook_receiver.hpp"

namespace vigie::collector {
namespace {

constexpr int kAgents = 8;
constexpr int kReports = 6;

protocol::Report report(int agent, int seq) {
  protocol::Report r;
  r.agent = {"scale-" + std::to_string(agent), "site-" + std::to_string(agent % 3), "host", "0.1"};
  r.seq = static_cast<std::uint64_t>(seq);
  CheckResult c;
  c.name = "load";
  c.check = "system/load";
  c.status = seq % 2 == 1 ? State::kCritical : State::kOk;
  c.summary = "load";
  c.ts_ms = wall_ms() - (kReports - seq);
  c.interval_s = 60;
  c.max_attempts = 1;
  r.results.push_back(c);
  return r;
}

using testing_support::ingest;

struct Collector {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<Monitor> monitor;
};

// `follow`: the monitor's thread, which follows other collectors (LISTEN) and leads;
// without it, a collector knows what others did only from what it reads under an
// agent's row lock.
Collector open_collector(const std::string& conninfo, bool follow = true,
                         MonitorOptions options = {}) {
  Collector c;
  auto storage = open_postgres_storage({.conninfo = conninfo});
  REQUIRE(storage.is_ok());
  c.storage = std::move(*storage);
  options.run_thread = follow;
  auto monitor = Monitor::open(*c.storage, std::move(options));
  REQUIRE(monitor.is_ok());
  c.monitor = std::move(*monitor);
  return c;
}

TEST_CASE("PostgreSQL: two collectors ingesting at once give the events of one",
          "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, single, conninfo] = *postgres;
  // The same stream through one collector, for reference.
  {
    Collector one = open_collector(server.conninfo(single));
    for (int a = 0; a < kAgents; ++a)
      for (int s = 1; s <= kReports; ++s) REQUIRE(ingest(*one.monitor, report(a, s)));
    one.monitor->stop();
  }

  const std::string db = server.create_database();
  REQUIRE_FALSE(db.empty());
  Collector a = open_collector(server.conninfo(db));
  Collector b = open_collector(server.conninfo(db));
  Monitor* through[2] = {a.monitor.get(), b.monitor.get()};
  // Each agent on a thread of its own, its reports alternating between A and B.
  std::atomic<int> failed{0};
  std::string first_error;
  std::mutex mu;
  std::vector<std::thread> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.emplace_back([&, i] {
      for (int s = 1; s <= kReports; ++s) {
        Status st = ingest(*through[(i + s) % 2], report(i, s));
        if (!st) {
          ++failed;
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = st.message();
        }
      }
    });
  }
  for (auto& t : agents) t.join();
  INFO(first_error);
  CHECK(failed == 0);
  a.monitor->stop();
  b.monitor->stop();

  const std::string per_agent =
      "SELECT string_agg(agent || ':' || kind || ':' || to_state, ',' ORDER BY agent, ts_ms, id)"
      " FROM events";
  CHECK(server.psql(db, per_agent) == server.psql(single, per_agent));
  CHECK(server.psql(db, "SELECT count(DISTINCT id) = count(*) FROM events") == "t");
}

// One agent's stream with soft and hard states (three attempts).
protocol::Report soft_report(int seq, State status) {
  protocol::Report r;
  r.agent = {"alternating", "site-a", "host", "0.1"};
  r.seq = static_cast<std::uint64_t>(seq);
  CheckResult c;
  c.name = "disk";
  c.check = "system/disk:/srv";
  c.status = status;
  c.summary = std::string(state_name(status)) + " " + std::to_string(seq);
  c.ts_ms = wall_ms() - 100'000 + seq * 1000;
  c.interval_s = 60;
  c.max_attempts = 3;
  r.results.push_back(c);
  return r;
}

const std::vector<State> kStream = {
    State::kOk,      State::kCritical, State::kCritical, State::kCritical, State::kOk,
    State::kWarning, State::kWarning,  State::kOk,       State::kCritical, State::kCritical,
    State::kWarning, State::kWarning,  State::kWarning,  State::kOk,       State::kCritical};

// What must be the same whichever collector received what: every event but its times,
// and the check's row.
std::string outcome(testing::PostgresServer& server, const std::string& db) {
  return server
             .psql(db,
                   "SELECT string_agg(concat_ws(':', kind, site, agent, check_id, from_state,"
                   " to_state, state_type, attempt, summary, author, notify, backfill), ','"
                   " ORDER BY id) FROM events")
             .value_or("?") +
         " | " +
         server
             .psql(db,
                   "SELECT string_agg(concat_ws(':', check_id, status, summary, state_type,"
                   " attempt, hard_state, history, history_len, flapping, stale, ack), ','"
                   " ORDER BY check_id) FROM checks")
             .value_or("?");
}

TEST_CASE(
    "PostgreSQL: one agent's reports alternating between two collectors give the states "
    "and events of one",
    "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, single, conninfo] = *postgres;
  {
    Collector one = open_collector(server.conninfo(single), false);
    for (std::size_t i = 0; i < kStream.size(); ++i)
      REQUIRE(ingest(*one.monitor, soft_report(static_cast<int>(i) + 1, kStream[i])));
    one.monitor->stop();
  }
  const std::string db = server.create_database();
  REQUIRE_FALSE(db.empty());
  {
    // Neither follows the other (no LISTEN): each must find out under the row lock.
    Collector a = open_collector(server.conninfo(db), false);
    Collector b = open_collector(server.conninfo(db), false);
    for (std::size_t i = 0; i < kStream.size(); ++i) {
      Monitor& through = i % 2 == 0 ? *a.monitor : *b.monitor;
      REQUIRE(ingest(through, soft_report(static_cast<int>(i) + 1, kStream[i])));
    }
    a.monitor->stop();
    b.monitor->stop();
  }
  CHECK(outcome(server, db) == outcome(server, single));
  // Ids from one counter, in commit order, none skipped.
  CHECK(server.psql(db, "SELECT min(id) = 1 AND max(id) = count(*) FROM events") == "t");
}

TEST_CASE(
    "PostgreSQL: acknowledgements and downtimes made through one collector, reports "
    "through another, give what one collector gives",
    "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, single, conninfo] = *postgres;
  const auto run = [&](const std::string& db, bool two) {
    Collector a = open_collector(server.conninfo(db), false);
    Collector b = two ? open_collector(server.conninfo(db), false) : Collector{};
    Monitor& first = *a.monitor;
    Monitor& second = two ? *b.monitor : *a.monitor;
    int seq = 0;
    const auto report = [&](Monitor& m, State status) {
      REQUIRE(ingest(m, soft_report(++seq, status)));
    };
    for (int i = 0; i < 3; ++i) report(first, State::kCritical);  // hard
    REQUIRE(second.acknowledge("alternating", "system/disk:/srv",
                               {.author = "ana", .comment = "on it", .created_ms = wall_ms()}));
    report(first, State::kCritical);  // still acknowledged
    report(first, State::kWarning);   // a change: the acknowledgement goes
    REQUIRE(second.acknowledge("alternating", "system/disk:/srv",
                               {.author = "ana", .comment = "again", .sticky = true}));
    report(first, State::kCritical);  // sticky: kept
    REQUIRE(first.unacknowledge("alternating", "system/disk:/srv", "bob", "done"));
    auto downtime = second.add_downtime({.site = "site-a",
                                         .agent = "alternating",
                                         .start_ms = wall_ms() - 1000,
                                         .end_ms = wall_ms() + 3'600'000,
                                         .comment = "works",
                                         .author = "carl"});
    REQUIRE(downtime.is_ok());
    CHECK(downtime->id == 1);
    report(first, State::kOk);        // in downtime: no alert
    report(first, State::kCritical);  // in downtime: no alert
    REQUIRE(second.remove_downtime(downtime->id, "carl", "over"));
    report(first, State::kCritical);
    report(first, State::kOk);
    if (two) b.monitor->stop();
    a.monitor->stop();
  };
  const std::string db = server.create_database();
  REQUIRE_FALSE(db.empty());
  run(single, false);
  run(db, true);
  CHECK(outcome(server, db) == outcome(server, single));
  CHECK(server.psql(db, "SELECT string_agg(id || ':' || end_ms::text, ',') FROM downtimes")
            .value_or("?")
            .starts_with("1:"));
}

TEST_CASE("PostgreSQL: downtimes made through two collectors at once get ids of their own",
          "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  Collector a = open_collector(server.conninfo(db), false);
  Collector b = open_collector(server.conninfo(db), false);
  constexpr int kEach = 5;
  std::vector<std::int64_t> ids[2];
  std::vector<std::thread> threads;
  Monitor* through[2] = {a.monitor.get(), b.monitor.get()};
  for (int side = 0; side < 2; ++side) {
    threads.emplace_back([&, side] {
      for (int i = 0; i < kEach; ++i) {
        auto d = through[side]->add_downtime({.site = "site-" + std::to_string(side),
                                              .start_ms = wall_ms() + 3'600'000,
                                              .end_ms = wall_ms() + 7'200'000,
                                              .comment = std::to_string(i),
                                              .author = "ops"});
        if (d) ids[side].push_back(d->id);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ids[0].size() == kEach);
  CHECK(ids[1].size() == kEach);
  CHECK(server.psql(db, "SELECT count(DISTINCT id) || ' ' || count(*) FROM downtimes") ==
        std::to_string(2 * kEach) + " " + std::to_string(2 * kEach));
  a.monitor->stop();
  b.monitor->stop();
}

TEST_CASE("PostgreSQL: a long-poll on one collector passes no event another commits",
          "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  Collector a = open_collector(server.conninfo(db));
  Collector b = open_collector(server.conninfo(db));
  // A reader follows A's stream with its cursor while both collectors ingest.
  std::atomic<bool> ingesting{true};
  std::vector<std::int64_t> seen;
  std::thread reader([&] {
    std::int64_t cursor = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      const bool last = !ingesting;
      std::promise<std::pair<std::vector<Event>, std::int64_t>> got;
      a.monitor->wait_events(cursor, 50, std::chrono::milliseconds(100),
                             [&](std::vector<Event> events, std::int64_t next) {
                               got.set_value({std::move(events), next});
                             });
      auto [events, next] = got.get_future().get();
      for (const auto& e : events) seen.push_back(e.id);
      cursor = next;
      if ((last && events.empty()) || std::chrono::steady_clock::now() > deadline) break;
    }
  });
  std::vector<std::thread> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.emplace_back([&, i] {
      for (int s = 1; s <= kReports; ++s) (void)ingest(*(i % 2 == 0 ? a : b).monitor, report(i, s));
    });
  }
  for (auto& t : agents) t.join();
  // Whatever A has not heard of by LISTEN yet, it reads before it answers past it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ingesting = false;
  reader.join();
  const auto total = server.psql(db, "SELECT count(*) FROM events");
  REQUIRE(total);
  std::vector<std::int64_t> expected(static_cast<std::size_t>(std::stoll(*total)));
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::int64_t>(i) + 1;
  CHECK(seen == expected);
  a.monitor->stop();
  b.monitor->stop();
}

// Waits up to five seconds for `seen` to hold.
template <class Predicate>
bool eventually(Predicate seen) {
  return testing::eventually(seen, std::chrono::seconds(5));
}

TEST_CASE("PostgreSQL: a collector follows another's report by reading that agent alone",
          "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  Collector a = open_collector(server.conninfo(db));
  Collector b = open_collector(server.conninfo(db));
  auto shown_by_b = [&](int agent, State state) {
    return eventually([&] {
      auto c = b.monitor->engine().check("scale-" + std::to_string(agent), "system/load");
      return c && c->hard_state == state;
    });
  };
  // A takes the lead and reads everything once; B, which follows, may have read all
  // once too before the first report (its LISTEN connection made).
  REQUIRE(eventually([&] { return a.storage->leads() || b.storage->leads(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const MonitorStats before = b.monitor->stats();
  // Agents B has never seen, then a change of one it knows.
  for (int i = 10; i < 13; ++i) {
    REQUIRE(ingest(*a.monitor, report(i, 1)));
    CHECK(shown_by_b(i, State::kCritical));
  }
  REQUIRE(ingest(*a.monitor, report(10, 2)));
  CHECK(shown_by_b(10, State::kOk));
  const MonitorStats after = b.monitor->stats();
  CHECK(after.followed_all == before.followed_all);
  CHECK(after.followed_agents >= before.followed_agents + 4);
  CHECK(b.monitor->engine().agents().size() == 3);

  // A downtime may cover any agent: B reads everything again.
  auto d = a.monitor->add_downtime({.site = "site-1",
                                    .start_ms = wall_ms() - 1000,
                                    .end_ms = wall_ms() + 3'600'000,
                                    .comment = "works",
                                    .author = "ops"});
  REQUIRE(d);
  CHECK(eventually([&] { return b.monitor->engine().downtime(d->id).has_value(); }));
  CHECK(b.monitor->stats().followed_all > after.followed_all);
  a.monitor->stop();
  b.monitor->stop();
}

TEST_CASE(
    "PostgreSQL: the lead sweeps an agent reporting through another collector by reading it alone",
    "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  // A leads and sweeps every 50 ms; B only ingests.
  Collector a = open_collector(server.conninfo(db), true, {.tick = std::chrono::milliseconds(50)});
  REQUIRE(eventually([&] { return a.storage->leads(); }));
  Collector b = open_collector(server.conninfo(db), false);
  // An agent whose check runs every second reports through B, results unchanged: B's
  // commits name no agent to follow, so A's memory of it ages while the results are
  // fresh. Stale after 3 missed intervals by A's memory, not by what is stored.
  auto fresh_report = [](int seq) {
    protocol::Report r = report(20, seq);
    r.results[0].status = State::kOk;
    r.results[0].ts_ms = wall_ms();
    r.results[0].interval_s = 1;
    return r;
  };
  REQUIRE(ingest(*b.monitor, fresh_report(1)));
  REQUIRE(
      eventually([&] { return a.monitor->engine().check("scale-20", "system/load").has_value(); }));
  const MonitorStats before = a.monitor->stats();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  for (int seq = 2; std::chrono::steady_clock::now() < end && seq < 100; ++seq) {
    REQUIRE(ingest(*b.monitor, fresh_report(seq)));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const MonitorStats after = a.monitor->stats();
  // Never stale, and read again alone when its memory said due, not with every agent.
  CHECK(server.psql(db, "SELECT count(*) FROM events WHERE kind = 'stale'") == "0");
  CHECK(after.followed_all == before.followed_all);
  CHECK(after.followed_agents > before.followed_agents);
  a.monitor->stop();
  b.monitor->stop();
}

// A collector's notifier, wired to its monitor as `serve` wires them.
struct Alerting {
  Alerting(Collector& c, const AlertConfig& config, NotifierOptions options)
      : collector(c),
        notifier(std::make_unique<Notifier>(config, *c.storage, c.monitor->engine(), options)) {
    c.monitor->set_alerting(notifier->hooks());
  }
  ~Alerting() {
    collector.monitor->stop();
    collector.monitor->set_alerting({});
    notifier->stop();
  }
  Collector& collector;
  std::unique_ptr<Notifier> notifier;
};

TEST_CASE("PostgreSQL: reminders of a problem keep coming when another collector delivers them",
          "[postgres][postgres-scale]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir dir;
  testing::WebhookReceiver hook(dir.path());
  const nlohmann::json file = {
      {"channels", {{{"name", "desk"}, {"type", "webhook"}, {"url", hook.url("/desk")}}}},
      {"rules", {{{"channels", {"desk"}}}}},
      {"storm", {{"hold", "100ms"}}},
      {"renotify", "1s"}};
  auto config = parse_alert_config(file.dump(), "alerts.json");
  INFO(config.status().message());
  REQUIRE(config.is_ok());
  // A leads: it plans the reminders (every 50 ms) but never delivers (its channel looks
  // for rows once an hour). B only ingests and delivers whatever is due, so every
  // message, the problem and each reminder, is sent by the collector that did not plan it.
  Collector a = open_collector(server.conninfo(db), true, {.tick = std::chrono::milliseconds(50)});
  REQUIRE(eventually([&] { return a.storage->leads(); }));
  Collector b = open_collector(server.conninfo(db), false);
  Alerting a_alerts(a, *config, {.poll = std::chrono::hours(1)});
  Alerting b_alerts(b, *config, {.poll = std::chrono::milliseconds(50)});

  protocol::Report failing = report(30, 1);  // CRITICAL, hard at once (one attempt)
  failing.results[0].ts_ms = wall_ms();
  REQUIRE(ingest(*b.monitor, failing));

  // The problem, then a reminder a second after each message is delivered: within 12
  // s, at least three, each one alone (never two planners at once).
  const auto kinds = [&] {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& r : hook.requests())
      out.emplace_back(nlohmann::json::parse(r.body).value("kind", ""), r.time_ms);
    return out;
  };
  const bool reminded =
      testing::eventually([&] { return kinds().size() >= 4; }, std::chrono::seconds(12));
  const auto seen = kinds();
  std::string told;
  for (const auto& [kind, at] : seen) told += kind + " at " + std::to_string(at) + "\n";
  INFO("the webhook got:\n" << told << hook.log());
  REQUIRE(reminded);
  CHECK(seen.front().first == "problem");
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].first == "reminder");
    // A second after the previous one was delivered, less the delivery's own time.
    CHECK(seen[i].second - seen[i - 1].second >= 900);
  }
  // Nothing else waits but the next reminder.
  CHECK(std::stoi(server.psql(db, "SELECT count(*) FROM outbox WHERE done_ms = 0").value_or("9")) <=
        1);
}

TEST_CASE("PostgreSQL: messages of one claim sent past its lease are not sent again by another",
          "[postgres][postgres-scale][outbox]") {
  auto postgres = testing::postgres_database();
  if (!postgres) return;
  auto& [server, db, conninfo] = *postgres;
  testing::TempDir dir;
  // A slow receiver: 700 ms an answer, under a 1 s timeout, so a claim's lease (2 s)
  // ends while the third of four messages it holds is on its way.
  testing::WebhookReceiver hook(dir.path(), {.delay = std::chrono::milliseconds(700)});
  const nlohmann::json file = {
      {"channels",
       {{{"name", "desk"}, {"type", "webhook"}, {"url", hook.url("/desk")}, {"timeout", "1s"}}}},
      {"rules", {{{"channels", {"desk"}}}}},
      {"storm", {{"hold", "100ms"}}}};
  auto config = parse_alert_config(file.dump(), "alerts.json");
  INFO(config.status().message());
  REQUIRE(config.is_ok());
  Collector a = open_collector(server.conninfo(db), true, {.tick = std::chrono::milliseconds(50)});
  REQUIRE(eventually([&] { return a.storage->leads(); }));
  Collector b = open_collector(server.conninfo(db), false);
  // B alone delivers at first: it claims the four problems at once, as one burst.
  std::optional<Alerting> b_alerts(std::in_place, b, *config,
                                   NotifierOptions{.poll = std::chrono::milliseconds(50)});
  protocol::Report failing = report(40, 1);
  failing.results.clear();
  for (int i = 0; i < 4; ++i) {
    CheckResult c;
    c.name = "disk-" + std::to_string(i);
    c.check = "system/disk:/d" + std::to_string(i);
    c.status = State::kCritical;
    c.summary = "full";
    c.ts_ms = wall_ms();
    c.interval_s = 60;
    c.max_attempts = 1;
    failing.results.push_back(c);
  }
  REQUIRE(ingest(*b.monitor, failing));
  REQUIRE(hook.wait_for(1, std::chrono::seconds(5)));
  // A delivers too from now on, looking for due rows every 50 ms.
  std::optional<Alerting> a_alerts(std::in_place, a, *config,
                                   NotifierOptions{.poll = std::chrono::milliseconds(50)});
  const auto problems = [&] {
    std::map<std::string, int> out;
    for (const auto& r : hook.requests())
      out[nlohmann::json::parse(r.body).value("check", "")] += 1;
    return out;
  };
  REQUIRE(testing::eventually([&] { return problems().size() == 4; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // time for doubles, were they sent
  std::string told;
  for (const auto& r : hook.requests()) told += r.body + "\n";
  INFO("the webhook got:\n" << told << hook.log());
  for (const auto& [check, count] : problems()) {
    INFO(check);
    CHECK(count == 1);
  }
  CHECK(server.psql(db, "SELECT count(*) FROM outbox WHERE status = 'sent'") == "4");
  a_alerts.reset();
  b_alerts.reset();
}

TEST_CASE(
    "PostgreSQL: mails of one claim under way when the database goes away go once each and none "
    "while it is away",
    "[postgres][postgres-scale][outbox]") {
  // A server of its own: the test stops it.
  testing::PostgresServer server;
  if (!server.available()) {
    WARN("skipped: " << server.why());
    return;
  }
  const std::string db = server.create_database();
  INFO(server.why());
  REQUIRE_FALSE(db.empty());
  testing::TempDir dir;
  // The SMTP server keeps the first mail, then holds its answer until released: the
  // database goes away while the collector that claimed the batch waits for it, before
  // it records the mail and renews the claim of the next ones.
  testing::SmtpServer smtp(dir.path(), {.hold_first = true});
  constexpr int kChecks = 4;
  // The relay's timeout (4 s) outlasts the hold (a fast shutdown), and sets a claim's
  // lease: 8 s.
  const nlohmann::json file = {
      {"smtp",
       {{"url", "smtp://127.0.0.1:" + std::to_string(smtp.port())},
        {"tls", "none"},
        {"from", "vigie@example.org"},
        {"timeout", "4s"}}},
      {"channels", {{{"name", "oncall"}, {"type", "email"}, {"to", {"astreinte@example.org"}}}}},
      {"rules", {{{"channels", {"oncall"}}}}},
      {"storm", {{"hold", "100ms"}}}};
  auto config = parse_alert_config(file.dump(), "alerts.json");
  INFO(config.status().message());
  REQUIRE(config.is_ok());
  Collector a = open_collector(server.conninfo(db), true, {.tick = std::chrono::milliseconds(50)});
  REQUIRE(eventually([&] { return a.storage->leads(); }));
  Collector b = open_collector(server.conninfo(db), false);
  // B alone delivers at first, looking for due rows every 50 ms: it claims the four
  // mails at once (two collectors claiming at once may split a burst).
  std::optional<Alerting> b_alerts(std::in_place, b, *config,
                                   NotifierOptions{.poll = std::chrono::milliseconds(50)});
  std::optional<Alerting> a_alerts;
  protocol::Report failing = report(50, 1);
  failing.results.clear();
  for (int i = 0; i < kChecks; ++i) {
    CheckResult c;
    c.name = "disk-" + std::to_string(i);
    c.check = "system/disk:/d" + std::to_string(i);
    c.status = State::kCritical;
    c.summary = "full";
    c.ts_ms = wall_ms();
    c.interval_s = 60;
    c.max_attempts = 1;
    failing.results.push_back(c);
  }
  REQUIRE(ingest(*b.monitor, failing));
  const auto mails = [&] {
    std::map<std::string, int> out;
    for (const std::string& mail : smtp.messages())
      for (int i = 0; i < kChecks; ++i)
        if (mail.find("system/disk:/d" + std::to_string(i)) != std::string::npos)
          out["/d" + std::to_string(i)] += 1;
    return out;
  };
  const auto sent = [&] { return b_alerts->notifier->stats().sent[1]; };
  const auto query = [&](const std::string& sql) {
    return server.psql(db, sql).value_or("(" + server.why() + ")");
  };
  const auto told = [&] {
    std::string out;
    for (const std::string& mail : smtp.messages()) {
      const std::size_t at = mail.find("Subject: ");
      out += mail.substr(at, mail.find('\n', at) - at) + "\n";
    }
    return "the SMTP server got:\n" + out + smtp.log();
  };

  // The first mail is kept, its answer held: B claimed all four rows. A delivers too
  // from now on: it takes the rows whose lease runs out.
  REQUIRE(smtp.wait_for(1, std::chrono::seconds(10)));
  CHECK(query("SELECT count(*) FROM outbox WHERE status = 'claimed'") == std::to_string(kChecks));
  a_alerts.emplace(a, *config, NotifierOptions{.poll = std::chrono::milliseconds(50)});
  REQUIRE(server.stop());
  smtp.release();
  // The mail is answered: the collector tries to record it, then to renew the claim of
  // the next three, and cannot. It must send none of them: once the lease runs out the
  // other collector would send them too. A message goes within milliseconds of its
  // renewal (the SMTP server answers at once): 500 ms after the first is done, any sent
  // would be there.
  REQUIRE(testing::eventually([&] { return sent() >= 1; }, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  {
    INFO(told());
    CHECK(smtp.messages().size() == 1);
    CHECK(sent() == 1);
  }
  REQUIRE(server.start());

  // Back: every mail goes, each once, the first recorded as sent by the collector that
  // sent it, the other three once their claim's lease runs out (8 s after the claim).
  const bool all =
      testing::eventually([&] { return mails().size() == kChecks; }, std::chrono::seconds(15));
  const bool settled = testing::eventually(
      [&] { return query("SELECT count(*) FROM outbox WHERE done_ms = 0") == "0"; },
      std::chrono::seconds(5));
  // Time for a second claim of any row left claimable, were one.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  INFO(told());
  REQUIRE(all);
  CHECK(settled);
  for (const auto& [check, count] : mails()) {
    INFO(check);
    CHECK(count == 1);
  }
  CHECK(smtp.messages().size() == kChecks);
  CHECK(query("SELECT string_agg(status, ',') FROM outbox") == "sent,sent,sent,sent");
  CHECK(query("SELECT count(*) FROM notifications WHERE status = 'sent'") ==
        std::to_string(kChecks));
  a_alerts.reset();
  b_alerts.reset();
}

}  // namespace
}  // namespace vigie::collector
