#pragma once
// The plain-text table that `vigie-console --once` prints: SITE CHECK STATE AGE SUMMARY,
// in the console's language (language.hpp).
// (The interactive views draw their own columns: list_views.hpp.)

#include <cstdint>
#include <string>
#include <vector>

#include "console/model.hpp"

namespace vigie::console {

struct Column {
  int x = 0;      // first column on the line
  int width = 0;  // in terminal columns; SUMMARY takes what is left, maybe 0
};

struct Layout {
  Column site, check, state, age, summary;
};

// Columns for `rows` on a line `width` columns wide: SITE and CHECK as wide as their
// longest value up to a fifth of the line each, STATE and AGE fixed, two spaces apart.
Layout layout_columns(const std::vector<CheckRow>& rows, int width);

// What one row shows, sanitized for a terminal, at `now_ms` (collector clock).
struct RowText {
  std::string site;
  std::string check;  // the check's name
  std::string state;  // "OK"..."UNKNOWN", or "STALE" when the collector says so
  std::string age;    // since the last result, short_age()
  std::string summary;
  bool stale = false;
};
RowText row_text(const CheckRow& row, std::int64_t now_ms);

// One line per Layout: the column titles, or a row. AGE is right-aligned, the summary
// cut at the end of the line, and trailing spaces dropped.
std::string format_titles(const Layout& layout);
std::string format_row(const RowText& row, const Layout& layout);

// The table that `vigie-console --once` prints: titles and one line per row (in the
// given order), or "no checks yet"; plain text, no colour, each line ended by '\n'.
std::string format_plain_table(const std::vector<CheckRow>& rows, std::int64_t now_ms, int width);

}  // namespace vigie::console
