#include "agent/shipper.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/gzip.hpp"
#include "common/time.hpp"
#include "tests/support/child.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::agent {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Clock = std::chrono::steady_clock;

CheckResult result(int n) {
  CheckResult r;
  r.name = "check-" + std::to_string(n);
  r.check = "system/disk:/srv/" + std::to_string(n);
  r.status = State::kWarning;
  r.summary = "disk /srv/" + std::to_string(n) + " is 85% full";
  r.metrics.push_back({"used_pct", 85.0, "%", Range{0, 80}, Range{0, 90}, 0.0, 100.0});
  r.ts_ms = 1'700'000'000'000 + n;
  r.duration_ms = 3;
  r.interval_s = 60;
  return r;
}

TEST_CASE("judge_response: 2xx delivers, 400, 413 and 422 refuse the batch, the rest retries",
          "[shipper]") {
  for (long status : {200L, 201L, 202L, 204L}) CHECK(judge_response(status) == Verdict::kDelivered);
  for (long status : {400L, 413L, 422L}) CHECK(judge_response(status) == Verdict::kRefused);
  for (long status :
       {0L, 100L, 301L, 307L, 401L, 403L, 404L, 405L, 408L, 409L, 415L, 429L, 500L, 502L, 503L}) {
    INFO(status);
    CHECK(judge_response(status) == Verdict::kRetry);
  }
}

TEST_CASE("result_index and reply_field: the result a refusal names, if any", "[shipper]") {
  CHECK(result_index("results[3]") == 3u);
  CHECK(result_index("results[12].metrics[0].unit") == 12u);
  CHECK(result_index("results[0]") == 0u);
  for (const char* other : {"", "results", "results[]", "results[x]", "results[3]x", "results[-1]",
                            "agent.id", "seq", "results[12345678901]", "xresults[1]"}) {
    INFO(other);
    CHECK_FALSE(result_index(other));
  }
  CHECK(reply_field(R"({"error": "results[2].status: bad", "field": "results[2].status"})") ==
        "results[2].status");
  CHECK(reply_field(R"({"error": "body too large"})").empty());
  CHECK(reply_field("<html>413</html>").empty());
  CHECK(reply_field(R"({"field": 3})").empty());
}

TEST_CASE("backoff_delay: doubles from 1 s up to 5 min, with half of it jittered", "[shipper]") {
  const auto delay = [](int attempt, double random) {
    return backoff_delay(attempt, 1s, 5min, random);
  };
  CHECK(delay(1, 0.0) == 500ms);
  CHECK(delay(1, 0.999) >= 999ms);
  CHECK(delay(1, 0.999) <= 1000ms);
  CHECK(delay(2, 0.0) == 1s);
  CHECK(delay(2, 0.5) == 1500ms);
  CHECK(delay(3, 0.0) == 2s);
  CHECK(delay(9, 0.0) == 128s);
  CHECK(delay(10, 0.0) == 150s);  // 256 s would pass the cap of 300 s
  CHECK(delay(10, 0.999) <= 5min);
  CHECK(delay(1000, 0.0) == 150s);
  CHECK(delay(1000, 0.999) <= 5min);
  CHECK(delay(0, 0.0) == 500ms);  // out-of-range input is tolerated
  CHECK(delay(1, 7.0) == 1s);
}

std::unique_ptr<Spool> spool_in(const testing::TempDir& dir) {
  auto spool = open_spool(dir / "spool.db");
  REQUIRE(spool.is_ok());
  return std::move(*spool);
}

