#include "collector/api.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "collector/downtime.hpp"
#include "common/config_fields.hpp"
#include "common/duration.hpp"
#include "common/gzip.hpp"
#include "common/json_parse.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"

namespace vigie::collector {
namespace {

// GET /api/v1/check's history: its last changes, and its last traps among them.
constexpr std::size_t kHistoryChanges = 100;
constexpr std::size_t kHistoryTraps = 20;

// A point in time given as ms since the epoch ("1700000000000") or as an age
// before `now` ("24h", "90m").
// Times and durations from the API are kept to what makes sense, so that no sum or
// difference of them can overflow: times from 1970 to the year 9999, durations up to
// 100 years.
constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
constexpr std::int64_t kMaxSpanMs = 100LL * 366 * 86'400'000;

Status check_time(std::string_view name, std::int64_t ms) {
  if (ms < 0 || ms > kMaxTimeMs)
    return Status::invalid(std::string(name) + ": " + std::to_string(ms) +
                           " is not a time between 1970 and 9999 (ms since the epoch)");
  return Status::ok();
}

Status check_span(std::string_view name, std::chrono::milliseconds d) {
  if (d.count() > kMaxSpanMs) return Status::invalid(std::string(name) + ": longer than 100 years");
  return Status::ok();
}

Result<std::int64_t> parse_time(std::string_view name, const std::string& text, std::int64_t now) {
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (Status s = check_time(name, ms); !s) return s;
    return ms;
  }
  auto age = parse_duration(text);
  if (!age) {
    return Status::invalid(std::string(name) +
                           ": expected ms since the epoch or an age such as \"24h\", got \"" +
                           text + "\"");
  }
  if (Status s = check_span(name, *age); !s) return s;
  return now - age->count();
}

using nlohmann::json;

// Retry-After for a busy collector: 5 to 15 s, spread so that the agents refused
// together do not all come back in the same second.
int busy_retry_after_s() {
  thread_local std::minstd_rand random(std::random_device{}());
  return 5 + static_cast<int>(random() % 11);
}

json check_to_json(const CheckState& c) {
  json j = protocol::result_to_json(c.last);
  // What to show: stale reads as UNKNOWN; the last reported status stays beside it.
  j["status"] = static_cast<int>(c.effective());
  j["state"] = state_name(c.effective());
  j["last_status"] = static_cast<int>(c.last.status);
  j["agent"] = c.agent;
  j["site"] = c.site;
  // A central poller's result about this site: `agent` is its source.
  j["central"] = c.central;
  j["family"] = check_family(c.last.check);
  j["received"] = c.received_ms;
  j["since"] = c.since_ms;
  j["hard_state"] = state_name(c.effective_hard());
  j["hard_status"] = static_cast<int>(c.effective_hard());
  j["hard_since"] = c.hard_since_ms;
  j["state_type"] = state_type_name(c.type);
  j["attempt"] = c.attempt;
  j["max_attempts"] = c.max_attempts;
  j["flapping"] = c.flapping;
  j["flap_percent"] = c.flap_percent;
  j["stale"] = c.stale;
  if (c.stale) {
    j["stale_reason"] = c.stale_reason;
    j["stale_since"] = c.stale_since_ms;
  }
  j["agent_lost"] = c.agent_lost;
  j["in_downtime"] = c.in_downtime;
  if (c.ack) {
    j["ack"] = {{"author", c.ack->author},
                {"comment", c.ack->comment},
                {"sticky", c.ack->sticky},
                {"created", c.ack->created_ms},
                {"expires", c.ack->expires_ms}};
  } else {
    j["ack"] = nullptr;
  }
  return j;
}

json agent_to_json(const AgentState& a) {
  json j = {{"id", a.id},
            {"site", a.site},
            {"hostname", a.hostname},
            {"version", a.version},
            {"first_seen", a.first_seen_ms},
            {"last_seen", a.last_seen_ms},
            {"last_seq", a.last_seq},
            {"lost", a.lost},
            {"poller", a.member_sites > 0},
            {"member_sites", a.member_sites}};
  j["clock_skew_ms"] = a.skew_known ? json(a.clock_skew_ms) : json(nullptr);
  j["spool_depth"] = a.spool_depth >= 0 ? json(a.spool_depth) : json(nullptr);
  j["spool_oldest"] = a.spool_oldest_ms > 0 ? json(a.spool_oldest_ms) : json(nullptr);
  j["spool_dropped"] = a.spool_dropped >= 0 ? json(a.spool_dropped) : json(nullptr);
  if (a.lost) j["lost_since"] = a.lost_since_ms;
  return j;
}

json site_to_json(const SiteSummary& s) {
  json families = json::object();
  for (const auto& [family, state] : s.families) families[family] = state_name(state);
  return {{"name", s.name},
          {"state", state_name(s.worst)},
          {"status", static_cast<int>(s.worst)},
          {"counts",
           {{"OK", s.counts[0]},
            {"WARNING", s.counts[1]},
            {"CRITICAL", s.counts[2]},
            {"UNKNOWN", s.counts[3]}}},
          {"families", std::move(families)},
          {"agents", s.agents},
          {"agents_lost", s.agents_lost},
          {"last_report", s.last_report_ms},
          {"unreachable", s.unreachable},
          {"unreachable_since", s.unreachable ? json(s.unreachable_since_ms) : json(nullptr)},
          {"line", s.unreachable ? json(line_verdict_name(s.line)) : json(nullptr)},
          {"central", s.central},
          {"in_downtime", s.in_downtime},
          {"problems", s.problems},
          {"acknowledged", s.acknowledged}};
}

json event_to_json(const Event& e) {
  json j = {{"id", e.id},
            {"ts", e.ts_ms},
            {"recorded", e.recorded_ms},
            {"kind", event_kind_name(e.kind)},
            {"site", e.site},
            {"agent", e.agent},
            {"check", e.check},
            {"from", state_name(e.from)},
            {"to", state_name(e.to)},
            {"state_type", state_type_name(e.type)},
            {"attempt", e.attempt},
            {"summary", e.summary},
            {"author", e.author},
            {"notify", e.notify},
            {"backfill", e.backfill}};
  if (e.kind == EventKind::kTrap) {
    // Written by trap_text(), read back from the database: an object, or nothing.
    json trap = json::parse(e.trap, nullptr, /*allow_exceptions=*/false);
    j["trap"] = trap.is_object() ? std::move(trap) : json::object();
  }
  return j;
}

json downtime_to_json(const Downtime& d, std::int64_t now_ms, const CalendarSet* calendars) {
  json j = {{"id", d.id},
            {"site", d.site},
            {"agent", d.agent},
            {"check", d.check},
            {"start", d.start_ms},
            {"end", d.end_ms},
            {"comment", d.comment},
            {"author", d.author},
            {"created", d.created_ms},
            {"active", downtime_active(d, now_ms, calendars)}};
  if (!d.every.empty()) j["every"] = {{"schedule", d.every}, {"calendar", d.calendar}};
  if (d.weekly()) {
    char at[16];
    std::snprintf(at, sizeof at, "%02d:%02d", d.start_minute / 60, d.start_minute % 60);
    j["weekly"] = {{"days", weekdays_text(d.weekdays)},
                   {"at", at},
                   {"duration", human_duration(std::chrono::minutes(d.duration_minutes))},
                   {"duration_minutes", d.duration_minutes},
                   {"time_zone", d.time_zone}};
  }
  return j;
}

// An agent's central configuration: what it should run, what it runs, whether behind.
json agent_config_to_json(const AgentConfigState& c) {
  const auto text_or_null = [](const std::string& s) { return s.empty() ? json() : json(s); };
  json j = {{"managed", c.managed},
            {"version", text_or_null(c.version)},
            {"problem", text_or_null(c.problem)},
            {"running", c.report ? text_or_null(c.report->running) : json()},
            {"refused", c.report ? text_or_null(c.report->refused) : json()},
            {"error", c.report ? text_or_null(c.report->error) : json()},
            {"reported", c.report ? json(c.report->reported_ms) : json()},
            {"behind", c.behind()}};
  return j;
}

json config_entry_to_json(const ConfigEntry& e) {
  auto document = json::parse(e.document, nullptr, false);
  return {{"kind", config_kind_name(e.kind)},
          {"name", e.name},
          {"document", document.is_discarded() ? json(e.document) : document},
          {"revision", e.revision},
          {"updated", e.updated_ms},
          {"author", e.author}};
}

// Whether an If-None-Match header names `etag` (a list, weak tags and "*" included).
bool etag_matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"')
      tag = tag.substr(1, tag.size() - 2);
    if (tag == etag) return true;
  }
  return false;
}

