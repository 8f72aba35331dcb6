#include "console/model.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/json_parse.hpp"
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

std::string family_of(std::string_view check) {
  const std::size_t end = check.find_first_of("/:");
  return std::string(check.substr(0, end));
}

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
    // The message is built only on failure: this runs for every field of every row.
    const auto bad = [&] {
      const std::string expected =
          max == std::numeric_limits<std::int64_t>::max()
              ? "an integer >= " + std::to_string(min)
              : "an integer " + std::to_string(min) + ".." + std::to_string(max);
      fail(wrong(where(key), expected, *value));
    };
    std::int64_t v = 0;
    if (value->is_number_unsigned()) {
      const auto u = value->get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(max)) return bad();
      v = static_cast<std::int64_t>(u);
    } else if (value->is_number_integer()) {
      v = value->get<std::int64_t>();
    } else {
      return bad();
    }
    if (v < min || v > max) return bad();
    out = v;
  }

  void boolean(std::string_view key, bool& out, Need need = Need::kOptional) {
    const json* value = find(key, need);
    if (value == nullptr || value->is_null()) return;
    if (!value->is_boolean()) return fail(wrong(where(key), "true or false", *value));
    out = value->get<bool>();
  }

  void number(std::string_view key, double& out, Need need = Need::kRequired) {
    const json* value = find(key, need);
    if (value == nullptr || value->is_null()) return;
    if (!value->is_number()) return fail(wrong(where(key), "a number", *value));
    out = value->get<double>();
  }

  void small(std::string_view key, int& out, Need need = Need::kOptional) {
    std::int64_t v = out;
    integer(key, 0, std::numeric_limits<int>::max(), v, need);
    out = static_cast<int>(v);
  }

  // A state by name ("OK".."UNKNOWN").
  void state(std::string_view key, State& out, Need need = Need::kOptional) {
    std::string name;
    const json* value = find(key, need);
    if (value == nullptr) return;
    if (!value->is_string()) return fail(wrong(where(key), "a state name", *value));
    name = value->get<std::string>();
    for (int i = 0; i < 4; ++i) {
      if (state_name(static_cast<State>(i)) == name) {
        out = static_cast<State>(i);
        return;
      }
    }
    fail(wrong(where(key), "OK, WARNING, CRITICAL or UNKNOWN", *value));
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
  in.string("family", row.family, Need::kOptional);
  in.integer("hard_since", 0, kMax, row.hard_since_ms, Need::kOptional);
  in.small("attempt", row.attempt);
  in.small("max_attempts", row.max_attempts);
  in.boolean("stale", row.stale);
  in.string("stale_reason", row.stale_reason, Need::kOptional);
  in.boolean("agent_lost", row.agent_lost);
  in.boolean("flapping", row.flapping);
  in.boolean("in_downtime", row.in_downtime);
  in.boolean("central", row.central);
  std::string state_type;
  in.string("state_type", state_type, Need::kOptional);
  row.soft = state_type == "soft";
  r.status = static_cast<State>(status);
  row.hard = r.status;
  in.state("hard_state", row.hard);
  if (const json* ack = in.find("ack", Need::kOptional); ack != nullptr && !ack->is_null()) {
    if (!ack->is_object()) return wrong(in.where("ack"), "an object or null", *ack);
    AckInfo info;
    FieldReader a(*ack, in.where("ack"));
    a.string("author", info.author);
    a.string("comment", info.comment);
    a.integer("created", 0, kMax, info.created_ms, Need::kOptional);
    a.integer("expires", 0, kMax, info.expires_ms, Need::kOptional);
    a.boolean("sticky", info.sticky);
    if (!a.status().is_ok()) return a.status();
    row.ack = std::move(info);
  }
  if (!in.status().is_ok()) return in.status();
  if (row.family.empty()) row.family = family_of(r.check);
  return row;
}

// The rows of a JSON array member `key` of `object`.
Result<std::vector<CheckRow>> rows_from_json(const json& object, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::invalid(std::string(key) + ": missing");
  if (!it->is_array()) return wrong(key, "an array", *it);
  std::vector<CheckRow> rows;
  rows.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto row = row_from_json((*it)[i], std::string(key) + "[" + std::to_string(i) + "]");
    if (!row) return row.status();
    rows.push_back(std::move(row).value());
  }
  return rows;
}

