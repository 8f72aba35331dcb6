#include "console/list_views.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <tuple>

#include "console/language.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

// The sort orders by their English names (what build_items() compares), translated
// where they are shown (sort_label()).
constexpr std::string_view kProblemSorts[] = {"severity", "age", "site", "name"};
constexpr std::string_view kSiteSorts[] = {"severity", "name", "last report"};
constexpr std::string_view kSiteChecksSorts[] = {"family", "severity", "name"};
constexpr std::string_view kAgentSorts[] = {"last seen", "name", "site"};
constexpr std::string_view kBackupSorts[] = {"severity", "last success", "site", "size trend"};
constexpr std::string_view kNoSorts[] = {"-"};

// The families the Sites view gives a column, in this order.
constexpr std::string_view kFamilyColumns[] = {"firewall", "wifi", "backup", "antivirus"};
// TRANSLATORS: the family columns of the Sites view: firewall, Wi-Fi, backup,
// antivirus, four columns wide at most.
constexpr const char* kFamilyTitles[] = {N_("FW"), N_("WIFI"), N_("BKUP"), N_("AV")};

const Metric* find_metric(const CheckRow& row, std::string_view name) {
  for (const Metric& m : row.result.metrics) {
    if (m.label == name) return &m;
  }
  return nullptr;
}

// When the newest backup was made (collector clock), from the `age` metric measured
// when the result ran; 0 when the check does not say.
std::int64_t last_success_ms(const CheckRow& row) {
  const Metric* age = find_metric(row, "age");
  if (age == nullptr) return 0;
  if (!age->value) return 0;
  return row.result.ts_ms - static_cast<std::int64_t>(*age->value * 1000);
}

double size_change(const CheckRow& row) {
  const Metric* change = find_metric(row, "size_change");
  return change != nullptr && change->value ? *change->value : 0;
}

std::string check_key(const CheckRow& row) { return row.agent + '\t' + row.result.check; }

Item check_item(const CheckRow& row, bool problems) {
  Item item;
  item.check = &row;
  item.key = check_key(row);
  const State state = problems ? row.hard : row.result.status;
  item.severity = severity(state) * 2 + (row.stale ? 1 : 0);
  item.time_ms = problems ? row.hard_since_ms : row.since_ms;
  item.site_name = row.site;
  item.name = row.result.name;
  item.family = row.family;
  return item;
}

// A column of a list view: its title and width (0: what is left); `right`: right-aligned.
// A fixed column is never narrower than its title, so that no title is cut in any
// language.
struct ListColumn {
  std::string title;
  int width = 0;
  bool right = false;
  int min = 0;   // a flexible column: how narrow it may get when the line is short; 0: fixed
  int drop = 0;  // when the line is too short even so: left out, the highest first; 0: never
  std::size_t cell = 0;  // the index of its cell in a line's cells (cells_for())
};

// An optional column, left out of a line too short for it (`drop`: the highest first).
ListColumn optional(std::string title, int width, int drop, bool right = false) {
  return {std::move(title), width, right, 0, drop};
}

// A flexible column: a share of the terminal's width, from `lo` to `hi` columns.
ListColumn flex(std::string title, int width, int divisor, int lo, int hi) {
  return {std::move(title), std::clamp(width / divisor, lo, hi), false, lo};
}

constexpr int kGap = 2;  // between columns wider than two

// The columns a line takes up to the start of the last one, with its title.
int line_width(const std::vector<ListColumn>& cols) {
  int total = 0;
  for (std::size_t i = 0; i + 1 < cols.size(); ++i) {
    total += cols[i].width + (cols[i].width > 2 ? kGap : 0);
  }
  return cols.empty() ? 0 : total + static_cast<int>(columns(cols.back().title));
}