// Who a token speaks for in the audit trail: its label, else its id.
std::string author_of(const TokenRecord& token) {
  if (!token.label.empty()) return token.label;
  return "token " + std::to_string(token.id);
}

std::string param(const HttpRequest& request, const char* name) {
  const auto it = request.query.find(name);
  return it == request.query.end() ? std::string() : it->second;
}

// The request's JSON object body, or the error reply to send.
Result<json> object_body(const HttpRequest& request) {
  if (request.body.size() > 64 * 1024) return Status::too_large("body larger than 64 KiB");
  auto body = parse_json(request.body);
  if (!body) return Status::invalid("malformed JSON: " + body.status().message());
  if (!body->is_object()) return Status::invalid("malformed JSON: expected an object");
  return body;
}

// A text field of a request body: null reads as absent; a required one must not be
// empty.
StringRule text_field(bool required, std::size_t max_bytes) {
  return {.required = required,
          .allow_empty = !required,
          .null_is_absent = true,
          .max_bytes = max_bytes};
}

// A time given as ms since the epoch (number) or an age/delay ("2h") from now; 0 if absent.
Status read_time(const json& body, const char* key, std::int64_t now, bool future,
                 std::int64_t& out) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return Status::ok();
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > std::uint64_t(kMaxTimeMs))
      return Status::invalid(std::string(key) + ": not a time between 1970 and 9999");
    out = it->get<std::int64_t>();
    return check_time(key, out);
  }
  if (it->is_string()) {
    auto d = parse_duration(it->get<std::string>());
    if (!d) return d.status().with_context(key);
    if (Status s = check_span(key, *d); !s) return s;
    out = future ? now + d->count() : now - d->count();
    return Status::ok();
  }
  return Status::invalid(std::string(key) +
                         ": expected ms since the epoch or a duration such as \"2h\"");
}

}  // namespace

struct Api::Route {
  std::string_view method;
  std::string_view path;
  std::optional<Role> need;  // nullopt: no token needed
  void (Api::*handler)(const HttpRequest&, const TokenRecord&, Respond) const;
};

Api::Api(Storage& storage, Monitor& monitor, ApiOptions options)
    : storage_(storage),
      monitor_(monitor),
      configs_(storage, storage),
      limiter_(options.agent_rate),
      enroll_limiter_(options.enroll_rate),
      options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = wall_ms;
}

void Api::handle(const HttpRequest& request, Respond respond) const {
  static constexpr Route kRoutes[] = {
      {"POST", "/api/v1/reports", Role::kAgent, &Api::post_report},
      {"POST", "/api/v1/enroll", std::nullopt, &Api::post_enroll},
      {"GET", "/api/v1/overview", Role::kViewer, &Api::get_overview},
      {"GET", "/api/v1/checks", Role::kViewer, &Api::get_checks},
      {"GET", "/api/v1/problems", Role::kViewer, &Api::get_problems},
      {"GET", "/api/v1/check", Role::kViewer, &Api::get_check},
      {"GET", "/api/v1/sites", Role::kViewer, &Api::get_sites},
      {"GET", "/api/v1/site", Role::kViewer, &Api::get_site},
      {"GET", "/api/v1/agents", Role::kViewer, &Api::get_agents},
      {"GET", "/api/v1/events", Role::kViewer, &Api::get_events},
      {"GET", "/api/v1/series", Role::kViewer, &Api::get_series},
      {"POST", "/api/v1/acks", Role::kOperator, &Api::post_ack},
      {"DELETE", "/api/v1/acks", Role::kOperator, &Api::delete_ack},
      {"GET", "/api/v1/downtimes", Role::kViewer, &Api::get_downtimes},
      {"POST", "/api/v1/downtimes", Role::kOperator, &Api::post_downtime},
      {"DELETE", "/api/v1/downtimes", Role::kOperator, &Api::delete_downtime},
      {"GET", "/api/v1/audit", Role::kOperator, &Api::get_audit},
      {"GET", "/api/v1/config", Role::kAgent, &Api::get_config},
      {"POST", "/api/v1/config/status", Role::kAgent, &Api::post_config_status},
      {"GET", "/api/v1/configs", Role::kAdmin, &Api::get_configs},
      {"PUT", "/api/v1/configs", Role::kAdmin, &Api::put_configs},
      {"DELETE", "/api/v1/configs", Role::kAdmin, &Api::delete_configs},
      {"POST", "/api/v1/configs/diff", Role::kAdmin, &Api::post_configs_diff},
      {"GET", "/api/v1/notifications", Role::kViewer, &Api::get_notifications},
      {"GET", "/healthz", std::nullopt, &Api::get_health},
      {"GET", "/metrics", Role::kViewer, &Api::get_metrics},
  };
  // Latency per known route (unknown paths share one label: no unbounded series).
  const auto started = std::chrono::steady_clock::now();
  std::string_view route_label = "other";
  for (const auto& route : kRoutes) {
    if (route.path == request.path) route_label = route.path;
  }
  respond = [this, started, route_label, respond = std::move(respond)](HttpResponse response) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    requests_.observe(route_label, response.status, took.count());
    respond(std::move(response));
  };
  bool path_known = false;
  for (const auto& route : kRoutes) {
    if (route.path != request.path) continue;
    path_known = true;
    if (route.method != request.method) continue;
    TokenRecord caller;
    if (route.need) {
      auto token = authenticate(request, *route.need);
      if (!token) return respond(error_response(token.status()));
      caller = std::move(*token);
    }
    return (this->*route.handler)(request, caller, std::move(respond));
  }
  if (path_known) {
    return respond(
        error_response(405, "method " + request.method + " not allowed on " + request.path));
  }
  respond(error_response(404, "no such endpoint: " + request.path));
}

