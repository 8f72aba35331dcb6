#include "console/list_view.hpp"

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "console/memory_canvas.hpp"
#include "console/text.hpp"
#include "tests/console/rows.hpp"

namespace vigie::console {
namespace {

using testing::make_row;

constexpr std::int64_t kNow = 1'700'000'000'000;  // collector and local clocks agree

// A snapshot fetched at kNow, rows received 10 s before unless said otherwise.
Snapshot snapshot_of(std::vector<CheckRow> rows) {
  Snapshot snapshot;
  sort_rows(rows);
  snapshot.rows = std::move(rows);
  snapshot.fetched_at_ms = kNow;
  snapshot.collector_now_ms = kNow;
  return snapshot;
}

CheckRow row_at(std::string site, std::string name, State state, std::string summary = "fine",
                std::int64_t received_ms = kNow - 10'000) {
  return make_row(std::move(site), std::move(name), state, 1'000, received_ms, std::move(summary));
}

// The column at which `needle` starts on `line`, in terminal columns.
int column_of(const std::string& line, std::string_view needle) {
  const std::size_t at = line.find(needle);
  REQUIRE(at != std::string::npos);
  return static_cast<int>(columns(std::string_view(line).substr(0, at)));
}

MemoryCanvas render(const Snapshot& snapshot, const ListCursor& cursor = {}, int width = 80,
                    int height = 12) {
  MemoryCanvas canvas(width, height);
  render_check_list(snapshot, cursor, kNow, canvas);
  return canvas;
}

TEST_CASE("render_check_list: the header counts checks by state", "[list_view]") {
  const Snapshot snapshot = snapshot_of({
      row_at("a", "fw", State::kCritical),
      row_at("a", "wifi", State::kWarning),
      row_at("b", "wifi", State::kWarning),
      row_at("a", "load", State::kOk),
      row_at("b", "load", State::kOk),
      row_at("c", "load", State::kOk),
      row_at("c", "old", State::kOk, "fine", kNow - 3'600'000),
  });
  const MemoryCanvas canvas = render(snapshot, {}, 120);
  const std::string header = canvas.line(0);
  CHECK_THAT(header, Catch::StartsWith("CRITICAL 1  WARNING 2  UNKNOWN 0  OK 3  STALE 1"));
  CHECK_THAT(header, Catch::EndsWith("connected"));
  CHECK(canvas.style_at(column_of(header, "CRITICAL 1"), 0).tone == Tone::kCritical);
  CHECK(canvas.style_at(column_of(header, "UNKNOWN 0"), 0).tone == Tone::kDim);
  CHECK(canvas.style_at(column_of(header, "connected"), 0).tone == Tone::kOk);
}

TEST_CASE("render_check_list: the header shows the time of the last update", "[list_view]") {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  const MemoryCanvas canvas = render(snapshot_of({row_at("a", "load", State::kOk)}));
  CHECK_THAT(canvas.line(0), Catch::Contains("updated 22:13:20"));  // kNow in UTC
}

TEST_CASE("render_check_list: the connection state", "[list_view]") {
  SECTION("before the first fetch") {
    const MemoryCanvas canvas = render(Snapshot{});
    CHECK(canvas.line(0) ==
          "CRITICAL 0  WARNING 0  UNKNOWN 0  OK 0  STALE 0        updated never  connecting");
  }
  SECTION("after a failed fetch, with the rows of the last good one") {
    Snapshot snapshot = snapshot_of({row_at("a", "load", State::kOk)});
    snapshot.error = Status::unavailable("cannot reach the collector at http://x");
    const MemoryCanvas canvas = render(snapshot, {}, 120);
    const std::string header = canvas.line(0);
    CHECK_THAT(header, Catch::Contains("error: cannot reach the collector at http://x"));
    CHECK(canvas.style_at(column_of(header, "error:"), 0).tone == Tone::kCritical);
    CHECK_THAT(canvas.line(2), Catch::StartsWith("a"));
  }
  SECTION("a long error is cut at the edge") {
    Snapshot snapshot = snapshot_of({});
    snapshot.error = Status::unavailable(std::string(300, 'e'));
    const MemoryCanvas canvas = render(snapshot);
    CHECK(columns(canvas.line(0)) == 80);
    CHECK_THAT(canvas.line(0), Catch::Contains("  error: eee"));
    CHECK(canvas.line(11) == "error: " + std::string(73, 'e'));  // the footer has it all
    CHECK(canvas.style_at(0, 11).tone == Tone::kCritical);
  }
}

TEST_CASE("render_check_list: titles, then the rows most severe first", "[list_view]") {
  const Snapshot snapshot = snapshot_of({
      row_at("mairie", "load", State::kOk, "load 0.10"),
      row_at("mairie", "backup", State::kCritical, "no backup for 3 days"),
      row_at("ccas", "wifi", State::kWarning, "2 of 3 APs up"),
      row_at("ccas", "clamd", State::kUnknown, "socket refused"),
  });
  const MemoryCanvas canvas = render(snapshot);
  CHECK(canvas.line(1) == "SITE    CHECK   STATE      AGE  SUMMARY");
  CHECK(canvas.line(2) == "mairie  backup  CRITICAL   10s  no backup for 3 days");
  CHECK(canvas.line(3) == "ccas    clamd   UNKNOWN    10s  socket refused");
  CHECK(canvas.line(4) == "ccas    wifi    WARNING    10s  2 of 3 APs up");
  CHECK(canvas.line(5) == "mairie  load    OK         10s  load 0.10");
  CHECK(canvas.style_at(0, 1).tone == Tone::kBold);
  CHECK(canvas.style_at(16, 2).tone == Tone::kCritical);
  CHECK(canvas.style_at(16, 3).tone == Tone::kUnknown);
  CHECK(canvas.style_at(16, 4).tone == Tone::kWarning);
  CHECK(canvas.style_at(16, 5).tone == Tone::kOk);
  CHECK(canvas.style_at(0, 5).tone == Tone::kNormal);
}

TEST_CASE("render_check_list: a stale row is dimmed STALE, never a green OK", "[list_view]") {
  const Snapshot snapshot = snapshot_of({
      row_at("mairie", "load", State::kOk, "load 0.10", kNow - 181'000),
      row_at("mairie", "disk", State::kOk, "12% used", kNow - 179'000),
  });
  const MemoryCanvas canvas = render(snapshot);
  const std::string stale_line = canvas.line(3);
  CHECK(stale_line == "mairie  load   STALE       3m  load 0.10");
  for (int x = 0; x < static_cast<int>(stale_line.size()); ++x) {
    INFO(x);
    if (stale_line[static_cast<std::size_t>(x)] != ' ') {
      CHECK(canvas.style_at(x, 3).tone == Tone::kDim);
    }
  }
  CHECK(canvas.line(2) == "mairie  disk   OK          2m  12% used");
  CHECK(canvas.style_at(15, 2).tone == Tone::kOk);
}

TEST_CASE("render_check_list: staleness counts from the collector's clock", "[list_view]") {
  Snapshot snapshot = snapshot_of({row_at("mairie", "load", State::kOk)});
  snapshot.collector_now_ms = kNow + 7 * 86'400'000LL;  // the console's clock is a week late
  const MemoryCanvas canvas = render(snapshot);
  CHECK_THAT(canvas.line(2), Catch::Contains("STALE"));
  CHECK_THAT(canvas.line(2), Catch::Contains("7d"));
}

TEST_CASE("render_check_list: the selected line is reversed across the width", "[list_view]") {
  const Snapshot snapshot =
      snapshot_of({row_at("a", "backup", State::kCritical), row_at("a", "load", State::kOk)});
  ListCursor cursor;
  cursor.selected = 1;
  const MemoryCanvas canvas = render(snapshot, cursor);
  for (const int x : {0, 10, 40, 79}) {
    INFO(x);
    CHECK(canvas.style_at(x, 3).reverse);
    CHECK_FALSE(canvas.style_at(x, 2).reverse);
  }
  CHECK(canvas.style_at(14, 3) == Style{Tone::kOk, true});  // the state keeps its colour
  CHECK_THAT(canvas.line(11), Catch::EndsWith("2/2"));
}

TEST_CASE("render_check_list: the summary is cut at the width", "[list_view]") {
  const std::string summary = "backup of /srv/data failed: " + std::string(200, 'x');
  const Snapshot snapshot = snapshot_of({row_at("onesse", "backup", State::kCritical, summary)});
  const MemoryCanvas canvas = render(snapshot, {}, 80);
  const std::string line = canvas.line(2);
  CHECK(columns(line) == 80);
  const int at = column_of(line, "backup of");
  CHECK(line.substr(line.find("backup of")) ==
        summary.substr(0, static_cast<std::size_t>(80 - at)));
}

TEST_CASE("render_check_list: an empty list says so", "[list_view]") {
  const MemoryCanvas canvas = render(snapshot_of({}));
  CHECK_THAT(canvas.line(0), Catch::Contains("CRITICAL 0  WARNING 0  UNKNOWN 0  OK 0"));
  CHECK(canvas.line(1) == "SITE  CHECK  STATE      AGE  SUMMARY");
  CHECK(canvas.line(2) == "no checks yet");
  CHECK_THAT(canvas.line(11), Catch::StartsWith("Up/Down j/k move"));
}

TEST_CASE("render_check_list: only the rows of the window are drawn", "[list_view]") {
  std::vector<CheckRow> rows;
  for (int i = 0; i < 30; ++i) {
    rows.push_back(
        make_row("site" + std::to_string(10 + i), "load", State::kOk, 1'000, kNow - 10'000));
  }
  const Snapshot snapshot = snapshot_of(rows);
  ListCursor cursor;
  cursor.selected = 12;
  cursor.clamp(snapshot.rows.size(), list_page(12));
  const MemoryCanvas canvas = render(snapshot, cursor);
  CHECK(list_page(12) == 9);
  CHECK_THAT(canvas.line(2), Catch::StartsWith("site14"));
  CHECK_THAT(canvas.line(10), Catch::StartsWith("site22"));
  CHECK(canvas.style_at(0, 10).reverse);
  CHECK_THAT(canvas.line(11), Catch::EndsWith("13/30"));
}

TEST_CASE("render_check_list: any canvas size is drawn without overflow", "[list_view]") {
  const Snapshot snapshot = snapshot_of({row_at("a", "load", State::kWarning, "s")});
  for (const int width : {0, 1, 5, 20}) {
    for (const int height : {0, 1, 2, 3, 4}) {
      MemoryCanvas canvas(width, height);
      render_check_list(snapshot, {}, kNow, canvas);
      for (int y = 0; y < height; ++y) CHECK(columns(canvas.line(y)) <= std::size_t(width));
    }
  }
  MemoryCanvas tiny(80, 3);
  render_check_list(snapshot, {}, kNow, tiny);
  CHECK_THAT(tiny.line(2), Catch::StartsWith("Up/Down"));
  CHECK(list_page(3) == 0);
}

TEST_CASE("ListCursor: keeps the selection in the list and in view", "[list_view]") {
  ListCursor cursor;
  cursor.move(5, 20, 10);
  CHECK(cursor.selected == 5);
  CHECK(cursor.top == 0);
  cursor.move(7, 20, 10);
  CHECK(cursor.selected == 12);
  CHECK(cursor.top == 3);
  cursor.move(100, 20, 10);
  CHECK(cursor.selected == 19);
  CHECK(cursor.top == 10);
  cursor.move(-4, 20, 10);
  CHECK(cursor.selected == 15);
  CHECK(cursor.top == 10);
  cursor.move(-100, 20, 10);
  CHECK(cursor.selected == 0);
  CHECK(cursor.top == 0);

  SECTION("the list shrinks") {
    cursor.selected = 19;
    cursor.clamp(20, 10);
    cursor.clamp(4, 10);
    CHECK(cursor.selected == 3);
    CHECK(cursor.top == 0);
  }
  SECTION("the list empties") {
    cursor.clamp(0, 10);
    CHECK(cursor.selected == 0);
    cursor.move(1, 0, 10);
    CHECK(cursor.selected == 0);
  }
  SECTION("the terminal is too small for any row") {
    cursor.move(3, 20, 0);
    CHECK(cursor.selected == 3);
    CHECK(cursor.top == 3);
  }
}

TEST_CASE("follow_selection: the selection stays on its check", "[list_view]") {
  const std::vector<CheckRow> before = {row_at("a", "backup", State::kCritical),
                                        row_at("a", "load", State::kOk),
                                        row_at("b", "load", State::kOk)};
  std::vector<CheckRow> after = before;
  after[2].result.status = State::kCritical;
  sort_rows(after);
  CHECK(follow_selection(before, after, 2) == 1);  // b/load moved up
  CHECK(follow_selection(before, after, 1) == 2);  // a/load moved down
  after.erase(after.begin() + 2);
  CHECK(follow_selection(before, after, 1) == 1);  // gone: the same index
  CHECK(follow_selection({}, after, 0) == 0);
}

}  // namespace
}  // namespace vigie::console
