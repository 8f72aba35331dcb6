#include "agent/scheduler.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/log.hpp"
#include "common/protocol.hpp"
#include "common/protocol_rules.hpp"
#include "common/time.hpp"

namespace vigie::agent {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxOnceWorkers = 32;

// "1 s", "2.5 s", "0.25 s".
std::string seconds_text(milliseconds d) {
  std::string text = std::to_string(d.count() / 1000);
  if (const auto ms = d.count() % 1000; ms != 0) {
    std::string fraction = std::to_string(1000 + ms).substr(1);
    while (fraction.back() == '0') fraction.pop_back();
    text += "." + fraction;
  }
  return text + " s";
}

std::int64_t interval_seconds(milliseconds interval) {
  return std::max<std::int64_t>(1, (interval.count() + 999) / 1000);
}

std::vector<plugins::Outcome> guarded_run(plugins::Check& check,
                                          const plugins::RunContext& context) {
  try {
    return check.run_all(context);
  } catch (const std::exception& e) {  // a check invocation is a boundary
    return {{State::kUnknown, std::string("check failed: ") + e.what()}};
  } catch (...) {
    return {{State::kUnknown, "check failed: unknown exception"}};
  }
}

// `text` in quotes for a message: control characters as '?', at most 80 bytes.
std::string printable(std::string_view text) {
  std::string out = "\"";
  for (const unsigned char c : text.substr(0, 80)) out += (c < 0x20 || c == 0x7f) ? '?' : char(c);
  return out + (text.size() > 80 ? "...\"" : "\"");
}

// The check id of one target of a many-target check: the target is the instance
// ("net/http" + "https://a.example/" -> "net/http:https://a.example/"), after the
// check's own instance when it has one ("net/http:shop" -> "net/http:shop/https://...").
std::string target_check_id(const std::string& id, const std::string& target) {
  return id + (id.find(':') == std::string::npos ? ":" : "/") + target;
}

// A check's outcomes as results: ids and sites checked (a check's bug must not become
// a report the collector refuses whole), one result per target, at most
// Check::kMaxOutcomes. What cannot be sent is said in one UNKNOWN of the check itself.
std::vector<CheckResult> to_results(const ConfiguredCheck& check,
                                    std::vector<plugins::Outcome> outcomes) {
  std::vector<CheckResult> results;
  std::vector<std::string> refused;
  std::map<std::string, bool, std::less<>> seen;
  if (outcomes.empty()) outcomes.push_back({State::kUnknown, "the check gave no result"});
  for (plugins::Outcome& outcome : outcomes) {
    CheckResult result;
    result.name = check.name;
    result.check = outcome.target.empty() ? check.id : target_check_id(check.id, outcome.target);
    if (Status s = protocol::rules::is_check_id(result.check);
        !s || result.check.size() > protocol::Limits{}.max_string) {
      refused.push_back("target " + printable(outcome.target) + ": not usable in a check id");
      continue;
    }
    if (!outcome.site.empty() && (!protocol::rules::is_identifier(outcome.site) ||
                                  outcome.site.size() > protocol::Limits{}.max_string)) {
      refused.push_back("target " + printable(outcome.target) + ": site " +
                        printable(outcome.site) + " is not a site name");
      continue;
    }
    if (!seen.emplace(result.check, true).second) {
      refused.push_back("target " + printable(outcome.target) + ": given twice");
      continue;
    }
    if (results.size() >= plugins::Check::kMaxOutcomes) {
      refused.push_back(std::to_string(outcomes.size() - plugins::Check::kMaxOutcomes) +
                        " outcomes past the limit of " +
                        std::to_string(plugins::Check::kMaxOutcomes));
      break;
    }
    result.status = outcome.status;
    result.summary = std::move(outcome.summary);
    result.details = std::move(outcome.details);
    result.metrics = std::move(outcome.metrics);
    result.site = std::move(outcome.site);
    results.push_back(std::move(result));
  }
  if (!refused.empty()) {
    CheckResult own;
    own.name = check.name;
    own.check = check.id;
    own.status = State::kUnknown;
    own.summary =
        std::to_string(refused.size()) + " result(s) of the check not sent: " + refused.front();
    for (const std::string& why : refused) own.details += why + "\n";
    const auto it = std::find_if(results.begin(), results.end(),
                                 [&](const CheckResult& r) { return r.check == check.id; });
    if (it != results.end()) {
      it->status = worst(it->status, State::kUnknown);
      it->summary = own.summary + "; " + it->summary;
      it->details = own.details + it->details;
    } else {
      results.insert(results.begin(), std::move(own));
    }
  }
  return results;
}

// One check's timers and the state of its latest run. Touched only on the io thread.
struct Entry {
  Entry(asio::io_context& io, std::shared_ptr<ConfiguredCheck> configured)
      : owned(std::move(configured)), check(*owned), timer(io), deadline(io), soon(io) {}

