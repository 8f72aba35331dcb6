// The agent's store and forward against the real collector on loopback: outages,
// SIGKILL, the spool's bound, a revoked token, a collector that sheds load (429, 503)
// or fails (500), a collector of another CA, a corrupt spool. Each check is a counter script, so
// that what arrives can be compared with what was produced: values 1, 2, 3... each exactly once.

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <sqlite3.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agent/spool.hpp"
#include "common/time.hpp"
#include "plugins/process.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::run;
using testing::trim;

constexpr const char* kAgent = "spool-agent";
constexpr const char* kSite = "spool-site";

// A check that counts its runs in <dir>/<name>.count and reports the count as metric n;
// `padding` bytes of details make its results fat.
void write_counter(const testing::TempDir& dir, const std::string& name, int padding = 0) {
  const std::string count = (dir / (name + ".count")).string();
  std::string script =
      "#!/bin/sh\n"
      "n=$(cat '" +
      count +
      "' 2>/dev/null || echo 0)\n"
      "n=$((n + 1))\n"
      "echo $n > '" +
      count +
      "'\n"
      "echo \"OK run $n | n=$n\"\n";
  if (padding > 0) script += "head -c " + std::to_string(padding) + " /dev/zero | tr '\\0' x\n";
  dir.write(name + ".sh", script, true);
}

struct AgentSetup {
  std::vector<std::string> counters = {"count"};
  int batch_max = 20;
  std::string retry_max = "5s";
  json spool = nullptr;     // the config's "spool" block; null: none
  std::string ca_file;      // "": the collector's CA
  std::string client_cert;  // with client_key; "": none
  std::string client_key;
};

fs::path write_config(const testing::TempDir& dir, const Collector& collector,
                      const AgentSetup& setup) {
  json checks = json::array();
  for (const auto& name : setup.counters) {
    checks.push_back({{"name", name},
                      {"type", "external"},
                      {"splay", "0s"},
                      {"command", {(dir / (name + ".sh")).string()}}});
  }
  json config = {{"agent", {{"id", kAgent}, {"site", kSite}}},
                 {"collector",
                  {{"url", collector.url()},
                   {"ca_file", setup.ca_file.empty() ? collector.ca() : setup.ca_file},
                   {"token_file", (dir / "agent.token").string()},
                   {"send_interval", "1s"},
                   {"retry_max", setup.retry_max},
                   {"batch_max", setup.batch_max}}},
                 {"defaults", {{"interval", "1s"}, {"timeout", "1s"}}},
                 {"checks", checks}};
  if (!setup.spool.is_null()) config["spool"] = setup.spool;
  if (!setup.client_cert.empty()) {
    config["collector"]["client_cert"] = setup.client_cert;
    config["collector"]["client_key"] = setup.client_key;
  }
  return dir.write("agent.json", config.dump(2));
}

void enroll(const testing::TempDir& dir, Collector& collector) {
  dir.write_secret("agent.token", collector.enroll(kAgent, kSite) + "\n");
}

std::unique_ptr<testing::Child> start_agent(const testing::TempDir& dir) {
  return std::make_unique<testing::Child>(
      std::vector<std::string>{VIGIE_AGENT_BIN, "run", "--config", (dir / "agent.json").string(),
                               "--state-dir", (dir / "state").string()},
      dir / "agent.log");
}

// The usual set-up: one counter check, the agent enrolled, configured with `setup`
// and started.
std::unique_ptr<testing::Child> start_counting_agent(const testing::TempDir& dir,
                                                     Collector& collector,
                                                     const AgentSetup& setup) {
  write_counter(dir, "count");
  enroll(dir, collector);
  write_config(dir, collector, setup);
  return start_agent(dir);
}

// The values of metric n of counter `name` the collector stored, in time order.
std::vector<long> delivered(Collector& collector, const std::string& viewer,
                            const std::string& name) {
  const auto reply = collector.get("/api/v1/series?agent=" + std::string(kAgent) +
                                       "&check=external:" + name + "&metric=n&tier=raw&from=1h",
                                   viewer);
  if (reply.status != 200) {
    UNSCOPED_INFO("series: HTTP " << reply.status << " " << reply.error << " " << reply.body);
    return {};
  }
  const json body = json::parse(reply.body);
  std::vector<long> values;
  for (const auto& point : body.at("points")) {
    // A stored duplicate would be two points, or one of count 2.
    for (int i = 0; i < point.value("count", 1); ++i) values.push_back(point["max"].get<long>());
  }
  return values;
}

