// The fast reader of the console's model (console/model_fast.cpp, simdjson), against
// the careful one (model.cpp, nlohmann::json): the same values for every reply it
// accepts, and nothing accepted that the careful one refuses.
#include "console/model.hpp"

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace vigie::console {
namespace {

using nlohmann::json;

json check_json(int i = 0) {
  return {{"agent", "mairie-01"},
          {"site", "mairie"},
          {"name", "restic-" + std::to_string(i)},
          {"check", "backup/restic:/srv/" + std::to_string(i)},
          {"status", i % 4},
          {"state", "OK"},
          {"summary", "last snapshot 2 h ago"},
          {"details", "snapshot 8f2c\nfiles 1204"},
          {"metrics",
           {{{"name", "age"}, {"value", 7200}, {"unit", "s"}, {"warn", "86400"}, {"min", 0}},
            {{"name", "size"}, {"value", 1.5e9}, {"unit", "B"}, {"crit", "@0:10"}},
            {{"name", "size_change"}, {"value", -3.25}, {"unit", "%"}, {"max", 100}}}},
          {"ts", 1700000000000},
          {"received", 1700000000100},
          {"since", 1699990000000},
          {"interval_s", 300},
          {"duration_ms", 12},
          {"family", "backup"},
          {"hard_state", "CRITICAL"},
          {"hard_since", 1699980000000},
          {"state_type", "soft"},
          {"attempt", 2},
          {"max_attempts", 3},
          {"stale", true},
          {"stale_reason", "no result for 3 intervals"},
          {"agent_lost", false},
          {"flapping", true},
          {"in_downtime", false},
          {"central", nullptr},
          {"ack",
           {{"author", "marie"},
            {"comment", "disque commandé"},
            {"created", 1699990000001},
            {"expires", 0},
            {"sticky", true}}}};
}

json site_json() {
  return {{"name", "mairie"},
          {"state", "WARNING"},
          {"counts", {{"OK", 28}, {"WARNING", 1}, {"CRITICAL", 0}, {"UNKNOWN", 1}}},
          {"families", {{"backup", "WARNING"}, {"firewall", "OK"}}},
          {"agents", 2},
          {"agents_lost", 1},
          {"last_report", 1700000000000},
          {"unreachable", true},
          {"line", "down"},
          {"central", 3},
          {"in_downtime", true},
          {"problems", 1},
          {"acknowledged", 1}};
}

json agent_json() {
  return {
      {"id", "mairie-01"},
      {"site", "mairie"},
      {"hostname", "srv-mairie"},
      {"version", "0.9.1"},
      {"last_seen", 1700000000000},
      {"lost", true},
      {"member_sites", 4},
      {"clock_skew_ms", -1500},
      {"spool_depth", 12},
      {"config",
       {{"managed", true}, {"running", "ab12cd34ef"}, {"behind", true}, {"refused", "bad port"}}}};
}

// Every reply kind: its readers, side by side.
struct Kind {
  std::string name;
  std::function<bool(std::string_view)> fast_accepts;
  std::function<bool(std::string_view)> careful_accepts;
  std::function<bool(std::string_view)> same;            // both accept and read the same
  std::function<std::string(std::string_view)> message;  // the public function's error
};

template <class Fast, class Careful, class Public>
Kind kind(std::string name, Fast fast, Careful careful, Public read) {
  return {std::move(name), [=](std::string_view b) { return fast(b).has_value(); },
          [=](std::string_view b) { return careful(b).is_ok(); },
          [=](std::string_view b) {
            const auto f = fast(b);
            const auto c = careful(b);
            return f && c && *f == *c;
          },
          [=](std::string_view b) {
            const auto r = read(b);
            return r ? std::string() : r.status().message();
          }};
}

std::vector<Kind> kinds() {
  using namespace detail;
  return {kind("checks", parse_checks_fast, parse_checks_careful, parse_checks_reply),
          kind("check", parse_check_fast, parse_check_careful, parse_check_reply),
          kind("sites", parse_sites_fast, parse_sites_careful, parse_sites_reply),
          kind("agents", parse_agents_fast, parse_agents_careful, parse_agents_reply),
          kind("site", parse_site_fast, parse_site_careful, parse_site_reply),
          kind("overview", parse_overview_fast, parse_overview_careful, parse_overview_reply),
          kind("series", parse_series_fast, parse_series_careful, parse_series_reply),
          kind("notifications", parse_notifications_fast, parse_notifications_careful,
               parse_notifications_reply),
          kind("events", parse_events_fast, parse_events_careful, parse_events_reply)};
}

// A valid reply of each kind, in the order of kinds(), with every member the console
// reads.
std::vector<std::string> valid_replies() {
  json check = check_json(1);
  check["now"] = 1700000001000;
  check["history"] = {{{"id", 7},
                       {"ts", 1699990000000},
                       {"kind", "state"},
                       {"from", "OK"},
                       {"to", "WARNING"},
                       {"state_type", "hard"},
                       {"summary", "é \"quoted\" \\ \t"},
                       {"author", ""}},
                      {{"ts", 1699990000001},
                       {"kind", "trap"},
                       {"trap",
                        {{"name", "linkDown"},
                         {"oid", "1.3.6.1.6.3.1.1.5.3"},
                         {"device", "sw-1"},
                         {"source", "127.0.0.1"},
                         {"inform", true},
                         {"not_kept_before", 3}}}}};
  json site = site_json();
  site["now"] = 1700000001000;
  site["checks"] = {check_json(2), check_json(3)};
  site["agent_list"] = {agent_json()};
  site["downtimes"] = {{{"id", 4},
                        {"agent", "mairie-01"},
                        {"check", ""},
                        {"comment", "travaux"},
                        {"author", "paul"},
                        {"start", 1699990000000},
                        {"end", 1700090000000},
                        {"active", true}}};
  return {
      json{{"now", 1700000001000}, {"cursor", 9}, {"checks", {check_json(0), check_json(1)}}}
          .dump(),
      check.dump(),
      json{{"now", 1700000001000}, {"sites", {site_json(), site_json()}}}.dump(),
      json{{"now", 1700000001000}, {"agents", {agent_json(), {{"id", "a"}, {"site", "s"}}}}}.dump(),
      site.dump(),
      json{{"now", 1700000001000},
           {"cursor", 12},
           {"checks", {{"OK", 5}, {"WARNING", 1}, {"CRITICAL", 2}, {"UNKNOWN", 0}}},
           {"sites", {{"total", 3}, {"unreachable", 1}}},
           {"agents", {{"total", 4}, {"lost", 1}}},
           {"problems", 3},
           {"acknowledged", 1}}
          .dump(),
      json{{"metric", "load1"},
           {"unit", ""},
           {"points",
            {{{"ts", 1}, {"avg", 0.5}}, {{"ts", 2}, {"avg", nullptr}}, {{"ts", 3}, {"avg", 7}}}}}
          .dump(),
      json{{"notifications",
            {{{"time", 1},
              {"channel", "mail"},
              {"target", "a@b.c"},
              {"state", "CRITICAL"},
              {"status", "failed"},
              {"error", "refused"}},
             {{"time", 2}, {"target", nullptr}, {"error", nullptr}}}}}
          .dump(),
      json{{"cursor", 3}, {"events", {{{"kind", "state"}, {"x", {1, 2, {{"y", nullptr}}}}}, 1}}}
          .dump()};
}

TEST_CASE("parse replies: the fast reader reads every valid reply as the careful one does",
          "[model_fast]") {
  const auto all = kinds();
  const auto replies = valid_replies();
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO(all[i].name << ": " << replies[i]);
    CHECK(all[i].fast_accepts(replies[i]));
    CHECK(all[i].same(replies[i]));
    // Pretty-printed, with blanks around: the same.
    const std::string pretty = "\n " + json::parse(replies[i]).dump(2) + " \r\n\t";
    CHECK(all[i].same(pretty));
  }
}

TEST_CASE("parse replies: every truncation of a valid reply is refused as malformed",
          "[model_fast]") {
  const auto all = kinds();
  const auto replies = valid_replies();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string& body = replies[i];
    for (std::size_t n = 0; n < body.size(); ++n) {
      const std::string_view cut(body.data(), n);
      INFO(all[i].name << ": " << cut);
      REQUIRE_FALSE(all[i].fast_accepts(cut));
      REQUIRE_FALSE(all[i].careful_accepts(cut));
      REQUIRE_THAT(all[i].message(cut), Catch::StartsWith("malformed JSON"));
    }
  }
}

