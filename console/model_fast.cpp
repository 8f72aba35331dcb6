// The console's model read by simdjson's on-demand parser: each reply straight into its
// rows, without a document tree. It accepts only what the careful reader (model.cpp,
// nlohmann::json) accepts and builds the same values; at the first thing it is not sure
// of (an error, a member given twice, a number simdjson may misread, nesting deeper than
// it checks) it gives up, and the careful reader decides and says why. So valid replies
// are fast and every error message comes from one place.
#include <cmath>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

#include "common/json_digits.hpp"
#include "common/perfdata.hpp"
#include "common/protocol.hpp"
#include "common/protocol_rules.hpp"
#include "console/model.hpp"

namespace vigie::console::detail {
namespace {

namespace od = simdjson::ondemand;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
// Metrics are read under the report's default limits, as protocol::metric_from_json().
const std::size_t kMaxMetricString = protocol::Limits{}.max_string;
// Unknown members nested deeper than this are left to the careful reader.
constexpr int kMaxSkipDepth = 32;
// Replies up to this size reuse one parser and buffer per thread; a larger one (every
// check failing at once) gets its own, freed after, so that no thread keeps its memory.
constexpr std::size_t kKeptCapacity = 16 * 1024 * 1024;

// The members of one object already read: a member given twice gives up (the careful
// reader keeps the last one; this one would have read the first).
class Seen {
 public:
  bool first(int bit) {
    const std::uint64_t b = std::uint64_t{1} << bit;
    if (mask_ & b) return false;
    mask_ |= b;
    return true;
  }
  bool has(int bit) const { return (mask_ & (std::uint64_t{1} << bit)) != 0; }

