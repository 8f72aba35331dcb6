#include "common/i18n.hpp"

#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

Locale french() {
  auto catalogue = find_catalogue(Lang::kFrench);
  REQUIRE(catalogue.is_ok());
  return Locale(Lang::kFrench, std::move(*catalogue));
}

const std::string kNbsp = "\u00a0";

TEST_CASE("Locale: French dates and numbers come from the built catalogue", "[i18n]") {
  const Locale fr = french();
  const Day monday{2026, 11, 23, 0};
  CHECK(fr.long_date(monday) == "lundi 23 novembre 2026");
  CHECK(fr.short_date(monday) == "23/11");
  CHECK(fr.date_time({2026, 8, 2, 6}, 7, 5) == "2 août 2026 à 07:05");
  CHECK(fr.number(1234.5, 1) == "1" + kNbsp + "234,5");
  CHECK(fr.size(1234.5e9) == "1,2" + kNbsp + "To");
  CHECK(fr.size(999.96e6) == "1,0" + kNbsp + "Go");  // rounded before the unit is chosen
  CHECK(fr.size(512) == "512" + kNbsp + "o");
  CHECK(fr.percent(0.857) == "85,7" + kNbsp + "%");
  CHECK(fr.percent(1.0) == "100" + kNbsp + "%");
  CHECK(fr.duration(std::chrono::hours(3 * 24 + 4)) == "3 j 4 h");
  CHECK(fr.trn("{n} site", "{n} sites", 1) == "{n} site");
  CHECK(fr.trn("{n} site", "{n} sites", 0) == "{n} site");  // French: 0 is singular
  CHECK(fr.tr("Failing") == "En échec");
}

TEST_CASE("Locale: English is the source language and needs no catalogue", "[i18n]") {
  auto catalogue = find_catalogue(Lang::kEnglish);
  REQUIRE(catalogue.is_ok());
  const Locale en(Lang::kEnglish, std::move(*catalogue));
  CHECK(en.long_date({2026, 11, 23, 0}) == "Monday, November 23, 2026");
  CHECK(en.short_date({2026, 11, 23, 0}) == "11/23");
  CHECK(en.number(1234.5, 1) == "1,234.5");
  CHECK(en.number(-1234567, 0) == "-1,234,567");
  CHECK(en.size(1234.5e9) == "1.2" + kNbsp + "TB");
  CHECK(en.percent(0.5) == "50%");
  CHECK(en.duration(std::chrono::hours(5) + std::chrono::minutes(12)) == "5 h 12 min");
  CHECK(en.duration(std::chrono::seconds(40)) == "40 s");
  CHECK(en.trn("{n} site", "{n} sites", 0) == "{n} sites");
}

TEST_CASE("Locale: formats fill their placeholders and keep unknown ones", "[i18n]") {
  const Locale en;
  CHECK(en.format("{a} and {b}, {c}", {{"a", "1"}, {"b", "2"}}) == "1 and 2, {c}");
  CHECK(en.format("{unclosed", {{"unclosed", "x"}}) == "{unclosed");
}

TEST_CASE("Catalogue: a file that is not a .mo is refused with its name", "[i18n]") {
  testing::TempDir dir;
  auto bad = Catalogue::load(dir.write("bad.mo", "this is not a catalogue at all"));
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().message().find("bad.mo") != std::string::npos);
  std::string truncated("\xde\x12\x04\x95\0\0\0\0\x10\0\0\0\x1c\0\0\0\x9c\0\0\0", 20);
  auto cut = Catalogue::load(dir.write("cut.mo", truncated));
  REQUIRE_FALSE(cut.is_ok());
  CHECK(Catalogue::load(dir / "missing.mo").status().code() == Code::kNotFound);
}

TEST_CASE("Catalogue: VIGIE_LOCALEDIR comes first, and a missing one says where it looked",
          "[i18n]") {
  testing::TempDir dir;
  ::setenv("VIGIE_LOCALEDIR", dir.path().c_str(), 1);
  const auto candidates = catalogue_candidates(Lang::kFrench);
  REQUIRE_FALSE(candidates.empty());
  CHECK(candidates.front() == dir.path() / "fr" / "LC_MESSAGES" / "vigie.mo");
  ::unsetenv("VIGIE_LOCALEDIR");
  CHECK(parse_lang("fr_FR.UTF-8").value() == Lang::kFrench);
  CHECK(parse_lang("en").value() == Lang::kEnglish);
  auto de = parse_lang("de");
  REQUIRE_FALSE(de.is_ok());
  CHECK(de.status().message().find("expected fr or en") != std::string::npos);
}

TEST_CASE("Catalogue: each program's domain has its own file", "[i18n]") {
  testing::TempDir dir;
  ::setenv("VIGIE_LOCALEDIR", dir.path().c_str(), 1);
  const auto candidates = catalogue_candidates(Lang::kFrench, kConsoleDomain);
  ::unsetenv("VIGIE_LOCALEDIR");
  REQUIRE_FALSE(candidates.empty());
  CHECK(candidates.front() == dir.path() / "fr" / "LC_MESSAGES" / "vigie-console.mo");
  // Both built catalogues are found in the build tree, and they differ.
  auto reports = find_catalogue(Lang::kFrench, kReportDomain);
  auto console = find_catalogue(Lang::kFrench, kConsoleDomain);
  REQUIRE(reports.is_ok());
  REQUIRE(console.is_ok());
  CHECK(reports->contains("November"));
  CHECK_FALSE(console->contains("November"));
  CHECK(console->find("Problems") == "Problèmes");
}

TEST_CASE("Lang: the environment's language, LC_ALL then LC_MESSAGES then LANG", "[i18n]") {
  const auto env = [](std::initializer_list<std::pair<const char*, const char*>> vars) {
    const std::vector<std::pair<const char*, const char*>> set(vars);
    return lang_from_environment([set](const char* name) -> const char* {
      for (const auto& [key, value] : set) {
        if (std::string_view(key) == name) return value;
      }
      return nullptr;
    });
  };
  CHECK(env({}) == Lang::kEnglish);
  CHECK(env({{"LANG", "fr_FR.UTF-8"}}) == Lang::kFrench);
  CHECK(env({{"LANG", "fr_BE@euro"}}) == Lang::kFrench);
  CHECK(env({{"LANG", "fr"}}) == Lang::kFrench);
  CHECK(env({{"LANG", "C"}}) == Lang::kEnglish);
  CHECK(env({{"LANG", "de_DE.UTF-8"}}) == Lang::kEnglish);
  CHECK(env({{"LANG", "fry_NL"}}) == Lang::kEnglish);  // Frisian is not French
  CHECK(env({{"LANG", "fr_FR.UTF-8"}, {"LC_MESSAGES", "C"}}) == Lang::kEnglish);
  CHECK(env({{"LANG", "C"}, {"LC_MESSAGES", "fr_CA.UTF-8"}}) == Lang::kFrench);
  CHECK(env({{"LC_MESSAGES", "fr_FR.UTF-8"}, {"LC_ALL", "C.UTF-8"}}) == Lang::kEnglish);
  CHECK(env({{"LC_ALL", ""}, {"LANG", "fr_FR.UTF-8"}}) == Lang::kFrench);  // empty: unset
}

}  // namespace
}  // namespace vigie
