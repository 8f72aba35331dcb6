#include "agent/report_encoding.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/gzip.hpp"

namespace vigie::agent {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

CheckResult result(int n) {
  CheckResult r;
  r.name = "check-" + std::to_string(n);
  r.check = "system/disk:/srv/" + std::to_string(n);
  r.status = State::kWarning;
  r.summary = "disk /srv/" + std::to_string(n) + " is 85% full";
  r.metrics.push_back({"used_pct", 85.0, "%", Range{0, 80}, Range{0, 90}, 0.0, 100.0});
  r.ts_ms = 1'700'000'000'000 + n;
  r.duration_ms = 3;
  r.interval_s = 60;
  return r;
}

protocol::Report report(int results) {
  protocol::Report r;
  r.agent = {"demo-mairie-01", "demo-site", "host", "0.1.0"};
  r.seq = 1'700'000'000'123;
  for (int i = 0; i < results; ++i) r.results.push_back(result(i));
  return r;
}

// Results as checks make them, odd ones included: every kind of string the encoder
// escapes, numbers JSON cannot hold, ranges of every form, optional fields on and off.
std::vector<CheckResult> varied_results() {
  std::vector<CheckResult> out;
  out.push_back(result(0));
  CheckResult quotes = result(1);
  quotes.summary = "a \"quoted\" \\ back\\slash / slash\ttab\nnew line\r\x01\x1f\x7f";
  quotes.details = "line 1\nline 2 \u00e9t\u00e9 \xe2\x82\xac \xf0\x9f\x94\xa5 \xe2\x80\xae rtl";
  quotes.name = "nom-\u00e9t\u00e9";
  quotes.check = "external:ping \"gw\" \u00e9";
  quotes.max_attempts = 3;
  out.push_back(quotes);
  CheckResult metrics = result(2);
  metrics.status = State::kCritical;
  metrics.metrics = {
      {"plain", 1.5, "", {}, {}, {}, {}},
      {"nan", kNan, "ms", {}, {}, kNan, kInf},
      {"inf", kInf, "s", Range{10, kInf}, Range{-kInf, 5, true}, -kInf, {}},
      {"'quoted label'=;", -0.000001234, "B", Range{-3, 3, true}, Range{0, 0}, -1e300, 1e300},
      {"big", 1.7976931348623157e308, "c", Range{5, 5}, {}, 0.0, {}},
      {"tiny", 4.9e-324, "%", {}, Range{0.1, 0.2}, {}, 100.0},
      {"integer", 9007199254740993.0, "KB", {}, {}, {}, {}},
      {"\u00e9t\u00e9 \xf0\x9f\x94\xa5", 0.0, "us", {}, {}, {}, {}}};
  out.push_back(metrics);
  CheckResult bare = result(3);
  bare.metrics.clear();
  bare.summary.clear();
  bare.status = State::kUnknown;
  bare.duration_ms = 0;
  bare.ts_ms = 0;
  bare.interval_s = 366 * 86'400;
  out.push_back(bare);
  CheckResult not_utf8 = result(4);
  not_utf8.summary = "bad \xff\xfe bytes \xc3 cut \xe2\x82 and \xed\xa0\x80 surrogate";
  not_utf8.details = std::string("nul \0 inside", 12);
  not_utf8.metrics[0].label =
      "lab\xc0\xaf"
      "el";
  out.push_back(fit_to_protocol(not_utf8));
  return out;
}

}  // namespace