bool Api::token_valid(const std::string& authorization) const {
  HttpRequest request;
  request.authorization = authorization;
  return authenticate(request, Role::kViewer).is_ok() ||
         authenticate(request, Role::kAgent).is_ok();
}

Result<TokenRecord> Api::authenticate(const HttpRequest& request, Role need) const {
  const std::string secret = bearer_token(request.authorization);
  if (secret.empty())
    return Status(Code::kUnauthenticated, "missing \"Authorization: Bearer <token>\" header");
  auto token = storage_.find_token(hash_secret(secret));
  if (!token) {
    if (token.status().code() == Code::kNotFound)
      return Status(Code::kUnauthenticated, "unknown token");
    return token.status();
  }
  if (token->revoked_ms != 0) return Status(Code::kUnauthenticated, "token revoked");
  if (token->expires_ms != 0 && token->expires_ms <= options_.now_ms())
    return Status(Code::kUnauthenticated, "token expired");
  if (!role_allows(token->role, need)) {
    return Status(Code::kPermissionDenied, "this endpoint needs a token of role " +
                                               std::string(role_name(need)) + ", not " +
                                               std::string(role_name(token->role)));
  }
  return token;
}

namespace {

// Text from an agent as the collector stores and shows it: a summary on one line
// (CR, LF and tabs become spaces), details with their line breaks (CR LF and a lone CR
// become LF); any other control character (ESC starts terminal escapes, NUL ends C
// strings) becomes U+FFFD, so that no console, mail or log line can be steered by it.
std::string clean_text(std::string_view text, bool one_line) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != 0x7F) {
      out += text[i];
    } else if (c == '\r' || c == '\n' || c == '\t') {
      if (one_line) {
        if (out.empty() || out.back() != ' ') out += ' ';
      } else if (c == '\t') {
        out += '\t';
      } else if (c == '\n' || i + 1 == text.size() || text[i + 1] != '\n') {
        out += '\n';  // a CR of CR LF is dropped, a lone CR is a line break
      }
    } else {
      out += "\xEF\xBF\xBD";
    }
  }
  if (one_line) {
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

bool needs_cleaning(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7F;
  });
}

}  // namespace

void Api::post_report(const HttpRequest& request, const TokenRecord& caller,
                      Respond respond) const {
  // Before any work on the body: an agent past its rate is told when to come back.
  if (const auto wait = limiter_.admit(caller.agent, std::chrono::steady_clock::now());
      wait.count() > 0) {
    rate_limited_.fetch_add(1, std::memory_order_relaxed);
    HttpResponse busy = error_response(
        429, "agent \"" + caller.agent + "\" sends reports faster than this collector allows");
    busy.headers["Retry-After"] = std::to_string(wait.count());
    return respond(std::move(busy));
  }
  std::string inflated;
  std::string_view body = request.body;
  if (!request.content_encoding.empty() && request.content_encoding != "identity") {
    if (request.content_encoding != "gzip") {
      return respond(error_response(
          415, "unsupported Content-Encoding \"" + request.content_encoding + "\" (use gzip)"));
    }
    auto plain = gzip_decompress(request.body, options_.max_inflated_body);
    // Not about a field of the report: no "field" in the reply.
    if (!plain) {
      return respond(error_response(http_status_for(plain.status().code()),
                                    "request body: " + plain.status().message()));
    }
    inflated = std::move(*plain);
    body = inflated;
  } else if (body.size() > options_.max_inflated_body) {
    return respond(error_response(
        413, "body larger than " + std::to_string(options_.max_inflated_body) + " bytes"));
  }

  auto report = protocol::decode_report(body, options_.limits);
  if (!report) {
    log::notice("ingest from " + request.peer + " refused: " + report.status().message());
    return respond(error_response(report.status()));
  }
  if (report->agent.id != caller.agent || report->agent.site != caller.site) {
    return respond(error_response(403, "agent.id: this token reports for agent \"" + caller.agent +
                                           "\" of site \"" + caller.site + "\", not \"" +
                                           report->agent.id + "\" of \"" + report->agent.site +
                                           "\""));
  }
  // A result about another site needs a central poller's token (enrolled with
  // --report-for): one that names a site it may not report for refuses the whole batch.
  for (std::size_t i = 0; i < report->results.size(); ++i) {
    const std::string& site = report->results[i].site;
    if (may_report_for(caller, site)) continue;
    log::warning("report of agent \"" + caller.agent + "\" refused: result for site \"" + site +
                 "\" without the right to report for it");
    return respond(
        error_response(403, "results[" + std::to_string(i) + "].site: agent \"" + caller.agent +
                                "\" of site \"" + caller.site + "\" may not report for site \"" +
                                site + "\" (enroll it with a token created with --report-for)"));
  }
  const std::int64_t now = options_.now_ms();
  for (std::size_t i = 0; i < report->results.size(); ++i) {
    const std::int64_t ahead = report->results[i].ts_ms - now;
    if (ahead > options_.max_clock_ahead.count()) {
      const std::string field = "results[" + std::to_string(i) + "].ts";
      log::notice("ingest from " + request.peer + " (agent \"" + caller.agent +
                  "\") refused: its clock is " + human_duration(std::chrono::milliseconds(ahead)) +
                  " ahead");
      return respond(json_response(
          400, {{"error", field + ": " + human_duration(std::chrono::milliseconds(ahead)) +
                              " ahead of the collector's clock (" + std::to_string(ahead) +
                              " ms; at most " + human_duration(options_.max_clock_ahead) +
                              "): set the agent's clock right (NTP); the batch is kept"},
                {"field", field},
                {"skew_ms", ahead}}));
    }
  }
  if (options_.max_checks_per_agent > 0) {
    // New checks are rare: the agent's count is read only when one comes.
    std::set<std::string> fresh;
    std::size_t first_new = 0;
    for (std::size_t i = 0; i < report->results.size(); ++i) {
      const std::string& id = report->results[i].check;
      if (!monitor_.engine().check(caller.agent, id) && fresh.insert(id).second &&
          fresh.size() == 1)
        first_new = i;
    }
    if (!fresh.empty()) {
      const std::size_t known = monitor_.engine().checks({.agent = caller.agent}).size();
      if (known + fresh.size() > options_.max_checks_per_agent) {
        return respond(error_response(Status(
            Code::kTooLarge,
            "results[" + std::to_string(first_new) + "].check: agent \"" + caller.agent +
                "\" would have " + std::to_string(known + fresh.size()) +
                " checks, more than the limit of " + std::to_string(options_.max_checks_per_agent) +
                " (--max-checks-per-agent)")));
      }
    }
  }
  for (auto& r : report->results) {
    if (needs_cleaning(r.summary)) r.summary = clean_text(r.summary, true);
    if (needs_cleaning(r.details)) r.details = clean_text(r.details, false);
  }
  const std::size_t count = report->results.size();
  monitor_.ingest(std::move(*report), now,
                  [respond = std::move(respond), count](Result<IngestOutcome> outcome) {
                    if (!outcome) {
                      HttpResponse failed = error_response(outcome.status());
                      // Busy or shutting down: back in a while, not all 600 at once.
                      if (failed.status == 503)
                        failed.headers["Retry-After"] = std::to_string(busy_retry_after_s());
                      return respond(std::move(failed));
                    }
                    if (*outcome == IngestOutcome::kDuplicate)
                      return respond(json_response(200, {{"status", "duplicate"}}));
                    respond(json_response(200, {{"status", "stored"}, {"results", count}}));
                  });
}

