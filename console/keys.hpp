#pragma once
// The console's key bindings: one table that maps a key to a handler, and handlers
// that change the UI state and return what the main loop should do next.

#include <cstddef>
#include <span>

#include "console/list_view.hpp"

namespace vigie::console {

// Keys as Screen::read_key() reports them: a character is its code, the special keys
// below lie past the end of Unicode so that they never collide with one.
namespace key {
inline constexpr int kUp = 0x110000;
inline constexpr int kDown = kUp + 1;
inline constexpr int kPageUp = kUp + 2;
inline constexpr int kPageDown = kUp + 3;
inline constexpr int kHome = kUp + 4;
inline constexpr int kEnd = kUp + 5;
inline constexpr int kResize = kUp + 6;  // the terminal changed size
}  // namespace key

enum class Action {
  kNone,     // nothing changed
  kRedraw,   // the UI state changed: draw again
  kRefetch,  // ask the collector now rather than at the next refresh
  kQuit,
};

// What a handler may act on. UI thread only.
struct KeyContext {
  ListCursor& cursor;
  std::size_t rows;  // rows in the list
  std::size_t page;  // rows visible at once
};

struct KeyBinding {
  int key;
  Action (*handler)(KeyContext& context);
};

// Every binding; a key is bound at most once.
std::span<const KeyBinding> key_bindings();

// Runs the handler bound to `key`; kNone for a key that is not bound.
Action handle_key(int key, KeyContext& context);

}  // namespace vigie::console
