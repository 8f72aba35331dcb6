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

TEST_CASE("append_utf8 and pop_character: what is typed, a character at a time", "[text]") {
  std::string typed;
  for (const char32_t cp : {U'a', U'\u00e9', U'\u20ac', U'\U0001F525'}) append_utf8(cp, typed);
  CHECK(typed == "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5");
  pop_character(typed);
  CHECK(typed == "a\xc3\xa9\xe2\x82\xac");
  pop_character(typed);
  pop_character(typed);
  CHECK(typed == "a");
  pop_character(typed);
  pop_character(typed);  // nothing left: nothing happens
  CHECK(typed.empty());
}

TEST_CASE("trim, lower and contains_folded", "[text]") {
  CHECK(trim("  a b\t ") == "a b");
  CHECK(trim(" \t ").empty());
  CHECK(lower("Mairie \xc3\x89T\xc3\x89") == "mairie \xc3\x89t\xc3\x89");
  CHECK(contains_folded("Backup/Restic:/SRV", "restic:/srv"));
  CHECK(contains_folded("anything", ""));
  CHECK_FALSE(contains_folded("load", "loads"));
}

TEST_CASE("number_text: a metric's value with its unit", "[text]") {
  CHECK(number_text(3.4 * 1024 * 1024 * 1024, "B") == "3.4 GiB");
  CHECK(number_text(125, "s") == "2m");
  CHECK(number_text(85, "%") == "85%");
  CHECK(number_text(12.5, "ms") == "12.5 ms");
  CHECK(number_text(0.123456, "") == "0.1235");
  CHECK(number_text(7, "-") == "7");
}

}  // namespace
}  // namespace vigie::console