void Api::list(const CheckFilter& filter, const std::string& family, Respond respond) const {
  json checks = json::array();
  for (const auto& c : monitor_.engine().checks(filter)) {
    if (!family.empty() && check_family(c.last.check) != family) continue;
    checks.push_back(check_to_json(c));
  }
  respond(json_response(200, {{"now", options_.now_ms()},
                              {"cursor", monitor_.published_cursor()},
                              {"checks", std::move(checks)}}));
}

void Api::post_enroll(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  // By address, not address and port: a source's attempts share one bucket.
  std::string source = request.peer.substr(0, request.peer.rfind(':'));
  if (const auto wait = enroll_limiter_.admit(source, std::chrono::steady_clock::now());
      wait.count() > 0) {
    HttpResponse busy =
        error_response(429, "too many enrollment attempts from " + source + ": try again later");
    busy.headers["Retry-After"] = std::to_string(wait.count());
    return respond(std::move(busy));
  }
  const std::string enroll_secret = bearer_token(request.authorization);
  if (enroll_secret.empty()) {
    return respond(
        error_response(401, "missing \"Authorization: Bearer <enrollment token>\" header"));
  }
  if (request.body.size() > 64 * 1024) return respond(error_response(413, "body too large"));
  auto parsed = parse_json(request.body);
  if (!parsed) return respond(error_response(400, "malformed JSON: " + parsed.status().message()));
  const json& body = *parsed;
  if (!body.is_object()) return respond(error_response(400, "malformed JSON: expected an object"));
  const auto agent = body.find("agent");
  if (agent == body.end() || !agent->is_object())
    return respond(error_response(400, "agent: missing or not an object"));
  // The same rules as the report's agent block: reuse the protocol's validation.
  nlohmann::json probe = {{"protocol", protocol::kVersion},
                          {"agent", *agent},
                          {"seq", 1},
                          {"results", nlohmann::json::array()}};
  auto checked = protocol::decode_report(probe.dump(), options_.limits);
  if (!checked) return respond(error_response(checked.status()));

  const std::string agent_secret = new_secret(Role::kAgent);
  Enrollment enrollment{.enroll_hash = hash_secret(enroll_secret),
                        .agent = checked->agent.id,
                        .site = checked->agent.site,
                        .agent_token_hash = hash_secret(agent_secret),
                        .now_ms = options_.now_ms()};
  auto issued = storage_.enroll(enrollment);
  if (!issued) {
    log::warning("enrollment of agent \"" + enrollment.agent + "\" from " + request.peer +
                 " refused: " + issued.status().message());
    return respond(error_response(issued.status()));
  }
  log::notice("agent \"" + issued->agent + "\" of site \"" + issued->site + "\" enrolled from " +
              request.peer);
  respond(json_response(
      200, {{"token", agent_secret}, {"agent", issued->agent}, {"site", issued->site}}));
}

void Api::get_checks(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  list({.site = param(request, "site"), .agent = param(request, "agent")}, param(request, "family"),
       std::move(respond));
}

void Api::get_problems(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  list({.site = param(request, "site"), .agent = param(request, "agent"), .problems_only = true},
       param(request, "family"), std::move(respond));
}

void Api::get_overview(const HttpRequest&, const TokenRecord&, Respond respond) const {
  const auto sites = monitor_.engine().sites();
  const auto agents = monitor_.engine().agents();
  int counts[4] = {0, 0, 0, 0};
  int by_site[4] = {0, 0, 0, 0};
  int problems = 0, acknowledged = 0, unreachable = 0;
  for (const auto& s : sites) {
    for (int i = 0; i < 4; ++i) counts[i] += s.counts[i];
    ++by_site[static_cast<int>(s.worst)];
    problems += s.problems;
    acknowledged += s.acknowledged;
    unreachable += s.unreachable ? 1 : 0;
  }
  const auto lost =
      std::count_if(agents.begin(), agents.end(), [](const auto& a) { return a.lost; });
  respond(json_response(200, {{"now", options_.now_ms()},
                              {"cursor", monitor_.published_cursor()},
                              {"checks",
                               {{"OK", counts[0]},
                                {"WARNING", counts[1]},
                                {"CRITICAL", counts[2]},
                                {"UNKNOWN", counts[3]}}},
                              {"sites",
                               {{"total", sites.size()},
                                {"OK", by_site[0]},
                                {"WARNING", by_site[1]},
                                {"CRITICAL", by_site[2]},
                                {"UNKNOWN", by_site[3]},
                                {"unreachable", unreachable}}},
                              {"agents", {{"total", agents.size()}, {"lost", lost}}},
                              {"problems", problems},
                              {"acknowledged", acknowledged}}));
}

void Api::get_check(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  const std::string agent = param(request, "agent");
  const std::string check = param(request, "check");
  if (agent.empty()) return respond(error_response(400, "agent: required"));
  if (check.empty()) return respond(error_response(400, "check: required"));
  const auto state = monitor_.engine().check(agent, check);
  if (!state) {
    return respond(error_response(404, "agent \"" + agent + "\" has no check \"" + check + "\""));
  }
  // Its last 100 changes and its last 20 traps, newest first: a trap storm does not
  // push the state changes out of the history.
  auto history = storage_.events({.limit = kHistoryChanges,
                                  .agent = agent,
                                  .check = check,
                                  .traps = EventQuery::Traps::kWithout});
  if (!history) return respond(error_response(history.status()));
  auto traps = storage_.events(
      {.limit = kHistoryTraps, .agent = agent, .check = check, .traps = EventQuery::Traps::kOnly});
  if (!traps) return respond(error_response(traps.status()));
  std::vector<Event> merged(history->size() + traps->size());
  std::merge(history->begin(), history->end(), traps->begin(), traps->end(), merged.begin(),
             [](const Event& a, const Event& b) { return a.id > b.id; });
  json events = json::array();
  for (const auto& e : merged) events.push_back(event_to_json(e));
  json out = check_to_json(*state);
  out["history"] = std::move(events);
  out["now"] = options_.now_ms();
  respond(json_response(200, out));
}

