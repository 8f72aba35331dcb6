#pragma once
// The interactive console's state and views, in the htop manner: the UI state (which
// view, its cursor, search, family filter, sort, marks, the prompt being typed) changes
// only through keys, bound in one table; views render a World (live.hpp) onto a Canvas.
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
#include "console/live.hpp"

namespace vigie::console {

// Which line is selected and which one is at the top of the visible window.
struct ListCursor {
  std::size_t selected = 0;
  std::size_t top = 0;

  // Brings the cursor back into a list of `count` lines shown `page` at a time.
  void clamp(std::size_t count, std::size_t page);
  // Moves the selection by `delta` lines (negative: up), stopping at either end.
  void move(std::ptrdiff_t delta, std::size_t count, std::size_t page);
};

// Lines of a canvas `height` high that show the view's lines (0 when too small).
std::size_t list_page(int height);

// One line of a list view, pointing into the World it was built from.
struct Item {
  const CheckRow* check = nullptr;  // Problems, Site, Backups
  const SiteRow* site = nullptr;    // Sites
  const AgentRow* agent = nullptr;  // Agents
  std::string key;                  // stable identity: marks and selection follow it
  int severity = 0;                 // larger is worse
  std::int64_t time_ms = 0;         // what "age" sorts by, oldest first
  std::string_view site_name;
  std::string_view name;
  std::string_view family;
};

// The sort orders a view offers, the first being its default.
std::span<const std::string_view> sort_modes(View view);

// True when `item` matches the search `needle` (case-insensitive, in site, name, check
// id, agent, summary, host) and the `family` filter ("" for all).
bool item_matches(const Item& item, std::string_view needle, std::string_view family);

// The lines of `view` in `world` (site/check views: the Want's), filtered and sorted.
std::vector<Item> build_items(const World& world, const Want& want, std::string_view search,
                              std::string_view family, std::string_view sort);

// Status of the live machinery that the header and footer show.
struct LiveStatus {
  bool events_live = false;
  std::size_t pending = 0;  // requests not answered yet
};

enum class Outcome { kNone, kRedraw, kRefetch, kQuit };

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
  Outcome on_key(int key, const World& world, int height, std::int64_t now_ms,
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
  Outcome submit_prompt(const World& world, std::int64_t now_ms, std::vector<Request>& requests);
  void render_detail(const World& world, std::int64_t now_ms, Canvas& canvas);
  std::vector<std::pair<std::string, Tone>> detail_lines(const World& world, std::int64_t now_ms,
                                                         int width);

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