TEST_CASE("assemble_report: byte for byte what protocol::encode_report writes",
          "[report_encoding]") {
  const std::vector<CheckResult> results = varied_results();
  std::vector<protocol::Report> reports;
  protocol::Report full = report(0);
  full.results = results;
  full.sent_ms = 1'700'000'000'999;
  full.spool = protocol::SpoolInfo{12, 1'699'999'999'000, 3};
  reports.push_back(full);
  protocol::Report bare = full;
  bare.agent.hostname.clear();
  bare.agent.version.clear();
  bare.sent_ms = 0;
  bare.spool.reset();
  reports.push_back(bare);
  protocol::Report empty = full;
  empty.results.clear();
  empty.spool = protocol::SpoolInfo{};
  reports.push_back(empty);
  protocol::Report odd_agent = full;
  odd_agent.agent.hostname = "h\u00f4te \"x\"\n";
  odd_agent.agent.version = "0.1.0-\xff";
  odd_agent.seq = std::numeric_limits<std::int64_t>::max();
  odd_agent.results = {results[1]};
  reports.push_back(odd_agent);
  protocol::Report with_events = full;
  protocol::Event trap;
  trap.ts_ms = 1'700'000'000'500;
  trap.name = "firewall";
  trap.check = "firewall/sophos:fw";
  trap.summary = "linkDown from fw: ifIndex.3=3 \"wan\" \xff";
  trap.device = "fw";
  trap.source = "192.0.2.1:1024";
  trap.version = "3";
  trap.inform = true;
  trap.trap_oid = "1.3.6.1.6.3.1.1.5.3";
  trap.trap_name = "linkDown";
  trap.varbinds = {{"1.3.6.1.2.1.2.2.1.1.3", "ifIndex.3", "INTEGER", "3"},
                   {"1.3.6.1.2.1.2.2.1.2.3", "ifDescr.3", "OCTET STRING", "wan"}};
  with_events.events = {trap, trap};
  with_events.events[1].varbinds.clear();
  reports.push_back(with_events);
  protocol::Report only_events = with_events;
  only_events.results.clear();
  reports.push_back(only_events);

  for (const protocol::Report& r : reports) {
    std::vector<std::string> encoded;
    for (const CheckResult& each : r.results) encoded.push_back(encode_result(each));
    std::vector<std::string> events;
    for (const protocol::Event& each : r.events) events.push_back(encode_event(each));
    const std::string expected = protocol::encode_report(r);
    INFO(expected);
    CHECK(assemble_report(r, encoded, events) == expected);
  }
  // And the collector reads it back whole.
  std::vector<std::string> encoded;
  for (const CheckResult& each : full.results) encoded.push_back(encode_result(each));
  auto decoded = protocol::decode_report(assemble_report(full, encoded));
  INFO(decoded.status().message());
  REQUIRE(decoded.is_ok());
  CHECK(decoded->results.size() == results.size());
  CHECK(decoded->results[1] == results[1]);
}