TEST_CASE(
    "parse_checks_reply: strings with escapes and UTF-8 read as the careful reader reads them",
    "[model_fast]") {
  for (const std::string_view summary :
       {R"("\"quoted\" \\ \/ \b\f\n\r\t")", R"("\u00e9t\u00E9 \ud83d\ude00 \u0000 end")",
        "\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\"", R"("")"}) {
    const std::string body =
        R"({"now": 1, "checks": [{"agent": "a", "site": "s", "name": "n", "check": "c/d",
           "status": 0, "summary": )" +
        std::string(summary) + R"(, "ts": 1, "received": 1, "since": 1, "interval_s": 60}]})";
    INFO(body);
    const auto fast = detail::parse_checks_fast(body);
    const auto careful = detail::parse_checks_careful(body);
    REQUIRE(fast);
    REQUIRE(careful.is_ok());
    CHECK(*fast == *careful);
  }
  // Escaped member names are the same members.
  const auto reply = detail::parse_checks_fast(R"({"n\u006fw": 7, "che\u0063ks": []})");
  REQUIRE(reply);
  CHECK(reply->now_ms == 7);
}

TEST_CASE("parse_checks_reply: what JSON forbids is refused, the fast reader giving up",
          "[model_fast]") {
  const std::string head = R"({"now": 1, "checks": [{"agent": "a", "site": "s", "name": "n",
      "check": "c/d", "status": 0, "ts": 1, "received": 1, "since": 1, "interval_s": 60,
      "summary": )";
  for (const std::string& tail : std::vector<std::string>{
           R"("lone \ud800 surrogate"}]})", R"("low \udc00 first"}]})",
           R"("bad \ud800\u0041 pair"}]})", R"("bad \x escape"}]})", "\"raw \x01 control\"}]}",
           "\"bad \xff byte\"}]}", "\"overlong \xc0\xaf\"}]}", R"("ok", "x": tru}]})",
           R"("ok", "x": [1,,2]}]})", R"("ok", "x": 01}]})", R"("ok", "x": {"a" 1}}]})",
           R"("ok", "x": 1e400}]})", R"("ok", "x": -}]})", R"("ok"}]} {})", R"("ok"}]}])"}) {
    const std::string body = head + tail;
    INFO(body);
    CHECK_FALSE(detail::parse_checks_fast(body));
    const auto reply = parse_checks_reply(body);
    REQUIRE_FALSE(reply.is_ok());
    CHECK_THAT(reply.status().message(), Catch::StartsWith("malformed JSON"));
  }
}