void Api::get_sites(const HttpRequest&, const TokenRecord&, Respond respond) const {
  json sites = json::array();
  for (const auto& s : monitor_.engine().sites()) sites.push_back(site_to_json(s));
  respond(json_response(200, {{"now", options_.now_ms()},
                              {"cursor", monitor_.published_cursor()},
                              {"sites", std::move(sites)}}));
}

void Api::get_site(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  const std::string name = param(request, "name");
  if (name.empty()) return respond(error_response(400, "name: required"));
  const auto sites = monitor_.engine().sites();
  const auto it =
      std::find_if(sites.begin(), sites.end(), [&](const auto& s) { return s.name == name; });
  if (it == sites.end()) return respond(error_response(404, "no site \"" + name + "\""));
  json out = site_to_json(*it);
  json checks = json::array();
  for (const auto& c : monitor_.engine().checks({.site = name})) checks.push_back(check_to_json(c));
  json agents = json::array();
  for (const auto& a : monitor_.engine().agents(name)) agents.push_back(agent_to_json(a));
  json downtimes = json::array();
  const std::int64_t now = options_.now_ms();
  for (const auto& d : monitor_.engine().downtimes()) {
    if (d.site == name)
      downtimes.push_back(downtime_to_json(d, now, monitor_.engine().calendars()));
  }
  out["checks"] = std::move(checks);
  out["agent_list"] = std::move(agents);
  out["downtimes"] = std::move(downtimes);
  out["now"] = now;
  respond(json_response(200, out));
}

void Api::get_agents(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  auto configs = configs_.agents();
  if (!configs) return respond(error_response(configs.status()));
  std::map<std::string, const AgentConfigState*> config_of;
  for (const auto& c : *configs) config_of.emplace(c.agent, &c);
  json agents = json::array();
  for (const auto& a : monitor_.engine().agents(param(request, "site"))) {
    agents.push_back(agent_to_json(a));
    const auto it = config_of.find(a.id);
    agents.back()["config"] =
        it == config_of.end() ? json{{"managed", false}} : agent_config_to_json(*it->second);
  }
  respond(json_response(200, {{"now", options_.now_ms()}, {"agents", std::move(agents)}}));
}

void Api::get_events(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  std::int64_t after = 0;
  if (const std::string text = param(request, "after"); !text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
    if (ec != std::errc() || end != text.data() + text.size() || after < 0)
      return respond(error_response(400, "after: expected an event id >= 0"));
  } else {
    after = monitor_.published_cursor();  // no cursor: from now on
  }
  std::size_t limit = 1000;
  if (const std::string text = param(request, "limit"); !text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 10'000)
      return respond(error_response(400, "limit: expected 1..10000"));
  }
  std::chrono::milliseconds timeout = options_.max_poll;
  if (const std::string text = param(request, "timeout"); !text.empty()) {
    auto d = parse_duration(text);
    if (!d) return respond(error_response(d.status().with_context("timeout")));
    timeout = std::min(*d, options_.max_poll);
  }
  monitor_.wait_events(
      after, limit, timeout,
      [respond = std::move(respond)](std::vector<Event> events, std::int64_t cursor) {
        json list = json::array();
        for (const auto& e : events) list.push_back(event_to_json(e));
        respond(json_response(200, {{"cursor", cursor}, {"events", std::move(list)}}));
      });
}

void Api::post_ack(const HttpRequest& request, const TokenRecord& caller, Respond respond) const {
  auto body = object_body(request);
  if (!body) return respond(error_response(body.status()));
  std::string agent, check;
  Ack ack;
  ack.author = author_of(caller);
  const std::int64_t now = options_.now_ms();
  Status s = read_string(*body, "agent", agent, text_field(true, 1024));
  if (s) s = read_string(*body, "check", check, text_field(true, 1024));
  if (s) s = read_string(*body, "comment", ack.comment, text_field(true, 4096));
  if (s) s = read_time(*body, "expires", now, true, ack.expires_ms);
  if (s) {
    if (const auto it = body->find("sticky"); it != body->end() && !it->is_null()) {
      if (!it->is_boolean()) s = Status::invalid("sticky: expected true or false");
      else ack.sticky = it->get<bool>();
    }
  }
  if (!s) return respond(error_response(s));
  auto done = monitor_.acknowledge(agent, check, ack);
  if (!done) return respond(error_response(done.status()));
  const auto state = monitor_.engine().check(agent, check);
  respond(json_response(200, state ? check_to_json(*state) : json::object()));
}

void Api::delete_ack(const HttpRequest& request, const TokenRecord& caller, Respond respond) const {
  const std::string agent = param(request, "agent");
  const std::string check = param(request, "check");
  if (agent.empty()) return respond(error_response(400, "agent: required"));
  if (check.empty()) return respond(error_response(400, "check: required"));
  auto done = monitor_.unacknowledge(agent, check, author_of(caller), param(request, "comment"));
  if (!done) return respond(error_response(done.status()));
  const auto state = monitor_.engine().check(agent, check);
  respond(json_response(200, state ? check_to_json(*state) : json::object()));
}

void Api::get_downtimes(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  const std::string site = param(request, "site");
  const std::int64_t now = options_.now_ms();
  json list = json::array();
  for (const auto& d : monitor_.engine().downtimes()) {
    if (site.empty() || d.site == site)
      list.push_back(downtime_to_json(d, now, monitor_.engine().calendars()));
  }
  respond(json_response(200, {{"now", now}, {"downtimes", std::move(list)}}));
}

