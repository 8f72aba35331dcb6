#include "collector/config_template.hpp"

#include <catch2/catch.hpp>

namespace vigie::collector {
namespace {

using nlohmann::json;

TEST_CASE("ConfigTemplate: a placeholder is replaced by its variable's whole JSON value",
          "[config-template]") {
  const json tmpl = json::parse(R"({
    "defaults": {"interval": "${every}"},
    "devices": {"fw": {"host": "${fw_host}", "snmp": "${snmp}"}},
    "checks": [{"name": "fw", "type": "firewall/sophos", "device": "fw", "warn": "${warn}",
                "note": "$${literal}", "id": "${agent_id}"}]})");
  const auto rendered = render_template(tmpl, {{"every", "30s"},
                                               {"fw_host", "192.0.2.1"},
                                               {"snmp", {{"version", "2c"}}},
                                               {"warn", 80},
                                               {"agent_id", "a-01"}});
  REQUIRE(rendered);
  CHECK((*rendered)["defaults"]["interval"] == "30s");
  CHECK((*rendered)["devices"]["fw"]["snmp"] == json{{"version", "2c"}});
  CHECK((*rendered)["checks"][0]["warn"] == 80);  // a number, not the text "80"
  CHECK((*rendered)["checks"][0]["note"] == "${literal}");
  CHECK((*rendered)["checks"][0]["id"] == "a-01");
}

TEST_CASE("ConfigTemplate: a missing variable is an error naming it and where",
          "[config-template]") {
  const json tmpl = json::parse(R"({"checks": [{"name": "a", "type": "t"},
                                               {"name": "b", "type": "t", "warn": "${bw}"}]})");
  const auto rendered = render_template(tmpl, {});
  REQUIRE_FALSE(rendered);
  CHECK(rendered.status().message() == "checks[1].warn: variable \"bw\" is not set");
}

TEST_CASE(
    "ConfigTemplate: text substitution, bad names, foreign members and inline secrets "
    "are refused",
    "[config-template]") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"checks": [{"name": "${a}-x"}]})", "checks[0].name: \"${a}-x\": a placeholder must"},
      {R"({"checks": [{"name": "${a b}"}]})", "checks[0].name: \"${a b}\": a variable's name"},
      {R"({"collector": {}, "checks": []})", "collector: not in a template"},
      {R"({"devices": {}})", "checks: required"},
      {R"({"devices": {"fw": {"snmp": {"community": "public"}}}, "checks": []})",
       "devices.fw.snmp.community: a secret is not sent from the centre"},
      {R"({"checks": [{"auth_pass": "x"}]})", "checks[0].auth_pass: a secret"},
      {R"([1])", "a template is an object"},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    const Status s = check_template(json::parse(text));
    REQUIRE_FALSE(s);
    CHECK_THAT(s.message(), Catch::StartsWith(message));
  }
  CHECK(check_template(json::parse(R"({"checks": [{"community_file": "/etc/vigie/c"}]})")));
  // A variable's value may not smuggle a secret in either.
  const auto rendered = render_template(json::parse(R"({"checks": [{"snmp": "${s}"}]})"),
                                        {{"s", {{"priv_pass", "x"}}}});
  REQUIRE_FALSE(rendered);
  CHECK_THAT(rendered.status().message(), Catch::StartsWith("checks[0].snmp.priv_pass: a secret"));
}

TEST_CASE("ConfigTemplate: values name a template and variables", "[config-template]") {
  CHECK(check_values(json::parse(R"({"template": "t", "vars": {"a_1": [1, 2]}})")));
  CHECK_THAT(check_values(json::parse(R"({"vars": {"site": "x"}})")).message(),
             Catch::Contains("set by the collector"));
  CHECK_THAT(check_values(json::parse(R"({"checks": []})")).message(),
             Catch::Contains("values hold \"template\" and \"vars\" only"));
  CHECK_THAT(check_values(json::parse(R"({"vars": {"1x": 1}})")).message(),
             Catch::Contains("a variable's name"));
}

TEST_CASE("ConfigTemplate: the version follows the content, not the members' order",
          "[config-template]") {
  const auto a = json::parse(R"({"checks": [1], "defaults": {"x": 1}})");
  const auto b = json::parse(R"({"defaults": {"x": 1}, "checks": [1]})");
  CHECK(config_version(a) == config_version(b));
  CHECK(config_version(a).size() == 16);
  CHECK(config_version(a) != config_version(json::parse(R"({"checks": [2]})")));
}

TEST_CASE("ConfigTemplate: json_diff names each change by its path", "[config-template]") {
  const auto before = json::parse(R"({"checks": [{"warn": "26h"}, {"n": 1}], "x": 1})");
  const auto after = json::parse(R"({"checks": [{"warn": "30h"}], "y": 2})");
  CHECK(json_diff(before, after) == std::vector<std::string>{"~ checks[0].warn: \"26h\" -> \"30h\"",
                                                             "- checks[1]: {\"n\":1}", "- x: 1",
                                                             "+ y: 2"});
  CHECK(json_diff(before, before).empty());
}

}  // namespace
}  // namespace vigie::collector