 private:
  std::uint64_t mask_ = 0;
};

bool is_null(od::value& v) {
  bool null = false;
  return !v.is_null().get(null) && null;
}

bool read_string(od::value& v, std::string& out,
                 std::size_t max = std::numeric_limits<std::size_t>::max()) {
  std::string_view text;
  if (v.get_string().get(text) || text.size() > max) return false;
  out.assign(text);
  return true;
}

bool read_int(od::value& v, std::int64_t min, std::int64_t max, std::int64_t& out) {
  od::number_type type;
  if (v.get_number_type().get(type) || type == od::number_type::floating_point_number) return false;
  std::int64_t n = 0;
  if (v.get_int64().get(n) || n < min || n > max) return false;
  out = n;
  return true;
}

bool read_small(od::value& v, int& out) {
  std::int64_t n = 0;
  if (!read_int(v, 0, kIntMax, n)) return false;
  out = static_cast<int>(n);
  return true;
}

// true, false, or null (which leaves `out` as it is).
bool read_bool(od::value& v, bool& out) {
  if (is_null(v)) return true;
  return !v.get_bool().get(out);
}

// A number, integer or not, as a double; null leaves `out` as it is.
bool read_double(od::value& v, double& out) {
  if (is_null(v)) return true;
  double d = 0;
  od::json_type type;
  if (v.type().get(type) || type != od::json_type::number) return false;
  if (!protocol::rules::digits_fit(v.raw_json_token()) || v.get_double().get(d)) return false;
  out = d;
  return true;
}

// A state by name ("OK".."UNKNOWN").
bool read_state(od::value& v, State& out) {
  std::string_view name;
  if (v.get_string().get(name)) return false;
  for (int i = 0; i < 4; ++i) {
    if (state_name(static_cast<State>(i)) == name) {
      out = static_cast<State>(i);
      return true;
    }
  }
  return false;
}

// A value nobody reads, checked as the careful reader's parse would (on-demand parsing
// skips what it is not asked for unchecked), nested up to kMaxSkipDepth.
bool skip(od::value& v, int depth = 0) {
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::string: {
      std::string_view t;
      return !v.get_string().get(t);
    }
    case od::json_type::number: {
      // A number too large for a double is a parse error to the careful reader.
      double d = 0;
      return protocol::rules::digits_fit(v.raw_json_token()) && !v.get_double().get(d);
    }
    case od::json_type::boolean: {
      bool b;
      return !v.get_bool().get(b);
    }
    case od::json_type::null: return is_null(v);
    case od::json_type::array: {
      od::array array;
      if (depth >= kMaxSkipDepth || v.get_array().get(array)) return false;
      for (auto element : array) {
        od::value e;
        if (element.get(e) || !skip(e, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::object: {
      od::object object;
      if (depth >= kMaxSkipDepth || v.get_object().get(object)) return false;
      for (auto field : object) {
        std::string_view key;
        od::value e;
        if (field.unescaped_key().get(key) || field.value().get(e) || !skip(e, depth + 1))
          return false;
      }
      return true;
    }
  }
  return false;
}

// Calls `read(key, value)` for each member of `v`, an object: false when `v` is not one,
// when a member is malformed, or when `read` says so.
template <class Read>
bool each_member(od::value& v, Read read) {
  od::object object;
  if (v.get_object().get(object)) return false;
  for (auto field : object) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return false;
    if (!read(key, value)) return false;
  }
  return true;
}

// The same for each element of `v`, an array (a failed get_array() leaves it unusable:
// iterating it would be undefined).
template <class Read>
bool each_element(od::value& v, Read read) {
  od::array array;
  if (v.get_array().get(array)) return false;
  for (auto element : array) {
    od::value value;
    if (element.get(value) || !read(value)) return false;
  }
  return true;
}

// What reading one member of a known object did.
enum class Member { kRead, kUnknown, kFailed };
Member done(bool ok) { return ok ? Member::kRead : Member::kFailed; }

bool read_range(od::value& v, std::optional<Range>& out) {
  if (is_null(v)) return true;
  std::string text;
  if (!read_string(v, text, kMaxMetricString)) return false;
  auto range = parse_range(text);
  if (!range) return false;
  out = *range;
  return true;
}

bool read_finite(od::value& v, std::optional<double>& out) {
  if (is_null(v)) return true;
  double d = 0;
  if (!read_double(v, d) || !std::isfinite(d)) return false;
  out = d;
  return true;
}

// As protocol::metric_from_json().
bool read_metric(od::value& v, Metric& metric) {
  Seen seen;
  const bool ok = each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "name") return seen.first(0) && read_string(value, metric.label, kMaxMetricString);
    if (key == "value") return seen.first(1) && read_finite(value, metric.value);
    if (key == "unit") {
      return seen.first(2) && (is_null(value) || read_string(value, metric.unit, kMaxMetricString));
    }
    if (key == "warn") return seen.first(3) && read_range(value, metric.warn);
    if (key == "crit") return seen.first(4) && read_range(value, metric.crit);
    if (key == "min") return seen.first(5) && read_finite(value, metric.min);
    if (key == "max") return seen.first(6) && read_finite(value, metric.max);
    return skip(value);
  });
  return ok && seen.has(0) && seen.has(1) && protocol::rules::is_label(metric.label).is_ok() &&
         protocol::rules::is_unit(metric.unit).is_ok();
}

bool read_ack(od::value& v, std::optional<AckInfo>& out) {
  if (is_null(v)) return true;
  AckInfo info;
  Seen seen;
  const bool ok = each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "author") return seen.first(0) && read_string(value, info.author);
    if (key == "comment") return seen.first(1) && read_string(value, info.comment);
    if (key == "created") return seen.first(2) && read_int(value, 0, kMax, info.created_ms);
    if (key == "expires") return seen.first(3) && read_int(value, 0, kMax, info.expires_ms);
    if (key == "sticky") return seen.first(4) && read_bool(value, info.sticky);
    return skip(value);
  });
  if (!ok || !seen.has(0) || !seen.has(1)) return false;
  out = std::move(info);
  return true;
}

// One check's members (row_from_json() in model.cpp), as a part of a larger object.
class RowReader {
 public:
  explicit RowReader(CheckRow& row) : row_(row) {}