Result<SiteRow> site_from_json(const json& object, const std::string& path) {
  if (!object.is_object()) return wrong(path, "an object", object);
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  SiteRow site;
  FieldReader in(object, path);
  in.string("name", site.name);
  in.state("state", site.worst, Need::kRequired);
  in.small("agents", site.agents);
  in.small("agents_lost", site.agents_lost);
  in.integer("last_report", 0, kMax, site.last_report_ms, Need::kOptional);
  in.boolean("unreachable", site.unreachable);
  if (const json* line = in.find("line", Need::kOptional); line != nullptr && !line->is_null())
    in.string("line", site.line);
  in.small("central", site.central);
  in.boolean("in_downtime", site.in_downtime);
  in.small("problems", site.problems);
  in.small("acknowledged", site.acknowledged);
  if (const json* counts = in.find("counts", Need::kOptional); counts != nullptr) {
    if (!counts->is_object()) return wrong(in.where("counts"), "an object", *counts);
    FieldReader c(*counts, in.where("counts"));
    for (int i = 0; i < 4; ++i) {
      c.small(state_name(static_cast<State>(i)), site.counts[static_cast<std::size_t>(i)]);
    }
    if (!c.status().is_ok()) return c.status();
  }
  if (const json* families = in.find("families", Need::kOptional); families != nullptr) {
    if (!families->is_object()) return wrong(in.where("families"), "an object", *families);
    FieldReader f(*families, in.where("families"));
    for (const auto& [family, state] : families->items()) {
      State s = State::kUnknown;
      f.state(family, s, Need::kRequired);
      site.families[family] = s;
    }
    if (!f.status().is_ok()) return f.status();
  }
  if (!in.status().is_ok()) return in.status();
  return site;
}

Result<AgentRow> agent_from_json(const json& object, const std::string& path) {
  if (!object.is_object()) return wrong(path, "an object", object);
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  AgentRow agent;
  FieldReader in(object, path);
  in.string("id", agent.id);
  in.string("site", agent.site);
  in.string("hostname", agent.hostname, Need::kOptional);
  in.string("version", agent.version, Need::kOptional);
  in.integer("last_seen", 0, kMax, agent.last_seen_ms, Need::kOptional);
  in.boolean("lost", agent.lost);
  in.small("member_sites", agent.member_sites);
  if (const json* skew = in.find("clock_skew_ms", Need::kOptional); skew && !skew->is_null()) {
    std::int64_t v = 0;
    in.integer("clock_skew_ms", kMin, kMax, v);
    agent.clock_skew_ms = v;
  }
  if (const json* depth = in.find("spool_depth", Need::kOptional); depth && !depth->is_null()) {
    std::int64_t v = 0;
    in.integer("spool_depth", 0, kMax, v);
    agent.spool_depth = v;
  }
  // A collector without central configurations sends no "config": not managed.
  if (const json* config = in.find("config", Need::kOptional); config && config->is_object()) {
    const auto flag = [&](const char* key) {
      const auto it = config->find(key);
      return it != config->end() && it->is_boolean() && it->get<bool>();
    };
    const auto text = [&](const char* key) {
      const auto it = config->find(key);
      return it != config->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    agent.config_managed = flag("managed");
    agent.config_behind = flag("behind");
    agent.config_running = text("running");
    agent.config_refused = !text("refused").empty();
  }
  if (!in.status().is_ok()) return in.status();
  return agent;
}

// How deep the careful reader takes a reply: it reads the members it knows and skips
// the others however nested (a newer collector's), so its bound is far past the fast
// reader's; it only keeps a hostile reply from building what a copy would overflow on.
constexpr int kCarefulDepth = 1000;

// Parses `body` as JSON and hands the document to `read`, turning the library's
// exceptions into a Status.
template <class Read>
auto parse_with(std::string_view body, Read read) -> decltype(read(json())) {
  auto parsed = parse_json(body, {.max_depth = kCarefulDepth});
  if (!parsed) return Status::invalid("malformed JSON: " + parsed.status().message());
  try {
    const json& document = *parsed;
    if (!document.is_object()) return wrong("reply", "an object", document);
    return read(document);
  } catch (const json::exception& e) {
    return Status::invalid(std::string("malformed JSON: ") + e.what());
  }
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
  return reply;
}

}  // namespace

bool problem_before(const CheckRow& a, const CheckRow& b) {
  const int severity_a = severity(a.hard);
  const int severity_b = severity(b.hard);
  if (severity_a != severity_b) return severity_a > severity_b;
  return std::tie(a.hard_since_ms, a.site, a.result.name, a.agent, a.result.check) <
         std::tie(b.hard_since_ms, b.site, b.result.name, b.agent, b.result.check);
}

bool row_before(const CheckRow& a, const CheckRow& b) {
  const int severity_a = severity(a.result.status);
  const int severity_b = severity(b.result.status);
  if (severity_a != severity_b) return severity_a > severity_b;
  return std::tie(a.since_ms, a.site, a.result.name, a.agent, a.result.check) <
         std::tie(b.since_ms, b.site, b.result.name, b.agent, b.result.check);
}

