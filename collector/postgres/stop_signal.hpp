#pragma once
// A stop flag that a thread waiting in poll() hears at once: stop() sets it and writes
// a byte to a pipe whose read end is among what wait() polls. The background
// connections' threads (listen.hpp, lease.hpp) wait on it instead of sleeping; wake()
// ends a wait without stopping (the lease's, asked to give the lead up).

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

namespace vigie::collector::pg {

class StopSignal {
 public:
  StopSignal() {
    if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) pipe_[0] = pipe_[1] = -1;
  }
  ~StopSignal() {
    for (int fd : pipe_) {
      if (fd >= 0) ::close(fd);
    }
  }
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // False when the pipe could not be made: a thread must not rely on it then.
  bool ready() const { return pipe_[0] >= 0; }
  void stop() {
    stopping_ = true;
    if (pipe_[1] >= 0) {
      const char byte = 0;
      (void)!::write(pipe_[1], &byte, 1);
    }
  }
  bool stopping() const { return stopping_; }
  // Ends the current or next wait() early, without stopping; the waiter calls
  // clear() before it waits again.
  void wake() {
    if (pipe_[1] >= 0) {
      const char byte = 1;
      (void)!::write(pipe_[1], &byte, 1);
    }
  }
  // Drops what wake() wrote, so that wait() waits again; not once stopping (its byte
  // must keep every later wait short).
  void clear() {
    char bytes[16];
    while (!stopping_ && pipe_[0] >= 0 && ::read(pipe_[0], bytes, sizeof bytes) > 0) {
    }
  }

  // Waits up to `timeout` (negative: for ever) for stop(), or for `socket` (when >= 0)
  // to be readable, its poll events then in *events. Returns poll()'s result.
  int wait(std::chrono::milliseconds timeout, int socket = -1, short* events = nullptr) const {
    pollfd fds[2] = {{pipe_[0], POLLIN, 0}, {socket, POLLIN, 0}};
    const int n = ::poll(fds, socket >= 0 ? 2 : 1,
                         timeout.count() < 0 ? -1 : static_cast<int>(timeout.count()));
    if (events) *events = socket >= 0 ? fds[1].revents : 0;
    return n;
  }

 private:
  int pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
};

}  // namespace vigie::collector::pg