TEST_CASE("Shipper: a missing or bad token file or CA file is refused at creation", "[shipper]") {
  testing::TempDir dir;
  const auto create = [&](const std::string& token_file, const std::string& ca_file) {
    ShipperOptions options;
    options.url = "https://collector.example.org";
    options.token_file = token_file;
    options.ca_file = ca_file;
    return Shipper::create({"a", "s", "h", "v"}, options, spool_in(dir));
  };
  auto missing = create((dir / "agent.token").string(), "");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK_THAT(missing.status().message(), Contains((dir / "agent.token").string()));

  auto empty = create(dir.write_secret("empty.token", " \n").string(), "");
  REQUIRE_FALSE(empty.is_ok());
  CHECK_THAT(empty.status().message(), Contains("empty"));

  auto spaced = create(dir.write_secret("spaced.token", "abc def\n").string(), "");
  REQUIRE_FALSE(spaced.is_ok());
  CHECK_THAT(spaced.status().message(), Contains("printable ASCII"));

  const auto token = dir.write("agent.token", "s3cr3t-t0ken\n");
  auto open = create(token.string(), "");  // 0644
  REQUIRE_FALSE(open.is_ok());
  CHECK(open.status().code() == Code::kPermissionDenied);
  CHECK(open.status().message() == "token file " + token.string() +
                                       ": readable by others (mode 0644): chmod 600 " +
                                       token.string() + " (vigie-agent enroll writes it so)");
  std::filesystem::permissions(token, std::filesystem::perms(0640));  // a group may read it
  auto no_ca = create(token.string(), (dir / "ca.crt").string());
  REQUIRE_FALSE(no_ca.is_ok());
  CHECK_THAT(no_ca.status().message(), StartsWith("CA file: " + (dir / "ca.crt").string()));

  auto fine = create(token.string(), "");
  REQUIRE(fine.is_ok());
  CHECK((*fine)->stop(0ms) == 0);
}

TEST_CASE("Shipper: stop() gives up on an unreachable collector at the flush deadline",
          "[shipper]") {
  testing::TempDir dir;
  ShipperOptions options;
  options.url = "http://127.0.0.1:1";  // nothing listens on port 1: connection refused
  options.send_interval = 1h;          // only the flush sends
  auto shipper = Shipper::create({"a", "s", "h", "v"}, options, spool_in(dir));
  REQUIRE(shipper.is_ok());
  (*shipper)->submit(result(1));
  (*shipper)->submit(result(2));
  const auto start = Clock::now();
  CHECK((*shipper)->stop(700ms) == 2);  // kept: never acknowledged
  CHECK(Clock::now() - start < 1500ms);
}

// An HTTP peer on 127.0.0.1 that answers the reports it receives with a script of
// status lines, one per request (the last one repeated), and records each request's
// arrival, seq and Authorization header. Stands for the collector's overload and
// failure answers, which the collector itself cannot be made to give on demand.
class ScriptedPeer {
 public:
  struct Request {
    Clock::time_point at;
    std::uint64_t seq = 0;
    std::size_t results = 0;
    std::vector<std::string> names;  // of the results, in order
    std::size_t events = 0;
    std::string authorization;
    std::string status;  // the answer's status line
  };
  struct Reply {
    std::string status;  // "200 OK"
    std::string body;    // "": {"error": "scripted NNN"}
  };
  // Answers each request as `decide` says.
  using Decide = std::function<Reply(const Request&)>;

