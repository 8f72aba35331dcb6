#include "console/list_view.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <string>

#include "console/table.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr int kHeaderLines = 2;  // the header and the column titles
constexpr std::string_view kHints =
    "Up/Down j/k move  PgUp/PgDn page  Home/End first/last  r refresh  q quit";

Tone state_tone(State state) {
  switch (state) {
    case State::kOk: return Tone::kOk;
    case State::kWarning: return Tone::kWarning;
    case State::kCritical: return Tone::kCritical;
    case State::kUnknown: return Tone::kUnknown;
  }
  return Tone::kUnknown;
}

// The index of a state's count in the header, most severe first.
std::size_t count_slot(State state) {
  switch (state) {
    case State::kCritical: return 0;
    case State::kWarning: return 1;
    case State::kUnknown: return 2;
    case State::kOk: return 3;
  }
  return 2;
}

// "14:03:12" in the local time zone.
std::string clock_text(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return "?";
  std::array<char, 16> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%H:%M:%S", &local);
  return std::string(text.data(), n);
}

// Draws `text` at x and returns the column just after it.
int put_text(Canvas& canvas, int x, int y, std::string_view text, Style style) {
  canvas.put(x, y, text, style);
  return x + static_cast<int>(columns(text));
}

void render_header(const Snapshot& snapshot, std::int64_t now_ms, Canvas& canvas) {
  struct Count {
    std::string_view label;
    Tone tone;
    int n = 0;
  };
  std::array<Count, 5> counts{{{"CRITICAL", Tone::kCritical},
                               {"WARNING", Tone::kWarning},
                               {"UNKNOWN", Tone::kUnknown},
                               {"OK", Tone::kOk},
                               {"STALE", Tone::kBold}}};
  for (const CheckRow& row : snapshot.rows) {
    const std::size_t slot = is_stale(row, now_ms) ? 4 : count_slot(row.result.status);
    ++counts[slot].n;
  }
  int x = 0;
  for (const Count& count : counts) {
    const std::string text = std::string(count.label) + " " + std::to_string(count.n);
    x = put_text(canvas, x, 0, text, {count.n > 0 ? count.tone : Tone::kDim}) + 2;
  }

  const std::string updated =
      "updated " + (snapshot.fetched_at_ms == 0 ? "never" : clock_text(snapshot.fetched_at_ms));
  std::string connection = "connected";
  Tone connection_tone = Tone::kOk;
  if (!snapshot.error.is_ok()) {
    connection = "error: " + sanitize(snapshot.error.message());
    connection_tone = Tone::kCritical;
  } else if (snapshot.fetched_at_ms == 0) {
    connection = "connecting";
    connection_tone = Tone::kDim;
  }
  const int wanted = static_cast<int>(columns(updated) + 2 + columns(connection));
  x = std::max(x + 1, canvas.width() - wanted);
  x = put_text(canvas, x, 0, updated, {Tone::kDim});
  canvas.put(x + 2, 0, connection, {connection_tone});
}

void render_rows(const Snapshot& snapshot, const ListCursor& cursor, const Layout& layout,
                 std::int64_t now_ms, std::size_t page, Canvas& canvas) {
  if (snapshot.rows.empty()) {
    canvas.put(0, kHeaderLines, "no checks yet", {Tone::kDim});
    return;
  }
  const std::size_t end = std::min(snapshot.rows.size(), cursor.top + page);
  for (std::size_t i = cursor.top; i < end; ++i) {
    const int y = kHeaderLines + static_cast<int>(i - cursor.top);
    const RowText text = row_text(snapshot.rows[i], now_ms);
    const bool selected = i == cursor.selected;
    const Tone base = text.stale ? Tone::kDim : Tone::kNormal;
    const Tone state = text.stale ? Tone::kDim : state_tone(snapshot.rows[i].result.status);
    if (selected) {
      canvas.put(0, y, std::string(static_cast<std::size_t>(canvas.width()), ' '), {base, true});
    }
    const auto put = [&](const Column& column, std::string_view value, Tone tone) {
      canvas.put(column.x, y, cut(value, static_cast<std::size_t>(column.width)), {tone, selected});
    };
    put(layout.site, text.site, base);
    put(layout.check, text.check, base);
    put(layout.state, text.state, state);
    const int age_pad = layout.age.width - static_cast<int>(columns(text.age));
    put({layout.age.x + std::max(age_pad, 0), layout.age.width}, text.age, base);
    put(layout.summary, text.summary, base);
  }
}

// Key hints and the position in the list; while the collector cannot be reached, the
// whole error instead of the hints, since the header has little room left for it.
void render_footer(const Snapshot& snapshot, const ListCursor& cursor, Canvas& canvas) {
  const int y = canvas.height() - 1;
  if (!snapshot.error.is_ok()) {
    canvas.put(0, y, "error: " + sanitize(snapshot.error.message()), {Tone::kCritical});
    return;
  }
  canvas.put(0, y, kHints, {Tone::kDim});
  if (snapshot.rows.empty()) return;
  const std::string position =
      std::to_string(cursor.selected + 1) + "/" + std::to_string(snapshot.rows.size());
  const int x = canvas.width() - static_cast<int>(columns(position));
  if (x >= static_cast<int>(columns(kHints)) + 2) canvas.put(x, y, position, {Tone::kDim});
}

}  // namespace

void ListCursor::clamp(std::size_t count, std::size_t page) {
  if (count == 0) {
    selected = top = 0;
    return;
  }
  page = std::max<std::size_t>(page, 1);
  selected = std::min(selected, count - 1);
  // No blank lines below the last row while there are rows above the window.
  top = std::min(top, count > page ? count - page : 0);
  if (selected < top) top = selected;
  if (selected >= top + page) top = selected - page + 1;
}

void ListCursor::move(std::ptrdiff_t delta, std::size_t count, std::size_t page) {
  const auto step = static_cast<std::size_t>(delta < 0 ? -delta : delta);
  if (delta < 0) {
    selected = step > selected ? 0 : selected - step;
  } else {
    selected += std::min(step, count);  // clamp() stops it at the last row
  }
  clamp(count, page);
}

std::size_t list_page(int height) {
  return height > kHeaderLines + 1 ? static_cast<std::size_t>(height - kHeaderLines - 1) : 0;
}

std::size_t follow_selection(const std::vector<CheckRow>& before,
                             const std::vector<CheckRow>& after, std::size_t selected) {
  if (selected >= before.size()) return selected;
  const CheckRow& was = before[selected];
  const auto it = std::find_if(after.begin(), after.end(), [&](const CheckRow& row) {
    return row.agent == was.agent && row.result.check == was.result.check;
  });
  return it == after.end() ? selected : static_cast<std::size_t>(it - after.begin());
}

void render_check_list(const Snapshot& snapshot, const ListCursor& cursor,
                       std::int64_t local_now_ms, Canvas& canvas) {
  if (canvas.height() <= 0 || canvas.width() <= 0) return;
  const std::int64_t now_ms = snapshot.collector_time(local_now_ms);
  render_header(snapshot, now_ms, canvas);
  if (canvas.height() < kHeaderLines) return;
  const Layout layout = layout_columns(snapshot.rows, canvas.width());
  canvas.put(0, 1, format_titles(layout), {Tone::kBold});
  if (const std::size_t page = list_page(canvas.height()); page > 0) {
    render_rows(snapshot, cursor, layout, now_ms, page, canvas);
  }
  if (canvas.height() > kHeaderLines) render_footer(snapshot, cursor, canvas);
}

}  // namespace vigie::console
