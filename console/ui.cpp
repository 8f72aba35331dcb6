#include "console/ui.hpp"

#include <algorithm>
#include <chrono>

#include "console/check_view.hpp"
#include "console/key_table.hpp"
#include "console/keys.hpp"
#include "console/language.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr std::int64_t kMessageMs = 6000;
// Data older than this (the collector cannot be reached) is drawn as doubtful.
constexpr std::int64_t kOldDataMs = 30'000;

// TRANSLATORS: the footer's key hints, two spaces apart: the footer cuts them at a
// double space, so that no hint is shown half.
std::string hints_for(View view) {
  switch (view) {
    case View::kProblems:
    case View::kBackups:
      return tr(
          "? help  q quit  Enter open  Tab view  / search  f family  s sort  a ack  "
          "d downtime  Space mark  A ack marked");
    case View::kSite:
      return tr(
          "? help  Esc back  Enter open  / search  f family  a ack  d downtime  "
          "Space mark  A ack marked");
    case View::kSites:
      return tr("? help  q quit  Enter open  Tab view  / search  f family  s sort  d downtime");
    case View::kAgents: return tr("? help  q quit  Enter site  Tab view  / search  s sort");
    case View::kCheck: return tr("? help  Esc back  Up/Down scroll  a ack  d downtime  r refresh");
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
  std::string connection;
  Tone connection_tone = Tone::kOk;
  if (world.fetched_at_ms == 0 && world.error.is_ok()) {
    connection = tr("connecting...");
    connection_tone = Tone::kDim;
  } else if (!world.error.is_ok()) {
    const std::int64_t since =
        world.failing_since_ms != 0 ? world.failing_since_ms : frame.local_now;
    const std::string age = short_age(std::chrono::milliseconds(frame.local_now - since));
    connection = world.error.code() == Code::kUnauthenticated
                     ? format("TOKEN REFUSED {age}, retrying", {{"age", age}})
                     : format("CONNECTION LOST {age}, retrying", {{"age", age}});
    connection_tone = Tone::kCritical;
  } else {
    connection = format(live.events_live ? N_("live {time}") : N_("polling {time}"),
                        {{"time", clock_text(world.fetched_at_ms)}});
    if (live.pending > 0) {
      connection = format("sending {n}", {{"n", std::to_string(live.pending)}}) + "  " + connection;
    }
    connection_tone = live.events_live ? Tone::kOk : Tone::kWarning;
  }

  // The counts, in words when the line has room for them and the connection, else in
  // their short forms.
  struct Part {
    std::string text;
    Tone tone;
  };
  const auto parts = [&](bool brief) {
    std::vector<Part> out;
    if (!world.overview) {
      out.push_back({"vigie", Tone::kBold});
      return out;
    }
    const Overview& o = *world.overview;
    static constexpr State kCounts[] = {State::kCritical, State::kWarning, State::kUnknown,
                                        State::kOk};
    for (const State state : kCounts) {
      const int n = o.checks[static_cast<std::size_t>(state)];
      Tone tone = n > 0 ? state_tone(state) : Tone::kDim;
      if (frame.doubtful) tone = Tone::kDim;
      const std::string label = state == State::kOk ? state_label(state) : short_state_label(state);
      out.push_back({label + " " + std::to_string(n), tone});
    }
    const std::string lost = std::to_string(o.agents_lost);
    // TRANSLATORS: the short forms are for a narrow terminal.
    out.push_back(
        {brief ? format("lost {n}", {{"n", lost}}) : format("lost agents {n}", {{"n", lost}}),
         o.agents_lost > 0 && !frame.doubtful ? Tone::kCritical : Tone::kDim});
    if (o.sites_unreachable > 0) {
      const std::string n = std::to_string(o.sites_unreachable);
      out.push_back(
          {brief ? format("unreach. {n}", {{"n", n}}) : format("unreachable sites {n}", {{"n", n}}),
           frame.doubtful ? Tone::kDim : Tone::kCritical});
    }
    return out;
  };
  const auto width_of = [](const std::vector<Part>& line) {
    int total = 0;
    for (const Part& p : line) total += static_cast<int>(columns(p.text)) + 2;
    return total;
  };
  std::vector<Part> line = parts(false);
  if (width_of(line) + static_cast<int>(columns(connection)) > canvas.width()) line = parts(true);
  int x = 0;
  for (const Part& p : line) {
    canvas.put(x, 0, p.text, {p.tone});
    x += static_cast<int>(columns(p.text)) + 2;
  }
  const int cx = std::max(x, canvas.width() - static_cast<int>(columns(connection)));
  canvas.put(cx, 0, connection, {connection_tone, connection_tone == Tone::kCritical});
}

// Line 1: what the view shows, its filter, search, sort and marks; how old our data is.
void Ui::draw_title(const World& world, const Frame& frame, Canvas& canvas) const {
  int x = 0;
  // Its parts are two spaces apart: on a narrow line, whole parts only, none cut halfway.
  const auto put = [&](std::string_view text, Tone tone) {
    const int room = canvas.width() - x;
    if (room <= 0) return;
    std::string_view shown = text;
    if (static_cast<int>(columns(text)) > room) {
      shown = cut(text, static_cast<std::size_t>(room));
      if (const std::size_t gap = shown.rfind("  "); gap != std::string_view::npos) {
        shown = shown.substr(0, gap);
      }
    }
    canvas.put(x, 1, shown, {tone});
    x += static_cast<int>(columns(text));
  };
  std::string title = view_label(want_.view);
  if (want_.view == View::kSite) {
    title += " " + sanitize(want_.site);
    if (world.site && world.site->site.name == want_.site) {
      const SiteRow& s = world.site->site;
      title += "  " + (s.unreachable ? tr("UNREACHABLE") : state_label(s.worst));
      // What the centre sees of an unreachable site: its line, or only its agents.
      if (s.unreachable && s.line == "down") title += " " + tr("(line down)");
      if (s.unreachable && s.line == "answers") title += " " + tr("(agent silent, site answers)");
      title +=
          "  " + format("{up}/{all} agents up", {{"up", std::to_string(s.agents - s.agents_lost)},
                                                 {"all", std::to_string(s.agents)}});
      // TRANSLATORS: the site's checks that central pollers report.
      if (s.central > 0) {
        title += "  " + formatn("{n} central", "{n} central", s.central,
                                {{"n", std::to_string(s.central)}});
      }
      title +=
          "  " +
          format("last report {age} ago",
                 {{"age", short_age(std::chrono::milliseconds(frame.now - s.last_report_ms))}});
      for (const SiteDowntime& d : world.site->downtimes) {
        if (d.active)
          title += "  " + format("downtime until {time}", {{"time", clock_text(d.end_ms)}});
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
    if (!list().family.empty()) extras += "  " + format("family {name}", {{"name", list().family}});
    const std::string search = prompt_ == PromptKind::kSearch ? input_ : list().search;
    if (!search.empty()) extras += "  " + format("search \"{text}\"", {{"text", sanitize(search)}});
    extras += "  " + format("sort {order}", {{"order", sort_label(sort())}});
    if (!list().marks.empty()) {
      extras += "  " + format("{n} marked", {{"n", std::to_string(list().marks.size())}});
    }
    put(extras, Tone::kDim);
  }
  if (frame.doubtful && world.fetched_at_ms != 0) {
    x += 2;
    put(format(
            "data {age} old",
            {{"age", short_age(std::chrono::milliseconds(frame.local_now - world.fetched_at_ms))}}),
        Tone::kCritical);
  }
}

// What an empty list says: why it is empty.
std::string Ui::empty_text(const World& world) const {
  if (!list().search.empty() || !list().family.empty()) return tr("nothing matches");
  if (world.fetched_at_ms == 0 || !(world.fetched == want_)) {
    return world.error.is_ok() ? tr("loading...") : tr("no data yet");
  }
  if (want_.view == View::kProblems && world.problems) return tr("no problem: every check is OK");
  return tr("nothing to show");
}

// The keys, over the view.
void Ui::draw_help(Canvas& canvas) const {
  const int width = canvas.width();
  int y = 2;
  canvas.put(0, y, pad(tr("Keys"), static_cast<std::size_t>(width)), {Tone::kBold, true});
  for (const KeyHelp& k : key_help()) {
    if (++y >= canvas.height() - 1) break;
    canvas.put(0, y, pad("  " + pad(tr(k.keys), 10) + tr(k.help), static_cast<std::size_t>(width)),
               {Tone::kNormal, true});
  }
}

// What the prompt being typed asks.
std::string Ui::prompt_label() const {
  const std::string n = std::to_string(targets_.size());
  switch (prompt_) {
    case PromptKind::kSearch: return "/";
    case PromptKind::kAckComment:
      return targets_.size() == 1 ? format("Acknowledge {check}. Comment (required): ",
                                           {{"check", targets_[0].agent + "/" + targets_[0].check}})
                                  : formatn("Acknowledge {n} check. Comment (required): ",
                                            "Acknowledge {n} checks. Comment (required): ",
                                            static_cast<long long>(targets_.size()), {{"n", n}});
    case PromptKind::kAckExpiry: return tr("Expires after (e.g. 4h, Enter: never): ");
    case PromptKind::kDowntimeDuration:
      if (targets_.empty()) return tr("Downtime. Duration (e.g. 2h): ");
      return targets_[0].check.empty()
                 ? format("Downtime for {site} (whole site). Duration (e.g. 2h): ",
                          {{"site", targets_[0].site}})
                 : format("Downtime for {site} {check}. Duration (e.g. 2h): ",
                          {{"site", targets_[0].site}, {"check", targets_[0].check}});
    case PromptKind::kDowntimeComment: return tr("Downtime comment (required): ");
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
    canvas.put(0, y, format("error: {message}", {{"message", sanitize(world.error.message())}}),
               {Tone::kCritical});
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
