#include "agent/http_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <ctime>
#include <functional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace vigie::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxReplyBytes = 16 * 1024;        // of a reply body, kept for the logs
constexpr std::uint64_t kMaxReadBytes = 4 * 1024 * 1024;  // a longer reply is an error
constexpr milliseconds kSlice{100};  // how often a request looks at its abort time
// After a cancellation, how long the handlers get to report it; only a name lookup
// blocked in getaddrinfo takes longer, and is left behind (its result is discarded).
constexpr milliseconds kCancelGrace{1000};

struct Url {
  bool https = false;
  std::string host;       // without the brackets of an IPv6 literal
  std::string port;       // "443" when the URL names none
  std::string authority;  // as in the URL: the Host header
  std::string target;     // base path + the request's path
};

Result<Url> parse_url(std::string_view url, std::string_view path) {
  const auto bad = [&](std::string_view why) {
    return Status::invalid("collector url \"" + std::string(url) + "\": " + std::string(why));
  };
  Url out;
  std::string_view rest;
  if (url.starts_with("https://")) {
    out.https = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return bad("must start with https:// or http://");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view base = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (base.ends_with('/')) base.remove_suffix(1);
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("junk after the IPv6 address");
      port = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host");
  int number = 0;
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
      return bad("the port must be a number 1..65535");
    }
  }
  out.host = std::string(host);
  out.port = port.empty() ? (out.https ? "443" : "80") : std::string(port);
  out.authority = std::string(authority);
  out.target = std::string(base) + std::string(path);
  return out;
}

