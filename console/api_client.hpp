#pragma once
// An HTTP client for the collector's query API, on libcurl (whose headers stay in
// api_client.cpp).

#include <chrono>
#include <cstddef>
#include <memory>
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

}  // namespace vigie::console