void Api::post_downtime(const HttpRequest& request, const TokenRecord& caller,
                        Respond respond) const {
  auto body = object_body(request);
  if (!body) return respond(error_response(body.status()));
  const std::int64_t now = options_.now_ms();
  Downtime d;
  d.author = author_of(caller);
  Status s = read_string(*body, "site", d.site, text_field(true, 1024));
  if (s) s = read_string(*body, "agent", d.agent, text_field(false, 1024));
  if (s) s = read_string(*body, "check", d.check, text_field(false, 1024));
  if (s) s = read_string(*body, "comment", d.comment, text_field(true, 4096));
  if (s) s = read_time(*body, "start", now, true, d.start_ms);
  if (s) s = read_time(*body, "end", now, true, d.end_ms);
  if (s && d.start_ms == 0) d.start_ms = now;
  if (s) {
    if (const auto it = body->find("duration"); it != body->end() && !it->is_null()) {
      auto length = it->is_string() ? parse_duration(it->get<std::string>())
                                    : Result<std::chrono::milliseconds>(
                                          Status::invalid("expected a duration such as \"2h\""));
      if (!length) s = length.status().with_context("duration");
      else if (body->contains("weekly") && *length > std::chrono::hours(24 * 7))
        s = Status::invalid("duration: a weekly downtime lasts a week at most");
      else if (Status span = check_span("duration", *length); !span) s = span;
      else if (body->contains("weekly") || body->contains("every"))
        d.duration_minutes = static_cast<int>(length->count() / 60'000);
      else if (d.start_ms + length->count() > kMaxTimeMs)
        s = Status::invalid("duration: the downtime would end after the year 9999");
      else d.end_ms = d.start_ms + length->count();
    }
  }
  if (s) {
    if (const auto it = body->find("weekly"); it != body->end() && !it->is_null()) {
      if (body->contains("every")) {
        s = Status::invalid("every and weekly: give one or the other");
      } else if (!it->is_object()) {
        s = Status::invalid(
            "weekly: expected {\"days\": \"mon,tue\", \"at\": \"22:00\", \"time_zone\": "
            "\"Europe/Paris\"}");
      } else {
        const Fields weekly{*it, "weekly"};
        std::string days, at;
        s = read_string(weekly, "days", days, text_field(true, 64));
        if (s) s = read_string(weekly, "at", at, text_field(true, 8));
        if (s) s = read_string(weekly, "time_zone", d.time_zone, text_field(true, 128));
        if (s) {
          auto bits = parse_weekdays(days);
          if (!bits) s = bits.status().with_context("weekly");
          else d.weekdays = *bits;
        }
        int hours = -1, minutes = -1;
        if (s && (std::sscanf(at.c_str(), "%2d:%2d", &hours, &minutes) != 2 || at.size() != 5 ||
                  hours < 0 || hours > 23 || minutes < 0 || minutes > 59)) {
          s = Status::invalid("weekly.at: expected a time of day HH:MM, got \"" + at + "\"");
        }
        d.start_minute = hours * 60 + minutes;
        if (s && d.duration_minutes == 0)
          s = Status::invalid("duration: required for a weekly downtime");
      }
    } else if (const auto every = body->find("every"); s && every != body->end()) {
      // {"every": "public-holidays", "calendar": "desk"}: until "end" (or for ever).
      s = read_string(*body, "every", d.every, text_field(true, 64));
      if (s) s = read_string(*body, "calendar", d.calendar, text_field(true, 128));
      if (s && d.duration_minutes != 0)
        s = Status::invalid("duration: not with every (the calendar says how long)");
    } else if (s && d.end_ms == 0) {
      s = Status::invalid("end or duration: required");
    }
  }
  if (!s) return respond(error_response(s));
  auto added = monitor_.add_downtime(std::move(d));
  if (!added) return respond(error_response(added.status()));
  respond(json_response(
      201, downtime_to_json(*added, options_.now_ms(), monitor_.engine().calendars())));
}

void Api::delete_downtime(const HttpRequest& request, const TokenRecord& caller,
                          Respond respond) const {
  const std::string text = param(request, "id");
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id <= 0)
    return respond(error_response(400, "id: expected a downtime id"));
  auto done = monitor_.remove_downtime(id, author_of(caller), param(request, "comment"));
  if (!done) return respond(error_response(done.status()));
  respond(json_response(200, {{"deleted", id}}));
}

void Api::get_config(const HttpRequest& request, const TokenRecord& caller, Respond respond) const {
  auto config = configs_.for_agent(caller.agent, caller.site);
  if (!config) {
    // kNotFound: not managed from here (404); else the centre's configuration of this
    // agent does not render (409): the agent keeps what it runs.
    if (config.status().code() == Code::kInvalidArgument)
      return respond(error_response(409, config.status().message()));
    return respond(error_response(config.status()));
  }
  const std::string etag = "\"" + config->version + "\"";
  if (etag_matches(request.if_none_match, config->version)) {
    HttpResponse unchanged{.status = 304, .content_type = "application/json", .body = {}};
    unchanged.headers["ETag"] = etag;
    return respond(std::move(unchanged));
  }
  HttpResponse reply = json_response(200, {{"version", config->version},
                                           {"template", config->template_name},
                                           {"config", config->config}});
  reply.headers["ETag"] = etag;
  respond(std::move(reply));
}

void Api::post_config_status(const HttpRequest& request, const TokenRecord& caller,
                             Respond respond) const {
  auto body = object_body(request);
  if (!body) return respond(error_response(body.status()));
  AgentConfigReport report{.agent = caller.agent, .reported_ms = options_.now_ms()};
  const std::pair<const char*, std::string*> fields[] = {
      {"running", &report.running}, {"refused", &report.refused}, {"error", &report.error}};
  for (const auto& [key, out] : fields) {
    const auto it = body->find(key);
    if (it == body->end() || it->is_null()) continue;
    if (!it->is_string())
      return respond(error_response(400, std::string(key) + ": expected a string"));
    *out = valid_utf8(it->get<std::string>());
  }
  for (const std::string* version : {&report.running, &report.refused}) {
    if (version->size() > 64) return respond(error_response(400, "a version is 64 bytes at most"));
  }
  report.error = cut_utf8(std::move(report.error), 2000);
  if (Status s = storage_.put_agent_config_report(report); !s) return respond(error_response(s));
  if (!report.refused.empty()) {
    log::warning("agent \"" + caller.agent + "\" refused configuration " + report.refused + ": " +
                 report.error);
  }
  respond(json_response(200, {{"status", "recorded"}}));
}

void Api::get_configs(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  const std::string agent = param(request, "agent");
  if (!agent.empty()) {
    // What that agent should run, rendered.
    auto states = configs_.agents();
    if (!states) return respond(error_response(states.status()));
    for (const auto& s : *states) {
      if (s.agent != agent) continue;
      auto config = configs_.for_agent(s.agent, s.site);
      if (!config) return respond(error_response(config.status()));
      return respond(json_response(200, {{"agent", s.agent},
                                         {"site", s.site},
                                         {"template", config->template_name},
                                         {"version", config->version},
                                         {"config", config->config},
                                         {"state", agent_config_to_json(s)}}));
    }
    return respond(error_response(404, "no enrolled agent \"" + agent + "\""));
  }
  auto snapshot = configs_.snapshot();
  if (!snapshot) return respond(error_response(snapshot.status()));
  const std::string kind = param(request, "kind");
  const std::string name = param(request, "name");
  json entries = json::array();
  for (const auto& e : snapshot->entries) {
    if (!kind.empty() && config_kind_name(e.kind) != kind) continue;
    if (!name.empty() && e.name != name) continue;
    entries.push_back(config_entry_to_json(e));
  }
  if (!kind.empty() && !name.empty() && entries.empty())
    return respond(error_response(404, "no " + kind + " \"" + name + "\""));
  auto states = configs_.agents();
  if (!states) return respond(error_response(states.status()));
  json agents = json::array();
  for (const auto& s : *states) {
    json a = agent_config_to_json(s);
    a["agent"] = s.agent;
    a["site"] = s.site;
    agents.push_back(std::move(a));
  }
  respond(json_response(200, {{"revision", snapshot->revision},
                              {"entries", std::move(entries)},
                              {"agents", std::move(agents)}}));
}

