#include "common/duration.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>

namespace vigie {
namespace {

using std::chrono::milliseconds;

}  // namespace

TEST_CASE("parse_duration: every unit", "[duration]") {
  struct Case {
    const char* text;
    std::int64_t ms;
  };
  const Case cases[] = {
      {"0s", 0},         {"0ms", 0},          {"500ms", 500},      {"90s", 90'000},
      {"5m", 300'000},   {"26h", 93'600'000}, {"7d", 604'800'000}, {"2w", 1'209'600'000},
      {"1500ms", 1'500}, {"007s", 7'000},
  };
  for (const auto& c : cases) {
    auto d = parse_duration(c.text);
    INFO(c.text << " -> " << d.status().message());
    REQUIRE(d.is_ok());
    CHECK(d->count() == c.ms);
  }
  const auto max = std::numeric_limits<std::int64_t>::max();
  auto largest = parse_duration(std::to_string(max) + "ms");
  REQUIRE(largest.is_ok());
  CHECK(largest->count() == max);
}

TEST_CASE("parse_duration: refuses bad text and says why", "[duration]") {
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"60", "missing unit"},
      {"", "expected a duration"},
      {"s", "expected a duration"},
      {"-5s", "expected a duration"},
      {"-0s", "expected a duration"},
      {"+5s", "expected a duration"},
      {" 5s", "expected a duration"},
      {"5 s", "unknown unit \" s\""},
      {"5S", "unknown unit \"S\""},
      {"5sec", "unknown unit \"sec\""},
      {"5s ", "unknown unit \"s \""},
      {"1.5h", "whole number"},
      {"99999999999999999999s", "number too large"},
      {"9223372036854775807s", "duration too large"},
      {"15250284453w", "duration too large"},
  };
  for (const auto& c : cases) {
    auto d = parse_duration(c.text);
    INFO(c.text);
    REQUIRE_FALSE(d.is_ok());
    CHECK(d.status().code() == Code::kInvalidArgument);
    CHECK_THAT(d.status().message(), Catch::StartsWith("\"" + std::string(c.text) + "\": "));
    CHECK_THAT(d.status().message(), Catch::Contains(c.why));
  }
}

TEST_CASE("format_duration: shortest exact form", "[duration]") {
  CHECK(format_duration(milliseconds(0)) == "0s");
  CHECK(format_duration(milliseconds(1)) == "1ms");
  CHECK(format_duration(milliseconds(1'500)) == "1500ms");
  CHECK(format_duration(milliseconds(90'000)) == "90s");
  CHECK(format_duration(milliseconds(3'600'000)) == "1h");
  CHECK(format_duration(milliseconds(93'600'000)) == "26h");
  CHECK(format_duration(milliseconds(86'400'000)) == "1d");
  CHECK(format_duration(milliseconds(1'209'600'000)) == "2w");
  CHECK(format_duration(milliseconds(691'200'000)) == "8d");
}

TEST_CASE("format_duration: round trips through parse_duration", "[duration]") {
  for (const std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, std::int64_t{999},
                                std::int64_t{60'000}, std::int64_t{61'000}, std::int64_t{7'200'000},
                                std::int64_t{604'800'000}, std::int64_t{1'234'567'890}}) {
    const auto text = format_duration(milliseconds(ms));
    auto back = parse_duration(text);
    INFO(text);
    REQUIRE(back.is_ok());
    CHECK(back->count() == ms);
  }
}

}  // namespace vigie
