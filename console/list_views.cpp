#include "console/list_views.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <tuple>

#include "common/human_text.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr std::string_view kProblemSorts[] = {"severity", "age", "site", "name"};
constexpr std::string_view kSiteSorts[] = {"severity", "name", "last report"};
constexpr std::string_view kSiteChecksSorts[] = {"family", "severity", "name"};
constexpr std::string_view kAgentSorts[] = {"last seen", "name", "site"};
constexpr std::string_view kBackupSorts[] = {"severity", "last success", "site", "size trend"};
constexpr std::string_view kNoSorts[] = {"-"};

// The families the Sites view gives a column, in this order.
constexpr std::string_view kFamilyColumns[] = {"firewall", "wifi", "backup", "antivirus"};
constexpr std::string_view kFamilyTitles[] = {"FW", "WIFI", "BKUP", "AV"};

std::string_view short_state(State state) {
  switch (state) {
    case State::kOk: return "ok";
    case State::kWarning: return "WARN";
    case State::kCritical: return "CRIT";
    case State::kUnknown: return "UNKN";
  }
  return "?";
}

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
struct ListColumn {
  std::string_view title;
  int width = 0;
  bool right = false;
};

// Column widths for the views: the flexible ones scale with the terminal.
int flex(int width, int divisor, int lo, int hi) { return std::clamp(width / divisor, lo, hi); }

std::vector<ListColumn> columns_for(View view, int width) {
  switch (view) {
    case View::kProblems:
      return {{"", 2},
              {"SITE", flex(width, 6, 8, 28)},
              {"CHECK", flex(width, 5, 10, 34)},
              {"STATE", 8},
              {"FOR", 5, true},
              {"SEEN", 5, true},
              {"SUMMARY", 0}};
    case View::kSite:
      return {{"", 2},
              {"FAMILY", 9},
              {"CHECK", flex(width, 6, 10, 40)},
              {"SOURCE", flex(width, 5, 12, 28)},
              {"STATE", 8},
              {"FOR", 5, true},
              {"SEEN", 5, true},
              {"SUMMARY", 0}};
    case View::kSites: {
      std::vector<ListColumn> cols = {{"", 2}, {"SITE", flex(width, 4, 12, 40)}, {"STATE", 8}};
      for (const std::string_view title : kFamilyTitles) cols.push_back({title, 4});
      cols.push_back({"PROB", 4, true});
      cols.push_back({"ACK", 3, true});
      cols.push_back({"AGENTS", 6, true});
      cols.push_back({"REPORT", 6, true});
      cols.push_back({"", 0});
      return cols;
    }
    case View::kAgents:
      return {{"", 2},
              {"STATE", 5},
              {"AGENT", flex(width, 5, 10, 32)},
              {"SITE", flex(width, 6, 8, 28)},
              {"SEEN", 5, true},
              {"POLLER", 9},
              {"VERSION", 8},
              {"SKEW", 6, true},
              {"SPOOL", 5, true},
              {"CONFIG", 16},
              {"HOST", 0}};
    case View::kBackups:
      return {{"", 2},
              {"SITE", flex(width, 6, 8, 28)},
              {"CHECK", flex(width, 6, 10, 30)},
              {"STATE", 8},
              {"LAST OK", 7, true},
              {"SIZE", 9, true},
              {"TREND", 7, true},
              {"SEEN", 5, true},
              {"SUMMARY", 0}};
    case View::kCheck: return {};
  }
  return {};
}

std::string flags_of(const CheckRow& row, bool marked) {
  std::string flags = marked ? "*" : " ";
  if (row.ack) {
    flags += 'A';
  } else if (row.in_downtime) {
    flags += 'D';
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
    text = "[ack " + row.ack->author + ": " + row.ack->comment + "] ";
  } else if (row.in_downtime) {
    text = "[downtime] ";
  }
  if (row.stale && !row.stale_reason.empty()) text += "(" + row.stale_reason + ") ";
  return sanitize(text + row.result.summary);
}