  explicit ScriptedPeer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    start();
  }
  explicit ScriptedPeer(Decide decide) : decide_(std::move(decide)) { start(); }

  void start() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener_, 8) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    url_ = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedPeer() {
    done_ = true;
    thread_.join();
    ::close(listener_);
  }

  const std::string& url() const { return url_; }
  std::vector<Request> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    // Bounded: the test ends well within this.
    const auto end = Clock::now() + 60s;
    while (!done_ && Clock::now() < end) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      while (!done_ && answer(fd)) {
      }
      ::close(fd);
    }
  }

  // Reads one request on `fd` and answers it; false when the connection is over.
  bool answer(int fd) {
    std::string data;
    std::size_t header_end = std::string::npos;
    std::size_t length = 0;
    const auto give_up = Clock::now() + 10s;
    while (Clock::now() < give_up && !done_) {
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          const auto at = data.find("Content-Length: ");
          if (at != std::string::npos && at < header_end) length = std::stoul(data.substr(at + 16));
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + length) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buffer[8192];
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) return false;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    if (header_end == std::string::npos) return false;
    Request request;
    request.at = Clock::now();
    const auto body = nlohmann::json::parse(data.substr(header_end + 4, length), nullptr, false);
    if (body.is_object()) {
      request.seq = body.value("seq", std::uint64_t{0});
      if (body.contains("results")) request.results = body["results"].size();
      if (body.contains("events")) request.events = body["events"].size();
      for (const auto& r : body.value("results", nlohmann::json::array()))
        request.names.push_back(r.value("name", ""));
    }
    if (const auto at = data.find("Authorization: "); at != std::string::npos && at < header_end) {
      request.authorization = data.substr(at + 15, data.find("\r\n", at) - at - 15);
    }
    std::string status;
    std::string reply_body;
    {
      std::lock_guard lock(mutex_);
      if (decide_) {
        Reply reply = decide_(request);
        status = std::move(reply.status);
        reply_body = std::move(reply.body);
      } else {
        status = replies_[std::min(requests_.size(), replies_.size() - 1)];
      }
      // A status line may carry its body after an empty line.
      if (const auto split = status.find("\r\n\r\n"); split != std::string::npos) {
        reply_body = status.substr(split + 4);
        status.resize(split);
      }
      request.status = status;
      requests_.push_back(request);
    }
    if (reply_body.empty()) reply_body = "{\"error\": \"scripted " + status.substr(0, 3) + "\"}";
    const std::string reply = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\n" +
                              "Content-Length: " + std::to_string(reply_body.size()) + "\r\n\r\n" +
                              reply_body;
    return ::write(fd, reply.data(), reply.size()) == static_cast<ssize_t>(reply.size());
  }

  std::vector<std::string> replies_;
  Decide decide_;
  int listener_ = -1;
  std::string url_;
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  std::vector<Request> requests_;
  std::thread thread_;
};

ShipperOptions quick_options(const std::string& url) {
  ShipperOptions options;
  options.url = url;
  options.send_interval = 50ms;
  options.backoff_initial = 100ms;
  options.backoff_max = 400ms;
  options.gzip_above = 1 << 20;  // the peer reads plain JSON
  return options;
}

TEST_CASE("Shipper: retries 500s with backoff and waits for Retry-After on 429 and 503",
          "[shipper]") {
  testing::TempDir dir;
  ScriptedPeer peer({"500 Internal Server Error", "500 Internal Server Error",
                     "429 Too Many Requests\r\nRetry-After: 2",
                     "503 Service Unavailable\r\nRetry-After: 1", "200 OK"});
  auto shipper = Shipper::create({"a", "s", "h", "v"}, quick_options(peer.url()), spool_in(dir));
  REQUIRE(shipper.is_ok());
  for (int i = 0; i < 3; ++i) (*shipper)->submit(result(i));
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 15s));
  const auto requests = peer.requests();
  REQUIRE(requests.size() == 5);
  for (const auto& r : requests) {
    CHECK(r.seq == requests[0].seq);  // the same batch, replayed
    CHECK(r.results == 3);
  }
  CHECK(requests[1].at - requests[0].at >= 50ms);  // backoff: at least half of 100 ms
  CHECK(requests[3].at - requests[2].at >= 2s);    // as the 429 asked
  CHECK(requests[4].at - requests[3].at >= 1s);    // as the 503 asked
  CHECK((*shipper)->stats().last_sent_ms > 0);
  CHECK((*shipper)->stop(0ms) == 0);
}

TEST_CASE("Shipper: a batch refused for the machine's clock is kept and sent once it is right",
          "[shipper]") {
  testing::TempDir dir;
  ScriptedPeer peer(
      {"400 Bad Request\r\n\r\n{\"error\": \"results[0].ts: 10 min ahead of the "
       "collector's clock\", \"field\": \"results[0].ts\", \"skew_ms\": 600000}",
       "200 OK"});
  auto shipper = Shipper::create({"a", "s", "h", "v"}, quick_options(peer.url()), spool_in(dir));
  REQUIRE(shipper.is_ok());
  (*shipper)->submit(result(1));
  REQUIRE(testing::eventually([&] { return peer.requests().size() == 2; }, 10s));
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 10s));
  const auto requests = peer.requests();
  CHECK(requests[1].seq == requests[0].seq);  // the same batch, not set apart
  CHECK((*shipper)->stats().quarantined == 0);
  CHECK((*shipper)->stop(0ms) == 0);
}

