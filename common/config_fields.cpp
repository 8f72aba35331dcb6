#include "common/config_fields.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/duration.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();

// "1..64", or ">= 0" when there is no upper bound.
std::string range_text(std::int64_t min, std::int64_t max) {
  if (max == kNoMax) return ">= " + std::to_string(min);
  return std::to_string(min) + ".." + std::to_string(max);
}

std::string number_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", value);
  return buffer;
}

Status type_error(const Fields& fields, std::string_view key, std::string_view expected,
                  const json& got) {
  return field_error(fields.path_of(key),
                     "expected " + std::string(expected) + ", got " + got.type_name());
}

Status value_error(const Fields& fields, std::string_view key, const json& value,
                   std::string_view rule) {
  return field_error(fields.path_of(key), value_text(value) + ": " + std::string(rule));
}

// The member `key`, or null when absent.
const json* member(const Fields& fields, std::string_view key) {
  if (!fields.object.is_object()) return nullptr;
  const auto it = fields.object.find(key);
  return it == fields.object.end() ? nullptr : &*it;
}

}  // namespace

std::string field_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

std::string item_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

Status field_error(std::string_view path, std::string_view reason) {
  if (path.empty()) return Status::invalid(std::string(reason));
  std::string message(path);
  message += ": ";
  message += reason;
  return Status::invalid(std::move(message));
}

std::string quote(std::string_view text, std::size_t max) {
  std::string out = "\"";
  for (char c : text.substr(0, max)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || byte >= 0x80) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  if (text.size() > max) out += "...";
  return out + "\"";
}

