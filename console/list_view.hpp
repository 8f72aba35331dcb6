#pragma once
// The check list: every check, most severe first, one line each, in the htop manner.
//
//   line 0        header: counts by state (a stale check counts as STALE, whatever its
//                 last state), time of the last update, connection state
//   line 1        column titles: SITE CHECK STATE AGE SUMMARY
//   lines 2..h-2  the rows, the selected one in reverse video
//   line h-1      footer: key hints and the position in the list, or the whole error
//                 while the last fetch failed

#include <cstddef>
#include <cstdint>
#include <vector>

#include "console/canvas.hpp"
#include "console/model.hpp"

namespace vigie::console {

// Which row is selected and which one is at the top of the visible window (indices
// into Snapshot::rows). Owned by the UI thread.
struct ListCursor {
  std::size_t selected = 0;
  std::size_t top = 0;

  // Brings the cursor back into a list of `count` rows shown `page` at a time: the
  // selection within the list, the window within the list and around the selection.
  void clamp(std::size_t count, std::size_t page);
  // Moves the selection by `delta` rows (negative: up), stopping at either end.
  void move(std::ptrdiff_t delta, std::size_t count, std::size_t page);
};

// How many rows a canvas `height` lines high shows (the other lines are the header,
// the column titles and the footer); 0 when it is too small.
std::size_t list_page(int height);

// The index in `after` of the check (agent and check id) selected at `selected` in
// `before`, so that the selection stays on its check when a refresh reorders the list;
// `selected` itself when the check is gone.
std::size_t follow_selection(const std::vector<CheckRow>& before,
                             const std::vector<CheckRow>& after, std::size_t selected);

// Draws `snapshot` onto `canvas` (which should be blank), with the rows `cursor` shows.
// `local_now_ms` is the console's clock: ages and staleness count from it, carried to
// the collector's clock by Snapshot::collector_time(). The clock of the last update is
// shown in the local time zone.
void render_check_list(const Snapshot& snapshot, const ListCursor& cursor,
                       std::int64_t local_now_ms, Canvas& canvas);

}  // namespace vigie::console
