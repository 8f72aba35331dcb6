#include "console/ui.hpp"

#include <algorithm>
#include <chrono>

#include "common/human_text.hpp"
#include "console/check_view.hpp"
#include "console/key_table.hpp"
#include "console/keys.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr std::int64_t kMessageMs = 6000;
// Data older than this (the collector cannot be reached) is drawn as doubtful.
constexpr std::int64_t kOldDataMs = 30'000;

std::string hints_for(View view) {
  switch (view) {
    case View::kProblems:
    case View::kBackups:
      return "? help  q quit  Enter open  Tab view  / search  f family  s sort  a ack  "
             "d downtime  Space mark  A ack marked";
    case View::kSite:
      return "? help  Esc back  Enter open  / search  f family  a ack  d downtime  "
             "Space mark  A ack marked";
    case View::kSites:
      return "? help  q quit  Enter open  Tab view  / search  f family  s sort  d downtime";
    case View::kAgents: return "? help  q quit  Enter site  Tab view  / search  s sort";
    case View::kCheck: return "? help  Esc back  Up/Down scroll  a ack  d downtime  r refresh";
  }
  return "";
}

}  // namespace

Ui::Ui(bool utf8) : utf8_(utf8) {}

Ui::ListState& Ui::list() { return lists_[static_cast<int>(want_.view)]; }
const Ui::ListState& Ui::list() const { return lists_[static_cast<int>(want_.view)]; }

std::string_view Ui::search() const { return list().search; }
const std::string& Ui::family() const { return list().family; }
std::string_view Ui::sort() const { return sort_modes(want_.view)[list().sort]; }
const std::set<std::string>& Ui::marks() const { return list().marks; }
std::size_t Ui::selected() const { return list().cursor.selected; }

void Ui::show(Want want) {
  history_.clear();
  want_ = std::move(want);
}

void Ui::open(Want want) {
  history_.push_back(want_);
  want_ = std::move(want);
  if (want_.view == View::kSite) {
    list() = {};
  }
  detail_ = {};
}

bool Ui::back() {
  if (history_.empty()) return false;
  want_ = history_.back();
  history_.pop_back();
  return true;
}

const std::vector<Item>& Ui::items(const World& world) {
  const void* data = nullptr;
  switch (want_.view) {
    case View::kProblems: data = world.problems.get(); break;
    case View::kSites: data = world.sites.get(); break;
    case View::kAgents: data = world.agents.get(); break;
    case View::kBackups: data = world.backups.get(); break;
    case View::kSite: data = world.site.get(); break;
    case View::kCheck: data = world.check.get(); break;
  }
  const ListState& l = list();
  const std::string search = prompt_ == PromptKind::kSearch ? input_ : l.search;
  const bool same_lines = cache_.valid && cache_.data == data &&
                          cache_.generation == world.generation && cache_.want == want_ &&
                          cache_.family == l.family && cache_.sort == l.sort;
  if (same_lines && search.size() > cache_.search.size() && search.starts_with(cache_.search)) {
    // The search only grew: narrow the lines already found rather than scan them all.
    const std::string folded = lower(search);
    std::erase_if(cache_.items,
                  [&](const Item& item) { return !item_matches_folded(item, folded, l.family); });
    cache_.search = search;
    return cache_.items;
  }
  if (!cache_.valid || cache_.data != data || cache_.generation != world.generation ||
      !(cache_.want == want_) || cache_.search != search || cache_.family != l.family ||
      cache_.sort != l.sort) {
    cache_.items = build_items(world, want_, search, l.family, sort_modes(want_.view)[l.sort]);
    cache_.data = data;
    cache_.generation = world.generation;
    cache_.want = want_;
    cache_.search = search;
    cache_.family = l.family;
    cache_.sort = l.sort;
    cache_.valid = true;
  }
  return cache_.items;
}

std::size_t Ui::count(const World& world) { return items(world).size(); }

void Ui::message(std::string text, bool failed, std::int64_t now_ms) {
  message_ = sanitize(text);
  message_failed_ = failed;
  message_until_ = now_ms + kMessageMs;
}

