#include "collector/server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "common/log.hpp"

namespace vigie::collector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using beast::error_code;

// Errors that are part of normal life: the peer went away, or we are shutting down.
void fail(const error_code& ec, const char* what) {
  if (ec == asio::error::operation_aborted || ec == http::error::end_of_stream ||
      ec == asio::error::eof || ec == asio::error::connection_reset || ec == beast::error::timeout)
    return;
  log::debug(std::string("http: ") + what + ": " + ec.message());
}

using RequestParser = http::request_parser<http::string_body>;

// A parser for one request, under the options' limits.
void limit(RequestParser& parser, const ServerOptions& options) {
  parser.body_limit(options.max_body);
  parser.header_limit(static_cast<std::uint32_t>(options.max_header));
}

// What the handler sees of a parsed request (`peer` aside). Takes the body.
HttpRequest to_request(http::request<http::string_body>& msg) {
  HttpRequest request;
  request.method = std::string(msg.method_string());
  split_target(std::string_view(msg.target().data(), msg.target().size()), request.path,
               request.query);
  request.authorization = std::string(msg[http::field::authorization]);
  request.content_encoding = std::string(msg[http::field::content_encoding]);
  request.content_type = std::string(msg[http::field::content_type]);
  request.if_none_match = std::string(msg[http::field::if_none_match]);
  request.body = std::move(msg.body());
  return request;
}

// The response a session sends before closing when reading a request failed with `ec`;
// nullopt when it just closes (the peer went away, a timeout, shutdown).
std::optional<HttpResponse> refusal_for(const error_code& ec, const ServerOptions& options) {
  if (ec == http::error::body_limit) {
    return error_response(
        413, "request body larger than " + std::to_string(options.max_body) + " bytes");
  }
  if (ec == http::error::header_limit) return error_response(431, "request headers too large");
  // A malformed request line or header: say so before closing.
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return error_response(400, "malformed HTTP request: " + ec.message());
  }
  return std::nullopt;
}

// What every session shares with the server.
struct Shared {
  ServerOptions options;
  Handler handler;
  asio::thread_pool workers;
  std::atomic<int> in_flight{0};            // requests handed to the handler, not yet written
  std::atomic<std::size_t> connections{0};  // sessions alive
  // Shutting down: every response closes its connection, so that clients that keep
  // sending cannot hold the drain open.
  std::atomic<bool> draining{false};

  Shared(ServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        workers(static_cast<std::size_t>(std::max(1, options.worker_threads))) {}
};

// The HTTP logic shared by plain and TLS sessions (CRTP, as in Beast's
// advanced_server_flex): Derived provides stream() and do_close().
template <class Derived>
class HttpSession {
 public:
  explicit HttpSession(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {
    const std::size_t open = ++shared_->connections;
    over_cap_ = shared_->options.max_connections > 0 && open > shared_->options.max_connections;
  }
  ~HttpSession() { --shared_->connections; }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void do_read() {
    if (over_cap_) {
      over_cap_ = false;
      log::warning("http: " + std::to_string(shared_->options.max_connections) +
                   " connections open: a new one is answered 503");
      HttpResponse busy = error_response(503, "too many connections: try again later");
      busy.headers["Retry-After"] = "10";
      return reply_and_close(std::move(busy));
    }
    parser_.emplace();
    limit(*parser_, shared_->options);
    beast::get_lowest_layer(derived().stream()).expires_after(shared_->options.read_timeout);
    // The header first: a large body is read only for a caller with a valid token.
    http::async_read_header(
        derived().stream(), buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::on_header, derived().shared_from_this()));
  }

  beast::flat_buffer buffer_;
  std::shared_ptr<Shared> shared_;