std::string value_text(const json& value) {
  constexpr std::size_t kMax = 60;
  if (value.is_string()) return quote(value.get_ref<const std::string&>(), kMax);
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];  // row[i-1][j-1]
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string_view closest_match(std::string_view word,
                               std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

Status check_keys(const Fields& fields, std::span<const std::string_view> known,
                  std::span<const std::string_view> also_allowed) {
  if (!fields.object.is_object()) {
    return field_error(fields.path,
                       std::string("expected an object, got ") + fields.object.type_name());
  }
  const auto listed = [](std::span<const std::string_view> keys, std::string_view key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  for (const auto& [key, value] : fields.object.items()) {
    if (listed(known, key) || listed(also_allowed, key)) continue;
    std::vector<std::string_view> all(known.begin(), known.end());
    all.insert(all.end(), also_allowed.begin(), also_allowed.end());
    std::string reason = "unknown key";
    if (const std::string_view best = closest_match(key, all); !best.empty())
      reason += " (did you mean " + quote(best) + "?)";
    reason += "; known keys:";
    for (std::string_view k : known) reason += " " + std::string(k);
    // A key may hold anything, a NUL byte too: show it as a message can.
    const std::string shown = quote(key);
    const bool plain = shown.size() == key.size() + 2;
    return field_error(fields.path_of(plain ? std::string_view(key) : std::string_view(shown)),
                       reason);
  }
  return Status::ok();
}

Status check_keys(const Fields& fields, std::initializer_list<std::string_view> known,
                  std::span<const std::string_view> also_allowed) {
  return check_keys(fields, std::span<const std::string_view>(known.begin(), known.size()),
                    also_allowed);
}

Status read_object(const Fields& fields, std::string_view key, const json*& out, bool required) {
  const json* value = member(fields, key);
  if (value == nullptr) {
    return required ? field_error(fields.path_of(key), "required, an object") : Status::ok();
  }
  if (!value->is_object()) return type_error(fields, key, "an object", *value);
  out = value;
  return Status::ok();
}

Status read_string(const Fields& fields, std::string_view key, std::string& out, StringRule rule) {
  const json* value = member(fields, key);
  if (value != nullptr && value->is_null() && rule.null_is_absent) value = nullptr;
  if (value == nullptr) {
    return rule.required ? field_error(fields.path_of(key), "required, a string") : Status::ok();
  }
  if (!value->is_string()) return type_error(fields, key, "a string", *value);
  const std::string& text = value->get_ref<const std::string&>();
  if (text.empty() && !rule.allow_empty)
    return field_error(fields.path_of(key), "must not be empty");
  if (text.find('\0') != std::string::npos)
    return value_error(fields, key, *value, "must not contain a NUL byte");
  if (rule.max_bytes > 0 && text.size() > rule.max_bytes) {
    return Status(Code::kTooLarge, fields.path_of(key) + ": longer than " +
                                       std::to_string(rule.max_bytes) + " bytes");
  }
  out = text;
  return Status::ok();
}

Status read_absolute_path(const Fields& fields, std::string_view key, std::string& out,
                          bool required) {
  if (member(fields, key) == nullptr) {
    return required ? field_error(fields.path_of(key), "required, an absolute path") : Status::ok();
  }
  std::string text;
  if (Status s = read_string(fields, key, text); !s) return s;
  if (text.front() != '/')
    return value_error(fields, key, *member(fields, key), "must be an absolute path");
  out = std::move(text);
  return Status::ok();
}

Status read_strings(const Fields& fields, std::string_view key, std::vector<std::string>& out,
                    StringsRule rule) {
  const json* value = member(fields, key);
  if (value == nullptr) return Status::ok();
  const std::string path = fields.path_of(key);
  std::vector<std::string> strings;
  if (value->is_string() && rule.single_string) {
    if (Status s = read_string(fields, key, strings.emplace_back()); !s) return s;
    out = std::move(strings);
    return Status::ok();
  }
  if (!value->is_array()) {
    return type_error(
        fields, key, rule.single_string ? "a string or an array of strings" : "an array of strings",
        *value);
  }
  if (value->empty() && !rule.allow_empty_list) return field_error(path, "must not be empty");
  for (std::size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    const std::string item_key = "[" + std::to_string(i) + "]";
    const std::string item_at = path + item_key;
    if (!item.is_string()) {
      return field_error(item_at, std::string("expected a string, got ") + item.type_name());
    }
    const std::string& text = item.get_ref<const std::string&>();
    if (text.empty() && !rule.allow_empty_strings) return field_error(item_at, "must not be empty");
    if (text.find('\0') != std::string::npos)
      return field_error(item_at, value_text(item) + ": must not contain a NUL byte");
    strings.push_back(text);
  }
  out = std::move(strings);
  return Status::ok();
}

Status read_bool(const Fields& fields, std::string_view key, bool& out) {
  const json* value = member(fields, key);
  if (value == nullptr) return Status::ok();
  if (!value->is_boolean()) return type_error(fields, key, "true or false", *value);
  out = value->get<bool>();
  return Status::ok();
}

Status read_integer(const Fields& fields, std::string_view key, std::int64_t min, std::int64_t max,
                    std::optional<std::int64_t>& out) {
  const json* value = member(fields, key);
  if (value == nullptr) return Status::ok();
  const std::string range = range_text(min, max);
  if (!value->is_number_integer()) return type_error(fields, key, "an integer " + range, *value);
  const bool too_big = value->is_number_unsigned() &&
                       value->get<std::uint64_t>() > static_cast<std::uint64_t>(kNoMax);
  const std::int64_t number = too_big ? kNoMax : value->get<std::int64_t>();
  if (too_big || number < min || number > max) {
    return value_error(fields, key, *value,
                       max == kNoMax ? "must be " + range : "must be in " + range);
  }
  out = number;
  return Status::ok();
}

Status read_number(const Fields& fields, std::string_view key, double min, double max,
                   double& out) {
  const json* value = member(fields, key);
  if (value == nullptr) return Status::ok();
  const std::string range = number_text(min) + ".." + number_text(max);
  if (!value->is_number()) return type_error(fields, key, "a number " + range, *value);
  const double number = value->get<double>();
  if (!(number >= min && number <= max))
    return value_error(fields, key, *value, "must be in " + range);
  out = number;
  return Status::ok();
}

Status read_duration(const Fields& fields, std::string_view key, DurationRule rule,
                     std::optional<milliseconds>& out) {
  const json* value = member(fields, key);
  if (value == nullptr) return Status::ok();
  if (!value->is_string()) {
    return type_error(fields, key, "a duration such as \"30s\"", *value);
  }
  const std::string& text = value->get_ref<const std::string&>();
  if (rule.allow_off && (text == "0" || text == "off")) {
    out = milliseconds(0);
    return Status::ok();
  }
  auto parsed = parse_duration(text);
  if (!parsed) return field_error(fields.path_of(key), parsed.status().message());
  if (*parsed < rule.min)
    return value_error(fields, key, *value, "must be at least " + format_duration(rule.min));
  if (*parsed > rule.max)
    return value_error(fields, key, *value, "must be at most " + format_duration(rule.max));
  out = *parsed;
  return Status::ok();
}

Status read_duration(const Fields& fields, std::string_view key, DurationRule rule,
                     milliseconds& out) {
  std::optional<milliseconds> value;
  if (Status s = read_duration(fields, key, rule, value); !s) return s;
  if (value) out = *value;
  return Status::ok();
}

Status read_duration(const Fields& fields, std::string_view key, DurationRule rule,
                     std::chrono::seconds& out) {
  std::optional<milliseconds> value;
  if (Status s = read_duration(fields, key, rule, value); !s) return s;
  if (value) out = std::chrono::duration_cast<std::chrono::seconds>(*value);
  return Status::ok();
}

}  // namespace vigie
