// The collector speaks systemd's notify protocol (Type=notify, WatchdogSec=): the test
// plays systemd's part with a datagram socket of its own in $NOTIFY_SOCKET, as the
// service manager does, and reads what the collector sends.

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/child.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using namespace std::chrono_literals;

class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof addr.sun_path);
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() { ::close(fd_); }

  // The messages received until one contains `wanted`, or until `limit`.
  std::vector<std::string> until(const std::string& wanted, std::chrono::milliseconds limit) {
    std::vector<std::string> got;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      got.emplace_back(buffer, static_cast<std::size_t>(n));
      if (got.back().find(wanted) != std::string::npos) break;
    }
    return got;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

bool any_has(const std::vector<std::string>& messages, const std::string& text) {
  for (const auto& m : messages) {
    if (m.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("Collector: tells systemd it is ready, keeps its watchdog fed, says when it stops",
          "[systemd]") {
  testing::TempDir dir;
  NotifySocket systemd(dir / "notify.sock");
  testing::Child collector(
      {"/usr/bin/env", "NOTIFY_SOCKET=" + (dir / "notify.sock").string(), "WATCHDOG_USEC=1000000",
       VIGIE_COLLECTOR_BIN, "serve", "--listen", "127.0.0.1:0", "--db", (dir / "c.db").string()},
      dir / "collector.log");
  const auto ready = systemd.until("READY=1", 10s);
  INFO(collector.log());
  REQUIRE(any_has(ready, "READY=1"));
  CHECK(any_has(ready, "STATUS=listening on port"));
  // WATCHDOG_USEC=1 s: a keep-alive every half second, each after a commit.
  const auto alive = systemd.until("WATCHDOG=1", 3s);
  CHECK(any_has(alive, "WATCHDOG=1"));
  const auto again = systemd.until("WATCHDOG=1", 3s);
  CHECK(any_has(again, "WATCHDOG=1"));

  ::kill(collector.pid(), SIGTERM);
  const auto stopping = systemd.until("STOPPING=1", 5s);
  CHECK(any_has(stopping, "STOPPING=1"));
  auto status = collector.stop(SIGTERM);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("Agent: tells systemd it is ready and keeps its watchdog fed from its loop",
          "[systemd]") {
  testing::TempDir dir;
  NotifySocket systemd(dir / "notify.sock");
  // A collector that is never there: the agent runs and spools all the same.
  const auto config = dir.write("agent.json", R"({
    "agent": { "id": "notify-agent", "site": "notify-site" },
    "collector": { "url": "http://127.0.0.1:9" },
    "checks": [ { "name": "load", "type": "system/load", "interval": "10s" } ]
  })");
  testing::Child agent(
      {"/usr/bin/env", "NOTIFY_SOCKET=" + (dir / "notify.sock").string(), "WATCHDOG_USEC=1000000",
       VIGIE_AGENT_BIN, "run", "--config", config.string(), "--state-dir", dir.path().string()},
      dir / "agent.log");
  const auto ready = systemd.until("READY=1", 10s);
  INFO(agent.log());
  REQUIRE(any_has(ready, "READY=1"));
  CHECK(any_has(systemd.until("WATCHDOG=1", 3s), "WATCHDOG=1"));
  CHECK(any_has(systemd.until("WATCHDOG=1", 3s), "WATCHDOG=1"));
  ::kill(agent.pid(), SIGTERM);
  CHECK(any_has(systemd.until("STOPPING=1", 5s), "STOPPING=1"));
  // The agent spends up to its 5 s flush deadline retrying the absent collector: wait
  // longer than that, as systemd does (TimeoutStopSec=15s).
  auto status = agent.stop(SIGTERM, 15s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
}

}  // namespace
}  // namespace vigie
