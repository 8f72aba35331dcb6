#pragma once
// The terminal, drawn through ncurses. curses_screen.cpp is the only file of vigie that
// includes <ncurses.h> (its macros, OK, ERR, timeout..., would clash with our names).

#include <chrono>
#include <memory>
#include <optional>

#include "common/status.hpp"
#include "console/canvas.hpp"

namespace vigie::console {

struct ScreenOptions {
  // How long read_key() waits for a key: short, so that the UI keeps showing fresh
  // snapshots while nobody types.
  std::chrono::milliseconds key_timeout{100};
};

// A Canvas on the whole terminal, with colours when the terminal has them and NO_COLOR
// is not set (https://no-color.org), bold, underline and dim otherwise. At most one
// Screen exists at a time; only the thread that opened it may use it.
class Screen : public Canvas {
 public:
  // Starts a frame: blanks the screen (in memory) and takes on a new terminal size.
  virtual void begin_frame() = 0;
  // Shows on the terminal what was drawn since begin_frame().
  virtual void present() = 0;
  // True when the terminal's character set is UTF-8; else views draw ASCII only.
  virtual bool utf8() const = 0;
  // Waits up to the key timeout for a key: a character, or one of key::k* (keys.hpp);
  // nullopt when none came or the key has no meaning to the console.
  virtual std::optional<int> read_key() = 0;
};

// Takes over the terminal, which the Screen gives back (as it found it) when destroyed.
// Fails when standard input or output is not a terminal, or $TERM is unknown.
Result<std::unique_ptr<Screen>> open_screen(const ScreenOptions& options);

}  // namespace vigie::console