// "-" for no time, else the age of `since` at `now`.
std::string age_cell(std::int64_t now, std::int64_t since) {
  return since <= 0 ? std::string("-") : short_age_text(std::chrono::milliseconds(now - since));
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
  cells.push_back({short_age_text(std::chrono::milliseconds(now - row.received_ms)),
                   row.stale ? Tone::kUnknown : Tone::kDim});
  cells.push_back({summary_of(row)});
  return cells;
}

std::vector<Cell> site_cells(const Item& item, std::int64_t now, bool doubtful, bool marked) {
  const auto age = [&](std::int64_t since) { return age_cell(now, since); };
  const SiteRow& site = *item.site;
  std::vector<Cell> cells;
  cells.push_back({std::string(marked ? "*" : " ") + (site.in_downtime ? "D" : " "), Tone::kBold});
  cells.push_back({sanitize(site.name)});
  if (site.unreachable) {
    cells.push_back({"UNREACH", doubtful ? Tone::kDim : Tone::kCritical});
  } else if (doubtful) {
    cells.push_back({std::string(state_name(site.worst)) + "?", Tone::kDim});
  } else {
    cells.push_back({std::string(state_name(site.worst)), state_tone(site.worst)});
  }
  for (const std::string_view family : kFamilyColumns) {
    const auto it = site.families.find(std::string(family));
    if (it == site.families.end()) {
      cells.push_back({"-", Tone::kDim});
    } else {
      cells.push_back({std::string(short_state(it->second)),
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
    cells.push_back({"LOST", doubtful ? Tone::kDim : Tone::kCritical});
  } else {
    cells.push_back({doubtful ? "up?" : "up", doubtful ? Tone::kDim : Tone::kOk});
  }
  cells.push_back({sanitize(agent.id)});
  cells.push_back({sanitize(agent.site)});
  cells.push_back({age(agent.last_seen_ms), agent.lost ? Tone::kCritical : Tone::kDim});
  // A central poller: how many member sites it reports for.
  if (agent.member_sites > 0) {
    cells.push_back(
        {std::to_string(agent.member_sites) + (agent.member_sites == 1 ? " site" : " sites")});
  } else {
    cells.push_back({"-", Tone::kDim});
  }
  cells.push_back({sanitize(agent.version), Tone::kDim});
  std::string skew = "-";
  if (agent.clock_skew_ms) skew = std::to_string(*agent.clock_skew_ms / 1000) + "s";
  cells.push_back({skew, Tone::kDim});
  cells.push_back({agent.spool_depth ? std::to_string(*agent.spool_depth) : "-",
                   agent.spool_depth && *agent.spool_depth > 10 ? Tone::kWarning : Tone::kDim});
  // The configuration version it runs, and whether the centre's is newer (or refused).
  if (!agent.config_managed) {
    cells.push_back({"-", Tone::kDim});
  } else {
    std::string text =
        agent.config_running.empty() ? "none" : sanitize(agent.config_running.substr(0, 8));
    if (agent.config_refused) text += " refused";
    else if (agent.config_behind) text += " behind";
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
  cells.push_back({success > 0 ? short_age_text(std::chrono::milliseconds(now - success)) : "-"});
  const Metric* size = find_metric(row, "size");
  cells.push_back({size != nullptr && size->value ? bytes_text(*size->value) : "-"});
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
  cells.push_back({short_age_text(std::chrono::milliseconds(now - row.received_ms)),
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
  for (std::size_t i = 0; i < cols.size() && i < cells.size() && x < width; ++i) {
    const bool last = i + 1 == cols.size();
    const int w = last || cols[i].width == 0 ? width - x : cols[i].width;
    const std::string_view text = cut(cells[i].text, static_cast<std::size_t>(std::max(w, 0)));
    int at = x;
    if (cols[i].right) at += w - static_cast<int>(columns(text));
    Tone tone = cells[i].tone;
    if (dim && tone != Tone::kBold) tone = Tone::kDim;
    canvas.put(at, y, text, {tone, selected});
    x += w + (cols[i].width > 2 || cols[i].width == 0 ? 2 : 0);
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
  if (row.stale) return {"STALE", doubtful ? Tone::kDim : Tone::kUnknown};
  std::string text(state_name(state));
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
  for (const ListColumn& c : cols) titles.push_back({std::string(c.title), Tone::kBold});
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
