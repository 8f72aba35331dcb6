#pragma once
// Where views draw: a grid of character cells, each with a style. The terminal
// (curses_screen.hpp) is one canvas; MemoryCanvas (memory_canvas.hpp) is another, for
// tests. Views decide what goes where; a canvas only decides how a style looks.

#include <cstdint>
#include <string_view>

namespace vigie::console {

enum class Tone : std::uint8_t {
  kNormal,
  kDim,       // secondary text, and data too old to trust
  kBold,      // titles
  kOk,        // green
  kWarning,   // yellow
  kCritical,  // red
  kUnknown,   // magenta
};

struct Style {
  Tone tone = Tone::kNormal;
  bool reverse = false;  // the selected line
  bool operator==(const Style&) const = default;
};

class Canvas {
 public:
  virtual ~Canvas() = default;

  virtual int width() const = 0;   // columns
  virtual int height() const = 0;  // lines

  // Draws `text` (printable UTF-8, see sanitize() in text.hpp) from column `x` of line
  // `y`, both counted from 0. What falls outside the canvas is not drawn.
  virtual void put(int x, int y, std::string_view text, Style style) = 0;
};

}  // namespace vigie::console