  Member member(std::string_view key, od::value& v) {
    CheckResult& r = row_.result;
    switch (key.size()) {
      case 2:
        if (key == "ts") return done(seen_.first(0) && read_int(v, 0, kMax, r.ts_ms));
        break;
      case 3:
        if (key == "ack") return done(seen_.first(1) && read_ack(v, row_.ack));
        break;
      case 4:
        if (key == "site") return done(seen_.first(2) && read_string(v, row_.site));
        if (key == "name") return done(seen_.first(3) && read_string(v, r.name));
        break;
      case 5:
        if (key == "agent") return done(seen_.first(4) && read_string(v, row_.agent));
        if (key == "check") return done(seen_.first(5) && read_string(v, r.check));
        if (key == "since") return done(seen_.first(6) && read_int(v, 0, kMax, row_.since_ms));
        if (key == "stale") return done(seen_.first(7) && read_bool(v, row_.stale));
        break;
      case 6:
        if (key == "status") return done(seen_.first(8) && read_int(v, 0, 3, status_));
        if (key == "family") return done(seen_.first(9) && read_string(v, row_.family));
        break;
      case 7:
        if (key == "summary") return done(seen_.first(10) && read_string(v, r.summary));
        if (key == "details") return done(seen_.first(11) && read_string(v, r.details));
        if (key == "metrics") return done(seen_.first(12) && read_metrics(v));
        if (key == "attempt") return done(seen_.first(13) && read_small(v, row_.attempt));
        if (key == "central") return done(seen_.first(14) && read_bool(v, row_.central));
        break;
      case 8:
        if (key == "received")
          return done(seen_.first(15) && read_int(v, 0, kMax, row_.received_ms));
        if (key == "flapping") return done(seen_.first(16) && read_bool(v, row_.flapping));
        break;
      case 10:
        if (key == "interval_s") return done(seen_.first(17) && read_int(v, 0, kMax, r.interval_s));
        if (key == "hard_since")
          return done(seen_.first(18) && read_int(v, 0, kMax, row_.hard_since_ms));
        if (key == "agent_lost") return done(seen_.first(19) && read_bool(v, row_.agent_lost));
        if (key == "state_type") return done(seen_.first(20) && read_string(v, state_type_));
        if (key == "hard_state") return done(seen_.first(21) && read_state(v, hard_));
        break;
      case 11:
        if (key == "duration_ms")
          return done(seen_.first(22) && read_int(v, 0, kMax, r.duration_ms));
        if (key == "in_downtime") return done(seen_.first(23) && read_bool(v, row_.in_downtime));
        break;
      case 12:
        if (key == "max_attempts") return done(seen_.first(24) && read_small(v, row_.max_attempts));
        if (key == "stale_reason")
          return done(seen_.first(25) && read_string(v, row_.stale_reason));
        break;
      default: break;
    }
    return Member::kUnknown;
  }

  // Whether every required member came; then the members derived from others.
  bool finish() {
    for (int bit : {0, 2, 3, 4, 5, 6, 8, 10, 15, 17}) {
      if (!seen_.has(bit)) return false;
    }
    row_.soft = state_type_ == "soft";
    row_.result.status = static_cast<State>(status_);
    row_.hard = seen_.has(21) ? hard_ : row_.result.status;
    if (row_.family.empty()) {
      const std::string_view check = row_.result.check;
      row_.family.assign(check.substr(0, check.find_first_of("/:")));
    }
    return true;
  }

 private:
  // As in a report, "metrics": null means no metrics.
  bool read_metrics(od::value& v) {
    if (is_null(v)) return true;
    return each_element(v, [&](od::value& m) {
      Metric metric;
      if (!read_metric(m, metric)) return false;
      row_.result.metrics.push_back(std::move(metric));
      return true;
    });
  }

  CheckRow& row_;
  Seen seen_;
  std::int64_t status_ = 0;
  std::string state_type_;
  State hard_ = State::kOk;
};

bool read_row(od::value& v, CheckRow& row) {
  RowReader reader(row);
  return each_member(v,
                     [&](std::string_view key, od::value& value) {
                       const Member m = reader.member(key, value);
                       return m == Member::kRead || (m == Member::kUnknown && skip(value));
                     }) &&
         reader.finish();
}

// The elements of `v`, an array, each read into `list` by `read`. Counted first (a pass
// over the array's tokens, building nothing): rows are large, and moving them as the
// vector grows cost more than counting.
template <class T, class Read>
bool read_list(od::value& v, std::vector<T>& list, Read read) {
  od::array array;
  std::size_t count = 0;
  if (v.get_array().get(array) || array.count_elements().get(count)) return false;
  list.reserve(list.size() + count);
  for (auto element : array) {
    od::value value;
    if (element.get(value)) return false;
    list.emplace_back();
    if (!read(value, list.back())) return false;
  }
  return true;
}

bool read_rows(od::value& v, std::vector<CheckRow>& rows) { return read_list(v, rows, read_row); }

