#include "common/protocol.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vigie::protocol {
namespace {

using nlohmann::json;
constexpr double kInf = std::numeric_limits<double>::infinity();

Report sample_report() {
  Report report;
  report.agent = {"onesse-mairie-01", "onesse-et-laharie", "fw-host.example", "0.1.0"};
  report.seq = 42;
  CheckResult load;
  load.name = "load";
  load.check = "system/load";
  load.status = State::kOk;
  load.summary = "load average: 0.17, 0.20, 0.25";
  load.ts_ms = 1'700'000'000'123;
  load.duration_ms = 3;
  load.interval_s = 60;
  load.metrics = {{"load1", 0.17, "", Range{0, 15, false}, Range{0, 30, false}, 0.0, std::nullopt}};
  CheckResult disk;
  disk.name = "disk srv";
  disk.check = "system/disk:/srv/backup";
  disk.status = State::kWarning;
  disk.summary = "/srv/backup is 91% full";
  disk.details = "line one\nline two: é ✓";
  disk.ts_ms = 1'700'000'000'456;
  disk.duration_ms = 0;
  disk.interval_s = 300;
  disk.site = "onesse-ccas";
  disk.metrics = {
      {"/srv used", 91.5, "%", Range{-kInf, 90, false}, Range{10, 95, true}, 0.0, 100.0},
      {"free", std::nullopt, "GB", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
      {"inodes", 0.1 + 0.2, "c", Range{5, kInf, false}, std::nullopt, std::nullopt, 1e300},
  };
  report.results = {load, disk};
  return report;
}

json sample_json() { return json::parse(encode_report(sample_report())); }

Status decode_status(const json& body, const Limits& limits = {}) {
  return decode_report(body.dump(), limits).status();
}

// Removes the member `pointer` names.
void erase(json& body, const json::json_pointer& pointer) {
  body[pointer.parent_pointer()].erase(pointer.back());
}

}  // namespace

TEST_CASE("protocol: encode then decode gives the same report", "[protocol]") {
  const Report report = sample_report();
  const std::string body = encode_report(report);
  auto decoded = decode_report(body);
  INFO(body << "\n" << decoded.status().message());
  REQUIRE(decoded.is_ok());
  CHECK(*decoded == report);
  CHECK(encode_report(*decoded) == body);
}

TEST_CASE("protocol: the wire form", "[protocol]") {
  const json body = sample_json();
  CHECK(body["protocol"] == 1);
  CHECK(body["seq"] == 42);
  CHECK(body["agent"] == json{{"id", "onesse-mairie-01"},
                              {"site", "onesse-et-laharie"},
                              {"hostname", "fw-host.example"},
                              {"version", "0.1.0"}});
  const json& load = body["results"][0];
  CHECK(load["status"] == 0);
  CHECK(load["state"] == "OK");
  CHECK_FALSE(load.contains("details"));
  CHECK_FALSE(load.contains("site"));  // the agent's own site: left out
  CHECK(load["ts"].is_number_integer());
  CHECK(load["ts"] == 1'700'000'000'123);
  CHECK(load["duration_ms"] == 3);
  CHECK(load["interval_s"] == 60);
  CHECK(load["metrics"][0] ==
        json{{"name", "load1"}, {"value", 0.17}, {"warn", "15"}, {"crit", "30"}, {"min", 0.0}});

  const json& disk = body["results"][1];
  CHECK(disk["status"] == 1);
  CHECK(disk["state"] == "WARNING");
  CHECK(disk["details"] == "line one\nline two: é ✓");
  CHECK(disk["site"] == "onesse-ccas");
  CHECK(disk["metrics"][0]["warn"] == "~:90");
  CHECK(disk["metrics"][0]["crit"] == "@10:95");
  CHECK(disk["metrics"][0]["unit"] == "%");
  CHECK(disk["metrics"][1] == json{{"name", "free"}, {"value", nullptr}, {"unit", "GB"}});
  CHECK(disk["metrics"][2]["warn"] == "5:");
}

TEST_CASE("protocol: hostname and version may be left out", "[protocol]") {
  Report report = sample_report();
  report.agent.hostname.clear();
  report.agent.version.clear();
  report.results.clear();
  const json body = json::parse(encode_report(report));
  CHECK_FALSE(body["agent"].contains("hostname"));
  CHECK_FALSE(body["agent"].contains("version"));
  CHECK(body["results"] == json::array());
  auto decoded = decode_report(body.dump());
  REQUIRE(decoded.is_ok());
  CHECK(*decoded == report);
}

TEST_CASE("protocol: each field missing or mistyped is named by its path", "[protocol]") {
  enum class Presence { kRequired, kOptional, kElement };  // kElement: an array element
  using enum Presence;
  struct Field {
    const char* pointer;
    const char* path;
    Presence presence;
    std::vector<json> wrong;  // values of the wrong type, out of range or badly formed
  };
  const json text = "text";
  const json number = 5;
  const json object = json::object();
  const json array = json::array();
  const Field fields[] = {
      {"/protocol", "protocol", kRequired, {"1", 1.0, nullptr, array}},
      {"/agent", "agent", kRequired, {text, array, nullptr}},
      {"/agent/id", "agent.id", kRequired, {number, nullptr, object, "", "a b", "a/b", "..", "-x"}},
      {"/agent/site", "agent.site", kRequired, {number, true, "", "\u00e9", "site?"}},
      {"/agent/hostname", "agent.hostname", kOptional, {number, array}},
      {"/agent/version", "agent.version", kOptional, {number, object}},
      {"/seq", "seq", kRequired, {"42", 0, -1, 1.5, nullptr, 18446744073709551615ULL}},
      {"/results", "results", kRequired, {object, text, nullptr}},
      {"/results/1", "results[1]", kElement, {text, array, nullptr}},
      {"/results/1/name", "results[1].name", kRequired, {number, "", "a\nb"}},
      {"/results/1/check", "results[1].check", kRequired, {number, "", "System/load"}},
      {"/results/1/status", "results[1].status", kRequired, {"warn", -1, 4, 1.0, nullptr, true}},
      {"/results/1/summary", "results[1].summary", kRequired, {number, nullptr, array}},
      {"/results/1/details", "results[1].details", kOptional, {number, array}},
      {"/results/1/site", "results[1].site", kOptional, {number, array, "a b", "\u00e9", "site?"}},
      {"/results/1/metrics", "results[1].metrics", kOptional, {text, object}},
      {"/results/1/metrics/2", "results[1].metrics[2]", kElement, {text, nullptr}},
      {"/results/1/metrics/2/name", "results[1].metrics[2].name", kRequired, {number, ""}},
      {"/results/1/metrics/2/value", "results[1].metrics[2].value", kRequired, {"1", true, array}},
      {"/results/1/metrics/2/unit", "results[1].metrics[2].unit", kOptional, {number, "kb", "S"}},
      {"/results/1/metrics/2/warn",
       "results[1].metrics[2].warn",
       kOptional,
       {10, "20:10", "", "x"}},
      {"/results/1/metrics/2/crit", "results[1].metrics[2].crit", kOptional, {array, "1:2:3"}},
      {"/results/1/metrics/2/min", "results[1].metrics[2].min", kOptional, {"0", object}},
      {"/results/1/metrics/2/max", "results[1].metrics[2].max", kOptional, {"100", true}},
      {"/results/1/ts", "results[1].ts", kRequired, {"now", -1, 1.7e12, 253'402'300'800'000}},
      {"/results/1/duration_ms", "results[1].duration_ms", kRequired, {text, -5, 0.5}},
      {"/results/1/interval_s",
       "results[1].interval_s",
       kRequired,
       {text, 0, -60, 366 * 86'400 + 1}},
  };
  for (const auto& field : fields) {
    const json::json_pointer pointer(field.pointer);
    INFO(field.pointer);
    if (field.presence != kElement) {
      json body = sample_json();
      erase(body, pointer);
      const Status status = decode_status(body);
      INFO("removed: " << status.message());
      if (field.presence == kRequired) {
        CHECK(status.code() == Code::kInvalidArgument);
        CHECK(status.message() == std::string(field.path) + ": missing");
        CHECK(error_field(status) == field.path);
      } else {
        CHECK(status.is_ok());
      }
    }
    for (const auto& value : field.wrong) {
      json body = sample_json();
      body[pointer] = value;
      const Status status = decode_status(body);
      INFO("set to " << value.dump() << ": " << status.message());
      CHECK(status.code() == Code::kInvalidArgument);
      CHECK_THAT(status.message(), Catch::StartsWith(std::string(field.path) + ": "));
      CHECK(error_field(status) == field.path);
    }
  }
}

TEST_CASE("protocol: optional fields may be null", "[protocol]") {
  json body = sample_json();
  for (const char* pointer :
       {"/agent/hostname", "/agent/version", "/results/1/details", "/results/1/metrics",
        "/results/0/metrics/0/unit", "/results/0/metrics/0/warn", "/results/0/metrics/0/crit",
        "/results/0/metrics/0/min", "/results/0/metrics/0/max"}) {
    body[json::json_pointer(pointer)] = nullptr;
  }
  auto decoded = decode_report(body.dump());
  INFO(decoded.status().message());
  REQUIRE(decoded.is_ok());
  CHECK(decoded->agent.hostname.empty());
  CHECK(decoded->results[1].details.empty());
  CHECK(decoded->results[1].metrics.empty());
  CHECK(decoded->results[0].metrics[0] ==
        Metric{"load1", 0.17, "", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
}

TEST_CASE("protocol: messages say what was expected and what came", "[protocol]") {
  json body = sample_json();
  body["results"].push_back(body["results"][0]);
  body["results"].push_back(body["results"][0]);
  body["results"][3]["status"] = "warn";
  CHECK(decode_status(body).message() ==
        "results[3].status: expected an integer 0..3, got string \"warn\"");

  body = sample_json();
  body["agent"]["id"] = 7;
  CHECK(decode_status(body).message() == "agent.id: expected a string, got number 7");

  body = sample_json();
  body["agent"]["id"] = "mairie 01";
  CHECK(decode_status(body).message() ==
        "agent.id: may only contain letters, digits, '.', '_' and '-'");

  body = sample_json();
  body["results"][0]["metrics"][0]["warn"] = "20:10";
  CHECK(decode_status(body).message() ==
        "results[0].metrics[0].warn: range \"20:10\": inverted range (start 20 is greater than "
        "end 10)");

  body = sample_json();
  body["results"][0]["metrics"][0]["unit"] = "kb";
  CHECK(decode_status(body).message() ==
        "results[0].metrics[0].unit: unknown unit \"kb\" (expected s, ms, us, %, B, KB, MB, GB, "
        "TB, c or none)");

  body = sample_json();
  body["seq"] = 0;
  CHECK(decode_status(body).message() == "seq: expected an integer >= 1, got number 0");

  body = sample_json();
  body["results"][1]["metrics"] = json::array({json::object()});
  CHECK(decode_status(body).message() == "results[1].metrics[0].name: missing");
}

TEST_CASE("protocol: check ids follow type[:instance]", "[protocol]") {
  for (const char* id : {"system/load", "external", "external:ping-gw", "backup/restic:/srv/backup",
                         "wifi/unifi-vap:Mairie Public", "a_b/c-d:x:y/z",
                         "firewall/sophos:fw-mairie", "x:é ✓", "0/9"}) {
    json body = sample_json();
    body["results"][0]["check"] = id;
    const Status status = decode_status(body);
    INFO(id << ": " << status.message());
    CHECK(status.is_ok());
  }
  for (const char* id :
       {"System/load", "system/", "/load", "a/b/c", "system/load:", ":x", "system load",
        "sys.tem/load", "system//load", "system/load:a\nb", "system/load:a\x7f"}) {
    json body = sample_json();
    body["results"][0]["check"] = id;
    const Status status = decode_status(body);
    INFO(id << ": " << status.message());
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK_THAT(status.message(), Catch::StartsWith("results[0].check: "));
  }
}

TEST_CASE("protocol: an unknown version is refused before anything else", "[protocol]") {
  json body = sample_json();
  body["protocol"] = 7;
  body["agent"] = "a different shape";
  const Status status = decode_status(body);
  CHECK(status.code() == Code::kInvalidArgument);
  CHECK(status.message() == "protocol: unsupported version 7 (this collector speaks 1)");
  CHECK(error_field(status) == "protocol");
}

TEST_CASE("protocol: unknown fields are ignored at every level", "[protocol]") {
  json body = sample_json();
  body["compression"] = "zstd";
  body["agent"]["os"] = {{"name", "debian"}, {"version", 12}};
  body["results"][0]["labels"] = json::array({"a", "b"});
  body["results"][0]["state"] = "something else";  // written for humans, never read
  body["results"][1]["metrics"][0]["color"] = nullptr;
  auto decoded = decode_report(body.dump());
  INFO(decoded.status().message());
  REQUIRE(decoded.is_ok());
  CHECK(*decoded == sample_report());
}

TEST_CASE("protocol: limits are kTooLarge and name the field", "[protocol]") {
  Limits limits;
  limits.max_results = 2;
  limits.max_metrics = 2;
  limits.max_string = 30;
  limits.max_summary = 40;
  limits.max_details = 50;

  SECTION("results") {
    json body = sample_json();
    body["results"][1]["metrics"].erase(2);
    CHECK(decode_status(body, limits).is_ok());
    body["results"].push_back(body["results"][0]);
    const Status status = decode_status(body, limits);
    CHECK(status.code() == Code::kTooLarge);
    CHECK(status.message() == "results: 3 results, more than the limit of 2");
    CHECK(error_field(status) == "results");
  }
  SECTION("metrics") {
    const Status status = decode_status(sample_json(), limits);
    CHECK(status.code() == Code::kTooLarge);
    CHECK(status.message() == "results[1].metrics: 3 metrics, more than the limit of 2");
  }
  SECTION("strings") {
    struct Case {
      const char* pointer;
      const char* path;
      std::size_t limit;
    };
    const Case cases[] = {
        {"/agent/id", "agent.id", 30},
        {"/agent/site", "agent.site", 30},
        {"/agent/hostname", "agent.hostname", 30},
        {"/agent/version", "agent.version", 30},
        {"/results/0/name", "results[0].name", 30},
        {"/results/0/check", "results[0].check", 30},
        {"/results/0/summary", "results[0].summary", 40},
        {"/results/0/details", "results[0].details", 50},
        {"/results/0/metrics/0/name", "results[0].metrics[0].name", 30},
        {"/results/0/metrics/0/unit", "results[0].metrics[0].unit", 30},
        {"/results/0/metrics/0/warn", "results[0].metrics[0].warn", 30},
        {"/results/0/metrics/0/crit", "results[0].metrics[0].crit", 30},
    };
    for (const auto& c : cases) {
      json body = sample_json();
      body["results"][1]["metrics"].erase(2);
      const json::json_pointer pointer(c.pointer);
      body[pointer] = std::string(c.limit, 'a');
      const Status fits = decode_status(body, limits);
      body[pointer] = std::string(c.limit + 1, 'a');
      const Status status = decode_status(body, limits);
      INFO(c.pointer << ": " << fits.message() << " / " << status.message());
      CHECK(fits.code() != Code::kTooLarge);
      CHECK(status.code() == Code::kTooLarge);
      CHECK(status.message() ==
            std::string(c.path) + ": longer than " + std::to_string(c.limit) + " bytes");
    }
  }
  SECTION("default limits") {
    json body = sample_json();
    body["results"][0]["summary"] = std::string(4097, 's');
    CHECK(decode_status(body).message() == "results[0].summary: longer than 4096 bytes");
    body = sample_json();
    body["agent"]["id"] = std::string(1025, 'i');
    CHECK(decode_status(body).message() == "agent.id: longer than 1024 bytes");
    CHECK(decode_status(body).code() == Code::kTooLarge);
  }
}

TEST_CASE("protocol: deep nesting is refused while parsing", "[protocol]") {
  SECTION("100000 brackets") {
    const std::string body(100'000, '[');
    const Status status = decode_report(body).status();
    CHECK(status.code() == Code::kTooLarge);
    CHECK(status.message() == "JSON nested deeper than 16 levels");
    CHECK(error_field(status).empty());
  }
  SECTION("a million brackets and braces, closed") {
    std::string body;
    for (int i = 0; i < 500'000; ++i) body += "{\"a\":[";
    for (int i = 0; i < 500'000; ++i) body += "]}";
    CHECK(decode_report(body).status().code() == Code::kTooLarge);
  }
  SECTION("the limit counts containers") {
    Limits limits;
    limits.max_depth = 5;  // report, results, result, metrics, metric
    CHECK(decode_report(encode_report(sample_report()), limits).is_ok());
    limits.max_depth = 4;
    CHECK(decode_report(encode_report(sample_report()), limits).status().message() ==
          "JSON nested deeper than 4 levels");
  }
  SECTION("in an unknown field") {
    json body = sample_json();
    json deep = 1;
    for (int i = 0; i < 15; ++i) deep = json::array({deep});
    body["extra"] = deep;  // 16 levels with the report itself
    CHECK(decode_status(body).is_ok());
    body["extra"] = json::array({deep});
    CHECK(decode_status(body).code() == Code::kTooLarge);
  }
}

TEST_CASE("protocol: malformed JSON is refused with where and why", "[protocol]") {
  for (const char* body :
       {"", "{", "not json", "{\"protocol\":1,}", "{} {}", "{\"a\":01}", "{\"a\":\"\xff\"}",
        "{\"a\":\"\x01\"}", "{\"a\":NaN}", "{\"a\":1} // comment", "\"unterminated"}) {
    const Status status = decode_report(body).status();
    INFO(body << ": " << status.message());
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK_THAT(status.message(), Catch::StartsWith("malformed JSON: "));
    CHECK_THAT(status.message(), Catch::Contains("(at byte "));
    CHECK(error_field(status).empty());
  }
  const Status status = decode_report("{\"protocol\": x}").status();
  CHECK(status.message() ==
        "malformed JSON: syntax error while parsing value - invalid literal; last read: "
        "'\"protocol\": x' (at byte 14)");
}

TEST_CASE("protocol: the body must be an object", "[protocol]") {
  for (const char* body : {"[]", "1", "null", "\"report\""}) {
    const Status status = decode_report(body).status();
    INFO(body);
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK_THAT(status.message(), Catch::StartsWith("expected a JSON object at the top level"));
    CHECK(error_field(status).empty());
  }
}

TEST_CASE("protocol: numbers that are not finite never pass", "[protocol]") {
  json body = sample_json();
  body["results"][0]["metrics"][0]["value"] = 1;
  std::string text = body.dump();
  const auto at = text.find("\"value\":1");
  REQUIRE(at != std::string::npos);
  text.replace(at, 9, "\"value\":1e400");
  const Status status = decode_report(text).status();
  CHECK(status.code() == Code::kInvalidArgument);
  CHECK_THAT(status.message(), Catch::StartsWith("malformed JSON: number overflow parsing '1e400' "
                                                 "(at byte "));

  json metric = metric_to_json({"m", 1.0, "", {}, {}, {}, {}});
  metric["value"] = std::nan("");
  CHECK_FALSE(metric_from_json(metric, "m").is_ok());
  metric["value"] = 1.0;
  metric["max"] = kInf;
  CHECK(metric_from_json(metric, "m").status().message() ==
        "m.max: expected a finite number, got number inf");
}

TEST_CASE("protocol: the encoder writes what the decoder reads", "[protocol]") {
  SECTION("a value that is not finite goes as null, min and max are left out") {
    const Metric metric{"m", std::nan(""), "s", std::nullopt, std::nullopt, -kInf, kInf};
    const json out = metric_to_json(metric);
    CHECK(out == json{{"name", "m"}, {"value", nullptr}, {"unit", "s"}});
    auto back = metric_from_json(out, "m");
    REQUIRE(back.is_ok());
    CHECK_FALSE(back->value.has_value());
  }
  SECTION("invalid UTF-8 from a plugin is replaced, not thrown") {
    Report report = sample_report();
    report.results[0].summary = "bad \xff byte";
    std::string body;
    REQUIRE_NOTHROW(body = encode_report(report));
    auto decoded = decode_report(body);
    REQUIRE(decoded.is_ok());
    CHECK(decoded->results[0].summary == "bad \xEF\xBF\xBD byte");
  }
}

TEST_CASE("protocol: result_to_json and result_from_json on their own", "[protocol]") {
  const CheckResult result = sample_report().results[1];
  const json out = result_to_json(result);
  auto back = result_from_json(out, "r");
  REQUIRE(back.is_ok());
  CHECK(*back == result);

  json bad = out;
  bad.erase("summary");
  CHECK(result_from_json(bad, "r").status().message() == "r.summary: missing");
  CHECK(result_from_json(json::array(), "results[9]").status().message() ==
        "results[9]: expected an object, got array");
}

TEST_CASE("protocol: error_field extracts the path", "[protocol]") {
  CHECK(error_field(Status::invalid("results[3].status: expected an integer")) ==
        "results[3].status");
  CHECK(error_field(Status::invalid("results[0].metrics[2].warn: range \"x\": bad")) ==
        "results[0].metrics[2].warn");
  CHECK(error_field(Status::too_large("results: 3 results")) == "results");
  CHECK(error_field(Status::invalid("malformed JSON: syntax error")) == "");
  CHECK(error_field(Status::invalid("no path here")) == "");
  CHECK(error_field(Status::invalid("")) == "");
  CHECK(error_field(Status::invalid(": x")) == "");
  CHECK(error_field(Status::ok()) == "");
}

}  // namespace vigie::protocol

namespace vigie::protocol {
namespace {

// The fast decoder must agree with the careful one on every valid report and give up
// (nullopt) on anything it is not sure of, so that the careful one decides.
TEST_CASE("Protocol: the fast decoder builds the same report as the careful one",
          "[protocol][fast]") {
  const std::vector<std::string> bodies = {
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[]})",
      R"({"results":[],"seq":9223372036854775807,"agent":{"site":"s","id":"a-1.b_c","hostname":null,"version":"2"},"protocol":1,"extra":"ignored","n":3.5,"t":true,"z":null})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":2,"sent":1700000000000,
          "spool":{"depth":3,"oldest":1699999999000,"dropped":0},
          "results":[{"name":"disk \u00e9t\u00e9 \"x\"","check":"system/disk:/srv","status":2,
          "summary":"caf\u00e9 \ud83d\ude00 line","details":null,"ts":0,"duration_ms":0,"interval_s":1,
          "max_attempts":5,"metrics":[{"name":"used","value":-0.0,"unit":"%","warn":"80","crit":"@10:20",
          "min":0,"max":100},{"name":"u","value":null},{"name":"big","value":1e300,"min":null,"other":1}]},
          {"name":"n","check":"external","status":0,"summary":"","ts":253402300799999,
           "duration_ms":5,"interval_s":31622400,"metrics":null}]})",
  };
  for (const auto& body : bodies) {
    INFO(body);
    auto careful = detail::decode_report_careful(body);
    REQUIRE(careful.is_ok());
    auto fast = detail::decode_report_fast(body);
    REQUIRE(fast.has_value());
    CHECK(*fast == *careful);
  }

  // Random reports, encoded as agents do.
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) {
    Report r;
    r.agent = {"agent-" + std::to_string(rng() % 1000), "site", "host\t\"" + std::to_string(i), ""};
    r.seq = 1 + rng() % 1'000'000;
    if (rng() % 2) r.sent_ms = static_cast<std::int64_t>(rng() % 2'000'000'000'000);
    const int n = static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) {
      CheckResult c;
      c.name = "check " + std::to_string(k) + (rng() % 2 ? "\xc3\xa9" : "");
      c.check = "family/type:inst" + std::to_string(k);
      c.status = static_cast<State>(rng() % 4);
      c.summary = std::string(rng() % 50, 'x') + "\\\x01";
      c.ts_ms = static_cast<std::int64_t>(rng() % 2'000'000'000'000);
      c.interval_s = 1 + static_cast<std::int64_t>(rng() % 3600);
      if (rng() % 3 == 0) c.site = "member-" + std::to_string(rng() % 600);
      for (int m = 0; m < static_cast<int>(rng() % 4); ++m) {
        Metric metric;
        metric.label = "m" + std::to_string(m);
        if (rng() % 4)
          metric.value = std::ldexp(static_cast<double>(rng() % 100000) - 50000,
                                    static_cast<int>(rng() % 40) - 20);
        if (rng() % 2) metric.warn = Range{0, static_cast<double>(rng() % 100)};
        if (rng() % 2) metric.min = 0;
        c.metrics.push_back(metric);
      }
      r.results.push_back(c);
    }
    const std::string body = encode_report(r);
    INFO(body);
    auto fast = detail::decode_report_fast(body);
    REQUIRE(fast.has_value());
    auto careful = detail::decode_report_careful(body);
    REQUIRE(careful.is_ok());
    CHECK(*fast == *careful);
  }
}

TEST_CASE("Protocol: the fast decoder gives up on what the careful one must judge",
          "[protocol][fast]") {
  const std::string ok = R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[]})";
  REQUIRE(detail::decode_report_fast(ok).has_value());
  const std::vector<std::string> unsure = {
      ok + " x",  // trailing
      R"({"protocol":1,"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[]})",
      R"({"protocol":1,"agent":{"id":"a","site":"s","id":"b"},"seq":1,"results":[]})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[],"x":{"deep":[1]}})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1.0,"results":[]})",
      R"({"protocol":2,"agent":{"id":"a","site":"s"},"seq":1,"results":[]})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":0,"results":[]})",
      R"({"protocol":1,"agent":{"id":"-a","site":"s"},"seq":1,"results":[]})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[],"x":tru})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[],"x":01})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[{"name":"n"}]})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[{"name":"n","check":"BAD","status":0,"summary":"","ts":0,"duration_ms":0,"interval_s":1}]})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[{"name":"n","check":"a/b","status":0,"summary":"","ts":0,"duration_ms":0,"interval_s":1,"metrics":[{"name":"m","value":1,"unit":"parsecs"}]}]})",
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[{"name":"n","check":"a/b","status":0,"summary":"","ts":0,"duration_ms":0,"interval_s":1,"metrics":[{"name":"m","value":1e999}]}]})",
      "[1,2]",
      "",
      "{\"protocol\":1,\"agent\":{\"id\":\"a\",\"site\":\"s\"},\"seq\":1,\"results\":[],\"x\":"
      "\"\xff\"}",
  };
  for (const auto& body : unsure) {
    INFO(body);
    CHECK_FALSE(detail::decode_report_fast(body).has_value());
    // The careful decoder refuses each of them (the duplicates and the nested
    // unknown member, which it accepts, aside).
  }
  Limits tight;
  tight.max_results = 1;
  const std::string two =
      R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[)"
      R"({"name":"n","check":"a/b","status":0,"summary":"","ts":0,"duration_ms":0,"interval_s":1},)"
      R"({"name":"n","check":"a/b","status":0,"summary":"","ts":0,"duration_ms":0,"interval_s":1}]})";
  CHECK_FALSE(detail::decode_report_fast(two, tight).has_value());
  CHECK(decode_report(two, tight).status().code() == Code::kTooLarge);
  tight = Limits{};
  tight.max_values = 10;
  CHECK_FALSE(detail::decode_report_fast(two, tight).has_value());
}

