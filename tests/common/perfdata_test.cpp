#include "common/perfdata.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace vigie {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Metric parse_one(std::string_view item) {
  auto metric = parse_metric(item);
  INFO(item << " -> " << metric.status().message());
  REQUIRE(metric.is_ok());
  return *metric;
}

std::string error_of(std::string_view item) {
  auto metric = parse_metric(item);
  INFO(item);
  REQUIRE_FALSE(metric.is_ok());
  CHECK(metric.status().code() == Code::kInvalidArgument);
  return metric.status().message();
}

}  // namespace

TEST_CASE("parse_range: every guideline form", "[perfdata]") {
  struct Case {
    const char* text;
    Range range;
  };
  const Case cases[] = {
      {"10", {0, 10, false}},      {"10:", {10, kInf, false}},         {"~:10", {-kInf, 10, false}},
      {"10:20", {10, 20, false}},  {"@10:20", {10, 20, true}},         {"@10", {0, 10, true}},
      {"-5:-1", {-5, -1, false}},  {"-1.5:2.25", {-1.5, 2.25, false}}, {"0.5", {0, 0.5, false}},
      {".5:", {0.5, kInf, false}}, {"~:", {-kInf, kInf, false}},       {":10", {0, 10, false}},
      {"5:5", {5, 5, false}},      {"1e3", {0, 1000, false}},
  };
  for (const auto& c : cases) {
    auto range = parse_range(c.text);
    INFO(c.text << " -> " << range.status().message());
    REQUIRE(range.is_ok());
    CHECK(*range == c.range);
  }
}

TEST_CASE("parse_range: malformed ranges say why", "[perfdata]") {
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"", "empty"},
      {"@", "empty"},
      {"abc", "is not a number"},
      {"10:abc", "end \"abc\" is not a number"},
      {"x:10", "start \"x\" is not a number"},
      {"20:10", "inverted range (start 20 is greater than end 10)"},
      {"-5", "inverted range"},
      {"1:2:3", "end \"2:3\" is not a number"},
      {"10:~", "is not a number"},
      {"~", "is not a number"},
      {"inf", "is not a number"},
      {"nan:", "is not a number"},
      {"+5", "is not a number"},
      {"1e999", "is not a number"},
      {"10 ", "is not a number"},
      {"1,5", "is not a number"},
  };
  for (const auto& c : cases) {
    auto range = parse_range(c.text);
    INFO(c.text);
    REQUIRE_FALSE(range.is_ok());
    CHECK(range.status().code() == Code::kInvalidArgument);
    CHECK_THAT(range.status().message(), Catch::Contains(c.why));
    CHECK_THAT(range.status().message(),
               Catch::StartsWith("range \"" + std::string(c.text) + "\""));
  }
}

TEST_CASE("format_range: shortest text that reads back the same", "[perfdata]") {
  CHECK(format_range({0, 10, false}) == "10");
  CHECK(format_range({10, kInf, false}) == "10:");
  CHECK(format_range({-kInf, 10, false}) == "~:10");
  CHECK(format_range({10, 20, false}) == "10:20");
  CHECK(format_range({10, 20, true}) == "@10:20");
  CHECK(format_range({0, kInf, false}) == "0:");
  CHECK(format_range({-kInf, kInf, true}) == "@~:");
  CHECK(format_range({0.1, 1e21, false}) == "0.1:1000000000000000000000");
  CHECK(format_range({0, 1e-7, false}) == "0.0000001");

  const Range ranges[] = {{0, 10, false},         {10, kInf, false},  {-kInf, 10, false},
                          {-2.5, 7.125, true},    {0, kInf, true},    {0.1, 0.3, false},
                          {-1e300, 1e300, false}, {0, 5e-324, false}, {1.0 / 3, 2.0 / 3, true}};
  for (const auto& range : ranges) {
    const auto text = format_range(range);
    auto back = parse_range(text);
    INFO(text);
    REQUIRE(back.is_ok());
    CHECK(*back == range);
  }
}

