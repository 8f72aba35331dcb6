#include "common/utf8.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace vigie {

TEST_CASE("utf8_length: well-formed sequences only", "[utf8]") {
  CHECK(utf8_length("a") == 1);
  CHECK(utf8_length("\xc3\xa9t\xc3\xa9") == 2);
  CHECK(utf8_length("\xe2\x82\xac") == 3);
  CHECK(utf8_length("\xf0\x9f\x94\xa5") == 4);
  CHECK(utf8_length("") == 0);
  CHECK(utf8_length("\xff") == 0);
  CHECK(utf8_length("\xc0\xaf") == 0);          // overlong '/'
  CHECK(utf8_length("\xed\xa0\x80") == 0);      // a surrogate
  CHECK(utf8_length("\xf4\x90\x80\x80") == 0);  // past U+10FFFF
  CHECK(utf8_length("\xe2\x82") == 0);          // cut short
  CHECK(utf8_length("\xe2\x82x") == 0);
}

TEST_CASE("is_utf8 and valid_utf8: a bad byte becomes U+FFFD, the rest stays", "[utf8]") {
  CHECK(is_utf8("plain \xc3\xa9t\xc3\xa9 \xf0\x9f\x94\xa5"));
  CHECK(is_utf8(""));
  CHECK_FALSE(is_utf8("caf\xe9"));  // Latin-1
  CHECK(valid_utf8("caf\xe9!") == "caf\xef\xbf\xbd!");
  CHECK(valid_utf8("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(valid_utf8("ok \xc3\xa9") == "ok \xc3\xa9");
  CHECK(is_utf8(valid_utf8(std::string("\0\x80\xbf\xfe\xff", 5))));
}

TEST_CASE("cut_utf8: at most max bytes, never inside a character", "[utf8]") {
  CHECK(cut_utf8("\xc3\xa9\xc3\xa9", 3) == "\xc3\xa9");
  CHECK(cut_utf8("\xc3\xa9\xc3\xa9", 4) == "\xc3\xa9\xc3\xa9");
  CHECK(cut_utf8("abc", 0).empty());
  CHECK(cut_utf8("\xf0\x9f\x94\xa5", 3).empty());
}

}  // namespace vigie
