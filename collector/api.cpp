#include "collector/api.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "common/duration.hpp"
#include "common/gzip.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

// A point in time given as ms since the epoch ("1700000000000") or as an age
// before `now` ("24h", "90m").
Result<std::int64_t> parse_time(std::string_view name, const std::string& text, std::int64_t now) {
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size()) return ms;
  auto age = parse_duration(text);
  if (!age) {
    return Status::invalid(std::string(name) + ": expected ms since the epoch or an age such as \"24h\", got \"" +
                           text + "\"");
  }
  return now - age->count();
}

nlohmann::json row_to_json(const CheckRow& row) {
  nlohmann::json j = protocol::result_to_json(row.result);
  j["agent"] = row.agent;
  j["site"] = row.site;
  j["received"] = row.received_ms;
  j["since"] = row.since_ms;
  return j;
}

}  // namespace

struct Api::Route {
  std::string_view method;
  std::string_view path;
  std::optional<Role> need;  // nullopt: no token needed
  void (Api::*handler)(const HttpRequest&, const TokenRecord&, Respond) const;
};

Api::Api(Storage& storage, ApiOptions options) : storage_(storage), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = wall_ms;
}

void Api::handle(const HttpRequest& request, Respond respond) const {
  static constexpr Route kRoutes[] = {
      {"POST", "/api/v1/reports", Role::kAgent, &Api::post_report},
      {"POST", "/api/v1/enroll", std::nullopt, &Api::post_enroll},
      {"GET", "/api/v1/checks", Role::kViewer, &Api::get_checks},
      {"GET", "/api/v1/problems", Role::kViewer, &Api::get_problems},
      {"GET", "/api/v1/series", Role::kViewer, &Api::get_series},
      {"GET", "/healthz", std::nullopt, &Api::get_health},
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
    return respond(error_response(405, "method " + request.method + " not allowed on " +
                                           request.path));
  }
  respond(error_response(404, "no such endpoint: " + request.path));
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

void Api::post_report(const HttpRequest& request, const TokenRecord& caller,
                      Respond respond) const {
  std::string inflated;
  std::string_view body = request.body;
  if (!request.content_encoding.empty() && request.content_encoding != "identity") {
    if (request.content_encoding != "gzip") {
      return respond(error_response(415, "unsupported Content-Encoding \"" +
                                             request.content_encoding + "\" (use gzip)"));
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
    return respond(error_response(413, "body larger than " +
                                           std::to_string(options_.max_inflated_body) + " bytes"));
  }

  auto report = protocol::decode_report(body, options_.limits);
  if (!report) {
    log::notice("ingest from " + request.peer + " refused: " + report.status().message());
    return respond(error_response(report.status()));
  }
  if (report->agent.id != caller.agent || report->agent.site != caller.site) {
    return respond(error_response(
        403, "agent.id: this token reports for agent \"" + caller.agent + "\" of site \"" +
                 caller.site + "\", not \"" + report->agent.id + "\" of \"" +
                 report->agent.site + "\""));
  }
  const std::size_t count = report->results.size();
  storage_.submit(std::move(*report), options_.now_ms(),
                  [respond = std::move(respond), count](Result<IngestOutcome> outcome) {
                    if (!outcome) return respond(error_response(outcome.status()));
                    if (*outcome == IngestOutcome::kDuplicate)
                      return respond(json_response(200, {{"status", "duplicate"}}));
                    respond(json_response(200, {{"status", "stored"}, {"results", count}}));
                  });
}

void Api::list(const CheckQuery& query, Respond respond) const {
  auto rows = storage_.checks(query);
  if (!rows) return respond(error_response(rows.status()));
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& row : *rows) checks.push_back(row_to_json(row));
  respond(json_response(200, {{"now", options_.now_ms()}, {"checks", std::move(checks)}}));
}

void Api::post_enroll(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  const std::string enroll_secret = bearer_token(request.authorization);
  if (enroll_secret.empty()) {
    return respond(error_response(
        401, "missing \"Authorization: Bearer <enrollment token>\" header"));
  }
  if (request.body.size() > 64 * 1024) return respond(error_response(413, "body too large"));
  const auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return respond(error_response(400, "malformed JSON: expected an object"));
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
  respond(json_response(200, {{"token", agent_secret},
                              {"agent", issued->agent},
                              {"site", issued->site}}));
}

void Api::get_checks(const HttpRequest&, const TokenRecord&, Respond respond) const {
  list(CheckQuery{}, std::move(respond));
}

void Api::get_problems(const HttpRequest&, const TokenRecord&, Respond respond) const {
  list(CheckQuery{.problems_only = true}, std::move(respond));
}

void Api::get_series(const HttpRequest& request, const TokenRecord&, Respond respond) const {
  const auto param = [&](const char* name) {
    const auto it = request.query.find(name);
    return it == request.query.end() ? std::string() : it->second;
  };
  SeriesQuery query{.agent = param("agent"),
                    .check = param("check"),
                    .metric = param("metric"),
                    .tier = param("tier")};
  for (const auto& [name, value] :
       {std::pair{"agent", query.agent}, {"check", query.check}, {"metric", query.metric}}) {
    if (value.empty()) return respond(error_response(400, std::string(name) + ": required"));
  }
  const std::int64_t now = options_.now_ms();
  const std::string from = param("from");
  const std::string to = param("to");
  auto from_ms = parse_time("from", from.empty() ? "24h" : from, now);
  auto to_ms = parse_time("to", to.empty() ? std::to_string(now) : to, now);
  if (!from_ms) return respond(error_response(from_ms.status()));
  if (!to_ms) return respond(error_response(to_ms.status()));
  query.from_ms = *from_ms;
  query.to_ms = *to_ms;
  if (const std::string step = param("step"); !step.empty() && step != "0") {
    auto d = parse_duration(step);
    if (!d) return respond(error_response(d.status().with_context("step")));
    query.step_ms = d->count();
  }

  auto data = storage_.series(query);
  if (!data) return respond(error_response(data.status()));
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : data->points) {
    points.push_back({{"ts", p.ts_ms}, {"min", p.min}, {"max", p.max}, {"avg", p.avg},
                      {"count", p.count}});
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

void Api::get_health(const HttpRequest&, const TokenRecord&, Respond respond) const {
  respond(json_response(200, {{"status", "ok"}}));
}

}  // namespace vigie::collector