// One site's members (site_from_json() in model.cpp), as a part of a larger object.
class SiteReader {
 public:
  explicit SiteReader(SiteRow& site) : site_(site) {}

  Member member(std::string_view key, od::value& v) {
    if (key == "name") return done(seen_.first(0) && read_string(v, site_.name));
    if (key == "state") return done(seen_.first(1) && read_state(v, site_.worst));
    if (key == "agents") return done(seen_.first(2) && read_small(v, site_.agents));
    if (key == "agents_lost") return done(seen_.first(3) && read_small(v, site_.agents_lost));
    if (key == "last_report")
      return done(seen_.first(4) && read_int(v, 0, kMax, site_.last_report_ms));
    if (key == "unreachable") return done(seen_.first(5) && read_bool(v, site_.unreachable));
    if (key == "line") return done(seen_.first(6) && (is_null(v) || read_string(v, site_.line)));
    if (key == "central") return done(seen_.first(7) && read_small(v, site_.central));
    if (key == "in_downtime") return done(seen_.first(8) && read_bool(v, site_.in_downtime));
    if (key == "problems") return done(seen_.first(9) && read_small(v, site_.problems));
    if (key == "acknowledged") return done(seen_.first(10) && read_small(v, site_.acknowledged));
    if (key == "counts") return done(seen_.first(11) && read_counts(v));
    if (key == "families") return done(seen_.first(12) && read_families(v));
    return Member::kUnknown;
  }

  bool finish() const { return seen_.has(0) && seen_.has(1); }

 private:
  bool read_counts(od::value& v) {
    Seen seen;
    return each_member(v, [&](std::string_view key, od::value& value) {
      for (int i = 0; i < 4; ++i) {
        if (key == state_name(static_cast<State>(i))) {
          return seen.first(i) && read_small(value, site_.counts[static_cast<std::size_t>(i)]);
        }
      }
      return skip(value);
    });
  }

  // Every member a family's worst state; given twice, the last one counts, as for the
  // careful reader.
  bool read_families(od::value& v) {
    return each_member(v, [&](std::string_view key, od::value& value) {
      State state = State::kUnknown;
      if (!read_state(value, state)) return false;
      site_.families[std::string(key)] = state;
      return true;
    });
  }

  SiteRow& site_;
  Seen seen_;
};

bool read_site(od::value& v, SiteRow& site) {
  SiteReader reader(site);
  return each_member(v,
                     [&](std::string_view key, od::value& value) {
                       const Member m = reader.member(key, value);
                       return m == Member::kRead || (m == Member::kUnknown && skip(value));
                     }) &&
         reader.finish();
}

// An agent's "config": what is not a boolean true or a string reads as absent. Given
// twice, the last one counts, as for the careful reader.
bool read_config(od::value& v, AgentRow& agent) {
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type != od::json_type::object) return skip(v);
  const auto flag = [](od::value& value, bool& out) {
    od::json_type t;
    if (value.type().get(t)) return false;
    out = false;
    if (t != od::json_type::boolean) return skip(value);
    return !value.get_bool().get(out);
  };
  const auto text = [](od::value& value, std::string& out) {
    od::json_type t;
    if (value.type().get(t)) return false;
    out.clear();
    if (t != od::json_type::string) return skip(value);
    return read_string(value, out);
  };
  bool managed = false, behind = false;
  std::string running, refused;
  const bool ok = each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "managed") return flag(value, managed);
    if (key == "behind") return flag(value, behind);
    if (key == "running") return text(value, running);
    if (key == "refused") return text(value, refused);
    return skip(value);
  });
  agent.config_managed = managed;
  agent.config_behind = behind;
  agent.config_running = std::move(running);
  agent.config_refused = !refused.empty();
  return ok;
}

