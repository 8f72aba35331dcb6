#pragma once
// Reading a configuration given as JSON: typed fields, unknown keys refused with a
// suggestion, and errors that name the field by its path.
//
//   const Fields collector{*it, "collector"};
//   if (Status s = check_keys(collector, kCollectorKeys); !s) return s;
//   if (Status s = read_string(collector, "url", url, {.required = true}); !s) return s;
//
// Every error is kInvalidArgument with the message "PATH: REASON", PATH naming the
// field the way a person finds it in the file ("collector.url", "checks[2].interval",
// "snmp.version", or just "warn" for a check's own parameter). The reasons read alike:
//   collector.url: required, a string
//   checks[2].interval: expected a duration such as "30s", got number
//   checks[2].interval: "0s": must be at least 1s
//   collector.tokn_file: unknown key (did you mean "token_file"?); known keys: url ...
// A reader leaves `out` untouched when the key is absent (so defaults live where `out`
// is declared) and when it returns an error (nothing half-read).
//
// Every function here is thread-safe and never throws.

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.hpp"

namespace vigie {

// --- paths and messages -----------------------------------------------------------------

// "snmp" + "version" -> "snmp.version"; "" + "warn" -> "warn".
std::string field_path(std::string_view parent, std::string_view key);
// "checks" + 2 -> "checks[2]".
std::string item_path(std::string_view parent, std::size_t index);
// kInvalidArgument "PATH: REASON" (just REASON when PATH is empty).
Status field_error(std::string_view path, std::string_view reason);

// `text` between double quotes for a message, at most `max` bytes of it ("..." after),
// control and non-ASCII bytes written \xNN: a config file or a program may hold anything.
std::string quote(std::string_view text, std::size_t max = 60);
// A JSON value as a message shows it: a string quote(), anything else as JSON, cut.
std::string value_text(const nlohmann::json& value);

// --- suggestions --------------------------------------------------------------------------

// Levenshtein distance: the fewest single-byte insertions, deletions and substitutions
// that turn `a` into `b`.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate nearest `word` (the first of equals), if it is a near miss: at most
// max(2, size/3) edits away. Empty when none is.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

// --- fields -----------------------------------------------------------------------------

// One JSON object of a configuration and the path that names it in messages ("" for
// the top, or for a check's own parameters). Holds a reference: the object must outlive
// it. Converts from a bare object, whose path is "".
struct Fields {
  Fields(const nlohmann::json& value, std::string path = {})  // NOLINT: implicit by design
      : object(value), path(std::move(path)) {}

  const nlohmann::json& object;
  std::string path;

  // The path of one of its keys: "collector" + "url" -> "collector.url".
  std::string path_of(std::string_view key) const { return field_path(path, key); }
};

// Refuses a value that is not an object, and any key that is neither in `known` nor in
// `also_allowed` (keys someone else reads, e.g. the agent's own keys on a check). The
// message suggests the nearest of both, and lists `known`.
Status check_keys(const Fields& fields, std::span<const std::string_view> known,
                  std::span<const std::string_view> also_allowed = {});
Status check_keys(const Fields& fields, std::initializer_list<std::string_view> known,
                  std::span<const std::string_view> also_allowed = {});

// An object member: `out` points at it, or stays null when absent and not `required`.
Status read_object(const Fields& fields, std::string_view key, const nlohmann::json*& out,
                   bool required = false);

struct StringRule {
  bool required = false;
  bool allow_empty = false;
  bool null_is_absent = false;  // a JSON null reads as an absent key
  std::size_t max_bytes = 0;    // 0: no limit; longer is kTooLarge
};
// A string. A NUL byte is always refused: a path or a name would end there.
Status read_string(const Fields& fields, std::string_view key, std::string& out,
                   StringRule rule = {});
// An absolute path (a string starting with '/').
Status read_absolute_path(const Fields& fields, std::string_view key, std::string& out,
                          bool required = false);

struct StringsRule {
  bool single_string = false;  // a bare "x" is read as ["x"]
  bool allow_empty_list = true;
  bool allow_empty_strings = false;  // "" as an item (an argument of a command)
};
// An array of strings; an error names the item ("hotspots[2]").
Status read_strings(const Fields& fields, std::string_view key, std::vector<std::string>& out,
                    StringsRule rule = {});

// true or false.
Status read_bool(const Fields& fields, std::string_view key, bool& out);

// A whole number in [min, max] (a range that T holds).
Status read_integer(const Fields& fields, std::string_view key, std::int64_t min, std::int64_t max,
                    std::optional<std::int64_t>& out);
template <std::integral T>
Status read_integer(const Fields& fields, std::string_view key, std::int64_t min, std::int64_t max,
                    T& out) {
  std::optional<std::int64_t> value;
  if (Status s = read_integer(fields, key, min, max, value); !s) return s;
  if (value) out = static_cast<T>(*value);
  return Status::ok();
}

// A number (integer or not) in [min, max].
Status read_number(const Fields& fields, std::string_view key, double min, double max, double& out);

struct DurationRule {
  std::chrono::milliseconds min{1000};
  std::chrono::milliseconds max = std::chrono::milliseconds::max();
  bool allow_off = false;  // "0" and "off" are read as 0
};
// A duration with its unit, as common/duration.hpp reads it: "500ms", "30s", "26h", "7d".
Status read_duration(const Fields& fields, std::string_view key, DurationRule rule,
                     std::optional<std::chrono::milliseconds>& out);
Status read_duration(const Fields& fields, std::string_view key, DurationRule rule,
                     std::chrono::milliseconds& out);
// Whole seconds (what is finer is dropped): for ages and thresholds of checks.
Status read_duration(const Fields& fields, std::string_view key, DurationRule rule,
                     std::chrono::seconds& out);

}  // namespace vigie
