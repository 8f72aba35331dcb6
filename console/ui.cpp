#include "console/ui.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/duration.hpp"
#include "common/human_text.hpp"
#include "console/keys.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr int kTopLines = 3;  // header, title, column titles
constexpr std::int64_t kMessageMs = 6000;
// Data older than this (the collector cannot be reached) is drawn as doubtful.
constexpr std::int64_t kOldDataMs = 30'000;
constexpr std::size_t kMaxInput = 1000;  // bytes of a prompt's text

constexpr std::string_view kProblemSorts[] = {"severity", "age", "site", "name"};
constexpr std::string_view kSiteSorts[] = {"severity", "name", "last report"};
constexpr std::string_view kSiteChecksSorts[] = {"family", "severity", "name"};
constexpr std::string_view kAgentSorts[] = {"last seen", "name", "site"};
constexpr std::string_view kBackupSorts[] = {"severity", "last success", "site", "size trend"};
constexpr std::string_view kNoSorts[] = {"-"};

// The families the Sites view gives a column, in this order.
constexpr std::string_view kFamilyColumns[] = {"firewall", "wifi", "backup", "antivirus"};
constexpr std::string_view kFamilyTitles[] = {"FW", "WIFI", "BKUP", "AV"};

Tone state_tone(State state) {
  switch (state) {
    case State::kOk: return Tone::kOk;
    case State::kWarning: return Tone::kWarning;
    case State::kCritical: return Tone::kCritical;
    case State::kUnknown: return Tone::kUnknown;
  }
  return Tone::kUnknown;
}

std::string_view short_state(State state) {
  switch (state) {
    case State::kOk: return "ok";
    case State::kWarning: return "WARN";
    case State::kCritical: return "CRIT";
    case State::kUnknown: return "UNKN";
  }
  return "?";
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool contains_folded(std::string_view haystack, std::string_view needle_lower) {
  if (needle_lower.empty()) return true;
  if (haystack.size() < needle_lower.size()) return false;
  for (std::size_t i = 0; i + needle_lower.size() <= haystack.size(); ++i) {
    std::size_t k = 0;
    for (; k < needle_lower.size(); ++k) {
      char c = haystack[i + k];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != needle_lower[k]) break;
    }
    if (k == needle_lower.size()) return true;
  }
  return false;
}

// "14:03:12" in the local time zone.
std::string clock_text(std::int64_t ms) {
  const auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return "?";
  std::array<char, 32> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%H:%M:%S", &local);
  return std::string(text.data(), n);
}

std::string date_text(std::int64_t ms) {
  const auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return "?";
  std::array<char, 32> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%m-%d %H:%M", &local);
  return std::string(text.data(), n);
}

std::string number_text(double value, std::string_view unit) {
  if (unit == "B") return bytes_text(value);
  if (unit == "s")
    return short_age_text(std::chrono::milliseconds(static_cast<std::int64_t>(value * 1000)));
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.4g", value);
  std::string out = text.data();
  if (!unit.empty() && unit != "-") out += unit == "%" ? "%" : " " + std::string(unit);
  return out;
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

std::string sparkline(const std::vector<SeriesPoint>& points, std::size_t width, bool utf8) {
  static constexpr std::string_view kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static constexpr std::string_view kAscii = "_.-:=+*#";
  if (points.empty() || width == 0) return "";
  const std::size_t start = points.size() > width ? points.size() - width : 0;
  double lo = points[start].value, hi = points[start].value;
  for (std::size_t i = start; i < points.size(); ++i) {
    lo = std::min(lo, points[i].value);
    hi = std::max(hi, points[i].value);
  }
  std::string out;
  for (std::size_t i = start; i < points.size(); ++i) {
    const double span = hi - lo;
    const int level = span <= 0 ? 3 : static_cast<int>((points[i].value - lo) / span * 7.0 + 0.5);
    const auto at = static_cast<std::size_t>(std::clamp(level, 0, 7));
    if (utf8) {
      out += kBlocks[at];
    } else {
      out += kAscii[at];
    }
  }
  return out;
}

void encode_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string_view trim_view(std::string_view text) {
  const std::size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) return {};
  const std::size_t end = text.find_last_not_of(" \t");
  return text.substr(start, end - start + 1);
}

