#include "common/http_client.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <functional>
#include <system_error>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace vigie {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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
    return Status::invalid("url \"" + std::string(url) + "\": " + std::string(why));
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

std::string millis_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

// mbedTLS's own words for one of its error codes.
std::string mbedtls_text(int code) {
  char text[200];
  mbedtls_strerror(code, text, sizeof text);
  return text;
}

// mbedTLS's errors as Asio error codes, for Beast. The end of the stream (a
// close_notify, or the peer closing the connection) is asio::error::eof.
class TlsCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "mbedtls"; }
  std::string message(int value) const override { return mbedtls_text(-value); }
};
const TlsCategory& tls_category() {
  static const TlsCategory category;
  return category;
}

}  // namespace

// What the agent's connections share: the trusted CAs, the client certificate, the
// random generator and mbedTLS's configuration built from them. TLS 1.2 (mbedTLS 2.28
// has no 1.3), ephemeral ECDH with AEAD ciphers only, certificates of at least 2048-bit
// RSA or 256-bit curves signed with SHA-2: what Debian's OpenSSL requires at its
// default security level, and what any collector offers. Shared by the connections of
// several threads: mbedTLS (built with MBEDTLS_THREADING_C) locks its random generator,
// and reads the rest only.
struct TlsConfig {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context random;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;
  mbedtls_ssl_config config;

  TlsConfig() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&random);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own_cert);
    mbedtls_pk_init(&own_key);
    mbedtls_ssl_config_init(&config);
  }
  ~TlsConfig() {
    mbedtls_ssl_config_free(&config);
    mbedtls_pk_free(&own_key);
    mbedtls_x509_crt_free(&own_cert);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&random);
    mbedtls_entropy_free(&entropy);
  }
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;

  static Result<std::unique_ptr<TlsConfig>> create(const HttpClientOptions& options) {
    auto tls = std::make_unique<TlsConfig>();
    static constexpr unsigned char kPersonal[] = "vigie-agent";
    if (const int rc = mbedtls_ctr_drbg_seed(&tls->random, mbedtls_entropy_func, &tls->entropy,
                                             kPersonal, sizeof kPersonal - 1)) {
      return Status::internal("cannot seed the TLS random generator: " + mbedtls_text(rc));
    }
    // Debian's bundle of the system's CAs (ca-certificates) when none is configured.
    const std::string ca_file =
        options.ca_file.empty() ? "/etc/ssl/certs/ca-certificates.crt" : options.ca_file;
    // A bundle may hold certificates mbedTLS cannot read (a positive count): those are
    // skipped as long as one at least was read.
    const int ca_rc = mbedtls_x509_crt_parse_file(&tls->ca, ca_file.c_str());
    if (ca_rc < 0 || tls->ca.version == 0) {
      return Status::invalid("CA file " + ca_file + ": " +
                             (ca_rc < 0 ? mbedtls_text(ca_rc) : "no certificate mbedTLS can read"));
    }
    if (!options.client_cert.empty()) {
      if (const int rc = mbedtls_x509_crt_parse_file(&tls->own_cert, options.client_cert.c_str())) {
        return Status::invalid("client certificate " + options.client_cert + ": " +
                               (rc < 0 ? mbedtls_text(rc) : "a certificate cannot be read"));
      }
      if (const int rc =
              mbedtls_pk_parse_keyfile(&tls->own_key, options.client_key.c_str(), nullptr)) {
        return Status::invalid("client key " + options.client_key + ": " + mbedtls_text(rc));
      }
    }
    mbedtls_ssl_config& config = tls->config;
    if (const int rc =
            mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) {
      return Status::internal("cannot configure TLS: " + mbedtls_text(rc));
    }
    static constexpr int kSuites[] = {
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        0,
    };
    mbedtls_ssl_conf_ciphersuites(&config, kSuites);
    mbedtls_ssl_conf_min_version(&config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_cert_profile(&config, &mbedtls_x509_crt_profile_default);
    mbedtls_ssl_conf_authmode(&config, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&config, &tls->ca, nullptr);
    mbedtls_ssl_conf_rng(&config, mbedtls_ctr_drbg_random, &tls->random);
    if (!options.client_cert.empty()) {
      if (const int rc = mbedtls_ssl_conf_own_cert(&config, &tls->own_cert, &tls->own_key)) {
        return Status::invalid("client certificate " + options.client_cert + " and key " +
                               options.client_key + ": " + mbedtls_text(rc));
      }
    }
    return tls;
  }
};

