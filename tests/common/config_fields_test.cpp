#include "common/config_fields.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigie {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::string_view kKeys[] = {"url", "token_file", "batch_max"};
constexpr std::string_view kAgentKeys[] = {"name", "type", "interval"};

std::string error_of(const Status& status) {
  REQUIRE_FALSE(status.is_ok());
  return status.message();
}

}  // namespace

TEST_CASE("field paths: members and items", "[config_fields]") {
  CHECK(field_path("", "warn") == "warn");
  CHECK(field_path("snmp", "version") == "snmp.version");
  CHECK(field_path(item_path("checks", 2), "interval") == "checks[2].interval");
  CHECK(Fields(json::object(), "devices.fw").path_of("snmp") == "devices.fw.snmp");
  const Status s = field_error("collector.url", "required, a string");
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message() == "collector.url: required, a string");
  CHECK(field_error("", "expected an object, got array").message() ==
        "expected an object, got array");
}

TEST_CASE("quoted: cut, and control and non-ASCII bytes escaped", "[config_fields]") {
  CHECK(quote("abc") == "\"abc\"");
  CHECK(quote(std::string("a\0b\n\xc3\xa9", 6)) == "\"a\\x00b\\x0a\\xc3\\xa9\"");
  CHECK(quote(std::string(100, 'x')) == "\"" + std::string(60, 'x') + "...\"");
  CHECK(quote("abcdef", 3) == "\"abc...\"");
  CHECK(value_text(json("x")) == "\"x\"");
  CHECK(value_text(json(70000)) == "70000");
  CHECK(value_text(json::array({1, 2})) == "[1,2]");
  CHECK(value_text(json(std::vector<int>(100, 1))).size() == 63);
}

TEST_CASE("edit_distance and closest_match: near misses only", "[config_fields]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("chekcs", "checks") == 2);
  CHECK(edit_distance("tokn_file", "token_file") == 1);
  constexpr std::string_view kTypes[] = {"system/load", "system/disk", "external"};
  CHECK(closest_match("sytem/load", kTypes) == "system/load");
  CHECK(closest_match("extrenal", kTypes) == "external");
  CHECK(closest_match("load", kTypes).empty());                // 7 edits: not a near miss
  CHECK(closest_match("", kTypes).empty());                    // nothing is near nothing
  CHECK(closest_match("system/lo", kTypes) == "system/load");  // the first of equals
}

TEST_CASE("check_keys: an unknown key is refused with a suggestion", "[config_fields]") {
  const json collector = {{"url", "https://c"}, {"tokn_file", "/t"}};
  CHECK(error_of(check_keys({collector, "collector"}, kKeys)) ==
        "collector.tokn_file: unknown key (did you mean \"token_file\"?); known keys: url "
        "token_file batch_max");
  CHECK(error_of(check_keys(json{{"colour", 1}}, {"device", "services"})) ==
        "colour: unknown key; known keys: device services");
  CHECK(check_keys(json{{"url", 1}, {"batch_max", 2}}, kKeys).is_ok());
  CHECK(check_keys(json::object(), kKeys).is_ok());
}

TEST_CASE("check_keys: keys read by someone else pass and are suggested", "[config_fields]") {
  CHECK(check_keys(json{{"url", 1}, {"interval", "5s"}}, kKeys, kAgentKeys).is_ok());
  CHECK(error_of(check_keys(json{{"intervall", "5s"}}, kKeys, kAgentKeys)) ==
        "intervall: unknown key (did you mean \"interval\"?); known keys: url token_file "
        "batch_max");
}

TEST_CASE("check_keys: a value that is not an object, and an odd key", "[config_fields]") {
  CHECK(error_of(check_keys({json::array(), "spool"}, kKeys)) ==
        "spool: expected an object, got array");
  CHECK(error_of(check_keys(json{{std::string("u\nrl", 4), 1}}, kKeys)) ==
        "\"u\\x0arl\": unknown key (did you mean \"url\"?); known keys: url token_file batch_max");
}

