#pragma once
// An HTTP/1.1 client over TLS (Boost.Beast over mbedTLS, both confined to
// http_client.cpp) for the agent's side: the shipper's POSTs of JSON bodies to the
// collector, and the requests of the checks that poll web APIs (Sophos Central), over
// one kept-alive connection per client.
//
// https: the server's certificate must chain to the configured CA (or the system's
// store, /etc/ssl/certs/ca-certificates.crt) and name the URL's host (a DNS name, sent
// as SNI, or an IP address in its subjectAltName); an optional client certificate is
// shown when the server asks. Plain http is accepted here as given: callers decide
// when to allow it (agent/config.cpp allows it only to a loopback collector).
// Proxies are not supported (no http_proxy/https_proxy): the agent talks to its peers
// directly.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace vigie {

struct HttpReply {
  long status = 0;                      // HTTP status; 0 when there was no answer
  std::string body;                     // the reply's first max_reply_bytes
  std::string error;                    // why there was no answer
  std::chrono::seconds retry_after{0};  // the reply's Retry-After; 0: none
  std::string etag;                     // the reply's ETag, as sent; "": none
};

struct TlsConfig;

// The trust of HTTPS connections: the CAs, an optional client certificate and the
// random generator, read once and shared by any number of clients on any threads (the
// system's CA bundle costs some 300 KB parsed). Immutable once created.
class TlsTrust {
 public:
  // Reads `ca_file` (PEM; "": the system's bundle) and the client certificate and key
  // (PEM; "": none). kInvalidArgument names the file that is wrong and why.
  static Result<std::shared_ptr<const TlsTrust>> create(const std::string& ca_file,
                                                        const std::string& client_cert = {},
                                                        const std::string& client_key = {});
  explicit TlsTrust(std::shared_ptr<TlsConfig> config);
  ~TlsTrust();
  TlsTrust(const TlsTrust&) = delete;
  TlsTrust& operator=(const TlsTrust&) = delete;

  const std::shared_ptr<TlsConfig>& config() const { return config_; }

 private:
  std::shared_ptr<TlsConfig> config_;
};

struct HttpClientOptions {
  std::string url;          // base URL: http(s)://host[:port][/base]
  std::string ca_file;      // PEM CA bundle for https; "": the system's store
  std::string client_cert;  // PEM client certificate (chain); "": none
  std::string client_key;   // its PEM private key (required with client_cert)
  // Shared trust (TlsTrust::create); when set, ca_file and the client certificate are
  // not read again.
  std::shared_ptr<const TlsTrust> trust;
  std::string token;  // sent as "Authorization: Bearer <token>"; "": none
  // Name resolution, TCP connection and TLS handshake together, within the request's
  // own timeout.
  std::chrono::milliseconds connect_timeout{5000};
  // How messages name the server: "the collector's certificate is refused".
  std::string peer = "collector";
  std::size_t max_reply_bytes = 16 * 1024;       // of a reply body, kept in HttpReply::body
  std::size_t max_read_bytes = 4 * 1024 * 1024;  // a longer reply body is an error
};

// One request of send().
struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE or HEAD
  // The path and query, after the URL's base path: "/whoami/v1", "/x?page=2" (the
  // caller encodes the query: url_encode).
  std::string target;
  // Sent after the client's own (Host, User-Agent, the token's Authorization), which
  // one of the same name replaces. Names are tokens; values have no CR, LF or NUL.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // of `body`; "": none
  std::string body;
};

// Used by one thread at a time, except abort_after() which any thread may call.
class HttpClient {
 public:
  // A client for requests to options.url: POSTs to its base + `path` with post(), any
  // request with send(). Reads the CA and the client certificate now (unless
  // options.trust is set): kInvalidArgument names what is wrong with them or the URL.
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

  // Sends `request`, the whole exchange taking at most `timeout`; the connection is
  // reused and retried as for post(). A request that cannot be sent as given (an
  // unknown method, a target not starting with '/', a header with a line break) is an
  // error without any exchange.
  HttpReply send(const HttpRequest& request, std::chrono::milliseconds timeout);

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

// `text` percent-encoded for a query string or a form body: every byte but the
// unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX.
std::string url_encode(std::string_view text);
// "name=value&name=value", both sides url_encode()d: a query string, or an
// application/x-www-form-urlencoded body.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace vigie
