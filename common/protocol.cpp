#include "common/protocol.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/perfdata.hpp"
#include "common/protocol_rules.hpp"

namespace vigie::protocol {
namespace {

using nlohmann::json;

using rules::kInt64Max;
using rules::kMaxIntervalS;
using rules::kMaxTsMs;
// Longer values are cut when quoted in an error message.
constexpr std::size_t kQuoteMax = 40;

// Builds the document as json::parse() would, but stops as soon as it goes past a
// bound: a container nested too deep, an array longer than any the protocol allows,
// or more values in all than a report of the largest allowed shape holds. A small
// gzip body that inflates to millions of tiny values is thus refused before it is
// built, not after. (nlohmann's parser callback can only discard a value after
// reading it, and discarding many siblings takes quadratic time.)
class BoundedBuilder final : public nlohmann::json_sax<json> {
 public:
  explicit BoundedBuilder(const Limits& limits)
      : max_depth_(limits.max_depth),
        // One past the protocol's own limits, so that the decoder, which knows what
        // each array is, names the field when an array is just too long.
        max_array_(std::max({limits.max_results, limits.max_metrics, limits.max_events,
                             limits.max_varbinds}) +
                   1),
        max_values_(limits.max_values) {}

  bool null() override { return add(nullptr); }
  bool boolean(bool value) override { return add(value); }
  bool number_integer(number_integer_t value) override { return add(value); }
  bool number_unsigned(number_unsigned_t value) override { return add(value); }
  bool number_float(number_float_t value, const string_t&) override { return add(value); }
  bool string(string_t& value) override { return add(std::move(value)); }
  bool binary(binary_t& value) override { return add(json::binary(std::move(value))); }
  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& key) override {
    key_ = std::move(key);
    return true;
  }
  bool parse_error(std::size_t byte, const std::string&, const json::exception& error) override {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: <why>"
    // or "[json.exception.out_of_range.406] <why>": keep <why>, and say the byte.
    std::string_view why = error.what();
    if (const auto bracket = why.find("] "); bracket != std::string_view::npos) {
      why.remove_prefix(bracket + 2);
    }
    if (why.starts_with("parse error")) {
      if (const auto colon = why.find(": "); colon != std::string_view::npos) {
        why.remove_prefix(colon + 2);
      }
    }
    error_ = std::string(why) + " (at byte " + std::to_string(byte) + ")";
    return false;
  }

  json& root() { return root_; }
  // Why the builder stopped the parser, "" if it did not.
  const std::string& too_large() const { return too_large_; }
  const std::string& error() const { return error_; }

 private:
  // Puts `value` where the parser stands and returns its address, which stays valid
  // while it is open: its parent grows only after it is closed.
  json* place(json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }
  // False (which stops the parser) when one more value would break a bound.
  bool room_for_one_more() {
    if (++values_ > max_values_) {
      too_large_ = "JSON document has more than " + std::to_string(max_values_) + " values";
      return false;
    }
    if (!open_.empty() && open_.back()->is_array() && open_.back()->size() >= max_array_) {
      too_large_ = (paths_.back().empty() ? "JSON array" : paths_.back()) + ": more than " +
                   std::to_string(max_array_ - 1) + " elements";
      return false;
    }
    return true;
  }
  bool add(json value) {
    if (!room_for_one_more()) return false;
    place(std::move(value));
    return true;
  }
  bool open(json container) {
    if (open_.size() >= max_depth_) {
      too_large_ = "JSON nested deeper than " + std::to_string(max_depth_) + " levels";
      return false;
    }
    if (!room_for_one_more()) return false;
    // The container's path, as error messages name fields: results[3].metrics
    std::string path;
    if (!open_.empty()) {
      path = paths_.back();
      if (open_.back()->is_array()) {
        path += "[" + std::to_string(open_.back()->size()) + "]";
      } else {
        if (!path.empty()) path += '.';
        path += key_;
      }
    }
    open_.push_back(place(std::move(container)));
    paths_.push_back(std::move(path));
    return true;
  }
  bool close() {
    open_.pop_back();
    paths_.pop_back();
    return true;
  }

