// systemd's notify protocol against a real datagram socket the test binds, as the
// service manager does: by path and by abstract name.

#include "common/systemd.hpp"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using namespace std::chrono_literals;

// A datagram socket bound to `name`: a path, or an abstract name when it starts with '@'.
class Listener {
 public:
  explicit Listener(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(name.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, name.data(), name.size());
    socklen_t length = offsetof(sockaddr_un, sun_path) + name.size() + 1;
    if (name[0] == '@') {
      address.sun_path[0] = '\0';
      length -= 1;
    }
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0);
  }
  ~Listener() { ::close(fd_); }

  // The next datagram, waiting at most 2 s.
  std::optional<std::string> next() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
};

TEST_CASE("systemd::notify: datagrams reach $NOTIFY_SOCKET, a path or an abstract name",
          "[systemd]") {
  testing::TempDir dir;
  const std::string path = (dir / "notify.sock").string();
  const std::string abstract = "@vigie-test-notify-" + std::to_string(::getpid());
  for (const std::string& name : {path, abstract}) {
    INFO(name);
    Listener systemd(name);
    REQUIRE(::setenv("NOTIFY_SOCKET", name.c_str(), 1) == 0);
    systemd::notify_ready("3 checks");
    CHECK(systemd.next() == "READY=1\nSTATUS=3 checks");
    systemd::notify_ready();
    CHECK(systemd.next() == "READY=1");
    systemd::notify_watchdog();
    CHECK(systemd.next() == "WATCHDOG=1");
    systemd::notify_status("draining");
    CHECK(systemd.next() == "STATUS=draining");
    systemd::notify_stopping();
    CHECK(systemd.next() == "STOPPING=1");
    // The variable stays: later notifications go to the same socket.
    CHECK(std::getenv("NOTIFY_SOCKET") != nullptr);
  }
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("systemd::notify: nothing is sent without a usable $NOTIFY_SOCKET", "[systemd]") {
  testing::TempDir dir;
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(systemd::notify("READY=1"));
  ::setenv("NOTIFY_SOCKET", "", 1);
  CHECK_FALSE(systemd::notify("READY=1"));
  ::setenv("NOTIFY_SOCKET", "relative/notify.sock", 1);
  CHECK_FALSE(systemd::notify("READY=1"));
  ::setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
  CHECK_FALSE(systemd::notify("READY=1"));
  ::setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
  CHECK_FALSE(systemd::notify("READY=1"));
  // Nobody listening there.
  ::setenv("NOTIFY_SOCKET", (dir / "absent.sock").c_str(), 1);
  CHECK_FALSE(systemd::notify("READY=1"));
  systemd::notify_ready();  // and no crash
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("systemd::watchdog_period: half of WATCHDOG_USEC, for this process only", "[systemd]") {
  ::unsetenv("WATCHDOG_PID");
  ::unsetenv("WATCHDOG_USEC");
  CHECK_FALSE(systemd::watchdog_period().has_value());
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  CHECK(systemd::watchdog_period() == 15000ms);
  ::setenv("WATCHDOG_USEC", "1000", 1);
  CHECK(systemd::watchdog_period() == 1ms);  // never 0
  for (const char* bad : {"0", "", "-5", "12s", " 1000", "99999999999999999999999"}) {
    INFO(bad);
    ::setenv("WATCHDOG_USEC", bad, 1);
    CHECK_FALSE(systemd::watchdog_period().has_value());
  }
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  CHECK(systemd::watchdog_period() == 1000ms);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  CHECK_FALSE(systemd::watchdog_period().has_value());  // meant for another process
  ::setenv("WATCHDOG_PID", "not-a-pid", 1);
  CHECK_FALSE(systemd::watchdog_period().has_value());
  ::unsetenv("WATCHDOG_PID");
  ::unsetenv("WATCHDOG_USEC");
}

}  // namespace
}  // namespace vigie