TEST_CASE("parse_metric: fields, units and empty fields", "[perfdata]") {
  SECTION("all five fields") {
    const Metric m = parse_one("time=0.25s;1;2;0;10");
    CHECK(m.label == "time");
    CHECK(m.value == 0.25);
    CHECK(m.unit == "s");
    CHECK(m.warn == Range{0, 1, false});
    CHECK(m.crit == Range{0, 2, false});
    CHECK(m.min == 0.0);
    CHECK(m.max == 10.0);
  }
  SECTION("value only, trailing fields dropped") {
    const Metric m = parse_one("users=3");
    CHECK(m == Metric{"users", 3.0, "", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  }
  SECTION("empty inner fields") {
    const Metric m = parse_one("a=1;;5");
    CHECK(m.value == 1.0);
    CHECK_FALSE(m.warn.has_value());
    CHECK(m.crit == Range{0, 5, false});
    CHECK_FALSE(m.min.has_value());
    CHECK_FALSE(m.max.has_value());
  }
  SECTION("empty trailing fields, as check_load prints them") {
    const Metric m = parse_one("load1=0.170;15.000;30.000;0;");
    CHECK(m.value == 0.17);
    CHECK(m.min == 0.0);
    CHECK_FALSE(m.max.has_value());
    CHECK(parse_one("a=1;;;;") == parse_one("a=1"));
  }
  SECTION("undetermined value") {
    const Metric m = parse_one("rta=U;100;500");
    CHECK_FALSE(m.value.has_value());
    CHECK(m.unit.empty());
    CHECK(m.warn == Range{0, 100, false});
  }
  SECTION("negative, decimal and exponent numbers") {
    CHECK(parse_one("t=-12.5").value == -12.5);
    CHECK(parse_one("t=.5").value == 0.5);
    CHECK(parse_one("t=-0.001ms;-1:1;@-2:2;-10;10").min == -10.0);
    CHECK(parse_one("t=1.5e-3s").value == 0.0015);
    CHECK(parse_one("t=1.5e-3s").unit == "s");
    CHECK(parse_one("t=2E3").value == 2000.0);
  }
  SECTION("ranges in warn and crit") {
    const Metric m = parse_one("x=5;10:;~:10;;");
    CHECK(m.warn == Range{10, kInf, false});
    CHECK(m.crit == Range{-kInf, 10, false});
    CHECK(parse_one("x=5;@10:20").warn == Range{10, 20, true});
  }
  SECTION("every unit, case as listed") {
    for (const char* unit : {"s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"}) {
      const Metric m = parse_one(std::string("x=1") + unit);
      CHECK(m.unit == unit);
      CHECK(is_known_unit(unit));
    }
    CHECK(is_known_unit(""));
    CHECK_FALSE(is_known_unit("kb"));
    CHECK_FALSE(is_known_unit("Kb"));
    CHECK_FALSE(is_known_unit("S"));
    CHECK_FALSE(is_known_unit("KiB"));
  }
}

TEST_CASE("parse_metric: quoted labels", "[perfdata]") {
  CHECK(parse_one("'/var log'=5MB").label == "/var log");
  CHECK(parse_one("'it''s'=1").label == "it's");
  CHECK(parse_one("'a=b'=1").label == "a=b");
  CHECK(parse_one("''''=1").label == "'");
  CHECK(parse_one("'''a'''=1").label == "'a'");
  CHECK(parse_one("'plain'=1").label == "plain");
  CHECK(parse_one("'semi;colon'=1;2").warn == Range{0, 2, false});
  CHECK(parse_one("/=2643MB;3806;4282;0;4758").label == "/");
}

TEST_CASE("parse_metric: malformed items are refused with the reason", "[perfdata]") {
  struct Case {
    const char* item;
    const char* why;
  };
  const Case cases[] = {
      {"'abc=1", "unterminated quote"},
      {"'it''s=1", "unterminated quote"},
      {"abc", "missing '='"},
      {"", "missing '='"},
      {"'abc'1", "missing '=' after the quoted label"},
      {"'abc'", "missing '=' after the quoted label"},
      {"=1", "empty label"},
      {"''=1", "empty label"},
      {"a'b=1", "quote inside an unquoted label"},
      {"a b=1", "whitespace inside an unquoted label"},
      {"a=", "missing value"},
      {"a=;1", "missing value"},
      {"a=abc", "value \"abc\" is not a number"},
      {"a=inf", "is not a number"},
      {"a=nan", "is not a number"},
      {"a=-", "is not a number"},
      {"a=+1", "is not a number"},
      {"a=1e999", "is not a number"},
      {"a=Us", "is not a number"},
      {"a=12abc", "unknown unit \"abc\""},
      {"a=1kb", "unknown unit \"kb\""},
      {"a=1 s", "unknown unit \" s\""},
      {"a=1.5.3", "unknown unit \".3\""},
      {"a=1,5", "unknown unit \",5\""},
      {"a=1;20:10", "warn: range \"20:10\": inverted range"},
      {"a=1;;x", "crit: range \"x\""},
      {"a=1;1;2;zero", "min \"zero\" is not a number"},
      {"a=1;1;2;0;1x", "max \"1x\" is not a number"},
      {"a=1;1;2;0;10;11", "too many fields"},
      {"a=1;;;;;", "too many fields"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of(c.item);
    INFO(c.item << " -> " << message);
    CHECK_THAT(message, Catch::Contains(c.why));
    CHECK_THAT(message, Catch::StartsWith("perfdata \"" + std::string(c.item) + "\": "));
  }
}

TEST_CASE("parse_metric: a long item is quoted shortened", "[perfdata]") {
  const std::string item = std::string(500, 'x') + "=1zz";
  const std::string message = error_of(item);
  CHECK(message.size() < 200);
  CHECK_THAT(message, Catch::Contains("...\": unknown unit \"zz\""));
}

TEST_CASE("parse_perfdata: items split on blanks outside quotes", "[perfdata]") {
  SECTION("a check_ping line") {
    auto metrics = parse_perfdata("rta=0.071000ms;100.000000;500.000000;0.000000 pl=0%;20;60;0");
    REQUIRE(metrics.is_ok());
    REQUIRE(metrics->size() == 2);
    CHECK((*metrics)[0] == Metric{"rta", 0.071, "ms", Range{0, 100, false}, Range{0, 500, false},
                                  0.0, std::nullopt});
    CHECK((*metrics)[1] ==
          Metric{"pl", 0.0, "%", Range{0, 20, false}, Range{0, 60, false}, 0.0, std::nullopt});
  }
  SECTION("quoted labels with blanks, several separators") {
    auto metrics = parse_perfdata("  '/var/log space'=1MB \t'it''s x'=2c\n\nz=U  ");
    REQUIRE(metrics.is_ok());
    REQUIRE(metrics->size() == 3);
    CHECK((*metrics)[0].label == "/var/log space");
    CHECK((*metrics)[1].label == "it's x");
    CHECK((*metrics)[1].unit == "c");
    CHECK((*metrics)[2].label == "z");
    CHECK_FALSE((*metrics)[2].value.has_value());
  }
  SECTION("empty and blank text") {
    auto empty = parse_perfdata("");
    REQUIRE(empty.is_ok());
    CHECK(empty->empty());
    auto blank = parse_perfdata(" \t\r\n ");
    REQUIRE(blank.is_ok());
    CHECK(blank->empty());
  }
  SECTION("one bad item fails the whole parse and is quoted") {
    auto metrics = parse_perfdata("a=1 b=2x c=3");
    REQUIRE_FALSE(metrics.is_ok());
    CHECK(metrics.status().message() ==
          "perfdata \"b=2x\": unknown unit \"x\" "
          "(expected s, ms, us, %, B, KB, MB, GB, TB, c or none)");
  }
  SECTION("an unterminated quote runs to the end") {
    auto metrics = parse_perfdata("a=1 'b c=2 d=3");
    REQUIRE_FALSE(metrics.is_ok());
    CHECK_THAT(metrics.status().message(), Catch::StartsWith("perfdata \"'b c=2 d=3\""));
    CHECK_THAT(metrics.status().message(), Catch::Contains("unterminated quote"));
  }
  SECTION("an unquoted label cannot hold a blank") {
    auto metrics = parse_perfdata("free space=10");
    REQUIRE_FALSE(metrics.is_ok());
    CHECK_THAT(metrics.status().message(), Catch::Contains("\"free\": missing '='"));
  }
}

TEST_CASE("format_metric: guideline form", "[perfdata]") {
  CHECK(format_metric({"users", 3.0, "", std::nullopt, std::nullopt, std::nullopt, std::nullopt}) ==
        "users=3");
  CHECK(format_metric({"a", 1.0, "", std::nullopt, Range{0, 5, false}, std::nullopt,
                       std::nullopt}) == "a=1;;5");
  CHECK(format_metric({"a", 1.0, "", std::nullopt, std::nullopt, std::nullopt, 100.0}) ==
        "a=1;;;;100");
  CHECK(format_metric({"rta", std::nullopt, "", Range{0, 100, false}, Range{0, 500, false},
                       std::nullopt, std::nullopt}) == "rta=U;100;500");
  CHECK(format_metric({"time", 0.25, "s", Range{-kInf, 1, false}, Range{2, 3, true}, 0.0, 1e-7}) ==
        "time=0.25s;~:1;@2:3;0;0.0000001");
  CHECK(format_metric({"/var log", 5.0, "MB", {}, {}, {}, {}}) == "'/var log'=5MB");
  CHECK(format_metric({"it's", 1.0, "", {}, {}, {}, {}}) == "'it''s'=1");
  CHECK(format_metric({"a=b", 1.0, "", {}, {}, {}, {}}) == "'a=b'=1");
  CHECK(format_metric({"tab\there", 1.0, "", {}, {}, {}, {}}) == "'tab\there'=1");
  CHECK(format_metric({"/srv", -0.5, "%", {}, {}, {}, {}}) == "/srv=-0.5%");
  CHECK(format_metric({"big", 1e20, "B", {}, {}, {}, {}}) == "big=100000000000000000000B");
}

TEST_CASE("format_perfdata: round trips through parse_perfdata", "[perfdata]") {
  const std::vector<Metric> metrics = {
      {"rta", 0.071, "ms", Range{0, 100, false}, Range{0, 500, false}, 0.0, std::nullopt},
      {"'quoted' label=x", 0.1 + 0.2, "%", std::nullopt, Range{10, kInf, false}, 0.0, 100.0},
      {"undetermined", std::nullopt, "", Range{-kInf, -1, true}, std::nullopt, -1e300, 1e300},
      {"tiny", 5e-324, "B", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
      {"counter", 123456789012345.0, "c", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
      {"third", 1.0 / 3, "us", Range{0, 1.0 / 3, false}, std::nullopt, std::nullopt, 2.0 / 3},
      {"semi;colon", -7.0, "TB", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
  };
  const std::string text = format_perfdata(metrics);
  auto back = parse_perfdata(text);
  INFO(text);
  REQUIRE(back.is_ok());
  CHECK(*back == metrics);
  CHECK(format_perfdata({}) == "");
}

// format_number is written with printf to keep std::to_chars's tables out of the agent:
// it must give what std::to_chars gives, the shortest fixed text that reads back.
TEST_CASE("format_metric: a value is written as std::to_chars writes it in fixed notation",
          "[perfdata]") {
  const auto expected = [](double value) {
    std::array<char, 400> buffer;
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                      std::chars_format::fixed);
    return "x=" + std::string(buffer.data(), result.ptr);
  };
  std::vector<double> values = {0.0,
                                -0.0,
                                0.1 + 0.2,
                                5e-324,
                                1e21,
                                1e22,
                                1e23,
                                0.95,
                                99.5,
                                9007199254740993.0,
                                1.7976931348623157e308,
                                -kInf,
                                kInf,
                                std::numeric_limits<double>::quiet_NaN()};
  // Powers of two and the doubles just below them: the rounding interval is lopsided there.
  for (int power = -1074; power <= 1023; ++power) {
    const double p = std::ldexp(1.0, power);
    values.insert(values.end(), {p, -p, std::nextafter(p, 0.0)});
  }
  std::mt19937_64 random(20261204);
  for (int i = 0; i < 20000; ++i) values.push_back(std::bit_cast<double>(random()));
  for (int i = 0; i < 5000; ++i) {
    values.push_back(static_cast<double>(random() % 1000000) / 1000);  // readings in ms, %
    values.push_back(static_cast<double>(random() >> 11));             // byte counts
  }
  std::size_t differing = 0;
  for (const double value : values) {
    const auto text = format_metric({"x", value, "", {}, {}, {}, {}});
    if (text != expected(value) && ++differing <= 5) CHECK(text == expected(value));
  }
  CHECK(differing == 0);
}

}  // namespace vigie
