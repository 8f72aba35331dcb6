#include "console/check_view.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

#include "console/language.hpp"
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

std::string age(std::int64_t ms) { return short_age(std::chrono::milliseconds(ms)); }

// The label of a line of the Check view, padded so that the texts line up.
std::string label(const char* msgid) { return pad(tr(msgid), 10); }

// State, result, site, acknowledgement, downtime, flapping.
void add_state(Lines& lines, const CheckRow& row, std::int64_t now, bool doubtful) {
  const Cell state = state_cell(row, row.result.status, doubtful);
  // TRANSLATORS: the labels of the Check view's lines: nine columns at most.
  std::string line = label(N_("State")) + state.text;
  if (row.soft) {
    line += " " + format("(soft, attempt {n}/{max})", {{"n", std::to_string(row.attempt)},
                                                       {"max", std::to_string(row.max_attempts)}});
  }
  line += " " + format("for {age}", {{"age", age(now - row.since_ms)}});
  line += "   " + format("hard {state} for {age}",
                         {{"state", state_label(row.hard)}, {"age", age(now - row.hard_since_ms)}});
  lines.push_back({line, state.tone});
  lines.push_back({label(N_("Result")) + format("{age} ago, runs every {interval}, took {ms} ms",
                                                {{"age", age(now - row.received_ms)},
                                                 {"interval", age(row.result.interval_s * 1000)},
                                                 {"ms", std::to_string(row.result.duration_ms)}}),
                   row.stale ? Tone::kUnknown : Tone::kNormal});
  if (row.stale) lines.push_back({label(N_("Stale")) + sanitize(row.stale_reason), Tone::kUnknown});
  lines.push_back({label(N_("Site")) + format("{site}   agent {agent}   id {check}",
                                              {{"site", sanitize(row.site)},
                                               {"agent", sanitize(row.agent)},
                                               {"check", sanitize(row.result.check)}}),
                   Tone::kDim});
  if (row.ack) {
    std::string ack = label(N_("Ack")) + format("by {author} {age} ago: {comment}",
                                                {{"author", sanitize(row.ack->author)},
                                                 {"age", age(now - row.ack->created_ms)},
                                                 {"comment", sanitize(row.ack->comment)}});
    if (row.ack->expires_ms > 0) {
      // A time left: "3h 59m", not the "3h" of a column, one second after a 4h ack.
      ack += " " +
             format("(expires in {age})",
                    {{"age", two_unit_age(std::chrono::milliseconds(row.ack->expires_ms - now))}});
    }
    lines.push_back({ack, Tone::kBold});
  }
  if (row.in_downtime) {
    lines.push_back({label(N_("Downtime")) + tr("in a scheduled downtime now"), Tone::kBold});
  }
  if (row.flapping) {
    lines.push_back({label(N_("Flapping")) + tr("the state keeps changing"), Tone::kWarning});
  }
}

// The summary, and the details line by line.
void add_text(Lines& lines, const CheckResult& result) {
  lines.push_back({label(N_("Summary")) + sanitize(result.summary), Tone::kNormal});
  if (result.details.empty()) return;
  lines.push_back({tr("Details"), Tone::kBold});
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
  lines.push_back({tr("Metrics, last 24 h"), Tone::kBold});
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

// An event's kind as the collector names it ("downtime_start"), as the history shows it:
// the name itself in English, translated else; a kind this console does not know, as is.
std::string shown_kind(const std::string& kind) {
  // TRANSLATORS: the kinds of the Check view's history events, 13 columns at most.
  static constexpr const char* kKinds[] = {N_("state"),
                                           N_("stale"),
                                           N_("fresh"),
                                           N_("flapping_start"),
                                           N_("flapping_stop"),
                                           N_("acknowledged"),
                                           N_("ack_removed"),
                                           N_("ack_expired"),
                                           N_("downtime_start"),
                                           N_("downtime_end"),
                                           N_("agent_lost"),
                                           N_("agent_back"),
                                           N_("site_unreachable"),
                                           N_("site_reachable"),
                                           N_("trap")};
  for (const char* known : kKinds) {
    if (kind == known) return tr(known);
  }
  return sanitize(kind);
}

// A state's name as the collector sends it ("CRITICAL"), as the console labels it.
std::string shown_state(const std::string& name) {
  for (int i = 0; i < 4; ++i) {
    if (state_name(static_cast<State>(i)) == name) return state_label(static_cast<State>(i));
  }
  return sanitize(name);
}

// The SNMP traps its device sent lately (kind "trap" in the history), newest first.
void add_traps(Lines& lines, const std::vector<HistoryEvent>& history) {
  std::size_t shown = 0;
  for (const HistoryEvent& e : history) {
    if (e.kind != "trap") continue;
    if (shown == 0) {
      lines.push_back({"", Tone::kNormal});
      lines.push_back({tr("Recent traps (newest first)"), Tone::kBold});
    }
    if (++shown > kTrapsShown) continue;
    const std::string& name = e.trap_name.empty() ? e.trap_oid : e.trap_name;
    std::string text = "  " + date_text(e.ts_ms) + "  " + pad(sanitize(name), 18) + " ";
    // TRANSLATORS: an SNMP inform (a trap that asks for a receipt).
    if (e.inform) text += tr("(inform) ");
    // Before the summary, which the width may cut.
    if (e.not_kept_before > 0) {
      text += formatn("[{n} not kept] ", "[{n} not kept] ", e.not_kept_before,
                      {{"n", std::to_string(e.not_kept_before)}});
    }
    text += sanitize(e.summary);
    lines.push_back({text, Tone::kWarning});
  }
  if (shown > kTrapsShown) {
    lines.push_back({"  " + format("and {n} more in the history below",
                                   {{"n", std::to_string(shown - kTrapsShown)}}),
                     Tone::kDim});
  }
}

void add_history(Lines& lines, const std::vector<HistoryEvent>& history, bool utf8) {
  lines.push_back({"", Tone::kNormal});
  lines.push_back({tr("History (newest first)"), Tone::kBold});
  if (history.empty()) lines.push_back({"  " + tr("no change recorded"), Tone::kDim});
  for (const HistoryEvent& e : history) {
    std::string text = "  " + date_text(e.ts_ms) + "  " + pad(shown_kind(e.kind), 13) + " ";
    Tone tone = Tone::kNormal;
    if (e.kind == "state") {
      text += shown_state(e.from) + (utf8 ? " → " : " -> ") + shown_state(e.to) + " (" +
              (e.state_type == "hard"   ? tr("hard")
               : e.state_type == "soft" ? tr("soft")
                                        : sanitize(e.state_type)) +
              ")  ";
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
  lines.push_back({tr("Notifications"), Tone::kBold});
  if (!notifications) {
    lines.push_back({"  " + tr("no notification history"), Tone::kDim});
    return;
  }
  if (notifications->empty()) lines.push_back({"  " + tr("none sent"), Tone::kDim});
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
    lines.push_back(
        {world.error.is_ok() ? tr("loading...") : tr("cannot load this check"), Tone::kDim});
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