TEST_CASE("parse replies: a wrong type or value gives up, and the careful reader names the field",
          "[model_fast]") {
  const auto refused = [](json check, std::string_view expected) {
    const std::string body = json{{"now", 1}, {"checks", {check}}}.dump();
    INFO(body);
    CHECK_FALSE(detail::parse_checks_fast(body));
    const auto reply = parse_checks_reply(body);
    REQUIRE_FALSE(reply.is_ok());
    CHECK_THAT(reply.status().message(), Catch::StartsWith(std::string(expected)));
  };
  const auto with = [](const char* key, json value) {
    json c = check_json();
    c[key] = std::move(value);
    return c;
  };
  refused(with("status", 1.0), "checks[0].status: expected an integer 0..3, got 1.0");
  refused(with("status", -1), "checks[0].status");
  refused(with("ts", "1"), "checks[0].ts");
  refused(with("ts", 9223372036854775807.0), "checks[0].ts");
  refused(with("since", 18446744073709551615ULL), "checks[0].since");
  refused(with("details", nullptr), "checks[0].details: expected a string, got null");
  refused(with("duration_ms", nullptr), "checks[0].duration_ms");
  refused(with("attempt", 2147483648LL), "checks[0].attempt");
  refused(with("stale", "yes"), "checks[0].stale: expected true or false");
  refused(with("hard_state", "BAD"), "checks[0].hard_state");
  refused(with("hard_state", nullptr), "checks[0].hard_state");
  refused(with("ack", 1), "checks[0].ack: expected an object or null");
  refused(with("ack", {{"author", "a"}}), "checks[0].ack.comment: missing");
  refused(with("metrics", {{{"name", ""}, {"value", 1}}}), "checks[0].metrics[0].name: empty");
  refused(with("metrics", {{{"name", "x"}, {"value", 1}, {"unit", "parsecs"}}}),
          "checks[0].metrics[0].unit");
  refused(with("metrics", {{{"name", "x"}}}), "checks[0].metrics[0].value: missing");
  refused(with("metrics", {{{"name", "x"}, {"value", 1}, {"warn", "1:2:3"}}}),
          "checks[0].metrics[0].warn");
  refused(with("metrics", {{{"name", std::string(1025, 'x')}, {"value", 1}}}),
          "checks[0].metrics[0].name: longer than 1024 bytes");
  json missing = check_json();
  missing.erase("summary");
  refused(missing, "checks[0].summary: missing");
}

