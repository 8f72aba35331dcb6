#pragma once
// The list views (Problems, Sites, Site, Agents, Backups): their lines, built from a World,
// filtered and sorted; the cursor over them; and how a line is drawn, cell by cell.

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "console/canvas.hpp"
#include "console/live.hpp"

namespace vigie::console {

// Lines above a view's own: the header, the title, the column titles.
inline constexpr int kTopLines = 3;

// Which line is selected and which one is at the top of the visible window.
struct ListCursor {
  std::size_t selected = 0;
  std::size_t top = 0;

  // Brings the cursor back into a list of `count` lines shown `page` at a time.
  void clamp(std::size_t count, std::size_t page);
  // Moves the selection by `delta` lines (negative: up), stopping at either end.
  void move(std::ptrdiff_t delta, std::size_t count, std::size_t page);
};

// Lines of a canvas `height` high that show the view's lines (0 when too small).
std::size_t list_page(int height);

// One line of a list view, pointing into the World it was built from.
struct Item {
  const CheckRow* check = nullptr;  // Problems, Site, Backups
  const SiteRow* site = nullptr;    // Sites
  const AgentRow* agent = nullptr;  // Agents
  std::string key;                  // stable identity: marks and selection follow it
  int severity = 0;                 // larger is worse
  std::int64_t time_ms = 0;         // what "age" sorts by, oldest first
  std::string_view site_name;
  std::string_view name;
  std::string_view family;
};

// The sort orders a view offers, the first being its default.
std::span<const std::string_view> sort_modes(View view);

// A sort order as the title line shows it, in the console's language.
std::string sort_label(std::string_view mode);

// The titles of the columns of `view` on a canvas `width` wide, left to right.
std::vector<std::string> list_titles(View view, int width);

// True when `item` matches the search `needle` (case-insensitive, in site, name, check
// id, agent, summary, host) and the `family` filter ("" for all).
bool item_matches(const Item& item, std::string_view needle, std::string_view family);
// The same with the needle already lower(): the search runs over every line.
bool item_matches_folded(const Item& item, std::string_view folded, std::string_view family);

// The lines of `view` in `world` (site/check views: the Want's), filtered and sorted.
std::vector<Item> build_items(const World& world, const Want& want, std::string_view search,
                              std::string_view family, std::string_view sort);

// --- drawing -----------------------------------------------------------------------------

// What one cell of a line shows.
struct Cell {
  std::string text;
  Tone tone = Tone::kNormal;
};

Tone state_tone(State state);
// The state of a check: STALE when the collector says so; lower case while soft; with a
// '?' and dim while our data is old (`doubtful`).
Cell state_cell(const CheckRow& row, State state, bool doubtful);

// What the list of `view` shows, at `now_ms` (collector clock).
struct ListDraw {
  View view = View::kProblems;
  std::int64_t now_ms = 0;
  bool doubtful = false;  // our data is old: states are drawn dim, with a '?'
  bool utf8 = true;
  const std::set<std::string>* marks = nullptr;
};

// Draws the column titles on line 2 and `items` from line kTopLines, a page from
// `cursor` (clamped first), the selected line in reverse video; `empty` when there is
// none.
void draw_list(Canvas& canvas, const ListDraw& draw, const std::vector<Item>& items,
               ListCursor& cursor, std::string_view empty);

}  // namespace vigie::console
