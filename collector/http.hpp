#pragma once
// The collector's own view of an HTTP exchange: what a route handler sees and returns.
// Handlers never see a socket or Boost.Beast (server.cpp translates), so tests call
// them directly.

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/status.hpp"

namespace vigie::collector {

struct HttpRequest {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // "/api/v1/checks", without the query
  std::map<std::string, std::string> query;  // decoded ?a=b&c=d
  std::string authorization;                 // the Authorization header, "" if absent
  std::string content_encoding;              // "" or "gzip"
  std::string content_type;
  std::string if_none_match;  // the If-None-Match header, "" if absent
  std::string body;
  std::string peer;  // "127.0.0.1:53422", for logs
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers (Retry-After, ...)
};

// Called exactly once per request, from any thread.
using Respond = std::function<void(HttpResponse)>;

// A JSON reply.
HttpResponse json_response(int status, const nlohmann::json& body);
// {"error": message} with the HTTP status that fits the Status code.
HttpResponse error_response(const Status& status);
HttpResponse error_response(int http_status, std::string_view message);
// The HTTP status for a Status code (kInvalidArgument 400, kTooLarge 413, ...).
int http_status_for(Code code);

// Splits "/path?a=1&b=%20x" into path and decoded query. Malformed escapes are kept
// literally.
void split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

}  // namespace vigie::collector
