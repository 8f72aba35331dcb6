#include "console/model.hpp"

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/console/rows.hpp"

namespace vigie::console {
namespace {

using nlohmann::json;
using testing::make_row;

json check_json() {
  return json::parse(R"json({
    "agent": "demo-agent", "site": "demo-site", "name": "load", "check": "system/load",
    "status": 0, "state": "OK", "summary": "load 0.10, 0.20, 0.30 (2 CPUs)",
    "details": "per CPU",
    "metrics": [{"name": "load1", "value": 0.1, "unit": "", "warn": "2", "crit": "4",
                 "min": 0}],
    "ts": 1700000000000, "received": 1700000000100, "since": 1699990000000,
    "interval_s": 60, "duration_ms": 3})json");
}

std::string reply_with(const json& check) {
  return json{{"now", 1700000001000}, {"checks", json::array({check})}}.dump();
}

// The error of parsing a reply whose only check is check_json() changed by `edit`.
std::string error_after(const std::function<void(json&)>& edit) {
  json check = check_json();
  edit(check);
  const auto reply = parse_checks_reply(reply_with(check));
  REQUIRE_FALSE(reply.is_ok());
  CHECK(reply.status().code() == Code::kInvalidArgument);
  return reply.status().message();
}

TEST_CASE("parse_checks_reply: reads every field of a valid reply", "[model]") {
  const auto reply = parse_checks_reply(reply_with(check_json()));
  REQUIRE(reply.is_ok());
  CHECK(reply->now_ms == 1700000001000);
  REQUIRE(reply->rows.size() == 1);
  const CheckRow& row = reply->rows[0];
  CHECK(row.agent == "demo-agent");
  CHECK(row.site == "demo-site");
  CHECK(row.result.name == "load");
  CHECK(row.result.check == "system/load");
  CHECK(row.result.status == State::kOk);
  CHECK(row.result.summary == "load 0.10, 0.20, 0.30 (2 CPUs)");
  CHECK(row.result.details == "per CPU");
  CHECK(row.result.ts_ms == 1700000000000);
  CHECK(row.received_ms == 1700000000100);
  CHECK(row.since_ms == 1699990000000);
  CHECK(row.result.interval_s == 60);
  CHECK(row.result.duration_ms == 3);
  REQUIRE(row.result.metrics.size() == 1);
  CHECK(row.result.metrics[0].label == "load1");
  CHECK(row.result.metrics[0].value == Approx(0.1));
  REQUIRE(row.result.metrics[0].crit.has_value());
  CHECK(row.result.metrics[0].crit->end == 4);
}

TEST_CASE("parse_checks_reply: details, metrics and duration may be absent", "[model]") {
  json check = check_json();
  check.erase("details");
  check.erase("duration_ms");
  check["metrics"] = nullptr;
  const auto reply = parse_checks_reply(reply_with(check));
  REQUIRE(reply.is_ok());
  CHECK(reply->rows[0].result.details.empty());
  CHECK(reply->rows[0].result.metrics.empty());
  CHECK(reply->rows[0].result.duration_ms == 0);
}

TEST_CASE("parse_checks_reply: an empty list is valid", "[model]") {
  const auto reply = parse_checks_reply(R"({"now": 5, "checks": []})");
  REQUIRE(reply.is_ok());
  CHECK(reply->rows.empty());
  CHECK(reply->now_ms == 5);
}

TEST_CASE("parse_checks_reply: unknown fields are ignored", "[model]") {
  json check = check_json();
  check["acknowledged"] = true;
  json document = json::parse(reply_with(check));
  document["next_cursor"] = "abc";
  CHECK(parse_checks_reply(document.dump()).is_ok());
}

TEST_CASE("parse_checks_reply: malformed JSON is a Status", "[model]") {
  for (const std::string_view body :
       {"", "{", "not json", R"({"now": 1, "checks": [})", "{\"now\": 1} trailing",
        "{\"now\": 1, \"checks\": [], \"x\": \"\xff\"}"}) {
    INFO(body);
    const auto reply = parse_checks_reply(body);
    REQUIRE_FALSE(reply.is_ok());
    CHECK(reply.status().code() == Code::kInvalidArgument);
    CHECK_THAT(reply.status().message(), Catch::StartsWith("malformed JSON"));
  }
}

TEST_CASE("parse_checks_reply: a wrong document shape names what is wrong", "[model]") {
  const auto message = [](std::string_view body) {
    const auto reply = parse_checks_reply(body);
    REQUIRE_FALSE(reply.is_ok());
    return reply.status().message();
  };
  CHECK(message("[]") == "reply: expected an object, got an array");
  CHECK(message(R"({"checks": []})") == "now: missing");
  CHECK(message(R"({"now": "soon", "checks": []})") ==
        "now: expected an integer >= 0, got \"soon\"");
  CHECK(message(R"({"now": 1})") == "checks: missing");
  CHECK(message(R"({"now": 1, "checks": {}})") == "checks: expected an array, got an object");
  CHECK(message(R"({"now": 1, "checks": [7]})") == "checks[0]: expected an object, got 7");
}

TEST_CASE("parse_checks_reply: a field of the wrong type names its path", "[model]") {
  CHECK(error_after([](json& c) { c["status"] = "warn"; }) ==
        "checks[0].status: expected an integer 0..3, got \"warn\"");
  CHECK(error_after([](json& c) { c["status"] = 4; }) ==
        "checks[0].status: expected an integer 0..3, got 4");
  CHECK(error_after([](json& c) { c["status"] = 1.5; }) ==
        "checks[0].status: expected an integer 0..3, got 1.5");
  CHECK(error_after([](json& c) { c["site"] = 12; }) ==
        "checks[0].site: expected a string, got 12");
  CHECK(error_after([](json& c) { c["summary"] = nullptr; }) ==
        "checks[0].summary: expected a string, got null");
  CHECK(error_after([](json& c) { c.erase("agent"); }) == "checks[0].agent: missing");
  CHECK(error_after([](json& c) { c["received"] = -1; }) ==
        "checks[0].received: expected an integer >= 0, got -1");
  CHECK(error_after([](json& c) { c["since"] = 18446744073709551615ULL; }) ==
        "checks[0].since: expected an integer >= 0, got 18446744073709551615");
  CHECK(error_after([](json& c) { c["interval_s"] = "60s"; }) ==
        "checks[0].interval_s: expected an integer >= 0, got \"60s\"");
  CHECK(error_after([](json& c) { c["metrics"] = "load1=0.1"; }) ==
        "checks[0].metrics: expected an array, got \"load1=0.1\"");
  CHECK_THAT(error_after([](json& c) { c["metrics"][0]["value"] = "high"; }),
             Catch::StartsWith("checks[0].metrics[0].value"));
}

TEST_CASE("parse_checks_reply: a long bad value is quoted cut", "[model]") {
  const std::string message = error_after([](json& c) { c["status"] = std::string(500, 'x'); });
  CHECK(message.size() < 120);
  CHECK_THAT(message, Catch::EndsWith("..."));
}

TEST_CASE("parse_checks_reply: rows come back in the console's order", "[model]") {
  json ok = check_json();
  json critical = check_json();
  critical["name"] = "disk";
  critical["status"] = 2;
  json document = {{"now", 1}, {"checks", {ok, critical}}};
  const auto reply = parse_checks_reply(document.dump());
  REQUIRE(reply.is_ok());
  REQUIRE(reply->rows.size() == 2);
  CHECK(reply->rows[0].result.name == "disk");
  CHECK(reply->rows[1].result.name == "load");
}

TEST_CASE("sort_rows: most severe first, then oldest change, then site and name", "[model]") {
  std::vector<CheckRow> rows = {
      make_row("b-site", "load", State::kOk, 10),
      make_row("a-site", "load", State::kWarning, 50),
      make_row("a-site", "disk", State::kUnknown, 90),
      make_row("z-site", "fw", State::kCritical, 80),
      make_row("a-site", "wifi", State::kCritical, 20),
      make_row("a-site", "backup", State::kWarning, 50),
      make_row("a-site", "av", State::kOk, 10),
  };
  sort_rows(rows);
  std::vector<std::string> order;
  for (const CheckRow& row : rows) order.push_back(row.site + "/" + row.result.name);
  CHECK(order == std::vector<std::string>{"a-site/wifi", "z-site/fw", "a-site/disk",
                                          "a-site/backup", "a-site/load", "a-site/av",
                                          "b-site/load"});
}

TEST_CASE("rows_to_json: the API's fields, and parse_checks_reply reads them back", "[model]") {
  const auto reply = parse_checks_reply(reply_with(check_json()));
  REQUIRE(reply.is_ok());
  const json array = json::parse(rows_to_json(reply->rows));
  REQUIRE(array.is_array());
  REQUIRE(array.size() == 1);
  CHECK(array[0]["state"] == "OK");
  CHECK(array[0]["status"] == 0);
  CHECK(array[0]["received"] == 1700000000100);
  CHECK(array[0]["metrics"][0]["name"] == "load1");
  const auto again = parse_checks_reply(json{{"now", 1}, {"checks", array}}.dump());
  REQUIRE(again.is_ok());
  CHECK(again->rows == reply->rows);
}

}  // namespace
}  // namespace vigie::console