namespace {

// Whether the certificate's subjectAltName lists `address` (mbedTLS 2.28 checks DNS
// names only).
bool names_address(const mbedtls_x509_crt& cert, const asio::ip::address& address) {
  std::vector<unsigned char> bytes;
  if (address.is_v4()) {
    const auto raw = address.to_v4().to_bytes();
    bytes.assign(raw.begin(), raw.end());
  } else {
    const auto raw = address.to_v6().to_bytes();
    bytes.assign(raw.begin(), raw.end());
  }
  for (const mbedtls_x509_sequence* name = &cert.subject_alt_names; name != nullptr;
       name = name->next) {
    if (name->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) &&
        name->buf.len == bytes.size() && std::equal(bytes.begin(), bytes.end(), name->buf.p)) {
      return true;
    }
  }
  return false;
}

// A TLS connection over a TCP socket, as an Asio stream for Beast: mbedTLS reads and
// writes the non-blocking socket itself, and when it would block the operation waits
// for the socket with Asio, so that closing the socket cancels it like any other.
class TlsStream {
 public:
  using executor_type = tcp::socket::executor_type;

  // `address`: the collector's when the URL names it by address (checked against the
  // certificate's subjectAltName); otherwise `host` is checked, and sent as SNI.
  TlsStream(tcp::socket socket, TlsConfig& tls, const std::string& host,
            const std::optional<asio::ip::address>& address)
      : socket_(std::move(socket)), address_(address) {
    mbedtls_ssl_init(&ssl_);
    error_code ignored;
    socket_.non_blocking(true, ignored);
    setup_ = mbedtls_ssl_setup(&ssl_, &tls.config);
    if (setup_ == 0 && !address_) setup_ = mbedtls_ssl_set_hostname(&ssl_, host.c_str());
    if (address_) mbedtls_ssl_set_verify(&ssl_, &TlsStream::verify, this);
    mbedtls_ssl_set_bio(&ssl_, this, &TlsStream::send, &TlsStream::receive, nullptr);
  }
  ~TlsStream() { mbedtls_ssl_free(&ssl_); }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  tcp::socket& socket() { return socket_; }
  // The certificate checks that failed (MBEDTLS_X509_BADCERT_* bits), 0 if none.
  std::uint32_t verify_result() const { return mbedtls_ssl_get_verify_result(&ssl_); }

  template <class Token>
  auto async_handshake(Token&& token) {
    return run([this] { return setup_ != 0 ? setup_ : mbedtls_ssl_handshake(&ssl_); },
               std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const asio::mutable_buffer buffer = first_of(buffers);
    return run(
        [this, buffer] {
          if (buffer.size() == 0) return 0;
          return mbedtls_ssl_read(&ssl_, static_cast<unsigned char*>(buffer.data()), buffer.size());
        },
        std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const asio::const_buffer buffer = first_of(buffers);
    return run(
        [this, buffer] {
          if (buffer.size() == 0) return 0;
          return mbedtls_ssl_write(&ssl_, static_cast<const unsigned char*>(buffer.data()),
                                   buffer.size());
        },
        std::forward<Token>(token));
  }

 private:
  template <class Buffers>
  static auto first_of(const Buffers& buffers) {
    using Buffer = std::decay_t<decltype(*asio::buffer_sequence_begin(buffers))>;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      const Buffer buffer = *it;
      if (buffer.size() > 0) return buffer;
    }
    return Buffer();
  }

  // Calls `step` (an mbedTLS call: >= 0 when done, the bytes moved; WANT_READ or
  // WANT_WRITE when the socket would block) until it is done, waiting for the socket
  // in between. A result there at once is delivered through the executor, as Asio's
  // own operations do.
  template <class Step, class Token>
  auto run(Step step, Token&& token) {
    return asio::async_compose<Token, void(error_code, std::size_t)>(
        [this, step, waited = false](auto& self, error_code ec = {}) mutable {
          if (ec) {
            self.complete(ec, 0);
            return;
          }
          const int rc = step();
          if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            waited = true;
            socket_.async_wait(
                rc == MBEDTLS_ERR_SSL_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
                std::move(self));
            return;
          }
          const error_code result = rc >= 0 ? error_code() : error_of(rc);
          const std::size_t bytes = rc >= 0 ? static_cast<std::size_t>(rc) : 0;
          if (waited) {
            self.complete(result, bytes);
            return;
          }
          asio::post(socket_.get_executor(), [self = std::move(self), result, bytes]() mutable {
            self.complete(result, bytes);
          });
        },
        token, socket_);
  }

