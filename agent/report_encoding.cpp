#include "agent/report_encoding.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/gzip.hpp"
#include "common/perfdata.hpp"
#include "common/protocol_rules.hpp"
#include "common/utf8.hpp"

namespace vigie::agent {
namespace {

using nlohmann::json;
using protocol::rules::kInt64Max;
using protocol::rules::kMaxIntervalS;
using protocol::rules::kMaxTsMs;

std::string join(std::string_view parent, std::string_view key) {
  return std::string(parent) + "." + std::string(key);
}

// The checks of one field, in the words of the protocol's decoder; the first problem
// is kept.
class FieldCheck {
 public:
  explicit FieldCheck(std::string path) : path_(std::move(path)) {}
  const Status& status() const { return status_; }
  const std::string& path() const { return path_; }

  void string(std::string_view key, std::string_view text, std::size_t max_bytes,
              Status (*rule)(std::string_view) = nullptr) {
    if (!status_) return;
    if (text.size() > max_bytes) {
      status_ = Status::too_large(join(path_, key) + ": longer than " + std::to_string(max_bytes) +
                                  " bytes");
    } else if (rule != nullptr) {
      if (Status problem = rule(text); !problem) status_ = problem.with_context(join(path_, key));
    }
  }

  void integer(std::string_view key, std::int64_t value, std::int64_t min, std::int64_t max,
               std::string_view expected) {
    if (!status_ || (value >= min && value <= max)) return;
    status_ = Status::invalid(join(path_, key) + ": expected " + std::string(expected) +
                              ", got number " + std::to_string(value));
  }

  void range(std::string_view key, const std::optional<Range>& range, std::size_t max_bytes) {
    if (!status_ || !range) return;
    const std::string text = format_range(*range);
    string(key, text, max_bytes);
    if (!status_) return;
    if (auto back = parse_range(text); !back)
      status_ = back.status().with_context(join(path_, key));
  }

 private:
  std::string path_;
  Status status_;
};

Status validate_metric(const Metric& metric, std::string path, const protocol::Limits& limits) {
  FieldCheck in(std::move(path));
  in.string("name", metric.label, limits.max_string, protocol::rules::is_label);
  // A non-finite value, min or max is written as null or left out: nothing to refuse.
  in.string("unit", metric.unit, limits.max_string, protocol::rules::is_unit);
  in.range("warn", metric.warn, limits.max_string);
  in.range("crit", metric.crit, limits.max_string);
  return in.status();
}

}  // namespace

Status validate_result(const CheckResult& result, const protocol::Limits& limits) {
  FieldCheck in("result");
  in.string("name", result.name, limits.max_string, protocol::rules::is_name);
  in.string("check", result.check, limits.max_string, protocol::rules::is_check_id);
  in.integer("status", static_cast<std::int64_t>(result.status), 0, 3, "an integer 0..3");
  in.string("summary", result.summary, limits.max_summary);
  in.string("details", result.details, limits.max_details);
  in.integer("ts", result.ts_ms, 0, kMaxTsMs,
             "an integer >= 0 (ms since the epoch, before year 10000)");
  in.integer("duration_ms", result.duration_ms, 0, kInt64Max, "an integer >= 0");
  in.integer("interval_s", result.interval_s, 1, kMaxIntervalS,
             "an integer 1.." + std::to_string(kMaxIntervalS));
  // 0 is not written: the decoder's default.
  if (result.max_attempts != 0) {
    in.integer("max_attempts", result.max_attempts, 1, 100, "an integer 1..100");
  }
  if (!in.status()) return in.status();
  if (result.metrics.size() > limits.max_metrics) {
    return Status::too_large("result.metrics: " + std::to_string(result.metrics.size()) +
                             " metrics, more than the limit of " +
                             std::to_string(limits.max_metrics));
  }
  for (std::size_t i = 0; i < result.metrics.size(); ++i) {
    const std::string path = "result.metrics[" + std::to_string(i) + "]";
    if (Status s = validate_metric(result.metrics[i], path, limits); !s) return s;
  }
  return Status::ok();
}

CheckResult fit_to_protocol(CheckResult result, const protocol::Limits& limits) {
  // Limits are checked on what the collector will read.
  for (std::string* text : {&result.name, &result.check, &result.summary, &result.details}) {
    if (!is_utf8(*text)) *text = valid_utf8(*text);
  }
  result.summary = cut_utf8(std::move(result.summary), limits.max_summary);
  result.details = cut_utf8(std::move(result.details), limits.max_details);
  if (result.metrics.size() > limits.max_metrics) result.metrics.resize(limits.max_metrics);
  for (Metric& metric : result.metrics) {
    for (std::string* text : {&metric.label, &metric.unit}) {
      if (!is_utf8(*text)) *text = valid_utf8(*text);
    }
  }
  const Status valid = validate_result(result, limits);
  if (valid) return result;
  CheckResult fallback;
  fallback.name = std::move(result.name);
  fallback.check = std::move(result.check);
  fallback.status = State::kUnknown;
  fallback.summary =
      cut_utf8("the check's result cannot be reported: " + valid.message(), limits.max_summary);
  fallback.ts_ms = result.ts_ms;
  fallback.duration_ms = result.duration_ms;
  fallback.interval_s = result.interval_s;
  return fallback;
}

std::string encode_result(const CheckResult& result) {
  return protocol::result_to_json(result).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_event(const protocol::Event& event) {
  return protocol::event_to_json(event).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string assemble_report(const protocol::Report& head, std::span<const std::string> results,
                            std::span<const std::string> events) {
  // The members in the order nlohmann's object (a std::map) writes them: by name.
  json agent = json::object();
  agent["id"] = head.agent.id;
  agent["site"] = head.agent.site;
  if (!head.agent.hostname.empty()) agent["hostname"] = head.agent.hostname;
  if (!head.agent.version.empty()) agent["version"] = head.agent.version;
  const auto dump = [](const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  std::size_t size = 160;
  for (const auto& r : results) size += r.size() + 1;
  for (const auto& e : events) size += e.size() + 1;
  std::string out;
  out.reserve(size);
  out += "{\"agent\":";
  out += dump(agent);
  if (!events.empty()) {
    out += ",\"events\":[";
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (i > 0) out += ',';
      out += events[i];
    }
    out += ']';
  }
  out += ",\"protocol\":";
  out += std::to_string(head.protocol);
  out += ",\"results\":[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i > 0) out += ',';
    out += results[i];
  }
  out += ']';
  if (head.sent_ms != 0) {
    out += ",\"sent\":";
    out += std::to_string(head.sent_ms);
  }
  out += ",\"seq\":";
  out += std::to_string(head.seq);
  if (head.spool) {
    out += ",\"spool\":";
    out += dump({{"depth", head.spool->depth},
                 {"dropped", head.spool->dropped},
                 {"oldest", head.spool->oldest_ms}});
  }
  out += '}';
  return out;
}

Body encode_body(std::string json_text, std::size_t gzip_above) {
  Body body{std::move(json_text), false};
  if (body.data.size() > gzip_above) {
    std::string compressed = gzip_compress(body.data);
    if (!compressed.empty()) body = {std::move(compressed), true};
  }
  return body;
}

}  // namespace vigie::agent
