#include "common/perfdata.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

namespace vigie {
namespace {

constexpr std::string_view kUnits[] = {"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"};
constexpr std::string_view kUnitList = "s, ms, us, %, B, KB, MB, GB, TB, c";
constexpr double kInfinity = std::numeric_limits<double>::infinity();
// Longer input is cut when quoted in an error message.
constexpr std::size_t kQuoteMax = 80;

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `text` in double quotes for an error message, cut at a UTF-8 boundary when long.
std::string quote(std::string_view text) {
  if (text.size() <= kQuoteMax) return "\"" + std::string(text) + "\"";
  std::size_t cut = kQuoteMax;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(text.substr(0, cut)) + "...\"";
}

struct Number {
  double value;
  std::size_t length;  // characters read
};

// Reads a decimal number at the start of `text`: an optional '-', digits with an
// optional fraction, and an optional exponent ("1.5e-3"). The guidelines only show
// [-0-9.], but some plugins print exponents, so we accept them. from_chars is
// locale-independent; it would also take "inf" and "nan", which the first-character
// test and the finiteness test keep out.
std::optional<Number> read_number(std::string_view text) {
  const std::size_t sign = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() <= sign || !(is_digit(text[sign]) || text[sign] == '.')) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !std::isfinite(value)) return std::nullopt;
  return Number{value, static_cast<std::size_t>(end - text.data())};
}

// A whole field that must be one number and nothing else.
std::optional<double> full_number(std::string_view text) {
  const auto number = read_number(text);
  if (!number || number->length != text.size()) return std::nullopt;
  return number->value;
}

// `digits` (the first not 0) with the first at the power of ten `exponent`, in fixed
// notation.
std::string fixed_notation(bool negative, const std::string& digits, int exponent) {
  const std::string sign = negative ? "-" : "";
  const int point = exponent + 1;  // digits before the decimal point
  const auto size = static_cast<int>(digits.size());
  if (point <= 0) return sign + "0." + std::string(-point, '0') + digits;
  if (point >= size) return sign + digits + std::string(point - size, '0');
  return sign + digits.substr(0, point) + "." + digits.substr(point);
}

bool reads_back(const std::string& text, double value) {
  double back = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), back);
  return ec == std::errc() && back == value;
}

// Shortest text that reads back as the same double, always in fixed notation (the
// guidelines' grammar has no exponent): what std::to_chars(..., chars_format::fixed)
// writes, found with printf, as std::to_chars's tables would add 130 KB to the agent
// (docs/performance.md, "Agent footprint"). printf's "%.*e" rounds correctly to a
// number of digits: the first count whose digits read back is the shortest, 17 always do.
std::string format_number(double value) {
  if (std::isnan(value)) return std::signbit(value) ? "-nan" : "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  if (std::fabs(value) >= 0x1p53) {  // an integer: its exact digits are as short and closer
    std::array<char, 320> buffer;    // 1.8e308 has 309 digits
    const int size = std::snprintf(buffer.data(), buffer.size(), "%.0f", value);
    return std::string(buffer.data(), static_cast<std::size_t>(size));
  }
  const bool negative = std::signbit(value);
  std::string text;
  for (int precision = 0; precision < 17; ++precision) {
    // "-d.ddde-ddd"; the decimal point is the locale's, so only digits are kept.
    std::array<char, 32> buffer;
    const int size = std::snprintf(buffer.data(), buffer.size(), "%.*e", precision, value);
    const std::string_view scientific(buffer.data(), static_cast<std::size_t>(size));
    const auto e = scientific.find('e');
    std::string digits;
    for (const char c : scientific.substr(0, e)) {
      if (is_digit(c)) digits += c;
    }
    const auto power = scientific.substr(e + (scientific[e + 1] == '+' ? 2 : 1));
    int exponent = 0;
    std::from_chars(power.data(), power.data() + power.size(), exponent);
    text = fixed_notation(negative, digits, exponent);
    if (reads_back(text, value)) return text;
    // At a power of two the doubles above are twice as far apart as those below: the
    // next number of as many digits away from zero may read back when the nearest does
    // not.
    std::size_t i = digits.size();
    while (i > 0 && digits[i - 1] == '9') digits[--i] = '0';
    if (i > 0) {
      ++digits[i - 1];
    } else {
      digits.insert(digits.begin(), '1');
      digits.pop_back();
      ++exponent;
    }
    text = fixed_notation(negative, digits, exponent);
    if (reads_back(text, value)) return text;
  }
  return text;  // not reached: 17 digits read back
}