  error_code error_of(int rc) const {
    if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF) {
      return asio::error::eof;
    }
    if ((rc == MBEDTLS_ERR_NET_SEND_FAILED || rc == MBEDTLS_ERR_NET_RECV_FAILED ||
         rc == MBEDTLS_ERR_NET_CONN_RESET) &&
        errno_ != 0) {
      return error_code(errno_, boost::system::system_category());
    }
    return error_code(-rc, tls_category());
  }

  static int send(void* context, const unsigned char* data, std::size_t size) {
    auto& self = *static_cast<TlsStream*>(context);
    for (;;) {
      const ssize_t n = ::send(self.socket_.native_handle(), data, size, MSG_NOSIGNAL);
      if (n >= 0) return static_cast<int>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
      self.errno_ = errno;
      return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                   : MBEDTLS_ERR_NET_SEND_FAILED;
    }
  }

  static int receive(void* context, unsigned char* data, std::size_t size) {
    auto& self = *static_cast<TlsStream*>(context);
    for (;;) {
      const ssize_t n = ::recv(self.socket_.native_handle(), data, size, 0);
      if (n >= 0) return static_cast<int>(n);  // 0: the peer closed the connection
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
      self.errno_ = errno;
      return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
  }

  // The server's certificate (depth 0) must name the server's address.
  static int verify(void* context, mbedtls_x509_crt* cert, int depth, std::uint32_t* flags) {
    const auto& self = *static_cast<const TlsStream*>(context);
    if (depth == 0 && !names_address(*cert, *self.address_)) {
      *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    }
    return 0;
  }

  tcp::socket socket_;
  std::optional<asio::ip::address> address_;
  mbedtls_ssl_context ssl_;
  int setup_ = 0;  // mbedtls_ssl_setup's or set_hostname's error, reported by the handshake
  int errno_ = 0;  // the socket's last error
};

// Why the certificate checks failed, in words, from mbedtls_ssl_get_verify_result.
std::string refusal_text(std::uint32_t flags, const std::string& host, bool address) {
  std::vector<std::string> reasons;
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    reasons.emplace_back("unable to get local issuer certificate (not signed by the trusted CA)");
    flags &= ~MBEDTLS_X509_BADCERT_NOT_TRUSTED;
  }
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
    reasons.push_back(std::string(address ? "IP address mismatch" : "hostname mismatch") +
                      " (it does not name " + host + ")");
    flags &= ~MBEDTLS_X509_BADCERT_CN_MISMATCH;
  }
  if (flags != 0) {
    char text[512];
    if (mbedtls_x509_crt_verify_info(text, sizeof text, "", flags) > 0) {
      std::string_view rest(text);
      while (!rest.empty()) {
        const std::size_t end = rest.find('\n');
        if (end != 0) reasons.emplace_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
      }
    }
  }
  std::string out;
  for (const auto& reason : reasons) out += (out.empty() ? "" : "; ") + reason;
  return out.empty() ? "the certificate checks failed" : out;
}

}  // namespace

