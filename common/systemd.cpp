#include "common/systemd.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

// systemd's notify protocol, written here rather than linking libsystemd (which maps
// lz4, zstd, lzma, gcrypt and libcap into the agent for one datagram): systemd
// documents it as a stable interface meant to be reimplemented (sd_notify(3), "Notes").
// A datagram of newline-separated VAR=VALUE assignments sent to the AF_UNIX socket in
// $NOTIFY_SOCKET, a path, or an abstract name when it starts with '@'.

namespace vigie::systemd {

bool notify(std::string_view message) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || socket_name[0] == '\0') return false;
  const std::string_view name(socket_name);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // A path (absolute) or an abstract name; any other form (vsock:, from later
  // systemd versions) is not for us.
  if ((name[0] != '/' && name[0] != '@') || name.size() >= sizeof address.sun_path) return false;
  std::memcpy(address.sun_path, name.data(), name.size());
  if (name[0] == '@') address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                             (name[0] == '@' ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t sent = -1;
  do {
    sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  ::close(fd);
  return sent == static_cast<ssize_t>(message.size());
}

void notify_ready(std::string_view status) {
  std::string message = "READY=1";
  if (!status.empty()) message += "\nSTATUS=" + std::string(status);
  notify(message);
}

void notify_stopping() { notify("STOPPING=1"); }

void notify_status(std::string_view status) { notify("STATUS=" + std::string(status)); }

std::optional<std::chrono::milliseconds> watchdog_period() {
  const auto number = [](const char* text, unsigned long long* out) {
    if (text == nullptr || text[0] == '\0') return false;
    const char* end = text + std::strlen(text);
    const auto [stop, ec] = std::from_chars(text, end, *out);
    return ec == std::errc() && stop == end;
  };
  unsigned long long usec = 0;
  if (!number(std::getenv("WATCHDOG_USEC"), &usec) || usec == 0) return std::nullopt;
  // Set when the watchdog is meant for one process of several: only that one.
  if (const char* pid_text = std::getenv("WATCHDOG_PID"); pid_text != nullptr) {
    unsigned long long pid = 0;
    if (!number(pid_text, &pid) || pid != static_cast<unsigned long long>(::getpid())) {
      return std::nullopt;
    }
  }
  // Half the period systemd waits, as sd_watchdog_enabled(3) advises; at least 1 ms.
  return std::chrono::milliseconds(std::max<unsigned long long>(1, usec / 2000));
}

void notify_watchdog() { notify("WATCHDOG=1"); }

}  // namespace vigie::systemd