Status range_error(std::string_view text, std::string_view why) {
  return Status::invalid("range " + quote(text) + ": " + std::string(why));
}

// Splits `text` at each ';'.
std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  for (;;) {
    const auto semicolon = text.find(';');
    fields.push_back(text.substr(0, semicolon));
    if (semicolon == std::string_view::npos) return fields;
    text.remove_prefix(semicolon + 1);
  }
}

bool needs_quotes(std::string_view label) {
  for (const char c : label) {
    if (is_blank(c) || c == '\'' || c == '=') return true;
  }
  return false;
}

}  // namespace

bool is_known_unit(std::string_view unit) {
  for (const auto known : kUnits) {
    if (unit == known) return true;
  }
  return false;
}

Result<Range> parse_range(std::string_view text) {
  Range range;
  std::string_view rest = text;
  if (!rest.empty() && rest[0] == '@') {
    range.inside = true;
    rest.remove_prefix(1);
  }
  if (rest.empty()) return range_error(text, "empty");
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) {
    // "10" is 0..10.
    const auto end = full_number(rest);
    if (!end) return range_error(text, quote(rest) + " is not a number");
    range.end = *end;
  } else {
    const std::string_view start = rest.substr(0, colon);
    const std::string_view end = rest.substr(colon + 1);
    if (start == "~") {
      range.start = -kInfinity;
    } else if (!start.empty()) {  // ":10" is 0..10, as in the Nagios plugins
      const auto value = full_number(start);
      if (!value) return range_error(text, "start " + quote(start) + " is not a number or ~");
      range.start = *value;
    }
    if (!end.empty()) {
      const auto value = full_number(end);
      if (!value) return range_error(text, "end " + quote(end) + " is not a number");
      range.end = *value;
    }
  }
  if (range.start > range.end) {
    return range_error(text, "inverted range (start " + format_number(range.start) +
                                 " is greater than end " + format_number(range.end) + ")");
  }
  return range;
}

std::string format_range(const Range& range) {
  std::string out = range.inside ? "@" : "";
  const bool bounded = range.end != kInfinity;
  if (range.start == 0 && bounded) return out + format_number(range.end);
  out += range.start == -kInfinity ? "~" : format_number(range.start);
  out += ':';
  if (bounded) out += format_number(range.end);
  return out;
}

