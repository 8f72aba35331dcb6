#include "plugins/registry.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace vigie::plugins {
namespace {

const std::vector<std::string> kBuiltIn = {"external",
                                           "agent/self",
                                           "system/load",
                                           "system/disk",
                                           "system/cpu",
                                           "system/memory",
                                           "system/swap",
                                           "system/uptime",
                                           "system/unit",
                                           "system/clock",
                                           "firewall/host",
                                           "firewall/sophos",
                                           "backup/restic",
                                           "backup/borg",
                                           "backup/file-age",
                                           "backup/avamar",
                                           "backup/avamar-server",
                                           "antivirus/clamd",
                                           "antivirus/signature-age",
                                           "antivirus/sophos",
                                           "antivirus/sophos-central",
                                           "wifi/unifi",
                                           "wifi/snmp-generic",
                                           "net/http",
                                           "net/tls",
                                           "net/dns",
                                           "net/ping"};

std::string known_types() {
  std::string out = "known types: ";
  for (const auto& name : kBuiltIn) out += (name == kBuiltIn.front() ? "" : ", ") + name;
  return out;
}

std::string not_found_message(std::string_view name) {
  const auto result = find_check_type(name);
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kNotFound);
  return result.status().message();
}

TEST_CASE("Registry: lists each built-in type once with a factory", "[registry]") {
  std::vector<std::string> names;
  for (const auto& type : check_types()) {
    names.emplace_back(type.name);
    CHECK_FALSE(type.description.empty());
    REQUIRE(type.make != nullptr);
    CHECK(type.make() != nullptr);
    for (const auto& metric : type.metrics) {
      CHECK_FALSE(metric.name.empty());
      CHECK_FALSE(metric.meaning.empty());
    }
  }
  CHECK(names == kBuiltIn);
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
}

TEST_CASE("Registry: finds a type by its exact name", "[registry]") {
  for (const auto& name : kBuiltIn) {
    const auto type = find_check_type(name);
    REQUIRE(type.is_ok());
    CHECK((*type)->name == name);
  }
}

TEST_CASE("Registry: an unknown type suggests the closest and lists the known ones", "[registry]") {
  CHECK(not_found_message("sytem/load") ==
        "unknown check type \"sytem/load\" (did you mean \"system/load\"?); " + known_types());
  CHECK_THAT(not_found_message("system/dsik"), Catch::Contains("did you mean \"system/disk\"?"));
  CHECK_THAT(not_found_message("extrenal"), Catch::Contains("did you mean \"external\"?"));
  CHECK_THAT(not_found_message("System/Disk"), Catch::Contains("did you mean \"system/disk\"?"));
}

TEST_CASE("Registry: no suggestion when nothing is close", "[registry]") {
  const auto message = not_found_message("printer/toner");
  CHECK_THAT(message, !Catch::Contains("did you mean"));
  CHECK_THAT(message, Catch::EndsWith(known_types()));
  CHECK_THAT(not_found_message(""), !Catch::Contains("did you mean"));
  CHECK_THAT(not_found_message("load"), !Catch::Contains("did you mean"));
}

TEST_CASE("Registry: a huge unknown name is cut in the message", "[registry]") {
  const auto message = not_found_message(std::string(100000, 'x'));
  CHECK(message.size() < 200 + known_types().size());
}

TEST_CASE("Registry: every type refuses an unknown parameter, and lets the agent's keys by",
          "[registry]") {
  for (const auto& type : check_types()) {
    INFO(type.name);
    const Status typo = type.make()->configure({{"intervall", "5m"}});
    REQUIRE_FALSE(typo.is_ok());
    CHECK(typo.code() == Code::kInvalidArgument);
    CHECK_THAT(typo.message(),
               Catch::StartsWith("intervall: unknown key (did you mean \"interval\"?)"));
    const Status odd = type.make()->configure({{"colour", "red"}});
    CHECK_THAT(odd.message(), Catch::StartsWith("colour: unknown key; known keys:"));
    const Status agent_keys = type.make()->configure({{"name", "n"},
                                                      {"type", type.name},
                                                      {"interval", "1m"},
                                                      {"timeout", "5s"},
                                                      {"splay", "1s"}});
    CHECK_THAT(agent_keys.message(), !Catch::Contains("unknown key"));
    CHECK(type.make()->configure(nlohmann::json::array()).message() ==
          "expected an object, got array");
  }
}

TEST_CASE("Registry: the markdown has a section per type with its metrics", "[registry]") {
  const auto markdown = checks_markdown();
  for (const auto& type : check_types()) {
    CHECK_THAT(markdown, Catch::Contains("### `" + std::string(type.name) + "`\n\n" +
                                         std::string(type.description) + "\n"));
    for (const auto& metric : type.metrics)
      CHECK_THAT(markdown, Catch::Contains("| `" + std::string(metric.name) + "` |"));
  }
  CHECK_THAT(markdown, Catch::Contains("| `used_pct` | % |"));
  CHECK_THAT(markdown, Catch::Contains("| `load5` | - |"));
}

TEST_CASE("Registry: docs/checks.md holds the current generated tables", "[registry]") {
  std::ifstream in(VIGIE_SOURCE_DIR "/docs/checks.md");
  REQUIRE(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string doc = buffer.str();
  const auto begin_marker = doc.find("<!-- BEGIN generated");
  REQUIRE(begin_marker != std::string::npos);
  const auto begin = doc.find('\n', begin_marker) + 1;
  const auto end = doc.find("<!-- END generated -->", begin);
  REQUIRE(end != std::string::npos);
  INFO("regenerate with `vigie-agent checks --markdown` and paste between the markers");
  CHECK(doc.substr(begin, end - begin) == checks_markdown());
}

}  // namespace
}  // namespace vigie::plugins
