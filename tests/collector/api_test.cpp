#include "collector/api.hpp"

#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "common/gzip.hpp"
#include "tests/collector/backends.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;

json valid_report(std::uint64_t seq = 1) {
  return {
      {"protocol", 1},
      {"agent", {{"id", "mairie-01"}, {"site", "onesse"}, {"hostname", "h"}, {"version", "0.1"}}},
      {"seq", seq},
      {"results",
       {{{"name", "load"},
         {"check", "system/load"},
         {"status", 1},
         {"summary", "load high"},
         {"max_attempts", 1},
         {"metrics", {{{"name", "load1"}, {"value", 3.5}, {"warn", "3"}, {"crit", "6"}}}},
         {"ts", 1'700'000'000'000},
         {"duration_ms", 4},
         {"interval_s", 60}},
        {{"name", "disk"},
         {"check", "system/disk:/"},
         {"status", 0},
         {"summary", "/ 40% used"},
         {"metrics", json::array()},
         {"ts", 1'700'000'000'000},
         {"duration_ms", 1},
         {"interval_s", 60}}}}};
}

// Runs one request through the Api and waits for its single response.
class Fixture {
 public:
  explicit Fixture(const testing::TestBackend& backend,
                   std::size_t max_checks = ApiOptions{}.max_checks_per_agent,
                   std::int64_t max_series = SqliteOptions{}.max_series_per_agent) {
    // The storage on the API's clock too: on the wall clock, its housekeeping (a second
    // after it opens) would find this 2023 data past every retention and delete it.
    auto s = backend.open({.now_ms = [] { return kNow; }, .max_series_per_agent = max_series});
    REQUIRE(s.is_ok());
    storage_ = std::move(*s);
    auto m = Monitor::open(*storage_, {.now_ms = [] { return kNow; }, .run_thread = false});
    REQUIRE(m.is_ok());
    monitor_ = std::move(*m);
    api_ = std::make_unique<Api>(
        *storage_, *monitor_,
        ApiOptions{.now_ms = [] { return kNow; }, .max_checks_per_agent = max_checks});
    agent_token_ = add_token({.role = Role::kAgent, .agent = "mairie-01", .site = "onesse"});
    viewer_token_ = add_token({.role = Role::kViewer});
  }

  static constexpr std::int64_t kNow = 1'700'000'001'000;
  std::string peer = "127.0.0.1:40000";  // where requests come from

  std::string add_token(TokenRecord record) {
    const std::string secret = new_secret(record.role);
    record.created_ms = kNow;
    REQUIRE(storage_->add_token(record, hash_secret(secret)).is_ok());
    return secret;
  }
  Storage& storage() { return *storage_; }

  // A request with the token that fits the path: the agent's for reports, the
  // viewer's for the rest; `token` overrides it ("" sends none).
  HttpResponse call(std::string method, std::string path, std::string body = {},
                    std::string encoding = {}, std::optional<std::string> token = {}) {
    HttpRequest request;
    if (!token) token = path == "/api/v1/reports" ? agent_token_ : viewer_token_;
    if (!token->empty()) request.authorization = "Bearer " + *token;
    request.method = std::move(method);
    split_target(path, request.path, request.query);
    request.body = std::move(body);
    request.content_encoding = std::move(encoding);
    request.peer = peer;
    std::promise<HttpResponse> promise;
    auto future = promise.get_future();
    int calls = 0;
    api_->handle(request, [&](HttpResponse r) {
      ++calls;
      promise.set_value(std::move(r));
    });
    REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    auto response = future.get();
    CHECK(calls == 1);
    return response;
  }

  // The checks agents reported (without each agent's heartbeat row).
  json checks() {
    auto r = call("GET", "/api/v1/checks");
    REQUIRE(r.status == 200);
    json out = json::array();
    const json body = json::parse(r.body);
    for (const auto& row : body["checks"]) {
      if (row["check"] != "vigie/heartbeat") out.push_back(row);
    }
    return out;
  }

 private:
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<Api> api_;
  std::string agent_token_;
  std::string viewer_token_;
};

