#pragma once
// The interactive console's state and views, in the htop manner: the UI state (which
// view, its cursor, search, family filter, sort, marks, the prompt being typed) changes
// only through keys, bound in one table (key_table.cpp); views render a World (live.hpp)
// onto a Canvas: the list views (list_views.hpp), the check view (check_view.hpp).
// No I/O here: a key that must reach the collector becomes a Request for Live::send().
//
//   line 0        header: checks by state, lost agents, connection, last update
//   line 1        the view's title: what it shows, its filter, search and sort
//   line 2        column titles
//   lines 3..h-2  the lines of the view, the selected one in reverse video
//   line h-1      footer: the prompt, a message, or key hints and the position

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "console/canvas.hpp"
#include "console/list_views.hpp"
#include "console/live.hpp"

namespace vigie::console {

// Status of the live machinery that the header and footer show.
struct LiveStatus {
  bool events_live = false;
  std::size_t pending = 0;  // requests not answered yet
};

// What the main loop does after a key.
enum class Reaction { kNone, kRedraw, kRefetch, kQuit };

enum class PromptKind {
  kNone,
  kSearch,
  kAckComment,
  kAckExpiry,
  kDowntimeDuration,
  kDowntimeComment
};

class Ui {
 public:
  // `utf8`: draw with Unicode symbols (sparklines, arrows), else ASCII only.
  explicit Ui(bool utf8);

  // Shows the view `want` at once, with no way back (the non-interactive commands).
  void show(Want want);

  // What the current view needs from the collector.
  Want want() const { return want_; }
  View view() const { return want_.view; }
  PromptKind prompt() const { return prompt_; }
  const std::string& prompt_text() const { return input_; }
  std::string_view search() const;
  const std::string& family() const;
  std::string_view sort() const;
  const std::set<std::string>& marks() const;
  std::size_t selected() const;
  bool help_shown() const { return help_; }

  // Handles one key on a canvas `height` lines high, against the `world` drawn last,
  // at local time `now_ms`. Acknowledgements and downtimes to send go to `requests`.
  Reaction on_key(int key, const World& world, int height, std::int64_t now_ms,
                  std::vector<Request>& requests);

  // A new World replaces `before`: the selection stays on its line.
  void follow(const World& before, const World& after);

  // Shows `text` in the footer for a few seconds from `now_ms`.
  void message(std::string text, bool failed, std::int64_t now_ms);

  // Draws the whole screen onto a blank `canvas`.
  void render(const World& world, const LiveStatus& live, std::int64_t now_ms, Canvas& canvas);

  // The current view's lines (cached until the World, search, filter or sort change).
  const std::vector<Item>& items(const World& world);

 private:
  struct Target {
    std::string site, agent, check;  // agent and check empty: the whole site
  };
  struct ListState {
    ListCursor cursor;
    std::string search;
    std::string family;
    std::size_t sort = 0;
    std::set<std::string> marks;
  };
  struct Cache {
    const void* data = nullptr;
    std::uint64_t generation = 0;
    Want want;
    std::string search, family;
    std::size_t sort = 0;
    bool valid = false;
    std::vector<Item> items;
  };
  friend struct Keys;

  ListState& list();
  const ListState& list() const;
  void open(Want want);
  bool back();
  std::size_t count(const World& world);
  // The check lines an acknowledgement would cover: the selected one, or (bulk) the
  // marked ones, else every line shown; OK checks are left out.
  std::vector<Target> ack_targets(const World& world, bool bulk);
  std::vector<Target> downtime_targets(const World& world);
  const CheckRow* selected_check(const World& world);
  Reaction submit_prompt(const World& world, std::int64_t now_ms, std::vector<Request>& requests);

  // One render's times and lines.
  struct Frame {
    std::int64_t local_now = 0;
    std::int64_t now = 0;                      // the collector's clock
    bool doubtful = false;                     // our data is old
    const std::vector<Item>* shown = nullptr;  // the list view's lines; null: the Check view
  };
  void draw_header(const World& world, const LiveStatus& live, const Frame& frame,
                   Canvas& canvas) const;
  void draw_title(const World& world, const Frame& frame, Canvas& canvas) const;
  std::string empty_text(const World& world) const;
  void draw_help(Canvas& canvas) const;
  std::string prompt_label() const;
  void draw_footer(const World& world, const Frame& frame, Canvas& canvas) const;

  bool utf8_;
  Want want_;
  std::vector<Want> history_;  // where Esc goes back to
  ListState lists_[6];
  ListCursor detail_;  // the Check view's scroll
  PromptKind prompt_ = PromptKind::kNone;
  std::string input_;
  std::string saved_;            // what an earlier prompt of the same action gave
  std::vector<Target> targets_;  // what the prompt's acknowledgement or downtime covers
  bool help_ = false;
  std::string message_;
  bool message_failed_ = false;
  std::int64_t message_until_ = 0;
  Cache cache_;
  int last_height_ = 24;
};

}  // namespace vigie::console
