#include "console/language.hpp"

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "console/key_table.hpp"
#include "console/list_views.hpp"
#include "console/memory_canvas.hpp"
#include "console/options.hpp"
#include "console/table.hpp"
#include "console/text.hpp"
#include "console/ui.hpp"
#include "tests/console/rows.hpp"

namespace vigie::console {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;
constexpr Lang kLanguages[] = {Lang::kEnglish, Lang::kFrench};
constexpr View kListViews[] = {View::kProblems, View::kSites, View::kSite, View::kAgents,
                               View::kBackups};

std::string name_of(Lang lang) { return std::string(lang_code(lang)); }

TEST_CASE("Language: French from the built catalogue, English by default", "[language]") {
  CHECK(language() == Lang::kEnglish);
  CHECK(tr("Problems") == "Problems");
  {
    const LanguageScope french(Lang::kFrench);
    CHECK(language() == Lang::kFrench);
    CHECK(tr("Problems") == "Problèmes");
    CHECK(state_label(State::kCritical) == "CRITIQUE");
    CHECK(format("lost agents {n}", {{"n", "3"}}) == "agents perdus 3");
    CHECK(formatn("acknowledging {n} check...", "acknowledging {n} checks...", 1, {{"n", "1"}}) ==
          "acquittement de 1 contrôle…");
    CHECK(formatn("acknowledging {n} check...", "acknowledging {n} checks...", 2, {{"n", "2"}}) ==
          "acquittement de 2 contrôles…");
    CHECK(tr("a string no catalogue has") == "a string no catalogue has");
  }
  CHECK(language() == Lang::kEnglish);
  CHECK(tr("Problems") == "Problems");
}

TEST_CASE("Language: ages, sizes and numbers as each language writes them", "[language]") {
  using std::chrono::milliseconds;
  CHECK(short_age(milliseconds(45'000)) == "45s");
  CHECK(short_age(milliseconds(3 * 60'000 + 5'000)) == "3m");
  CHECK(short_age(milliseconds(2 * 3'600'000)) == "2h");
  CHECK(short_age(milliseconds(4 * 86'400'000LL)) == "4d");
  CHECK(short_age(milliseconds(-5'000)) == "0s");
  // A time left, one second after a 4h acknowledgement: not "3h".
  CHECK(two_unit_age(milliseconds(4 * 3'600'000 - 1'000)) == "3h 59m");
  CHECK(two_unit_age(milliseconds(2 * 3'600'000)) == "2h");
  CHECK(two_unit_age(milliseconds(2 * 86'400'000LL + 4 * 3'600'000 + 59 * 60'000)) == "2d 4h");
  CHECK(two_unit_age(milliseconds(45 * 60'000 + 30'000)) == "45m");
  CHECK(two_unit_age(milliseconds(-5'000)) == "0s");
  CHECK(bytes(3.4 * 1024 * 1024 * 1024) == "3.4 GiB");
  CHECK(number_text(12.5, "ms") == "12.5 ms");
  const LanguageScope french(Lang::kFrench);
  CHECK(short_age(milliseconds(45'000)) == "45s");
  CHECK(short_age(milliseconds(59 * 60'000)) == "59min");
  CHECK(short_age(milliseconds(2 * 3'600'000)) == "2h");
  CHECK(short_age(milliseconds(4 * 86'400'000LL)) == "4j");
  CHECK(two_unit_age(milliseconds(4 * 3'600'000 - 1'000)) == "3h 59min");
  CHECK(two_unit_age(milliseconds(2 * 86'400'000LL + 4 * 3'600'000)) == "2j 4h");
  CHECK(bytes(3.4 * 1024 * 1024 * 1024) == "3,4 Gio");
  CHECK(bytes(512) == "512 o");
  CHECK(number_text(12.5, "ms") == "12,5 ms");
  CHECK(number_text(125, "s") == "2min");
}

TEST_CASE("Language: dates in the local time zone, day first in French", "[language]") {
  std::tm local{};
  local.tm_year = 2026 - 1900;
  local.tm_mon = 10;  // November
  local.tm_mday = 27;
  local.tm_hour = 14;
  local.tm_min = 3;
  local.tm_isdst = -1;
  const std::int64_t ms = static_cast<std::int64_t>(std::mktime(&local)) * 1000;
  CHECK(date_text(ms) == "11-27 14:03");
  const LanguageScope french(Lang::kFrench);
  CHECK(date_text(ms) == "27/11 14:03");
}

// Every column title of every list view is drawn whole on an 80-column line.
TEST_CASE("Language: each view's column titles fit 80 columns in both languages", "[language]") {
  for (const Lang lang : kLanguages) {
    const LanguageScope scope(lang);
    for (const View view : kListViews) {
      MemoryCanvas canvas(80, 24);
      ListCursor cursor;
      draw_list(canvas, {.view = view}, {}, cursor, "");
      const std::string line = canvas.line(2);
      INFO(name_of(lang) << " " << view_label(view) << ": " << line);
      CHECK(columns(line) <= 80);
      std::size_t from = 0;
      for (const std::string& title : list_titles(view, 80)) {
        const std::size_t at = line.find(title, from);
        CHECK(at != std::string::npos);  // whole, and after the one before
        if (at != std::string::npos) from = at + title.size();
      }
    }
  }
}

TEST_CASE("Language: a line too short leaves out the optional columns with their cells",
          "[language]") {
  World world;
  AgentRow agent;
  agent.id = "onesse-01";
  agent.site = "onesse";
  agent.hostname = "srv-onesse";
  agent.version = "1.4.2";
  agent.clock_skew_ms = 3000;
  agent.spool_depth = 17;
  agent.last_seen_ms = kNow - 60'000;
  world.agents = std::make_shared<const std::vector<AgentRow>>(std::vector<AgentRow>{agent});
  const auto items = build_items(world, {.view = View::kAgents}, "", "", "name");
  REQUIRE(items.size() == 1);
  for (const Lang lang : kLanguages) {
    const LanguageScope scope(lang);
    const auto draw = [&](int width) {
      MemoryCanvas canvas(width, 10);
      ListCursor cursor;
      draw_list(canvas, {.view = View::kAgents, .now_ms = kNow}, items, cursor, "");
      return std::make_pair(canvas.line(2), canvas.line(3));
    };
    const auto [wide_titles, wide_line] = draw(130);
    INFO(wide_titles << "\n" << wide_line);
    CHECK_THAT(wide_titles, Catch::Contains(tr("SPOOL")) && Catch::Contains(tr("VERSION")) &&
                                Catch::Contains(tr("CONFIG")));
    CHECK_THAT(wide_line, Catch::Contains("17") && Catch::Contains("1.4.2"));
    const auto [titles, line] = draw(80);
    INFO(titles << "\n" << line);
    // The version goes first, then the clock skew, then the spool's depth; the poller and
    // the configuration columns stay.
    CHECK_THAT(titles, !Catch::Contains(tr("SKEW")) && !Catch::Contains(tr("VERSION")) &&
                           !Catch::Contains(tr("SPOOL")) && Catch::Contains(tr("POLLER")) &&
                           Catch::Contains(tr("CONFIG")));
    CHECK_THAT(line, !Catch::Contains("3s") && !Catch::Contains("1.4.2") &&
                         !Catch::Contains("17") && Catch::Contains("onesse-01"));
    // What is left lines up: the host under its title.
    const std::size_t host = titles.find(tr("HOST"));
    REQUIRE(host != std::string::npos);
    const std::size_t at = line.find("srv-");
    REQUIRE(at != std::string::npos);
    CHECK(columns(line.substr(0, at)) == columns(titles.substr(0, host)));
  }
}

TEST_CASE("Language: the header keeps the connection in sight at 80 columns", "[language]") {
  World world;
  world.generation = 1;
  world.fetched_at_ms = kNow;
  world.collector_now_ms = kNow;
  auto overview = std::make_shared<Overview>();
  overview->checks = {4213, 31, 4, 12};  // OK, WARNING, CRITICAL, UNKNOWN
  overview->agents_lost = 3;
  overview->sites_unreachable = 12;
  world.overview = overview;
  world.problems = std::make_shared<const std::vector<CheckRow>>();
  for (const Lang lang : kLanguages) {
    const LanguageScope scope(lang);
    Ui ui(true);
    MemoryCanvas canvas(80, 24);
    ui.render(world, {.events_live = true}, kNow, canvas);
    const std::string header = canvas.line(0);
    INFO(name_of(lang) << ": " << header);
    CHECK(header.find(format("live {time}", {{"time", clock_text(kNow)}})) != std::string::npos);
    CHECK(header.find(short_state_label(State::kWarning) + " 31") != std::string::npos);
    CHECK(header.find(state_label(State::kOk) + " 4213") != std::string::npos);
    // With room, the counts in words.
    MemoryCanvas wide(160, 24);
    ui.render(world, {.events_live = true}, kNow, wide);
    CHECK(wide.line(0).find(format("unreachable sites {n}", {{"n", "12"}})) != std::string::npos);
  }
}

TEST_CASE("Language: a title too long for the line shows whole parts only", "[language]") {
  World world;
  world.generation = 1;
  world.fetched_at_ms = kNow;
  world.collector_now_ms = kNow;
  auto detail = std::make_shared<SiteDetail>();
  detail->site.name = "labenne";
  detail->site.worst = State::kCritical;
  detail->site.agents = 1;
  detail->site.last_report_ms = kNow - 10 * 60'000;
  world.site = detail;
  world.fetched = {.view = View::kSite, .site = "labenne"};
  for (const Lang lang : kLanguages) {
    const LanguageScope scope(lang);
    Ui ui(true);
    ui.show({.view = View::kSite, .site = "labenne"});
    MemoryCanvas wide(160, 24);
    ui.render(world, {.events_live = true}, kNow, wide);
    const std::string full = wide.line(1);
    const std::string last_report =
        format("last report {age} ago", {{"age", short_age(std::chrono::minutes(10))}});
    INFO(full);
    REQUIRE_THAT(full, Catch::Contains(last_report));
    // A line that ends inside the last report: it stops before it rather than in its middle.
    const std::size_t end = columns(full.substr(0, full.find(last_report)));
    MemoryCanvas narrow(static_cast<int>(end) + 8, 24);
    ui.render(world, {.events_live = true}, kNow, narrow);
    const std::string line = narrow.line(1);
    INFO(line);
    CHECK(line == full.substr(0, full.find(last_report) - 2));
  }
}

TEST_CASE("Language: the help and the Check view's labels fit in both languages", "[language]") {
  for (const Lang lang : kLanguages) {
    const LanguageScope scope(lang);
    for (const KeyHelp& k : key_help()) {
      INFO(name_of(lang) << ": " << tr(k.keys) << " / " << tr(k.help));
      CHECK(columns(tr(k.keys)) <= 9);            // a space before the help
      CHECK(2 + 10 + columns(tr(k.help)) <= 80);  // the whole line on 80 columns
    }
    for (const char* label :
         {"State", "Result", "Stale", "Site", "Ack", "Downtime", "Flapping", "Summary"}) {
      INFO(name_of(lang) << ": " << tr(label));
      CHECK(columns(tr(label)) <= 9);
    }
    for (const State state : {State::kOk, State::kWarning, State::kCritical, State::kUnknown}) {
      CHECK(columns(short_state_label(state)) <= 4);
      CHECK(columns(state_label(state)) <= 8);
    }
    CHECK(columns(tr("STALE")) <= 8);
    CHECK(columns(tr("UNREACH")) <= 8);
    CHECK(columns(tr("A")) == 1);
    CHECK(columns(tr("D")) == 1);
  }
}

TEST_CASE("Language: the --once table's titles in the language, its columns wide enough",
          "[language]") {
  std::vector<CheckRow> rows = {testing::make_row("onesse", "backup", State::kCritical, 1'000,
                                                  kNow - 59 * 60'000, "last snapshot 3 days ago")};
  const std::string english = format_plain_table(rows, kNow, 80);
  CHECK(english.starts_with("SITE    CHECK   STATE      AGE  SUMMARY\n"));
  const LanguageScope french(Lang::kFrench);
  const std::string text = format_plain_table(rows, kNow, 80);
  INFO(text);
  CHECK(text.starts_with("SITE    CONTRÔLE  ÉTAT        ÂGE  RÉSUMÉ\n"));
  CHECK_THAT(text, Catch::Contains("onesse  backup    CRITIQUE  59min  last snapshot 3 days ago"));
  CHECK(format_plain_table({}, kNow, 80) == "aucun contrôle pour l'instant\n");
}

TEST_CASE("Language: --lang forces it, else LC_ALL, LC_MESSAGES, LANG", "[language]") {
  const auto env = [](const char* lang) {
    return [lang](const char* name) -> const char* {
      return std::string_view(name) == "LANG" ? lang : nullptr;
    };
  };
  const auto choose = [](std::vector<std::string_view> args, const GetEnv& getenv) {
    bool forced = false;
    const Lang lang = choose_language(args, getenv, &forced);
    return std::make_pair(lang, forced);
  };
  CHECK(choose({}, env("fr_FR.UTF-8")) == std::make_pair(Lang::kFrench, false));
  CHECK(choose({}, env("C")) == std::make_pair(Lang::kEnglish, false));
  CHECK(choose({"--lang", "en"}, env("fr_FR.UTF-8")) == std::make_pair(Lang::kEnglish, true));
  CHECK(choose({"--lang=fr", "sites"}, env("C")) == std::make_pair(Lang::kFrench, true));
  CHECK(choose({"--lang", "de"}, env("fr_FR.UTF-8")) == std::make_pair(Lang::kFrench, false));

  std::vector<std::string_view> args = {"--lang", "fr"};
  auto options = parse_options(args, env("C"));
  REQUIRE(options.is_ok());
  CHECK(options->lang == Lang::kFrench);
  args = {"--lang", "de"};
  options = parse_options(args, env("C"));
  REQUIRE_FALSE(options.is_ok());
  CHECK(options.status().message() == "--lang \"de\": expected fr or en");
  args = {"--lang"};
  CHECK_FALSE(parse_options(args, env("C")).is_ok());
}

TEST_CASE("ascii_fold: French stays readable on a terminal without UTF-8", "[language]") {
  std::string folded;
  for (const std::string_view c : characters("Problèmes « déjà » Çà\u00a0œ→✓"))
    folded += ascii_fold(c);
  CHECK(folded == "Problemes \" deja \" Ca o>?");
  CHECK(columns(folded) == columns("Problèmes « déjà » Çà\u00a0œ→✓"));
}

}  // namespace
}  // namespace vigie::console