 private:
  void on_header(error_code ec, std::size_t bytes) {
    if (ec) return on_read(ec, bytes);
    const auto& o = shared_->options;
    const auto length = parser_->content_length();
    const bool large = (length && *length > o.small_body) || (!length && parser_->chunked());
    if (large && o.authorize) {
      const auto& header = parser_->get();
      if (!o.authorize(std::string(header[http::field::authorization]))) {
        HttpResponse refused = error_response(401, "a valid token is needed to send this body");
        refused.headers["WWW-Authenticate"] = "Bearer";
        return reply_and_close(std::move(refused));
      }
    }
    http::async_read(
        derived().stream(), buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::on_read, derived().shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    if (ec) {
      if (auto refusal = refusal_for(ec, shared_->options)) {
        return reply_and_close(std::move(*refusal));
      }
      fail(ec, "read");
      return derived().do_close();
    }

    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    HttpRequest request = to_request(msg);
    error_code peer_ec;
    const auto peer = beast::get_lowest_layer(derived().stream()).socket().remote_endpoint(peer_ec);
    if (!peer_ec) request.peer = peer.address().to_string() + ":" + std::to_string(peer.port());

    // The handler runs on a worker: it may parse, wait on storage, or answer later.
    ++shared_->in_flight;
    asio::post(shared_->workers, [self = derived().shared_from_this(),
                                  request = std::move(request)]() mutable {
      Respond respond = [self](HttpResponse response) { self->post_send(std::move(response)); };
      try {
        self->shared_->handler(std::move(request), std::move(respond));
      } catch (const std::exception& e) {
        log::error(std::string("http: handler failed: ") + e.what());
        self->post_send(error_response(500, "internal error"));
      }
    });
  }

  // Any thread: hands the response to the session's strand.
  void post_send(HttpResponse response) {
    asio::post(derived().stream().get_executor(),
               [self = derived().shared_from_this(), response = std::move(response)]() mutable {
                 self->send(std::move(response), !self->keep_alive_);
               });
  }

  void reply_and_close(HttpResponse response) {
    ++shared_->in_flight;
    send(std::move(response), true);
  }

  void send(HttpResponse response, bool close) {
    close = close || shared_->draining.load();
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(response.status));
    response_.set(http::field::server, "vigie-collector/" VIGIE_VERSION);
    response_.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) response_.set(name, value);
    response_.body() = std::move(response.body);
    response_.keep_alive(!close);
    response_.prepare_payload();
    beast::get_lowest_layer(derived().stream()).expires_after(shared_->options.write_timeout);
    http::async_write(
        derived().stream(), response_,
        beast::bind_front_handler(&HttpSession::on_write, derived().shared_from_this(), close));
  }

  void on_write(bool close, error_code ec, std::size_t) {
    --shared_->in_flight;
    if (ec) return fail(ec, "write");
    if (close) return derived().do_close();
    do_read();
  }

  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool over_cap_ = false;  // opened past max_connections: answered 503 at once
};

class PlainSession : public HttpSession<PlainSession>,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : HttpSession(std::move(shared)), stream_(std::move(socket)) {}

  void start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&PlainSession::do_read, shared_from_this()));
  }
  beast::tcp_stream& stream() { return stream_; }
  void do_close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

 private:
  beast::tcp_stream stream_;
};

class TlsSession : public HttpSession<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(tcp::socket&& socket, ssl::context& context, std::shared_ptr<Shared> shared)
      : HttpSession(std::move(shared)), stream_(std::move(socket), context) {}

  void start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&TlsSession::do_handshake, shared_from_this()));
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }

  void do_close() {
    beast::get_lowest_layer(stream_).expires_after(shared_->options.write_timeout);
    stream_.async_shutdown(beast::bind_front_handler(&TlsSession::on_shutdown, shared_from_this()));
  }

 private:
  void do_handshake() {
    beast::get_lowest_layer(stream_).expires_after(shared_->options.read_timeout);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&TlsSession::on_handshake, shared_from_this()));
  }
  void on_handshake(error_code ec) {
    if (ec) return fail(ec, "TLS handshake");
    do_read();
  }
  void on_shutdown(error_code ec) {
    if (ec) fail(ec, "TLS shutdown");
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
};

class BeastServer final : public Server {
 public:
  BeastServer(ServerOptions options, Handler handler)
      : shared_(std::make_shared<Shared>(std::move(options), std::move(handler))),
        acceptor_(asio::make_strand(ioc_)) {}

  ~BeastServer() override { shutdown(std::chrono::milliseconds(0)); }

