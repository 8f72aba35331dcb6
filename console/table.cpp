#include "console/table.hpp"

#include <algorithm>

#include "common/human_text.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr int kGap = 2;
constexpr int kStateWidth = 8;  // "CRITICAL"
constexpr int kAgeWidth = 4;    // "59m", "364d"

int longest(const std::vector<CheckRow>& rows, int title, auto field) {
  int best = title;
  for (const CheckRow& row : rows) {
    best = std::max(best, static_cast<int>(columns(sanitize(field(row)))));
  }
  return best;
}

std::string right_align(std::string_view text, int width) {
  const auto used = static_cast<int>(columns(text));
  return used >= width
             ? std::string(text)
             : std::string(static_cast<std::size_t>(width - used), ' ') + std::string(text);
}

std::string join(const Layout& layout, std::string_view site, std::string_view check,
                 std::string_view state, std::string_view age, std::string_view summary) {
  const std::string gap(kGap, ' ');
  const auto w = [](const Column& c) { return static_cast<std::size_t>(c.width); };
  std::string line = pad(site, w(layout.site)) + gap + pad(check, w(layout.check)) + gap +
                     pad(state, w(layout.state)) + gap + right_align(age, layout.age.width) + gap +
                     std::string(cut(summary, w(layout.summary)));
  line.erase(line.find_last_not_of(' ') + 1);
  return line;
}

}  // namespace

Layout layout_columns(const std::vector<CheckRow>& rows, int width) {
  const int cap = std::max(8, width / 5);
  Layout layout;
  layout.site.width = std::min(cap, longest(rows, 4, [](const CheckRow& r) { return r.site; }));
  layout.check.width =
      std::min(cap, longest(rows, 5, [](const CheckRow& r) { return r.result.name; }));
  layout.state.width = kStateWidth;
  layout.age.width = kAgeWidth;
  layout.check.x = layout.site.x + layout.site.width + kGap;
  layout.state.x = layout.check.x + layout.check.width + kGap;
  layout.age.x = layout.state.x + layout.state.width + kGap;
  layout.summary.x = layout.age.x + layout.age.width + kGap;
  layout.summary.width = std::max(0, width - layout.summary.x);
  return layout;
}

RowText row_text(const CheckRow& row, std::int64_t now_ms) {
  RowText text;
  text.site = sanitize(row.site);
  text.check = sanitize(row.result.name);
  text.stale = row.stale;  // as the collector decided it
  text.state = text.stale ? "STALE" : std::string(state_name(row.result.status));
  text.age = short_age_text(std::chrono::milliseconds(now_ms - row.received_ms));
  text.summary = sanitize(row.result.summary);
  return text;
}

std::string format_titles(const Layout& layout) {
  return join(layout, "SITE", "CHECK", "STATE", "AGE", "SUMMARY");
}

std::string format_row(const RowText& row, const Layout& layout) {
  return join(layout, row.site, row.check, row.state, row.age, row.summary);
}

std::string format_plain_table(const std::vector<CheckRow>& rows, std::int64_t now_ms, int width) {
  if (rows.empty()) return "no checks yet\n";
  const Layout layout = layout_columns(rows, width);
  std::string out = format_titles(layout) + "\n";
  for (const CheckRow& row : rows) out += format_row(row_text(row, now_ms), layout) + "\n";
  return out;
}

}  // namespace vigie::console