long produced(const testing::TempDir& dir, const std::string& name) {
  std::ifstream in(dir / (name + ".count"));
  long n = 0;
  in >> n;
  return n;
}

// A figure from the collector's /metrics.
double collector_metric(Collector& collector, const std::string& viewer, const std::string& name) {
  const auto reply = collector.get("/metrics", viewer);
  REQUIRE(reply.status == 200);
  std::istringstream lines(reply.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
  }
  FAIL("no " << name << " in /metrics");
  return 0;
}

json agent_row(Collector& collector, const std::string& viewer) {
  const auto reply = collector.get("/api/v1/agents", viewer);
  REQUIRE(reply.status == 200);
  const json body = json::parse(reply.body);
  for (const auto& a : body.at("agents")) {
    if (a.value("id", "") == kAgent || a.value("name", "") == kAgent) return a;
  }
  return nullptr;
}

std::string sql(const fs::path& db, const std::string& query) {
  const auto r = run({"/usr/bin/sqlite3", "-cmd", ".timeout 10000", db.string(), query});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return trim(r.out);
}

// Every value 1..max(values) exactly once, in order.
void check_exactly_once_in_order(const std::vector<long>& values) {
  REQUIRE_FALSE(values.empty());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("value #" << i);
    REQUIRE(values[i] == static_cast<long>(i) + 1);
  }
}

TEST_CASE(
    "Agent: the collector down for 3 minutes then back: every result arrives once and in order",
    "[.][agent-outage]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  auto agent = start_counting_agent(dir, collector, {.batch_max = 20, .retry_max = "20s"});
  INFO("agent log:\n" << agent->log());
  REQUIRE(
      testing::eventually([&] { return delivered(collector, viewer, "count").size() >= 3; }, 20s));

  collector.stop(false);
  const long at_outage = produced(dir, "count");
  const auto outage_end = std::chrono::steady_clock::now() + 180s;
  while (std::chrono::steady_clock::now() < outage_end) {
    REQUIRE(agent->running());
    std::this_thread::sleep_for(1s);
  }
  const long at_return = produced(dir, "count");
  CHECK(at_return - at_outage >= 150);  // the checks ran all along (about 180)
  collector.start();

  // Within the backoff's 20 s and a few batches of 20.
  std::vector<long> values;
  REQUIRE(testing::eventually(
      [&] {
        values = delivered(collector, viewer, "count");
        return !values.empty() && values.back() >= at_return + 5;
      },
      90s));
  check_exactly_once_in_order(values);
  // Results of a check arriving older than its latest would be counted late.
  CHECK(collector_metric(collector, viewer, "vigie_late_results_total") == 0);
  // Batches were stored in seq order.
  const std::string seqs = sql(collector.db(), "SELECT seq FROM batches ORDER BY seq");
  const std::string by_arrival =
      sql(collector.db(), "SELECT seq FROM batches ORDER BY received_ms, seq");
  CHECK(seqs == by_arrival);
}

