// The agent's HTTP client against real peers on loopback: the real collector over
// HTTPS (its certificate checked against the CA and the URL's host), and small TCP
// peers the test runs for what the collector cannot be made to do on demand (count
// connections, close a kept-alive one, never answer).

#include "common/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Clock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

TEST_CASE("parse_retry_after: delay-seconds and the three HTTP-date forms", "[http]") {
  // Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110.
  const auto now = SysClock::from_time_t(784111777);
  CHECK(parse_retry_after("120", now) == 120s);
  CHECK(parse_retry_after(" 0 ", now) == 0s);
  CHECK(parse_retry_after("99999999999999999999999", now) == std::chrono::seconds::max());
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now) == 30s);
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:51:37 GMT", now) == 120s);
  CHECK(parse_retry_after("Sun Nov  6 08:49:47 1994", now) == 10s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == 0s);  // past: now
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 500ms) == 0s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:38 GMT", now + 500ms) == 1s);  // rounded up
  for (const char* bad : {"", "  ", "-5", "1.5", "12s", "soon", "Sun, 06 Nov 1994 08:49:37",
                          "Sun, 06 Nov 1994 08:49:37 GMT junk"}) {
    INFO(bad);
    CHECK_FALSE(parse_retry_after(bad, now).has_value());
  }
}

TEST_CASE("HttpClient: refuses a bad URL and unreadable TLS files at creation", "[http]") {
  testing::TempDir dir;
  for (const char* url :
       {"ftp://x", "https://", "https://[::1", "http://h:0", "http://h:99999", "http://h:port"}) {
    INFO(url);
    auto client = HttpClient::create({.url = url}, "/api/v1/reports");
    REQUIRE_FALSE(client.is_ok());
    CHECK(client.status().code() == Code::kInvalidArgument);
  }
  const auto junk = dir.write("junk.pem", "not a certificate\n");
  auto bad_ca = HttpClient::create({.url = "https://127.0.0.1:1", .ca_file = junk.string()}, "/");
  REQUIRE_FALSE(bad_ca.is_ok());
  CHECK_THAT(bad_ca.status().message(), Contains("CA file " + junk.string()));
  auto bad_cert = HttpClient::create(
      {.url = "https://127.0.0.1:1", .client_cert = junk.string(), .client_key = junk.string()},
      "/");
  REQUIRE_FALSE(bad_cert.is_ok());
  CHECK_THAT(bad_cert.status().message(), Contains("client certificate " + junk.string()));
}

TEST_CASE("HttpClient: talks to the collector over HTTPS with the collector's CA", "[http]") {
  testing::TempDir dir;
  testing::Collector collector(dir);
  auto client =
      HttpClient::create({.url = collector.url(), .ca_file = collector.ca()}, "/api/v1/enroll");
  REQUIRE(client.is_ok());
  // A real answer from the collector: the enrollment needs a token.
  const HttpReply first = (*client)->post(R"({"agent": {"id": "a", "site": "s"}})", false, 10s);
  INFO(first.error);
  CHECK(first.status == 401);
  CHECK_THAT(first.body, Contains("error"));
  const HttpReply second = (*client)->post("{}", false, 10s);  // the kept-alive connection
  INFO(second.error);
  CHECK(second.status >= 400);

  // With a token the collector knows.
  const std::string enroll_token = collector.enroll_token("s");
  auto enroll = HttpClient::create(
      {.url = collector.url() + "/", .ca_file = collector.ca(), .token = enroll_token},
      "/api/v1/enroll");
  REQUIRE(enroll.is_ok());
  const HttpReply enrolled = (*enroll)->post(
      R"({"agent": {"id": "a", "site": "s", "hostname": "h", "version": "1"}})", false, 10s);
  INFO(enrolled.error << enrolled.body);
  CHECK(enrolled.status == 200);
  CHECK_THAT(enrolled.body, Contains("token"));
}