TEST_CASE(
    "Shipper: a 400 quarantines the batch and a 401 stops sending until the token file changes",
    "[shipper]") {
  testing::TempDir dir;
  const auto token = dir.write_secret("agent.token", "first-token\n");
  ScriptedPeer peer({"400 Bad Request", "401 Unauthorized", "200 OK"});
  ShipperOptions options = quick_options(peer.url());
  options.token_file = token.string();
  options.token_recheck = 200ms;
  auto shipper = Shipper::create({"a", "s", "h", "v"}, options, spool_in(dir));
  REQUIRE(shipper.is_ok());
  (*shipper)->submit(result(1));
  REQUIRE(testing::eventually([&] { return peer.requests().size() == 1; }, 10s));
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 10s));
  CHECK((*shipper)->stats().quarantined == 1);  // kept apart, never sent again

  (*shipper)->submit(result(2));
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().halted; }, 10s));
  std::this_thread::sleep_for(1s);  // five rechecks of an unchanged token: nothing sent
  CHECK(peer.requests().size() == 2);
  CHECK((*shipper)->stats().depth == 1);  // kept in the spool

  dir.write_secret("agent.token", "second-token\n");
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 10s));
  const auto requests = peer.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1].authorization == "Bearer first-token");
  CHECK(requests[2].authorization == "Bearer second-token");
  CHECK(requests[2].seq == requests[1].seq);
  CHECK_FALSE((*shipper)->stats().halted);
  CHECK((*shipper)->stop(0ms) == 0);
}

// The results the peer acknowledged (2xx), by name, with how many times each.
std::map<std::string, int> acknowledged(const std::vector<ScriptedPeer::Request>& requests) {
  std::map<std::string, int> out;
  for (const auto& r : requests) {
    if (!r.status.starts_with("2")) continue;
    for (const auto& name : r.names) ++out[name];
  }
  return out;
}

TEST_CASE("Shipper: a batch refused as too large (413) is split and sent again, nothing lost",
          "[shipper]") {
  testing::TempDir dir;
  // A proxy in front of the collector that takes at most 3 results a report.
  ScriptedPeer peer([](const ScriptedPeer::Request& r) -> ScriptedPeer::Reply {
    if (r.results > 3) return {"413 Payload Too Large", "{\"error\": \"body too large\"}"};
    return {"200 OK", "{\"status\": \"stored\"}"};
  });
  ShipperOptions options = quick_options(peer.url());
  options.batch_max = 10;
  options.send_interval = 1h;  // a full batch goes at once
  auto shipper = Shipper::create({"a", "s", "h", "v"}, options, spool_in(dir));
  REQUIRE(shipper.is_ok());
  for (int i = 0; i < 10; ++i) (*shipper)->submit(result(i));
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 10s));
  const auto requests = peer.requests();
  std::map<std::string, int> expected;
  for (int i = 0; i < 10; ++i) expected["check-" + std::to_string(i)] = 1;
  CHECK(acknowledged(requests) == expected);  // each once
  CHECK((*shipper)->stats().quarantined == 0);
  // A refused seq is never sent again with other results.
  std::map<std::uint64_t, std::vector<std::string>> by_seq;
  for (const auto& r : requests) {
    const auto [it, first] = by_seq.emplace(r.seq, r.names);
    CHECK((first || it->second == r.names));
  }
  CHECK(requests.size() <= 10);  // halving: 10, 5, 2, 3... not one by one
  CHECK((*shipper)->stop(0ms) == 0);
}

TEST_CASE("Shipper: a 400 naming one result sets that result apart, and the others are sent",
          "[shipper]") {
  testing::TempDir dir;
  // check-2 can never be accepted: the reply names its index in each report.
  ScriptedPeer peer([](const ScriptedPeer::Request& r) -> ScriptedPeer::Reply {
    const auto bad = std::find(r.names.begin(), r.names.end(), "check-2");
    if (bad == r.names.end()) return {"200 OK", "{\"status\": \"stored\"}"};
    const std::string field =
        "results[" + std::to_string(bad - r.names.begin()) + "].metrics[0].unit";
    return {"400 Bad Request",
            "{\"error\": \"" + field + ": unknown unit\", \"field\": \"" + field + "\"}"};
  });
  auto shipper = Shipper::create({"a", "s", "h", "v"}, quick_options(peer.url()), spool_in(dir));
  REQUIRE(shipper.is_ok());
  for (int i = 0; i < 5; ++i) (*shipper)->submit(result(i));
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 10s));
  const auto requests = peer.requests();
  CHECK(acknowledged(requests) ==
        std::map<std::string, int>{{"check-0", 1}, {"check-1", 1}, {"check-3", 1}, {"check-4", 1}});
  CHECK((*shipper)->stats().quarantined == 1);
  CHECK((*shipper)->stop(0ms) == 0);
}

