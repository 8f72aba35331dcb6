#include "console/fetcher.hpp"

#include <exception>
#include <utility>

#include "common/time.hpp"

namespace vigie::console {

Fetcher::Fetcher(Fetch fetch, std::chrono::milliseconds interval)
    : fetch_(std::move(fetch)),
      interval_(interval),
      snapshot_(std::make_shared<const Snapshot>()),
      thread_([this] { loop(); }) {}

Fetcher::~Fetcher() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<const Snapshot> Fetcher::snapshot() const {
  const std::lock_guard lock(mutex_);
  return snapshot_;
}

void Fetcher::refresh() {
  {
    const std::lock_guard lock(mutex_);
    refresh_ = true;
  }
  wake_.notify_all();
}

void Fetcher::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    refresh_ = false;
    const std::shared_ptr<const Snapshot> previous = snapshot_;
    lock.unlock();
    std::shared_ptr<const Snapshot> next;
    // The thread's entry: nothing may escape it, or the process would terminate.
    try {
      next = std::make_shared<const Snapshot>(next_snapshot(*previous, fetch_(), wall_ms()));
    } catch (const std::exception& e) {
      next = std::make_shared<const Snapshot>(
          next_snapshot(*previous, Status::internal(e.what()), wall_ms()));
    }
    lock.lock();
    snapshot_ = std::move(next);
    wake_.wait_for(lock, interval_, [this] { return stop_ || refresh_; });
  }
}

}  // namespace vigie::console