  const std::size_t max_depth_;
  const std::size_t max_array_;
  const std::size_t max_values_;
  std::size_t values_ = 0;
  json root_;
  std::vector<json*> open_;         // the containers being filled, innermost last
  std::vector<std::string> paths_;  // their paths, "" for the root
  std::string key_;                 // the key of the next member of the innermost object
  std::string too_large_;
  std::string error_;
};

Result<json> parse_json(std::string_view body, const Limits& limits) {
  BoundedBuilder builder(limits);
  try {
    if (json::sax_parse(body.begin(), body.end(), &builder)) return std::move(builder.root());
  } catch (const std::bad_alloc&) {
    return Status::too_large("JSON document too large to hold in memory");
  }
  if (!builder.too_large().empty()) return Status::too_large(builder.too_large());
  return Status::invalid("malformed JSON: " + builder.error());
}

std::string join(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

std::string indexed(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string_view type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: break;
  }
  return "nothing";
}

// `text` as a JSON string for an error message, cut at a UTF-8 boundary when long.
std::string as_json_string(std::string_view text) {
  std::string out = json(text).dump(-1, ' ', false, json::error_handler_t::replace);
  if (out.size() <= kQuoteMax) return out;
  std::size_t cut = kQuoteMax;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  return out.substr(0, cut) + "...\"";
}

// What a value is, for an error message: "string \"warn\"", "number 7", "object".
std::string describe(const json& value) {
  std::string out(type_name(value));
  if (value.is_string()) return out + " " + as_json_string(value.get_ref<const std::string&>());
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    // dump() would print null.
    const double number = value.get<double>();
    return out + (std::isnan(number) ? " nan" : number > 0 ? " inf" : " -inf");
  }
  if (value.is_number() || value.is_boolean()) return out + " " + value.dump();
  return out;
}

Status missing(const std::string& path) { return Status::invalid(path + ": missing"); }

Status wrong(const std::string& path, std::string_view expected, const json& got) {
  return Status::invalid(path + ": expected " + std::string(expected) + ", got " + describe(got));
}

bool has_control(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

}  // namespace

// Rules for strings read before; each returns the reason, Reader::check() adds the path.
namespace rules {
Status is_name(std::string_view text) {
  if (text.empty()) return Status::invalid("empty");
  if (has_control(text)) return Status::invalid("contains a control character");
  return Status::ok();
}

// Agent ids and site names become parts of URLs: [A-Za-z0-9][A-Za-z0-9._-]*.
Status is_identifier(std::string_view id) {
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (id.empty()) return Status::invalid("empty");
  if (!alnum(id[0])) return Status::invalid("must start with a letter or a digit");
  for (const char c : id) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') {
      return Status::invalid("may only contain letters, digits, '.', '_' and '-'");
    }
  }
  return Status::ok();
}

// type[:instance]: type is one or two '/'-separated parts of [a-z0-9_-]; the instance,
// when there is a ':', is not empty and has no control characters.
Status is_check_id(std::string_view id) {
  if (id.empty()) return Status::invalid("empty");
  const auto colon = id.find(':');
  const std::string_view type = id.substr(0, colon);
  bool valid = !type.empty() && type.front() != '/' && type.back() != '/';
  int slashes = 0;
  for (const char c : type) {
    if (c == '/') {
      ++slashes;
    } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      valid = false;
    }
  }
  if (!valid || slashes > 1) {
    return Status::invalid(
        "expected family/type[:instance] made of a-z, 0-9, '-' and '_' (e.g. "
        "\"system/disk:/srv\"), got " +
        as_json_string(id));
  }
  if (colon == std::string_view::npos) return Status::ok();
  const std::string_view instance = id.substr(colon + 1);
  if (instance.empty()) return Status::invalid("empty instance after ':'");
  if (has_control(instance)) return Status::invalid("contains a control character");
  return Status::ok();
}

