#include "plugins/check_support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace vigie::plugins {
namespace {

using Words = std::vector<std::string>;

TEST_CASE("split_words: words between any blanks, none for a blank text", "[check-support]") {
  CHECK(split_words("Dec 31 2999") == Words{"Dec", "31", "2999"});
  CHECK(split_words("  0.0\t10.20.30.41  ONLINE \r\n") == Words{"0.0", "10.20.30.41", "ONLINE"});
  CHECK(split_words("a\vb\fc\nd") == Words{"a", "b", "c", "d"});
  CHECK(split_words("one") == Words{"one"});
  CHECK(split_words("").empty());
  CHECK(split_words(" \t\n ").empty());
}

}  // namespace
}  // namespace vigie::plugins