TEST_CASE("HttpClient: refuses a certificate of another CA, or not naming the URL's host",
          "[http]") {
  testing::TempDir dir;
  // The collector's certificate names only collector.example.org (make-certs keeps files
  // that exist, so the fixture uses these).
  REQUIRE(testing::run({std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs",
                        (dir / "tls").string(), "collector.example.org"})
              .exit_code == 0);
  REQUIRE(testing::run(
              {std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs", (dir / "other").string()})
              .exit_code == 0);
  testing::Collector collector(dir);
  const std::string port = collector.url().substr(collector.url().rfind(':') + 1);
  struct Case {
    std::string url;
    std::string ca;
    std::string why;
  };
  for (const Case& c :
       {Case{collector.url(), (dir / "other/ca.crt").string(), "unable to get local issuer"},
        Case{collector.url(), collector.ca(), "IP address mismatch"},
        Case{"https://localhost:" + port, collector.ca(), "hostname mismatch"}}) {
    INFO(c.url << " with " << c.ca);
    auto client = HttpClient::create({.url = c.url, .ca_file = c.ca}, "/api/v1/enroll");
    REQUIRE(client.is_ok());
    const HttpReply reply = (*client)->post("{}", false, 10s);
    CHECK(reply.status == 0);
    CHECK_THAT(reply.error, Contains("certificate is refused") && Contains(c.why));
  }
}

// A TCP peer on 127.0.0.1 that answers each request with `reply` and counts the
// connections it accepted. Modes: close each connection after the reply (without
// saying so: a kept-alive connection closed while idle), or never answer.
class Peer {
 public:
  enum class Mode { kKeepAlive, kCloseSilently, kMute };

  explicit Peer(Mode mode, std::string reply = kAccepted) : mode_(mode), reply_(std::move(reply)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener_, 8) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Peer() {
    done_ = true;
    thread_.join();
    ::close(listener_);
  }

  std::string url(const char* scheme = "http") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_);
  }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  // The requests received so far, each as it came (head and body).
  std::vector<std::string> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

  static constexpr const char* kAccepted =
      "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

 private:
  void serve() {
    const auto end = Clock::now() + 60s;  // bounded: the test ends well within this
    while (!done_ && Clock::now() < end) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      if (mode_ == Mode::kMute) {
        while (!done_ && Clock::now() < end) std::this_thread::sleep_for(20ms);
      } else {
        while (!done_ && Clock::now() < end && answer(fd) && mode_ == Mode::kKeepAlive) {
        }
      }
      ::close(fd);
    }
  }

  bool answer(int fd) {
    std::string data;
    const auto give_up = Clock::now() + 10s;
    while (!done_ && Clock::now() < give_up) {
      const auto header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        const auto at = data.find("Content-Length: ");
        const std::size_t length = at < header_end ? std::stoul(data.substr(at + 16)) : 0;
        if (data.size() >= header_end + 4 + length) break;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buffer[8192];
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) return false;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    ++requests_;
    {
      std::lock_guard lock(mutex_);
      received_.push_back(data);
    }
    return ::write(fd, reply_.data(), reply_.size()) == static_cast<ssize_t>(reply_.size());
  }

  Mode mode_;
  std::string reply_;
  mutable std::mutex mutex_;
  std::vector<std::string> received_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

TEST_CASE("HttpClient: keeps the connection alive, and reconnects when the peer closed it",
          "[http]") {
  SECTION("kept alive: three requests, one connection") {
    Peer peer(Peer::Mode::kKeepAlive);
    auto client = HttpClient::create({.url = peer.url()}, "/api/v1/reports");
    REQUIRE(client.is_ok());
    for (int i = 0; i < 3; ++i) {
      const HttpReply reply = (*client)->post("{}", i == 1, 5s);
      INFO(reply.error);
      CHECK(reply.status == 202);
    }
    CHECK(peer.connections() == 1);
  }
  SECTION("closed after each reply: each request on a new connection, none lost") {
    Peer peer(Peer::Mode::kCloseSilently);
    auto client = HttpClient::create({.url = peer.url()}, "/api/v1/reports");
    REQUIRE(client.is_ok());
    for (int i = 0; i < 3; ++i) {
      // Give the close time to arrive first, or to race with the next request.
      if (i == 1) std::this_thread::sleep_for(100ms);
      const HttpReply reply = (*client)->post("{}", false, 5s);
      INFO(reply.error);
      CHECK(reply.status == 202);
    }
    CHECK(peer.requests() == 3);
    CHECK(peer.connections() == 3);
  }
}