// Perfdata labels are free text (format_metric() quotes them as needed), only not empty.
Status is_label(std::string_view label) {
  return label.empty() ? Status::invalid("empty") : Status::ok();
}

Status is_unit(std::string_view unit) {
  if (is_known_unit(unit)) return Status::ok();
  return Status::invalid("unknown unit " + as_json_string(unit) +
                         " (expected s, ms, us, %, B, KB, MB, GB, TB, c or none)");
}

}  // namespace rules

namespace {

using rules::is_check_id;
using rules::is_identifier;
using rules::is_label;
using rules::is_name;
using rules::is_unit;

enum class Need { kRequired, kOptional };  // optional: absent or null leaves the default

// Reads the members of one JSON object into typed fields. The first problem is kept,
// naming the member by its path, and turns later calls into no-ops, so that a caller
// reads every field and then looks at status() once.
class Reader {
 public:
  // `object` must be a JSON object and outlive the reader.
  Reader(const json& object, std::string_view path) : object_(object), path_(path) {}

  const Status& status() const { return status_; }
  std::string path(std::string_view key) const { return join(path_, key); }

  // A string of at most `max_bytes`.
  void string(const char* key, std::size_t max_bytes, Need need, std::string& out) {
    const json* value = find(key, need);
    if (value == nullptr) return;
    if (!value->is_string()) return fail(wrong(path(key), "a string", *value));
    const auto& text = value->get_ref<const std::string&>();
    if (text.size() > max_bytes) return fail(too_long(key, max_bytes));
    out = text;
  }

  // A required integer in [min, max]; `expected` says so in the error message.
  void integer(const char* key, std::int64_t min, std::int64_t max, std::string_view expected,
               std::int64_t& out) {
    integer(key, Need::kRequired, min, max, expected, out);
  }
  // The same, optional: absent or null leaves `out` as it is.
  void integer(const char* key, Need need, std::int64_t min, std::int64_t max,
               std::string_view expected, std::int64_t& out) {
    const json* value = find(key, need);
    if (value == nullptr) return;
    std::optional<std::int64_t> number;
    if (value->is_number_unsigned()) {
      const auto u = value->get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(kInt64Max)) number = static_cast<std::int64_t>(u);
    } else if (value->is_number_integer()) {
      number = value->get<std::int64_t>();
    }
    if (!number || *number < min || *number > max) return fail(wrong(path(key), expected, *value));
    out = *number;
  }

  // A finite number; null reads as none.
  void number(const char* key, Need need, std::optional<double>& out) {
    const json* value = find(key, need);
    if (value == nullptr || value->is_null()) return;
    if (!value->is_number() || !std::isfinite(value->get<double>())) {
      return fail(wrong(path(key),
                        need == Need::kRequired ? "a finite number or null" : "a finite number",
                        *value));
    }
    out = value->get<double>();
  }

  // A threshold range in Nagios syntax, such as "10:20".
  void range(const char* key, std::size_t max_bytes, std::optional<Range>& out) {
    const json* value = find(key, Need::kOptional);
    if (value == nullptr) return;
    if (!value->is_string()) {
      return fail(wrong(path(key), "a range string such as \"10:20\"", *value));
    }
    const auto& text = value->get_ref<const std::string&>();
    if (text.size() > max_bytes) return fail(too_long(key, max_bytes));
    auto range = parse_range(text);
    if (!range) return fail(range.status().with_context(path(key)));
    out = *range;
  }

  // Applies `rule` to the value read from `key`.
  void check(const char* key, Status (*rule)(std::string_view), std::string_view value) {
    if (!status_) return;
    if (Status problem = rule(value); !problem) status_ = problem.with_context(path(key));
  }

