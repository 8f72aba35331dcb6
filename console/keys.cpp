#include "console/keys.hpp"

#include <algorithm>

namespace vigie::console {
namespace {

std::ptrdiff_t page_step(const KeyContext& c) {
  return static_cast<std::ptrdiff_t>(std::max<std::size_t>(c.page, 1));
}

Action move_up(KeyContext& c) {
  c.cursor.move(-1, c.rows, c.page);
  return Action::kRedraw;
}
Action move_down(KeyContext& c) {
  c.cursor.move(1, c.rows, c.page);
  return Action::kRedraw;
}
Action page_up(KeyContext& c) {
  c.cursor.move(-page_step(c), c.rows, c.page);
  return Action::kRedraw;
}
Action page_down(KeyContext& c) {
  c.cursor.move(page_step(c), c.rows, c.page);
  return Action::kRedraw;
}
Action first(KeyContext& c) {
  c.cursor.selected = 0;
  c.cursor.clamp(c.rows, c.page);
  return Action::kRedraw;
}
Action last(KeyContext& c) {
  c.cursor.selected = c.rows == 0 ? 0 : c.rows - 1;
  c.cursor.clamp(c.rows, c.page);
  return Action::kRedraw;
}
Action redraw(KeyContext&) { return Action::kRedraw; }
Action refetch(KeyContext&) { return Action::kRefetch; }
Action quit(KeyContext&) { return Action::kQuit; }

constexpr KeyBinding kBindings[] = {
    {key::kUp, move_up},
    {'k', move_up},
    {key::kDown, move_down},
    {'j', move_down},
    {key::kPageUp, page_up},
    {key::kPageDown, page_down},
    {key::kHome, first},
    {key::kEnd, last},
    {'r', refetch},
    {key::kResize, redraw},
    {'q', quit},
};

}  // namespace

std::span<const KeyBinding> key_bindings() { return kBindings; }

Action handle_key(int key, KeyContext& context) {
  for (const KeyBinding& binding : kBindings) {
    if (binding.key == key) return binding.handler(context);
  }
  return Action::kNone;
}

}  // namespace vigie::console