TEST_CASE("read_string: required, empty, NUL, length, null", "[config_fields]") {
  const json object = {
      {"s", "text"}, {"n", 7}, {"e", ""}, {"z", std::string("a\0b", 3)}, {"null", nullptr}};
  const Fields fields{object, "agent"};
  std::string out = "default";
  CHECK(read_string(fields, "absent", out).is_ok());
  CHECK(out == "default");
  CHECK(error_of(read_string(fields, "absent", out, {.required = true})) ==
        "agent.absent: required, a string");
  CHECK(error_of(read_string(fields, "n", out)) == "agent.n: expected a string, got number");
  CHECK(error_of(read_string(fields, "e", out)) == "agent.e: must not be empty");
  CHECK(read_string(fields, "e", out, {.allow_empty = true}).is_ok());
  CHECK(out.empty());
  CHECK(error_of(read_string(fields, "z", out)) ==
        "agent.z: \"a\\x00b\": must not contain a NUL byte");
  const Status long_one = read_string(fields, "s", out, {.max_bytes = 3});
  CHECK(long_one.code() == Code::kTooLarge);
  CHECK(long_one.message() == "agent.s: longer than 3 bytes");
  CHECK(error_of(read_string(fields, "null", out)) == "agent.null: expected a string, got null");
  out = "kept";
  CHECK(read_string(fields, "null", out, {.null_is_absent = true}).is_ok());
  CHECK(out == "kept");
  CHECK(error_of(read_string(fields, "null", out, {.required = true, .null_is_absent = true})) ==
        "agent.null: required, a string");
  CHECK(read_string(fields, "s", out, {.required = true}).is_ok());
  CHECK(out == "text");
}

TEST_CASE("read_absolute_path: a string starting with '/'", "[config_fields]") {
  const json object = {{"ok", "/var/lib"}, {"rel", "spool.db"}, {"n", 1}};
  std::string out;
  CHECK(error_of(read_absolute_path({object, "spool"}, "rel", out)) ==
        "spool.rel: \"spool.db\": must be an absolute path");
  CHECK(error_of(read_absolute_path(object, "n", out)) == "n: expected a string, got number");
  CHECK(error_of(read_absolute_path(object, "absent", out, true)) ==
        "absent: required, an absolute path");
  CHECK(read_absolute_path(object, "absent", out).is_ok());
  CHECK(out.empty());
  CHECK(read_absolute_path(object, "ok", out).is_ok());
  CHECK(out == "/var/lib");
}

TEST_CASE("read_strings: arrays of non-empty strings, the bad item named", "[config_fields]") {
  const json object = {{"list", {"a", "b"}},
                       {"one", "a"},
                       {"bad", {"a", 3}},
                       {"blank", {"a", ""}},
                       {"none", json::array()}};
  std::vector<std::string> out = {"default"};
  CHECK(read_strings(object, "absent", out).is_ok());
  CHECK(out == std::vector<std::string>{"default"});
  CHECK(read_strings(object, "list", out).is_ok());
  CHECK(out == std::vector<std::string>{"a", "b"});
  CHECK(error_of(read_strings({object, "rules[0]"}, "one", out)) ==
        "rules[0].one: expected an array of strings, got string");
  CHECK(read_strings(object, "one", out, {.single_string = true}).is_ok());
  CHECK(out == std::vector<std::string>{"a"});
  CHECK(error_of(read_strings(object, "bad", out)) == "bad[1]: expected a string, got number");
  CHECK(error_of(read_strings(object, "blank", out)) == "blank[1]: must not be empty");
  CHECK(out == std::vector<std::string>{"a"});  // untouched by a refused list
  CHECK(error_of(read_strings(object, "none", out, {.allow_empty_list = false})) ==
        "none: must not be empty");
  CHECK(read_strings(object, "none", out).is_ok());
  CHECK(out.empty());
  const json argv = {{"command", {"printf", ""}}};
  CHECK(error_of(read_strings(argv, "command", out)) == "command[1]: must not be empty");
  CHECK(read_strings(argv, "command", out, {.allow_empty_strings = true}).is_ok());
  CHECK(out == std::vector<std::string>{"printf", ""});
}

