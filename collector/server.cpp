#include "collector/server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <thread>
#include <vector>

#include "common/log.hpp"

namespace vigie::collector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

// Errors that are part of normal life: the peer went away, or we are shutting down.
void fail(const error_code& ec, const char* what) {
  if (ec == asio::error::operation_aborted || ec == http::error::end_of_stream ||
      ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == beast::error::timeout)
    return;
  log::debug(std::string("http: ") + what + ": " + ec.message());
}

// What every session shares with the server.
struct Shared {
  ServerOptions options;
  Handler handler;
  asio::thread_pool workers;
  std::atomic<int> in_flight{0};  // requests handed to the handler, not yet written

  Shared(ServerOptions o, Handler h)
      : options(std::move(o)), handler(std::move(h)),
        workers(static_cast<std::size_t>(std::max(1, options.worker_threads))) {}
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  void start() {
    // Run on the session's strand (the socket was accepted onto it).
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(shared_->options.max_body);
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.max_header));
    stream_.expires_after(shared_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      return reply_and_close(error_response(
          413, "request body larger than " + std::to_string(shared_->options.max_body) +
                   " bytes"));
    }
    if (ec == http::error::header_limit) {
      return reply_and_close(error_response(431, "request headers too large"));
    }
    if (ec) {
      // A malformed request line or header: say so before closing.
      if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        return reply_and_close(error_response(400, "malformed HTTP request: " + ec.message()));
      }
      fail(ec, "read");
      return do_close();
    }

    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    HttpRequest request;
    request.method = std::string(msg.method_string());
    split_target(std::string_view(msg.target().data(), msg.target().size()), request.path,
                 request.query);
    request.authorization = std::string(msg[http::field::authorization]);
    request.content_encoding = std::string(msg[http::field::content_encoding]);
    request.content_type = std::string(msg[http::field::content_type]);
    request.body = std::move(msg.body());
    error_code peer_ec;
    const auto peer = stream_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) request.peer = peer.address().to_string() + ":" + std::to_string(peer.port());

    // The handler runs on a worker: it may parse, wait on storage, or answer later.
    ++shared_->in_flight;
    asio::post(shared_->workers, [self = shared_from_this(), request = std::move(request)]() mutable {
      Respond respond = [self](HttpResponse response) {
        asio::post(self->stream_.get_executor(),
                   [self, response = std::move(response)]() mutable {
                     self->send(std::move(response), !self->keep_alive_);
                   });
      };
      try {
        self->shared_->handler(std::move(request), std::move(respond));
      } catch (const std::exception& e) {
        log::error(std::string("http: handler failed: ") + e.what());
        self->send_from_worker(error_response(500, "internal error"));
      }
    });
  }

  void send_from_worker(HttpResponse response) {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), response = std::move(response)]() mutable {
                 self->send(std::move(response), true);
               });
  }

  void reply_and_close(HttpResponse response) {
    ++shared_->in_flight;
    version_ = 11;
    send(std::move(response), true);
  }

  void send(HttpResponse response, bool close) {
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(response.status));
    response_.set(http::field::server, "vigie-collector/" VIGIE_VERSION);
    response_.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) response_.set(name, value);
    response_.body() = std::move(response.body);
    response_.keep_alive(!close);
    response_.prepare_payload();
    stream_.expires_after(shared_->options.write_timeout);
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this(), close));
  }

  void on_write(bool close, error_code ec, std::size_t) {
    --shared_->in_flight;
    if (ec) return fail(ec, "write");
    if (close) return do_close();
    do_read();
  }

  void do_close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Shared> shared_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

class BeastServer final : public Server {
 public:
  BeastServer(ServerOptions options, Handler handler)
      : shared_(std::make_shared<Shared>(std::move(options), std::move(handler))),
        acceptor_(asio::make_strand(ioc_)) {}

  ~BeastServer() override { shutdown(std::chrono::milliseconds(0)); }

  Status listen() {
    error_code ec;
    const auto address = asio::ip::make_address(shared_->options.address, ec);
    if (ec) return Status::invalid("bad listen address \"" + shared_->options.address + "\"");
    const tcp::endpoint endpoint(address, shared_->options.port);
    const std::string where = shared_->options.address + ":" + std::to_string(shared_->options.port);
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
    for (int i = 0; i < std::max(1, shared_->options.io_threads); ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    return Status::ok();
  }

  std::uint16_t port() const override { return port_; }

  void shutdown(std::chrono::milliseconds drain) override {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      error_code ec;
      acceptor_.close(ec);
    });
    const auto deadline = std::chrono::steady_clock::now() + drain;
    while (shared_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    shared_->workers.join();
  }

 private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
      if (ec) {
        fail(ec, "accept");
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      } else {
        std::make_shared<Session>(std::move(socket), shared_)->start();
      }
      do_accept();
    });
  }

  asio::io_context ioc_;
  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace

Result<std::unique_ptr<Server>> start_server(const ServerOptions& options, Handler handler) {
  auto server = std::make_unique<BeastServer>(options, std::move(handler));
  if (Status s = server->listen(); !s) return s;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace vigie::collector
