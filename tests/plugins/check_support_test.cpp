#include "plugins/check_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
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

TEST_CASE("older_than: an age past warn or crit, said with the threshold", "[check-support]") {
  using std::chrono::seconds;
  std::string note = "left over";
  CHECK(older_than(3600, seconds(3600), seconds(7200), note) == State::kOk);  // not past warn
  CHECK(note.empty());
  CHECK(older_than(3601, seconds(3600), seconds(7200), note) == State::kWarning);
  CHECK(note == " (WARNING > 1h)");
  CHECK(older_than(7201, seconds(3600), seconds(7200), note) == State::kCritical);
  CHECK(note == " (CRITICAL > 2h)");
  CHECK(older_than(-60, seconds(0), seconds(0), note) == State::kOk);  // a clock ahead
  CHECK(older_than(2 * 86400 + 1, seconds(86400), seconds(2 * 86400), note) == State::kCritical);
  CHECK(note == " (CRITICAL > 2d)");
}

}  // namespace
}  // namespace vigie::plugins