Result<Metric> parse_metric(std::string_view item) {
  const auto fail = [item](std::string_view why) {
    return Status::invalid("perfdata " + quote(item) + ": " + std::string(why));
  };
  Metric metric;
  std::string_view rest;  // what follows the '='
  if (!item.empty() && item[0] == '\'') {
    // A quoted label ends at the first quote that is not doubled.
    std::size_t i = 1;
    for (;;) {
      const auto q = item.find('\'', i);
      if (q == std::string_view::npos) return fail("unterminated quote in the label");
      metric.label.append(item.substr(i, q - i));
      if (q + 1 < item.size() && item[q + 1] == '\'') {
        metric.label += '\'';
        i = q + 2;
        continue;
      }
      i = q + 1;
      break;
    }
    if (i >= item.size() || item[i] != '=') return fail("missing '=' after the quoted label");
    rest = item.substr(i + 1);
  } else {
    const auto equals = item.find('=');
    if (equals == std::string_view::npos) return fail("missing '=' between label and value");
    metric.label = std::string(item.substr(0, equals));
    for (const char c : metric.label) {
      if (c == '\'') return fail("quote inside an unquoted label (quote it and double the ')");
      if (is_blank(c)) return fail("whitespace inside an unquoted label (quote the label)");
    }
    rest = item.substr(equals + 1);
  }
  if (metric.label.empty()) return fail("empty label");

  const auto fields = split_fields(rest);
  if (fields.size() > 5) return fail("too many fields (at most value;warn;crit;min;max)");

  const std::string_view value = fields[0];
  if (value.empty()) return fail("missing value");
  if (value != "U") {
    const auto number = read_number(value);
    if (!number) return fail("value " + quote(value) + " is not a number or U");
    metric.value = number->value;
    metric.unit = std::string(value.substr(number->length));
    if (!is_known_unit(metric.unit)) {
      return fail("unknown unit " + quote(metric.unit) + " (expected " + std::string(kUnitList) +
                  " or none)");
    }
  }

  // A field past the end is absent, like an empty one.
  const auto field = [&fields](std::size_t i) {
    return i < fields.size() ? fields[i] : std::string_view();
  };
  const auto read_range = [&](std::size_t i, std::string_view name, std::optional<Range>& out) {
    if (field(i).empty()) return Status::ok();
    auto range = parse_range(field(i));
    if (!range) return fail(std::string(name) + ": " + range.status().message());
    out = *range;
    return Status::ok();
  };
  const auto read_bound = [&](std::size_t i, std::string_view name, std::optional<double>& out) {
    if (field(i).empty()) return Status::ok();
    out = full_number(field(i));
    if (!out) return fail(std::string(name) + " " + quote(field(i)) + " is not a number");
    return Status::ok();
  };
  if (Status s = read_range(1, "warn", metric.warn); !s) return s;
  if (Status s = read_range(2, "crit", metric.crit); !s) return s;
  if (Status s = read_bound(3, "min", metric.min); !s) return s;
  if (Status s = read_bound(4, "max", metric.max); !s) return s;
  return metric;
}

Result<std::vector<Metric>> parse_perfdata(std::string_view text) {
  std::vector<Metric> metrics;
  std::size_t i = 0;
  for (;;) {
    while (i < text.size() && is_blank(text[i])) ++i;
    if (i == text.size()) return metrics;
    const std::size_t start = i;
    if (text[i] == '\'') {
      // Skip the quoted label, which may hold blanks. Unterminated, the item runs to
      // the end and parse_metric() says so.
      ++i;
      for (;;) {
        i = text.find('\'', i);
        if (i == std::string_view::npos) {
          i = text.size();
          break;
        }
        ++i;
        if (i < text.size() && text[i] == '\'') {
          ++i;
          continue;
        }
        break;
      }
    }
    while (i < text.size() && !is_blank(text[i])) ++i;
    auto metric = parse_metric(text.substr(start, i - start));
    if (!metric) return metric.status();
    metrics.push_back(std::move(*metric));
  }
}

std::string format_metric(const Metric& metric) {
  std::string out;
  if (needs_quotes(metric.label)) {
    out += '\'';
    for (const char c : metric.label) {
      if (c == '\'') out += '\'';
      out += c;
    }
    out += '\'';
  } else {
    out += metric.label;
  }
  out += '=';
  if (metric.value) {
    out += format_number(*metric.value);
    out += metric.unit;
  } else {
    out += 'U';
  }
  const std::string fields[] = {
      metric.warn ? format_range(*metric.warn) : "",
      metric.crit ? format_range(*metric.crit) : "",
      metric.min ? format_number(*metric.min) : "",
      metric.max ? format_number(*metric.max) : "",
  };
  std::size_t used = std::size(fields);
  while (used > 0 && fields[used - 1].empty()) --used;
  for (std::size_t i = 0; i < used; ++i) {
    out += ';';
    out += fields[i];
  }
  return out;
}

std::string format_perfdata(const std::vector<Metric>& metrics) {
  std::string out;
  for (const auto& metric : metrics) {
    if (!out.empty()) out += ' ';
    out += format_metric(metric);
  }
  return out;
}

}  // namespace vigie