namespace {

// Sorts `rows` by `before` through their indices, then puts each row in its place
// following the permutation's cycles: rows are large, and std::sort would move them
// about many times.
template <class Before>
void sort_by(std::vector<CheckRow>& rows, Before before) {
  std::vector<std::size_t> order(rows.size());  // order[i]: the row that goes at i
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return before(rows[a], rows[b]); });
  for (std::size_t start = 0; start < order.size(); ++start) {
    if (order[start] == start) continue;
    CheckRow held = std::move(rows[start]);
    std::size_t at = start;
    while (order[at] != start) {
      const std::size_t from = order[at];
      rows[at] = std::move(rows[from]);
      order[at] = at;
      at = from;
    }
    rows[at] = std::move(held);
    order[at] = at;
  }
}

}  // namespace

void sort_rows(std::vector<CheckRow>& rows) { sort_by(rows, row_before); }

void sort_problems(std::vector<CheckRow>& rows) {
  sort_by(rows, [](const CheckRow& a, const CheckRow& b) {
    if (problem_before(a, b)) return true;
    if (problem_before(b, a)) return false;
    return row_before(a, b);
  });
}

Result<ChecksReply> detail::parse_checks_careful(std::string_view body) {
  auto parsed = parse_json(body, {.max_depth = kCarefulDepth});
  if (!parsed) return Status::invalid("malformed JSON: " + parsed.status().message());
  try {
    return reply_from_json(*parsed);
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

}  // namespace vigie::console

namespace vigie::console {
namespace {
constexpr auto kMaxMs = std::numeric_limits<std::int64_t>::max();
}  // namespace

Result<CheckDetail> detail::parse_check_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<CheckDetail> {
    CheckDetail detail;
    auto row = row_from_json(document, "check");
    if (!row) return row.status();
    detail.row = std::move(row).value();
    FieldReader in(document, "");
    in.integer("now", 0, kMaxMs, detail.now_ms, Need::kOptional);
    if (const json* history = in.find("history", Need::kOptional); history != nullptr) {
      if (!history->is_array()) return wrong("history", "an array", *history);
      for (std::size_t i = 0; i < history->size(); ++i) {
        const json& e = (*history)[i];
        if (!e.is_object()) return wrong("history[" + std::to_string(i) + "]", "an object", e);
        HistoryEvent event;
        FieldReader h(e, "history[" + std::to_string(i) + "]");
        h.integer("id", 0, kMaxMs, event.id, Need::kOptional);
        h.integer("ts", 0, kMaxMs, event.ts_ms);
        h.string("kind", event.kind);
        h.string("from", event.from, Need::kOptional);
        h.string("to", event.to, Need::kOptional);
        h.string("state_type", event.state_type, Need::kOptional);
        h.string("summary", event.summary, Need::kOptional);
        h.string("author", event.author, Need::kOptional);
        if (const json* trap = h.find("trap", Need::kOptional); trap != nullptr) {
          const std::string path = "history[" + std::to_string(i) + "].trap";
          if (!trap->is_object()) return wrong(path, "an object", *trap);
          FieldReader t(*trap, path);
          t.string("name", event.trap_name, Need::kOptional);
          t.string("oid", event.trap_oid, Need::kOptional);
          t.string("device", event.device, Need::kOptional);
          t.string("source", event.source, Need::kOptional);
          t.boolean("inform", event.inform);
          t.integer("not_kept_before", 0, kMaxMs, event.not_kept_before, Need::kOptional);
          if (!t.status().is_ok()) return t.status();
        }
        if (!h.status().is_ok()) return h.status();
        detail.history.push_back(std::move(event));
      }
    }
    if (!in.status().is_ok()) return in.status();
    return detail;
  });
}

Result<SitesReply> detail::parse_sites_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<SitesReply> {
    SitesReply reply;
    FieldReader in(document, "");
    in.integer("now", 0, kMaxMs, reply.now_ms);
    const json* sites = in.find("sites", Need::kRequired);
    if (!in.status().is_ok()) return in.status();
    if (!sites->is_array()) return wrong("sites", "an array", *sites);
    reply.sites.reserve(sites->size());
    for (std::size_t i = 0; i < sites->size(); ++i) {
      auto site = site_from_json((*sites)[i], "sites[" + std::to_string(i) + "]");
      if (!site) return site.status();
      reply.sites.push_back(std::move(site).value());
    }
    return reply;
  });
}

