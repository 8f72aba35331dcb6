#include "console/memory_canvas.hpp"

#include <algorithm>

#include "console/text.hpp"

namespace vigie::console {

MemoryCanvas::MemoryCanvas(int width, int height)
    : width_(std::max(width, 0)),
      height_(std::max(height, 0)),
      cells_(static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_)) {}

MemoryCanvas::Cell& MemoryCanvas::at(int x, int y) {
  return cells_[static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                static_cast<std::size_t>(x)];
}

const MemoryCanvas::Cell& MemoryCanvas::at(int x, int y) const {
  return cells_[static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                static_cast<std::size_t>(x)];
}

void MemoryCanvas::put(int x, int y, std::string_view text, Style style) {
  if (y < 0 || y >= height_) return;
  Cell* previous = nullptr;
  for (const std::string_view character : characters(text)) {
    const int w = static_cast<int>(columns(character));
    if (w == 0) {  // a combining mark joins the character before it
      if (previous != nullptr) previous->glyph += character;
      continue;
    }
    if (x + w > width_) return;
    if (x >= 0) {
      previous = &at(x, y);
      *previous = {std::string(character), style};
      if (w == 2) at(x + 1, y) = {"", style};
    }
    x += w;
  }
}

std::string MemoryCanvas::line(int y) const {
  if (y < 0 || y >= height_) return "";
  std::string out;
  for (int x = 0; x < width_; ++x) out += at(x, y).glyph;
  out.erase(out.find_last_not_of(' ') + 1);
  return out;
}

std::string MemoryCanvas::text() const {
  std::string out;
  for (int y = 0; y < height_; ++y) out += line(y) + "\n";
  return out;
}

Style MemoryCanvas::style_at(int x, int y) const { return inside(x, y) ? at(x, y).style : Style{}; }

}  // namespace vigie::console
