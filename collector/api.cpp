#include "collector/api.hpp"

#include <nlohmann/json.hpp>

#include "common/gzip.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

struct Route {
  std::string_view method;
  std::string_view path;
  void (Api::*handler)(const HttpRequest&, Respond) const;
};

nlohmann::json row_to_json(const CheckRow& row) {
  nlohmann::json j = protocol::result_to_json(row.result);
  j["agent"] = row.agent;
  j["site"] = row.site;
  j["received"] = row.received_ms;
  j["since"] = row.since_ms;
  return j;
}

}  // namespace

Api::Api(Storage& storage, ApiOptions options) : storage_(storage), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = wall_ms;
}

void Api::handle(const HttpRequest& request, Respond respond) const {
  static constexpr Route kRoutes[] = {
      {"POST", "/api/v1/reports", &Api::post_report},
      {"GET", "/api/v1/checks", &Api::get_checks},
      {"GET", "/api/v1/problems", &Api::get_problems},
      {"GET", "/healthz", &Api::get_health},
  };
  bool path_known = false;
  for (const auto& route : kRoutes) {
    if (route.path != request.path) continue;
    path_known = true;
    if (route.method == request.method) return (this->*route.handler)(request, std::move(respond));
  }
  if (path_known) {
    return respond(error_response(405, "method " + request.method + " not allowed on " +
                                           request.path));
  }
  respond(error_response(404, "no such endpoint: " + request.path));
}

void Api::post_report(const HttpRequest& request, Respond respond) const {
  std::string inflated;
  std::string_view body = request.body;
  if (!request.content_encoding.empty() && request.content_encoding != "identity") {
    if (request.content_encoding != "gzip") {
      return respond(error_response(415, "unsupported Content-Encoding \"" +
                                             request.content_encoding + "\" (use gzip)"));
    }
    auto plain = gzip_decompress(request.body, options_.max_inflated_body);
    if (!plain) return respond(error_response(plain.status()));
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

void Api::get_checks(const HttpRequest&, Respond respond) const {
  list(CheckQuery{}, std::move(respond));
}

void Api::get_problems(const HttpRequest&, Respond respond) const {
  list(CheckQuery{.problems_only = true}, std::move(respond));
}

void Api::get_health(const HttpRequest&, Respond respond) const {
  respond(json_response(200, {{"status", "ok"}}));
}

}  // namespace vigie::collector