 private:
  // The member, or nullptr when there is none to read: absent (an error when required),
  // null and optional, or an earlier read failed. A required null is returned, to be
  // refused by its type check unless the caller accepts null.
  const json* find(const char* key, Need need) {
    if (!status_) return nullptr;
    const auto it = object_.find(key);
    if (it == object_.end()) {
      if (need == Need::kRequired) fail(missing(path(key)));
      return nullptr;
    }
    if (need == Need::kOptional && it->is_null()) return nullptr;
    return &*it;
  }
  Status too_long(const char* key, std::size_t max_bytes) const {
    return Status::too_large(path(key) + ": longer than " + std::to_string(max_bytes) + " bytes");
  }
  void fail(Status status) {
    if (status_) status_ = std::move(status);
  }

  const json& object_;
  std::string_view path_;
  Status status_;
};

}  // namespace

std::string encode_report(const Report& report) {
  json agent = json::object();
  agent["id"] = report.agent.id;
  agent["site"] = report.agent.site;
  if (!report.agent.hostname.empty()) agent["hostname"] = report.agent.hostname;
  if (!report.agent.version.empty()) agent["version"] = report.agent.version;
  json results = json::array();
  for (const auto& result : report.results) results.push_back(result_to_json(result));
  json body = json::object();
  body["protocol"] = report.protocol;
  body["agent"] = std::move(agent);
  body["seq"] = report.seq;
  if (report.sent_ms != 0) body["sent"] = report.sent_ms;
  if (report.spool) {
    body["spool"] = {{"depth", report.spool->depth},
                     {"oldest", report.spool->oldest_ms},
                     {"dropped", report.spool->dropped}};
  }
  body["results"] = std::move(results);
  if (!report.events.empty()) {
    json events = json::array();
    for (const auto& event : report.events) events.push_back(event_to_json(event));
    body["events"] = std::move(events);
  }
  // Invalid UTF-8 (from a plugin's output) becomes U+FFFD instead of throwing.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace detail {

Result<Report> decode_report_careful(std::string_view body, const Limits& limits) {
  auto parsed = parse_json(body, limits);
  if (!parsed) return parsed.status();
  const json& root = *parsed;
  if (!root.is_object()) {
    return Status::invalid("expected a JSON object at the top level, got " + describe(root));
  }

  // The version first: another version may have changed anything else.
  const auto version = root.find("protocol");
  if (version == root.end()) return missing("protocol");
  if (!version->is_number_integer()) return wrong("protocol", "an integer", *version);
  if (*version != kVersion) {
    return Status::invalid("protocol: unsupported version " + version->dump() +
                           " (this collector speaks " + std::to_string(kVersion) + ")");
  }
  Report report;
  report.protocol = kVersion;

  const auto agent = root.find("agent");
  if (agent == root.end()) return missing("agent");
  if (!agent->is_object()) return wrong("agent", "an object", *agent);
  Reader in_agent(*agent, "agent");
  in_agent.string("id", limits.max_string, Need::kRequired, report.agent.id);
  in_agent.check("id", is_identifier, report.agent.id);
  in_agent.string("site", limits.max_string, Need::kRequired, report.agent.site);
  in_agent.check("site", is_identifier, report.agent.site);
  in_agent.string("hostname", limits.max_string, Need::kOptional, report.agent.hostname);
  in_agent.string("version", limits.max_string, Need::kOptional, report.agent.version);
  if (!in_agent.status()) return in_agent.status();

  Reader in_root(root, "");
  std::int64_t seq = 0;
  in_root.integer("seq", 1, kInt64Max, "an integer >= 1", seq);
  in_root.integer("sent", Need::kOptional, 0, kMaxTsMs,
                  "an integer >= 0 (ms since the epoch, before year 10000)", report.sent_ms);
  if (!in_root.status()) return in_root.status();
  report.seq = static_cast<std::uint64_t>(seq);

  if (const auto spool = root.find("spool"); spool != root.end() && !spool->is_null()) {
    if (!spool->is_object()) return wrong("spool", "an object", *spool);
    Reader in_spool(*spool, "spool");
    SpoolInfo info;
    in_spool.integer("depth", Need::kOptional, 0, kInt64Max, "an integer >= 0", info.depth);
    in_spool.integer("oldest", Need::kOptional, 0, kMaxTsMs, "an integer >= 0 (ms since the epoch)",
                     info.oldest_ms);
    in_spool.integer("dropped", Need::kOptional, 0, kInt64Max, "an integer >= 0", info.dropped);
    if (!in_spool.status()) return in_spool.status();
    report.spool = info;
  }

  const auto results = root.find("results");
  if (results == root.end()) return missing("results");
  if (!results->is_array()) return wrong("results", "an array", *results);
  if (results->size() > limits.max_results) {
    return Status::too_large("results: " + std::to_string(results->size()) +
                             " results, more than the limit of " +
                             std::to_string(limits.max_results));
  }
  report.results.reserve(results->size());
  for (std::size_t i = 0; i < results->size(); ++i) {
    auto result = result_from_json((*results)[i], indexed("results", i), limits);
    if (!result) return result.status();
    report.results.push_back(std::move(*result));
  }

  const auto events = root.find("events");
  if (events == root.end() || events->is_null()) return report;
  if (!events->is_array()) return wrong("events", "an array", *events);
  if (events->size() > limits.max_events) {
    return Status::too_large("events: " + std::to_string(events->size()) +
                             " events, more than the limit of " +
                             std::to_string(limits.max_events));
  }
  for (std::size_t i = 0; i < events->size(); ++i) {
    auto event = event_from_json((*events)[i], indexed("events", i), limits);
    if (!event && event.status().code() == Code::kNotFound) continue;  // a newer kind
    if (!event) return event.status();
    report.events.push_back(std::move(*event));
  }
  return report;
}

}  // namespace detail