namespace {

// An HTTP field name is a token (RFC 9110, 5.1); a value, a target or a content type
// may hold no line break nor NUL (what would split the request).
bool field_name_ok(std::string_view name) {
  if (name.empty()) return false;
  for (const unsigned char c : name) {
    if (!std::isalnum(c) &&
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}
bool field_value_ok(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

struct HttpClient::Impl {
  Url url;
  std::string base;  // the URL's base path, before send()'s targets
  HttpClientOptions options;
  std::optional<asio::ip::address> address;  // the host when it is an IP literal
  asio::io_context io{1};
  tcp::resolver resolver{io};
  std::shared_ptr<TlsConfig> tls;  // https only
  // The connection, when one is open: `plain` for http, `secure` for https.
  std::optional<tcp::socket> plain;
  std::optional<TlsStream> secure;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;  // the template of post()
  std::atomic<Clock::rep> abort_at{Clock::time_point::max().time_since_epoch().count()};

  // Why the last await() gave up early, if it did.
  enum class Stop { kNone, kDeadline, kAbort };

  bool aborted(Clock::time_point now) const {
    return now.time_since_epoch().count() >= abort_at.load(std::memory_order_relaxed);
  }

  tcp::socket& socket() { return secure ? secure->socket() : *plain; }
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
      const std::function<void(std::function<void(error_code)>)>& start, Clock::time_point deadline,
      bool leave_behind = false) {
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
      const auto until =
          stop == Stop::kNone ? std::min(now + kSlice, deadline) : std::min(now + kSlice, give_up);
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
        return std::string("no connection to ") + where + " within " + millis_text(budget) + " (" +
               what + ")";
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

    secure.emplace(std::move(*plain), *tls, url.host, address);
    plain.reset();
    const auto [ec, stop] = await(
        [&](auto done) {
          secure->async_handshake([done](error_code ec, std::size_t) { done(ec); });
        },
        deadline);
    if (ec || stop != Stop::kNone) {
      if (stop == Stop::kNone && secure) {
        // -1: the handshake failed before the certificate was checked.
        if (const std::uint32_t flags = secure->verify_result();
            flags != 0 && flags != static_cast<std::uint32_t>(-1)) {
          close();
          return std::string("TLS handshake with ") + where + ": the " + options.peer +
                 "'s certificate is refused: " + refusal_text(flags, url.host, address.has_value());
        }
      }
      return failed("complete the TLS handshake with", ec, stop);
    }
    return {};
  }

  // Sends the request and reads the reply on the open connection. `answered` tells
  // whether any byte of a reply came.
  template <class Stream>
  std::pair<error_code, Stop> exchange(Stream& stream, http::request<http::string_body>& message,
                                       http::response_parser<http::string_body>& parser,
                                       Clock::time_point deadline, bool& answered) {
    {
      const auto [ec, stop] = await(
          [&](auto done) {
            http::async_write(stream, message, [done](error_code ec, std::size_t) { done(ec); });
          },
          deadline);
      if (ec || stop != Stop::kNone) return {ec, stop};
    }
    // The header first: Beast 1.74 reading a whole message eagerly skips the body limit
    // when the body came in the header's packet (basic_parser::put resumes after the
    // body_limit error); read alone, the header is checked against it.
    auto outcome = await(
        [&](auto done) {
          http::async_read_header(stream, buffer, parser,
                                  [done](error_code ec, std::size_t) { done(ec); });
        },
        deadline);
    answered = buffer.size() > 0 || parser.got_some();
    if (outcome.first || outcome.second != Stop::kNone || parser.is_done()) return outcome;
    return await(
        [&](auto done) {
          http::async_read(stream, buffer, parser,
                           [done](error_code ec, std::size_t) { done(ec); });
        },
        deadline);
  }

  HttpReply post(const std::string& body, bool gzipped, milliseconds timeout) {
    request.body() = body;
    if (gzipped) {
      request.set(http::field::content_encoding, "gzip");
    } else {
      request.erase(http::field::content_encoding);
    }
    request.prepare_payload();
    return perform(request, timeout);
  }

  HttpReply send(const HttpRequest& wanted, milliseconds timeout) {
    HttpReply reply;
    const http::verb verb = http::string_to_verb(wanted.method);
    if (verb != http::verb::get && verb != http::verb::post && verb != http::verb::put &&
        verb != http::verb::patch && verb != http::verb::delete_ && verb != http::verb::head) {
      reply.error = "HTTP method \"" + wanted.method + "\" not supported";
      return reply;
    }
    if (!wanted.target.starts_with('/') || !field_value_ok(wanted.target) ||
        wanted.target.find(' ') != std::string::npos) {
      reply.error = "HTTP request target \"" + wanted.target + "\" is not a path";
      return reply;
    }
    http::request<http::string_body> message;
    message.version(11);
    message.method(verb);
    message.target(base + wanted.target);
    message.set(http::field::host, url.authority);
    message.set(http::field::user_agent, std::string("vigie-agent/") + VIGIE_VERSION);
    if (!options.token.empty()) message.set(http::field::authorization, "Bearer " + options.token);
    if (!wanted.content_type.empty()) {
      if (!field_value_ok(wanted.content_type)) {
        reply.error = "HTTP Content-Type has a line break";
        return reply;
      }
      message.set(http::field::content_type, wanted.content_type);
    }
    for (const auto& [name, value] : wanted.headers) {
      if (!field_name_ok(name) || !field_value_ok(value)) {
        reply.error = "HTTP header \"" + name + "\": not a valid name and value";
        return reply;
      }
      message.set(name, value);
    }
    message.body() = wanted.body;
    message.prepare_payload();
    return perform(message, timeout, verb == http::verb::head);
  }

  // Sends `message` on the open connection, or a new one, and reads the reply.
  HttpReply perform(http::request<http::string_body>& message, milliseconds timeout,
                    bool head = false) {
    HttpReply reply;
    const auto start = Clock::now();
    if (aborted(start)) {
      reply.error = "aborted at shutdown";
      return reply;
    }
    timeout = std::max(timeout, milliseconds(1));
    const auto deadline = start + timeout;

    bool reused = still_open();
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!reused) {
        const auto connect_deadline = std::min(deadline, Clock::now() + options.connect_timeout);
        const std::string why =
            connect(connect_deadline, std::min(timeout, options.connect_timeout));
        if (!why.empty()) {
          reply.error = why;
          return reply;
        }
      }
      http::response_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(options.max_read_bytes);
      if (head) parser.skip(true);
      bool answered = false;
      const auto [ec, stop] = secure ? exchange(*secure, message, parser, deadline, answered)
                                     : exchange(*plain, message, parser, deadline, answered);
      if (!ec && stop == Stop::kNone) {
        auto& response = parser.get();
        reply.status = static_cast<long>(response.result_int());
        reply.body = std::move(response.body());
        if (reply.body.size() > options.max_reply_bytes) reply.body.resize(options.max_reply_bytes);
        if (const auto it = response.find(http::field::retry_after); it != response.end()) {
          const std::string_view value(it->value().data(), it->value().size());
          if (const auto delay = parse_retry_after(value, std::chrono::system_clock::now())) {
            reply.retry_after = *delay;
          }
        }
        if (const auto it = response.find(http::field::etag); it != response.end())
          reply.etag = std::string(it->value().data(), it->value().size());
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
      // A kept-alive connection the server closed meanwhile: once more, afresh.
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

  impl->base = parse_url(options.url, "")->target;

  if (impl->url.https) {
    if (options.trust) {
      impl->tls = options.trust->config();
    } else {
      auto tls = TlsConfig::create(options);
      if (!tls) return tls.status();
      impl->tls = std::move(*tls);
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

HttpReply HttpClient::send(const HttpRequest& request, milliseconds timeout) {
  return impl_->send(request, timeout);
}

TlsTrust::TlsTrust(std::shared_ptr<TlsConfig> config) : config_(std::move(config)) {}
TlsTrust::~TlsTrust() = default;

Result<std::shared_ptr<const TlsTrust>> TlsTrust::create(const std::string& ca_file,
                                                         const std::string& client_cert,
                                                         const std::string& client_key) {
  auto tls =
      TlsConfig::create({.ca_file = ca_file, .client_cert = client_cert, .client_key = client_key});
  if (!tls) return tls.status();
  return std::shared_ptr<const TlsTrust>(
      std::make_shared<TlsTrust>(std::shared_ptr<TlsConfig>(std::move(*tls))));
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += url_encode(name) + "=" + url_encode(value);
  }
  return out;
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
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
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

}  // namespace vigie