TEST_CASE("Api: a valid report is stored and listed", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  auto r = f.call("POST", "/api/v1/reports", valid_report().dump());
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body) == json{{"status", "stored"}, {"results", 2}});

  const json checks = f.checks();
  REQUIRE(checks.size() == 2);
  CHECK(checks[0]["check"] == "system/load");  // WARNING sorts before OK
  CHECK(checks[0]["state"] == "WARNING");
  CHECK(checks[0]["site"] == "onesse");
  CHECK(checks[0]["agent"] == "mairie-01");
  CHECK(checks[0]["received"] == Fixture::kNow);
  CHECK(checks[0]["metrics"][0]["name"] == "load1");
  CHECK(checks[0]["metrics"][0]["warn"] == "3");
  CHECK(checks[1]["check"] == "system/disk:/");
}

TEST_CASE("Api: problems lists only non-OK checks", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  REQUIRE(f.call("POST", "/api/v1/reports", valid_report().dump()).status == 200);
  auto r = f.call("GET", "/api/v1/problems");
  REQUIRE(r.status == 200);
  const json problems = json::parse(r.body)["checks"];
  REQUIRE(problems.size() == 1);
  CHECK(problems[0]["name"] == "load");
}

TEST_CASE("Api: a replayed (agent, seq) is answered with success and stored once", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  REQUIRE(f.call("POST", "/api/v1/reports", valid_report(7).dump()).status == 200);
  json replay = valid_report(7);
  replay["results"][0]["summary"] = "changed by a replay";
  replay["results"][0]["ts"] = 1'700'000'060'000;
  auto r = f.call("POST", "/api/v1/reports", replay.dump());
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["status"] == "duplicate");
  CHECK(f.checks()[0]["summary"] == "load high");
}

TEST_CASE("Api: gzip bodies are accepted", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  auto r = f.call("POST", "/api/v1/reports", gzip_compress(valid_report().dump()), "gzip");
  CHECK(r.status == 200);
  CHECK(f.checks().size() == 2);
}