std::string error_field(const Status& status) {
  const std::string& message = status.message();
  const auto colon = message.find(": ");
  if (status.is_ok() || colon == std::string::npos) return {};
  const std::string_view path(message.data(), colon);
  if (!(path[0] >= 'a' && path[0] <= 'z')) return {};
  for (const char c : path) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                         c == '[' || c == ']';
    if (!allowed) return {};
  }
  return std::string(path);
}

json result_to_json(const CheckResult& result) {
  json out = json::object();
  out["name"] = result.name;
  out["check"] = result.check;
  out["status"] = static_cast<int>(result.status);
  out["state"] = state_name(result.status);
  out["summary"] = result.summary;
  if (!result.details.empty()) out["details"] = result.details;
  json metrics = json::array();
  for (const auto& metric : result.metrics) metrics.push_back(metric_to_json(metric));
  out["metrics"] = std::move(metrics);
  out["ts"] = result.ts_ms;
  out["duration_ms"] = result.duration_ms;
  out["interval_s"] = result.interval_s;
  if (result.max_attempts != 0) out["max_attempts"] = result.max_attempts;
  if (!result.site.empty()) out["site"] = result.site;
  return out;
}

Result<CheckResult> result_from_json(const json& object, std::string_view path,
                                     const Limits& limits) {
  if (!object.is_object()) return wrong(std::string(path), "an object", object);
  CheckResult result;
  std::int64_t status = 0;
  Reader in(object, path);
  in.string("name", limits.max_string, Need::kRequired, result.name);
  in.check("name", is_name, result.name);
  in.string("check", limits.max_string, Need::kRequired, result.check);
  in.check("check", is_check_id, result.check);
  in.integer("status", 0, 3, "an integer 0..3", status);
  in.string("summary", limits.max_summary, Need::kRequired, result.summary);
  in.string("details", limits.max_details, Need::kOptional, result.details);
  in.integer("ts", 0, kMaxTsMs, "an integer >= 0 (ms since the epoch, before year 10000)",
             result.ts_ms);
  in.integer("duration_ms", 0, kInt64Max, "an integer >= 0", result.duration_ms);
  in.integer("interval_s", 1, kMaxIntervalS, "an integer 1.." + std::to_string(kMaxIntervalS),
             result.interval_s);
  std::int64_t max_attempts = 0;
  in.integer("max_attempts", Need::kOptional, 1, 100, "an integer 1..100", max_attempts);
  in.string("site", limits.max_string, Need::kOptional, result.site);
  if (!result.site.empty()) in.check("site", is_identifier, result.site);
  if (!in.status()) return in.status();
  result.status = static_cast<State>(status);
  result.max_attempts = static_cast<int>(max_attempts);

  const auto metrics = object.find("metrics");
  if (metrics == object.end() || metrics->is_null()) return result;
  const std::string metrics_path = in.path("metrics");
  if (!metrics->is_array()) return wrong(metrics_path, "an array", *metrics);
  if (metrics->size() > limits.max_metrics) {
    return Status::too_large(metrics_path + ": " + std::to_string(metrics->size()) +
                             " metrics, more than the limit of " +
                             std::to_string(limits.max_metrics));
  }
  result.metrics.reserve(metrics->size());
  for (std::size_t i = 0; i < metrics->size(); ++i) {
    auto metric = metric_from_json((*metrics)[i], indexed(metrics_path, i), limits);
    if (!metric) return metric.status();
    result.metrics.push_back(std::move(*metric));
  }
  return result;
}