TEST_CASE("HttpClient: a peer that never answers costs the timeout, or less when aborted",
          "[http]") {
  Peer peer(Peer::Mode::kMute);
  SECTION("request timeout") {
    auto client = HttpClient::create({.url = peer.url()}, "/api/v1/reports");
    REQUIRE(client.is_ok());
    const auto start = Clock::now();
    const HttpReply reply = (*client)->post("{}", false, 600ms);
    CHECK(reply.status == 0);
    CHECK_THAT(reply.error, Contains("no reply from 127.0.0.1:") && Contains("within 600 ms"));
    CHECK(Clock::now() - start >= 590ms);
    CHECK(Clock::now() - start < 5s);
  }
  SECTION("TLS handshake never done: the connect timeout") {
    auto client =
        HttpClient::create({.url = peer.url("https"), .connect_timeout = 500ms}, "/api/v1/reports");
    REQUIRE(client.is_ok());
    const auto start = Clock::now();
    const HttpReply reply = (*client)->post("{}", false, 30s);
    CHECK(reply.status == 0);
    CHECK_THAT(reply.error, Contains("no connection to 127.0.0.1:") && Contains("within 500 ms") &&
                                Contains("TLS handshake"));
    CHECK(Clock::now() - start < 5s);
  }
  SECTION("aborted from another thread") {
    auto client = HttpClient::create({.url = peer.url()}, "/api/v1/reports");
    REQUIRE(client.is_ok());
    const auto start = Clock::now();
    std::thread stopper([&] {
      std::this_thread::sleep_for(300ms);
      (*client)->abort_after(Clock::now());
    });
    const HttpReply reply = (*client)->post("{}", false, 30s);
    stopper.join();
    CHECK(reply.status == 0);
    CHECK(reply.error == "aborted at shutdown");
    CHECK(Clock::now() - start < 5s);
    // And any later request, at once.
    CHECK((*client)->post("{}", false, 30s).error == "aborted at shutdown");
  }
}

TEST_CASE("url_encode and form_encode: everything but the unreserved bytes as %XX", "[http]") {
  CHECK(url_encode("") == "");
  CHECK(url_encode("aZ09-._~") == "aZ09-._~");
  CHECK(url_encode("a b&c=d/é+%") == "a%20b%26c%3Dd%2F%C3%A9%2B%25");
  CHECK(form_encode({}) == "");
  CHECK(form_encode({{"grant_type", "client_credentials"}, {"client_secret", "p&ss=w rd"}}) ==
        "grant_type=client_credentials&client_secret=p%26ss%3Dw%20rd");
}

TEST_CASE("HttpClient: send() writes the method, target, headers and body asked for", "[http]") {
  Peer peer(Peer::Mode::kKeepAlive);
  auto client = HttpClient::create({.url = peer.url() + "/base/", .token = "t0k"}, "");
  REQUIRE(client.is_ok());
  HttpReply reply =
      (*client)->send({.target = "/whoami/v1?a=1&b=%20", .headers = {{"X-Tenant-ID", "abc"}}}, 5s);
  INFO(reply.error);
  CHECK(reply.status == 202);
  reply = (*client)->send({.method = "POST",
                           .target = "/token",
                           .headers = {{"Authorization", "Basic eDp5"}},
                           .content_type = "application/x-www-form-urlencoded",
                           .body = form_encode({{"a", "b c"}})},
                          5s);
  CHECK(reply.status == 202);
  const auto received = peer.received();
  REQUIRE(received.size() == 2);
  CHECK_THAT(received[0], Catch::StartsWith("GET /base/whoami/v1?a=1&b=%20 HTTP/1.1\r\n") &&
                              Contains("\r\nHost: 127.0.0.1:") &&
                              Contains("\r\nAuthorization: Bearer t0k\r\n") &&
                              Contains("\r\nX-Tenant-ID: abc\r\n"));
  // A header of the caller replaces the client's own of the same name.
  CHECK_THAT(received[1],
             Catch::StartsWith("POST /base/token HTTP/1.1\r\n") &&
                 Contains("\r\nAuthorization: Basic eDp5\r\n") && !Contains("Bearer") &&
                 Contains("Content-Type: application/x-www-form-urlencoded\r\n") &&
                 Contains("Content-Length: 7\r\n") && Catch::EndsWith("\r\n\r\na=b%20c"));
  CHECK(peer.connections() == 1);

  // What cannot be sent as given is refused before any exchange.
  for (const HttpRequest& bad :
       {HttpRequest{.method = "BREW", .target = "/"}, HttpRequest{.target = "whoami"},
        HttpRequest{.target = "/a b"}, HttpRequest{.target = "/a\r\nX-Evil: 1"},
        HttpRequest{.target = "/", .headers = {{"X-A", "1\r\nX-Evil: 1"}}},
        HttpRequest{.target = "/", .headers = {{"X A", "1"}}},
        HttpRequest{.target = "/", .content_type = "a\nb"}}) {
    INFO(bad.method << " " << bad.target);
    reply = (*client)->send(bad, 5s);
    CHECK(reply.status == 0);
    CHECK_FALSE(reply.error.empty());
  }
  CHECK(peer.requests() == 2);
}

