#pragma once
// The agent's HTTP/1.1 client for its collector (Boost.Beast over mbedTLS, both
// confined to http_client.cpp): POSTs of JSON bodies over one kept-alive connection.
//
// https: the collector's certificate must chain to the configured CA (or the system's
// store) and name the URL's host (a DNS name, or an IP address in its subjectAltName);
// an optional client certificate is shown when the collector asks. Plain http is
// accepted here as given: the configuration allows it only to a loopback collector
// (agent/config.cpp). Proxies are not supported (no http_proxy/https_proxy): the
// agent talks to its collector directly.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace vigie {

struct HttpReply {
  long status = 0;                      // HTTP status; 0 when there was no answer
  std::string body;                     // the reply's first 16 KiB
  std::string error;                    // why there was no answer
  std::chrono::seconds retry_after{0};  // the reply's Retry-After; 0: none
};

struct HttpClientOptions {
  std::string url;          // collector base URL: http(s)://host[:port][/base]
  std::string ca_file;      // PEM CA bundle for https; "": the system's store
  std::string client_cert;  // PEM client certificate (chain); "": none
  std::string client_key;   // its PEM private key (required with client_cert)
  std::string token;        // sent as "Authorization: Bearer <token>"; "": none
  // Name resolution, TCP connection and TLS handshake together, within the request's
  // own timeout.
  std::chrono::milliseconds connect_timeout{5000};
};

// Used by one thread at a time, except abort_after() which any thread may call.
class HttpClient {
 public:
  // A client for POSTs to options.url + path. Reads the CA and the client
  // certificate now: kInvalidArgument names what is wrong with them or the URL.
  static Result<std::unique_ptr<HttpClient>> create(const HttpClientOptions& options,
                                                    std::string_view path);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` (JSON, gzipped when `gzipped`), the whole request taking at most
  // `timeout`. Reuses the connection of the previous request when the collector kept
  // it open, and retries once on a new connection when a reused one turns out closed
  // before any answer.
  HttpReply post(const std::string& body, bool gzipped, std::chrono::milliseconds timeout);

  // Aborts the request in flight, and any later one, once `when` has passed (checked
  // at least every 100 ms). Any thread.
  void abort_after(std::chrono::steady_clock::time_point when);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A Retry-After header's value as a delay from `now`: delay-seconds, or an HTTP-date
// (IMF-fixdate, RFC 850 or asctime form; a past date gives 0). nullopt when it is
// neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

}  // namespace vigie
