#include "console/text.hpp"

#include <catch2/catch.hpp>

namespace vigie::console {
namespace {

TEST_CASE("sanitize: control characters become spaces", "[text]") {
  CHECK(sanitize("a\tb\nc\rd") == "a b c d");
  CHECK(sanitize("\x1b[2Jcleared") == " [2Jcleared");
  CHECK(sanitize("del\x7f") == "del ");
  CHECK(sanitize("c1\xc2\x9b") == "c1 ");          // U+009B, the 8-bit CSI
  CHECK(sanitize("rtl\xe2\x80\xae!") == "rtl !");  // U+202E, right-to-left override
}

TEST_CASE("sanitize: valid UTF-8 is kept, each bad byte becomes '?'", "[text]") {
  CHECK(sanitize("Mairie d'Onesse-et-Lahari\xc3\xa9") == "Mairie d'Onesse-et-Lahari\xc3\xa9");
  CHECK(sanitize("\xe6\x97\xa5\xe6\x9c\xac") == "\xe6\x97\xa5\xe6\x9c\xac");
  CHECK(sanitize("bad\xff") == "bad?");
  CHECK(sanitize("cut\xc3") == "cut?");           // truncated sequence
  CHECK(sanitize("\xc0\xaf") == "??");            // overlong '/'
  CHECK(sanitize("\xed\xa0\x80") == "???");       // a surrogate
  CHECK(sanitize("\xf4\x90\x80\x80") == "????");  // past U+10FFFF
}

TEST_CASE("columns: wide characters take two, combining marks none", "[text]") {
  CHECK(columns("") == 0);
  CHECK(columns("abc") == 3);
  CHECK(columns("\xc3\xa9t\xc3\xa9") == 3);         // "été"
  CHECK(columns("e\xcc\x81") == 1);                 // e + combining acute
  CHECK(columns("\xe6\x97\xa5\xe6\x9c\xac") == 4);  // two CJK ideographs
  CHECK(columns("\xf0\x9f\x94\xa5") == 2);          // an emoji
}

TEST_CASE("cut: never cuts a character", "[text]") {
  CHECK(cut("hello", 3) == "hel");
  CHECK(cut("hello", 10) == "hello");
  CHECK(cut("hello", 0) == "");
  CHECK(cut("\xc3\xa9t\xc3\xa9", 2) == "\xc3\xa9t");
  CHECK(cut("\xe6\x97\xa5\xe6\x9c\xac", 3) == "\xe6\x97\xa5");  // half an ideograph is none
  CHECK(cut("e\xcc\x81x", 1) == "e\xcc\x81");                   // the mark stays with its e
}

TEST_CASE("pad: cut or padded to exactly the width", "[text]") {
  CHECK(pad("ab", 4) == "ab  ");
  CHECK(pad("abcdef", 4) == "abcd");
  CHECK(pad("\xc3\xa9", 3) == "\xc3\xa9  ");
  CHECK(pad("\xe6\x97\xa5\xe6\x9c\xac", 3) == "\xe6\x97\xa5 ");
}

TEST_CASE("characters: one view per code point", "[text]") {
  const auto chars = characters("a\xc3\xa9\xff");
  REQUIRE(chars.size() == 3);
  CHECK(chars[0] == "a");
  CHECK(chars[1] == "\xc3\xa9");
  CHECK(chars[2] == "\xff");
}

}  // namespace
}  // namespace vigie::console
