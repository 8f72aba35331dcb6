#include "console/table.hpp"

#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "console/text.hpp"
#include "tests/console/rows.hpp"

namespace vigie::console {
namespace {

using testing::make_row;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_CASE("format_plain_table: titles and fixed-width columns", "[table]") {
  const std::vector<CheckRow> rows = {
      make_row("onesse", "backup", State::kCritical, 1'000, 95'000, "last backup 3 days ago"),
      make_row("mimizan", "load", State::kOk, 1'000, 100'000, "load 0.10"),
  };
  const std::string table = format_plain_table(rows, 100'000, 120);
  CHECK(table ==
        "SITE     CHECK   STATE      AGE  SUMMARY\n"
        "onesse   backup  CRITICAL    5s  last backup 3 days ago\n"
        "mimizan  load    OK          0s  load 0.10\n");
}

TEST_CASE("format_plain_table: no checks", "[table]") {
  CHECK(format_plain_table({}, 0, 120) == "no checks yet\n");
}

TEST_CASE("format_plain_table: a row the collector calls stale reads STALE, never OK", "[table]") {
  CheckRow stale = make_row("onesse", "load", State::kOk, 0, 0);
  stale.stale = true;
  const std::string table = format_plain_table({stale}, 181'000, 120);
  CHECK_THAT(table, Catch::Contains("STALE"));
  CHECK_THAT(table, !Catch::Contains(" OK "));
  CHECK_THAT(table, Catch::Contains("3m"));
}

TEST_CASE("format_plain_table: staleness is the collector's word, not the console's", "[table]") {
  // An old result the collector does not call stale (its own rules, a downtime...).
  const std::string table =
      format_plain_table({make_row("onesse", "load", State::kOk, 0, 0)}, 3'600'000, 120);
  CHECK_THAT(table, Catch::Contains(" OK "));
  CHECK_THAT(table, !Catch::Contains("STALE"));
}

TEST_CASE("format_plain_table: no line is wider than the width", "[table]") {
  const std::vector<CheckRow> rows = {
      make_row(std::string(60, 's'), std::string(60, 'n'), State::kWarning, 0, 0,
               std::string(300, 'x')),
      make_row("short", "x", State::kOk, 0, 0, "\xc3\xa9t\xc3\xa9 " + std::string(200, 'y')),
  };
  for (const int width : {40, 80, 120, 200}) {
    for (const std::string& line : lines_of(format_plain_table(rows, 0, width))) {
      INFO(width << ": " << line);
      CHECK(columns(line) <= static_cast<std::size_t>(width));
    }
  }
}

TEST_CASE("format_plain_table: data is printed without terminal controls", "[table]") {
  const std::vector<CheckRow> rows = {
      make_row("site\x1b[31m", "load", State::kOk, 0, 0, "line one\nline two\x07")};
  const std::string table = format_plain_table(rows, 0, 120);
  CHECK(table.find('\x1b') == std::string::npos);
  CHECK(table.find('\x07') == std::string::npos);
  CHECK(lines_of(table).size() == 2);
}

TEST_CASE("layout_columns: SITE and CHECK fit their longest value up to a fifth", "[table]") {
  const std::vector<CheckRow> rows = {make_row("ab", "c", State::kOk),
                                      make_row(std::string(50, 's'), "name", State::kOk)};
  const Layout wide = layout_columns(rows, 120);
  CHECK(wide.site.width == 24);
  CHECK(wide.check.width == 5);  // the title "CHECK" is longer than "name"
  CHECK(wide.check.x == 26);
  CHECK(wide.summary.x + wide.summary.width == 120);
  const Layout narrow = layout_columns(rows, 10);
  CHECK(narrow.site.width == 8);
  CHECK(narrow.summary.width == 0);
}

}  // namespace
}  // namespace vigie::console