bool read_agent(od::value& v, AgentRow& agent) {
  Seen seen;
  const auto optional_int = [](od::value& value, std::int64_t min,
                               std::optional<std::int64_t>& out) {
    if (is_null(value)) return true;
    std::int64_t n = 0;
    if (!read_int(value, min, kMax, n)) return false;
    out = n;
    return true;
  };
  const bool ok = each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "id") return seen.first(0) && read_string(value, agent.id);
    if (key == "site") return seen.first(1) && read_string(value, agent.site);
    if (key == "hostname") return seen.first(2) && read_string(value, agent.hostname);
    if (key == "version") return seen.first(3) && read_string(value, agent.version);
    if (key == "last_seen") return seen.first(4) && read_int(value, 0, kMax, agent.last_seen_ms);
    if (key == "lost") return seen.first(5) && read_bool(value, agent.lost);
    if (key == "member_sites") return seen.first(6) && read_small(value, agent.member_sites);
    if (key == "clock_skew_ms")
      return seen.first(7) && optional_int(value, kMin, agent.clock_skew_ms);
    if (key == "spool_depth") return seen.first(8) && optional_int(value, 0, agent.spool_depth);
    if (key == "config") return seen.first(9) && read_config(value, agent);
    return skip(value);
  });
  return ok && seen.has(0) && seen.has(1);
}

bool read_downtime(od::value& v, SiteDowntime& d) {
  Seen seen;
  return each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "id") return seen.first(0) && read_int(value, 0, kMax, d.id);
    if (key == "agent") return seen.first(1) && read_string(value, d.agent);
    if (key == "check") return seen.first(2) && read_string(value, d.check);
    if (key == "comment") return seen.first(3) && read_string(value, d.comment);
    if (key == "author") return seen.first(4) && read_string(value, d.author);
    if (key == "start") return seen.first(5) && read_int(value, 0, kMax, d.start_ms);
    if (key == "end") return seen.first(6) && read_int(value, 0, kMax, d.end_ms);
    if (key == "active") return seen.first(7) && read_bool(value, d.active);
    return skip(value);
  });
}

bool read_trap(od::value& v, HistoryEvent& e) {
  Seen seen;
  return each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "name") return seen.first(0) && read_string(value, e.trap_name);
    if (key == "oid") return seen.first(1) && read_string(value, e.trap_oid);
    if (key == "device") return seen.first(2) && read_string(value, e.device);
    if (key == "source") return seen.first(3) && read_string(value, e.source);
    if (key == "inform") return seen.first(4) && read_bool(value, e.inform);
    if (key == "not_kept_before") {
      return seen.first(5) && read_int(value, 0, kMax, e.not_kept_before);
    }
    return skip(value);
  });
}

bool read_event(od::value& v, HistoryEvent& e) {
  Seen seen;
  return each_member(v,
                     [&](std::string_view key, od::value& value) {
                       if (key == "id") return seen.first(0) && read_int(value, 0, kMax, e.id);
                       if (key == "ts") return seen.first(1) && read_int(value, 0, kMax, e.ts_ms);
                       if (key == "kind") return seen.first(2) && read_string(value, e.kind);
                       if (key == "from") return seen.first(3) && read_string(value, e.from);
                       if (key == "to") return seen.first(4) && read_string(value, e.to);
                       if (key == "state_type") {
                         return seen.first(5) && read_string(value, e.state_type);
                       }
                       if (key == "summary") return seen.first(6) && read_string(value, e.summary);
                       if (key == "author") return seen.first(7) && read_string(value, e.author);
                       if (key == "trap") return seen.first(8) && read_trap(value, e);
                       return skip(value);
                     }) &&
         seen.has(1) && seen.has(2);
}

bool read_point(od::value& v, SeriesPoint& p) {
  Seen seen;
  return each_member(v,
                     [&](std::string_view key, od::value& value) {
                       if (key == "ts") return seen.first(0) && read_int(value, 0, kMax, p.ts_ms);
                       if (key == "avg") return seen.first(1) && read_double(value, p.value);
                       return skip(value);
                     }) &&
         seen.has(0) && seen.has(1);
}

bool read_notification(od::value& v, NotificationRow& n) {
  Seen seen;
  return each_member(v,
                     [&](std::string_view key, od::value& value) {
                       if (key == "time")
                         return seen.first(0) && read_int(value, 0, kMax, n.time_ms);
                       if (key == "channel") return seen.first(1) && read_string(value, n.channel);
                       // A target that is not a string is written as JSON: the careful
                       // reader's.
                       if (key == "target") {
                         return seen.first(2) && (is_null(value) || read_string(value, n.target));
                       }
                       if (key == "state") return seen.first(3) && read_string(value, n.state);
                       if (key == "status") return seen.first(4) && read_string(value, n.status);
                       // An error that is not a string reads as none.
                       if (key == "error") {
                         od::json_type type;
                         if (!seen.first(5) || value.type().get(type)) return false;
                         if (type != od::json_type::string) return skip(value);
                         return read_string(value, n.error);
                       }
                       return skip(value);
                     }) &&
         seen.has(0);
}