void Ui::follow(const World& before, const World& after) {
  if (want_.view == View::kCheck) return;
  const auto& old_items = items(before);
  const std::size_t at = list().cursor.selected;
  if (at >= old_items.size()) return;
  const std::string key = old_items[at].key;
  const auto& new_items = items(after);
  for (std::size_t i = 0; i < new_items.size(); ++i) {
    if (new_items[i].key == key) {
      // Keep the line where it was on the screen when possible: no jump.
      ListCursor& cursor = list().cursor;
      const std::size_t offset = at >= cursor.top ? at - cursor.top : 0;
      cursor.selected = i;
      cursor.top = i >= offset ? i - offset : 0;
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Drawing, by phase: header, title, the view, the help over it, the footer.

void Ui::render(const World& world, const LiveStatus& live, std::int64_t local_now,
                Canvas& canvas) {
  last_height_ = canvas.height();
  if (canvas.width() <= 0 || canvas.height() <= 0) return;
  Frame frame;
  frame.local_now = local_now;
  frame.now = world.collector_time(local_now);
  frame.doubtful = world.fetched_at_ms == 0 ||
                   (!world.error.is_ok() && local_now - world.fetched_at_ms > kOldDataMs);
  if (want_.view != View::kCheck) frame.shown = &items(world);
  draw_header(world, live, frame, canvas);
  draw_title(world, frame, canvas);
  if (want_.view == View::kCheck) {
    draw_check_view(canvas, world, want_, frame.now, utf8_, detail_);
  } else {
    draw_list(canvas,
              {.view = want_.view,
               .now_ms = frame.now,
               .doubtful = frame.doubtful,
               .utf8 = utf8_,
               .marks = &list().marks},
              *frame.shown, list().cursor, empty_text(world));
  }
  if (help_) draw_help(canvas);
  draw_footer(world, frame, canvas);
}

// Line 0: the counts by state, lost agents, unreachable sites; the connection at right.
void Ui::draw_header(const World& world, const LiveStatus& live, const Frame& frame,
                     Canvas& canvas) const {
  int x = 0;
  const auto put = [&](std::string_view text, Tone tone) {
    canvas.put(x, 0, text, {tone});
    x += static_cast<int>(columns(text));
  };
  if (world.overview) {
    const Overview& o = *world.overview;
    struct Count {
      std::string_view label;
      State state;
    };
    static constexpr Count kCounts[] = {{"CRIT", State::kCritical},
                                        {"WARN", State::kWarning},
                                        {"UNKN", State::kUnknown},
                                        {"OK", State::kOk}};
    for (const Count& c : kCounts) {
      const int n = o.checks[static_cast<std::size_t>(c.state)];
      Tone tone = n > 0 ? state_tone(c.state) : Tone::kDim;
      if (frame.doubtful) tone = Tone::kDim;
      put(std::string(c.label) + " " + std::to_string(n), tone);
      x += 2;
    }
    put("lost agents " + std::to_string(o.agents_lost),
        o.agents_lost > 0 && !frame.doubtful ? Tone::kCritical : Tone::kDim);
    x += 2;
    if (o.sites_unreachable > 0) {
      put("unreachable sites " + std::to_string(o.sites_unreachable),
          frame.doubtful ? Tone::kDim : Tone::kCritical);
    }
  } else {
    put("vigie", Tone::kBold);
  }
  std::string connection;
  Tone connection_tone = Tone::kOk;
  if (world.fetched_at_ms == 0 && world.error.is_ok()) {
    connection = "connecting...";
    connection_tone = Tone::kDim;
  } else if (!world.error.is_ok()) {
    const std::int64_t since =
        world.failing_since_ms != 0 ? world.failing_since_ms : frame.local_now;
    connection =
        (world.error.code() == Code::kUnauthenticated ? "TOKEN REFUSED " : "CONNECTION LOST ") +
        short_age_text(std::chrono::milliseconds(frame.local_now - since)) + ", retrying";
    connection_tone = Tone::kCritical;
  } else {
    connection =
        std::string(live.events_live ? "live" : "polling") + " " + clock_text(world.fetched_at_ms);
    if (live.pending > 0)
      connection = "sending " + std::to_string(live.pending) + "  " + connection;
    connection_tone = live.events_live ? Tone::kOk : Tone::kWarning;
  }
  const int cx = std::max(x + 2, canvas.width() - static_cast<int>(columns(connection)));
  canvas.put(cx, 0, connection, {connection_tone, connection_tone == Tone::kCritical});
}

// Line 1: what the view shows, its filter, search, sort and marks; how old our data is.
void Ui::draw_title(const World& world, const Frame& frame, Canvas& canvas) const {
  int x = 0;
  const auto put = [&](std::string_view text, Tone tone) {
    canvas.put(x, 1, text, {tone});
    x += static_cast<int>(columns(text));
  };
  std::string title(view_name(want_.view));
  if (want_.view == View::kSite) {
    title += " " + sanitize(want_.site);
    if (world.site && world.site->site.name == want_.site) {
      const SiteRow& s = world.site->site;
      title += "  " + std::string(s.unreachable ? "UNREACHABLE" : state_name(s.worst));
      // What the centre sees of an unreachable site: its line, or only its agents.
      if (s.unreachable && s.line == "down") title += " (line down)";
      if (s.unreachable && s.line == "answers") title += " (agent silent, site answers)";
      title += "  " + std::to_string(s.agents - s.agents_lost) + "/" + std::to_string(s.agents) +
               " agents up";
      if (s.central > 0) title += "  " + std::to_string(s.central) + " central";
      title += "  last report " +
               short_age_text(std::chrono::milliseconds(frame.now - s.last_report_ms)) + " ago";
      for (const SiteDowntime& d : world.site->downtimes) {
        if (d.active) title += "  downtime until " + clock_text(d.end_ms);
      }
    }
  } else if (want_.view == View::kCheck) {
    title += " " + sanitize(want_.agent + "/" + want_.check);
  } else {
    title += " " + std::to_string(frame.shown->size());
  }
  put(title, Tone::kBold);
  if (want_.view != View::kCheck) {
    std::string extras;
    if (!list().family.empty()) extras += "  family " + list().family;
    const std::string search = prompt_ == PromptKind::kSearch ? input_ : list().search;
    if (!search.empty()) extras += "  search \"" + sanitize(search) + "\"";
    extras += "  sort " + std::string(sort());
    if (!list().marks.empty()) extras += "  " + std::to_string(list().marks.size()) + " marked";
    put(extras, Tone::kDim);
  }
  if (frame.doubtful && world.fetched_at_ms != 0) {
    x += 2;
    put("data " + short_age_text(std::chrono::milliseconds(frame.local_now - world.fetched_at_ms)) +
            " old",
        Tone::kCritical);
  }
}

// What an empty list says: why it is empty.
std::string Ui::empty_text(const World& world) const {
  if (!list().search.empty() || !list().family.empty()) return "nothing matches";
  if (world.fetched_at_ms == 0 || !(world.fetched == want_)) {
    return world.error.is_ok() ? "loading..." : "no data yet";
  }
  if (want_.view == View::kProblems && world.problems) return "no problem: every check is OK";
  return "nothing to show";
}

// The keys, over the view.
void Ui::draw_help(Canvas& canvas) const {
  const int width = canvas.width();
  int y = 2;
  canvas.put(0, y, pad("Keys", static_cast<std::size_t>(width)), {Tone::kBold, true});
  for (const KeyHelp& k : key_help()) {
    if (++y >= canvas.height() - 1) break;
    canvas.put(0, y,
               pad("  " + pad(k.keys, 10) + std::string(k.help), static_cast<std::size_t>(width)),
               {Tone::kNormal, true});
  }
}

// What the prompt being typed asks.
std::string Ui::prompt_label() const {
  const std::string n = std::to_string(targets_.size());
  switch (prompt_) {
    case PromptKind::kSearch: return "/";
    case PromptKind::kAckComment:
      return "Acknowledge " +
             (targets_.size() == 1 ? targets_[0].agent + "/" + targets_[0].check : n + " checks") +
             ". Comment (required): ";
    case PromptKind::kAckExpiry: return "Expires after (e.g. 4h, Enter: never): ";
    case PromptKind::kDowntimeDuration:
      return "Downtime for " +
             (targets_.empty()
                  ? std::string()
                  : targets_[0].site + (targets_[0].check.empty() ? std::string(" (whole site)")
                                                                  : " " + targets_[0].check)) +
             ". Duration (e.g. 2h): ";
    case PromptKind::kDowntimeComment: return "Downtime comment (required): ";
    case PromptKind::kNone: break;
  }
  return {};
}

// Line h-1: the prompt, else a message, else the error, else the keys and the position.
void Ui::draw_footer(const World& world, const Frame& frame, Canvas& canvas) const {
  const int width = canvas.width();
  const int y = canvas.height() - 1;
  if (y <= 1) return;
  if (prompt_ != PromptKind::kNone) {
    std::string line = prompt_label() + sanitize(input_) + "_";
    // Keep the end of what is typed in sight.
    while (static_cast<int>(columns(line)) > width && !line.empty()) {
      line.erase(0, characters(line).front().size());
    }
    canvas.put(0, y, line, {Tone::kBold});
    if (frame.local_now < message_until_ && message_failed_ && y > 3) {
      canvas.put(0, y - 1, pad(message_, static_cast<std::size_t>(width)), {Tone::kCritical, true});
    }
    return;
  }
  if (frame.local_now < message_until_) {
    canvas.put(0, y, message_, {message_failed_ ? Tone::kCritical : Tone::kBold});
    return;
  }
  if (!world.error.is_ok()) {
    canvas.put(0, y, "error: " + sanitize(world.error.message()), {Tone::kCritical});
    return;
  }
  std::string position;
  if (frame.shown != nullptr && !frame.shown->empty()) {
    position =
        std::to_string(list().cursor.selected + 1) + "/" + std::to_string(frame.shown->size());
  }
  const int room = width - static_cast<int>(columns(position)) - 2;
  std::string hints = hints_for(want_.view);
  if (static_cast<int>(columns(hints)) > room) {
    // Cut at a double space so that no hint is shown half.
    std::string_view fitted = cut(hints, static_cast<std::size_t>(std::max(room, 0)));
    const std::size_t gap = fitted.rfind("  ");
    hints = std::string(fitted.substr(0, gap == std::string_view::npos ? fitted.size() : gap));
  }
  canvas.put(0, y, hints, {Tone::kDim});
  if (!position.empty())
    canvas.put(width - static_cast<int>(columns(position)), y, position, {Tone::kDim});
}

}  // namespace vigie::console