void Api::put_configs(const HttpRequest& request, const TokenRecord& caller,
                      Respond respond) const {
  change_configs(request, caller, /*remove=*/false, /*dry_run=*/false, std::move(respond));
}

void Api::delete_configs(const HttpRequest& request, const TokenRecord& caller,
                         Respond respond) const {
  change_configs(request, caller, /*remove=*/true, /*dry_run=*/false, std::move(respond));
}

void Api::post_configs_diff(const HttpRequest& request, const TokenRecord& caller,
                            Respond respond) const {
  change_configs(request, caller, /*remove=*/false, /*dry_run=*/true, std::move(respond));
}

void Api::change_configs(const HttpRequest& request, const TokenRecord& caller, bool remove,
                         bool dry_run, Respond respond) const {
  const auto kind = config_kind_from_name(param(request, "kind"));
  if (!kind) return respond(error_response(400, "kind: expected template, site or agent"));
  const std::string name = param(request, "name");
  if (name.empty()) return respond(error_response(400, "name: required"));
  std::optional<json> document;
  if (!remove) {
    if (request.body.size() > 1024 * 1024)
      return respond(error_response(413, "body larger than 1 MiB"));
    auto parsed = parse_json(request.body, {.comments = true});
    if (!parsed)
      return respond(error_response(400, "malformed JSON: " + parsed.status().message()));
    document = std::move(*parsed);
  }
  auto plan = dry_run ? configs_.plan(*kind, name, document, author_of(caller), options_.now_ms())
                      : configs_.apply(*kind, name, document, author_of(caller), options_.now_ms());
  if (!plan) {
    // A change made meanwhile is a conflict: look again.
    if (plan.status().code() == Code::kFailedPrecondition)
      return respond(error_response(409, plan.status().message()));
    return respond(error_response(plan.status()));
  }
  if (!dry_run) {
    log::notice(author_of(caller) + ": " + plan->change.audit.action + " " +
                plan->change.audit.target + ": " + plan->change.audit.comment);
  }
  respond(json_response(200, {{"stored", !dry_run},
                              {"diff", plan->diff},
                              {"updated", plan->updated},
                              {"summary", plan->change.audit.comment}}));
}

void Api::get_audit(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  std::int64_t after = 0;
  if (const std::string text = param(request, "after"); !text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
    if (ec != std::errc() || end != text.data() + text.size())
      return respond(error_response(400, "after: expected an audit entry id"));
  }
  auto entries = storage_.audit({.after = after, .limit = 1000});
  if (!entries) return respond(error_response(entries.status()));
  json list = json::array();
  for (const auto& e : *entries) {
    list.push_back({{"id", e.id},
                    {"ts", e.ts_ms},
                    {"author", e.author},
                    {"action", e.action},
                    {"target", e.target},
                    {"comment", e.comment}});
    // Documents changed (agent configurations): as they were and as they became.
    const std::pair<const char*, const std::string*> documents[] = {{"before", &e.before},
                                                                    {"after", &e.after}};
    for (const auto& [key, text] : documents) {
      if (text->empty()) continue;
      auto value = json::parse(*text, nullptr, false);
      list.back()[key] = value.is_discarded() ? json(*text) : value;
    }
  }
  respond(json_response(200, {{"audit", std::move(list)}}));
}

void Api::get_series(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  SeriesQuery query{.agent = param(request, "agent"),
                    .check = param(request, "check"),
                    .metric = param(request, "metric"),
                    .tier = param(request, "tier")};
  for (const auto& [name, value] :
       {std::pair{"agent", query.agent}, {"check", query.check}, {"metric", query.metric}}) {
    if (value.empty()) return respond(error_response(400, std::string(name) + ": required"));
  }
  const std::int64_t now = options_.now_ms();
  const std::string from = param(request, "from");
  const std::string to = param(request, "to");
  auto from_ms = parse_time("from", from.empty() ? "24h" : from, now);
  auto to_ms = parse_time("to", to.empty() ? std::to_string(now) : to, now);
  if (!from_ms) return respond(error_response(from_ms.status()));
  if (!to_ms) return respond(error_response(to_ms.status()));
  query.from_ms = *from_ms;
  query.to_ms = *to_ms;
  if (const std::string step = param(request, "step"); !step.empty() && step != "0") {
    auto d = parse_duration(step);
    if (!d) return respond(error_response(d.status().with_context("step")));
    query.step_ms = d->count();
  }

  auto data = storage_.series(query);
  if (!data) return respond(error_response(data.status()));
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : data->points) {
    points.push_back(
        {{"ts", p.ts_ms}, {"min", p.min}, {"max", p.max}, {"avg", p.avg}, {"count", p.count}});
  }
  respond(json_response(200, {{"agent", query.agent},
                              {"check", query.check},
                              {"metric", query.metric},
                              {"unit", data->unit},
                              {"tier", data->tier},
                              {"step_ms", data->step_ms},
                              {"from", query.from_ms},
                              {"to", query.to_ms},
                              {"points", std::move(points)}}));
}