Result<AgentsReply> detail::parse_agents_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<AgentsReply> {
    AgentsReply reply;
    FieldReader in(document, "");
    in.integer("now", 0, kMaxMs, reply.now_ms);
    const json* agents = in.find("agents", Need::kRequired);
    if (!in.status().is_ok()) return in.status();
    if (!agents->is_array()) return wrong("agents", "an array", *agents);
    for (std::size_t i = 0; i < agents->size(); ++i) {
      auto agent = agent_from_json((*agents)[i], "agents[" + std::to_string(i) + "]");
      if (!agent) return agent.status();
      reply.agents.push_back(std::move(agent).value());
    }
    return reply;
  });
}

Result<SiteDetail> detail::parse_site_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<SiteDetail> {
    SiteDetail detail;
    auto site = site_from_json(document, "site");
    if (!site) return site.status();
    detail.site = std::move(site).value();
    auto checks = rows_from_json(document, "checks");
    if (!checks) return checks.status();
    detail.checks = std::move(checks).value();
    FieldReader in(document, "");
    in.integer("now", 0, kMaxMs, detail.now_ms, Need::kOptional);
    if (const json* agents = in.find("agent_list", Need::kOptional); agents != nullptr) {
      if (!agents->is_array()) return wrong("agent_list", "an array", *agents);
      for (std::size_t i = 0; i < agents->size(); ++i) {
        auto agent = agent_from_json((*agents)[i], "agent_list[" + std::to_string(i) + "]");
        if (!agent) return agent.status();
        detail.agents.push_back(std::move(agent).value());
      }
    }
    if (const json* downtimes = in.find("downtimes", Need::kOptional); downtimes != nullptr) {
      if (!downtimes->is_array()) return wrong("downtimes", "an array", *downtimes);
      for (std::size_t i = 0; i < downtimes->size(); ++i) {
        const json& d = (*downtimes)[i];
        const std::string path = "downtimes[" + std::to_string(i) + "]";
        if (!d.is_object()) return wrong(path, "an object", d);
        SiteDowntime downtime;
        FieldReader r(d, path);
        r.integer("id", 0, kMaxMs, downtime.id, Need::kOptional);
        r.string("agent", downtime.agent, Need::kOptional);
        r.string("check", downtime.check, Need::kOptional);
        r.string("comment", downtime.comment, Need::kOptional);
        r.string("author", downtime.author, Need::kOptional);
        r.integer("start", 0, kMaxMs, downtime.start_ms, Need::kOptional);
        r.integer("end", 0, kMaxMs, downtime.end_ms, Need::kOptional);
        r.boolean("active", downtime.active);
        if (!r.status().is_ok()) return r.status();
        detail.downtimes.push_back(std::move(downtime));
      }
    }
    if (!in.status().is_ok()) return in.status();
    return detail;
  });
}

Result<Overview> detail::parse_overview_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<Overview> {
    Overview o;
    FieldReader in(document, "");
    in.integer("now", 0, kMaxMs, o.now_ms);
    in.integer("cursor", 0, kMaxMs, o.cursor);
    in.small("problems", o.problems);
    in.small("acknowledged", o.acknowledged);
    for (const char* key : {"checks", "sites", "agents"}) {
      const json* value = in.find(key, Need::kRequired);
      if (value != nullptr && !value->is_object()) return wrong(key, "an object", *value);
    }
    if (!in.status().is_ok()) return in.status();
    const auto object = [&](const char* key) { return &document.at(key); };
    if (const json* checks = object("checks")) {
      FieldReader c(*checks, "checks");
      for (int i = 0; i < 4; ++i) {
        c.small(state_name(static_cast<State>(i)), o.checks[static_cast<std::size_t>(i)]);
      }
      if (!c.status().is_ok()) return c.status();
    }
    if (const json* sites = object("sites")) {
      FieldReader c(*sites, "sites");
      c.small("total", o.sites);
      c.small("unreachable", o.sites_unreachable);
      if (!c.status().is_ok()) return c.status();
    }
    if (const json* agents = object("agents")) {
      FieldReader c(*agents, "agents");
      c.small("total", o.agents);
      c.small("lost", o.agents_lost);
      if (!c.status().is_ok()) return c.status();
    }
    if (!in.status().is_ok()) return in.status();
    return o;
  });
}