// OpenSSL's own words for the first error in its queue, or `fallback`.
std::string openssl_error(const std::string& fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return fallback;
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::string millis_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

struct HttpClient::Impl {
  Url url;
  HttpClientOptions options;
  std::optional<asio::ip::address> address;  // the host when it is an IP literal
  asio::io_context io{1};
  tcp::resolver resolver{io};
  std::optional<ssl::context> tls;  // https only
  // The connection, when one is open: `plain` for http, `secure` for https.
  std::optional<tcp::socket> plain;
  std::optional<ssl::stream<tcp::socket>> secure;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  std::atomic<Clock::rep> abort_at{Clock::time_point::max().time_since_epoch().count()};

  // Why the last await() gave up early, if it did.
  enum class Stop { kNone, kDeadline, kAbort };

  bool aborted(Clock::time_point now) const {
    return now.time_since_epoch().count() >= abort_at.load(std::memory_order_relaxed);
  }

  tcp::socket& socket() { return secure ? secure->next_layer() : *plain; }
  bool connected() const { return plain.has_value() || secure.has_value(); }

  void close() {
    error_code ignored;
    if (connected()) socket().close(ignored);
    secure.reset();
    plain.reset();
    buffer.clear();
  }

  // True when the kept-alive connection looks usable: the collector has neither
  // closed it nor sent anything unasked since the last reply.
  bool still_open() {
    if (!connected()) return false;
    char byte;
    const ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  // Starts an asynchronous operation with `start(handler)` and runs the io_context
  // until it completes, cancelling it at `deadline` or at the abort time (the socket is
  // closed, so that a pending operation ends at once; the stream objects stay until
  // then, as the operation refers to them). Returns the operation's error and why it
  // was stopped. `leave_behind`: a name lookup, which cancelling cannot interrupt, is
  // left to finish on its own after kCancelGrace.
  std::pair<error_code, Stop> await(
      const std::function<void(std::function<void(error_code)>)>& start,
      Clock::time_point deadline, bool leave_behind = false) {
    // Shared with the handler: a name lookup left behind completes after we return.
    auto result = std::make_shared<std::optional<error_code>>();
    start([result](error_code ec) { *result = ec; });
    Stop stop = Stop::kNone;
    Clock::time_point give_up = Clock::time_point::max();
    while (!result->has_value()) {
      const auto now = Clock::now();
      if (stop == Stop::kNone && (now >= deadline || aborted(now))) {
        stop = aborted(now) ? Stop::kAbort : Stop::kDeadline;
        if (leave_behind) give_up = now + kCancelGrace;
        resolver.cancel();
        error_code ignored;
        if (connected()) socket().close(ignored);
      }
      if (now >= give_up) return {asio::error::operation_aborted, stop};
      if (io.stopped()) io.restart();
      const auto until = stop == Stop::kNone ? std::min(now + kSlice, deadline)
                                             : std::min(now + kSlice, give_up);
      io.run_one_for(std::max<Clock::duration>(until - now, milliseconds(1)));
    }
    return {**result, stop};
  }

  // Opens a connection (TLS handshake included) by `deadline`; "" or why not.
  std::string connect(Clock::time_point deadline, milliseconds budget) {
    close();
    const std::string where = url.authority;
    const auto failed = [&](const char* what, error_code ec, Stop stop) {
      close();
      if (stop == Stop::kAbort) return std::string("aborted at shutdown");
      if (stop == Stop::kDeadline) {
        return std::string("no connection to ") + where + " within " + millis_text(budget) +
               " (" + what + ")";
      }
      return std::string("cannot ") + what + " " + where + ": " + ec.message();
    };

    std::vector<tcp::endpoint> endpoints;
    if (address) {
      endpoints.emplace_back(*address, static_cast<unsigned short>(std::stoi(url.port)));
    } else {
      auto found = std::make_shared<std::vector<tcp::endpoint>>();
      const auto [ec, stop] = await(
          [&](auto done) {
            resolver.async_resolve(url.host, url.port,
                                   [found, done](error_code ec, tcp::resolver::results_type r) {
                                     for (const auto& entry : r) found->push_back(entry.endpoint());
                                     done(ec);
                                   });
          },
          deadline, /*leave_behind=*/true);
      if (ec || stop != Stop::kNone) return failed("resolve", ec, stop);
      endpoints = *found;
    }

    plain.emplace(io);
    {
      const auto [ec, stop] = await(
          [&](auto done) {
            asio::async_connect(*plain, endpoints,
                                [done](error_code ec, const tcp::endpoint&) { done(ec); });
          },
          deadline);
      if (ec || stop != Stop::kNone) return failed("connect to", ec, stop);
    }
    error_code ignored;
    plain->set_option(tcp::no_delay(true), ignored);  // a request is two writes
    if (!url.https) return {};

    secure.emplace(std::move(*plain), *tls);
    plain.reset();
    SSL* ssl = secure->native_handle();
    // The name the certificate must carry, and SNI for names (not for addresses).
    if (address) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) != 1) {
        close();
        return "cannot check the certificate against " + url.host;
      }
    } else if (SSL_set1_host(ssl, url.host.c_str()) != 1 ||
               SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1) {
      close();
      return "cannot check the certificate against " + url.host;
    }
    const auto [ec, stop] = await(
        [&](auto done) {
          secure->async_handshake(ssl::stream_base::client, [done](error_code ec) { done(ec); });
        },
        deadline);
    if (ec || stop != Stop::kNone) {
      if (stop == Stop::kNone && secure) {
        const long verify = SSL_get_verify_result(secure->native_handle());
        if (verify != X509_V_OK) {
          close();
          return std::string("TLS handshake with ") + where +
                 ": the collector's certificate is refused: " +
                 X509_verify_cert_error_string(verify);
        }
      }
      return failed("complete the TLS handshake with", ec, stop);
    }
    return {};
  }

  // Sends the request and reads the reply on the open connection. `answered` tells
  // whether any byte of a reply came.
  template <class Stream>
  std::pair<error_code, Stop> exchange(Stream& stream,
                                       http::response_parser<http::string_body>& parser,
                                       Clock::time_point deadline, bool& answered) {
    {
      const auto [ec, stop] = await(
          [&](auto done) {
            http::async_write(stream, request, [done](error_code ec, std::size_t) { done(ec); });
          },
          deadline);
      if (ec || stop != Stop::kNone) return {ec, stop};
    }
    const auto outcome = await(
        [&](auto done) {
          http::async_read(stream, buffer, parser,
                           [done](error_code ec, std::size_t) { done(ec); });
        },
        deadline);
    answered = buffer.size() > 0 || parser.got_some();
    return outcome;
  }

  HttpReply post(const std::string& body, bool gzipped, milliseconds timeout) {
    HttpReply reply;
    const auto start = Clock::now();
    if (aborted(start)) {
      reply.error = "aborted at shutdown";
      return reply;
    }
    timeout = std::max(timeout, milliseconds(1));
    const auto deadline = start + timeout;
    request.body() = body;
    if (gzipped) {
      request.set(http::field::content_encoding, "gzip");
    } else {
      request.erase(http::field::content_encoding);
    }
    request.prepare_payload();

    bool reused = still_open();
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!reused) {
        const auto connect_deadline = std::min(deadline, Clock::now() + options.connect_timeout);
        const std::string why = connect(connect_deadline, std::min(timeout, options.connect_timeout));
        if (!why.empty()) {
          reply.error = why;
          return reply;
        }
      }
      http::response_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(kMaxReadBytes);
      bool answered = false;
      const auto [ec, stop] = secure ? exchange(*secure, parser, deadline, answered)
                                     : exchange(*plain, parser, deadline, answered);
      if (!ec && stop == Stop::kNone) {
        auto& response = parser.get();
        reply.status = static_cast<long>(response.result_int());
        reply.body = std::move(response.body());
        if (reply.body.size() > kMaxReplyBytes) reply.body.resize(kMaxReplyBytes);
        if (const auto it = response.find(http::field::retry_after); it != response.end()) {
          const std::string_view value(it->value().data(), it->value().size());
          if (const auto delay = parse_retry_after(value, std::chrono::system_clock::now())) {
            reply.retry_after = *delay;
          }
        }
        if (!response.keep_alive()) close();
        return reply;
      }
      close();
      if (stop == Stop::kAbort) {
        reply.error = "aborted at shutdown";
        return reply;
      }
      if (stop == Stop::kDeadline) {
        reply.error = "no reply from " + url.authority + " within " + millis_text(timeout);
        return reply;
      }
      // A kept-alive connection the collector closed meanwhile: once more, afresh.
      if (reused && !answered) {
        reused = false;
        continue;
      }
      reply.error = "HTTP exchange with " + url.authority + ": " + ec.message();
      return reply;
    }
    reply.error = "HTTP exchange with " + url.authority + ": the connection was closed";
    return reply;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() {
  if (impl_) impl_->close();
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(const HttpClientOptions& options,
                                                       std::string_view path) {
  auto url = parse_url(options.url, path);
  if (!url) return url.status();
  auto impl = std::make_unique<Impl>();
  impl->url = std::move(*url);
  impl->options = options;
  error_code ec;
  const auto address = asio::ip::make_address(impl->url.host, ec);
  if (!ec) impl->address = address;

  if (impl->url.https) {
    // Not reading openssl.cnf: the agent's TLS settings are all here, and parsing the
    // system's configuration costs memory for nothing.
    static const bool initialised = OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
    if (!initialised) return Status::internal("cannot initialise OpenSSL");
    impl->tls.emplace(ssl::context::tls_client);
    ssl::context& tls = *impl->tls;
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    // What Debian's openssl.cnf would have set: 112-bit security at least.
    SSL_CTX_set_security_level(tls.native_handle(), 2);
    tls.set_verify_mode(ssl::verify_peer, ec);
    if (!ec) {
      if (options.ca_file.empty()) {
        tls.set_default_verify_paths(ec);
      } else {
        tls.load_verify_file(options.ca_file, ec);
      }
    }
    if (ec) {
      return Status::invalid("CA file " + (options.ca_file.empty() ? "(system)" : options.ca_file) +
                             ": " + openssl_error(ec.message()));
    }
    if (!options.client_cert.empty()) {
      tls.use_certificate_chain_file(options.client_cert, ec);
      if (ec) {
        return Status::invalid("client certificate " + options.client_cert + ": " +
                               openssl_error(ec.message()));
      }
      tls.use_private_key_file(options.client_key, ssl::context::pem, ec);
      if (ec) {
        return Status::invalid("client key " + options.client_key + ": " +
                               openssl_error(ec.message()));
      }
    }
  }

  auto& request = impl->request;
  request.version(11);
  request.method(http::verb::post);
  request.target(impl->url.target);
  request.set(http::field::host, impl->url.authority);
  request.set(http::field::user_agent, std::string("vigie-agent/") + VIGIE_VERSION);
  request.set(http::field::content_type, "application/json");
  if (!options.token.empty()) request.set(http::field::authorization, "Bearer " + options.token);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpReply HttpClient::post(const std::string& body, bool gzipped, milliseconds timeout) {
  return impl_->post(body, gzipped, timeout);
}

void HttpClient::abort_after(Clock::time_point when) {
  impl_->abort_at.store(when.time_since_epoch().count(), std::memory_order_relaxed);
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    long long seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    // A number too long for 64 bits is a very long time.
    if (ec == std::errc::result_out_of_range) return std::chrono::seconds::max();
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // The three forms of an HTTP-date (RFC 9110, 5.6.7), always GMT.
  const std::string text(value);
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    const std::time_t when = ::timegm(&tm);
    if (when == static_cast<std::time_t>(-1)) continue;
    const auto delay = std::chrono::system_clock::from_time_t(when) - now;
    if (delay <= std::chrono::seconds(0)) return std::chrono::seconds(0);
    return std::chrono::ceil<std::chrono::seconds>(delay);
  }
  return std::nullopt;
}

}  // namespace vigie::agent
