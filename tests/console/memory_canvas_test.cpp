#include "console/memory_canvas.hpp"

#include <catch2/catch.hpp>

namespace vigie::console {
namespace {

TEST_CASE("MemoryCanvas: keeps text and style per cell", "[memory_canvas]") {
  MemoryCanvas canvas(10, 2);
  canvas.put(2, 1, "abc", {Tone::kWarning, true});
  CHECK(canvas.line(0).empty());
  CHECK(canvas.line(1) == "  abc");
  CHECK(canvas.style_at(2, 1) == Style{Tone::kWarning, true});
  CHECK(canvas.style_at(5, 1) == Style{});
  CHECK(canvas.text() == "\n  abc\n");
}

TEST_CASE("MemoryCanvas: clips at every edge", "[memory_canvas]") {
  MemoryCanvas canvas(5, 1);
  canvas.put(3, 0, "xyz", {});
  canvas.put(-2, 0, "abc", {});
  canvas.put(0, 1, "below", {});
  canvas.put(0, -1, "above", {});
  CHECK(canvas.line(0) == "c  xy");
  CHECK(canvas.line(1).empty());
  CHECK(canvas.style_at(9, 9) == Style{});
}

TEST_CASE("MemoryCanvas: wide characters take two cells", "[memory_canvas]") {
  MemoryCanvas canvas(5, 1);
  canvas.put(0, 0, "\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5", {});  // three ideographs
  CHECK(canvas.line(0) == "\xe6\x97\xa5\xe6\x9c\xac");           // the third does not fit
  canvas.put(4, 0, "e\xcc\x81", {});
  CHECK(canvas.line(0) ==
        "\xe6\x97\xa5\xe6\x9c\xac"
        "e\xcc\x81");
}

}  // namespace
}  // namespace vigie::console
