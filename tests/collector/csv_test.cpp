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

}  // namespace
}  // namespace vigie::collector