std::vector<ListColumn> column_titles(View view, int width) {
  switch (view) {
    case View::kProblems:
      return {{"", 2},
              flex(tr("SITE"), width, 6, 8, 28),
              flex(tr("CHECK"), width, 5, 10, 34),
              {tr("STATE"), 8},
              {tr("FOR"), 5, true},
              {tr("SEEN"), 5, true},
              {tr("SUMMARY"), 0}};
    case View::kSite:
      return {{"", 2},
              {tr("FAMILY"), 9},
              flex(tr("CHECK"), width, 6, 10, 40),
              // TRANSLATORS: where a check's results come from: the site's agent, or
              // "@" and a central poller.
              flex(tr("SOURCE"), width, 5, 12, 28),
              {tr("STATE"), 8},
              {tr("FOR"), 5, true},
              {tr("SEEN"), 5, true},
              {tr("SUMMARY"), 0}};
    case View::kSites: {
      std::vector<ListColumn> cols = {
          {"", 2}, flex(tr("SITE"), width, 4, 12, 40), {tr("STATE"), 8}};
      for (const char* title : kFamilyTitles) cols.push_back({tr(title), 4});
      // TRANSLATORS: the Sites view's counts: problems, acknowledged ones.
      cols.push_back({tr("PROB"), 4, true});
      cols.push_back({tr("ACK"), 3, true});
      cols.push_back({tr("AGENTS"), 6, true});
      // TRANSLATORS: the age of the site's last report.
      cols.push_back({tr("REPORT"), 6, true});
      cols.push_back({"", 0});
      return cols;
    }
    case View::kAgents:
      return {{"", 2},
              {tr("STATE"), 6},
              // An agent's id whole ("central-poller") before the optional columns.
              flex(tr("AGENT"), width, 5, 14, 32),
              flex(tr("SITE"), width, 6, 8, 28),
              {tr("SEEN"), 5, true},
              // TRANSLATORS: a central poller's column: the member sites it reports for.
              optional(tr("POLLER"), 9, 1),
              optional(tr("VERSION"), 8, 5),
              // TRANSLATORS: the agent's clock skew, and the reports waiting in its spool.
              optional(tr("SKEW"), 6, 4, true),
              optional(tr("SPOOL"), 5, 3, true),
              // TRANSLATORS: the version of the configuration the agent runs.
              optional(tr("CONFIG"), 16, 2),
              {tr("HOST"), 0}};
    case View::kBackups:
      return {{"", 2},
              flex(tr("SITE"), width, 6, 8, 28),
              flex(tr("CHECK"), width, 6, 10, 30),
              {tr("STATE"), 8},
              // TRANSLATORS: the age of the last successful backup.
              {tr("LAST OK"), 7, true},
              {tr("SIZE"), 9, true},
              optional(tr("TREND"), 7, 1, true),
              {tr("SEEN"), 5, true},
              {tr("SUMMARY"), 0}};
    case View::kCheck: return {};
  }
  return {};
}

// The columns of `all` on a line `width` wide: the flexible ones give back what the
// others need, the widest first, down to their minimum (or their title).
std::vector<ListColumn> fit(std::vector<ListColumn> cols, int width) {
  while (line_width(cols) > width) {
    ListColumn* widest = nullptr;
    for (ListColumn& c : cols) {
      const int floor = std::max(c.min, static_cast<int>(columns(c.title)));
      if (c.min > 0 && c.width > floor && (widest == nullptr || c.width > widest->width)) {
        widest = &c;
      }
    }
    if (widest == nullptr) break;
    --widest->width;
  }
  return cols;
}

std::vector<ListColumn> columns_for(View view, int width) {
  std::vector<ListColumn> all = column_titles(view, width);
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i].cell = i;
    if (all[i].width > 0)
      all[i].width = std::max(all[i].width, static_cast<int>(columns(all[i].title)));
  }
  std::vector<ListColumn> cols = fit(all, width);
  // Still too long: the optional columns go, the least needed first.
  while (line_width(cols) > width) {
    auto least = all.end();
    for (auto it = all.begin(); it != all.end(); ++it) {
      if (it->drop > 0 && (least == all.end() || it->drop > least->drop)) least = it;
    }
    if (least == all.end()) break;
    all.erase(least);
    cols = fit(all, width);
  }
  return cols;
}

std::string flags_of(const CheckRow& row, bool marked) {
  std::string flags = marked ? "*" : " ";
  if (row.ack) {
    // TRANSLATORS: one letter, the flag of an acknowledged check.
    flags += std::string(cut(tr("A"), 1));
  } else if (row.in_downtime) {
    // TRANSLATORS: one letter, the flag of a check or site in a downtime.
    flags += std::string(cut(tr("D"), 1));
  } else if (row.flapping) {
    flags += '~';
  } else {
    flags += ' ';
  }
  return flags;
}

std::string summary_of(const CheckRow& row) {
  std::string text;
  if (row.ack) {
    text = format("[ack {author}: {comment}] ",
                  {{"author", row.ack->author}, {"comment", row.ack->comment}});
  } else if (row.in_downtime) {
    text = tr("[downtime] ");
  }
  if (row.stale && !row.stale_reason.empty()) text += "(" + row.stale_reason + ") ";
  return sanitize(text + row.result.summary);
}

