#pragma once
// When a database writer runs its next slice of housekeeping (rollups, partitions,
// retention) between the groups of jobs it commits. The writer is one thread: while a
// slice runs, reports wait. With no work left, one slice per `every`. With a backlog,
// back to back while the queue is idle (no job for kIdle), and under load no sooner
// than kShare times the last slice's length after it ended (and than every / 4): a
// slow slice (a rollup over a freshly loaded day, 250 ms) then takes at most a quarter
// of the writer's time instead of running after every group, and the reports queued
// behind it are answered in time.

#include <algorithm>
#include <chrono>

namespace vigie::collector {

class HousekeepingPacer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kIdle{5};
  static constexpr int kShare = 3;

  explicit HousekeepingPacer(std::chrono::milliseconds every)
      : every_(every), last_end_(Clock::now()) {}

  // How long the writer waits for a job before it asks due() again; `more`: the last
  // slice left work.
  std::chrono::milliseconds wait(bool more) const { return more ? kIdle : every_; }

  // Whether a slice is due now; `idle`: no job came while the writer waited wait().
  bool due(bool more, bool idle, Clock::time_point now = Clock::now()) const {
    const Clock::duration since = now - last_end_;
    if (!more) return since >= every_;
    if (idle) return true;
    return since >= std::max<Clock::duration>(every_ / 4, kShare * last_length_);
  }

  // A slice ran from `start` to `end`.
  void ran(Clock::time_point start, Clock::time_point end) {
    last_length_ = end - start;
    last_end_ = end;
  }

 private:
  const std::chrono::milliseconds every_;
  Clock::time_point last_end_;
  Clock::duration last_length_{};
};

}  // namespace vigie::collector
