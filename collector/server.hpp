#pragma once
// The collector's HTTP server (Boost.Beast on Asio; server.cpp is the only file that
// includes them). It parses requests under size limits and deadlines, hands each to
// the handler on a worker thread (so that no handler ever blocks an I/O thread), and
// writes the response when the handler calls Respond, from whatever thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "collector/http.hpp"
#include "common/status.hpp"

namespace vigie::collector {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see Server::port())
  int io_threads = 1;
  int worker_threads = 2;
  // Time allowed to receive one whole request (headers and body): a client sending
  // one byte a second is cut off here. Default 30 s.
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};  // default 30 s
  std::size_t max_body = 16 * 1024 * 1024;          // bytes on the wire; 413 past it
  std::size_t max_header = 16 * 1024;               // bytes
  // Connections open at once past which a new one is answered 503 with Retry-After and
  // closed (each costs a file descriptor and memory). 0: no bound. Default 4000: a fleet
  // of 600 sites, their consoles and room to reconnect.
  std::size_t max_connections = 4000;
  // A body larger than `small_body` (bytes; default 64 KiB), or of unknown length, is
  // read only once `authorize` accepted the request's Authorization header (run on the
  // I/O thread: it must be quick); otherwise 401 and the connection is closed, the
  // body unread. Empty: every body is read.
  std::size_t small_body = 64 * 1024;
  std::function<bool(const std::string& authorization)> authorize;
  // HTTPS when both are set: PEM certificate chain and private key.
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  // With HTTPS: when set, clients must show a certificate signed by this PEM CA bundle,
  // or the handshake fails. "": no client certificate asked for.
  std::filesystem::path tls_client_ca;
};

using Handler = std::function<void(HttpRequest, Respond)>;

class Server {
 public:
  virtual ~Server() = default;
  // The port actually bound (useful with port 0).
  virtual std::uint16_t port() const = 0;
  // Stops accepting, waits up to `drain` for requests in progress to be answered,
  // then closes every connection and joins the threads. Idempotent.
  virtual void shutdown(std::chrono::milliseconds drain) = 0;
};

// Binds, listens and starts serving; kUnavailable when the address cannot be bound.
Result<std::unique_ptr<Server>> start_server(const ServerOptions& options, Handler handler);

// One request read from `bytes` as a session reads it (Beast's parser under the
// options' header and body limits): what the handler would be given (`peer` empty), or
// the response a session sends before closing (400 malformed, 413 body too large, 431
// headers too large), or neither when the bytes end before the request does. Bytes past
// the request are ignored. For tests and the fuzzer.
struct ParsedRequest {
  std::optional<HttpRequest> request;
  std::optional<HttpResponse> refusal;
};
ParsedRequest parse_request(std::string_view bytes, const ServerOptions& options = {});

}  // namespace vigie::collector
