#pragma once
// Runs configured checks on time, on a bounded pool of worker threads, under their
// deadlines.
//
// One Boost.Asio io_context drives everything: a timer per check fires every
// `interval`, the first time after a random delay in [0, splay] (so that the checks of
// an agent do not all start together), later ones on the same grid (no drift). A due
// check goes to the worker pool; its timeout counts from the moment a worker starts
// it. If run() has not returned by then, the scheduler reports UNKNOWN "timed out
// after N s" and ignores the late result. A check whose previous run is still going
// is not started again (that interval is skipped). An exception from run() becomes
// UNKNOWN with its message.
//
// Limitation: a worker stuck in a run() that ignores its deadline stays stuck (a
// thread cannot be killed); the check is skipped until it returns, and the
// destructor waits for it. Built-in checks honour their deadline (external plugins
// are killed by the process runner).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "agent/config.hpp"
#include "common/check_result.hpp"

namespace boost::asio {
class io_context;
}

namespace vigie::agent {

// Receives every result (of a run, or of its timeout), on the io_context's thread.
using ResultSink = std::function<void(CheckResult)>;

struct SchedulerOptions {
  std::size_t workers = 4;  // threads running checks, >= 1
  std::uint64_t seed = 0;   // for the splay; 0: a random seed
};

class Scheduler {
 public:
  // `checks` and `io` must outlive the scheduler. Construct, start, stop and destroy
  // it on the thread that runs `io`, or while `io` is not running.
  Scheduler(boost::asio::io_context& io, std::span<ConfiguredCheck> checks, ResultSink sink,
            SchedulerOptions options = {});
  // Stops, drops the runs not started yet and waits for those in progress.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Arms every check's timer; results flow while `io` runs.
  void start();
  // Starts one run of every check now. When `io` runs out of work, every check has
  // given exactly one result (or its timeout).
  void run_all_once();
  // Runs every check that reads `device` (ConfiguredCheck::device) soon, besides its
  // schedule: `delay` from now, debounced so that a storm of calls starts few runs. A
  // check with such a run pending already is left alone; one is never run this way
  // less than `gap` after the previous such run started (it waits until then); a check
  // still running when its turn comes skips it. Returns how many runs this call
  // scheduled (0 when all were pending already). On the io_context's thread.
  std::size_t run_soon(std::string_view device, std::chrono::milliseconds delay,
                       std::chrono::milliseconds gap);

  // Swaps the checks for `checks` (a new configuration), which the scheduler owns from
  // now on: the old ones start no new run, and a run of theirs in progress still gives
  // its result (or its timeout); the new ones start after their splay, as at start().
  void replace(std::vector<ConfiguredCheck> checks);
  // Cancels the timers: no run starts any more, and results still to come are dropped.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs every check once, all at the same time, each under its timeout, and returns
// their results in the order of `checks`. Blocks.
std::vector<CheckResult> run_checks_once(std::span<ConfiguredCheck> checks);

// When a periodic check is due next, after the run that was due at `due`: one
// interval later, or, if the loop fell behind (a suspended machine), the first point
// of the same grid after `now`. Runs missed meanwhile are not caught up.
std::chrono::steady_clock::time_point next_due(std::chrono::steady_clock::time_point due,
                                               std::chrono::milliseconds interval,
                                               std::chrono::steady_clock::time_point now);

}  // namespace vigie::agent