json metric_to_json(const Metric& metric) {
  const auto finite = [](const std::optional<double>& v) { return v && std::isfinite(*v); };
  json out = json::object();
  out["name"] = metric.label;
  // On the wire a non-finite number can only be null, which the decoder reads as absent.
  out["value"] = finite(metric.value) ? json(*metric.value) : json(nullptr);
  if (!metric.unit.empty()) out["unit"] = metric.unit;
  if (metric.warn) out["warn"] = format_range(*metric.warn);
  if (metric.crit) out["crit"] = format_range(*metric.crit);
  if (finite(metric.min)) out["min"] = *metric.min;
  if (finite(metric.max)) out["max"] = *metric.max;
  return out;
}

Result<Metric> metric_from_json(const json& object, std::string_view path, const Limits& limits) {
  if (!object.is_object()) return wrong(std::string(path), "an object", object);
  Metric metric;
  Reader in(object, path);
  in.string("name", limits.max_string, Need::kRequired, metric.label);
  in.check("name", is_label, metric.label);
  in.number("value", Need::kRequired, metric.value);
  in.string("unit", limits.max_string, Need::kOptional, metric.unit);
  in.check("unit", is_unit, metric.unit);
  in.range("warn", limits.max_string, metric.warn);
  in.range("crit", limits.max_string, metric.crit);
  in.number("min", Need::kOptional, metric.min);
  in.number("max", Need::kOptional, metric.max);
  if (!in.status()) return in.status();
  return metric;
}

json event_to_json(const Event& event) {
  json out = json::object();
  out["kind"] = event.kind;
  out["ts"] = event.ts_ms;
  if (!event.name.empty()) out["name"] = event.name;
  if (!event.check.empty()) out["check"] = event.check;
  if (!event.site.empty()) out["site"] = event.site;
  out["summary"] = event.summary;
  json varbinds = json::array();
  for (const auto& v : event.varbinds) {
    json item = {{"oid", v.oid}, {"type", v.type}, {"value", v.value}};
    if (!v.name.empty()) item["name"] = v.name;
    varbinds.push_back(std::move(item));
  }
  json trap = {{"device", event.device},   {"source", event.source},
               {"version", event.version}, {"inform", event.inform},
               {"oid", event.trap_oid},    {"varbinds", std::move(varbinds)}};
  if (!event.trap_name.empty()) trap["name"] = event.trap_name;
  out["trap"] = std::move(trap);
  return out;
}

namespace {

// A numeric OID: "1.3.6.1", at least two arcs.
Status is_numeric_oid(std::string_view text) {
  bool digit = false;
  int arcs = 0;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c == '.' && digit) {
      digit = false;
      ++arcs;
    } else {
      return Status::invalid("expected a numeric OID such as \"1.3.6.1.6.3.1.1.5.3\", got " +
                             as_json_string(text));
    }
  }
  if (!digit || arcs < 1)
    return Status::invalid("expected a numeric OID such as \"1.3.6.1.6.3.1.1.5.3\", got " +
                           as_json_string(text));
  return Status::ok();
}

