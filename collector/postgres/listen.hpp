#pragma once
// Live changes across collectors sharing one database. A writer that commits events,
// acknowledgements or downtimes also sends a notification on kChannel in the same
// transaction (pg_notify: delivered on commit, never for a rollback), naming the
// collector that made it. Each collector keeps one Listener: a connection of its own
// that LISTENs on the channel, read by a thread that waits on the connection's socket
// (poll; no busy loop) and calls `changed` for every notification of another
// collector. When the connection drops it is made again with a growing delay (0.1 s
// up to 5 s), and `changed` is called once it is back: what was committed meanwhile is
// then read again from the database, so nothing is missed.

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "collector/postgres/stop_signal.hpp"

namespace vigie::collector::pg {

inline constexpr const char* kChannel = "vigie_changes";

class Listener {
 public:
  // `self`: this collector's name in the notifications (its own are ignored).
  Listener(std::string conninfo, std::string self, std::function<void()> changed);
  ~Listener();  // stops the thread
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void run();

  const std::string conninfo_;
  const std::string self_;
  const std::function<void()> changed_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace vigie::collector::pg