TEST_CASE("Agent: SIGKILL while sending resends nothing acknowledged and loses nothing spooled",
          "[agent-faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  write_counter(dir, "count");
  enroll(dir, collector);
  write_config(dir, collector, {.batch_max = 2, .retry_max = "1s"});
  const fs::path spool = dir / "state" / "spool.db";

  std::set<long> pending;  // unacknowledged at some kill: must all arrive
  int replays = 0;         // kills right after an acknowledgement the agent had not noted
  constexpr int kKills = 3;
  for (int kill = 0; kill < kKills; ++kill) {
    auto agent = start_agent(dir);
    INFO("agent log:\n" << agent->log());
    // Let it spool and send a while: a few seconds of results.
    REQUIRE(testing::eventually([&] { return fs::exists(spool); }, 10s));
    std::this_thread::sleep_for(2500ms + 300ms * kill);
    // Frozen, nothing changes in its spool; what it sent has reached the collector.
    REQUIRE(::kill(agent->pid(), SIGSTOP) == 0);
    std::this_thread::sleep_for(1s);
    for (const std::string& line : [&] {
           std::vector<std::string> out;
           std::istringstream in(sql(spool, "SELECT result FROM results ORDER BY id"));
           for (std::string l; std::getline(in, l);) out.push_back(l);
           return out;
         }()) {
      const json result = json::parse(line);
      // The counter's values only: agent/self (first run within 5 s of the start) may be
      // spooled too, and its metrics (RSS in bytes...) would set an unreachable bar.
      if (result.value("name", "") != "count") continue;
      for (const auto& m : result["metrics"]) pending.insert(m["value"].get<long>());
    }
    const std::string head = sql(spool, "SELECT value FROM state WHERE key = 'head_seq'");
    if (head != "0" &&
        sql(collector.db(), "SELECT count(*) FROM batches WHERE seq = " + head) == "1") {
      ++replays;
    }
    agent->stop(SIGKILL);
    // The check in flight (at most one) ran without the agent: the gap it leaves is
    // allowed; a half-written spool is not.
  }
  const double duplicates_before =
      collector_metric(collector, viewer, "vigie_reports_duplicate_total");
  auto agent = start_agent(dir);
  INFO("agent log:\n" << agent->log());
  const long last_pending = pending.empty() ? 0 : *pending.rbegin();
  std::vector<long> values;
  REQUIRE(testing::eventually(
      [&] {
        values = delivered(collector, viewer, "count");
        return !values.empty() && values.back() > last_pending + 2;
      },
      30s));
  agent->stop(SIGTERM);
  values = delivered(collector, viewer, "count");

  // Stored once each, in order.
  CHECK(std::is_sorted(values.begin(), values.end()));
  CHECK(std::adjacent_find(values.begin(), values.end()) == values.end());
  // Everything unacknowledged at a kill arrived.
  const std::set<long> got(values.begin(), values.end());
  for (long v : pending) {
    INFO("value " << v);
    CHECK(got.count(v) == 1);
  }
  // Gaps only for the checks in flight at the kills.
  long missing = 0;
  for (long v = 1; v <= values.back(); ++v) missing += got.count(v) == 0 ? 1 : 0;
  CHECK(missing <= kKills);
  // Only a batch the collector had acknowledged when the agent died is sent again.
  const double duplicates = collector_metric(collector, viewer, "vigie_reports_duplicate_total");
  CHECK(duplicates - duplicates_before == replays);
  CHECK(duplicates == replays);
}

TEST_CASE("Agent: past the spool's bound the oldest results are dropped and counted exactly",
          "[agent-faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  write_counter(dir, "count", 3000);  // about 3 KB a result: 10 KB hold 3
  enroll(dir, collector);
  write_config(dir, collector, {.batch_max = 2, .retry_max = "1s", .spool = {{"max_mb", 0.01}}});
  auto agent = start_agent(dir);
  INFO("agent log:\n" << agent->log());
  REQUIRE(
      testing::eventually([&] { return delivered(collector, viewer, "count").size() >= 2; }, 20s));
  collector.stop(false);
  std::this_thread::sleep_for(8s);  // about 8 results for room for 3 (2 in flight kept)
  const long at_return = produced(dir, "count");
  collector.start();
  std::vector<long> values;
  REQUIRE(testing::eventually(
      [&] {
        values = delivered(collector, viewer, "count");
        return !values.empty() && values.back() >= at_return + 3;
      },
      30s));
  // Everything up to the last value delivered was delivered or dropped.
  const std::set<long> got(values.begin(), values.end());
  std::vector<long> missing;
  for (long v = 1; v <= values.back(); ++v) {
    if (got.count(v) == 0) missing.push_back(v);
  }
  CHECK(values.size() == got.size());  // nothing twice
  REQUIRE(missing.size() >= 2);
  // The oldest went: one run of consecutive values.
  CHECK(missing.back() - missing.front() + 1 == static_cast<long>(missing.size()));
  // agent/self ran once (within 5 s of the start, before the outage or during it): when
  // its result was among the oldest, it was dropped too, and counted.
  const auto checks = collector.get("/api/v1/checks", viewer);
  REQUIRE(checks.status == 200);
  const std::size_t self_dropped =
      checks.body.find("\"check\":\"agent/self\"") == std::string::npos ? 1 : 0;
  const std::size_t dropped = missing.size() + self_dropped;
  // The count the agent reports is exact, and is kept in the spool file.
  json row;
  REQUIRE(testing::eventually(
      [&] {
        row = agent_row(collector, viewer);
        return row.is_object() && row["spool_dropped"] == json(dropped);
      },
      10s));
  agent->stop(SIGTERM);
  CHECK(sql(dir / "state" / "spool.db", "SELECT value FROM state WHERE key = 'dropped'") ==
        std::to_string(dropped));
  CHECK_THAT(agent->log(), Catch::Contains("oldest results dropped"));
}