TEST_CASE("read_bool, read_integer, read_number: types and ranges", "[config_fields]") {
  const json object = {{"yes", true}, {"word", "yes"},      {"n", 70000}, {"neg", -1},
                       {"half", 2.5}, {"huge", UINT64_MAX}, {"pct", 150}, {"ok", 42}};
  bool flag = false;
  CHECK(read_bool(object, "yes", flag).is_ok());
  CHECK(flag);
  CHECK(error_of(read_bool(object, "word", flag)) == "word: expected true or false, got string");

  int port = 161;
  CHECK(error_of(read_integer({object, "devices.fw"}, "n", 1, 65535, port)) ==
        "devices.fw.n: 70000: must be in 1..65535");
  CHECK(error_of(read_integer(object, "half", 1, 64, port)) ==
        "half: expected an integer 1..64, got number");
  CHECK(error_of(read_integer(object, "word", 1, 64, port)) ==
        "word: expected an integer 1..64, got string");
  std::uint64_t count = 5;
  CHECK(error_of(read_integer(object, "neg", 0, INT64_MAX, count)) == "neg: -1: must be >= 0");
  CHECK(error_of(read_integer(object, "huge", 0, INT64_MAX, count)) ==
        "huge: 18446744073709551615: must be >= 0");
  CHECK(count == 5);
  CHECK(read_integer(object, "absent", 1, 64, port).is_ok());
  CHECK(port == 161);
  CHECK(read_integer(object, "ok", 1, 64, port).is_ok());
  CHECK(port == 42);

  double value = 1;
  CHECK(error_of(read_number(object, "pct", 0, 100, value)) == "pct: 150: must be in 0..100");
  CHECK(error_of(read_number(object, "word", 0, 0.5, value)) ==
        "word: expected a number 0..0.5, got string");
  CHECK(read_number(object, "half", 0, 100, value).is_ok());
  CHECK(value == 2.5);
}

TEST_CASE("read_duration: a unit, bounds, and off", "[config_fields]") {
  const json object = {{"ok", "90s"},  {"zero", "0s"}, {"bare", "10"},    {"n", 10},
                       {"long", "2h"}, {"off", "off"}, {"fine", "1500ms"}};
  const Fields fields{object, "checks[2]"};
  std::optional<milliseconds> maybe;
  CHECK(read_duration(fields, "absent", {}, maybe).is_ok());
  CHECK_FALSE(maybe);
  CHECK(read_duration(fields, "ok", {}, maybe).is_ok());
  CHECK(maybe == milliseconds(90'000));
  CHECK(error_of(read_duration(fields, "zero", {}, maybe)) ==
        "checks[2].zero: \"0s\": must be at least 1s");
  CHECK_THAT(error_of(read_duration(fields, "bare", {}, maybe)),
             Catch::StartsWith("checks[2].bare: \"10\": missing unit"));
  CHECK(error_of(read_duration(fields, "n", {}, maybe)) ==
        "checks[2].n: expected a duration such as \"30s\", got number");
  CHECK(error_of(read_duration(fields, "long", {.max = std::chrono::hours(1)}, maybe)) ==
        "checks[2].long: \"2h\": must be at most 1h");
  CHECK_THAT(error_of(read_duration(fields, "off", {}, maybe)),
             Catch::StartsWith("checks[2].off: \"off\": "));
  milliseconds plain{5};
  CHECK(read_duration(fields, "off", {.min = milliseconds(1), .allow_off = true}, plain).is_ok());
  CHECK(plain == milliseconds(0));
  CHECK(read_duration(fields, "zero", {.min = milliseconds(0)}, plain).is_ok());
  CHECK(plain == milliseconds(0));
  std::chrono::seconds seconds{7};
  CHECK(read_duration(fields, "fine", {}, seconds).is_ok());
  CHECK(seconds == std::chrono::seconds(1));
  CHECK(read_duration(fields, "absent", {}, seconds).is_ok());
  CHECK(seconds == std::chrono::seconds(1));
}

TEST_CASE("read_object: an object member or null", "[config_fields]") {
  const json root = {{"agent", {{"id", "a"}}}, {"devices", json::array()}};
  const json* out = nullptr;
  CHECK(read_object(root, "absent", out).is_ok());
  CHECK(out == nullptr);
  CHECK(error_of(read_object(root, "absent", out, true)) == "absent: required, an object");
  CHECK(error_of(read_object(root, "devices", out)) == "devices: expected an object, got array");
  CHECK(read_object(root, "agent", out).is_ok());
  REQUIRE(out != nullptr);
  CHECK(out->at("id") == "a");
  // A value that is not an object has no members.
  CHECK(read_object(json::array(), "agent", out, false).is_ok());
}

}  // namespace vigie
