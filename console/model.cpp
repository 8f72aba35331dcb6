#include "console/model.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/protocol.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxQuoted = 40;  // columns of a bad value quoted in an error

std::string describe(const json& value) {
  switch (value.type()) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::null: return "null";
    default: break;
  }
  const std::string text = sanitize(value.dump(-1, ' ', false, json::error_handler_t::replace));
  const std::string_view shown = cut(text, kMaxQuoted);
  return shown.size() < text.size() ? std::string(shown) + "..." : text;
}

Status wrong(std::string_view path, std::string_view expected, const json& got) {
  return Status::invalid(std::string(path) + ": expected " + std::string(expected) + ", got " +
                         describe(got));
}

enum class Need { kRequired, kOptional };

// Reads the fields of one JSON object into typed variables, naming each field by its
// path in errors. The first error sticks: later reads do nothing.
class FieldReader {
 public:
  FieldReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  void string(std::string_view key, std::string& out, Need need = Need::kRequired) {
    const json* value = find(key, need);
    if (value == nullptr) return;
    if (!value->is_string()) return fail(wrong(where(key), "a string", *value));
    out = value->get<std::string>();
  }

  void integer(std::string_view key, std::int64_t min, std::int64_t max, std::int64_t& out,
               Need need = Need::kRequired) {
    const json* value = find(key, need);
    if (value == nullptr) return;
    const std::string expected =
        max == std::numeric_limits<std::int64_t>::max()
            ? "an integer >= " + std::to_string(min)
            : "an integer " + std::to_string(min) + ".." + std::to_string(max);
    std::int64_t v = 0;
    if (value->is_number_unsigned()) {
      const auto u = value->get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(max)) return fail(wrong(where(key), expected, *value));
      v = static_cast<std::int64_t>(u);
    } else if (value->is_number_integer()) {
      v = value->get<std::int64_t>();
    } else {
      return fail(wrong(where(key), expected, *value));
    }
    if (v < min || v > max) return fail(wrong(where(key), expected, *value));
    out = v;
  }

  // The member `key`, or nullptr when it is absent (an error if required) or when an
  // earlier read failed.
  const json* find(std::string_view key, Need need) {
    if (!status_.is_ok()) return nullptr;
    const auto it = object_.find(key);
    if (it != object_.end()) return &*it;
    if (need == Need::kRequired) fail(Status::invalid(where(key) + ": missing"));
    return nullptr;
  }

  std::string where(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const Status& status() const { return status_; }

 private:
  void fail(Status status) {
    if (status_.is_ok()) status_ = std::move(status);
  }

  const json& object_;
  std::string path_;
  Status status_;
};

Result<CheckRow> row_from_json(const json& object, const std::string& path) {
  if (!object.is_object()) return wrong(path, "an object", object);
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  CheckRow row;
  CheckResult& r = row.result;
  std::int64_t status = 0;
  FieldReader in(object, path);
  in.string("agent", row.agent);
  in.string("site", row.site);
  in.string("name", r.name);
  in.string("check", r.check);
  in.integer("status", 0, 3, status);
  in.string("summary", r.summary);
  in.string("details", r.details, Need::kOptional);
  in.integer("ts", 0, kMax, r.ts_ms);
  in.integer("received", 0, kMax, row.received_ms);
  in.integer("since", 0, kMax, row.since_ms);
  in.integer("interval_s", 0, kMax, r.interval_s);
  in.integer("duration_ms", 0, kMax, r.duration_ms, Need::kOptional);
  // As in a report, "metrics": null means no metrics.
  if (const json* metrics = in.find("metrics", Need::kOptional);
      metrics != nullptr && !metrics->is_null()) {
    if (!metrics->is_array()) return wrong(in.where("metrics"), "an array", *metrics);
    for (std::size_t i = 0; i < metrics->size(); ++i) {
      auto metric = protocol::metric_from_json((*metrics)[i],
                                               in.where("metrics") + "[" + std::to_string(i) + "]");
      if (!metric) return metric.status();
      r.metrics.push_back(std::move(metric).value());
    }
  }
  if (!in.status().is_ok()) return in.status();
  r.status = static_cast<State>(status);
  return row;
}

