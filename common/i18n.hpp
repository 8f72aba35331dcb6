#pragma once
// The language a report or the console speaks: its words from a gettext catalogue
// (po/*.po compiled to .mo by the build, one domain per program: "vigie" for the
// collector's reports, "vigie-console" for the console), its numbers, sizes, dates and
// durations written the way a reader of that language expects ("1 234,5 Go",
// "lundi 23 novembre 2026").
//
// Deliberately independent of the C library's locales: a collector host often has
// only the "C" locale generated, and glibc's gettext() ignores LANGUAGE under it. So
// the catalogue is chosen by name and read here (the .mo format is simple and
// documented), and numbers and dates are formatted by this code, not by
// std::locale or strftime. English is the source language: it needs no catalogue.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace vigie {

enum class Lang { kFrench, kEnglish };

// "fr" or "en" (also "fr_FR", "en_GB.UTF-8"...); kInvalidArgument otherwise.
Result<Lang> parse_lang(std::string_view text);
std::string_view lang_code(Lang lang);  // "fr", "en"

// The language of the messages a locale's environment asks for, as POSIX orders it:
// the first of LC_ALL, LC_MESSAGES and LANG that is set and not empty decides; French
// when it names French ("fr", "fr_FR.UTF-8", "fr_BE@euro"), English otherwise (also
// when none is set, or for "C" and "POSIX"). `getenv` reads a variable: nullptr when
// it is not set.
Lang lang_from_environment(const std::function<const char*(const char*)>& getenv);

// The gettext domains: the name of each program's catalogue file.
inline constexpr std::string_view kReportDomain = "vigie";
inline constexpr std::string_view kConsoleDomain = "vigie-console";

// Marks a string for extraction (xgettext --keyword=N_) without translating it:
// for tables of words translated later with Locale::tr().
constexpr const char* N_(const char* msgid) { return msgid; }

// A compiled gettext catalogue (.mo), read whole. Immutable once loaded.
class Catalogue {
 public:
  Catalogue() = default;  // empty: every lookup returns the msgid
  static Result<Catalogue> load(const std::filesystem::path& mo_file);

  // The translation of `msgid`, or msgid itself when the catalogue has none.
  std::string_view find(std::string_view msgid) const;
  // Plural forms: `form` is the index the language's plural rule gives.
  std::string_view find_plural(std::string_view singular, std::string_view plural, int form) const;
  bool contains(std::string_view msgid) const { return entries_.count(std::string(msgid)) != 0; }
  std::size_t size() const { return entries_.size(); }

 private:
  // msgid (the singular, for plural entries) -> msgstr forms.
  std::unordered_map<std::string, std::vector<std::string>> entries_;
};

// Where the .mo of `lang` in `domain` is looked for, in order:
//   $VIGIE_LOCALEDIR/<lang>/LC_MESSAGES/<domain>.mo
//   <folder of the running program>/../locale/...      (the build tree: programs and
//                                                        tests sit one level below it)
//   <folder of the running program>/../share/locale/... (a relocated install)
//   the install prefix's locale folder, fixed at build time.
std::vector<std::filesystem::path> catalogue_candidates(Lang lang,
                                                        std::string_view domain = kReportDomain);
// kNotFound, listing the places searched, when none exists; English gives an empty
// catalogue.
Result<Catalogue> find_catalogue(Lang lang, std::string_view domain = kReportDomain);

// A civil date.
struct Day {
  int year = 1970;
  int month = 1;    // 1..12
  int day = 1;      // 1..31
  int weekday = 0;  // 0 Monday .. 6 Sunday
  bool operator==(const Day&) const = default;
};

class Locale {
 public:
  Locale(Lang lang, Catalogue catalogue);
  // English, no catalogue: for tests and fallbacks.
  Locale() : Locale(Lang::kEnglish, Catalogue()) {}

  Lang lang() const { return lang_; }
  std::string_view code() const { return lang_code(lang_); }

  // The translation of msgid (marked for xgettext with --keyword=tr).
  std::string tr(std::string_view msgid) const;
  // Singular or plural by the language's rule (French: n > 1; English: n != 1).
  std::string trn(std::string_view singular, std::string_view plural, long long n) const;
  // tr(pattern) with each "{name}" replaced by its value.
  std::string format(std::string_view pattern,
                     std::initializer_list<std::pair<std::string_view, std::string>> args) const;

  // The same with trn(singular, plural, n).
  std::string formatn(std::string_view singular, std::string_view plural, long long n,
                      std::initializer_list<std::pair<std::string_view, std::string>> args) const;

  // 1234.5 -> "1 234,5" (French, non-breaking spaces) or "1,234.5".
  std::string number(double value, int decimals) const;
  std::string integer(long long value) const { return number(static_cast<double>(value), 0); }
  // 0.857 -> "85,7 %" / "85.7%" (one decimal unless whole).
  std::string percent(double ratio) const;
  // Bytes with decimal units: "1,2 Go" / "1.2 GB", "512 o" / "512 B".
  std::string size(double bytes) const;
  // "lundi 23 novembre 2026" / "Monday, November 23, 2026".
  std::string long_date(const Day& day) const;
  // "23/11" / "11/23": a column label.
  std::string short_date(const Day& day) const;
  // "23 novembre 2026 à 07:05" / "November 23, 2026 at 07:05".
  std::string date_time(const Day& day, int hour, int minute) const;
  // Two units at most: "3 j 4 h", "5 h 12 min", "12 min", "40 s" (English: d, h, min, s).
  // The localized counterpart of common/human_text.hpp's age_text, for a report's reader.
  std::string duration(std::chrono::milliseconds d) const;

 private:
  Lang lang_;
  Catalogue catalogue_;
};

}  // namespace vigie
