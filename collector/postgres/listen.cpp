#include "collector/postgres/listen.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>

#include "collector/postgres/pq.hpp"
#include "common/log.hpp"

namespace vigie::collector::pg {
namespace {
constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kLastRetry{5000};
}  // namespace

Listener::Listener(std::string conninfo, std::string self, std::function<void()> changed)
    : conninfo_(std::move(conninfo)), self_(std::move(self)), changed_(std::move(changed)) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    log::error("live changes: cannot make a pipe; other collectors' changes are not followed");
    return;
  }
  thread_ = std::thread([this] { run(); });
}

Listener::~Listener() {
  stopping_ = true;
  if (wake_[1] >= 0) {
    const char byte = 0;
    (void)!::write(wake_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

void Listener::run() {
  // Waits up to `ms` or until stopped; false when stopping.
  auto pause = [this](std::chrono::milliseconds ms) {
    pollfd fd{wake_[0], POLLIN, 0};
    (void)::poll(&fd, 1, static_cast<int>(ms.count()));
    return !stopping_;
  };
  auto delay = kFirstRetry;
  bool lost = false;  // the connection was up before and dropped
  while (!stopping_) {
    auto made = pq::Conn::connect(conninfo_);
    Status s = made ? (*made)->exec("SET application_name = 'vigie-listen'; LISTEN " +
                                    std::string(kChannel))
                    : made.status();
    if (!s) {
      if (!lost) log::warning("live changes: " + s.message() + "; trying again");
      lost = true;
      if (!pause(delay)) return;
      delay = std::min(delay * 2, kLastRetry);
      continue;
    }
    std::unique_ptr<pq::Conn> conn = std::move(*made);
    delay = kFirstRetry;
    if (lost) {
      log::notice("live changes: listening again");
      changed_();  // what others committed meanwhile is read again
      lost = false;
    }
    for (;;) {
      pollfd fds[2] = {{conn->socket(), POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
      if (stopping_) return;
      if (!(fds[0].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      const bool up = conn->consume_input() && conn->ok();
      bool others = false;
      for (const auto& payload : conn->notifications()) others = others || payload != self_;
      if (others) changed_();
      if (!up) break;
    }
    log::warning("live changes: the LISTEN connection was lost; making it again");
    lost = true;
    if (!pause(kFirstRetry)) return;
  }
}

}  // namespace vigie::collector::pg