// "-" for no time, else the age of `since` at `now`.
std::string age_cell(std::int64_t now, std::int64_t since) {
  return since <= 0 ? std::string("-") : short_age(std::chrono::milliseconds(now - since));
}

// A check's line in the Problems (its hard state) and Site (its state) views.
std::vector<Cell> check_cells(const Item& item, View view, std::int64_t now, bool doubtful,
                              bool marked) {
  const auto age = [&](std::int64_t since) { return age_cell(now, since); };
  const CheckRow& row = *item.check;
  const State state = view == View::kProblems ? row.hard : row.result.status;
  std::vector<Cell> cells;
  cells.push_back({flags_of(row, marked), Tone::kBold});
  if (view == View::kProblems) {
    cells.push_back({sanitize(row.site)});
  } else {
    cells.push_back({sanitize(row.family), Tone::kDim});
  }
  cells.push_back({sanitize(row.result.name)});
  // Where it comes from: the site's own agent, or a central poller ("@poller").
  if (view == View::kSite)
    cells.push_back(
        {sanitize((row.central ? "@" : "") + row.agent), row.central ? Tone::kNormal : Tone::kDim});
  cells.push_back(state_cell(row, state, doubtful));
  cells.push_back({age(view == View::kProblems ? row.hard_since_ms : row.since_ms)});
  cells.push_back({short_age(std::chrono::milliseconds(now - row.received_ms)),
                   row.stale ? Tone::kUnknown : Tone::kDim});
  cells.push_back({summary_of(row)});
  return cells;
}

std::vector<Cell> site_cells(const Item& item, std::int64_t now, bool doubtful, bool marked) {
  const auto age = [&](std::int64_t since) { return age_cell(now, since); };
  const SiteRow& site = *item.site;
  std::vector<Cell> cells;
  cells.push_back({std::string(marked ? "*" : " ") +
                       (site.in_downtime ? std::string(cut(tr("D"), 1)) : std::string(" ")),
                   Tone::kBold});
  cells.push_back({sanitize(site.name)});
  if (site.unreachable) {
    // TRANSLATORS: a site no agent of which reports: eight columns at most.
    cells.push_back({tr("UNREACH"), doubtful ? Tone::kDim : Tone::kCritical});
  } else if (doubtful) {
    cells.push_back({state_label(site.worst) + "?", Tone::kDim});
  } else {
    cells.push_back({state_label(site.worst), state_tone(site.worst)});
  }
  for (const std::string_view family : kFamilyColumns) {
    const auto it = site.families.find(std::string(family));
    if (it == site.families.end()) {
      cells.push_back({"-", Tone::kDim});
    } else {
      cells.push_back({short_state_label(it->second),
                       doubtful || site.unreachable ? Tone::kDim : state_tone(it->second)});
    }
  }
  cells.push_back({std::to_string(site.problems), site.problems > 0 ? Tone::kBold : Tone::kDim});
  cells.push_back({std::to_string(site.acknowledged), Tone::kDim});
  cells.push_back(
      {std::to_string(site.agents - site.agents_lost) + "/" + std::to_string(site.agents),
       site.agents_lost > 0 ? Tone::kCritical : Tone::kNormal});
  cells.push_back({age(site.last_report_ms), site.unreachable ? Tone::kCritical : Tone::kDim});
  cells.push_back({""});
  return cells;
}

