#include "agent/json_lines.hpp"

#include <catch2/catch.hpp>

namespace vigie::agent {
namespace {

constexpr std::string_view kDoc = R"(// agent.json
{
  "agent": { "id": "a", "site": "s" },
  /* the collector,
     on two lines */
  "collector": {"url": "https://c", "note": "a \"quoted\" } ] // not a comment"},
  "checks": [
    {"name": "load", "type": "system/load"},
    {
      "name": "disk",
      "type": "system/disk",
      "path": "/srv"
    },
    [1, [2, 3], {"x": {}}],
    {"name": "last"}
  ]
}
)";

TEST_CASE("line_of: finds members and elements through comments and strings", "[json-lines]") {
  CHECK(line_of(kDoc, "") == 2);
  CHECK(line_of(kDoc, "agent") == 3);
  CHECK(line_of(kDoc, "agent.site") == 3);
  CHECK(line_of(kDoc, "collector") == 6);
  CHECK(line_of(kDoc, "collector.note") == 6);
  CHECK(line_of(kDoc, "checks") == 7);
  CHECK(line_of(kDoc, "checks[0]") == 8);
  CHECK(line_of(kDoc, "checks[1]") == 9);
  CHECK(line_of(kDoc, "checks[1].type") == 11);
  CHECK(line_of(kDoc, "checks[1].path") == 12);
  CHECK(line_of(kDoc, "checks[2][1][0]") == 14);
  CHECK(line_of(kDoc, "checks[3].name") == 15);
}

TEST_CASE("line_of: a path past the document gives its deepest part", "[json-lines]") {
  CHECK(line_of(kDoc, "checks[1].command") == 9);  // a missing member: its object
  CHECK(line_of(kDoc, "checks[9]") == 7);          // past the end: the array
  CHECK(line_of(kDoc, "nothing.here") == 2);
  CHECK(line_of(kDoc, "agent[0]") == 3);  // not an array
}

TEST_CASE("line_of: what is not a path or a document gives 0", "[json-lines]") {
  CHECK(line_of("", "agent") == 0);
  CHECK(line_of("  // only a comment\n", "agent") == 0);
  CHECK(line_of(kDoc, "checks[x]") == 0);
  CHECK(line_of(kDoc, "checks[1") == 0);
  CHECK(line_of(kDoc, "a..b") == 0);
  // Cut documents end the walk, they do not crash it.
  for (std::size_t n = 0; n < kDoc.size(); ++n) (void)line_of(kDoc.substr(0, n), "checks[3].name");
  CHECK(line_of("[}]", "[1]") == 1);  // not JSON: still an answer
  CHECK(line_of("{\"a\": [}, \"b\": 1}", "b") == 1);
}

}  // namespace
}  // namespace vigie::agent