TEST_CASE("HttpClient: the reply body is kept up to max_reply_bytes, refused past max_read_bytes",
          "[http]") {
  const std::string body(3000, 'x');
  Peer peer(Peer::Mode::kKeepAlive,
            "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nRetry-After: 7\r\n\r\n" + body);
  // The peer serves one connection at a time: each client goes before the next comes.
  {
    auto whole = HttpClient::create(
        {.url = peer.url(), .max_reply_bytes = 4096, .max_read_bytes = 4096}, "");
    REQUIRE(whole.is_ok());
    const HttpReply reply = (*whole)->send({.target = "/"}, 5s);
    CHECK(reply.status == 200);
    CHECK(reply.body == body);
    CHECK(reply.retry_after == 7s);
  }
  {
    auto cut = HttpClient::create({.url = peer.url(), .max_reply_bytes = 100}, "");
    REQUIRE(cut.is_ok());
    CHECK((*cut)->send({.target = "/"}, 5s).body == body.substr(0, 100));
  }
  auto small = HttpClient::create({.url = peer.url(), .max_read_bytes = 1000}, "");
  REQUIRE(small.is_ok());
  const HttpReply reply = (*small)->send({.target = "/"}, 5s);
  INFO(reply.body.size() << " " << reply.error);
  CHECK(reply.status == 0);
  CHECK_THAT(reply.error, Contains("body limit exceeded"));
}

TEST_CASE("TlsTrust: one trust shared by clients on several threads, and the system's store",
          "[http]") {
  testing::TempDir dir;
  testing::Collector collector(dir);
  auto trust = TlsTrust::create(collector.ca());
  REQUIRE(trust.is_ok());
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto client =
          HttpClient::create({.url = collector.url(), .trust = *trust, .peer = "server"}, "");
      if (!client) return;
      for (int i = 0; i < 3; ++i) {
        // The query API wants a technician's token: a 401, from the collector itself.
        if ((*client)->send({.target = "/api/v1/overview"}, 10s).status == 401) ++answered;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(answered == 12);

  // No CA file: the system's bundle, which does not know the test's CA.
  auto system = TlsTrust::create("");
  REQUIRE(system.is_ok());
  auto client =
      HttpClient::create({.url = collector.url(), .trust = *system, .peer = "server"}, "");
  REQUIRE(client.is_ok());
  const HttpReply reply = (*client)->send({.target = "/api/v1/overview"}, 10s);
  CHECK(reply.status == 0);
  CHECK_THAT(reply.error, Contains("the server's certificate is refused") &&
                              Contains("unable to get local issuer"));

  auto missing = TlsTrust::create((dir / "nowhere.pem").string());
  REQUIRE_FALSE(missing.is_ok());
  CHECK_THAT(missing.status().message(), Contains("CA file " + (dir / "nowhere.pem").string()));
}

TEST_CASE("HttpClient: a refused connection is an error naming the peer", "[http]") {
  auto client = HttpClient::create({.url = "http://127.0.0.1:1"}, "/api/v1/reports");
  REQUIRE(client.is_ok());
  const HttpReply reply = (*client)->post("{}", false, 5s);
  CHECK(reply.status == 0);
  CHECK_THAT(reply.error, Contains("cannot connect to 127.0.0.1:1") && Contains("refused"));
}

}  // namespace
}  // namespace vigie
