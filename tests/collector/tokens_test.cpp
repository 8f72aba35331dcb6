#include "collector/tokens.hpp"

#include <catch2/catch.hpp>
#include <set>
#include "collector/token_store.hpp"

namespace vigie::collector {
namespace {

TEST_CASE("Tokens: technician roles are ordered, agent and enroll stand apart", "[tokens]") {
  CHECK(role_allows(Role::kAdmin, Role::kViewer));
  CHECK(role_allows(Role::kOperator, Role::kOperator));
  CHECK_FALSE(role_allows(Role::kViewer, Role::kOperator));
  CHECK_FALSE(role_allows(Role::kAdmin, Role::kAgent));
  CHECK_FALSE(role_allows(Role::kAgent, Role::kViewer));
  CHECK_FALSE(role_allows(Role::kEnroll, Role::kViewer));
  CHECK(role_allows(Role::kAgent, Role::kAgent));
}

TEST_CASE("Tokens: role names round-trip and unknown names are refused", "[tokens]") {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin, Role::kAgent, Role::kEnroll})
    CHECK(role_from_name(role_name(r)) == r);
  CHECK_FALSE(role_from_name("root").has_value());
}

TEST_CASE("Tokens: secrets are random, prefixed and 160 bits", "[tokens]") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string s = new_secret(Role::kAgent);
    REQUIRE(s.size() == 4 + 40);
    CHECK(s.rfind("vga_", 0) == 0);
    seen.insert(s);
  }
  CHECK(seen.size() == 1000);
  CHECK(new_secret(Role::kEnroll).rfind("vge_", 0) == 0);
  CHECK(new_secret(Role::kAdmin).rfind("vgu_", 0) == 0);
}

TEST_CASE("Tokens: the stored hash is SHA-256 in hex", "[tokens]") {
  CHECK(hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("Tokens: bearer_token reads the header leniently but exactly", "[tokens]") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token("bearer  abc ") == "abc");
  CHECK(bearer_token("Basic abc").empty());
  CHECK(bearer_token("Bearer").empty());
  CHECK(bearer_token("").empty());
}

TEST_CASE("Tokens: --report-for is a comma list of sites or *, checked", "[tokens][central]") {
  CHECK(parse_report_for("*").value() == "*");
  CHECK(parse_report_for(" a , b,a").value() == "a,b");
  CHECK_FALSE(parse_report_for("a,,b").is_ok());
  CHECK_FALSE(parse_report_for("").is_ok());
  CHECK_FALSE(parse_report_for("a,*").is_ok());
  CHECK_THAT(parse_report_for("a,b c").status().message(), Catch::Contains("b c"));

  TokenRecord t{.role = Role::kAgent, .agent = "p", .site = "centre"};
  CHECK(may_report_for(t, ""));
  CHECK(may_report_for(t, "centre"));
  CHECK_FALSE(may_report_for(t, "a"));
  t.report_for = "ab,b";
  CHECK(may_report_for(t, "b"));
  CHECK(may_report_for(t, "ab"));
  CHECK_FALSE(may_report_for(t, "a"));
  t.report_for = "*";
  CHECK(may_report_for(t, "anything"));
}

}  // namespace
}  // namespace vigie::collector