Status is_trap_version(std::string_view text) {
  if (text == "2c" || text == "3") return Status::ok();
  return Status::invalid("expected \"2c\" or \"3\", got " + as_json_string(text));
}

}  // namespace

Result<Event> event_from_json(const json& object, std::string_view path, const Limits& limits) {
  if (!object.is_object()) return wrong(std::string(path), "an object", object);
  Event event;
  Reader in(object, path);
  in.string("kind", limits.max_string, Need::kRequired, event.kind);
  if (!in.status()) return in.status();
  if (event.kind != "trap")
    return Status::not_found(in.path("kind") + ": unknown kind " + as_json_string(event.kind));
  in.integer("ts", 0, kMaxTsMs, "an integer >= 0 (ms since the epoch, before year 10000)",
             event.ts_ms);
  in.string("name", limits.max_string, Need::kOptional, event.name);
  if (!event.name.empty()) in.check("name", is_name, event.name);
  in.string("check", limits.max_string, Need::kOptional, event.check);
  if (!event.check.empty()) in.check("check", is_check_id, event.check);
  in.string("site", limits.max_string, Need::kOptional, event.site);
  if (!event.site.empty()) in.check("site", is_identifier, event.site);
  in.string("summary", limits.max_summary, Need::kRequired, event.summary);
  if (!in.status()) return in.status();

  const std::string trap_path = in.path("trap");
  const auto trap = object.find("trap");
  if (trap == object.end()) return missing(trap_path);
  if (!trap->is_object()) return wrong(trap_path, "an object", *trap);
  Reader t(*trap, trap_path);
  t.string("device", limits.max_string, Need::kRequired, event.device);
  t.check("device", is_name, event.device);
  t.string("source", limits.max_string, Need::kOptional, event.source);
  t.string("version", limits.max_string, Need::kRequired, event.version);
  t.check("version", is_trap_version, event.version);
  t.string("oid", limits.max_string, Need::kRequired, event.trap_oid);
  t.check("oid", is_numeric_oid, event.trap_oid);
  t.string("name", limits.max_string, Need::kOptional, event.trap_name);
  if (!t.status()) return t.status();
  if (const auto inform = trap->find("inform"); inform != trap->end() && !inform->is_null()) {
    if (!inform->is_boolean()) return wrong(t.path("inform"), "true or false", *inform);
    event.inform = inform->get<bool>();
  }
  const std::string varbinds_path = t.path("varbinds");
  const auto varbinds = trap->find("varbinds");
  if (varbinds == trap->end() || varbinds->is_null()) return event;
  if (!varbinds->is_array()) return wrong(varbinds_path, "an array", *varbinds);
  if (varbinds->size() > limits.max_varbinds) {
    return Status::too_large(varbinds_path + ": " + std::to_string(varbinds->size()) +
                             " variables, more than the limit of " +
                             std::to_string(limits.max_varbinds));
  }
  for (std::size_t i = 0; i < varbinds->size(); ++i) {
    const json& item = (*varbinds)[i];
    const std::string item_path = indexed(varbinds_path, i);
    if (!item.is_object()) return wrong(item_path, "an object", item);
    TrapVarbind v;
    Reader r(item, item_path);
    r.string("oid", limits.max_string, Need::kRequired, v.oid);
    r.check("oid", is_numeric_oid, v.oid);
    r.string("name", limits.max_string, Need::kOptional, v.name);
    r.string("type", limits.max_string, Need::kRequired, v.type);
    r.string("value", limits.max_string, Need::kRequired, v.value);
    if (!r.status()) return r.status();
    event.varbinds.push_back(std::move(v));
  }
  return event;
}

}  // namespace vigie::protocol