namespace vigie::console {
namespace {

TEST_CASE("parse replies: central pollers, their sources and the line of a site",
          "[model][central]") {
  auto agents = parse_agents_reply(
      R"({"now": 5, "agents": [{"id": "p", "site": "centre", "lost": false, "poller": true,
          "member_sites": 12}, {"id": "a", "site": "s", "lost": true}]})");
  REQUIRE(agents.is_ok());
  REQUIRE(agents->agents.size() == 2);
  CHECK(agents->agents[0].member_sites == 12);
  CHECK(agents->agents[1].member_sites == 0);

  auto sites = parse_sites_reply(
      R"({"now": 5, "sites": [{"name": "s", "state": "CRITICAL", "unreachable": true,
          "line": "down", "central": 3}, {"name": "t", "state": "OK", "line": null}]})");
  REQUIRE(sites.is_ok());
  CHECK(sites->sites[0].line == "down");
  CHECK(sites->sites[0].central == 3);
  CHECK(sites->sites[1].line.empty());

  auto site = parse_site_reply(
      R"({"now": 5, "name": "s", "state": "OK", "agent_list": [], "downtimes": [],
          "checks": [{"agent": "p", "site": "s", "name": "av", "check": "antivirus/x:s",
          "status": 0, "summary": "", "ts": 1, "received": 1, "since": 1, "interval_s": 60,
          "central": true}]})");
  INFO(site.status().to_string());
  REQUIRE(site.is_ok());
  REQUIRE(site->checks.size() == 1);
  CHECK(site->checks[0].central);
}

TEST_CASE("parse_agents_reply: reads an agent's central configuration state", "[model]") {
  const auto reply = parse_agents_reply(R"({"now": 5, "agents": [
    {"id": "a", "site": "s", "lost": false,
     "config": {"managed": true, "version": "v2", "running": "v1", "behind": true,
                "refused": "v2", "error": "checks[0].type: unknown"}},
    {"id": "b", "site": "s", "lost": false, "config": {"managed": false}},
    {"id": "c", "site": "s", "lost": false}]})");
  REQUIRE(reply);
  REQUIRE(reply->agents.size() == 3);
  const AgentRow& a = reply->agents[0];
  CHECK(a.config_managed);
  CHECK(a.config_running == "v1");
  CHECK(a.config_behind);
  CHECK(a.config_refused);
  CHECK_FALSE(reply->agents[1].config_managed);
  CHECK_FALSE(reply->agents[2].config_managed);
}

}  // namespace
}  // namespace vigie::console