TEST_CASE("Protocol: a number of more than 19 digits reads as strtod reads it, on both paths",
          "[protocol][fast]") {
  // Long decimals whose integer part is zero overflow the 64-bit digit accumulator of
  // some simdjson releases (3.0 reads 0.95000000000000000000 as 0.0277); the report
  // must hold the nearest double, whichever decoder read it.
  for (const std::string text :
       {"0.95000000000000000000", "0.43777777777777777777777777777777777777777777",
        "0.00000000000000000000000000000000000000012345", "-0.1234567890123456789012e3",
        "12345678901234567890.5", "1.00000000000000000000000000000000000000000001"}) {
    INFO(text);
    const std::string body =
        R"({"protocol":1,"agent":{"id":"a","site":"s"},"seq":1,"results":[{"name":"n",)"
        R"("check":"a/b","status":0,"summary":"","ts":0,"duration_ms":0,"interval_s":1,)"
        R"("metrics":[{"name":"m","value":)" +
        text + R"(,"min":)" + text + R"(}]}]})";
    const double expected = std::strtod(text.c_str(), nullptr);
    const auto report = decode_report(body);
    REQUIRE(report.is_ok());
    const auto& metric = report->results.at(0).metrics.at(0);
    CHECK(metric.value == expected);
    CHECK(metric.min == expected);
    if (const auto fast = detail::decode_report_fast(body)) {
      CHECK(fast->results.at(0).metrics.at(0).value == expected);
      CHECK(fast->results.at(0).metrics.at(0).min == expected);
    }
  }
}

}  // namespace
}  // namespace vigie::protocol

