#pragma once
// Nagios performance data, as the plugin development guidelines define it:
//
//   'label'=value[UOM];[warn];[crit];[min];[max]  'other label'=...
//
// Labels may be quoted with single quotes (needed for spaces and '=') and a quote
// inside a quoted label is written twice (''). UOM is one of s, ms, us, %, B, KB, MB,
// GB, TB, c, or empty. warn and crit are ranges (see Range); min and max plain numbers;
// trailing fields may be dropped and inner ones left empty. The value may be "U".
// Numbers are read locale-independently ('.' decimal point, optional '-'); an exponent
// ("1.5e-3") is accepted though the guidelines do not show one, and never written:
// format_* write the shortest fixed-point text that reads back to the same double.

#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.hpp"
#include "common/status.hpp"

namespace vigie {

// Parses one threshold range: "10", "10:", "~:10", "10:20", "@10:20".
// Rejects an empty text, letters, and an inverted range (start > end).
Result<Range> parse_range(std::string_view text);
// The shortest text that parse_range() reads back as the same range.
std::string format_range(const Range& range);

// Parses a whole perfdata string (items separated by whitespace, as after the '|'
// of a plugin's output). An empty or all-blank string gives an empty list. Any bad
// item fails the whole parse with a message that quotes the item and says why.
Result<std::vector<Metric>> parse_perfdata(std::string_view text);
// Parses a single item "'label'=value[UOM];...".
Result<Metric> parse_metric(std::string_view item);

// The guideline form of one metric / of a list (items separated by one space).
// Labels are quoted only when needed. Trailing empty fields are omitted.
std::string format_metric(const Metric& metric);
std::string format_perfdata(const std::vector<Metric>& metrics);

// True for the units the guidelines allow ("" included).
bool is_known_unit(std::string_view unit);

}  // namespace vigie
