#include "console/table.hpp"

#include <algorithm>

#include "console/language.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr int kGap = 2;
constexpr int kStateWidth = 8;  // "CRITICAL"
constexpr int kAgeWidth = 4;    // "59m", "364d"

int width_of(std::string_view text) { return static_cast<int>(columns(text)); }

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
  // A column is never narrower than its title, in any language.
  layout.site.width = std::max(
      width_of(tr("SITE")),
      std::min(cap, longest(rows, width_of(tr("SITE")), [](const CheckRow& r) { return r.site; })));
  layout.check.width =
      std::max(width_of(tr("CHECK")),
               std::min(cap, longest(rows, width_of(tr("CHECK")),
                                     [](const CheckRow& r) { return r.result.name; })));
  layout.state.width =
      std::max({kStateWidth, width_of(tr("STATE")), width_of(tr("STALE")),
                width_of(state_label(State::kCritical)), width_of(state_label(State::kWarning)),
                width_of(state_label(State::kUnknown))});
  layout.age.width =
      std::max({kAgeWidth, width_of(tr("AGE")), width_of(short_age(std::chrono::minutes(59)))});
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
  text.state = text.stale ? tr("STALE") : state_label(row.result.status);
  text.age = short_age(std::chrono::milliseconds(now_ms - row.received_ms));
  text.summary = sanitize(row.result.summary);
  return text;
}

std::string format_titles(const Layout& layout) {
  return join(layout, tr("SITE"), tr("CHECK"), tr("STATE"), tr("AGE"), tr("SUMMARY"));
}

std::string format_row(const RowText& row, const Layout& layout) {
  return join(layout, row.site, row.check, row.state, row.age, row.summary);
}

std::string format_plain_table(const std::vector<CheckRow>& rows, std::int64_t now_ms, int width) {
  if (rows.empty()) return tr("no checks yet") + "\n";
  const Layout layout = layout_columns(rows, width);
  std::string out = format_titles(layout) + "\n";
  for (const CheckRow& row : rows) out += format_row(row_text(row, now_ms), layout) + "\n";
  return out;
}

}  // namespace vigie::console