TEST_CASE("Api: bad input gets a 4xx naming the problem and stores nothing", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  struct Case {
    std::string name;
    std::string body;
    std::string encoding;
    int status;
    std::string mentions;
  };
  json wrong_type = valid_report();
  wrong_type["results"][1]["status"] = "ok";
  json missing = valid_report();
  missing["agent"].erase("id");
  json version = valid_report();
  version["protocol"] = 99;
  const std::vector<Case> cases = {
      {"malformed JSON", "{\"protocol\": 1,", "", 400, "malformed JSON"},
      {"mistyped field in the second result", wrong_type.dump(), "", 400, "results[1].status"},
      {"missing field", missing.dump(), "", 400, "agent.id"},
      {"unknown protocol version", version.dump(), "", 400, "protocol"},
      {"corrupt gzip", "not gzip at all", "gzip", 400, "gzip"},
      {"unknown encoding", valid_report().dump(), "br", 415, "Content-Encoding"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = f.call("POST", "/api/v1/reports", c.body, c.encoding);
    CHECK(r.status == c.status);
    const json error = json::parse(r.body);
    CHECK_THAT(error["error"].get<std::string>(), Catch::Contains(c.mentions));
  }
  json bad_metric = valid_report();
  bad_metric["results"][0]["metrics"][0]["unit"] = "parsecs";
  const json error = json::parse(f.call("POST", "/api/v1/reports", bad_metric.dump()).body);
  CHECK(error["field"] == "results[0].metrics[0].unit");
  CHECK(f.checks().empty());
}

TEST_CASE("Api: a result more than 5 minutes ahead of the collector's clock is refused",
          "[api][clock]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  json ahead = valid_report(1);
  ahead["results"][1]["ts"] = Fixture::kNow + 10 * 60'000;
  auto r = f.call("POST", "/api/v1/reports", ahead.dump());
  REQUIRE(r.status == 400);
  const json error = json::parse(r.body);
  CHECK(error["field"] == "results[1].ts");
  CHECK(error["skew_ms"] == 10 * 60'000);
  CHECK_THAT(error["error"].get<std::string>(),
             Catch::StartsWith("results[1].ts: 10m 00s ahead of the collector's clock"));
  CHECK(f.checks().empty());  // nothing of the batch stored

  json close = valid_report(2);
  close["results"][1]["ts"] = Fixture::kNow + 4 * 60'000;  // a clock a little fast: fine
  CHECK(f.call("POST", "/api/v1/reports", close.dump()).status == 200);
  CHECK(f.checks().size() == 2);
}

TEST_CASE("Api: control characters in a summary are stored harmless", "[api][text]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  json hostile = valid_report(1);
  hostile["results"][0]["summary"] = "disk full\r\nBcc: x@example.org\x1b[2J\x07 end";
  hostile["results"][0]["details"] = "line 1\r\nline 2\rline 3\n\x1b]0;title\x07";
  REQUIRE(f.call("POST", "/api/v1/reports", hostile.dump()).status == 200);
  const json checks = f.checks();
  REQUIRE(checks.size() == 2);
  CHECK(checks[0]["summary"] == "disk full Bcc: x@example.org\xEF\xBF\xBD[2J\xEF\xBF\xBD end");
  CHECK(checks[0]["details"] == "line 1\nline 2\nline 3\n\xEF\xBF\xBD]0;title\xEF\xBF\xBD");
}

TEST_CASE("Api: one agent cannot create more checks or series than the limits", "[api][limits]") {
  VIGIE_EACH_BACKEND(backend);
  const auto with_checks = [](std::uint64_t seq, int first, int count) {
    json r = valid_report(seq);
    json one = r["results"][0];
    r["results"] = json::array();
    for (int i = first; i < first + count; ++i) {
      one["check"] = "external:c" + std::to_string(i);
      one["metrics"][0]["name"] = "m" + std::to_string(i);
      r["results"].push_back(one);
    }
    return r;
  };
  {
    Fixture f(backend, /*max_checks=*/5);  // the agent's heartbeat row counts as one
    REQUIRE(f.call("POST", "/api/v1/reports", with_checks(1, 0, 4).dump()).status == 200);
    auto r = f.call("POST", "/api/v1/reports", with_checks(2, 3, 3).dump());
    CHECK(r.status == 413);
    CHECK_THAT(json::parse(r.body)["error"].get<std::string>(),
               Catch::StartsWith("results[1].check: agent \"mairie-01\" would have 7 checks, "
                                 "more than the limit of 5 (--max-checks-per-agent)"));
    CHECK(f.checks().size() == 4);  // nothing of the refused report
    CHECK(f.call("POST", "/api/v1/reports", with_checks(3, 0, 4).dump()).status == 200);
  }
  {
    testing::TestBackend fresh(backend.kind());  // a database of its own
    Fixture f(fresh, 0, /*max_series=*/3);
    REQUIRE(f.call("POST", "/api/v1/reports", with_checks(1, 0, 3).dump()).status == 200);
    json more = with_checks(2, 0, 3);
    more["results"][2]["metrics"].push_back({{"name", "extra"}, {"value", 1}});
    auto r = f.call("POST", "/api/v1/reports", more.dump());
    CHECK(r.status == 413);
    CHECK_THAT(json::parse(r.body)["error"].get<std::string>(),
               Catch::StartsWith("results[2].metrics[1]: a new series \"extra\" of external:c2: "
                                 "this agent has 3 series, the limit (--max-series-per-agent)"));
    // The refused report left no trace: sent again within the limit, it is stored, not
    // taken for a replay.
    auto again = f.call("POST", "/api/v1/reports", with_checks(2, 0, 3).dump());
    CHECK(again.status == 200);
    CHECK(json::parse(again.body).value("status", "") != "duplicate");
    // Known series still take samples.
    CHECK(f.call("POST", "/api/v1/reports", with_checks(3, 0, 3).dump()).status == 200);
  }
}

TEST_CASE("Api: times and durations that would overflow are refused with 400", "[api][limits]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  REQUIRE(f.call("POST", "/api/v1/reports", valid_report().dump()).status == 200);
  const std::string operator_token = f.add_token({.role = Role::kOperator});
  const std::string series = "/api/v1/series?agent=mairie-01&check=system/load&metric=load1";
  for (const std::string& query :
       {std::string("&from=-9223372036854775808"), std::string("&to=9223372036854775807"),
        std::string("&from=106751991167d")}) {
    INFO(query);
    const auto r = f.call("GET", series + query);
    CHECK(r.status == 400);
  }
  const auto post = [&](const std::string& path, const json& body) {
    return f.call("POST", path, body.dump(), "", operator_token);
  };
  CHECK(post("/api/v1/downtimes", {{"site", "onesse"}, {"duration", "106751991167d"}}).status ==
        400);
  CHECK(post("/api/v1/downtimes", {{"site", "onesse"}, {"end", 9223372036854775807LL}}).status ==
        400);
  CHECK(post("/api/v1/downtimes",
             {{"site", "onesse"},
              {"duration", "8d"},
              {"weekly", {{"days", "mon"}, {"at", "22:00"}, {"time_zone", "UTC"}}}})
            .status == 400);
  CHECK(post("/api/v1/acks", {{"agent", "mairie-01"},
                              {"check", "system/load"},
                              {"comment", "x"},
                              {"expires", "106751991167d"}})
            .status == 400);
  // A start in 9999 and a long duration: an end past the last time the API takes.
  const auto late = post(
      "/api/v1/downtimes",
      {{"site", "onesse"}, {"comment", "x"}, {"start", 253402300799999LL}, {"duration", "5200w"}});
  CHECK(late.status == 400);
  CHECK_THAT(late.body, Catch::Contains("\"field\":\"duration\""));
  // Sensible ones still work.
  CHECK(post("/api/v1/downtimes", {{"site", "onesse"}, {"duration", "2h"}, {"comment", "x"}})
            .status == 201);
}

TEST_CASE("Api: a gzip bomb is refused with 413", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  // 64 MiB of one byte compress to ~64 KiB: past the 32 MiB inflated limit.
  const std::string bomb = gzip_compress(std::string(64 * 1024 * 1024, ' '));
  auto r = f.call("POST", "/api/v1/reports", bomb, "gzip");
  CHECK(r.status == 413);
  CHECK(f.checks().empty());
}

TEST_CASE("Api: unknown paths are 404 and wrong methods 405", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  CHECK(f.call("GET", "/api/v1/nothing").status == 404);
  CHECK(f.call("DELETE", "/api/v1/checks").status == 405);
  CHECK(f.call("GET", "/healthz").status == 200);
}

}  // namespace
}  // namespace vigie::collector