  Status listen() {
    error_code ec;
    if (!shared_->options.tls_cert.empty()) {
      if (Status s = load_tls(); !s) return s;
    }
    const auto address = asio::ip::make_address(shared_->options.address, ec);
    if (ec) return Status::invalid("bad listen address \"" + shared_->options.address + "\"");
    const tcp::endpoint endpoint(address, shared_->options.port);
    const std::string where =
        shared_->options.address + ":" + std::to_string(shared_->options.port);
    if (acceptor_.open(endpoint.protocol(), ec); ec)
      return Status::unavailable("open " + where + ": " + ec.message());
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec)
      return Status::unavailable("reuse_address " + where + ": " + ec.message());
    if (acceptor_.bind(endpoint, ec); ec)
      return Status::unavailable("cannot listen on " + where + ": " + ec.message());
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec)
      return Status::unavailable("listen " + where + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    // Handlers run on the workers: while every session waits for one, the io_context
    // has nothing of its own to do, and must not return from run() (their answers
    // come back to it).
    work_.emplace(asio::make_work_guard(ioc_));
    for (int i = 0; i < std::max(1, shared_->options.io_threads); ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    return Status::ok();
  }

  std::uint16_t port() const override { return port_; }

  Status load_tls() {
    const auto& o = shared_->options;
    tls_.emplace(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use);
    error_code ec;
    tls_->use_certificate_chain_file(o.tls_cert.string(), ec);
    if (ec) return Status::invalid("--tls-cert " + o.tls_cert.string() + ": " + ec.message());
    tls_->use_private_key_file(o.tls_key.string(), ssl::context::pem, ec);
    if (ec) return Status::invalid("--tls-key " + o.tls_key.string() + ": " + ec.message());
    if (!o.tls_client_ca.empty()) {
      tls_->load_verify_file(o.tls_client_ca.string(), ec);
      if (ec) {
        return Status::invalid("--tls-client-ca " + o.tls_client_ca.string() + ": " + ec.message());
      }
      tls_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
      if (ec) return Status::invalid("--tls-client-ca: " + ec.message());
    }
    return Status::ok();
  }

  void shutdown(std::chrono::milliseconds drain) override {
    if (stopped_.exchange(true)) return;
    shared_->draining = true;
    asio::post(acceptor_.get_executor(), [this] {
      error_code ec;
      acceptor_.close(ec);
      accept_timer_.cancel();
    });
    const auto deadline = std::chrono::steady_clock::now() + drain;
    while (shared_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (const int left = shared_->in_flight.load(); left > 0)
      log::warning("http: " + std::to_string(left) +
                   " request(s) still unanswered after the drain");
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    shared_->workers.join();
  }

 private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        // Out of file descriptors (EMFILE, ENFILE) or memory: accepting again at once
        // would fail again at once, a loop at 100% CPU. Wait, longer each time.
        accept_wait_ = std::min(std::max(accept_wait_ * 2, std::chrono::milliseconds(10)),
                                std::chrono::milliseconds(1000));
        log::warning("http: accept: " + ec.message() + " (" +
                     std::to_string(shared_->connections.load()) + " connections open); next in " +
                     std::to_string(accept_wait_.count()) + " ms");
        accept_timer_.expires_after(accept_wait_);
        accept_timer_.async_wait([this](error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open()) do_accept();
        });
        return;
      }
      accept_wait_ = std::chrono::milliseconds(0);
      if (tls_) {
        std::make_shared<TlsSession>(std::move(socket), *tls_, shared_)->start();
      } else {
        std::make_shared<PlainSession>(std::move(socket), shared_)->start();
      }
      do_accept();
    });
  }

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_{acceptor_.get_executor()};
  std::chrono::milliseconds accept_wait_{0};  // after failed accepts
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::optional<ssl::context> tls_;
};

}  // namespace

ParsedRequest parse_request(std::string_view bytes, const ServerOptions& options) {
  RequestParser parser;
  limit(parser, options);
  // As a session reads: the whole header first, then the body as it comes.
  error_code ec;
  std::size_t used = 0;
  while (!ec && !parser.is_done() && used < bytes.size()) {
    used += parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) {
      // The rest of the bytes are all there is: the request is cut short.
      return {};
    }
  }
  if (!ec && !parser.is_done()) {
    if (!parser.got_some()) return {};  // nothing at all: Beast asserts against eof then
    parser.put_eof(ec);
    if (!ec && !parser.is_done()) return {};
  }
  ParsedRequest out;
  if (ec) {
    out.refusal = refusal_for(ec, options);
    return out;
  }
  out.request = to_request(parser.get());
  return out;
}

Result<std::unique_ptr<Server>> start_server(const ServerOptions& options, Handler handler) {
  auto server = std::make_unique<BeastServer>(options, std::move(handler));
  if (Status s = server->listen(); !s) return s;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace vigie::collector