TEST_CASE("Agent: a large backlog is caught up in reports the collector accepts, none set apart",
          "[agent-faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  write_counter(dir, "count");
  enroll(dir, collector);
  write_config(dir, collector, {.batch_max = 500, .retry_max = "1s"});
  // What an outage leaves in the spool of an agent whose plugin prints much perfdata:
  // results of 256 metrics, 500 of which (batch_max) are more JSON values than the
  // collector reads in one report. Metric n numbers them.
  constexpr int kBacklog = 1200;
  {
    fs::create_directories(dir / "state");
    auto spool = agent::open_spool(dir / "state" / "spool.db");
    REQUIRE(spool.is_ok());
    const std::int64_t now = wall_ms();
    for (int i = 1; i <= kBacklog; ++i) {
      CheckResult r;
      r.name = "wide";
      r.check = "external:wide";
      r.status = State::kOk;
      r.summary = "run " + std::to_string(i);
      r.metrics.push_back({"n", static_cast<double>(i), "", {}, {}, {}, {}});
      for (int m = 1; m < 256; ++m) {
        r.metrics.push_back(
            {"m" + std::to_string(m), static_cast<double>(m), "B", {}, {}, 0.0, 1e12});
      }
      r.ts_ms = now - (kBacklog - i) * 500;
      r.duration_ms = 1;
      r.interval_s = 60;
      (*spool)->add(std::move(r));
    }
  }
  auto agent = start_agent(dir);
  std::vector<long> values;
  const bool caught_up = testing::eventually(
      [&] {
        values = delivered(collector, viewer, "wide");
        return values.size() >= kBacklog;
      },
      120s);
  INFO("agent log:\n" << agent->log());
  REQUIRE(caught_up);
  check_exactly_once_in_order(values);
  CHECK(values.size() == kBacklog);
  agent->stop(SIGTERM);
  const auto shown = run({VIGIE_AGENT_BIN, "spool", "--json", "--config",
                          (dir / "agent.json").string(), "--state-dir", (dir / "state").string()});
  INFO(shown.out << shown.err);
  const json spool = json::parse(shown.out, nullptr, false);
  REQUIRE(spool.is_object());
  CHECK(spool["quarantined"] == 0);
  CHECK_THAT(agent->log(), !Catch::Contains("REFUSED"));
}