void pop_character(std::string& text) {
  const auto chars = characters(text);
  if (!chars.empty()) text.resize(text.size() - chars.back().size());
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

struct Column {
  std::string_view title;
  int width = 0;
  bool right = false;
};

struct Cell {
  std::string text;
  Tone tone = Tone::kNormal;
};

// Column widths for the views: the flexible ones scale with the terminal.
int flex(int width, int divisor, int lo, int hi) { return std::clamp(width / divisor, lo, hi); }

std::vector<Column> columns_for(View view, int width) {
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
      return {{"", 2},       {"FAMILY", 9},    {"CHECK", flex(width, 4, 12, 40)},
              {"STATE", 8},  {"FOR", 5, true}, {"SEEN", 5, true},
              {"SUMMARY", 0}};
    case View::kSites: {
      std::vector<Column> cols = {{"", 2}, {"SITE", flex(width, 4, 12, 40)}, {"STATE", 8}};
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
              {"VERSION", 8},
              {"SKEW", 6, true},
              {"SPOOL", 5, true},
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

// The state cell of a check: STALE when the collector says so, dim while our data is old.
Cell state_cell(const CheckRow& row, State state, bool doubtful) {
  if (row.stale) return {"STALE", doubtful ? Tone::kDim : Tone::kUnknown};
  std::string text(state_name(state));
  if (row.soft && state != State::kOk) text = lower(text);
  if (doubtful) return {text + "?", Tone::kDim};
  return {text, state_tone(state)};
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

std::vector<Cell> cells_for(const Item& item, View view, std::int64_t now, bool doubtful,
                            bool marked, bool utf8) {
  const auto age = [&](std::int64_t since) {
    return since <= 0 ? std::string("-") : short_age_text(std::chrono::milliseconds(now - since));
  };
  switch (view) {
    case View::kProblems:
    case View::kSite: {
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
      cells.push_back(state_cell(row, state, doubtful));
      cells.push_back({age(view == View::kProblems ? row.hard_since_ms : row.since_ms)});
      cells.push_back({short_age_text(std::chrono::milliseconds(now - row.received_ms)),
                       row.stale ? Tone::kUnknown : Tone::kDim});
      cells.push_back({summary_of(row)});
      return cells;
    }
    case View::kSites: {
      const SiteRow& site = *item.site;
      std::vector<Cell> cells;
      cells.push_back(
          {std::string(marked ? "*" : " ") + (site.in_downtime ? "D" : " "), Tone::kBold});
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
      cells.push_back(
          {std::to_string(site.problems), site.problems > 0 ? Tone::kBold : Tone::kDim});
      cells.push_back({std::to_string(site.acknowledged), Tone::kDim});
      cells.push_back(
          {std::to_string(site.agents - site.agents_lost) + "/" + std::to_string(site.agents),
           site.agents_lost > 0 ? Tone::kCritical : Tone::kNormal});
      cells.push_back({age(site.last_report_ms), site.unreachable ? Tone::kCritical : Tone::kDim});
      cells.push_back({""});
      return cells;
    }
    case View::kAgents: {
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
      cells.push_back({sanitize(agent.version), Tone::kDim});
      std::string skew = "-";
      if (agent.clock_skew_ms) skew = std::to_string(*agent.clock_skew_ms / 1000) + "s";
      cells.push_back({skew, Tone::kDim});
      cells.push_back({agent.spool_depth ? std::to_string(*agent.spool_depth) : "-",
                       agent.spool_depth && *agent.spool_depth > 10 ? Tone::kWarning : Tone::kDim});
      cells.push_back({sanitize(agent.hostname), Tone::kDim});
      return cells;
    }
    case View::kBackups: {
      const CheckRow& row = *item.check;
      std::vector<Cell> cells;
      cells.push_back({flags_of(row, marked), Tone::kBold});
      cells.push_back({sanitize(row.site)});
      cells.push_back({sanitize(row.result.name)});
      cells.push_back(state_cell(row, row.result.status, doubtful));
      const std::int64_t success = last_success_ms(row);
      cells.push_back(
          {success > 0 ? short_age_text(std::chrono::milliseconds(now - success)) : "-"});
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
    case View::kCheck: break;
  }
  return {};
}

// Draws `cells` in `cols` on line y; the last column takes what is left.
void draw_cells(Canvas& canvas, int y, const std::vector<Column>& cols,
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

// ---------------------------------------------------------------------------------------

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

namespace {

// item_matches() with the needle already lower-case: the search runs over every line.
bool matches_folded(const Item& item, std::string_view folded, std::string_view family) {
  if (!family.empty() && item.family != family) {
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

}  // namespace

bool item_matches(const Item& item, std::string_view needle, std::string_view family) {
  if (!family.empty() && item.family != family) {
    // A site matches a family it has a check of.
    if (item.site == nullptr || item.site->families.count(std::string(family)) == 0) return false;
  }
  if (needle.empty()) return true;
  const std::string folded = lower(needle);
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
      if (matches_folded(item, search, family)) items.push_back(std::move(item));
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
          if (matches_folded(item, search, family)) items.push_back(std::move(item));
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
          if (matches_folded(item, search, family)) items.push_back(std::move(item));
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

// ---------------------------------------------------------------------------------------
// Keys: one table. A handler changes the Ui and says what the main loop does next.

struct KeyContext {
  const World& world;
  std::size_t page;
  std::int64_t now_ms;
  std::vector<Request>& requests;
};

struct Keys {
  using Handler = Outcome (*)(Ui&, KeyContext&);
  struct Binding {
    int key;
    std::string_view label;  // as the help shows it; empty: listed with the one before
    std::string_view help;
    Handler handler;
  };

  static Outcome move(Ui& ui, KeyContext& c, std::ptrdiff_t delta) {
    if (ui.want_.view == View::kCheck) {
      ui.detail_.top = delta < 0 ? (static_cast<std::size_t>(-delta) > ui.detail_.top
                                        ? 0
                                        : ui.detail_.top - static_cast<std::size_t>(-delta))
                                 : ui.detail_.top + static_cast<std::size_t>(delta);
      return Outcome::kRedraw;
    }
    ui.list().cursor.move(delta, ui.count(c.world), c.page);
    return Outcome::kRedraw;
  }
  static Outcome up(Ui& ui, KeyContext& c) { return move(ui, c, -1); }
  static Outcome down(Ui& ui, KeyContext& c) { return move(ui, c, 1); }
  static Outcome page_up(Ui& ui, KeyContext& c) {
    return move(ui, c, -static_cast<std::ptrdiff_t>(std::max<std::size_t>(c.page, 1)));
  }
  static Outcome page_down(Ui& ui, KeyContext& c) {
    return move(ui, c, static_cast<std::ptrdiff_t>(std::max<std::size_t>(c.page, 1)));
  }
  static Outcome home(Ui& ui, KeyContext& c) {
    if (ui.want_.view == View::kCheck) {
      ui.detail_.top = 0;
    } else {
      ui.list().cursor.selected = 0;
      ui.list().cursor.clamp(ui.count(c.world), c.page);
    }
    return Outcome::kRedraw;
  }
  static Outcome end(Ui& ui, KeyContext& c) {
    if (ui.want_.view == View::kCheck) return move(ui, c, 1 << 20);
    const std::size_t n = ui.count(c.world);
    ui.list().cursor.selected = n == 0 ? 0 : n - 1;
    ui.list().cursor.clamp(n, c.page);
    return Outcome::kRedraw;
  }
  static Outcome enter(Ui& ui, KeyContext& c) {
    const std::vector<Item>& items = ui.items(c.world);
    if (ui.want_.view == View::kCheck) return Outcome::kNone;
    const std::size_t at = ui.list().cursor.selected;
    if (at >= items.size()) return Outcome::kNone;
    const Item& item = items[at];
    if (item.check != nullptr) {
      ui.open(
          {.view = View::kCheck, .agent = item.check->agent, .check = item.check->result.check});
    } else if (item.site != nullptr) {
      ui.open({.view = View::kSite, .site = item.site->name});
    } else if (item.agent != nullptr) {
      ui.open({.view = View::kSite, .site = item.agent->site});
    }
    return Outcome::kRefetch;
  }
  static Outcome back(Ui& ui, KeyContext&) {
    if (!ui.list().search.empty() && ui.want_.view != View::kCheck) {
      ui.list().search.clear();
      return Outcome::kRedraw;
    }
    return ui.back() ? Outcome::kRefetch : Outcome::kNone;
  }
  static Outcome cycle(Ui& ui, int step) {
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
    return Outcome::kRefetch;
  }
  static Outcome next_view(Ui& ui, KeyContext&) { return cycle(ui, 1); }
  static Outcome previous_view(Ui& ui, KeyContext&) { return cycle(ui, -1); }
  static Outcome search(Ui& ui, KeyContext&) {
    if (ui.want_.view == View::kCheck) return Outcome::kNone;
    ui.prompt_ = PromptKind::kSearch;
    ui.input_ = ui.list().search;
    return Outcome::kRedraw;
  }
  static Outcome family(Ui& ui, KeyContext& c) {
    if (ui.want_.view == View::kCheck || ui.want_.view == View::kAgents) return Outcome::kNone;
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
    return Outcome::kRedraw;
  }
  static Outcome sort(Ui& ui, KeyContext&) {
    const auto modes = sort_modes(ui.want_.view);
    ui.list().sort = (ui.list().sort + 1) % modes.size();
    return Outcome::kRedraw;
  }
  static Outcome mark(Ui& ui, KeyContext& c) {
    const std::vector<Item>& items = ui.items(c.world);
    const std::size_t at = ui.list().cursor.selected;
    if (ui.want_.view == View::kCheck || at >= items.size()) return Outcome::kNone;
    auto& marks = ui.list().marks;
    if (!marks.erase(items[at].key)) marks.insert(items[at].key);
    ui.list().cursor.move(1, items.size(), c.page);
    return Outcome::kRedraw;
  }
  static Outcome start_ack(Ui& ui, KeyContext& c, bool bulk) {
    ui.targets_ = ui.ack_targets(c.world, bulk);
    if (ui.targets_.empty()) {
      ui.message(bulk ? "nothing to acknowledge: no marked or shown problem"
                      : "select a failing check to acknowledge",
                 true, c.now_ms);
      return Outcome::kRedraw;
    }
    ui.prompt_ = PromptKind::kAckComment;
    ui.input_.clear();
    return Outcome::kRedraw;
  }
  static Outcome ack(Ui& ui, KeyContext& c) { return start_ack(ui, c, false); }
  static Outcome unack(Ui& ui, KeyContext& c) {
    const CheckRow* row = ui.selected_check(c.world);
    if (row == nullptr || !row->ack) {
      ui.message("select an acknowledged check to take its acknowledgement back", true, c.now_ms);
      return Outcome::kRedraw;
    }
    c.requests.push_back(
        {"DELETE",
         "/api/v1/acks?agent=" + url_encode(row->agent) + "&check=" + url_encode(row->result.check),
         "", "take back the acknowledgement of " + row->agent + "/" + row->result.check});
    ui.message("taking back the acknowledgement of " + row->result.check + "...", false, c.now_ms);
    return Outcome::kRedraw;
  }
  static Outcome ack_all(Ui& ui, KeyContext& c) { return start_ack(ui, c, true); }
  static Outcome downtime(Ui& ui, KeyContext& c) {
    ui.targets_ = ui.downtime_targets(c.world);
    if (ui.targets_.empty()) {
      ui.message("select a site or a check for the downtime", true, c.now_ms);
      return Outcome::kRedraw;
    }
    ui.prompt_ = PromptKind::kDowntimeDuration;
    ui.input_.clear();
    return Outcome::kRedraw;
  }
  static Outcome help(Ui& ui, KeyContext&) {
    ui.help_ = !ui.help_;
    return Outcome::kRedraw;
  }
  static Outcome refetch(Ui&, KeyContext&) { return Outcome::kRefetch; }
  static Outcome redraw(Ui&, KeyContext&) { return Outcome::kRedraw; }
  static Outcome quit(Ui&, KeyContext&) { return Outcome::kQuit; }

  static std::span<const Binding> table() {
    static constexpr Binding kTable[] = {
        {key::kUp, "Up k", "select the line above (Check: scroll)", up},
        {'k', "", "", up},
        {key::kDown, "Down j", "select the line below", down},
        {'j', "", "", down},
        {key::kPageUp, "PgUp", "one page up", page_up},
        {key::kPageDown, "PgDn", "one page down", page_down},
        {key::kHome, "Home g", "first line", home},
        {'g', "", "", home},
        {key::kEnd, "End G", "last line", end},
        {'G', "", "", end},
        {key::kEnter, "Enter", "open: a site, a check", enter},
        {'\n', "", "", enter},
        {key::kRight, "", "", enter},
        {key::kEscape, "Esc Bksp", "clear the search, else go back", back},
        {key::kBackspace, "", "", back},
        {key::kLeft, "", "", back},
        {key::kTab, "Tab", "next view: Problems, Sites, Agents, Backups", next_view},
        {key::kBackTab, "S-Tab", "previous view", previous_view},
        {'/', "/", "search as you type (Enter keeps it, Esc clears)", search},
        {'f', "f", "filter by family: firewall, wifi, backup...", family},
        {'s', "s", "change the sort order", sort},
        {' ', "Space", "mark the line", mark},
        {'a', "a", "acknowledge the selected check (comment, expiry)", ack},
        {'A', "A", "acknowledge every marked check, else every one shown", ack_all},
        {'u', "u", "take back the selected check's acknowledgement", unack},
        {'d', "d", "schedule a downtime (site, or the check)", downtime},
        {'r', "r", "refresh now", refetch},
        {'?', "?", "this help", help},
        {key::kResize, "", "", redraw},
        {'q', "q", "quit", quit},
    };
    return kTable;
  }
};

// ---------------------------------------------------------------------------------------

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
                  [&](const Item& item) { return !matches_folded(item, folded, l.family); });
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

Outcome Ui::submit_prompt(const World& world, std::int64_t now_ms, std::vector<Request>& requests) {
  const std::string text(trim_view(input_));
  switch (prompt_) {
    case PromptKind::kNone: return Outcome::kNone;
    case PromptKind::kSearch:
      list().search = input_;
      list().cursor = {};
      prompt_ = PromptKind::kNone;
      return Outcome::kRedraw;
    case PromptKind::kAckComment:
      if (text.empty()) {
        message("a comment is required: say why, for the next technician", true, now_ms);
        return Outcome::kRedraw;
      }
      saved_ = text;
      prompt_ = PromptKind::kAckExpiry;
      input_.clear();
      return Outcome::kRedraw;
    case PromptKind::kAckExpiry: {
      if (!text.empty()) {
        auto d = parse_duration(text);
        if (!d || d->count() <= 0) {
          message("expiry: a duration such as 4h or 2d, or nothing for none", true, now_ms);
          return Outcome::kRedraw;
        }
      }
      for (const Target& t : targets_) {
        nlohmann::json body = {{"agent", t.agent}, {"check", t.check}, {"comment", saved_}};
        if (!text.empty()) body["expires"] = text;
        requests.push_back(
            {"POST", "/api/v1/acks", body.dump(), "acknowledge " + t.agent + "/" + t.check});
      }
      message("acknowledging " + std::to_string(targets_.size()) + " check" +
                  (targets_.size() == 1 ? "" : "s") + "...",
              false, now_ms);
      list().marks.clear();
      prompt_ = PromptKind::kNone;
      return Outcome::kRedraw;
    }
    case PromptKind::kDowntimeDuration: {
      auto d = parse_duration(text);
      if (!d || d->count() <= 0) {
        message("duration: such as 30m, 2h or 1d", true, now_ms);
        return Outcome::kRedraw;
      }
      saved_ = text;
      prompt_ = PromptKind::kDowntimeComment;
      input_.clear();
      return Outcome::kRedraw;
    }
    case PromptKind::kDowntimeComment: {
      if (text.empty()) {
        message("a comment is required: say why", true, now_ms);
        return Outcome::kRedraw;
      }
      for (const Target& t : targets_) {
        nlohmann::json body = {{"site", t.site}, {"duration", saved_}, {"comment", text}};
        if (!t.agent.empty()) body["agent"] = t.agent;
        if (!t.check.empty()) body["check"] = t.check;
        std::string what = "downtime for " + t.site;
        if (!t.agent.empty()) what += " " + t.agent;
        if (!t.check.empty()) what += "/" + t.check;
        requests.push_back({"POST", "/api/v1/downtimes", body.dump(), what});
      }
      message("scheduling the downtime...", false, now_ms);
      prompt_ = PromptKind::kNone;
      return Outcome::kRedraw;
    }
  }
  (void)world;
  return Outcome::kNone;
}

Outcome Ui::on_key(int key, const World& world, int height, std::int64_t now_ms,
                   std::vector<Request>& requests) {
  last_height_ = height;
  if (prompt_ != PromptKind::kNone) {
    if (key == key::kEscape) {
      if (prompt_ == PromptKind::kSearch) list().search.clear();
      prompt_ = PromptKind::kNone;
      input_.clear();
      return Outcome::kRedraw;
    }
    if (key == key::kEnter || key == '\n') return submit_prompt(world, now_ms, requests);
    if (key == key::kBackspace || key == 8) {
      pop_character(input_);
    } else if (key >= 0x20 && key < 0x110000 && key != 0x7F && input_.size() < kMaxInput) {
      encode_utf8(static_cast<char32_t>(key), input_);
    } else if (key == key::kResize) {
      return Outcome::kRedraw;
    } else {
      return Outcome::kNone;
    }
    if (prompt_ == PromptKind::kSearch) list().cursor = {};
    return Outcome::kRedraw;
  }
  if (help_ && key != key::kResize) {
    help_ = false;
    if (key == '?' || key == key::kEscape || key == 'q') return Outcome::kRedraw;
  }
  KeyContext context{world, list_page(height), now_ms, requests};
  for (const Keys::Binding& binding : Keys::table()) {
    if (binding.key == key) return binding.handler(*this, context);
  }
  return Outcome::kNone;
}

// ---------------------------------------------------------------------------------------
// Drawing.

std::vector<std::pair<std::string, Tone>> Ui::detail_lines(const World& world, std::int64_t now,
                                                           int width) {
  std::vector<std::pair<std::string, Tone>> lines;
  if (!world.check || world.check->detail.row.agent != want_.agent ||
      world.check->detail.row.result.check != want_.check) {
    lines.push_back({world.error.is_ok() ? "loading..." : "cannot load this check", Tone::kDim});
    return lines;
  }
  const CheckPage& page = *world.check;
  const CheckRow& row = page.detail.row;
  const bool doubtful = world.fetched_at_ms == 0 || !world.error.is_ok();
  const Cell state = state_cell(row, row.result.status, doubtful);
  std::string line = "State     " + state.text;
  if (row.soft) {
    line += " (soft, attempt " + std::to_string(row.attempt) + "/" +
            std::to_string(row.max_attempts) + ")";
  }
  line += " for " + short_age_text(std::chrono::milliseconds(now - row.since_ms));
  line += "   hard " + std::string(state_name(row.hard)) + " for " +
          short_age_text(std::chrono::milliseconds(now - row.hard_since_ms));
  lines.push_back({line, state.tone});
  lines.push_back({"Result    " + short_age_text(std::chrono::milliseconds(now - row.received_ms)) +
                       " ago, runs every " +
                       short_age_text(std::chrono::milliseconds(row.result.interval_s * 1000)) +
                       ", took " + std::to_string(row.result.duration_ms) + " ms",
                   row.stale ? Tone::kUnknown : Tone::kNormal});
  if (row.stale) lines.push_back({"Stale     " + sanitize(row.stale_reason), Tone::kUnknown});
  lines.push_back({"Site      " + sanitize(row.site) + "   agent " + sanitize(row.agent) +
                       "   id " + sanitize(row.result.check),
                   Tone::kDim});
  if (row.ack) {
    std::string ack = "Ack       by " + sanitize(row.ack->author) + " " +
                      short_age_text(std::chrono::milliseconds(now - row.ack->created_ms)) +
                      " ago: " + sanitize(row.ack->comment);
    if (row.ack->expires_ms > 0)
      ack += " (expires in " +
             short_age_text(std::chrono::milliseconds(row.ack->expires_ms - now)) + ")";
    lines.push_back({ack, Tone::kBold});
  }
  if (row.in_downtime) lines.push_back({"Downtime  in a scheduled downtime now", Tone::kBold});
  if (row.flapping) lines.push_back({"Flapping  the state keeps changing", Tone::kWarning});
  lines.push_back({"Summary   " + sanitize(row.result.summary), Tone::kNormal});
  if (!row.result.details.empty()) {
    lines.push_back({"Details", Tone::kBold});
    std::string_view details = row.result.details;
    while (!details.empty()) {
      const std::size_t nl = details.find('\n');
      lines.push_back({"  " + sanitize(details.substr(0, nl)), Tone::kNormal});
      if (nl == std::string_view::npos) break;
      details.remove_prefix(nl + 1);
    }
  }
  if (!row.result.metrics.empty()) {
    lines.push_back({"", Tone::kNormal});
    lines.push_back({"Metrics, last 24 h", Tone::kBold});
    const std::size_t spark = static_cast<std::size_t>(std::clamp(width - 50, 8, 48));
    for (const Metric& m : row.result.metrics) {
      std::string text = "  " + pad(sanitize(m.label), 18) + " " +
                         pad(m.value ? number_text(*m.value, m.unit) : "U", 12) + " ";
      for (const Series& s : page.series) {
        if (s.metric != m.label) continue;
        text += sparkline(s.points, spark, utf8_);
        if (!s.points.empty()) {
          double lo = s.points.front().value, hi = lo;
          for (const auto& p : s.points) {
            lo = std::min(lo, p.value);
            hi = std::max(hi, p.value);
          }
          text += "  " + number_text(lo, m.unit) + ".." + number_text(hi, m.unit);
        }
      }
      lines.push_back({text, Tone::kNormal});
    }
  }
  lines.push_back({"", Tone::kNormal});
  lines.push_back({"History (newest first)", Tone::kBold});
  if (page.detail.history.empty()) lines.push_back({"  no change recorded", Tone::kDim});
  for (const HistoryEvent& e : page.detail.history) {
    std::string text = "  " + date_text(e.ts_ms) + "  " + pad(sanitize(e.kind), 13) + " ";
    Tone tone = Tone::kNormal;
    if (e.kind == "state") {
      text += sanitize(e.from) + (utf8_ ? " → " : " -> ") + sanitize(e.to) + " (" +
              sanitize(e.state_type) + ")  ";
      for (int i = 0; i < 4; ++i) {
        if (state_name(static_cast<State>(i)) == e.to) tone = state_tone(static_cast<State>(i));
      }
    }
    if (!e.author.empty()) text += sanitize(e.author) + ": ";
    text += sanitize(e.summary);
    lines.push_back({text, tone});
  }
  lines.push_back({"", Tone::kNormal});
  lines.push_back({"Notifications", Tone::kBold});
  if (!page.notifications) {
    lines.push_back({"  no notification history", Tone::kDim});
  } else if (page.notifications->empty()) {
    lines.push_back({"  none sent", Tone::kDim});
  } else {
    for (const NotificationRow& n : *page.notifications) {
      std::string text = "  " + date_text(n.time_ms) + "  " + pad(sanitize(n.channel), 8) + " " +
                         pad(sanitize(n.status), 10) + " " + pad(sanitize(n.state), 9) + " " +
                         sanitize(n.target);
      if (!n.error.empty()) text += "  " + sanitize(n.error);
      lines.push_back({text, n.status == "failed" ? Tone::kCritical : Tone::kNormal});
    }
  }
  return lines;
}

void Ui::render_detail(const World& world, std::int64_t now, Canvas& canvas) {
  const auto lines = detail_lines(world, now, canvas.width());
  const std::size_t page = list_page(canvas.height());
  const std::size_t max_top = lines.size() > page ? lines.size() - page : 0;
  detail_.top = std::min(detail_.top, max_top);
  for (std::size_t i = 0; i < page && detail_.top + i < lines.size(); ++i) {
    const auto& [text, tone] = lines[detail_.top + i];
    canvas.put(0, kTopLines - 1 + static_cast<int>(i), text, {tone});
  }
}

void Ui::render(const World& world, const LiveStatus& live, std::int64_t local_now,
                Canvas& canvas) {
  const int width = canvas.width();
  const int height = canvas.height();
  last_height_ = height;
  if (width <= 0 || height <= 0) return;
  const std::int64_t now = world.collector_time(local_now);
  const bool doubtful = world.fetched_at_ms == 0 ||
                        (!world.error.is_ok() && local_now - world.fetched_at_ms > kOldDataMs);

  // Line 0: the header.
  int x = 0;
  const auto put = [&](int y, std::string_view text, Tone tone, bool reverse = false) {
    canvas.put(x, y, text, {tone, reverse});
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
      if (doubtful) tone = Tone::kDim;
      put(0, std::string(c.label) + " " + std::to_string(n), tone);
      x += 2;
    }
    put(0, "lost agents " + std::to_string(o.agents_lost),
        o.agents_lost > 0 && !doubtful ? Tone::kCritical : Tone::kDim);
    x += 2;
    if (o.sites_unreachable > 0) {
      put(0, "unreachable sites " + std::to_string(o.sites_unreachable),
          doubtful ? Tone::kDim : Tone::kCritical);
    }
  } else {
    put(0, "vigie", Tone::kBold);
  }
  std::string connection;
  Tone connection_tone = Tone::kOk;
  if (world.fetched_at_ms == 0 && world.error.is_ok()) {
    connection = "connecting...";
    connection_tone = Tone::kDim;
  } else if (!world.error.is_ok()) {
    const std::int64_t since = world.failing_since_ms != 0 ? world.failing_since_ms : local_now;
    connection =
        (world.error.code() == Code::kUnauthenticated ? "TOKEN REFUSED " : "CONNECTION LOST ") +
        short_age_text(std::chrono::milliseconds(local_now - since)) + ", retrying";
    connection_tone = Tone::kCritical;
  } else {
    connection =
        std::string(live.events_live ? "live" : "polling") + " " + clock_text(world.fetched_at_ms);
    if (live.pending > 0)
      connection = "sending " + std::to_string(live.pending) + "  " + connection;
    connection_tone = live.events_live ? Tone::kOk : Tone::kWarning;
  }
  const int cx = std::max(x + 2, width - static_cast<int>(columns(connection)));
  canvas.put(cx, 0, connection, {connection_tone, connection_tone == Tone::kCritical});

  // Line 1: the title.
  x = 0;
  const std::vector<Item>* shown = nullptr;
  std::string title(view_name(want_.view));
  if (want_.view != View::kCheck) shown = &items(world);
  if (want_.view == View::kSite) {
    title += " " + sanitize(want_.site);
    if (world.site && world.site->site.name == want_.site) {
      const SiteRow& s = world.site->site;
      title += "  " + std::string(s.unreachable ? "UNREACHABLE" : state_name(s.worst)) + "  " +
               std::to_string(s.agents - s.agents_lost) + "/" + std::to_string(s.agents) +
               " agents up  last report " +
               short_age_text(std::chrono::milliseconds(now - s.last_report_ms)) + " ago";
      for (const SiteDowntime& d : world.site->downtimes) {
        if (d.active) title += "  downtime until " + clock_text(d.end_ms);
      }
    }
  } else if (want_.view == View::kCheck) {
    title += " " + sanitize(want_.agent + "/" + want_.check);
  } else {
    title += " " + std::to_string(shown->size());
  }
  put(1, title, Tone::kBold);
  if (want_.view != View::kCheck) {
    std::string extras;
    if (!list().family.empty()) extras += "  family " + list().family;
    const std::string search = prompt_ == PromptKind::kSearch ? input_ : list().search;
    if (!search.empty()) extras += "  search \"" + sanitize(search) + "\"";
    extras += "  sort " + std::string(sort());
    if (!list().marks.empty()) extras += "  " + std::to_string(list().marks.size()) + " marked";
    put(1, extras, Tone::kDim);
  }
  if (doubtful && world.fetched_at_ms != 0) {
    x += 2;
    put(1,
        "data " + short_age_text(std::chrono::milliseconds(local_now - world.fetched_at_ms)) +
            " old",
        Tone::kCritical);
  }

  // Lines 2..h-2: the view.
  const std::size_t page = list_page(height);
  if (want_.view == View::kCheck) {
    render_detail(world, now, canvas);
  } else if (shown != nullptr) {
    const auto cols = columns_for(want_.view, width);
    std::vector<Cell> titles;
    for (const Column& c : cols) titles.push_back({std::string(c.title), Tone::kBold});
    draw_cells(canvas, 2, cols, titles, false, false);
    ListCursor& cursor = list().cursor;
    cursor.clamp(shown->size(), page);
    if (shown->empty()) {
      std::string empty = "nothing to show";
      if (want_.view == View::kProblems && world.problems) empty = "no problem: every check is OK";
      if (world.fetched_at_ms == 0 || !(world.fetched == want_)) {
        empty = world.error.is_ok() ? "loading..." : "no data yet";
      }
      if (!list().search.empty() || !list().family.empty()) empty = "nothing matches";
      canvas.put(2, kTopLines, empty, {Tone::kDim});
    }
    const std::size_t end = std::min(shown->size(), cursor.top + page);
    for (std::size_t i = cursor.top; i < end; ++i) {
      const Item& item = (*shown)[i];
      const int y = kTopLines + static_cast<int>(i - cursor.top);
      const bool selected = i == cursor.selected;
      const bool marked = list().marks.count(item.key) != 0;
      const bool dim = item.check != nullptr && (item.check->ack || item.check->in_downtime);
      if (selected) {
        canvas.put(0, y, std::string(static_cast<std::size_t>(width), ' '),
                   {dim ? Tone::kDim : Tone::kNormal, true});
      }
      draw_cells(canvas, y, cols, cells_for(item, want_.view, now, doubtful, marked, utf8_),
                 selected, dim);
    }
  }

  // The help, over the view.
  if (help_) {
    int y = 2;
    canvas.put(0, y, pad("Keys", static_cast<std::size_t>(width)), {Tone::kBold, true});
    for (const Keys::Binding& b : Keys::table()) {
      if (b.label.empty() || ++y >= height - 1) continue;
      canvas.put(
          0, y, pad("  " + pad(b.label, 10) + std::string(b.help), static_cast<std::size_t>(width)),
          {Tone::kNormal, true});
    }
  }

  // Line h-1: the footer.
  const int y = height - 1;
  if (y <= 1) return;
  if (prompt_ != PromptKind::kNone) {
    std::string label;
    const std::string n = std::to_string(targets_.size());
    switch (prompt_) {
      case PromptKind::kSearch: label = "/"; break;
      case PromptKind::kAckComment:
        label =
            "Acknowledge " +
            (targets_.size() == 1 ? targets_[0].agent + "/" + targets_[0].check : n + " checks") +
            ". Comment (required): ";
        break;
      case PromptKind::kAckExpiry: label = "Expires after (e.g. 4h, Enter: never): "; break;
      case PromptKind::kDowntimeDuration:
        label = "Downtime for " +
                (targets_.empty()
                     ? std::string()
                     : targets_[0].site + (targets_[0].check.empty() ? std::string(" (whole site)")
                                                                     : " " + targets_[0].check)) +
                ". Duration (e.g. 2h): ";
        break;
      case PromptKind::kDowntimeComment: label = "Downtime comment (required): "; break;
      case PromptKind::kNone: break;
    }
    const std::string shown_input = sanitize(input_);
    std::string line = label + shown_input + "_";
    // Keep the end of what is typed in sight.
    while (static_cast<int>(columns(line)) > width && !line.empty()) {
      line.erase(0, characters(line).front().size());
    }
    canvas.put(0, y, line, {Tone::kBold});
    if (local_now < message_until_ && message_failed_ && y > 3) {
      canvas.put(0, y - 1, pad(message_, static_cast<std::size_t>(width)), {Tone::kCritical, true});
    }
    return;
  }
  if (local_now < message_until_) {
    canvas.put(0, y, message_, {message_failed_ ? Tone::kCritical : Tone::kBold});
    return;
  }
  if (!world.error.is_ok()) {
    canvas.put(0, y, "error: " + sanitize(world.error.message()), {Tone::kCritical});
    return;
  }
  std::string position;
  if (shown != nullptr && !shown->empty()) {
    position = std::to_string(list().cursor.selected + 1) + "/" + std::to_string(shown->size());
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
