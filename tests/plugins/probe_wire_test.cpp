#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "plugins/net/probe.hpp"

namespace vigie::plugins::net {
namespace {

using Catch::Matchers::Contains;

// `text` with its first `from` made `to`.
std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

TEST_CASE("Probe helper protocol: requests and answers go through whole", "[probe][wire]") {
  ProbeRequest request;
  request.kind = "tls";
  request.budget = std::chrono::milliseconds(2500);
  request.tls.push_back({.host = "mail.example.org", .port = 587, .starttls = StartTls::kSmtp});
  auto decoded = decode_request(encode_request(request));
  REQUIRE(decoded);
  CHECK(decoded->budget == request.budget);
  REQUIRE(decoded->tls.size() == 1);
  CHECK(decoded->tls[0].port == 587);
  CHECK(decoded->tls[0].starttls == StartTls::kSmtp);

  HttpAnswer http;
  http.status = 301;
  http.redirects = 2;
  http.body_bytes = 1ULL << 40;
  http.certificate = {.seen = true, .not_before = -1, .not_after = 4'102'444'800};
  HttpAnswer back;
  auto job = decode_answer(encode_answer(7, http), back);
  REQUIRE(job);
  CHECK(*job == 7);
  CHECK(back.status == 301);
  CHECK(back.body_bytes == http.body_bytes);
  CHECK(back.certificate.not_before == -1);
  CHECK(back.certificate.not_after == 4'102'444'800);
}

TEST_CASE("Probe helper protocol: a number that is not an integer of its field is refused",
          "[probe][wire]") {
  // Found by fuzzing (tests/fuzz/corpus/probe_wire): nlohmann's get<int>() cast 1e300 to
  // an integer, which is undefined behaviour; the helper reads requests, the agent reads
  // the helper's answers, and neither may trust the other.
  ProbeRequest request;
  request.kind = "tls";
  request.budget = std::chrono::milliseconds(1000);
  request.tls.push_back({.host = "h", .port = 443});
  const std::string good = encode_request(request);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"("port":443)", R"("port":1e300)"},
           {R"("port":443)", R"("port":4294967739)"},
           {R"("port":443)", R"("port":443.5)"},
           {R"("budget_ms":1000)", R"("budget_ms":1e300)"},
           {R"("budget_ms":1000)", R"("budget_ms":-1)"},
       }) {
    const std::string text = with(good, from, to);
    INFO(text);
    auto r = decode_request(text);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("probe request: "));
  }

  HttpAnswer http;
  http.status = 200;
  http.certificate = {.seen = true, .not_before = 1, .not_after = 2};
  const std::string answer = encode_answer(3, http);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"("job":3)", R"("job":1e300)"},
           {R"("job":3)", R"("job":-3)"},
           {R"("status":200)", R"("status":1e300)"},
           {R"("matched":-1)", R"("matched":1e10)"},
           {R"("body_bytes":0)", R"("body_bytes":-1)"},
           {R"("not_after":2)", R"("not_after":1e19)"},
           {R"("error":null)", R"("error":{"code":1e300,"message":"x"})"},
       }) {
    const std::string text = with(answer, from, to);
    INFO(text);
    HttpAnswer out;
    auto r = decode_answer(text, out);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kCorruption);
    CHECK_THAT(r.status().message(), Contains("probe helper's answer"));
  }
}

}  // namespace
}  // namespace vigie::plugins::net
