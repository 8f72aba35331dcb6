#pragma once
// The Check view: one check with its state, result, acknowledgement, details, metrics
// with a 24-hour sparkline each, recent SNMP traps, history and notifications, as lines that
// scroll.

#include <cstdint>
#include <string>
#include <vector>

#include "console/canvas.hpp"
#include "console/list_views.hpp"
#include "console/live.hpp"

namespace vigie::console {

struct ViewLine {
  std::string text;
  Tone tone = Tone::kNormal;
};

// The lines of the check `want` names in `world`, at `now_ms` (collector clock), for a
// canvas `width` wide; "loading..." while the World holds another check.
std::vector<ViewLine> check_view_lines(const World& world, const Want& want, std::int64_t now_ms,
                                       int width, bool utf8);

// Draws them from line kTopLines - 1, from `scroll.top` (clamped to the last page).
void draw_check_view(Canvas& canvas, const World& world, const Want& want, std::int64_t now_ms,
                     bool utf8, ListCursor& scroll);

// `points` as a line of `width` cells at most (the newest), from low to high: block
// characters, or ASCII "_.-:=+*#" when not `utf8`.
std::string sparkline(const std::vector<SeriesPoint>& points, std::size_t width, bool utf8);

}  // namespace vigie::console