Result<Series> detail::parse_series_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<Series> {
    Series series;
    FieldReader in(document, "");
    in.string("metric", series.metric);
    in.string("unit", series.unit, Need::kOptional);
    const json* points = in.find("points", Need::kRequired);
    if (!in.status().is_ok()) return in.status();
    if (!points->is_array()) return wrong("points", "an array", *points);
    for (std::size_t i = 0; i < points->size(); ++i) {
      const json& p = (*points)[i];
      const std::string path = "points[" + std::to_string(i) + "]";
      if (!p.is_object()) return wrong(path, "an object", p);
      SeriesPoint point;
      FieldReader r(p, path);
      r.integer("ts", 0, kMaxMs, point.ts_ms);
      r.number("avg", point.value);
      if (!r.status().is_ok()) return r.status();
      series.points.push_back(point);
    }
    return series;
  });
}

Result<std::vector<NotificationRow>> detail::parse_notifications_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<std::vector<NotificationRow>> {
    std::vector<NotificationRow> rows;
    FieldReader in(document, "");
    const json* list = in.find("notifications", Need::kRequired);
    if (!in.status().is_ok()) return in.status();
    if (!list->is_array()) return wrong("notifications", "an array", *list);
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& n = (*list)[i];
      const std::string path = "notifications[" + std::to_string(i) + "]";
      if (!n.is_object()) return wrong(path, "an object", n);
      NotificationRow row;
      FieldReader r(n, path);
      r.integer("time", 0, kMaxMs, row.time_ms);
      r.string("channel", row.channel, Need::kOptional);
      if (const json* target = r.find("target", Need::kOptional);
          target != nullptr && !target->is_null()) {
        row.target = target->is_string() ? target->get<std::string>() : target->dump();
      }
      r.string("state", row.state, Need::kOptional);
      r.string("status", row.status, Need::kOptional);
      if (const json* error = r.find("error", Need::kOptional);
          error != nullptr && error->is_string()) {
        row.error = error->get<std::string>();
      }
      if (!r.status().is_ok()) return r.status();
      rows.push_back(std::move(row));
    }
    return rows;
  });
}

Result<EventsReply> detail::parse_events_careful(std::string_view body) {
  return parse_with(body, [](const json& document) -> Result<EventsReply> {
    EventsReply reply;
    FieldReader in(document, "");
    in.integer("cursor", 0, kMaxMs, reply.cursor);
    const json* events = in.find("events", Need::kRequired);
    if (!in.status().is_ok()) return in.status();
    if (!events->is_array()) return wrong("events", "an array", *events);
    reply.events = events->size();
    return reply;
  });
}

// Each reply: simdjson's fast reader, then the careful one where it gave up (model_fast.cpp).
Result<ChecksReply> parse_checks_reply(std::string_view body) {
  auto reply = detail::parse_checks_fast(body);
  if (!reply) {
    auto careful = detail::parse_checks_careful(body);
    if (!careful) return careful.status();
    reply = std::move(*careful);
  }
  sort_rows(reply->rows);
  return std::move(*reply);
}

Result<ChecksReply> parse_problems_reply(std::string_view body) {
  auto reply = detail::parse_checks_fast(body);
  if (!reply) {
    auto careful = detail::parse_checks_careful(body);
    if (!careful) return careful.status();
    reply = std::move(*careful);
  }
  sort_problems(reply->rows);
  return std::move(*reply);
}

Result<CheckDetail> parse_check_reply(std::string_view body) {
  if (auto reply = detail::parse_check_fast(body)) return std::move(*reply);
  return detail::parse_check_careful(body);
}

Result<SitesReply> parse_sites_reply(std::string_view body) {
  if (auto reply = detail::parse_sites_fast(body)) return std::move(*reply);
  return detail::parse_sites_careful(body);
}

Result<AgentsReply> parse_agents_reply(std::string_view body) {
  if (auto reply = detail::parse_agents_fast(body)) return std::move(*reply);
  return detail::parse_agents_careful(body);
}

Result<SiteDetail> parse_site_reply(std::string_view body) {
  if (auto reply = detail::parse_site_fast(body)) return std::move(*reply);
  return detail::parse_site_careful(body);
}

Result<Overview> parse_overview_reply(std::string_view body) {
  if (auto reply = detail::parse_overview_fast(body)) return std::move(*reply);
  return detail::parse_overview_careful(body);
}

Result<Series> parse_series_reply(std::string_view body) {
  if (auto reply = detail::parse_series_fast(body)) return std::move(*reply);
  return detail::parse_series_careful(body);
}

Result<std::vector<NotificationRow>> parse_notifications_reply(std::string_view body) {
  if (auto reply = detail::parse_notifications_fast(body)) return std::move(*reply);
  return detail::parse_notifications_careful(body);
}

Result<EventsReply> parse_events_reply(std::string_view body) {
  if (auto reply = detail::parse_events_fast(body)) return std::move(*reply);
  return detail::parse_events_careful(body);
}

}  // namespace vigie::console