// Reads the object that `body` holds with `read(root, out)`, which returns false to
// give up. Whatever is not an object alone (with blanks around it) gives up.
template <class T, class Read>
std::optional<T> read_document(std::string_view body, Read read) {
  // simdjson's on-demand parser assumes a document has at least one structural
  // character (a blank body breaks that assumption: undefined behaviour); the careful
  // reader explains anything but an object anyway.
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || body[first] != '{') return std::nullopt;
  thread_local od::parser kept_parser;
  thread_local std::string kept_padded;
  std::unique_ptr<od::parser> own_parser;
  std::string own_padded;
  const bool keep = body.size() <= kKeptCapacity;
  if (!keep) own_parser = std::make_unique<od::parser>();
  od::parser& parser = keep ? kept_parser : *own_parser;
  std::string& padded = keep ? kept_padded : own_padded;
  padded.assign(body);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  od::document doc;
  if (parser.iterate(padded.data(), body.size(), padded.size()).get(doc)) return std::nullopt;
  od::value root;
  if (doc.get_value().get(root)) return std::nullopt;
  T out;
  if (!read(root, out)) return std::nullopt;
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  return out;
}

// Catches what the reader may throw (bad_alloc): the careful reader decides then.
template <class T, class Read>
std::optional<T> fast(std::string_view body, Read read) {
  try {
    return read_document<T>(body, read);
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
}

// A reply {"now": ms, "<list>": [...]}: both once, other members skipped.
template <class ReadList>
bool read_now_and_list(od::value& root, std::string_view list, std::int64_t& now_ms,
                       ReadList read) {
  Seen seen;
  const bool ok = each_member(root, [&](std::string_view key, od::value& value) {
    if (key == "now") return seen.first(0) && read_int(value, 0, kMax, now_ms);
    if (key == list) return seen.first(1) && read(value);
    return skip(value);
  });
  return ok && seen.has(0) && seen.has(1);
}

}  // namespace

std::optional<ChecksReply> parse_checks_fast(std::string_view body) {
  return fast<ChecksReply>(body, [](od::value& root, ChecksReply& reply) {
    return read_now_and_list(root, "checks", reply.now_ms,
                             [&](od::value& v) { return read_rows(v, reply.rows); });
  });
}

std::optional<SitesReply> parse_sites_fast(std::string_view body) {
  return fast<SitesReply>(body, [](od::value& root, SitesReply& reply) {
    return read_now_and_list(root, "sites", reply.now_ms,
                             [&](od::value& v) { return read_list(v, reply.sites, read_site); });
  });
}

std::optional<AgentsReply> parse_agents_fast(std::string_view body) {
  return fast<AgentsReply>(body, [](od::value& root, AgentsReply& reply) {
    return read_now_and_list(root, "agents", reply.now_ms,
                             [&](od::value& v) { return read_list(v, reply.agents, read_agent); });
  });
}

std::optional<Overview> parse_overview_fast(std::string_view body) {
  return fast<Overview>(body, [](od::value& root, Overview& o) {
    Seen seen;
    // One of the objects "checks", "sites" and "agents": its members by name.
    const auto counts = [](od::value& value, std::initializer_list<std::string_view> keys,
                           std::initializer_list<int*> out) {
      Seen got;
      return each_member(value, [&](std::string_view key, od::value& v) {
        int bit = 0;
        for (const std::string_view k : keys) {
          if (key == k) return got.first(bit) && read_small(v, *out.begin()[bit]);
          ++bit;
        }
        return skip(v);
      });
    };
    const bool ok = each_member(root, [&](std::string_view key, od::value& value) {
      if (key == "now") return seen.first(0) && read_int(value, 0, kMax, o.now_ms);
      if (key == "cursor") return seen.first(1) && read_int(value, 0, kMax, o.cursor);
      if (key == "problems") return seen.first(2) && read_small(value, o.problems);
      if (key == "acknowledged") return seen.first(3) && read_small(value, o.acknowledged);
      if (key == "checks") {
        return seen.first(4) && counts(value, {"OK", "WARNING", "CRITICAL", "UNKNOWN"},
                                       {&o.checks[0], &o.checks[1], &o.checks[2], &o.checks[3]});
      }
      if (key == "sites") {
        return seen.first(5) &&
               counts(value, {"total", "unreachable"}, {&o.sites, &o.sites_unreachable});
      }
      if (key == "agents") {
        return seen.first(6) && counts(value, {"total", "lost"}, {&o.agents, &o.agents_lost});
      }
      return skip(value);
    });
    for (int bit : {0, 1, 4, 5, 6}) {
      if (!seen.has(bit)) return false;
    }
    return ok;
  });
}