  // The check; a run in progress holds it too, so that it outlives a replace().
  std::shared_ptr<ConfiguredCheck> owned;
  ConfiguredCheck& check;
  asio::steady_timer timer;     // the next periodic run
  asio::steady_timer deadline;  // the timeout of the run in progress
  Clock::time_point due;        // when the next periodic run is due
  std::uint64_t run = 0;        // number of the latest run
  bool running = false;         // a worker is inside check.run()
  bool reported = false;        // the latest run's result, or its timeout, went out
  bool retired = false;         // replaced: no new run; the one in progress still reports
  std::int64_t started_ms = 0;  // wall clock when the latest run started
  asio::steady_timer soon;      // a run asked by run_soon()
  bool soon_pending = false;
  std::optional<Clock::time_point> soon_started;  // the latest such run
};

}  // namespace

// Handlers hold a weak_ptr to their Entry: the entries die with the scheduler, so a
// handler that still finds its entry may use `this`; one that runs after the
// scheduler is gone (a timer's cancellation, a late result) does nothing.
struct Scheduler::Impl {
  Impl(asio::io_context& context, std::span<ConfiguredCheck> checks, ResultSink result_sink,
       SchedulerOptions options)
      : io(context),
        sink(std::move(result_sink)),
        pool(std::max<std::size_t>(1, options.workers)),
        random(options.seed != 0 ? options.seed : std::random_device{}()) {
    entries.reserve(checks.size());
    for (ConfiguredCheck& check : checks) {
      // The caller owns these: an aliasing pointer that deletes nothing.
      entries.push_back(std::make_shared<Entry>(
          io, std::shared_ptr<ConfiguredCheck>(std::shared_ptr<void>(), &check)));
    }
  }

  ~Impl() {
    stop();
    pool.stop();  // runs not started yet are dropped
    pool.join();
  }

  void stop() {
    stopped = true;
    for (const auto& list : {&entries, &retiring}) {
      for (const auto& entry : *list) {
        entry->timer.cancel();
        entry->deadline.cancel();
        entry->soon.cancel();
      }
    }
  }

  // A retired entry whose run has reported is dropped.
  void forget_if_done(Entry& entry) {
    if (!entry.retired || entry.running) return;
    std::erase_if(retiring, [&](const auto& e) { return e.get() == &entry; });
  }

  std::size_t run_soon(std::string_view device, milliseconds delay, milliseconds gap) {
    std::size_t scheduled = 0;
    if (stopped || device.empty()) return 0;
    const Clock::time_point now = Clock::now();
    for (const auto& entry : entries) {
      if (entry->check.device != device || entry->soon_pending) continue;
      Clock::time_point at = now + delay;
      if (entry->soon_started) at = std::max(at, *entry->soon_started + gap);
      entry->soon_pending = true;
      ++scheduled;
      entry->soon.expires_at(at);
      entry->soon.async_wait(
          [this, weak = std::weak_ptr(entry)](const boost::system::error_code& ec) {
            const auto e = weak.lock();
            if (!e) return;
            e->soon_pending = false;
            if (ec || stopped || e->retired) return;
            e->soon_started = Clock::now();
            if (e->running) {
              log::debug("check " + e->check.name + ": already running when its device asked " +
                         "for a run");
              return;
            }
            dispatch(e);
          });
    }
    return scheduled;
  }

  void arm(const std::shared_ptr<Entry>& entry) {
    entry->timer.expires_at(entry->due);
    entry->timer.async_wait(
        [this, weak = std::weak_ptr(entry)](const boost::system::error_code& ec) {
          const auto e = weak.lock();
          if (ec || !e || stopped || e->retired) return;
          if (e->running) {
            log::debug("check " + e->check.name + ": the previous run is still in progress; " +
                       "skipping this one");
          } else {
            dispatch(e);
          }
          e->due = next_due(e->due, e->check.interval, Clock::now());
          arm(e);
        });
  }

  void dispatch(const std::shared_ptr<Entry>& entry) {
    entry->running = true;
    entry->reported = false;
    const std::uint64_t run = ++entry->run;
    std::shared_ptr<ConfiguredCheck> keep = entry->owned;
    plugins::Check* check = entry->check.check.get();
    const milliseconds timeout = entry->check.timeout;
    // The work guard keeps io.run() from returning while the run waits for a worker;
    // once the run has started, its deadline timer is the io_context's work.
    asio::post(pool, [this, weak = std::weak_ptr(entry), run, check, timeout,
                      keep = std::move(keep), guard = asio::make_work_guard(io)]() mutable {
      const Clock::time_point start = Clock::now();
      const Clock::time_point deadline = start + timeout;
      const std::int64_t started_ms = wall_ms();
      asio::post(io, [this, weak, run, deadline, started_ms, guard = std::move(guard)] {
        if (const auto e = weak.lock()) on_started(e, run, deadline, started_ms);
      });
      std::vector<plugins::Outcome> outcomes = guarded_run(*check, {deadline});
      const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
      asio::post(io,
                 [this, weak, run, outcomes = std::move(outcomes), started_ms, elapsed]() mutable {
                   if (const auto e = weak.lock())
                     on_finished(*e, run, std::move(outcomes), started_ms, elapsed);
                 });
    });
  }

