#include "console/key_table.hpp"

#include <algorithm>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "common/duration.hpp"
#include "console/api_client.hpp"
#include "console/keys.hpp"
#include "console/language.hpp"
#include "console/text.hpp"
#include "console/ui.hpp"

namespace vigie::console {
namespace {

constexpr std::size_t kMaxInput = 1000;  // bytes of a prompt's text

Request request(ApiCall call, std::string what) {
  return {std::move(call.method), std::move(call.path), std::move(call.body), std::move(what)};
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Keys: one table. A handler changes the Ui and says what the main loop does next.

struct KeyContext {
  const World& world;
  std::size_t page;
  std::int64_t now_ms;
  std::vector<Request>& requests;
};

struct Keys {
  using Handler = Reaction (*)(Ui&, KeyContext&);
  struct Binding {
    int key;
    std::string_view label;  // as the help shows it, translated there (keys' letters are not);
                             // empty: listed with the one before
    std::string_view help;
    Handler handler;
  };

  static Reaction move(Ui& ui, KeyContext& c, std::ptrdiff_t delta) {
    if (ui.want_.view == View::kCheck) {
      ui.detail_.top = delta < 0 ? (static_cast<std::size_t>(-delta) > ui.detail_.top
                                        ? 0
                                        : ui.detail_.top - static_cast<std::size_t>(-delta))
                                 : ui.detail_.top + static_cast<std::size_t>(delta);
      return Reaction::kRedraw;
    }
    ui.list().cursor.move(delta, ui.count(c.world), c.page);
    return Reaction::kRedraw;
  }
  static Reaction up(Ui& ui, KeyContext& c) { return move(ui, c, -1); }
  static Reaction down(Ui& ui, KeyContext& c) { return move(ui, c, 1); }
  static Reaction page_up(Ui& ui, KeyContext& c) {
    return move(ui, c, -static_cast<std::ptrdiff_t>(std::max<std::size_t>(c.page, 1)));
  }
  static Reaction page_down(Ui& ui, KeyContext& c) {
    return move(ui, c, static_cast<std::ptrdiff_t>(std::max<std::size_t>(c.page, 1)));
  }
  static Reaction home(Ui& ui, KeyContext& c) {
    if (ui.want_.view == View::kCheck) {
      ui.detail_.top = 0;
    } else {
      ui.list().cursor.selected = 0;
      ui.list().cursor.clamp(ui.count(c.world), c.page);
    }
    return Reaction::kRedraw;
  }
  static Reaction end(Ui& ui, KeyContext& c) {
    if (ui.want_.view == View::kCheck) return move(ui, c, 1 << 20);
    const std::size_t n = ui.count(c.world);
    ui.list().cursor.selected = n == 0 ? 0 : n - 1;
    ui.list().cursor.clamp(n, c.page);
    return Reaction::kRedraw;
  }
  static Reaction enter(Ui& ui, KeyContext& c) {
    const std::vector<Item>& items = ui.items(c.world);
    if (ui.want_.view == View::kCheck) return Reaction::kNone;
    const std::size_t at = ui.list().cursor.selected;
    if (at >= items.size()) return Reaction::kNone;
    const Item& item = items[at];
    if (item.check != nullptr) {
      ui.open(
          {.view = View::kCheck, .agent = item.check->agent, .check = item.check->result.check});
    } else if (item.site != nullptr) {
      ui.open({.view = View::kSite, .site = item.site->name});
    } else if (item.agent != nullptr) {
      ui.open({.view = View::kSite, .site = item.agent->site});
    }
    return Reaction::kRefetch;
  }
  static Reaction back(Ui& ui, KeyContext&) {
    if (!ui.list().search.empty() && ui.want_.view != View::kCheck) {
      ui.list().search.clear();
      return Reaction::kRedraw;
    }
    return ui.back() ? Reaction::kRefetch : Reaction::kNone;
  }
  static Reaction cycle(Ui& ui, int step) {
    static constexpr View kCycle[] = {View::kProblems, View::kSites, View::kAgents, View::kBackups};
    std::size_t at = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      if (kCycle[i] == ui.want_.view) at = i;
    }
    if (ui.want_.view == View::kSite || ui.want_.view == View::kCheck) {
      at = step > 0 ? 3 : 1;  // from a drill-down, Tab goes to the first top view
      if (!ui.history_.empty()) {
        for (std::size_t i = 0; i < 4; ++i) {
          if (kCycle[i] == ui.history_.front().view) at = i;
        }
      }
    }
    const std::size_t next = (at + 4 + static_cast<std::size_t>(step > 0 ? 1 : 3)) % 4;
    ui.history_.clear();
    ui.want_ = {.view = kCycle[next]};
    return Reaction::kRefetch;
  }
  static Reaction next_view(Ui& ui, KeyContext&) { return cycle(ui, 1); }
  static Reaction previous_view(Ui& ui, KeyContext&) { return cycle(ui, -1); }
  static Reaction search(Ui& ui, KeyContext&) {
    if (ui.want_.view == View::kCheck) return Reaction::kNone;
    ui.prompt_ = PromptKind::kSearch;
    ui.input_ = ui.list().search;
    return Reaction::kRedraw;
  }
  static Reaction family(Ui& ui, KeyContext& c) {
    if (ui.want_.view == View::kCheck || ui.want_.view == View::kAgents) return Reaction::kNone;
    // The families present in the view's data, then "all".
    std::set<std::string> present;
    const std::string kept = std::exchange(ui.list().family, "");
    ui.cache_.valid = false;
    for (const Item& item : build_items(c.world, ui.want_, "", "", "-")) {
      if (item.check != nullptr) present.insert(item.check->family);
      if (item.site != nullptr) {
        for (const auto& [name, state] : item.site->families) present.insert(name);
      }
    }
    auto it = present.upper_bound(kept);
    ui.list().family =
        kept.empty() ? (present.empty() ? "" : *present.begin()) : (it == present.end() ? "" : *it);
    ui.list().cursor = {};
    return Reaction::kRedraw;
  }
  static Reaction sort(Ui& ui, KeyContext&) {
    const auto modes = sort_modes(ui.want_.view);
    ui.list().sort = (ui.list().sort + 1) % modes.size();
    return Reaction::kRedraw;
  }
  static Reaction mark(Ui& ui, KeyContext& c) {
    const std::vector<Item>& items = ui.items(c.world);
    const std::size_t at = ui.list().cursor.selected;
    if (ui.want_.view == View::kCheck || at >= items.size()) return Reaction::kNone;
    auto& marks = ui.list().marks;
    if (!marks.erase(items[at].key)) marks.insert(items[at].key);
    ui.list().cursor.move(1, items.size(), c.page);
    return Reaction::kRedraw;
  }
  static Reaction start_ack(Ui& ui, KeyContext& c, bool bulk) {
    ui.targets_ = ui.ack_targets(c.world, bulk);
    if (ui.targets_.empty()) {
      ui.message(bulk ? tr("nothing to acknowledge: no marked or shown problem")
                      : tr("select a failing check to acknowledge"),
                 true, c.now_ms);
      return Reaction::kRedraw;
    }
    ui.prompt_ = PromptKind::kAckComment;
    ui.input_.clear();
    return Reaction::kRedraw;
  }
  static Reaction ack(Ui& ui, KeyContext& c) { return start_ack(ui, c, false); }
  static Reaction unack(Ui& ui, KeyContext& c) {
    const CheckRow* row = ui.selected_check(c.world);
    if (row == nullptr || !row->ack) {
      ui.message(tr("select an acknowledged check to take its acknowledgement back"), true,
                 c.now_ms);
      return Reaction::kRedraw;
    }
    c.requests.push_back(
        request(unacknowledge_call(row->agent, row->result.check),
                format("take back the acknowledgement of {check}", {{"check", row->id()}})));
    ui.message(
        format("taking back the acknowledgement of {check}...", {{"check", row->result.check}}),
        false, c.now_ms);
    return Reaction::kRedraw;
  }
  static Reaction ack_all(Ui& ui, KeyContext& c) { return start_ack(ui, c, true); }
  static Reaction downtime(Ui& ui, KeyContext& c) {
    ui.targets_ = ui.downtime_targets(c.world);
    if (ui.targets_.empty()) {
      ui.message(tr("select a site or a check for the downtime"), true, c.now_ms);
      return Reaction::kRedraw;
    }
    ui.prompt_ = PromptKind::kDowntimeDuration;
    ui.input_.clear();
    return Reaction::kRedraw;
  }
  static Reaction help(Ui& ui, KeyContext&) {
    ui.help_ = !ui.help_;
    return Reaction::kRedraw;
  }
  static Reaction refetch(Ui&, KeyContext&) { return Reaction::kRefetch; }
  static Reaction redraw(Ui&, KeyContext&) { return Reaction::kRedraw; }
  static Reaction quit(Ui&, KeyContext&) { return Reaction::kQuit; }

  static std::span<const Binding> table() {
    static constexpr Binding kTable[] = {
        {key::kUp, N_("Up k"), N_("select the line above (Check: scroll)"), up},
        {'k', "", "", up},
        {key::kDown, N_("Down j"), N_("select the line below"), down},
        {'j', "", "", down},
        {key::kPageUp, N_("PgUp"), N_("one page up"), page_up},
        {key::kPageDown, N_("PgDn"), N_("one page down"), page_down},
        {key::kHome, N_("Home g"), N_("first line"), home},
        {'g', "", "", home},
        {key::kEnd, N_("End G"), N_("last line"), end},
        {'G', "", "", end},
        {key::kEnter, N_("Enter"), N_("open: a site, a check"), enter},
        {'\n', "", "", enter},
        {key::kRight, "", "", enter},
        {key::kEscape, N_("Esc Bksp"), N_("clear the search, else go back"), back},
        {key::kBackspace, "", "", back},
        {key::kLeft, "", "", back},
        {key::kTab, N_("Tab"), N_("next view: Problems, Sites, Agents, Backups"), next_view},
        {key::kBackTab, N_("S-Tab"), N_("previous view"), previous_view},
        {'/', "/", N_("search as you type (Enter keeps it, Esc clears)"), search},
        {'f', "f", N_("filter by family: firewall, wifi, backup..."), family},
        {'s', "s", N_("change the sort order"), sort},
        {' ', N_("Space"), N_("mark the line"), mark},
        {'a', "a", N_("acknowledge the selected check (comment, expiry)"), ack},
        {'A', "A", N_("acknowledge every marked check, else every one shown"), ack_all},
        {'u', "u", N_("take back the selected check's acknowledgement"), unack},
        {'d', "d", N_("schedule a downtime (site, or the check)"), downtime},
        {'r', "r", N_("refresh now"), refetch},
        {'?', "?", N_("this help"), help},
        {key::kResize, "", "", redraw},
        {'q', "q", N_("quit"), quit},
    };
    return kTable;
  }
};

std::vector<KeyHelp> key_help() {
  std::vector<KeyHelp> out;
  for (const Keys::Binding& b : Keys::table()) {
    if (!b.label.empty()) out.push_back({b.label, b.help});
  }
  return out;
}

// A key: typed into the prompt when one is open, else looked up in the table.
Reaction Ui::on_key(int key, const World& world, int height, std::int64_t now_ms,
                    std::vector<Request>& requests) {
  last_height_ = height;
  if (prompt_ != PromptKind::kNone) {
    if (key == key::kEscape) {
      if (prompt_ == PromptKind::kSearch) list().search.clear();
      prompt_ = PromptKind::kNone;
      input_.clear();
      return Reaction::kRedraw;
    }
    if (key == key::kEnter || key == '\n') return submit_prompt(world, now_ms, requests);
    if (key == key::kBackspace || key == 8) {
      pop_character(input_);
    } else if (key >= 0x20 && key < 0x110000 && key != 0x7F && input_.size() < kMaxInput) {
      append_utf8(static_cast<char32_t>(key), input_);
    } else if (key == key::kResize) {
      return Reaction::kRedraw;
    } else {
      return Reaction::kNone;
    }
    if (prompt_ == PromptKind::kSearch) list().cursor = {};
    return Reaction::kRedraw;
  }
  if (help_ && key != key::kResize) {
    help_ = false;
    if (key == '?' || key == key::kEscape || key == 'q') return Reaction::kRedraw;
  }
  KeyContext context{world, list_page(height), now_ms, requests};
  for (const Keys::Binding& binding : Keys::table()) {
    if (binding.key == key) return binding.handler(*this, context);
  }
  return Reaction::kNone;
}

// ---------------------------------------------------------------------------------------
// What a key acts on.

const CheckRow* Ui::selected_check(const World& world) {
  if (want_.view == View::kCheck) {
    if (world.check && world.check->detail.row.agent == want_.agent &&
        world.check->detail.row.result.check == want_.check) {
      return &world.check->detail.row;
    }
    return nullptr;
  }
  const auto& all = items(world);
  const std::size_t at = list().cursor.selected;
  return at < all.size() ? all[at].check : nullptr;
}

std::vector<Ui::Target> Ui::ack_targets(const World& world, bool bulk) {
  std::vector<Target> out;
  const auto add = [&](const CheckRow& row) {
    if (row.hard == State::kOk && row.result.status == State::kOk) return;
    out.push_back({row.site, row.agent, row.result.check});
  };
  if (!bulk || want_.view == View::kCheck) {
    if (const CheckRow* row = selected_check(world)) add(*row);
    return out;
  }
  const auto& all = items(world);
  const auto& marks = list().marks;
  for (const Item& item : all) {
    if (item.check == nullptr) continue;
    if (marks.empty() || marks.count(item.key) != 0) add(*item.check);
  }
  return out;
}

std::vector<Ui::Target> Ui::downtime_targets(const World& world) {
  if (want_.view == View::kSites) {
    const auto& all = items(world);
    const std::size_t at = list().cursor.selected;
    if (at < all.size() && all[at].site != nullptr) return {{all[at].site->name, "", ""}};
    return {};
  }
  if (want_.view == View::kAgents) {
    const auto& all = items(world);
    const std::size_t at = list().cursor.selected;
    if (at < all.size() && all[at].agent != nullptr) {
      return {{all[at].agent->site, all[at].agent->id, ""}};
    }
    return {};
  }
  if (const CheckRow* row = selected_check(world)) {
    return {{row->site, row->agent, row->result.check}};
  }
  return {};
}

// ---------------------------------------------------------------------------------------
// Prompts.

Reaction Ui::submit_prompt(const World& world, std::int64_t now_ms,
                           std::vector<Request>& requests) {
  const std::string text(trim(input_));
  switch (prompt_) {
    case PromptKind::kNone: return Reaction::kNone;
    case PromptKind::kSearch:
      list().search = input_;
      list().cursor = {};
      prompt_ = PromptKind::kNone;
      return Reaction::kRedraw;
    case PromptKind::kAckComment:
      if (text.empty()) {
        message(tr("a comment is required: say why, for the next technician"), true, now_ms);
        return Reaction::kRedraw;
      }
      saved_ = text;
      prompt_ = PromptKind::kAckExpiry;
      input_.clear();
      return Reaction::kRedraw;
    case PromptKind::kAckExpiry: {
      if (!text.empty()) {
        auto d = parse_duration(text);
        if (!d || d->count() <= 0) {
          message(tr("expiry: a duration such as 4h or 2d, or nothing for none"), true, now_ms);
          return Reaction::kRedraw;
        }
      }
      for (const Target& t : targets_) {
        requests.push_back(
            request(acknowledge_call(t.agent, t.check, saved_, text),
                    format("acknowledge {check}", {{"check", t.agent + "/" + t.check}})));
      }
      message(formatn("acknowledging {n} check...", "acknowledging {n} checks...",
                      static_cast<long long>(targets_.size()),
                      {{"n", std::to_string(targets_.size())}}),
              false, now_ms);
      list().marks.clear();
      prompt_ = PromptKind::kNone;
      return Reaction::kRedraw;
    }
    case PromptKind::kDowntimeDuration: {
      auto d = parse_duration(text);
      if (!d || d->count() <= 0) {
        message(tr("duration: such as 30m, 2h or 1d"), true, now_ms);
        return Reaction::kRedraw;
      }
      saved_ = text;
      prompt_ = PromptKind::kDowntimeComment;
      input_.clear();
      return Reaction::kRedraw;
    }
    case PromptKind::kDowntimeComment: {
      if (text.empty()) {
        message(tr("a comment is required: say why"), true, now_ms);
        return Reaction::kRedraw;
      }
      for (const Target& t : targets_) {
        std::string what = t.site;
        if (!t.agent.empty()) what += " " + t.agent;
        if (!t.check.empty()) what += "/" + t.check;
        what = format("downtime for {what}", {{"what", what}});
        requests.push_back(request(downtime_call(t.site, t.agent, t.check, saved_, text), what));
      }
      message(tr("scheduling the downtime..."), false, now_ms);
      prompt_ = PromptKind::kNone;
      return Reaction::kRedraw;
    }
  }
  (void)world;
  return Reaction::kNone;
}

}  // namespace vigie::console
