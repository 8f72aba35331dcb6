#include "collector/csv.hpp"

#include <catch2/catch.hpp>

namespace vigie::collector {
namespace {

TEST_CASE("Csv: fields, quotes, doubled quotes, line breaks and blank lines", "[csv]") {
  const auto records = parse_csv(
      "\xEF\xBB\xBFsite,agent\r\n"
      "\"a,b\",\"say \"\"hi\"\"\"\n"
      "\n"
      "   \n"
      "\"two\nlines\",x\n"
      "last,");
  REQUIRE(records);
  REQUIRE(records->size() == 4);
  CHECK((*records)[0].fields == std::vector<std::string>{"site", "agent"});
  CHECK((*records)[0].line == 1);
  CHECK((*records)[1].fields == std::vector<std::string>{"a,b", "say \"hi\""});
  CHECK((*records)[2].fields == std::vector<std::string>{"two\nlines", "x"});
  CHECK((*records)[2].line == 5);
  CHECK((*records)[3].fields == std::vector<std::string>{"last", ""});
  CHECK((*records)[3].line == 7);
}

TEST_CASE("Csv: an unclosed quote or text after a quote names its line", "[csv]") {
  auto r = parse_csv("a,b\n\"open,c\n");
  REQUIRE_FALSE(r);
  CHECK(r.status().message() == "line 2: a quoted field is never closed");
  r = parse_csv("a\n\"x\"y,b\n");
  REQUIRE_FALSE(r);
  CHECK(r.status().message() == "line 2: text after the closing quote of a field");
}

TEST_CASE("Csv: csv_line quotes what must be and reads back the same", "[csv]") {
  const std::vector<std::string> fields = {"plain", "a,b", "q\"uote", "two\nlines", ""};
  const std::string line = csv_line(fields);
  CHECK(line == "plain,\"a,b\",\"q\"\"uote\",\"two\nlines\",\r\n");
  const auto back = parse_csv(line);
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK(back->front().fields == fields);
}

TEST_CASE("Csv: a field with spaces at an end is quoted and reads back with them", "[csv]") {
  const std::vector<std::string> fields = {" lead", "trail ", "in side"};
  const std::string line = csv_line(fields);
  CHECK(line == "\" lead\",\"trail \",in side\r\n");
  const auto back = parse_csv(line);
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK(back->front().fields == fields);
  CHECK(csv_field("a;b", ';') == "\"a;b\"");
  CHECK(csv_field("a;b", ',') == "a;b");
}

TEST_CASE("Csv: a spreadsheet's field never starts a formula, a number keeps its sign", "[csv]") {
  CHECK(spreadsheet_field("=1+1", ',') == "'=1+1");
  CHECK(spreadsheet_field("+1+cmd", ',') == "'+1+cmd");
  CHECK(spreadsheet_field("-1+cmd", ',') == "'-1+cmd");
  CHECK(spreadsheet_field("@SUM(A1)", ',') == "'@SUM(A1)");
  CHECK(spreadsheet_field("\t=1", ',') == "'\t=1");
  CHECK(spreadsheet_field("\r=1", ',') == "\"'\r=1\"");
  CHECK(spreadsheet_field("=A1,B1", ',') == "\"'=A1,B1\"");
  CHECK(spreadsheet_field("-3", ',') == "-3");
  CHECK(spreadsheet_field("-1,5", ';') == "-1,5");
  CHECK(spreadsheet_field("+", ',') == "'+");
  CHECK(spreadsheet_field("mairie = ok", ',') == "mairie = ok");
  CHECK(spreadsheet_number(-12.345, 1, ',') == "-12.3");
  CHECK(spreadsheet_number(99.95, 3, ';') == "99,950");
  CHECK(spreadsheet_number(0, 0, ',') == "0");
}

}  // namespace
}  // namespace vigie::collector