std::vector<Cell> agent_cells(const Item& item, std::int64_t now, bool doubtful, bool marked) {
  const auto age = [&](std::int64_t since) { return age_cell(now, since); };
  const AgentRow& agent = *item.agent;
  std::vector<Cell> cells;
  cells.push_back({marked ? "*" : " ", Tone::kBold});
  if (agent.lost) {
    // TRANSLATORS: an agent's state, five columns at most: lost, or up.
    cells.push_back({tr("LOST"), doubtful ? Tone::kDim : Tone::kCritical});
  } else {
    cells.push_back({doubtful ? tr("up") + "?" : tr("up"), doubtful ? Tone::kDim : Tone::kOk});
  }
  cells.push_back({sanitize(agent.id)});
  cells.push_back({sanitize(agent.site)});
  cells.push_back({age(agent.last_seen_ms), agent.lost ? Tone::kCritical : Tone::kDim});
  // A central poller: how many member sites it reports for.
  if (agent.member_sites > 0) {
    cells.push_back({formatn("{n} site", "{n} sites", agent.member_sites,
                             {{"n", std::to_string(agent.member_sites)}})});
  } else {
    cells.push_back({"-", Tone::kDim});
  }
  cells.push_back({sanitize(agent.version), Tone::kDim});
  std::string skew = "-";
  if (agent.clock_skew_ms) {
    skew = format(N_("{n}s"), {{"n", std::to_string(*agent.clock_skew_ms / 1000)}});
  }
  cells.push_back({skew, Tone::kDim});
  cells.push_back({agent.spool_depth ? std::to_string(*agent.spool_depth) : "-",
                   agent.spool_depth && *agent.spool_depth > 10 ? Tone::kWarning : Tone::kDim});
  // The configuration version it runs, and whether the centre's is newer (or refused).
  if (!agent.config_managed) {
    cells.push_back({"-", Tone::kDim});
  } else {
    // TRANSLATORS: the CONFIG column (16 wide): no configuration version yet.
    std::string text =
        agent.config_running.empty() ? tr("none") : sanitize(agent.config_running.substr(0, 8));
    // TRANSLATORS: after a configuration's version: the agent refused the centre's
    // newer one, or has not taken it yet. Seven columns at most.
    if (agent.config_refused) {
      text += " " + tr("refused");
    } else if (agent.config_behind) {
      text += " " + tr("behind");
    }
    cells.push_back({text, agent.config_refused  ? Tone::kCritical
                           : agent.config_behind ? Tone::kWarning
                                                 : Tone::kDim});
  }
  cells.push_back({sanitize(agent.hostname), Tone::kDim});
  return cells;
}

// A backup check's line: its last success, size and size trend besides its state.
std::vector<Cell> backup_cells(const Item& item, std::int64_t now, bool doubtful, bool marked,
                               bool utf8) {
  const CheckRow& row = *item.check;
  std::vector<Cell> cells;
  cells.push_back({flags_of(row, marked), Tone::kBold});
  cells.push_back({sanitize(row.site)});
  cells.push_back({sanitize(row.result.name)});
  cells.push_back(state_cell(row, row.result.status, doubtful));
  const std::int64_t success = last_success_ms(row);
  cells.push_back({success > 0 ? short_age(std::chrono::milliseconds(now - success)) : "-"});
  const Metric* size = find_metric(row, "size");
  cells.push_back({size != nullptr && size->value ? bytes(*size->value) : "-"});
  const Metric* change = find_metric(row, "size_change");
  std::string trend = "-";
  Tone trend_tone = Tone::kDim;
  if (change != nullptr && change->value) {
    const double v = *change->value;
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%+.0f%%", v);
    const std::string_view arrow = v > 0.5    ? (utf8 ? "↑" : "+")
                                   : v < -0.5 ? (utf8 ? "↓" : "-")
                                              : (utf8 ? "→" : "=");
    trend = std::string(arrow) + text.data();
    if (v <= -20) trend_tone = Tone::kWarning;
  }
  cells.push_back({trend, trend_tone});
  cells.push_back({short_age(std::chrono::milliseconds(now - row.received_ms)),
                   row.stale ? Tone::kUnknown : Tone::kDim});
  cells.push_back({summary_of(row)});
  return cells;
}

std::vector<Cell> cells_for(const Item& item, View view, std::int64_t now, bool doubtful,
                            bool marked, bool utf8) {
  switch (view) {
    case View::kProblems:
    case View::kSite: return check_cells(item, view, now, doubtful, marked);
    case View::kSites: return site_cells(item, now, doubtful, marked);
    case View::kAgents: return agent_cells(item, now, doubtful, marked);
    case View::kBackups: return backup_cells(item, now, doubtful, marked, utf8);
    case View::kCheck: break;
  }
  return {};
}

// Draws `cells` in `cols` on line y; the last column takes what is left.
void draw_cells(Canvas& canvas, int y, const std::vector<ListColumn>& cols,
                const std::vector<Cell>& cells, bool selected, bool dim) {
  int x = 0;
  const int width = canvas.width();
  for (std::size_t i = 0; i < cols.size() && cols[i].cell < cells.size() && x < width; ++i) {
    const Cell& cell = cells[cols[i].cell];
    const bool last = i + 1 == cols.size();
    const int w = last || cols[i].width == 0 ? width - x : cols[i].width;
    const std::string_view text = cut(cell.text, static_cast<std::size_t>(std::max(w, 0)));
    int at = x;
    if (cols[i].right) at += w - static_cast<int>(columns(text));
    Tone tone = cell.tone;
    if (dim && tone != Tone::kBold) tone = Tone::kDim;
    canvas.put(at, y, text, {tone, selected});
    x += w + (cols[i].width > 2 || cols[i].width == 0 ? kGap : 0);
  }
}

}  // namespace