Result<ChecksReply> reply_from_json(const json& document) {
  if (!document.is_object()) return wrong("reply", "an object", document);
  ChecksReply reply;
  FieldReader in(document, "");
  in.integer("now", 0, std::numeric_limits<std::int64_t>::max(), reply.now_ms);
  const json* checks = in.find("checks", Need::kRequired);
  if (!in.status().is_ok()) return in.status();
  if (!checks->is_array()) return wrong("checks", "an array", *checks);
  reply.rows.reserve(checks->size());
  for (std::size_t i = 0; i < checks->size(); ++i) {
    auto row = row_from_json((*checks)[i], "checks[" + std::to_string(i) + "]");
    if (!row) return row.status();
    reply.rows.push_back(std::move(row).value());
  }
  sort_rows(reply.rows);
  return reply;
}

}  // namespace

bool is_stale(const CheckRow& row, std::int64_t now_ms) {
  const std::int64_t interval_s = row.result.interval_s;
  if (interval_s <= 0) return false;
  // Saturate: an absurd interval must not overflow into "always stale".
  const std::int64_t limit_ms = interval_s > std::numeric_limits<std::int64_t>::max() / 3000
                                    ? std::numeric_limits<std::int64_t>::max()
                                    : interval_s * 3000;
  return now_ms - row.received_ms > limit_ms;
}

bool row_before(const CheckRow& a, const CheckRow& b) {
  const int severity_a = severity(a.result.status);
  const int severity_b = severity(b.result.status);
  if (severity_a != severity_b) return severity_a > severity_b;
  return std::tie(a.since_ms, a.site, a.result.name, a.agent, a.result.check) <
         std::tie(b.since_ms, b.site, b.result.name, b.agent, b.result.check);
}

void sort_rows(std::vector<CheckRow>& rows) { std::sort(rows.begin(), rows.end(), row_before); }

Result<ChecksReply> parse_checks_reply(std::string_view body) {
  try {
    return reply_from_json(json::parse(body));
  } catch (const json::exception& e) {
    return Status::invalid(std::string("malformed JSON: ") + e.what());
  }
}

std::string rows_to_json(const std::vector<CheckRow>& rows) {
  json out = json::array();
  for (const CheckRow& row : rows) {
    const CheckResult& r = row.result;
    json metrics = json::array();
    for (const Metric& metric : r.metrics) metrics.push_back(protocol::metric_to_json(metric));
    out.push_back({{"agent", row.agent},
                   {"site", row.site},
                   {"name", r.name},
                   {"check", r.check},
                   {"status", static_cast<int>(r.status)},
                   {"state", state_name(r.status)},
                   {"summary", r.summary},
                   {"details", r.details},
                   {"metrics", std::move(metrics)},
                   {"ts", r.ts_ms},
                   {"received", row.received_ms},
                   {"since", row.since_ms},
                   {"interval_s", r.interval_s},
                   {"duration_ms", r.duration_ms}});
  }
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

std::int64_t Snapshot::collector_time(std::int64_t local_now_ms) const {
  if (fetched_at_ms == 0) return local_now_ms;
  return collector_now_ms + (local_now_ms - fetched_at_ms);
}

Snapshot next_snapshot(const Snapshot& previous, const Result<std::string>& body,
                       std::int64_t local_now_ms) {
  Snapshot next;
  if (body.is_ok()) {
    auto reply = parse_checks_reply(*body);
    if (reply.is_ok()) {
      next.rows = std::move(reply->rows);
      next.fetched_at_ms = local_now_ms;
      next.collector_now_ms = reply->now_ms;
      return next;
    }
    next.error = reply.status().with_context("the collector's reply is malformed");
  } else {
    next.error = body.status();
  }
  next.rows = previous.rows;
  next.fetched_at_ms = previous.fetched_at_ms;
  next.collector_now_ms = previous.collector_now_ms;
  return next;
}

}  // namespace vigie::console