TEST_CASE("parse replies: a member given twice is the last one, as the careful reader reads it",
          "[model_fast]") {
  const std::string body =
      R"({"now": 1, "now": 2, "checks": [{"agent": "a", "site": "s", "name": "n",
         "check": "c/d", "status": 0, "status": 2, "summary": "", "ts": 1, "received": 1,
         "since": 1, "interval_s": 60}]})";
  CHECK_FALSE(detail::parse_checks_fast(body));
  const auto reply = parse_checks_reply(body);
  REQUIRE(reply.is_ok());
  CHECK(reply->now_ms == 2);
  CHECK(reply->rows[0].result.status == State::kCritical);
  // An agent's "config" is read leniently: the last "managed" that is not true wins.
  const std::string agents =
      R"({"now": 1, "agents": [{"id": "a", "site": "s",
         "config": {"managed": true, "managed": 1, "running": "v1", "running": 2}}]})";
  const auto fast = detail::parse_agents_fast(agents);
  const auto careful = detail::parse_agents_careful(agents);
  REQUIRE(careful.is_ok());
  CHECK_FALSE(careful->agents[0].config_managed);
  CHECK(careful->agents[0].config_running.empty());
  if (fast) CHECK(*fast == *careful);
}

TEST_CASE("parse replies: numbers of more than 19 digits are read as strtod reads them",
          "[model_fast]") {
  // simdjson 3.0 reads 0.95000000000000000000 as 0.0277 (simdjson issue 2093): such a
  // number goes to the careful reader.
  const auto value_of = [](std::string_view number) {
    const std::string body =
        R"({"now": 1, "checks": [{"agent": "a", "site": "s", "name": "n", "check": "c/d",
           "status": 0, "summary": "", "ts": 1, "received": 1, "since": 1, "interval_s": 60,
           "metrics": [{"name": "ratio", "value": )" +
        std::string(number) + "}]}]}";
    const auto reply = parse_checks_reply(body);
    REQUIRE(reply.is_ok());
    REQUIRE(reply->rows[0].result.metrics.size() == 1);
    return std::pair(*reply->rows[0].result.metrics[0].value,
                     detail::parse_checks_fast(body).has_value());
  };
  CHECK(value_of("0.95000000000000000000") == std::pair(0.95, false));
  CHECK(value_of("0.9500000000000000000") == std::pair(0.95, true));  // 19 digits
  CHECK(value_of("95000000000000000000e-20") == std::pair(0.95, false));
  CHECK(value_of("0.000000000000000000000000095e25") == std::pair(0.95, true));
  CHECK(value_of("123456789012345678901234567890") == std::pair(1.2345678901234568e29, false));
  // And in a series.
  const auto series = parse_series_reply(
      R"({"metric": "m", "points": [{"ts": 1, "avg": 0.12345678901234567890123}]})");
  REQUIRE(series.is_ok());
  CHECK(series->points[0].value == std::strtod("0.12345678901234567890123", nullptr));
  CHECK_FALSE(detail::parse_series_fast(
      R"({"metric": "m", "points": [{"ts": 1, "avg": 0.12345678901234567890123}]})"));
}

TEST_CASE("parse replies: unknown members are skipped, however nested", "[model_fast]") {
  json reply = {{"now", 1}, {"checks", json::array()}};
  json deep = 1;
  for (int i = 0; i < 8; ++i) deep = {{"a", deep}, {"b", {deep, nullptr, "x", 1.5}}};
  reply["extra"] = {{"x", json::array({1, -2, "\u00e9", true, nullptr, {{"y", {}}}})}};
  CHECK(detail::parse_checks_fast(reply.dump()));
  json nested = 1;
  for (int i = 0; i < 100; ++i) nested = json::array({nested});
  reply["deeper"] = nested;  // deeper than the fast reader checks: the careful reader's
  CHECK_FALSE(detail::parse_checks_fast(reply.dump()));
  CHECK(parse_checks_reply(reply.dump()).is_ok());
  // Not without end: what would overflow a stack once copied is refused, not built.
  const std::string abyss = R"({"now": 1, "checks": [], "extra": )" + std::string(100'000, '[') +
                            std::string(100'000, ']') + "}";
  auto refused = parse_checks_reply(abyss);
  CHECK(refused.status().message() == "malformed JSON: nested deeper than 1000 levels");
}

TEST_CASE("parse_checks_reply: a reply larger than the kept buffer reads the same",
          "[model_fast]") {
  json check = check_json();
  check["summary"] = std::string(17 * 1024 * 1024, 's');
  const std::string body = json{{"now", 1}, {"checks", {check, check_json(5)}}}.dump();
  const auto fast = detail::parse_checks_fast(body);
  REQUIRE(fast);
  CHECK(fast->rows.size() == 2);
  CHECK(fast->rows[0].result.summary.size() == 17 * 1024 * 1024);
  // And a small one after it, on the kept parser.
  CHECK(detail::parse_checks_fast(valid_replies()[0]));
}

TEST_CASE("parse_problems_reply: rows in the Problems view's order", "[model_fast]") {
  json a = check_json(0), b = check_json(1), c = check_json(2);
  a["hard_state"] = "WARNING";
  b["hard_state"] = "CRITICAL";
  c["hard_state"] = "CRITICAL";
  b["hard_since"] = 20;
  c["hard_since"] = 10;
  const auto reply = parse_problems_reply(json{{"now", 1}, {"checks", {a, b, c}}}.dump());
  REQUIRE(reply.is_ok());
  REQUIRE(reply->rows.size() == 3);
  CHECK(reply->rows[0].result.name == "restic-2");
  CHECK(reply->rows[1].result.name == "restic-1");
  CHECK(reply->rows[2].result.name == "restic-0");
}

}  // namespace
}  // namespace vigie::console