Tone state_tone(State state) {
  switch (state) {
    case State::kOk: return Tone::kOk;
    case State::kWarning: return Tone::kWarning;
    case State::kCritical: return Tone::kCritical;
    case State::kUnknown: return Tone::kUnknown;
  }
  return Tone::kUnknown;
}

Cell state_cell(const CheckRow& row, State state, bool doubtful) {
  // TRANSLATORS: a check whose results stopped coming: eight columns at most.
  if (row.stale) return {tr("STALE"), doubtful ? Tone::kDim : Tone::kUnknown};
  std::string text = state_label(state);
  if (row.soft && state != State::kOk) text = lower(text);
  if (doubtful) return {text + "?", Tone::kDim};
  return {text, state_tone(state)};
}

void ListCursor::clamp(std::size_t count, std::size_t page) {
  if (count == 0) {
    selected = top = 0;
    return;
  }
  page = std::max<std::size_t>(page, 1);
  selected = std::min(selected, count - 1);
  top = std::min(top, count > page ? count - page : 0);
  if (selected < top) top = selected;
  if (selected >= top + page) top = selected - page + 1;
}

void ListCursor::move(std::ptrdiff_t delta, std::size_t count, std::size_t page) {
  const auto step = static_cast<std::size_t>(delta < 0 ? -delta : delta);
  if (delta < 0) {
    selected = step > selected ? 0 : selected - step;
  } else {
    selected += std::min(step, count);
  }
  clamp(count, page);
}

std::size_t list_page(int height) {
  return height > kTopLines + 1 ? static_cast<std::size_t>(height - kTopLines - 1) : 0;
}

std::span<const std::string_view> sort_modes(View view) {
  switch (view) {
    case View::kProblems: return kProblemSorts;
    case View::kSites: return kSiteSorts;
    case View::kSite: return kSiteChecksSorts;
    case View::kAgents: return kAgentSorts;
    case View::kBackups: return kBackupSorts;
    case View::kCheck: return kNoSorts;
  }
  return kNoSorts;
}

std::string sort_label(std::string_view mode) {
  static constexpr const char* kLabels[] = {N_("severity"),  N_("age"),          N_("site"),
                                            N_("name"),      N_("last report"),  N_("family"),
                                            N_("last seen"), N_("last success"), N_("size trend")};
  for (const char* label : kLabels) {
    if (mode == label) return tr(label);
  }
  return std::string(mode);
}

std::vector<std::string> list_titles(View view, int width) {
  std::vector<std::string> out;
  for (const ListColumn& c : columns_for(view, width)) {
    if (!c.title.empty()) out.push_back(c.title);
  }
  return out;
}

bool item_matches(const Item& item, std::string_view needle, std::string_view family) {
  return item_matches_folded(item, lower(needle), family);
}

bool item_matches_folded(const Item& item, std::string_view folded, std::string_view family) {
  if (!family.empty() && item.family != family) {
    // A site matches a family it has a check of.
    if (item.site == nullptr || item.site->families.count(std::string(family)) == 0) return false;
  }
  if (folded.empty()) return true;
  if (contains_folded(item.site_name, folded) || contains_folded(item.name, folded)) return true;
  if (item.check != nullptr) {
    return contains_folded(item.check->result.check, folded) ||
           contains_folded(item.check->agent, folded) ||
           contains_folded(item.check->result.summary, folded);
  }
  if (item.agent != nullptr) {
    return contains_folded(item.agent->hostname, folded) ||
           contains_folded(item.agent->version, folded);
  }
  return false;
}

