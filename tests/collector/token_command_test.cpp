#include "collector/token_command.hpp"

#include <catch2/catch.hpp>

namespace vigie::collector {
namespace {

TEST_CASE("TokenCommand: a sites file without a header is site,agent", "[token-command]") {
  const auto list = read_sites_csv("mairie-a,a-01\nmairie-b,\nmairie-c\n", "sites.csv");
  REQUIRE(list);
  CHECK(list->header == std::vector<std::string>{"site", "agent"});
  REQUIRE(list->lines.size() == 3);
  CHECK(list->lines[0].site == "mairie-a");
  CHECK(list->lines[0].agent == "a-01");
  CHECK(list->lines[1].agent.empty());
  CHECK(list->lines[2].fields == std::vector<std::string>{"mairie-c", ""});
}

TEST_CASE("TokenCommand: a header names the columns, and the others pass through",
          "[token-command]") {
  const auto list = read_sites_csv(
      "Site,email,Agent_ID\n"
      " mairie-a ,maire@a.example,a-01\n"
      "mairie-b,\"Secretariat, B <b@b.example>\",b-01\n",
      "sites.csv");
  REQUIRE(list);
  CHECK(list->header == std::vector<std::string>{"Site", "email", "Agent_ID"});
  REQUIRE(list->lines.size() == 2);
  CHECK(list->lines[0].site == "mairie-a");
  CHECK(list->lines[0].agent == "a-01");
  CHECK(list->lines[1].fields[1] == "Secretariat, B <b@b.example>");
  CHECK(list->lines[1].line == 3);
}

TEST_CASE("TokenCommand: a bad sites file is refused naming the line", "[token-command]") {
  const std::pair<std::string, std::string> cases[] = {
      {"mairie a,x\n", "sites.csv:1: site \"mairie a\": "},
      {"ok,a-01\nok2,a-01\n", "sites.csv:2: agent id \"a-01\" is also on line 1"},
      {"ok\nok\n", "sites.csv:2: site \"ok\" without an agent id is also on line 1"},
      {"site,agent\n", "sites.csv: lists no site"},
      {"ok,a\n,b\n", "sites.csv:2: no site"},
      {"ok,\"b\n", "sites.csv: line 1: a quoted field is never closed"},
      {"ok,bad/agent\n", "sites.csv:1: agent id \"bad/agent\": "},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    const auto list = read_sites_csv(text, "sites.csv");
    REQUIRE_FALSE(list);
    CHECK_THAT(list.status().message(), Catch::StartsWith(message));
  }
}

}  // namespace
}  // namespace vigie::collector
