#include "agent/shipper.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "common/gzip.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::agent {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Clock = std::chrono::steady_clock;

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

TEST_CASE("judge_response: 2xx delivers, batch-specific 4xx refuses, the rest retries",
          "[shipper]") {
  for (long status : {200L, 201L, 202L, 204L}) CHECK(judge_response(status) == Verdict::kDelivered);
  for (long status : {400L, 405L, 409L, 413L, 415L, 422L}) {
    CHECK(judge_response(status) == Verdict::kRefused);
  }
  for (long status : {0L, 100L, 301L, 307L, 401L, 403L, 404L, 408L, 429L, 500L, 502L, 503L}) {
    INFO(status);
    CHECK(judge_response(status) == Verdict::kRetry);
  }
}

TEST_CASE("backoff_delay: doubles from 1 s up to 5 min, with half of it jittered", "[shipper]") {
  const auto delay = [](int attempt, double random) {
    return backoff_delay(attempt, 1s, 5min, random);
  };
  CHECK(delay(1, 0.0) == 500ms);
  CHECK(delay(1, 0.999) >= 999ms);
  CHECK(delay(1, 0.999) <= 1000ms);
  CHECK(delay(2, 0.0) == 1s);
  CHECK(delay(2, 0.5) == 1500ms);
  CHECK(delay(3, 0.0) == 2s);
  CHECK(delay(9, 0.0) == 128s);
  CHECK(delay(10, 0.0) == 150s);  // 256 s would pass the cap of 300 s
  CHECK(delay(10, 0.999) <= 5min);
  CHECK(delay(1000, 0.0) == 150s);
  CHECK(delay(1000, 0.999) <= 5min);
  CHECK(delay(0, 0.0) == 500ms);  // out-of-range input is tolerated
  CHECK(delay(1, 7.0) == 1s);
}

TEST_CASE("encode_body: JSON as is when small, gzipped when larger than the threshold",
          "[shipper]") {
  const auto small = report(1);
  const Body plain = encode_body(small, 1024);
  REQUIRE(plain.data.size() <= 1024);
  CHECK_FALSE(plain.gzipped);
  auto decoded = protocol::decode_report(plain.data);
  REQUIRE(decoded.is_ok());
  CHECK(*decoded == small);

  const auto large = report(50);
  const Body packed = encode_body(large, 1024);
  CHECK(packed.gzipped);
  CHECK(packed.data.size() < protocol::encode_report(large).size());
  auto inflated = gzip_decompress(packed.data, 1 << 20);
  REQUIRE(inflated.is_ok());
  auto decoded_large = protocol::decode_report(*inflated);
  REQUIRE(decoded_large.is_ok());
  CHECK(*decoded_large == large);
}

TEST_CASE("fit_to_protocol: cuts long texts, drops extra metrics, keeps good results",
          "[shipper]") {
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

TEST_CASE("fit_to_protocol: a result the collector would refuse becomes UNKNOWN", "[shipper]") {
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

std::unique_ptr<Spool> spool_in(const testing::TempDir& dir) {
  auto spool = open_memory_spool(dir / "report.seq");
  REQUIRE(spool.is_ok());
  return std::move(*spool);
}

TEST_CASE("Shipper: a missing or bad token file or CA file is refused at creation", "[shipper]") {
  testing::TempDir dir;
  const auto create = [&](const std::string& token_file, const std::string& ca_file) {
    ShipperOptions options;
    options.url = "https://collector.example.org";
    options.token_file = token_file;
    options.ca_file = ca_file;
    return Shipper::create({"a", "s", "h", "v"}, options, spool_in(dir));
  };
  auto missing = create((dir / "agent.token").string(), "");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK_THAT(missing.status().message(), Contains((dir / "agent.token").string()));

  auto empty = create(dir.write("empty.token", " \n").string(), "");
  REQUIRE_FALSE(empty.is_ok());
  CHECK_THAT(empty.status().message(), Contains("empty"));

  auto spaced = create(dir.write("spaced.token", "abc def\n").string(), "");
  REQUIRE_FALSE(spaced.is_ok());
  CHECK_THAT(spaced.status().message(), Contains("printable ASCII"));

  const auto token = dir.write("agent.token", "s3cr3t-t0ken\n");
  auto no_ca = create(token.string(), (dir / "ca.crt").string());
  REQUIRE_FALSE(no_ca.is_ok());
  CHECK_THAT(no_ca.status().message(), StartsWith("CA file: " + (dir / "ca.crt").string()));

  auto fine = create(token.string(), "");
  REQUIRE(fine.is_ok());
  CHECK((*fine)->stop(0ms) == 0);
}

TEST_CASE("Shipper: stop() gives up on an unreachable collector at the flush deadline",
          "[shipper]") {
  testing::TempDir dir;
  ShipperOptions options;
  options.url = "http://127.0.0.1:1";  // nothing listens on port 1: connection refused
  options.send_interval = 1h;          // only the flush sends
  auto shipper = Shipper::create({"a", "s", "h", "v"}, options, spool_in(dir));
  REQUIRE(shipper.is_ok());
  (*shipper)->submit(result(1));
  (*shipper)->submit(result(2));
  const auto start = Clock::now();
  CHECK((*shipper)->stop(700ms) == 2);  // kept: never acknowledged
  CHECK(Clock::now() - start < 1500ms);
}

}  // namespace
}  // namespace vigie::agent