std::optional<SiteDetail> parse_site_fast(std::string_view body) {
  return fast<SiteDetail>(body, [](od::value& root, SiteDetail& detail) {
    SiteReader site(detail.site);
    Seen seen;
    const bool ok = each_member(root, [&](std::string_view key, od::value& value) {
      if (const Member m = site.member(key, value); m != Member::kUnknown) {
        return m == Member::kRead;
      }
      if (key == "checks") return seen.first(0) && read_rows(value, detail.checks);
      if (key == "now") return seen.first(1) && read_int(value, 0, kMax, detail.now_ms);
      if (key == "agent_list") {
        return seen.first(2) && each_element(value, [&](od::value& element) {
                 detail.agents.emplace_back();
                 return read_agent(element, detail.agents.back());
               });
      }
      if (key == "downtimes") {
        return seen.first(3) && each_element(value, [&](od::value& element) {
                 return read_downtime(element, detail.downtimes.emplace_back());
               });
      }
      return skip(value);
    });
    return ok && site.finish() && seen.has(0);
  });
}

std::optional<CheckDetail> parse_check_fast(std::string_view body) {
  return fast<CheckDetail>(body, [](od::value& root, CheckDetail& detail) {
    RowReader row(detail.row);
    Seen seen;
    const bool ok = each_member(root, [&](std::string_view key, od::value& value) {
      if (const Member m = row.member(key, value); m != Member::kUnknown) {
        return m == Member::kRead;
      }
      if (key == "now") return seen.first(0) && read_int(value, 0, kMax, detail.now_ms);
      if (key == "history") {
        return seen.first(1) && each_element(value, [&](od::value& element) {
                 return read_event(element, detail.history.emplace_back());
               });
      }
      return skip(value);
    });
    return ok && row.finish();
  });
}

std::optional<Series> parse_series_fast(std::string_view body) {
  return fast<Series>(body, [](od::value& root, Series& series) {
    Seen seen;
    const bool ok = each_member(root, [&](std::string_view key, od::value& value) {
      if (key == "metric") return seen.first(0) && read_string(value, series.metric);
      if (key == "unit") return seen.first(1) && read_string(value, series.unit);
      if (key == "points") {
        return seen.first(2) && each_element(value, [&](od::value& element) {
                 return read_point(element, series.points.emplace_back());
               });
      }
      return skip(value);
    });
    return ok && seen.has(0) && seen.has(2);
  });
}

std::optional<std::vector<NotificationRow>> parse_notifications_fast(std::string_view body) {
  return fast<std::vector<NotificationRow>>(
      body, [](od::value& root, std::vector<NotificationRow>& rows) {
        Seen seen;
        const bool ok = each_member(root, [&](std::string_view key, od::value& value) {
          if (key != "notifications") return skip(value);
          return seen.first(0) && each_element(value, [&](od::value& element) {
                   return read_notification(element, rows.emplace_back());
                 });
        });
        return ok && seen.has(0);
      });
}

std::optional<EventsReply> parse_events_fast(std::string_view body) {
  return fast<EventsReply>(body, [](od::value& root, EventsReply& reply) {
    Seen seen;
    const bool ok = each_member(root, [&](std::string_view key, od::value& value) {
      if (key == "cursor") return seen.first(0) && read_int(value, 0, kMax, reply.cursor);
      if (key == "events") {
        return seen.first(1) && each_element(value, [&](od::value& element) {
                 ++reply.events;
                 return skip(element);
               });
      }
      return skip(value);
    });
    return ok && seen.has(0) && seen.has(1);
  });
}

}  // namespace vigie::console::detail
