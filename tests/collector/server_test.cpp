#include "collector/server.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace vigie::collector {
namespace {

using Catch::Matchers::Contains;

TEST_CASE("parse_request: a request as a session hands it to the routes", "[server]") {
  const auto parsed = parse_request(
      "POST /api/v1/acks?agent=a%20b&check=system/load HTTP/1.1\r\n"
      "Host: collector\r\nAuthorization: Bearer vgu_x\r\nContent-Type: application/json\r\n"
      "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nbody and what follows");
  REQUIRE(parsed.request);
  CHECK_FALSE(parsed.refusal);
  const HttpRequest& r = *parsed.request;
  CHECK(r.method == "POST");
  CHECK(r.path == "/api/v1/acks");
  CHECK(r.query == std::map<std::string, std::string>{{"agent", "a b"}, {"check", "system/load"}});
  CHECK(r.authorization == "Bearer vgu_x");
  CHECK(r.content_type == "application/json");
  CHECK(r.content_encoding == "gzip");
  CHECK(r.body == "body");
  CHECK(r.peer.empty());

  const auto chunked = parse_request(
      "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  REQUIRE(chunked.request);
  CHECK(chunked.request->body == "abcde");
}

TEST_CASE("parse_request: what a session refuses, and a request cut short", "[server]") {
  ServerOptions limits;
  limits.max_body = 10;
  limits.max_header = 200;
  auto parsed = parse_request(
      "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n0123456789a", limits);
  REQUIRE(parsed.refusal);
  CHECK(parsed.refusal->status == 413);
  CHECK_THAT(parsed.refusal->body, Contains("request body larger than 10 bytes"));

  parsed = parse_request("GET / HTTP/1.1\r\nX: " + std::string(300, 'x') + "\r\n\r\n", limits);
  REQUIRE(parsed.refusal);
  CHECK(parsed.refusal->status == 431);

  parsed = parse_request("GET / HTTP/1.1\r\nBad Header\r\n\r\n", limits);
  REQUIRE(parsed.refusal);
  CHECK(parsed.refusal->status == 400);
  CHECK_THAT(parsed.refusal->body, Contains("malformed HTTP request"));

  for (const char* partial :
       {"", "GET / HTTP/1.1\r\nHost: x\r\n", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"}) {
    INFO(partial);
    parsed = parse_request(partial, limits);
    CHECK_FALSE(parsed.request);
    CHECK_FALSE(parsed.refusal);
  }
}

}  // namespace
}  // namespace vigie::collector
