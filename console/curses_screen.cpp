#include "console/curses_screen.hpp"

#include <langinfo.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <string>

// Before ncurses.h, whose macros (OK, ERR) would clash with names in these headers.
#include "console/language.hpp"

// The wide-character API (wget_wch) for keys beyond ASCII.
#define NCURSES_WIDECHAR 1
#include <ncurses.h>

#include "console/keys.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

enum ColorPair : short { kPairOk = 1, kPairWarning, kPairCritical, kPairUnknown };

bool no_color_requested() {
  const char* value = std::getenv("NO_COLOR");
  return value != nullptr && value[0] != '\0';
}

class CursesScreen final : public Screen {
 public:
  CursesScreen(SCREEN* screen, bool utf8) : screen_(screen), utf8_(utf8) {}
  ~CursesScreen() override {
    endwin();
    delscreen(screen_);
  }
  CursesScreen(const CursesScreen&) = delete;
  CursesScreen& operator=(const CursesScreen&) = delete;

  // Sets the terminal modes, and colours when the terminal has them and they are wanted.
  void setup(int key_timeout_ms) {
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    curs_set(0);  // fails on terminals that cannot hide the cursor: harmless
    wtimeout(stdscr, key_timeout_ms);
    set_escdelay(25);  // Esc goes back at once, not after ncurses' default second
    if (has_colors() && !no_color_requested() && start_color() == OK) {
      // The terminal's own background, or black where it cannot keep it.
      const short background = use_default_colors() == OK ? -1 : COLOR_BLACK;
      color_ = init_pair(kPairOk, COLOR_GREEN, background) == OK &&
               init_pair(kPairWarning, COLOR_YELLOW, background) == OK &&
               init_pair(kPairCritical, COLOR_RED, background) == OK &&
               init_pair(kPairUnknown, COLOR_MAGENTA, background) == OK;
    }
  }

  int width() const override { return getmaxx(stdscr); }
  int height() const override { return getmaxy(stdscr); }

  void put(int x, int y, std::string_view text, Style style) override {
    if (x < 0 || y < 0 || x >= width() || y >= height()) return;
    std::string shown(cut(text, static_cast<std::size_t>(width() - x)));
    if (!utf8_) {
      // Each non-ASCII character becomes one ASCII one ("é" -> "e", else '?'), so that
      // French stays readable and columns still line up.
      std::string ascii;
      for (const std::string_view c : characters(shown)) ascii += ascii_fold(c);
      shown = std::move(ascii);
    }
    wattrset(stdscr, static_cast<int>(attributes(style)));
    // At the bottom-right cell the cursor cannot advance and ncurses reports an error
    // although the text is drawn: nothing to handle.
    mvwaddnstr(stdscr, y, x, shown.data(), static_cast<int>(shown.size()));
    wattrset(stdscr, A_NORMAL);
  }

  bool utf8() const override { return utf8_; }
  void begin_frame() override { werase(stdscr); }
  void present() override { wrefresh(stdscr); }

  std::optional<int> read_key() override {
    wint_t c = 0;
    const int kind = wget_wch(stdscr, &c);
    if (kind == ERR) return std::nullopt;
    if (kind == OK) {
      if (c == '\n' || c == '\r') return key::kEnter;
      if (c == 8) return key::kBackspace;
      return static_cast<int>(c);
    }
    switch (static_cast<int>(c)) {
      case KEY_UP: return key::kUp;
      case KEY_DOWN: return key::kDown;
      case KEY_PPAGE: return key::kPageUp;
      case KEY_NPAGE: return key::kPageDown;
      case KEY_HOME: return key::kHome;
      case KEY_END: return key::kEnd;
      case KEY_RESIZE: return key::kResize;
      case KEY_LEFT: return key::kLeft;
      case KEY_RIGHT: return key::kRight;
      case KEY_BTAB: return key::kBackTab;
      case KEY_ENTER: return key::kEnter;
      case KEY_BACKSPACE: return key::kBackspace;
      default: break;
    }
    return std::nullopt;
  }

 private:
  attr_t attributes(Style style) const {
    attr_t a = A_NORMAL;
    switch (style.tone) {
      case Tone::kNormal: break;
      case Tone::kDim: a = A_DIM; break;
      case Tone::kBold: a = A_BOLD; break;
      case Tone::kOk: a = color_ ? COLOR_PAIR(kPairOk) : A_NORMAL; break;
      case Tone::kWarning: a = color_ ? COLOR_PAIR(kPairWarning) | A_BOLD : A_BOLD; break;
      case Tone::kCritical:
        a = color_ ? COLOR_PAIR(kPairCritical) | A_BOLD : A_BOLD | A_UNDERLINE;
        break;
      case Tone::kUnknown: a = color_ ? COLOR_PAIR(kPairUnknown) : A_UNDERLINE; break;
    }
    if (style.reverse) a |= A_REVERSE;
    return a;
  }

  SCREEN* screen_;
  bool utf8_;
  bool color_ = false;
};

}  // namespace

Result<std::unique_ptr<Screen>> open_screen(const ScreenOptions& options) {
  if (isatty(STDIN_FILENO) == 0 || isatty(STDOUT_FILENO) == 0) {
    return Status::invalid(tr("the console needs a terminal (use --once for plain text)"));
  }
  // Only the character type: ncurses needs it for UTF-8, while a numeric locale would
  // change how numbers are printed elsewhere.
  std::setlocale(LC_CTYPE, "");
  const bool utf8 = std::strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
  SCREEN* screen = newterm(nullptr, stdout, stdin);
  if (screen == nullptr) {
    const char* term = std::getenv("TERM");
    return Status::invalid(format("cannot drive the terminal \"{term}\" (check $TERM)",
                                  {{"term", std::string(term != nullptr ? term : "")}}));
  }
  auto curses = std::make_unique<CursesScreen>(screen, utf8);
  curses->setup(static_cast<int>(options.key_timeout.count()));
  return std::unique_ptr<Screen>(std::move(curses));
}

}  // namespace vigie::console