namespace vigie::collector {
namespace {

TEST_CASE("Api: every route but health and enroll needs a valid token", "[api][auth]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  const std::string body = valid_report().dump();
  CHECK(f.call("POST", "/api/v1/reports", body, "", "").status == 401);
  CHECK(f.call("POST", "/api/v1/reports", body, "", "vga_0000").status == 401);
  CHECK(f.call("GET", "/api/v1/checks", "", "", "").status == 401);
  CHECK(f.call("GET", "/api/v1/problems", "", "", "not-a-token").status == 401);
  CHECK(f.call("GET", "/healthz", "", "", "").status == 200);
}

TEST_CASE("Api: roles are enforced per route", "[api][auth]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  const std::string viewer = f.add_token({.role = Role::kViewer});
  const std::string admin = f.add_token({.role = Role::kAdmin});
  const std::string agent =
      f.add_token({.role = Role::kAgent, .agent = "mairie-01", .site = "onesse"});
  // A technician's token cannot post results; an agent's cannot read the API.
  auto r = f.call("POST", "/api/v1/reports", valid_report().dump(), "", admin);
  CHECK(r.status == 403);
  CHECK_THAT(json::parse(r.body)["error"].get<std::string>(), Catch::Contains("agent"));
  CHECK(f.call("GET", "/api/v1/checks", "", "", agent).status == 403);
  CHECK(f.call("GET", "/api/v1/checks", "", "", viewer).status == 200);
  CHECK(f.call("GET", "/api/v1/checks", "", "", admin).status == 200);
}

TEST_CASE("Api: an agent token reports only for its own agent id", "[api][auth]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  json other = valid_report();
  other["agent"]["id"] = "someone-else";
  auto r = f.call("POST", "/api/v1/reports", other.dump());
  CHECK(r.status == 403);
  CHECK_THAT(json::parse(r.body)["error"].get<std::string>(), Catch::Contains("someone-else"));
  CHECK(f.checks().empty());
}

TEST_CASE("Api: revoked and expired tokens are refused", "[api][auth]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  const std::string expired = f.add_token({.role = Role::kViewer, .expires_ms = Fixture::kNow - 1});
  CHECK(f.call("GET", "/api/v1/checks", "", "", expired).status == 401);

  const std::string revoked = f.add_token({.role = Role::kViewer});
  auto tokens = f.storage().list_tokens();
  REQUIRE(tokens.is_ok());
  REQUIRE(f.storage().revoke_token(tokens->back().id, Fixture::kNow).is_ok());
  auto r = f.call("GET", "/api/v1/checks", "", "", revoked);
  CHECK(r.status == 401);
  CHECK_THAT(json::parse(r.body)["error"].get<std::string>(), Catch::Contains("revoked"));
}

TEST_CASE("Api: enrollment attempts are rate-limited per source address", "[api][auth]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  const json request = {{"agent", {{"id", "mairie-02"}, {"site", "onesse"}}}};
  f.peer = "203.0.113.5:4000";
  for (int i = 0; i < 30; ++i) {  // a burst of 30: answered (the guesses are wrong)
    f.peer = "203.0.113.5:" + std::to_string(4000 + i);
    CHECK(f.call("POST", "/api/v1/enroll", request.dump(), "", "vge_guess").status == 401);
  }
  const auto refused = f.call("POST", "/api/v1/enroll", request.dump(), "", "vge_guess");
  CHECK(refused.status == 429);
  CHECK(refused.headers.at("Retry-After") == "1");
  CHECK_THAT(json::parse(refused.body)["error"].get<std::string>(),
             Catch::Contains("too many enrollment attempts from 203.0.113.5"));
  // Another address is not held back by that one.
  f.peer = "[2001:db8::7]:5000";
  CHECK(f.call("POST", "/api/v1/enroll", request.dump(), "", "vge_guess").status == 401);
}

TEST_CASE("Api: enrollment exchanges a one-time token for an agent token", "[api][auth]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  const std::string enroll =
      f.add_token({.role = Role::kEnroll, .site = "onesse", .expires_ms = Fixture::kNow + 60'000});
  const json request = {{"agent", {{"id", "mairie-02"}, {"site", "onesse"}, {"hostname", "pc"}}}};

  auto r = f.call("POST", "/api/v1/enroll", request.dump(), "", enroll);
  REQUIRE(r.status == 200);
  const json issued = json::parse(r.body);
  CHECK(issued["agent"] == "mairie-02");
  CHECK(issued["site"] == "onesse");
  const std::string agent_token = issued["token"];
  CHECK(agent_token.rfind("vga_", 0) == 0);

  // The new token reports for its agent.
  json report = valid_report();
  report["agent"]["id"] = "mairie-02";
  CHECK(f.call("POST", "/api/v1/reports", report.dump(), "", agent_token).status == 200);

  SECTION("the enrollment token cannot be used twice") {
    auto again = f.call("POST", "/api/v1/enroll", request.dump(), "", enroll);
    CHECK(again.status == 403);
    CHECK_THAT(json::parse(again.body)["error"].get<std::string>(),
               Catch::Contains("already used"));
  }
  SECTION("an enrollment token is not an API token") {
    CHECK(f.call("GET", "/api/v1/checks", "", "", enroll).status == 403);
  }
}

TEST_CASE("Api: enrollment refuses expired, foreign-site and unknown tokens", "[api][auth]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  const json request = {{"agent", {{"id", "mairie-03"}, {"site", "onesse"}}}};
  const std::string expired =
      f.add_token({.role = Role::kEnroll, .site = "onesse", .expires_ms = Fixture::kNow - 1});
  auto r = f.call("POST", "/api/v1/enroll", request.dump(), "", expired);
  CHECK(r.status == 403);
  CHECK_THAT(json::parse(r.body)["error"].get<std::string>(), Catch::Contains("expired"));

  const std::string other_site = f.add_token({.role = Role::kEnroll, .site = "laharie"});
  r = f.call("POST", "/api/v1/enroll", request.dump(), "", other_site);
  CHECK(r.status == 403);
  CHECK_THAT(json::parse(r.body)["error"].get<std::string>(), Catch::Contains("laharie"));

  CHECK(f.call("POST", "/api/v1/enroll", request.dump(), "", "vge_nope").status == 401);
  CHECK(f.call("POST", "/api/v1/enroll", "{", "", other_site).status == 400);
}

// A report whose second result is about `site` (results[].site).
json report_about(const std::string& agent, const std::string& site, std::uint64_t seq = 1) {
  json r = valid_report(seq);
  r["agent"]["id"] = agent;
  r["results"][1]["check"] = "antivirus/sophos-central:" + site;
  r["results"][1]["site"] = site;
  return r;
}

TEST_CASE("Api: a result about another site without --report-for refuses the whole batch",
          "[api][auth][central]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  auto r = f.call("POST", "/api/v1/reports", report_about("mairie-01", "laharie").dump());
  CHECK(r.status == 403);
  CHECK_THAT(json::parse(r.body)["error"].get<std::string>(),
             Catch::Contains("results[1].site") && Catch::Contains("laharie"));
  CHECK(f.checks().empty());  // not even the result about its own site
  CHECK(f.call("GET", "/api/v1/site?name=laharie").status == 404);

  // A token that may report for some sites, not this one.
  const std::string listed =
      f.add_token({.role = Role::kAgent, .agent = "poller", .site = "centre", .report_for = "a,b"});
  json other = report_about("poller", "laharie");
  other["agent"]["site"] = "centre";
  r = f.call("POST", "/api/v1/reports", other.dump(), "", listed);
  CHECK(r.status == 403);
  CHECK(f.checks().empty());
  // Its own site needs no right.
  other = report_about("poller", "centre", 2);
  other["agent"]["site"] = "centre";
  CHECK(f.call("POST", "/api/v1/reports", other.dump(), "", listed).status == 200);
}

TEST_CASE("Api: a poller enrolled with --report-for files results under member sites",
          "[api][auth][central]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  const std::string enroll = f.add_token({.role = Role::kEnroll,
                                          .site = "centre",
                                          .expires_ms = Fixture::kNow + 60'000,
                                          .report_for = "*"});
  const json request = {{"agent", {{"id", "poller"}, {"site", "centre"}}}};
  auto r = f.call("POST", "/api/v1/enroll", request.dump(), "", enroll);
  REQUIRE(r.status == 200);
  const std::string token = json::parse(r.body)["token"];
  auto tokens = f.storage().list_tokens();
  REQUIRE(tokens.is_ok());
  CHECK(tokens->back().report_for == "*");  // the agent token inherits the right

  json report = report_about("poller", "laharie");
  report["agent"]["site"] = "centre";
  REQUIRE(f.call("POST", "/api/v1/reports", report.dump(), "", token).status == 200);

  r = f.call("GET", "/api/v1/site?name=laharie");
  REQUIRE(r.status == 200);
  const json site = json::parse(r.body);
  CHECK(site["agents"] == 0);
  CHECK(site["central"] == 1);
  REQUIRE(site["checks"].size() == 1);
  CHECK(site["checks"][0]["check"] == "antivirus/sophos-central:laharie");
  CHECK(site["checks"][0]["agent"] == "poller");
  CHECK(site["checks"][0]["central"] == true);
  const json agents = json::parse(f.call("GET", "/api/v1/agents").body)["agents"];
  REQUIRE(agents.size() == 1);
  CHECK(agents[0]["poller"] == true);
  CHECK(agents[0]["member_sites"] == 1);
  // The poller's own site keeps its own result.
  const json centre = json::parse(f.call("GET", "/api/v1/site?name=centre").body);
  bool own = false;
  for (const auto& c : centre["checks"]) own = own || c["check"] == "system/load";
  CHECK(own);
}

TEST_CASE("Api: family= keeps the checks of one family", "[api]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  REQUIRE(f.call("POST", "/api/v1/reports", valid_report().dump()).status == 200);
  const auto names = [&](const std::string& target) {
    HttpResponse r = f.call("GET", target);
    REQUIRE(r.status == 200);
    std::vector<std::string> out;
    const json body = json::parse(r.body);
    for (const auto& row : body["checks"]) out.push_back(row["check"]);
    return out;
  };
  CHECK(names("/api/v1/checks").size() == 3);  // two checks and the agent's heartbeat
  CHECK(names("/api/v1/checks?family=system") ==
        std::vector<std::string>{"system/load", "system/disk:/"});
  CHECK(names("/api/v1/checks?family=backup").empty());
  CHECK(names("/api/v1/problems?family=system") == std::vector<std::string>{"system/load"});
  CHECK(names("/api/v1/problems?family=backup").empty());
}

}  // namespace
}  // namespace vigie::collector

