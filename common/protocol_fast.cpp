// decode_report(): simdjson's fast path, then protocol.cpp's careful one. Apart from
// protocol.cpp so that only the programs that decode reports (the collector) map
// simdjson; the agent only encodes them.
#include <cmath>
#include <new>
#include <optional>
#include <utility>

#include <simdjson.h>

#include "common/json_digits.hpp"
#include "common/perfdata.hpp"
#include "common/protocol.hpp"
#include "common/protocol_rules.hpp"

namespace vigie::protocol {
namespace {

using rules::is_check_id;
using rules::is_identifier;
using rules::is_label;
using rules::is_name;
using rules::is_unit;
using rules::kInt64Max;
using rules::kMaxIntervalS;
using rules::kMaxTsMs;

// The fast path of decode_report(): simdjson's on-demand parser reads a report straight
// into its structs, without building a document. It accepts only what the careful
// path (parse_json() and Reader, above) accepts and builds the same Report; at the
// first thing it is not sure of (an error, a duplicate key, a nested unknown member,
// a bound reached) it gives up, and the careful path decides and says why. So valid
// reports are fast and every error message comes from one place.
namespace fast {

namespace od = simdjson::ondemand;

// Bodies larger than this take the careful path, so that each thread's parser keeps
// a bounded buffer.
constexpr std::size_t kMaxFastBody = 4 * 1024 * 1024;

struct Budget {
  std::size_t values = 0;
  std::size_t max;
  bool take() { return ++values <= max; }
};

// One object's members, each read once: a key seen twice gives up (the careful path
// keeps the last one; this one would have read the first).
class Seen {
 public:
  bool first(int bit) {
    if (mask_ & (1u << bit)) return false;
    mask_ |= 1u << bit;
    return true;
  }
  bool has(int bit) const { return (mask_ & (1u << bit)) != 0; }

