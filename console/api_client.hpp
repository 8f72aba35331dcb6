#pragma once
// The collector's query API as the console knows it: every path it asks and every
// request it sends are written here and nowhere else; and an HTTP client for them, on
// libcurl (whose headers stay in api_client.cpp).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace vigie::console {

struct ClientOptions {
  std::string url;      // the collector, "https://host:8443" (a trailing '/' is ignored)
  std::string token;    // sent as "Authorization: Bearer <token>"; empty: no header
  std::string ca_file;  // CA certificates for an https collector; empty: the system's
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{10000};  // the whole request
  std::size_t max_body = 128 << 20;          // bytes of a reply; more is kTooLarge
};

// Keeps one connection to the collector open across requests. get() may be called from
// one thread at a time (any one: the console calls it from its fetcher thread);
// cancel() from any thread.
class ApiClient {
 public:
  explicit ApiClient(ClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // GET {url}{path} (path starts with '/'). A 2xx reply gives its body. Otherwise:
  //   kUnavailable / kTimeout  "cannot reach the collector at URL: <why>"
  //   kUnauthenticated         "the collector refused the token (401)", or asks for one
  //   kPermissionDenied (403), kNotFound (404), kUnavailable (5xx), kInvalidArgument
  //                            (other 4xx): the status and the reply's "error" message
  //   kTooLarge                the reply is longer than max_body
  Result<std::string> get(std::string_view path);

  // The same for any method ("POST", "DELETE"), with a JSON body when not empty.
  Result<std::string> call(std::string_view method, std::string_view path,
                           std::string_view body = {});

  // Makes the request in progress, and every later one, fail at once (within about a
  // second: libcurl checks between two reads). Used to quit without waiting.
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --- routes ------------------------------------------------------------------------------
// GET paths, with their query.

std::string overview_path();  // the header's counts and the events cursor
std::string problems_path();  // the checks in a problem (hard state not OK)
std::string sites_path();
std::string agents_path();
std::string checks_path(std::string_view family = {});  // every check, or one family's
std::string site_path(std::string_view site);           // its line, checks, agents, downtimes
// One check with its history; its metric's series (`from` ago, one point per `step`); the
// alerts sent about it.
std::string check_path(std::string_view agent, std::string_view check);
std::string series_path(std::string_view agent, std::string_view check, std::string_view metric,
                        std::string_view from, std::string_view step);
std::string notifications_path(std::string_view agent, std::string_view check);
// The events long-poll: answers after `timeout` ("25s") or at the first event past `after`.
std::string events_path(std::string_view timeout, std::optional<std::int64_t> after);

// A request that changes something at the collector.
struct ApiCall {
  std::string method;
  std::string path;
  std::string body;  // JSON, or empty
};
// An acknowledgement of one check, with the technician's comment; `expires` a duration
// ("4h") or "" for until the check recovers.
ApiCall acknowledge_call(std::string_view agent, std::string_view check, std::string_view comment,
                         std::string_view expires);
ApiCall unacknowledge_call(std::string_view agent, std::string_view check);
// A downtime of `duration` ("2h") for a site, or one of its agents, or one check.
ApiCall downtime_call(std::string_view site, std::string_view agent, std::string_view check,
                      std::string_view duration, std::string_view comment);

// `text` made safe for a URL's query: every byte but unreserved ones percent-encoded.
std::string url_encode(std::string_view text);

}  // namespace vigie::console