  void on_started(const std::shared_ptr<Entry>& entry, std::uint64_t run,
                  Clock::time_point deadline, std::int64_t started_ms) {
    if (run != entry->run || entry->reported || stopped) return;
    entry->started_ms = started_ms;
    entry->deadline.expires_at(deadline);
    entry->deadline.async_wait(
        [this, weak = std::weak_ptr(entry), run](const boost::system::error_code& ec) {
          if (ec) return;
          if (const auto e = weak.lock()) on_timeout(*e, run);
        });
  }

  void on_finished(Entry& entry, std::uint64_t run, std::vector<plugins::Outcome> outcomes,
                   std::int64_t started_ms, milliseconds elapsed) {
    entry.running = false;
    if (run != entry.run || entry.reported) {
      log::debug("check " + entry.check.name + ": the result of a run that timed out came " +
                 seconds_text(elapsed) + " after its start; ignored");
      forget_if_done(entry);
      return;
    }
    entry.reported = true;
    entry.deadline.cancel();
    if (!stopped) emit(entry, std::move(outcomes), started_ms, elapsed);
    forget_if_done(entry);  // last: may destroy `entry`
  }

  void on_timeout(Entry& entry, std::uint64_t run) {
    if (run != entry.run || entry.reported || stopped) return;
    entry.reported = true;
    const std::string summary = "timed out after " + seconds_text(entry.check.timeout);
    log::warning("check " + entry.check.name + ": " + summary);
    emit(entry, {{State::kUnknown, summary}}, entry.started_ms, entry.check.timeout);
  }

  void emit(const Entry& entry, std::vector<plugins::Outcome> outcomes, std::int64_t started_ms,
            milliseconds duration) {
    for (CheckResult& result : to_results(entry.check, std::move(outcomes))) {
      result.ts_ms = started_ms;
      result.duration_ms = duration.count();
      result.interval_s = interval_seconds(entry.check.interval);
      sink(std::move(result));
    }
  }

  asio::io_context& io;
  ResultSink sink;
  asio::thread_pool pool;
  std::mt19937_64 random;
  std::vector<std::shared_ptr<Entry>> entries;
  std::vector<std::shared_ptr<Entry>> retiring;  // replaced, their run still in progress
  bool stopped = false;
  bool started = false;
};

Scheduler::Scheduler(asio::io_context& io, std::span<ConfiguredCheck> checks, ResultSink sink,
                     SchedulerOptions options)
    : impl_(std::make_unique<Impl>(io, checks, std::move(sink), options)) {}

Scheduler::~Scheduler() = default;

void Scheduler::start() {
  impl_->started = true;
  const Clock::time_point now = Clock::now();
  for (const auto& entry : impl_->entries) {
    std::uniform_int_distribution<milliseconds::rep> splay(0, entry->check.splay.count());
    entry->due = now + milliseconds(splay(impl_->random));
    impl_->arm(entry);
  }
}

void Scheduler::run_all_once() {
  for (const auto& entry : impl_->entries) {
    if (!entry->running) impl_->dispatch(entry);
  }
}

std::size_t Scheduler::run_soon(std::string_view device, milliseconds delay, milliseconds gap) {
  return impl_->run_soon(device, delay, gap);
}

void Scheduler::replace(std::vector<ConfiguredCheck> checks) {
  Impl& s = *impl_;
  for (const auto& entry : s.entries) {
    entry->retired = true;
    entry->timer.cancel();
    entry->soon.cancel();
    if (entry->running) s.retiring.push_back(entry);  // its result still goes out
  }
  s.entries.clear();
  const Clock::time_point now = Clock::now();
  for (ConfiguredCheck& check : checks) {
    auto entry = std::make_shared<Entry>(s.io, std::make_shared<ConfiguredCheck>(std::move(check)));
    s.entries.push_back(entry);
    if (s.stopped || !s.started) continue;
    std::uniform_int_distribution<milliseconds::rep> splay(0, entry->check.splay.count());
    entry->due = now + milliseconds(splay(s.random));
    s.arm(entry);
  }
}

void Scheduler::stop() { impl_->stop(); }

std::vector<CheckResult> run_checks_once(std::span<ConfiguredCheck> checks) {
  std::vector<CheckResult> results;
  asio::io_context io;
  {
    SchedulerOptions options;
    options.workers = std::clamp<std::size_t>(checks.size(), 1, kMaxOnceWorkers);
    Scheduler scheduler(
        io, checks, [&](CheckResult r) { results.push_back(std::move(r)); }, options);
    scheduler.run_all_once();
    io.run();
  }
  std::map<std::string, std::size_t, std::less<>> position;
  for (std::size_t i = 0; i < checks.size(); ++i) position.emplace(checks[i].name, i);
  std::stable_sort(results.begin(), results.end(), [&](const auto& a, const auto& b) {
    return position[a.name] < position[b.name];
  });
  return results;
}

Clock::time_point next_due(Clock::time_point due, milliseconds interval, Clock::time_point now) {
  interval = std::max(interval, milliseconds(1));
  Clock::time_point next = due + interval;
  if (next < now) next += interval * ((now - next) / interval + 1);
  return next;
}

}  // namespace vigie::agent
