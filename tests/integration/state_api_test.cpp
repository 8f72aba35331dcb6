// The live query API over real HTTPS: what each role may do, the events long-poll,
// acknowledgements and downtimes with their audit trail, and /metrics as Prometheus
// itself reads it (promtool).

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::Collector;
using testing::HttpReply;

json report(const std::string& agent, std::uint64_t seq, int status) {
  return {{"protocol", 1},
          {"agent", {{"id", agent}, {"site", "mairie"}}},
          {"seq", seq},
          {"sent", wall_ms()},
          {"spool", {{"depth", 1}, {"oldest", wall_ms()}, {"dropped", 0}}},
          {"results",
           {{{"name", "backup"},
             {"check", "backup/restic:/srv"},
             {"status", status},
             {"summary", status == 0 ? "last snapshot 2h ago" : "last snapshot 3 days ago"},
             {"ts", wall_ms()},
             {"duration_ms", 12},
             {"interval_s", 60},
             {"max_attempts", 1}}}}};
}

json body_of(const HttpReply& reply) {
  INFO(reply.status << " " << reply.body << reply.error);
  auto j = json::parse(reply.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

struct Setup {
  testing::TempDir dir;
  Collector collector{dir};
  std::string agent = collector.enroll("mairie-01", "mairie");
  std::string viewer = collector.token("viewer");
  std::string operator_ = collector.token("operator");
  std::uint64_t seq = 0;

  void send(int status) {
    const HttpReply r =
        collector.post("/api/v1/reports", report("mairie-01", ++seq, status).dump(), agent);
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
};

TEST_CASE("State API: each route lets each role do what it may, and no more", "[state-api]") {
  Setup s;
  s.send(2);
  const std::string check = "agent=mairie-01&check=backup/restic:/srv";
  const std::vector<std::string> reads = {"/api/v1/overview",
                                          "/api/v1/checks",
                                          "/api/v1/problems",
                                          "/api/v1/check?" + check,
                                          "/api/v1/sites",
                                          "/api/v1/site?name=mairie",
                                          "/api/v1/agents",
                                          "/api/v1/downtimes",
                                          "/api/v1/events?after=0&timeout=0s",
                                          "/metrics"};
  for (const auto& path : reads) {
    INFO(path);
    CHECK(s.collector.get(path, s.viewer).status == 200);
    CHECK(s.collector.get(path, s.operator_).status == 200);
    CHECK(s.collector.get(path, s.agent).status == 403);  // an agent only reports
    CHECK(s.collector.get(path, "").status == 401);
  }
  const json ack = {{"agent", "mairie-01"}, {"check", "backup/restic:/srv"}, {"comment", "x"}};
  const json downtime = {{"site", "mairie"}, {"duration", "1h"}, {"comment", "works"}};
  CHECK(s.collector.call("POST", "/api/v1/acks", s.viewer, ack.dump()).status == 403);
  CHECK(s.collector.call("DELETE", "/api/v1/acks?" + check, s.viewer).status == 403);
  CHECK(s.collector.call("POST", "/api/v1/downtimes", s.viewer, downtime.dump()).status == 403);
  CHECK(s.collector.call("DELETE", "/api/v1/downtimes?id=1", s.viewer).status == 403);
  CHECK(s.collector.get("/api/v1/audit", s.viewer).status == 403);

  // The site's view has the check, its agent's health, and what the agent said.
  const json site = body_of(s.collector.get("/api/v1/site?name=mairie", s.viewer));
  CHECK(site["state"] == "CRITICAL");
  CHECK(site["families"]["backup"] == "CRITICAL");
  REQUIRE(site["agent_list"].size() == 1);
  CHECK(site["agent_list"][0]["spool_depth"] == 1);
  CHECK(site["agent_list"][0]["clock_skew_ms"].is_number());
  CHECK(std::abs(site["agent_list"][0]["clock_skew_ms"].get<std::int64_t>()) < 60'000);
  CHECK(s.collector.get("/api/v1/site?name=nowhere", s.viewer).status == 404);
  const json one = body_of(s.collector.get("/api/v1/check?" + check, s.viewer));
  CHECK(one["hard_state"] == "CRITICAL");
  REQUIRE_FALSE(one["history"].empty());
  CHECK(one["history"][0]["to"] == "CRITICAL");
}

TEST_CASE("State API: acknowledgements and downtimes, with who did it and why", "[state-api]") {
  Setup s;
  s.send(2);
  const json ack = {{"agent", "mairie-01"},
                    {"check", "backup/restic:/srv"},
                    {"comment", "NAS disk replaced, rerunning"},
                    {"expires", "4h"}};
  const HttpReply acked = s.collector.call("POST", "/api/v1/acks", s.operator_, ack.dump());
  REQUIRE(acked.status == 200);
  CHECK(body_of(acked)["ack"]["comment"] == "NAS disk replaced, rerunning");

  // Bad requests name the problem.
  const HttpReply no_comment =
      s.collector.call("POST", "/api/v1/acks", s.operator_,
                       json{{"agent", "mairie-01"}, {"check", "backup/restic:/srv"}}.dump());
  CHECK(no_comment.status == 400);
  CHECK_THAT(no_comment.body, Catch::Contains("comment"));
  CHECK(s.collector
            .call("POST", "/api/v1/acks", s.operator_,
                  json{{"agent", "mairie-01"}, {"check", "nope"}, {"comment", "x"}}.dump())
            .status == 404);

  const json problems = body_of(s.collector.get("/api/v1/problems", s.viewer));
  REQUIRE(problems["checks"].size() == 1);
  CHECK(problems["checks"][0]["ack"]["comment"] == "NAS disk replaced, rerunning");

  const json weekly = {
      {"site", "mairie"},
      {"comment", "nightly backup window"},
      {"weekly", {{"days", "daily"}, {"at", "01:00"}, {"time_zone", "Europe/Paris"}}},
      {"duration", "3h"}};
  const HttpReply created =
      s.collector.call("POST", "/api/v1/downtimes", s.operator_, weekly.dump());
  REQUIRE(created.status == 201);
  const json d = body_of(created);
  CHECK(d["weekly"]["days"] == "mon,tue,wed,thu,fri,sat,sun");
  const HttpReply bad_zone = s.collector.call(
      "POST", "/api/v1/downtimes", s.operator_,
      json{{"site", "mairie"},
           {"comment", "x"},
           {"duration", "1h"},
           {"weekly", {{"days", "mon"}, {"at", "01:00"}, {"time_zone", "Mars/Base"}}}}
          .dump());
  CHECK(bad_zone.status == 400);
  CHECK_THAT(bad_zone.body, Catch::Contains("time zone"));

  const std::string id = std::to_string(d["id"].get<std::int64_t>());
  CHECK(s.collector.call("DELETE", "/api/v1/downtimes?id=" + id, s.operator_).status == 200);
  CHECK(s.collector.call("DELETE", "/api/v1/downtimes?id=999", s.operator_).status == 404);
  CHECK(s.collector
            .call("DELETE", "/api/v1/acks?agent=mairie-01&check=backup/restic:/srv", s.operator_)
            .status == 200);

  const json audit = body_of(s.collector.get("/api/v1/audit", s.operator_));
  std::vector<std::string> actions;
  for (const auto& e : audit["audit"]) {
    actions.push_back(e["action"]);
    CHECK_FALSE(e["author"].get<std::string>().empty());
  }
  REQUIRE(actions.size() == 4);
  CHECK(actions[0] == "acknowledge");
  CHECK(actions[1] == "downtime " + id);
  CHECK(actions[2] == "delete downtime " + id);
  CHECK(actions[3] == "unacknowledge");
  CHECK(audit["audit"][0]["comment"].get<std::string>().find("NAS disk") != std::string::npos);
}

TEST_CASE("State API: the events long-poll answers within a second of a change", "[state-api]") {
  Setup s;
  s.send(0);
  const std::int64_t cursor = body_of(s.collector.get("/api/v1/overview", s.viewer))["cursor"];

  std::atomic<bool> answered{false};
  HttpReply reply;
  Clock::time_point answered_at;
  std::thread poll([&] {
    reply = s.collector.get("/api/v1/events?after=" + std::to_string(cursor) + "&timeout=20s",
                            s.viewer);
    answered_at = Clock::now();
    answered = true;
  });
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(answered);  // nothing happened yet: it waits
  const auto changed_at = Clock::now();
  s.send(2);  // OK -> CRITICAL, hard at once (max_attempts 1)
  poll.join();
  REQUIRE(reply.status == 200);
  CHECK(answered_at - changed_at < 1s);
  const json events = body_of(reply);
  REQUIRE_FALSE(events["events"].empty());
  CHECK(events["events"][0]["to"] == "CRITICAL");
  CHECK(events["events"][0]["notify"] == true);
  CHECK(events["cursor"] == events["events"].back()["id"]);

  // Nothing new: an empty answer at the limit, with the same cursor.
  const auto started = Clock::now();
  const HttpReply idle = s.collector.get(
      "/api/v1/events?after=" + std::to_string(events["cursor"].get<std::int64_t>()) +
          "&timeout=1500ms",
      s.viewer);
  const auto waited = Clock::now() - started;
  REQUIRE(idle.status == 200);
  CHECK(body_of(idle)["events"].empty());
  CHECK(body_of(idle)["cursor"] == events["cursor"]);
  CHECK(waited >= 1400ms);
  CHECK(waited < 3s);

  CHECK(s.collector.get("/api/v1/events?after=x", s.viewer).status == 400);
}

TEST_CASE("State API: /metrics is valid Prometheus text with the ingest figures", "[state-api]") {
  Setup s;
  s.send(0);
  s.send(2);
  const HttpReply metrics = s.collector.get("/metrics", s.viewer);
  REQUIRE(metrics.status == 200);
  const auto file = s.dir.write("metrics.txt", metrics.body);
  // promtool (Debian's prometheus package) parses and lints it as Prometheus does.
  auto checked = testing::run({"/bin/sh", "-c", "promtool check metrics < " + file.string()});
  INFO(checked.out << checked.err << metrics.body);
  CHECK(checked.exit_code == 0);
  CHECK_THAT(metrics.body, Catch::Contains("vigie_results_stored_total 2"));
  CHECK_THAT(metrics.body, Catch::Contains("vigie_checks{state=\"CRITICAL\"} 1"));
  CHECK_THAT(metrics.body, Catch::Contains("vigie_writer_queue_depth"));
  // The two reports' commits at least; a housekeeping slice once a second.
  CHECK_THAT(metrics.body, Catch::Contains("vigie_commit_seconds_bucket{le=\"+Inf\"}"));
  CHECK_THAT(metrics.body, Catch::Contains("vigie_housekeeping_seconds_bucket{le=\"0.001\"}"));
  CHECK_THAT(metrics.body, Catch::Contains("# TYPE vigie_housekeeping_seconds histogram"));
  const auto commits = metrics.body.find("vigie_commit_seconds_count ");
  REQUIRE(commits != std::string::npos);
  CHECK(std::stoull(metrics.body.substr(commits + 27)) >= 2);
  CHECK_THAT(metrics.body, Catch::Contains("vigie_database_bytes"));
  CHECK_THAT(
      metrics.body,
      Catch::Contains("vigie_http_request_duration_seconds_bucket{route=\"/api/v1/reports\""));
}

}  // namespace
}  // namespace vigie
