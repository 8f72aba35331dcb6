#include "common/json_parse.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace vigie {
namespace {

std::string nested(int levels, const std::string& inner = "") {
  return std::string(levels, '[') + inner + std::string(levels, ']');
}

TEST_CASE("JSON from outside: nesting past the bound is refused, not built", "[json]") {
  CHECK(parse_json(nested(kMaxJsonDepth, "1")).is_ok());
  auto deep = parse_json(nested(kMaxJsonDepth + 1));
  CHECK(deep.status().code() == Code::kInvalidArgument);
  CHECK(deep.status().message() == "nested deeper than 64 levels");
  // Objects count as arrays do, and a bound of one's own.
  CHECK(parse_json(R"({"a": {"b": [1]}})", {.max_depth = 3}).is_ok());
  CHECK_FALSE(parse_json(R"({"a": {"b": [1]}})", {.max_depth = 2}).is_ok());
  // What would overflow the stack of whatever walks it (a copy, a dump, a comparison).
  const std::string huge = nested(1'000'000);
  auto refused = parse_json(huge);
  CHECK(refused.status().message() == "nested deeper than 64 levels");
  CHECK(parse_json_or_discarded(huge).is_discarded());
  // Deep, and broken after the bound: the bound is what is said.
  CHECK(parse_json(std::string(100, '[')).status().message() == "nested deeper than 64 levels");
}

TEST_CASE("JSON from outside: a syntax error says why and where", "[json]") {
  auto bad = parse_json("{\"a\": x}");
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::StartsWith("parse error at line 1, column 7"));
  CHECK(parse_json("").status().code() == Code::kInvalidArgument);
  CHECK(parse_json_or_discarded("{").is_discarded());
  // Comments only when asked for (files people write).
  const std::string commented = "{\n  // why\n  \"a\": 1 /* one */\n}";
  CHECK_FALSE(parse_json(commented).is_ok());
  auto read = parse_json(commented, {.comments = true});
  REQUIRE(read.is_ok());
  CHECK(*read == nlohmann::json{{"a", 1}});
}

}  // namespace
}  // namespace vigie