TEST_CASE("Agent: a revoked token stops sending loudly until a new enrollment", "[agent-faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  auto agent = start_counting_agent(dir, collector, {.batch_max = 5, .retry_max = "1s"});
  INFO("agent log:\n" << agent->log());
  REQUIRE(
      testing::eventually([&] { return delivered(collector, viewer, "count").size() >= 2; }, 20s));
  const auto list = run({VIGIE_COLLECTOR_BIN, "token", "list", "--db", collector.db()});
  std::istringstream lines(list.out);
  std::string id;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string token_id, role, owner;
    if (fields >> token_id >> role >> owner && role == "agent" && owner == kAgent) id = token_id;
  }
  REQUIRE_FALSE(id.empty());
  REQUIRE(run({VIGIE_COLLECTOR_BIN, "token", "revoke", id, "--db", collector.db()}).exit_code == 0);

  REQUIRE(testing::eventually(
      [&] { return agent->log().find("REJECTS THIS AGENT'S TOKEN") != std::string::npos; }, 15s));
  const std::string batches = sql(collector.db(), "SELECT count(*) FROM batches");
  const auto log_size = agent->log().size();
  std::this_thread::sleep_for(3s);  // three retry_max periods: no retry at all
  CHECK(sql(collector.db(), "SELECT count(*) FROM batches") == batches);
  CHECK(agent->log().find("REJECTS", log_size) == std::string::npos);
  CHECK(agent->running());

  enroll(dir, collector);  // a technician enrolls the agent again
  const long now_produced = produced(dir, "count");
  std::vector<long> values;
  REQUIRE(testing::eventually(
      [&] {
        values = delivered(collector, viewer, "count");
        return !values.empty() && values.back() >= now_produced + 2;
      },
      30s));  // the token file is read again every 5 s
  check_exactly_once_in_order(values);
}

TEST_CASE("Agent: a collector that answers 429 with Retry-After gets everything later",
          "[agent-faults]") {
  testing::TempDir dir;
  // One report every 2 s for this agent; it sends every second.
  Collector collector(dir, {"--agent-rate", "0.5", "--agent-burst", "1"});
  const std::string viewer = collector.token("viewer");
  auto agent = start_counting_agent(dir, collector, {.batch_max = 20, .retry_max = "1s"});
  INFO("agent log:\n" << agent->log());
  REQUIRE(testing::eventually(
      [&] { return collector_metric(collector, viewer, "vigie_reports_rate_limited_total") >= 3; },
      30s));
  const long target = produced(dir, "count") + 3;
  std::vector<long> values;
  REQUIRE(testing::eventually(
      [&] {
        values = delivered(collector, viewer, "count");
        return !values.empty() && values.back() >= target;
      },
      30s));
  check_exactly_once_in_order(values);
  CHECK_THAT(agent->log(), Catch::Contains("HTTP 429") &&
                               Catch::Contains("as the collector asked (Retry-After)"));
  // Told to wait at least a second each time, the agent never asked again sooner: at
  // most one refusal per second it ran (the first report of each 2 s is taken).
  const double refused = collector_metric(collector, viewer, "vigie_reports_rate_limited_total");
  const double stored = collector_metric(collector, viewer, "vigie_reports_stored_total");
  CHECK(refused <= stored + 2);
}