 private:
  unsigned mask_ = 0;
};

bool is_null(od::value& v) {
  bool null = false;
  return !v.is_null().get(null) && null;
}

bool read_string(od::value& v, std::size_t max, std::string& out) {
  std::string_view text;
  if (v.get_string().get(text) || text.size() > max) return false;
  out.assign(text);
  return true;
}

// An optional string: null leaves the default.
bool read_optional_string(od::value& v, std::size_t max, std::string& out) {
  if (is_null(v)) return true;
  return read_string(v, max, out);
}

bool read_int(od::value& v, std::int64_t min, std::int64_t max, std::int64_t& out) {
  od::number_type type;
  if (v.get_number_type().get(type) || type == od::number_type::floating_point_number) return false;
  std::int64_t n = 0;
  if (v.get_int64().get(n) || n < min || n > max) return false;
  out = n;
  return true;
}

bool read_optional_int(od::value& v, std::int64_t min, std::int64_t max, std::int64_t& out) {
  if (is_null(v)) return true;
  return read_int(v, min, max, out);
}

bool read_number(od::value& v, std::optional<double>& out) {
  if (is_null(v)) return true;
  double d = 0;
  if (!rules::digits_fit(v.raw_json_token()) || v.get_double().get(d) || !std::isfinite(d))
    return false;
  out = d;
  return true;
}

bool read_range(od::value& v, std::size_t max, std::optional<Range>& out) {
  if (is_null(v)) return true;
  std::string text;
  if (!read_string(v, max, text)) return false;
  auto range = parse_range(text);
  if (!range) return false;
  out = *range;
  return true;
}

// A member nobody reads: a scalar is checked (on-demand parsing would not) and
// counted; anything nested is left to the careful path, which bounds its depth.
bool skip(od::value& v, Budget& budget) {
  if (!budget.take()) return false;
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::string: {
      std::string_view t;
      return !v.get_string().get(t);
    }
    case od::json_type::number: {
      od::number n;
      return !v.get_number().get(n);
    }
    case od::json_type::boolean: {
      bool b;
      return !v.get_bool().get(b);
    }
    case od::json_type::null: return is_null(v);
    default: return false;
  }
}

bool read_metric(od::value& v, const Limits& limits, Budget& budget, Metric& metric) {
  od::object object;
  if (!budget.take() || v.get_object().get(object)) return false;
  Seen seen;
  for (auto field : object) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return false;
    bool ok;
    if (key == "name") {
      ok = seen.first(0) && budget.take() && read_string(value, limits.max_string, metric.label);
    } else if (key == "value") {
      ok = seen.first(1) && budget.take() && read_number(value, metric.value);
    } else if (key == "unit") {
      ok = seen.first(2) && budget.take() &&
           read_optional_string(value, limits.max_string, metric.unit);
    } else if (key == "warn") {
      ok = seen.first(3) && budget.take() && read_range(value, limits.max_string, metric.warn);
    } else if (key == "crit") {
      ok = seen.first(4) && budget.take() && read_range(value, limits.max_string, metric.crit);
    } else if (key == "min") {
      ok = seen.first(5) && budget.take() && read_number(value, metric.min);
    } else if (key == "max") {
      ok = seen.first(6) && budget.take() && read_number(value, metric.max);
    } else {
      ok = skip(value, budget);
    }
    if (!ok) return false;
  }
  return seen.has(0) && seen.has(1) && is_label(metric.label) && is_unit(metric.unit);
}

bool read_result(od::value& v, const Limits& limits, Budget& budget, CheckResult& result) {
  od::object object;
  if (!budget.take() || v.get_object().get(object)) return false;
  Seen seen;
  std::int64_t status = 0, max_attempts = 0;
  for (auto field : object) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return false;
    bool ok;
    if (key == "name") {
      ok = seen.first(0) && budget.take() && read_string(value, limits.max_string, result.name);
    } else if (key == "check") {
      ok = seen.first(1) && budget.take() && read_string(value, limits.max_string, result.check);
    } else if (key == "status") {
      ok = seen.first(2) && budget.take() && read_int(value, 0, 3, status);
    } else if (key == "summary") {
      ok = seen.first(3) && budget.take() && read_string(value, limits.max_summary, result.summary);
    } else if (key == "details") {
      ok = seen.first(4) && budget.take() &&
           read_optional_string(value, limits.max_details, result.details);
    } else if (key == "ts") {
      ok = seen.first(5) && budget.take() && read_int(value, 0, kMaxTsMs, result.ts_ms);
    } else if (key == "duration_ms") {
      ok = seen.first(6) && budget.take() && read_int(value, 0, kInt64Max, result.duration_ms);
    } else if (key == "interval_s") {
      ok = seen.first(7) && budget.take() && read_int(value, 1, kMaxIntervalS, result.interval_s);
    } else if (key == "max_attempts") {
      ok = seen.first(8) && budget.take() && read_optional_int(value, 1, 100, max_attempts);
    } else if (key == "site") {
      ok = seen.first(10) && budget.take() &&
           read_optional_string(value, limits.max_string, result.site);
    } else if (key == "metrics") {
      ok = seen.first(9) && budget.take();
      if (ok && !is_null(value)) {
        // A failed get_array() leaves `metrics` unusable: iterating it is undefined.
        od::array metrics;
        if (value.get_array().get(metrics)) return false;
        for (auto element : metrics) {
          if (!ok) break;
          od::value m;
          if (element.get(m) || result.metrics.size() >= limits.max_metrics) return false;
          Metric metric;
          ok = read_metric(m, limits, budget, metric);
          result.metrics.push_back(std::move(metric));
        }
      }
    } else {
      ok = skip(value, budget);
    }
    if (!ok) return false;
  }
  for (int bit : {0, 1, 2, 3, 5, 6, 7}) {
    if (!seen.has(bit)) return false;
  }
  result.status = static_cast<State>(status);
  result.max_attempts = static_cast<int>(max_attempts);
  return is_name(result.name) && is_check_id(result.check) &&
         (result.site.empty() || is_identifier(result.site));
}

bool read_agent(od::value& v, const Limits& limits, Budget& budget, AgentInfo& agent) {
  od::object object;
  if (!budget.take() || v.get_object().get(object)) return false;
  Seen seen;
  for (auto field : object) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return false;
    bool ok;
    if (key == "id") {
      ok = seen.first(0) && budget.take() && read_string(value, limits.max_string, agent.id);
    } else if (key == "site") {
      ok = seen.first(1) && budget.take() && read_string(value, limits.max_string, agent.site);
    } else if (key == "hostname") {
      ok = seen.first(2) && budget.take() &&
           read_optional_string(value, limits.max_string, agent.hostname);
    } else if (key == "version") {
      ok = seen.first(3) && budget.take() &&
           read_optional_string(value, limits.max_string, agent.version);
    } else {
      ok = skip(value, budget);
    }
    if (!ok) return false;
  }
  return seen.has(0) && seen.has(1) && is_identifier(agent.id) && is_identifier(agent.site);
}