TEST_CASE("Shipper: an event refused for good is dropped alone, the results around it are sent",
          "[shipper]") {
  testing::TempDir dir;
  // Any report holding the event is refused, naming the event (no result is to blame).
  ScriptedPeer peer([](const ScriptedPeer::Request& r) -> ScriptedPeer::Reply {
    if (r.events == 0) return {"200 OK", "{\"status\": \"stored\"}"};
    return {"400 Bad Request",
            "{\"error\": \"events[0].varbinds: too many\", \"field\": \"events[0].varbinds\"}"};
  });
  auto shipper = Shipper::create({"a", "s", "h", "v"}, quick_options(peer.url()), spool_in(dir));
  REQUIRE(shipper.is_ok());
  (*shipper)->submit(result(0));
  protocol::Event trap;
  trap.ts_ms = wall_ms();
  trap.device = "fw";
  trap.source = "192.0.2.1:1024";
  trap.version = "2c";
  trap.trap_oid = "1.3.6.1.6.3.1.1.5.3";
  trap.summary = "linkDown from fw";
  (*shipper)->submit(trap);
  (*shipper)->submit(result(1));
  // Kept whole and retried, the report would block the spool for ever.
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 10s));
  CHECK(acknowledged(peer.requests()) ==
        std::map<std::string, int>{{"check-0", 1}, {"check-1", 1}});
  CHECK((*shipper)->stop(0ms) == 0);
}

TEST_CASE("Shipper: one result refused as too large whatever its company is set apart alone",
          "[shipper]") {
  testing::TempDir dir;
  ScriptedPeer peer([](const ScriptedPeer::Request& r) -> ScriptedPeer::Reply {
    const bool fat = std::find(r.names.begin(), r.names.end(), "check-5") != r.names.end();
    if (fat) return {"413 Payload Too Large", "{\"error\": \"body too large\"}"};
    return {"200 OK", "{\"status\": \"stored\"}"};
  });
  auto shipper = Shipper::create({"a", "s", "h", "v"}, quick_options(peer.url()), spool_in(dir));
  REQUIRE(shipper.is_ok());
  for (int i = 0; i < 8; ++i) (*shipper)->submit(result(i));
  REQUIRE(testing::eventually([&] { return (*shipper)->stats().depth == 0; }, 10s));
  std::map<std::string, int> expected;
  for (int i = 0; i < 8; ++i) {
    if (i != 5) expected["check-" + std::to_string(i)] = 1;
  }
  CHECK(acknowledged(peer.requests()) == expected);
  CHECK((*shipper)->stats().quarantined == 1);
  CHECK((*shipper)->stop(0ms) == 0);
}

TEST_CASE("Shipper: a refusal about the report itself, not a result, is retried, nothing dropped",
          "[shipper]") {
  testing::TempDir dir;
  ScriptedPeer peer([](const ScriptedPeer::Request&) -> ScriptedPeer::Reply {
    return {"400 Bad Request",
            "{\"error\": \"agent.id: may only contain letters\", \"field\": \"agent.id\"}"};
  });
  auto shipper = Shipper::create({"a", "s", "h", "v"}, quick_options(peer.url()), spool_in(dir));
  REQUIRE(shipper.is_ok());
  for (int i = 0; i < 3; ++i) (*shipper)->submit(result(i));
  REQUIRE(testing::eventually([&] { return peer.requests().size() >= 3; }, 10s));
  for (const auto& r : peer.requests()) CHECK(r.results == 3);  // the same batch, whole
  CHECK((*shipper)->stats().quarantined == 0);
  CHECK((*shipper)->stop(0ms) == 3);  // kept
}

}  // namespace
}  // namespace vigie::agent