TEST_CASE("Agent: a collector whose database is locked answers 503 then 500: nothing is lost",
          "[agent-faults]") {
  testing::TempDir dir;
  // A queue of 2 reports: with the writer stuck, the third is refused at once (503).
  Collector collector(dir, {"--max-queued-reports", "2"});
  const std::string viewer = collector.token("viewer");
  auto agent = start_counting_agent(dir, collector, {.batch_max = 5, .retry_max = "2s"});
  INFO("agent log:\n" << agent->log());
  REQUIRE(
      testing::eventually([&] { return delivered(collector, viewer, "count").size() >= 2; }, 20s));

  // Another process takes the database's write lock (as a maintenance script would) and
  // holds it past the collector's 5 s busy timeout: the waiting transaction fails (500)
  // and, while the writer waits, reports beyond the queue's bound are answered 503.
  sqlite3* lock = nullptr;
  REQUIRE(sqlite3_open(collector.db().c_str(), &lock) == SQLITE_OK);
  REQUIRE(sqlite3_exec(lock, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const bool refused = testing::eventually(
      [&] {
        return agent->log().find("HTTP 503") != std::string::npos &&
               agent->log().find("HTTP 500") != std::string::npos;
      },
      40s);
  REQUIRE(sqlite3_exec(lock, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(lock);
  REQUIRE(refused);
  CHECK(collector_metric(collector, viewer, "vigie_reports_refused_busy_total") >= 1);
  CHECK(collector_metric(collector, viewer, "vigie_commit_failures_total") >= 1);
  CHECK_THAT(agent->log(), Catch::Contains("as the collector asked (Retry-After)"));

  const long target = produced(dir, "count") + 3;
  std::vector<long> values;
  REQUIRE(testing::eventually(
      [&] {
        values = delivered(collector, viewer, "count");
        return !values.empty() && values.back() >= target;
      },
      60s));
  check_exactly_once_in_order(values);
  CHECK(collector.child().running());
}

TEST_CASE("Agent: a collector whose certificate is from another CA gets nothing",
          "[agent-faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  REQUIRE(run({std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs", (dir / "other").string()})
              .exit_code == 0);
  auto agent = start_counting_agent(
      dir, collector,
      {.batch_max = 5, .retry_max = "1s", .ca_file = (dir / "other/ca.crt").string()});
  INFO("agent log:\n" << agent->log());
  REQUIRE(testing::eventually([&] { return agent->log().find("certificate") != std::string::npos; },
                              20s));
  std::this_thread::sleep_for(1s);
  CHECK(sql(collector.db(), "SELECT count(*) FROM batches") == "0");
  CHECK(agent->running());
  // Kept: once the right CA is configured they all go.
  agent->stop(SIGTERM);
  CHECK(std::stol(sql(dir / "state" / "spool.db", "SELECT count(*) FROM results")) >= 2);
}

TEST_CASE("Agent: a corrupt spool file is moved aside and the agent goes on", "[agent-faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  write_counter(dir, "count");
  enroll(dir, collector);
  write_config(dir, collector, {.batch_max = 5, .retry_max = "1s"});
  fs::create_directories(dir / "state");
  {
    std::ofstream out(dir / "state" / "spool.db");
    out << "SQLite format 3" << std::string(4000, '\x7f');
  }
  auto agent = start_agent(dir);
  INFO("agent log:\n" << agent->log());
  REQUIRE(
      testing::eventually([&] { return delivered(collector, viewer, "count").size() >= 2; }, 20s));
  CHECK_THAT(agent->log(), Catch::Contains("is corrupt"));
  CHECK_THAT(agent->log(),
             Catch::Contains("moved aside to " + (dir / "state").string() + "/spool.db.corrupt-"));
  bool aside = false;
  for (const auto& e : fs::directory_iterator(dir / "state")) {
    aside |= e.path().filename().string().starts_with("spool.db.corrupt-");
  }
  CHECK(aside);
}

TEST_CASE("Agent: a collector that asks for a client certificate gets results only with one",
          "[agent-faults]") {
  testing::TempDir dir;
  Collector collector(dir, {"--tls-client-ca", (dir / "tls/ca.crt").string()});
  REQUIRE(run({std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs", (dir / "other").string()})
              .exit_code == 0);
  write_counter(dir, "count");
  const auto batches = [&] { return sql(collector.db(), "SELECT count(*) FROM batches"); };

  // Without a certificate the handshake is refused: no HTTP at all.
  const auto bare =
      testing::http_request("GET", collector.url() + "/api/v1/overview", {}, {}, collector.ca());
  CHECK(bare.status == 0);

  // The agent enrolls and sends with the certificate the collector's CA signed.
  write_config(dir, collector,
               {.batch_max = 5,
                .retry_max = "1s",
                .client_cert = (dir / "tls/client.crt").string(),
                .client_key = (dir / "tls/client.key").string()});
  const auto enrolled = run({VIGIE_AGENT_BIN, "enroll", "--config", (dir / "agent.json").string(),
                             "--enroll-token", collector.enroll_token(kSite)});
  INFO(enrolled.err);
  REQUIRE(enrolled.exit_code == 0);
  {
    auto agent = start_agent(dir);
    INFO("agent log:\n" << agent->log());
    REQUIRE(testing::eventually([&] { return batches() != "0"; }, 20s));
  }

  // A certificate of another CA, then none: refused, the results wait in the spool.
  for (const bool other : {true, false}) {
    INFO((other ? "another CA's certificate" : "no certificate"));
    AgentSetup setup{.batch_max = 5, .retry_max = "1s"};
    if (other) {
      setup.client_cert = (dir / "other/client.crt").string();
      setup.client_key = (dir / "other/client.key").string();
    }
    write_config(dir, collector, setup);
    const std::string before = batches();
    const std::size_t log_start =
        fs::exists(dir / "agent.log") ? fs::file_size(dir / "agent.log") : 0;
    auto agent = start_agent(dir);
    INFO("agent log:\n" << agent->log());
    REQUIRE(testing::eventually(
        [&] { return agent->log().find("failed", log_start) != std::string::npos; }, 20s));
    std::this_thread::sleep_for(1500ms);
    CHECK(batches() == before);
    agent->stop(SIGTERM);
    CHECK(std::stol(sql(dir / "state" / "spool.db", "SELECT count(*) FROM results")) >= 1);
  }
}

// A file's bytes and modification time, to tell whether anything wrote to it.
struct FileState {
  std::string bytes;
  fs::file_time_type mtime;
  bool operator==(const FileState&) const = default;
};

FileState file_state(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return {bytes.str(), fs::last_write_time(path)};
}

TEST_CASE("Agent: vigie-agent spool beside the agent opens the spool read-only", "[agent-faults]") {
  testing::TempDir dir;
  write_counter(dir, "count");
  dir.write_secret("agent.token", "vga_read_only_test\n");
  // No collector (a closed port) and one run an hour: after its first result and the
  // batch made of it, the agent writes nothing more to its spool.
  const json config = {{"agent", {{"id", kAgent}, {"site", kSite}}},
                       {"collector",
                        {{"url", "https://127.0.0.1:1"},
                         {"token_file", (dir / "agent.token").string()},
                         {"send_interval", "1s"},
                         {"retry_max", "1h"}}},
                       {"defaults", {{"interval", "1h"}, {"timeout", "1s"}}},
                       {"checks",
                        {{{"name", "count"},
                          {"type", "external"},
                          {"splay", "0s"},
                          {"command", {(dir / "count.sh").string()}}}}}};
  dir.write("agent.json", config.dump(2));
  auto agent = start_agent(dir);
  INFO("agent log:\n" << agent->log());
  const fs::path spool = dir / "state" / "spool.db";
  const fs::path wal = dir / "state" / "spool.db-wal";
  REQUIRE(testing::eventually([&] { return agent->log().find("127.0.0.1:1") != std::string::npos; },
                              20s));
  std::this_thread::sleep_for(1500ms);  // the batch handed out after the first failure
  REQUIRE(produced(dir, "count") == 1);
  REQUIRE(fs::exists(wal));

  const auto look = [&] {
    const auto shown =
        run({VIGIE_AGENT_BIN, "spool", "--json", "--config", (dir / "agent.json").string(),
             "--state-dir", (dir / "state").string()});
    INFO(shown.out << shown.err);
    REQUIRE(shown.exit_code == 0);
    const json parsed = json::parse(shown.out, nullptr, false);
    REQUIRE(parsed.is_object());
    CHECK(parsed["depth"] >= 1);  // its result, and what the agent adds of its own
  };
  {
    const FileState before = file_state(spool);
    const FileState wal_before = file_state(wal);
    std::this_thread::sleep_for(20ms);  // a write now would show in the mtime
    look();
    CHECK(file_state(spool) == before);
    CHECK(file_state(wal) == wal_before);
    CHECK(agent->running());
  }
  // The agent killed, its WAL left behind: looking must not checkpoint it into the file
  // (the last connection to close does) nor remove it.
  agent->stop(SIGKILL);
  {
    const FileState before = file_state(spool);
    const FileState wal_before = file_state(wal);
    std::this_thread::sleep_for(20ms);
    look();
    CHECK(file_state(spool) == before);
    REQUIRE(fs::exists(wal));
    CHECK(file_state(wal) == wal_before);
  }
  // --clear-quarantine is the one option that writes: it works on that spool too.
  const auto cleared =
      run({VIGIE_AGENT_BIN, "spool", "--clear-quarantine", "--config",
           (dir / "agent.json").string(), "--state-dir", (dir / "state").string()});
  CHECK(cleared.exit_code == 0);
  CHECK_THAT(cleared.err, Catch::Contains("quarantine cleared: 0 results forgotten"));
}

}  // namespace
}  // namespace vigie
