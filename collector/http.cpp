#include "collector/http.hpp"

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/protocol.hpp"

namespace vigie::collector {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A failure of the collector's own database (PostgreSQL's messages say "database", as
// pq.cpp writes them, and so do SQLite's about its file: "database is locked") says
// where the database is, who the collector logs in as, which password file it reads,
// and the server's words: for the operator's log, not for whoever sent the request. Logged once
// every 10 s at most (a database down fails every request), with how many more failed meanwhile.
std::string private_failure(const Status& status) {
  static log::Throttle throttle(std::chrono::seconds(10));
  if (const auto held = throttle.pass(std::chrono::steady_clock::now()))
    log::warning("api: a request failed: " + status.message() +
                 (*held > 0 ? " (and " + std::to_string(*held) + " more since the last such line)"
                            : std::string()));
  return status.code() == Code::kUnavailable
             ? "the database cannot be used now; try again later (the collector's log says why)"
             : "the database failed this request (the collector's log says why)";
}

}  // namespace

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  // Replace invalid UTF-8 rather than throw: a reply must always be produced.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

int http_status_for(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition: return 409;
    case Code::kTooLarge: return 413;
    case Code::kTimeout: return 504;
    case Code::kUnavailable: return 503;
    case Code::kIoError:
    case Code::kCorruption:
    case Code::kInternal: return 500;
  }
  return 500;
}

HttpResponse error_response(int http_status, std::string_view message) {
  return json_response(http_status, nlohmann::json{{"error", message}});
}

HttpResponse error_response(const Status& status) {
  const int http_status = http_status_for(status.code());
  if (http_status >= 500 && status.message().find("database") != std::string::npos)
    return json_response(http_status, nlohmann::json{{"error", private_failure(status)}});
  nlohmann::json body = {{"error", status.message()}};
  // A decoder error starts with the path of the bad field: give it on its own too.
  if (std::string field = protocol::error_field(status); !field.empty()) body["field"] = field;
  return json_response(http_status, body);
}

void split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  const auto q = target.find('?');
  path = url_decode(target.substr(0, q));
  query.clear();
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (!pair.empty()) {
      query[url_decode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
}

}  // namespace vigie::collector
