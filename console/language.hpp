#pragma once
// The language the console speaks: every label, header, help line, prompt and message
// goes through tr() (or format(), trn()), looked up in the "vigie-console" catalogue
// (po/console/<lang>.po, common/i18n.hpp); ages, dates, sizes and numbers are written
// the way a reader of that language expects.
//
// As gettext's own, the language is one for the process: chosen once at start, from
// --lang or the environment (LC_ALL, LC_MESSAGES, LANG), before any other thread runs;
// read from any thread after that. English, the source language, until then.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/check_result.hpp"
#include "common/i18n.hpp"
#include "common/status.hpp"

namespace vigie::console {

using vigie::Lang;
using vigie::N_;

// Sets the language and its catalogue. Not thread-safe: at start, or in a test.
void set_language(Lang lang, Catalogue catalogue);
// Finds the catalogue of `lang` and sets both; kNotFound (saying where it looked) when
// French has no catalogue, and the language stays as it was.
Status use_language(Lang lang);
Lang language();

// The translation of `msgid` (xgettext --keyword=tr), or msgid itself.
std::string tr(std::string_view msgid);
// Singular or plural by the language's rule for `n`.
std::string trn(std::string_view singular, std::string_view plural, long long n);
// tr(pattern) with each "{name}" replaced by its value.
std::string format(std::string_view pattern,
                   std::initializer_list<std::pair<std::string_view, std::string>> args);
std::string formatn(std::string_view singular, std::string_view plural, long long n,
                    std::initializer_list<std::pair<std::string_view, std::string>> args);

// A state as the console labels it: "CRITICAL" / "CRITIQUE"...; short: four columns at
// most, "CRIT", "WARN" / "ALER"...
std::string state_label(State state);
std::string short_state_label(State state);

// For a narrow column, the largest whole unit: "12s", "3m", "2h", "4d" / "12s", "3min",
// "2h", "4j". A negative age (the clocks disagree) reads as 0 s.
std::string short_age(std::chrono::milliseconds age);
// Where there is room and the next unit matters (a time left): the two largest units,
// "3h 59m", "2d 4h", "45m" / "3h 59min", "2j 4h". Negative reads as 0 s.
std::string two_unit_age(std::chrono::milliseconds age);
// Powers of 1024, one decimal below 10: "3.4 GiB" / "3,4 Gio".
std::string bytes(double value);
// Four significant digits: "12.5" / "12,5".
std::string decimal(double value);

// For a language set in a test: the one before comes back at the end of the scope.
class LanguageScope {
 public:
  explicit LanguageScope(Lang lang);
  ~LanguageScope();
  LanguageScope(const LanguageScope&) = delete;
  LanguageScope& operator=(const LanguageScope&) = delete;

 private:
  Lang before_;
};

}  // namespace vigie::console
