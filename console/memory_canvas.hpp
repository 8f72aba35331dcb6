#pragma once
// A Canvas held in memory, so that tests can render a view and read back the text
// and the style of every cell.

#include <string>
#include <vector>

#include "console/canvas.hpp"

namespace vigie::console {

class MemoryCanvas final : public Canvas {
 public:
  // A blank canvas (spaces, normal style). Negative sizes count as 0.
  MemoryCanvas(int width, int height);

  int width() const override { return width_; }
  int height() const override { return height_; }
  void put(int x, int y, std::string_view text, Style style) override;

  // Line `y` without its trailing spaces; "" outside the canvas.
  std::string line(int y) const;
  // Every line, each ended by '\n'.
  std::string text() const;
  // The style of the cell at (x, y); the normal style outside the canvas.
  Style style_at(int x, int y) const;

 private:
  struct Cell {
    std::string glyph = " ";  // "" for the right half of a wide character
    Style style;
  };
  bool inside(int x, int y) const { return x >= 0 && y >= 0 && x < width_ && y < height_; }
  // The cell at (x, y), which must be inside().
  Cell& at(int x, int y);
  const Cell& at(int x, int y) const;

  int width_;
  int height_;
  std::vector<Cell> cells_;
};

}  // namespace vigie::console
