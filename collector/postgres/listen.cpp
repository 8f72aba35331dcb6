#include "collector/postgres/listen.hpp"

#include <poll.h>

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
  if (!stop_.ready()) {
    log::error("live changes: cannot make a pipe; other collectors' changes are not followed");
    return;
  }
  thread_ = std::thread([this] { run(); });
}

Listener::~Listener() {
  stop_.stop();
  if (thread_.joinable()) thread_.join();
}

void Listener::run() {
  // Waits up to `ms` or until stopped; false when stopping.
  auto pause = [this](std::chrono::milliseconds ms) {
    (void)stop_.wait(ms);
    return !stop_.stopping();
  };
  auto delay = kFirstRetry;
  bool lost = false;  // the connection was up before and dropped
  while (!stop_.stopping()) {
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
      short events = 0;
      if (stop_.wait(std::chrono::milliseconds(-1), conn->socket(), &events) < 0 && errno != EINTR)
        break;
      if (stop_.stopping()) return;
      if (!(events & (POLLIN | POLLERR | POLLHUP))) continue;
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
