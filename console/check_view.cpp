#include "console/check_view.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

#include "common/human_text.hpp"
#include "console/text.hpp"

namespace vigie::console {

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

namespace {

using Lines = std::vector<ViewLine>;

// Traps shown above the metrics; the history below has them all.
constexpr std::size_t kTrapsShown = 5;

std::string age(std::int64_t ms) { return short_age_text(std::chrono::milliseconds(ms)); }

// State, result, site, acknowledgement, downtime, flapping.
void add_state(Lines& lines, const CheckRow& row, std::int64_t now, bool doubtful) {
  const Cell state = state_cell(row, row.result.status, doubtful);
  std::string line = "State     " + state.text;
  if (row.soft) {
    line += " (soft, attempt " + std::to_string(row.attempt) + "/" +
            std::to_string(row.max_attempts) + ")";
  }
  line += " for " + age(now - row.since_ms);
  line += "   hard " + std::string(state_name(row.hard)) + " for " + age(now - row.hard_since_ms);
  lines.push_back({line, state.tone});
  lines.push_back({"Result    " + age(now - row.received_ms) + " ago, runs every " +
                       age(row.result.interval_s * 1000) + ", took " +
                       std::to_string(row.result.duration_ms) + " ms",
                   row.stale ? Tone::kUnknown : Tone::kNormal});
  if (row.stale) lines.push_back({"Stale     " + sanitize(row.stale_reason), Tone::kUnknown});
  lines.push_back({"Site      " + sanitize(row.site) + "   agent " + sanitize(row.agent) +
                       "   id " + sanitize(row.result.check),
                   Tone::kDim});
  if (row.ack) {
    std::string ack = "Ack       by " + sanitize(row.ack->author) + " " +
                      age(now - row.ack->created_ms) + " ago: " + sanitize(row.ack->comment);
    if (row.ack->expires_ms > 0) ack += " (expires in " + age(row.ack->expires_ms - now) + ")";
    lines.push_back({ack, Tone::kBold});
  }
  if (row.in_downtime) lines.push_back({"Downtime  in a scheduled downtime now", Tone::kBold});
  if (row.flapping) lines.push_back({"Flapping  the state keeps changing", Tone::kWarning});
}

// The summary, and the details line by line.
void add_text(Lines& lines, const CheckResult& result) {
  lines.push_back({"Summary   " + sanitize(result.summary), Tone::kNormal});
  if (result.details.empty()) return;
  lines.push_back({"Details", Tone::kBold});
  std::string_view details = result.details;
  while (!details.empty()) {
    const std::size_t nl = details.find('\n');
    lines.push_back({"  " + sanitize(details.substr(0, nl)), Tone::kNormal});
    if (nl == std::string_view::npos) break;
    details.remove_prefix(nl + 1);
  }
}

// Each metric's value, its sparkline over 24 hours and the range it spans.
void add_metrics(Lines& lines, const CheckPage& page, int width, bool utf8) {
  const CheckResult& result = page.detail.row.result;
  if (result.metrics.empty()) return;
  lines.push_back({"", Tone::kNormal});
  lines.push_back({"Metrics, last 24 h", Tone::kBold});
  const std::size_t spark = static_cast<std::size_t>(std::clamp(width - 50, 8, 48));
  for (const Metric& m : result.metrics) {
    std::string text = "  " + pad(sanitize(m.label), 18) + " " +
                       pad(m.value ? number_text(*m.value, m.unit) : "U", 12) + " ";
    for (const Series& s : page.series) {
      if (s.metric != m.label) continue;
      text += sparkline(s.points, spark, utf8);
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

// The SNMP traps its device sent lately (kind "trap" in the history), newest first.
void add_traps(Lines& lines, const std::vector<HistoryEvent>& history) {
  std::size_t shown = 0;
  for (const HistoryEvent& e : history) {
    if (e.kind != "trap") continue;
    if (shown == 0) {
      lines.push_back({"", Tone::kNormal});
      lines.push_back({"Recent traps (newest first)", Tone::kBold});
    }
    if (++shown > kTrapsShown) continue;
    const std::string& name = e.trap_name.empty() ? e.trap_oid : e.trap_name;
    std::string text = "  " + date_text(e.ts_ms) + "  " + pad(sanitize(name), 18) + " ";
    if (e.inform) text += "(inform) ";
    // Before the summary, which the width may cut.
    if (e.not_kept_before > 0) text += "[" + std::to_string(e.not_kept_before) + " not kept] ";
    text += sanitize(e.summary);
    lines.push_back({text, Tone::kWarning});
  }
  if (shown > kTrapsShown) {
    lines.push_back({"  and " + std::to_string(shown - kTrapsShown) + " more in the history below",
                     Tone::kDim});
  }
}

void add_history(Lines& lines, const std::vector<HistoryEvent>& history, bool utf8) {
  lines.push_back({"", Tone::kNormal});
  lines.push_back({"History (newest first)", Tone::kBold});
  if (history.empty()) lines.push_back({"  no change recorded", Tone::kDim});
  for (const HistoryEvent& e : history) {
    std::string text = "  " + date_text(e.ts_ms) + "  " + pad(sanitize(e.kind), 13) + " ";
    Tone tone = Tone::kNormal;
    if (e.kind == "state") {
      text += sanitize(e.from) + (utf8 ? " → " : " -> ") + sanitize(e.to) + " (" +
              sanitize(e.state_type) + ")  ";
      for (int i = 0; i < 4; ++i) {
        if (state_name(static_cast<State>(i)) == e.to) tone = state_tone(static_cast<State>(i));
      }
    }
    if (!e.author.empty()) text += sanitize(e.author) + ": ";
    text += sanitize(e.summary);
    lines.push_back({text, tone});
  }
}

void add_notifications(Lines& lines,
                       const std::optional<std::vector<NotificationRow>>& notifications) {
  lines.push_back({"", Tone::kNormal});
  lines.push_back({"Notifications", Tone::kBold});
  if (!notifications) {
    lines.push_back({"  no notification history", Tone::kDim});
    return;
  }
  if (notifications->empty()) lines.push_back({"  none sent", Tone::kDim});
  for (const NotificationRow& n : *notifications) {
    std::string text = "  " + date_text(n.time_ms) + "  " + pad(sanitize(n.channel), 8) + " " +
                       pad(sanitize(n.status), 10) + " " + pad(sanitize(n.state), 9) + " " +
                       sanitize(n.target);
    if (!n.error.empty()) text += "  " + sanitize(n.error);
    lines.push_back({text, n.status == "failed" ? Tone::kCritical : Tone::kNormal});
  }
}

}  // namespace

std::vector<ViewLine> check_view_lines(const World& world, const Want& want, std::int64_t now,
                                       int width, bool utf8) {
  Lines lines;
  if (!world.check || world.check->detail.row.agent != want.agent ||
      world.check->detail.row.result.check != want.check) {
    lines.push_back({world.error.is_ok() ? "loading..." : "cannot load this check", Tone::kDim});
    return lines;
  }
  const CheckPage& page = *world.check;
  const bool doubtful = world.fetched_at_ms == 0 || !world.error.is_ok();
  add_state(lines, page.detail.row, now, doubtful);
  add_text(lines, page.detail.row.result);
  add_traps(lines, page.detail.history);
  add_metrics(lines, page, width, utf8);
  add_history(lines, page.detail.history, utf8);
  add_notifications(lines, page.notifications);
  return lines;
}

void draw_check_view(Canvas& canvas, const World& world, const Want& want, std::int64_t now_ms,
                     bool utf8, ListCursor& scroll) {
  const auto lines = check_view_lines(world, want, now_ms, canvas.width(), utf8);
  const std::size_t page = list_page(canvas.height());
  const std::size_t max_top = lines.size() > page ? lines.size() - page : 0;
  scroll.top = std::min(scroll.top, max_top);
  for (std::size_t i = 0; i < page && scroll.top + i < lines.size(); ++i) {
    const ViewLine& line = lines[scroll.top + i];
    canvas.put(0, kTopLines - 1 + static_cast<int>(i), line.text, {line.tone});
  }
}

}  // namespace vigie::console
