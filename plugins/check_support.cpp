#include "plugins/check_support.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <stdexcept>

#include "common/duration.hpp"
#include "common/json_parse.hpp"

namespace vigie::plugins {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kBlank = " \t\r\n\v\f";
constexpr std::size_t kMaxLine = 300;

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlank) - first + 1);
}

std::string cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max)) + "...";
}

bool is_variable_name(std::string_view name) {
  const auto word = [](char c, bool first) {
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
  };
  if (name.empty() || !word(name[0], true)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return word(c, false); });
}

// Digits at text[pos, pos+count) as a number, or -1.
int digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm): no time zone,
// no dependence on the process's TZ.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

Status check_parameters(const nlohmann::json& params,
                        std::initializer_list<std::string_view> known) {
  return check_keys(params, known, kAgentKeys);
}

Status read_size(const Fields& params, std::string_view key, double& out) {
  const auto it = params.object.find(key);
  if (it == params.object.end()) return Status::ok();
  const std::string usage =
      "must be a size in bytes (a number >= 0) or a string such as \"10MB\" or \"2GiB\"";
  const auto refuse = [&] {
    return field_error(params.path_of(key), value_text(*it) + ": " + usage);
  };
  if (it->is_number()) {
    const double value = it->get<double>();
    if (!(value >= 0) || !std::isfinite(value)) return refuse();
    out = value;
    return Status::ok();
  }
  if (!it->is_string()) {
    return field_error(params.path_of(key),
                       "expected a size such as \"10MB\", got " + std::string(it->type_name()));
  }
  const std::string_view text = it->get_ref<const std::string&>();
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || !(number >= 0) || !std::isfinite(number)) return refuse();
  const std::string_view unit = text.substr(static_cast<std::size_t>(end - text.data()));
  static constexpr std::pair<std::string_view, double> kUnits[] = {{"B", 1},
                                                                   {"kB", 1e3},
                                                                   {"KB", 1e3},
                                                                   {"MB", 1e6},
                                                                   {"GB", 1e9},
                                                                   {"TB", 1e12},
                                                                   {"KiB", 1024.0},
                                                                   {"MiB", 1048576.0},
                                                                   {"GiB", 1073741824.0},
                                                                   {"TiB", 1099511627776.0}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      out = number * factor;
      return Status::ok();
    }
  }
  return refuse();
}

Status read_command(const Fields& params, std::string_view key, std::vector<std::string>& out) {
  const auto it = params.object.find(key);
  if (it == params.object.end()) return Status::ok();
  const std::string path = params.path_of(key);
  std::vector<std::string> argv;
  if (it->is_string()) {
    std::string program;
    if (Status s = read_string(params, key, program); !s) return s;
    argv.push_back(std::move(program));
  } else if (it->is_array()) {
    if (Status s = read_strings(params, key, argv,
                                {.allow_empty_list = false, .allow_empty_strings = true});
        !s) {
      return s;
    }
    if (argv[0].empty()) return field_error(item_path(path, 0), "must name a program");
  } else {
    return field_error(path,
                       "expected a program (a name or an absolute path) or an array of "
                       "strings, got " +
                           std::string(it->type_name()));
  }
  if (argv[0].find('/') != std::string::npos && argv[0][0] != '/') {
    return field_error(it->is_array() ? item_path(path, 0) : path,
                       quote(argv[0]) + ": must be an absolute path or a bare program name");
  }
  out = std::move(argv);
  return Status::ok();
}

Status read_environment(const Fields& params, std::string_view key,
                        std::vector<std::string>& environment) {
  const nlohmann::json* object = nullptr;
  if (Status s = read_object(params, key, object); !s || object == nullptr) return s;
  const Fields variables{*object, params.path_of(key)};
  std::vector<std::string> result = environment;
  for (const auto& [name, value] : object->items()) {
    if (!is_variable_name(name)) {
      return field_error(variables.path,
                         quote(name) + " is not a variable name (letters, digits, '_')");
    }
    std::string text;
    if (Status s = read_string(variables, name, text, {.allow_empty = true}); !s) return s;
    const std::string prefix = name + "=";
    const auto same = std::find_if(result.begin(), result.end(),
                                   [&](const std::string& e) { return e.starts_with(prefix); });
    if (same != result.end()) {
      *same = prefix + text;
    } else {
      result.push_back(prefix + text);
    }
  }
  environment = std::move(result);
  return Status::ok();
}

Status read_percent_thresholds(const Fields& params, double& warn, double& crit) {
  double w = warn;
  double c = crit;
  if (Status s = read_number(params, "warn", 0, 100, w); !s) return s;
  if (Status s = read_number(params, "crit", 0, 100, c); !s) return s;
  if (w > c) {
    return field_error(params.path_of("warn"),
                       number_text(w) + "% is above crit (" + number_text(c) + "%)");
  }
  warn = w;
  crit = c;
  return Status::ok();
}

State above(double value, double warn, double crit, std::string_view unit, std::string& note) {
  if (value > crit) {
    note = " (CRITICAL > " + number_text(crit) + std::string(unit) + ")";
    return State::kCritical;
  }
  if (value > warn) {
    note = " (WARNING > " + number_text(warn) + std::string(unit) + ")";
    return State::kWarning;
  }
  note.clear();
  return State::kOk;
}