TEST_CASE("validate_result: the collector's verdict, without a round trip through JSON",
          "[report_encoding]") {
  std::vector<CheckResult> cases = varied_results();
  const auto bad = [&](auto change) {
    CheckResult r = result(9);
    change(r);
    cases.push_back(r);
  };
  bad([](CheckResult& r) { r.name.clear(); });
  bad([](CheckResult& r) { r.name = "a\nb"; });
  bad([](CheckResult& r) { r.name = std::string(1025, 'n'); });
  bad([](CheckResult& r) { r.check = "System/Disk"; });
  bad([](CheckResult& r) { r.check = "system/disk:"; });
  bad([](CheckResult& r) { r.check = "a/b/c"; });
  bad([](CheckResult& r) { r.status = static_cast<State>(7); });
  bad([](CheckResult& r) { r.summary = std::string(4097, 's'); });
  bad([](CheckResult& r) { r.details = std::string(64 * 1024 + 1, 'd'); });
  bad([](CheckResult& r) { r.ts_ms = -1; });
  bad([](CheckResult& r) { r.ts_ms = 253'402'300'800'000; });
  bad([](CheckResult& r) { r.duration_ms = -5; });
  bad([](CheckResult& r) { r.interval_s = 0; });
  bad([](CheckResult& r) { r.interval_s = 366 * 86'400 + 1; });
  bad([](CheckResult& r) { r.max_attempts = 101; });
  bad([](CheckResult& r) { r.max_attempts = -1; });
  bad([](CheckResult& r) { r.metrics.resize(257, r.metrics[0]); });
  bad([](CheckResult& r) { r.metrics[0].label.clear(); });
  bad([](CheckResult& r) { r.metrics[0].unit = "furlongs"; });
  bad([](CheckResult& r) { r.metrics[0].unit = std::string(2000, 'u'); });
  bad([](CheckResult& r) { r.metrics[0].warn = Range{kNan, 1}; });
  bad([](CheckResult& r) { r.metrics[0].crit = Range{5, 1}; });
  bad([](CheckResult& r) {
    r.metrics.push_back({std::string(1025, 'l'), 1.0, "", {}, {}, {}, {}});
  });

  int refused = 0;
  for (const CheckResult& r : cases) {
    const Status direct = validate_result(r);
    const auto round_trip = protocol::result_from_json(protocol::result_to_json(r), "result");
    INFO(r.name.substr(0, 40) << " / " << r.check.substr(0, 40));
    CHECK(direct.code() == round_trip.status().code());
    CHECK(direct.message() == round_trip.status().message());
    if (!direct) ++refused;
  }
  CHECK(refused >= 20);
}

TEST_CASE("encode_body: JSON as is when small, gzipped when larger than the threshold",
          "[report_encoding]") {
  const auto small = report(1);
  const Body plain = encode_body(protocol::encode_report(small), 1024);
  REQUIRE(plain.data.size() <= 1024);
  CHECK_FALSE(plain.gzipped);
  auto decoded = protocol::decode_report(plain.data);
  REQUIRE(decoded.is_ok());
  CHECK(*decoded == small);

  const auto large = report(50);
  const Body packed = encode_body(protocol::encode_report(large), 1024);
  CHECK(packed.gzipped);
  CHECK(packed.data.size() < protocol::encode_report(large).size());
  auto inflated = gzip_decompress(packed.data, 1 << 20);
  REQUIRE(inflated.is_ok());
  auto decoded_large = protocol::decode_report(*inflated);
  REQUIRE(decoded_large.is_ok());
  CHECK(*decoded_large == large);
}

TEST_CASE("fit_to_protocol: cuts long texts, drops extra metrics, keeps good results",
          "[report_encoding]") {
  const CheckResult good = result(1);
  CHECK(fit_to_protocol(good) == good);

  protocol::Limits limits;
  CheckResult big = result(2);
  big.summary.clear();
  for (int i = 0; i < 3000; ++i) big.summary += "\xC3\xA9";  // 'é', two bytes each
  big.summary += "x";                                        // odd length: the cut is inside
  big.details = std::string(limits.max_details + 10, 'd');
  const Metric metric = big.metrics[0];
  big.metrics.resize(limits.max_metrics + 5, metric);
  const CheckResult fitted = fit_to_protocol(big, limits);
  CHECK(fitted.status == State::kWarning);
  CHECK(fitted.summary.size() == limits.max_summary);  // 4096 is even: 2048 whole 'é'
  CHECK(fitted.details.size() == limits.max_details);
  CHECK(fitted.metrics.size() == limits.max_metrics);

  limits.max_summary = 5;  // a cut inside the third 'é'
  CHECK(fit_to_protocol(big, limits).summary == "\xC3\xA9\xC3\xA9");
}

TEST_CASE("fit_to_protocol: bytes that are not UTF-8 are replaced before the limits are checked",
          "[report_encoding]") {
  // Each bad byte becomes U+FFFD, three bytes: a summary at the limit grows past it. It
  // must be cut before it is spooled, or the collector would refuse the whole batch.
  CheckResult r = result(5);
  r.summary = std::string(4095, 's') + "\xff";
  const CheckResult fitted = fit_to_protocol(r);
  CHECK(fitted.status == State::kWarning);
  CHECK(fitted.summary == std::string(4095, 's'));
  const auto back =
      protocol::result_from_json(nlohmann::json::parse(encode_result(fitted)), "result");
  REQUIRE(back.is_ok());
  CHECK(*back == fitted);

  r.summary = "ok \xff then";
  CHECK(fit_to_protocol(r).summary == "ok \xEF\xBF\xBD then");
  // What the encoder alone would have written, byte for byte.
  CHECK(encode_result(fit_to_protocol(r)) == encode_result(r));
}

TEST_CASE("fit_to_protocol: a result the collector would refuse becomes UNKNOWN",
          "[report_encoding]") {
  CheckResult bad = result(3);
  bad.metrics[0].unit = "furlongs";
  const CheckResult fitted = fit_to_protocol(bad);
  CHECK(fitted.status == State::kUnknown);
  CHECK_THAT(fitted.summary, StartsWith("the check's result cannot be reported: "));
  CHECK_THAT(fitted.summary, Contains("furlongs"));
  CHECK(fitted.metrics.empty());
  CHECK(fitted.name == bad.name);
  CHECK(fitted.check == bad.check);
  CHECK(fitted.ts_ms == bad.ts_ms);
  CHECK(fitted.interval_s == bad.interval_s);
}

}  // namespace vigie::agent