TEST_CASE("Protocol: an empty or blank body is refused by the careful decoder alone",
          "[protocol]") {
  for (const std::string body : {"", " ", "\n\t \r\n", "[]", "17"}) {
    INFO("body \"" << body << "\"");
    CHECK_FALSE(vigie::protocol::detail::decode_report_fast(body).has_value());
    const auto report = vigie::protocol::decode_report(body);
    REQUIRE_FALSE(report.is_ok());
    CHECK(report.status().code() == vigie::Code::kInvalidArgument);
  }
}

namespace vigie::protocol {
namespace {

Event sample_trap() {
  Event event;
  event.ts_ms = 1'700'000'000'789;
  event.name = "firewall";
  event.check = "firewall/sophos:fw";
  event.summary = "linkDown from fw: ifIndex.3=3, ifOperStatus.3=down(2)";
  event.device = "fw";
  event.source = "192.0.2.1:1024";
  event.version = "3";
  event.inform = true;
  event.trap_oid = "1.3.6.1.6.3.1.1.5.3";
  event.trap_name = "linkDown";
  event.varbinds = {{"1.3.6.1.2.1.2.2.1.1.3", "ifIndex.3", "INTEGER", "3"},
                    {"1.3.6.1.2.1.2.2.1.8.3", "ifOperStatus.3", "INTEGER", "down(2)"},
                    {"1.3.6.1.4.1.99.1", "", "OCTET STRING", "0x00ff"}};
  return event;
}

TEST_CASE("protocol: events travel with a report and come back the same", "[protocol]") {
  Report report;
  report.agent = {"onesse-mairie-01", "onesse-et-laharie", "", ""};
  report.seq = 7;
  report.events = {sample_trap()};
  Event bare = sample_trap();
  bare.name.clear();
  bare.check.clear();
  bare.varbinds.clear();
  bare.trap_name.clear();
  report.events.push_back(bare);
  const std::string body = encode_report(report);
  const json wire = json::parse(body);
  CHECK(wire["events"][0]["kind"] == "trap");
  CHECK(wire["events"][0]["trap"]["oid"] == "1.3.6.1.6.3.1.1.5.3");
  CHECK(wire["events"][0]["trap"]["varbinds"][1]["value"] == "down(2)");
  CHECK_FALSE(wire["events"][1].contains("check"));
  auto decoded = decode_report(body);
  REQUIRE(decoded);
  CHECK(*decoded == report);
  // Both decoders agree: the fast one leaves reports with events to the careful one.
  CHECK_FALSE(detail::decode_report_fast(body));
}

TEST_CASE("protocol: a report without events has no events member", "[protocol]") {
  Report report;
  report.agent = {"a1", "s1", "", ""};
  report.seq = 1;
  CHECK_FALSE(json::parse(encode_report(report)).contains("events"));
}

TEST_CASE("protocol: an event of an unknown kind is skipped, a bad trap refused by its path",
          "[protocol]") {
  Report report;
  report.agent = {"a1", "s1", "", ""};
  report.seq = 1;
  report.events = {sample_trap()};
  json wire = json::parse(encode_report(report));
  wire["events"].push_back({{"kind", "syslog"}, {"ts", 1}, {"text", "from the future"}});
  auto decoded = decode_report(wire.dump());
  REQUIRE(decoded);
  REQUIRE(decoded->events.size() == 1);

  const auto refused = [&](const std::function<void(json&)>& edit) {
    json copy = wire;
    edit(copy["events"][0]);
    auto r = decode_report(copy.dump());
    REQUIRE_FALSE(r);
    return r.status().message();
  };
  CHECK_THAT(refused([](json& e) { e["trap"]["oid"] = "linkDown"; }),
             Catch::StartsWith("events[0].trap.oid: expected a numeric OID"));
  CHECK_THAT(refused([](json& e) { e["trap"]["version"] = "1"; }),
             Catch::StartsWith("events[0].trap.version: expected \"2c\" or \"3\""));
  CHECK_THAT(refused([](json& e) { e.erase("trap"); }),
             Catch::StartsWith("events[0].trap: missing"));
  CHECK_THAT(refused([](json& e) { e["check"] = "Bad Id"; }), Catch::StartsWith("events[0].check"));
  CHECK_THAT(refused([](json& e) { e["trap"]["varbinds"][0]["value"] = std::string(2000, 'x'); }),
             Catch::StartsWith("events[0].trap.varbinds[0].value: longer than 1024 bytes"));
  CHECK_THAT(refused([](json& e) {
               for (int i = 0; i < 70; ++i)
                 e["trap"]["varbinds"].push_back(e["trap"]["varbinds"][0]);
             }),
             Catch::StartsWith("events[0].trap.varbinds: 73 variables, more than the limit of 64"));
  CHECK_THAT(refused([](json& e) { e["trap"]["inform"] = "yes"; }),
             Catch::StartsWith("events[0].trap.inform: expected true or false"));
}

TEST_CASE("protocol: at most max_events events in a report", "[protocol]") {
  Report report;
  report.agent = {"a1", "s1", "", ""};
  report.seq = 1;
  report.events.assign(11, sample_trap());
  Limits limits;
  limits.max_events = 10;
  auto decoded = decode_report(encode_report(report), limits);
  REQUIRE_FALSE(decoded);
  CHECK(decoded.status().code() == Code::kTooLarge);
  CHECK(decoded.status().message() == "events: 11 events, more than the limit of 10");
}

}  // namespace
}  // namespace vigie::protocol