std::vector<Item> build_items(const World& world, const Want& want, std::string_view needle,
                              std::string_view family, std::string_view sort) {
  const std::string search = lower(needle);
  std::vector<Item> items;
  const auto add_checks = [&](const std::vector<CheckRow>& rows, bool problems) {
    items.reserve(rows.size());
    for (const CheckRow& row : rows) {
      Item item = check_item(row, problems);
      if (item_matches_folded(item, search, family)) items.push_back(std::move(item));
    }
  };
  switch (want.view) {
    case View::kProblems:
      if (world.problems) add_checks(*world.problems, true);
      break;
    case View::kBackups:
      if (world.backups) {
        add_checks(*world.backups, false);
        for (Item& item : items) {
          const std::int64_t success = last_success_ms(*item.check);
          item.time_ms = success > 0 ? success : item.check->received_ms;
        }
      }
      break;
    case View::kSite:
      if (world.site && world.site->site.name == want.site) add_checks(world.site->checks, false);
      break;
    case View::kSites:
      if (world.sites) {
        items.reserve(world.sites->size());
        for (const SiteRow& site : *world.sites) {
          Item item;
          item.site = &site;
          item.key = site.name;
          item.severity = severity(site.worst) * 2 + (site.unreachable ? 1 : 0);
          if (site.unreachable) item.severity = 100;
          item.time_ms = site.last_report_ms;
          item.site_name = site.name;
          item.name = site.name;
          if (item_matches_folded(item, search, family)) items.push_back(std::move(item));
        }
      }
      break;
    case View::kAgents:
      if (world.agents) {
        for (const AgentRow& agent : *world.agents) {
          Item item;
          item.agent = &agent;
          item.key = agent.id;
          item.severity = agent.lost ? 1 : 0;
          item.time_ms = agent.last_seen_ms;
          item.site_name = agent.site;
          item.name = agent.id;
          if (item_matches_folded(item, search, family)) items.push_back(std::move(item));
        }
      }
      break;
    case View::kCheck: break;
  }

  const auto by_severity = [](const Item& a, const Item& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return std::tie(a.time_ms, a.site_name, a.name, a.key) <
           std::tie(b.time_ms, b.site_name, b.name, b.key);
  };
  const auto by_age = [](const Item& a, const Item& b) {
    return std::tie(a.time_ms, a.site_name, a.name, a.key) <
           std::tie(b.time_ms, b.site_name, b.name, b.key);
  };
  const auto by_site = [](const Item& a, const Item& b) {
    return std::tie(a.site_name, a.name, a.key) < std::tie(b.site_name, b.name, b.key);
  };
  const auto by_name = [](const Item& a, const Item& b) {
    return std::tie(a.name, a.site_name, a.key) < std::tie(b.name, b.site_name, b.key);
  };
  const auto by_family = [&](const Item& a, const Item& b) {
    if (a.family != b.family) return a.family < b.family;
    return by_severity(a, b);
  };
  const auto by_trend = [](const Item& a, const Item& b) {
    const double ca = size_change(*a.check), cb = size_change(*b.check);
    if (ca != cb) return ca < cb;
    return a.key < b.key;
  };
  if (sort == "severity") {
    std::sort(items.begin(), items.end(), by_severity);
  } else if (sort == "age" || sort == "last report" || sort == "last seen" ||
             sort == "last success") {
    std::sort(items.begin(), items.end(), by_age);
  } else if (sort == "site") {
    std::sort(items.begin(), items.end(), by_site);
  } else if (sort == "name") {
    std::sort(items.begin(), items.end(), by_name);
  } else if (sort == "family") {
    std::sort(items.begin(), items.end(), by_family);
  } else if (sort == "size trend") {
    std::sort(items.begin(), items.end(), by_trend);
  }
  return items;
}

void draw_list(Canvas& canvas, const ListDraw& draw, const std::vector<Item>& items,
               ListCursor& cursor, std::string_view empty) {
  const int width = canvas.width();
  const std::size_t page = list_page(canvas.height());
  const auto cols = columns_for(draw.view, width);
  std::vector<Cell> titles;
  for (const ListColumn& c : cols) {
    if (titles.size() <= c.cell) titles.resize(c.cell + 1);
    titles[c.cell] = {c.title, Tone::kBold};
  }
  draw_cells(canvas, 2, cols, titles, false, false);
  cursor.clamp(items.size(), page);
  if (items.empty()) canvas.put(2, kTopLines, empty, {Tone::kDim});
  const std::size_t end = std::min(items.size(), cursor.top + page);
  for (std::size_t i = cursor.top; i < end; ++i) {
    const Item& item = items[i];
    const int y = kTopLines + static_cast<int>(i - cursor.top);
    const bool selected = i == cursor.selected;
    const bool marked = draw.marks != nullptr && draw.marks->count(item.key) != 0;
    const bool dim = item.check != nullptr && (item.check->ack || item.check->in_downtime);
    if (selected) {
      canvas.put(0, y, std::string(static_cast<std::size_t>(width), ' '),
                 {dim ? Tone::kDim : Tone::kNormal, true});
    }
    draw_cells(canvas, y, cols,
               cells_for(item, draw.view, draw.now_ms, draw.doubtful, marked, draw.utf8), selected,
               dim);
  }
}

}  // namespace vigie::console
