#pragma once
// The console's fetcher: a thread that asks the collector for the check list every
// refresh interval (or at once when asked) and publishes each answer as a new
// immutable Snapshot, so that the UI thread never waits for the network.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.hpp"
#include "console/model.hpp"

namespace vigie::console {

class Fetcher {
 public:
  // Returns the body of a GET /api/v1/checks, or why there is none. Called on the
  // fetcher thread only.
  using Fetch = std::function<Result<std::string>()>;

  // Starts the thread, which fetches at once, then `interval` after each fetch ends.
  Fetcher(Fetch fetch, std::chrono::milliseconds interval);
  // Stops the thread. Waits for a fetch in progress: cancel it first (ApiClient::cancel)
  // for a prompt exit.
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // The latest snapshot; never null (empty until the first fetch ends). A new pointer
  // means a new snapshot. Any thread.
  std::shared_ptr<const Snapshot> snapshot() const;

  // Fetches now rather than at the end of the interval; a request made during a fetch
  // starts another one right after it. Any thread.
  void refresh();

 private:
  void loop();

  const Fetch fetch_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by mutex_
  bool refresh_ = false;                      // guarded by mutex_
  bool stop_ = false;                         // guarded by mutex_
  std::thread thread_;                        // last: starts once the rest is ready
};

}  // namespace vigie::console