bool read_spool(od::value& v, Budget& budget, std::optional<SpoolInfo>& out) {
  if (is_null(v)) return true;
  od::object object;
  if (v.get_object().get(object)) return false;
  SpoolInfo info;
  Seen seen;
  for (auto field : object) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return false;
    bool ok;
    if (key == "depth") {
      ok = seen.first(0) && budget.take() && read_optional_int(value, 0, kInt64Max, info.depth);
    } else if (key == "oldest") {
      ok = seen.first(1) && budget.take() && read_optional_int(value, 0, kMaxTsMs, info.oldest_ms);
    } else if (key == "dropped") {
      ok = seen.first(2) && budget.take() && read_optional_int(value, 0, kInt64Max, info.dropped);
    } else {
      ok = skip(value, budget);
    }
    if (!ok) return false;
  }
  out = info;
  return true;
}

std::optional<Report> decode(std::string_view body, const Limits& limits) {
  // The report's own nesting is 5 levels deep: a smaller bound is the careful path's.
  if (body.size() > kMaxFastBody || limits.max_depth < 5) return std::nullopt;
  // Only what starts as an object comes here. simdjson's on-demand parser assumes a
  // document has at least one structural character (an empty or blank body breaks that
  // assumption: undefined behaviour); the careful path explains anything else anyway.
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || body[first] != '{') return std::nullopt;
  thread_local od::parser parser;
  thread_local std::string padded;
  padded.assign(body);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  od::document doc;
  if (parser.iterate(padded.data(), body.size(), padded.size()).get(doc)) return std::nullopt;
  od::object root;
  if (doc.get_object().get(root)) return std::nullopt;

  Budget budget{.max = limits.max_values};
  Report report;
  Seen seen;
  std::int64_t protocol = 0, seq = 0;
  for (auto field : root) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return std::nullopt;
    bool ok;
    if (key == "protocol") {
      ok = seen.first(0) && budget.take() && read_int(value, kVersion, kVersion, protocol);
    } else if (key == "agent") {
      ok = seen.first(1) && read_agent(value, limits, budget, report.agent);
    } else if (key == "seq") {
      ok = seen.first(2) && budget.take() && read_int(value, 1, kInt64Max, seq);
    } else if (key == "sent") {
      ok = seen.first(3) && budget.take() && read_optional_int(value, 0, kMaxTsMs, report.sent_ms);
    } else if (key == "spool") {
      ok = seen.first(4) && budget.take() && read_spool(value, budget, report.spool);
    } else if (key == "results") {
      // A failed get_array() leaves `results` unusable: iterating it is undefined.
      od::array results;
      if (!seen.first(5) || !budget.take() || value.get_array().get(results)) return std::nullopt;
      ok = true;
      for (auto element : results) {
        if (!ok) break;
        od::value r;
        if (element.get(r) || report.results.size() >= limits.max_results) return std::nullopt;
        CheckResult result;
        ok = read_result(r, limits, budget, result);
        report.results.push_back(std::move(result));
      }
    } else if (key == "events") {
      return std::nullopt;  // rare: the careful decoder reads them
    } else {
      ok = skip(value, budget);
    }
    if (!ok) return std::nullopt;
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS)
    return std::nullopt;  // more after the object
  for (int bit : {0, 1, 2, 5}) {
    if (!seen.has(bit)) return std::nullopt;
  }
  report.protocol = kVersion;
  report.seq = static_cast<std::uint64_t>(seq);
  return report;
}

}  // namespace fast
}  // namespace

Result<Report> decode_report(std::string_view body, const Limits& limits) {
  if (auto report = fast::decode(body, limits)) return std::move(*report);
  return detail::decode_report_careful(body, limits);
}

std::optional<Report> detail::decode_report_fast(std::string_view body, const Limits& limits) {
  try {
    return fast::decode(body, limits);
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
}

}  // namespace vigie::protocol