void Api::get_metrics(const HttpRequest&, const TokenRecord&, Respond respond) const {
  std::string out;
  const MonitorStats m = monitor_.stats();
  const StorageStats s = storage_.stats();
  append_metric(out, "vigie_reports_stored_total", "counter", "Reports stored.",
                static_cast<double>(m.reports_stored));
  append_metric(out, "vigie_reports_duplicate_total", "counter",
                "Reports answered as duplicates (an agent's replay), stored once before.",
                static_cast<double>(m.reports_duplicate));
  append_metric(out, "vigie_results_stored_total", "counter", "Check results stored.",
                static_cast<double>(m.results_stored));
  append_metric(out, "vigie_samples_stored_total", "counter", "Metric samples stored.",
                static_cast<double>(m.samples_stored));
  append_metric(out, "vigie_late_results_total", "counter",
                "Results older than their check's latest: history only.",
                static_cast<double>(monitor_.engine().late_results()));
  append_metric(out, "vigie_events_total", "counter", "State-change events recorded.",
                static_cast<double>(m.events));
  append_metric(out, "vigie_traps_kept_total", "counter",
                "SNMP traps from agents kept as events in their check's history.",
                static_cast<double>(monitor_.engine().traps_kept()));
  append_metric(out, "vigie_traps_not_kept_total", "counter",
                "SNMP traps from agents not kept: past a device's and check's storm bound.",
                static_cast<double>(monitor_.engine().traps_not_kept()));
  append_metric(out, "vigie_event_polls_waiting", "gauge", "Live readers waiting for events.",
                static_cast<double>(m.waiting_polls));
  append_metric(out, "vigie_followed_all_total", "counter",
                "Times the whole state was read again after other collectors sharing the "
                "database changed it (PostgreSQL).",
                static_cast<double>(m.followed_all));
  append_metric(out, "vigie_followed_agents_total", "counter",
                "Agents read again, one by one, after other collectors sharing the database "
                "changed them (PostgreSQL).",
                static_cast<double>(m.followed_agents));
  append_metric(out, "vigie_writer_queue_depth", "gauge",
                "Jobs (reports, state changes) waiting for the database writer.",
                static_cast<double>(s.queue_depth));
  append_histogram(out, "vigie_commit_seconds",
                   "Time the database writer took to commit a group of jobs (reports, state "
                   "changes), from its start to the end of its COMMIT.",
                   s.commit_seconds);
  append_histogram(out, "vigie_housekeeping_seconds",
                   "Time the database writer took for a slice of housekeeping (rollups, "
                   "compaction, partitions, retention) between its commits; reports wait "
                   "meanwhile.",
                   s.housekeeping_seconds);
  append_metric(out, "vigie_database_bytes", "gauge", "Database size on disk, WAL included.",
                static_cast<double>(s.database_bytes));
  append_metric(out, "vigie_commits_total", "counter", "Database transactions committed.",
                static_cast<double>(s.commits));
  append_metric(out, "vigie_commit_failures_total", "counter", "Database transactions that failed.",
                static_cast<double>(s.commit_failures));
  append_metric(out, "vigie_db_reads_retried_total", "counter",
                "Database reads run again after a broken connection or a conflict with "
                "recovery on a standby (PostgreSQL).",
                static_cast<double>(s.reads_retried));
  append_metric(out, "vigie_rollup_due_blocks", "gauge",
                "Raw sample blocks whose hour is over, not rolled up into the tiers yet, "
                "counted up to " +
                    std::to_string(kRollupDueCounted) +
                    ": that value means at least that many (PostgreSQL; 0 on SQLite).",
                static_cast<double>(s.rollup_due_blocks));
  append_metric(out, "vigie_rollup_oldest_due_seconds", "gauge",
                "Seconds since the oldest block not rolled up yet of an hour that is over "
                "ended (PostgreSQL; 0 when none, and on SQLite).",
                s.rollup_oldest_due_seconds);
  append_metric(out, "vigie_leader", "gauge",
                "1 while this collector leads (runs the sweeps and housekeeping; always on "
                "SQLite), else 0.",
                storage_.leads() ? 1 : 0);
  append_metric(out, "vigie_schema_outdated", "gauge",
                "1 once a newer collector migrated the shared PostgreSQL database under this "
                "one: it writes nothing more, answers reports 503 and /healthz fails (upgrade "
                "it), else 0.",
                storage_.health() ? 0 : 1);
  append_metric(out, "vigie_reports_refused_busy_total", "counter",
                "Reports answered 503 because the writer's queue was full.",
                static_cast<double>(s.refused_busy));
  append_metric(out, "vigie_reports_rate_limited_total", "counter",
                "Reports answered 429: their agent sent faster than --agent-rate.",
                static_cast<double>(rate_limited_.load(std::memory_order_relaxed)));

  int counts[4] = {0, 0, 0, 0};
  int problems = 0, acknowledged = 0, unreachable = 0;
  for (const auto& site : monitor_.engine().sites()) {
    for (int i = 0; i < 4; ++i) counts[i] += site.counts[i];
    problems += site.problems;
    acknowledged += site.acknowledged;
    unreachable += site.unreachable ? 1 : 0;
  }
  out +=
      "# HELP vigie_checks Checks by the state shown (stale ones as UNKNOWN).\n"
      "# TYPE vigie_checks gauge\n";
  for (int i = 0; i < 4; ++i) {
    out += "vigie_checks{state=\"" + std::string(state_name(static_cast<State>(i))) + "\"} " +
           std::to_string(counts[i]) + "\n";
  }
  append_metric(out, "vigie_problems", "gauge", "Checks with a non-OK hard state.", problems);
  append_metric(out, "vigie_problems_acknowledged", "gauge", "Problems acknowledged.",
                acknowledged);
  append_metric(out, "vigie_sites_unreachable", "gauge", "Sites whose every agent is lost.",
                unreachable);
  const auto agents = monitor_.engine().agents();
  const auto lost =
      std::count_if(agents.begin(), agents.end(), [](const auto& a) { return a.lost; });
  append_metric(out, "vigie_agents", "gauge", "Agents known.", static_cast<double>(agents.size()));
  append_metric(out, "vigie_agents_lost", "gauge", "Agents without a report within the timeout.",
                static_cast<double>(lost));
  if (options_.notifier) {
    const NotifierStats n = options_.notifier->stats();
    out +=
        "# HELP vigie_notifications_total Alert messages by channel and outcome (a digest"
        " is one message).\n# TYPE vigie_notifications_total counter\n";
    const char* channels[] = {"webhook", "email"};
    for (int k = 0; k < 2; ++k) {
      const std::pair<const char*, std::int64_t> rows[] = {
          {"sent", n.sent[k]}, {"failed", n.failed[k]}, {"digest", n.digests[k]}};
      for (const auto& [status, value] : rows) {
        out += std::string("vigie_notifications_total{channel=\"") + channels[k] + "\",status=\"" +
               status + "\"} " + std::to_string(value) + "\n";
      }
    }
    append_metric(out, "vigie_notifications_suppressed_total", "counter",
                  "Alerts held back (acknowledged, in downtime, flapping, site unreachable).",
                  static_cast<double>(n.suppressed));
  }
  requests_.render(out);
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = std::move(out);
  respond(std::move(response));
}

void Api::get_notifications(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  NotificationQuery query{.site = param(request, "site"),
                          .agent = param(request, "agent"),
                          .check = param(request, "check")};
  if (const std::string text = param(request, "limit"); !text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), query.limit);
    if (ec != std::errc() || end != text.data() + text.size() || query.limit < 1 ||
        query.limit > 10'000)
      return respond(error_response(400, "limit: expected 1..10000"));
  }
  auto found = storage_.notifications(query);
  if (!found) return respond(error_response(found.status()));
  json list = json::array();
  for (const auto& n : *found) {
    json j = {{"time", n.ts_ms},      {"site", n.site},
              {"agent", n.agent},     {"check", n.check},
              {"channel", n.channel}, {"target", n.target},
              {"kind", n.kind},       {"state", state_name(n.state)},
              {"status", n.status}};
    if (n.status == "failed") j["error"] = n.detail;
    else if (!n.detail.empty()) j["reason"] = n.detail;
    list.push_back(std::move(j));
  }
  respond(json_response(200, {{"notifications", std::move(list)}}));
}

void Api::get_health(const HttpRequest&, const TokenRecord&, Respond respond) const {
  // Failing, so that a balancer sends the agents elsewhere (to upgraded collectors).
  if (Status health = storage_.health(); !health)
    return respond(json_response(503, {{"status", "failing"}, {"error", health.message()}}));
  respond(json_response(200, {{"status", "ok"}}));
}

}  // namespace vigie::collector