namespace vigie::collector {
namespace {

json trap_event(int n, const std::string& check = "system/load") {
  return {{"kind", "trap"},
          {"ts", 1'700'000'000'100 + n},
          {"name", "load"},
          {"check", check},
          {"summary", "linkDown from fw: ifIndex.3=3 #" + std::to_string(n)},
          {"trap",
           {{"device", "fw"},
            {"source", "192.0.2.1:1024"},
            {"version", "2c"},
            {"inform", false},
            {"oid", "1.3.6.1.6.3.1.1.5.3"},
            {"name", "linkDown"},
            {"varbinds",
             {{{"oid", "1.3.6.1.2.1.2.2.1.1.3"},
               {"name", "ifIndex.3"},
               {"type", "INTEGER"},
               {"value", "3"}}}}}}};
}

json traps_of(const json& events) {
  json out = json::array();
  for (const auto& e : events) {
    if (e["kind"] == "trap") out.push_back(e);
  }
  return out;
}

TEST_CASE("Api: a report's traps are kept once, in their check's history and the events feed",
          "[api][traps]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  json report = valid_report(1);
  report["events"] = {trap_event(1), trap_event(2, "")};
  REQUIRE(f.call("POST", "/api/v1/reports", report.dump()).status == 200);
  // The agent's retry of the same batch: stored once.
  auto again = f.call("POST", "/api/v1/reports", report.dump());
  REQUIRE(again.status == 200);
  CHECK(json::parse(again.body)["status"] == "duplicate");

  auto check = f.call("GET", "/api/v1/check?agent=mairie-01&check=system/load");
  REQUIRE(check.status == 200);
  const json history = json::parse(check.body)["history"];
  const json traps = traps_of(history);
  REQUIRE(traps.size() == 1);
  CHECK(traps[0]["summary"] == "linkDown from fw: ifIndex.3=3 #1");
  CHECK(traps[0]["ts"] == 1'700'000'000'101);
  CHECK(traps[0]["site"] == "onesse");
  CHECK(traps[0]["notify"] == false);
  CHECK(traps[0]["trap"]["name"] == "linkDown");
  CHECK(traps[0]["trap"]["oid"] == "1.3.6.1.6.3.1.1.5.3");
  CHECK(traps[0]["trap"]["device"] == "fw");
  CHECK(traps[0]["trap"]["varbinds"][0]["name"] == "ifIndex.3");
  // Beside the check's state change, newest first.
  REQUIRE(history.size() == 2);
  CHECK(history[0]["id"].get<std::int64_t>() > history[1]["id"].get<std::int64_t>());

  auto feed = f.call("GET", "/api/v1/events?after=0&timeout=0s");
  REQUIRE(feed.status == 200);
  const json all = traps_of(json::parse(feed.body)["events"]);
  REQUIRE(all.size() == 2);
  CHECK(all[0]["check"] == "system/load");
  CHECK(all[1]["check"] == "");  // no check reads the device: the agent's
  CHECK(all[1]["agent"] == "mairie-01");
  CHECK(all[1]["trap"]["source"] == "192.0.2.1:1024");
}

TEST_CASE(
    "Api: a trap storm keeps a burst per device and check, counted, and the history keeps "
    "its state changes",
    "[api][traps]") {
  VIGIE_EACH_BACKEND(backend);
  Fixture f(backend);
  json report = valid_report(1);
  report["events"] = json::array();
  for (int i = 0; i < 1000; ++i) report["events"].push_back(trap_event(i));
  REQUIRE(f.call("POST", "/api/v1/reports", report.dump()).status == 200);
  json second = valid_report(2);
  second["results"][0]["status"] = 2;
  second["results"][0]["ts"] = 1'700'000'000'500;
  second["events"] = {trap_event(2000)};
  REQUIRE(f.call("POST", "/api/v1/reports", second.dump()).status == 200);

  auto feed = f.call("GET", "/api/v1/events?after=0&limit=10000&timeout=0s");
  const json traps = traps_of(json::parse(feed.body)["events"]);
  CHECK(traps.size() == 20);  // the default burst; the rest within the same minute not kept
  CHECK(traps.back()["summary"] == "linkDown from fw: ifIndex.3=3 #19");

  const json history =
      json::parse(f.call("GET", "/api/v1/check?agent=mairie-01&check=system/load").body)["history"];
  CHECK(traps_of(history).size() == 20);
  std::size_t changes = 0;
  for (const auto& e : history) changes += e["kind"] == "state" ? 1 : 0;
  CHECK(changes == 2);  // WARNING, then CRITICAL: not pushed out by the traps

  const std::string metrics = f.call("GET", "/metrics").body;
  CHECK_THAT(metrics, Catch::Contains("vigie_traps_kept_total 20"));
  CHECK_THAT(metrics, Catch::Contains("vigie_traps_not_kept_total 981"));
}

}  // namespace
}  // namespace vigie::collector