State older_than(std::int64_t age_seconds, std::chrono::seconds warn, std::chrono::seconds crit,
                 std::string& note) {
  if (age_seconds > crit.count()) {
    note = " (CRITICAL > " + format_duration(crit) + ")";
    return State::kCritical;
  }
  if (age_seconds > warn.count()) {
    note = " (WARNING > " + format_duration(warn) + ")";
    return State::kWarning;
  }
  note.clear();
  return State::kOk;
}

Status check_order(std::chrono::milliseconds warn, std::chrono::milliseconds crit,
                   std::string_view warn_path, std::string_view crit_key) {
  if (warn <= crit) return Status::ok();
  return field_error(warn_path, format_duration(warn) + " is above " + std::string(crit_key) +
                                    " (" + format_duration(crit) + ")");
}

Result<ProcessResult> run_until(const std::vector<std::string>& argv,
                                std::chrono::steady_clock::time_point deadline,
                                const std::vector<std::string>& environment, std::size_t max_output,
                                const std::vector<Capability>& capabilities) {
  const auto now = Clock::now();
  const std::string program = argv.empty() ? std::string("program") : argv[0];
  if (deadline <= now) return Status::timeout("no time left before the deadline to run " + program);
  ProcessOptions options;
  options.timeout = std::chrono::duration_cast<milliseconds>(deadline - now);
  options.max_output = max_output;
  options.environment = environment;
  options.capabilities = capabilities;
  auto result = run_process(argv, options);
  if (!result) return result.status();
  if (result->ending == ProcessResult::Ending::kTimedOut) {
    return Status::timeout(program + " timed out after " +
                           number_text(std::round(options.timeout.count() / 100.0) / 10) + " s");
  }
  return result;
}

std::string last_line(std::string_view text) {
  text = trim(text);
  const auto newline = text.find_last_of('\n');
  if (newline != std::string_view::npos) text = text.substr(newline + 1);
  return cut(trim(text), kMaxLine);
}

std::string first_line(std::string_view text) {
  text = trim(text);
  return cut(trim(text.substr(0, text.find('\n'))), kMaxLine);
}

std::vector<std::string> split_words(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\n\v\f\r";
  std::vector<std::string> words;
  for (auto start = text.find_first_not_of(kBlanks); start != std::string_view::npos;) {
    const auto end = text.find_first_of(kBlanks, start);
    words.emplace_back(text.substr(start, end - start));
    start = text.find_first_not_of(kBlanks, end);
  }
  return words;
}

Result<nlohmann::json> parse_json_output(std::string_view text, std::string_view what,
                                         int max_depth) {
  if (trim(text).empty()) return Status(Code::kCorruption, std::string(what) + ": empty output");
  auto parsed = parse_json(text, {.max_depth = max_depth});
  if (parsed) return parsed;
  const std::string& why = parsed.status().message();
  if (why.starts_with("nested"))
    return Status(Code::kCorruption, std::string(what) + ": JSON " + why);
  return Status(Code::kCorruption, std::string(what) + ": not valid JSON (" + cut(why, 200) + ")");
}

std::optional<std::int64_t> parse_timestamp(std::string_view text, bool local_if_no_zone) {
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 19 || text.size() > 64) return std::nullopt;
  const int year = digits(text, 0, 4);
  const int month = digits(text, 5, 2);
  const int day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2);
  const int minute = digits(text, 14, 2);
  const int second = digits(text, 17, 2);
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') || text[13] != ':' ||
      text[16] != ':')
    return std::nullopt;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60)
    return std::nullopt;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  const std::int64_t civil =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second;
  const auto zone = text.substr(pos);
  if (zone.empty()) {
    if (!local_if_no_zone) return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    const std::time_t local = ::mktime(&tm);
    if (local == static_cast<std::time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(local);
  }
  if (zone == "Z" || zone == "z") return civil;
  // +HH:MM or +HHMM
  if ((zone[0] != '+' && zone[0] != '-') || (zone.size() != 6 && zone.size() != 5))
    return std::nullopt;
  const int zone_hours = digits(zone, 1, 2);
  const int zone_minutes = digits(zone, zone.size() == 6 ? 4 : 3, 2);
  if (zone_hours < 0 || zone_hours > 23 || zone_minutes < 0 || zone_minutes > 59 ||
      (zone.size() == 6 && zone[3] != ':'))
    return std::nullopt;
  const int offset = (zone_hours * 3600 + zone_minutes * 60) * (zone[0] == '-' ? -1 : 1);
  return civil - offset;
}

std::string utc_text(std::int64_t epoch_seconds) {
  const std::time_t time = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  if (::gmtime_r(&time, &tm) == nullptr) return std::to_string(epoch_seconds);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &tm);
  return buffer;
}

std::string number_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", value);
  return buffer;
}

Outcome unknown_outcome(std::string summary, std::string details) {
  Outcome outcome;
  outcome.status = State::kUnknown;
  outcome.summary = std::move(summary);
  outcome.details = std::move(details);
  return outcome;
}

Metric threshold_metric(std::string label, double value, std::string unit,
                        std::optional<double> warn, std::optional<double> crit,
                        std::optional<double> min, std::optional<double> max) {
  Metric metric;
  metric.label = std::move(label);
  metric.value = value;
  metric.unit = std::move(unit);
  if (warn) metric.warn = Range{0, *warn};
  if (crit) metric.crit = Range{0, *crit};
  metric.min = min;
  metric.max = max;
  return metric;
}

}  // namespace vigie::plugins
