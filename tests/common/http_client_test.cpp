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

  explicit Peer(Mode mode) : mode_(mode) {
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
    const std::string reply =
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    return ::write(fd, reply.data(), reply.size()) == static_cast<ssize_t>(reply.size());
  }

  Mode mode_;
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

TEST_CASE("HttpClient: a refused connection is an error naming the peer", "[http]") {
  auto client = HttpClient::create({.url = "http://127.0.0.1:1"}, "/api/v1/reports");
  REQUIRE(client.is_ok());
  const HttpReply reply = (*client)->post("{}", false, 5s);
  CHECK(reply.status == 0);
  CHECK_THAT(reply.error, Contains("cannot connect to 127.0.0.1:1") && Contains("refused"));
}

}  // namespace
}  // namespace vigie
