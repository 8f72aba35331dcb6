#include "collector/monitor.hpp"

#include <algorithm>
#include <future>

#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {
// Check rows written by one checkpoint job.
constexpr std::size_t kCheckpointSlice = 250;
}  // namespace

Result<std::unique_ptr<Monitor>> Monitor::open(Storage& storage, MonitorOptions options) {
  if (!options.now_ms) options.now_ms = wall_ms;
  auto snapshot = storage.load_state(options.now_ms());
  if (!snapshot) return snapshot.status().with_context("load the stored state");
  std::unique_ptr<Monitor> monitor(new Monitor(storage, std::move(options)));
  monitor->published_ = snapshot->last_event_id;
  monitor->engine_.restore(std::move(*snapshot), monitor->options_.now_ms());
  if (monitor->options_.run_thread) {
    monitor->thread_ = std::thread([m = monitor.get()] { m->run(); });
    storage.watch([m = monitor.get()](const Storage::OthersChanged& changed) {
      std::lock_guard lock(m->mu_);
      m->others_changed_ = true;
      m->others_all_ = m->others_all_ || changed.all;
      if (!m->others_all_) m->others_agents_.insert(changed.agents.begin(), changed.agents.end());
      m->cv_.notify_all();
    });
    // Taking the lead, it reads again what the collector that led before committed.
    storage.lead([m = monitor.get()](bool leading) {
      std::lock_guard lock(m->mu_);
      if (leading) m->others_changed_ = m->others_all_ = true;
      m->cv_.notify_all();
    });
  }
  return monitor;
}

Monitor::Monitor(Storage& storage, MonitorOptions options)
    : storage_(storage), options_(std::move(options)), engine_(options_.engine) {}

Monitor::~Monitor() { stop(); }

void Monitor::stop() {
  storage_.watch({});
  storage_.lead({});
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (Status s = checkpoint(); !s)
    log::error("state checkpoint at shutdown failed: " + s.message());
  serve_waiters(true);
}

void Monitor::end_polls() {
  {
    std::lock_guard lock(mu_);
    polls_ended_ = true;
  }
  serve_waiters(true);
}

void Monitor::ingest(protocol::Report report, std::int64_t received_ms, Storage::Done done) {
  const auto results = static_cast<std::int64_t>(report.results.size());
  std::int64_t samples = 0;
  for (const auto& r : report.results) {
    for (const auto& m : r.metrics) samples += m.value ? 1 : 0;
  }
  auto changed = std::make_shared<bool>(false);
  storage_.submit(
      std::move(report), received_ms,
      [this, changed](protocol::Report&& stored, std::int64_t at,
                      const Storage::StoredAgent& stored_agent) -> Result<StateDelta> {
        const std::string agent = stored.agent.id;
        // Another collector changed this agent's states since this one's memory of
        // them: read them again (under the agent's row lock) before applying.
        if (!stored_agent.current) {
          auto current = stored_agent.load();
          if (!current) return current.status().with_context("read agent " + agent + " again");
          engine_.reload_agent(agent, std::move(*current));
          reseed_alerts(agent);
        }
        StateDelta delta = engine_.apply(std::move(stored), at);
        // Shared with other collectors, the database holds what this report changed
        // once it commits, not at the next checkpoint: the lead sweeps from it.
        if (storage_.shared()) delta.append(engine_.checkpoint_agent(agent));
        plan_alerts(delta, false);
        *changed = !delta.events.empty();
        return delta;
      },
      [this, changed, done = std::move(done), results, samples](Result<IngestOutcome> outcome,
                                                                std::vector<Event> events) {
        if (!outcome) {
          if (*changed) resync();
        } else {
          {
            std::lock_guard lock(mu_);
            if (*outcome == IngestOutcome::kStored) {
              ++stats_.reports_stored;
              stats_.results_stored += results;
              stats_.samples_stored += samples;
            } else {
              ++stats_.reports_duplicate;
            }
          }
          publish(events);
        }
        done(std::move(outcome));
      });
}

void Monitor::set_alerting(Alerting alerting) {
  std::lock_guard lock(mu_);
  alerting_ = alerting.plan ? std::make_shared<const Alerting>(std::move(alerting)) : nullptr;
}

void Monitor::plan_alerts(StateDelta& delta, bool tick) {
  if (delta.events.empty() && !tick) return;
  std::shared_ptr<const Alerting> alerting;
  {
    std::lock_guard lock(mu_);
    alerting = alerting_;
  }
  if (alerting) alerting->plan(delta, now_ms(), tick);
}

void Monitor::reseed_alerts(const std::string& agent) {
  std::shared_ptr<const Alerting> alerting;
  {
    std::lock_guard lock(mu_);
    alerting = alerting_;
  }
  if (alerting && alerting->reseed_agent) alerting->reseed_agent(agent, now_ms());
}

std::function<Result<StateDelta>()> Monitor::with_alerts(std::function<Result<StateDelta>()> make,
                                                         bool tick) {
  return [this, make = std::move(make), tick]() -> Result<StateDelta> {
    auto delta = make();
    if (delta) plan_alerts(*delta, tick);
    return delta;
  };
}

Result<StateDelta> Monitor::change_and_wait(std::function<Result<StateDelta>()> make, bool tick) {
  std::promise<Result<StateDelta>> committed;
  auto future = committed.get_future();
  storage_.change(with_alerts(std::move(make), tick), [this, &committed](Result<StateDelta> delta) {
    if (delta) publish(delta->events);
    else resync();
    committed.set_value(std::move(delta));
  });
  return future.get();
}

void Monitor::submit_change(std::function<Result<StateDelta>()> make, bool tick) {
  storage_.change(with_alerts(std::move(make), tick), [this](Result<StateDelta> delta) {
    if (delta) return publish(delta->events);
    if (delta.status().code() == Code::kUnavailable) return;  // shutting down
    log::error("state change not stored: " + delta.status().message());
    resync();
  });
}

void Monitor::submit_duty(std::vector<std::string> agents, std::function<Result<StateDelta>()> make,
                          bool tick) {
  auto ran = std::make_shared<bool>(false);
  auto made = with_alerts(std::move(make), tick);
  auto marked = [this, ran, made = std::move(made)](
                    const std::vector<Storage::StoredAgent>& stored) -> Result<StateDelta> {
    *ran = true;
    std::int64_t read = 0;
    for (const auto& agent : stored) {
      if (agent.current) continue;
      auto current = agent.load();
      if (!current) return current.status().with_context("read agent " + agent.agent + " again");
      engine_.reload_agent(agent.agent, std::move(*current));
      reseed_alerts(agent.agent);
      ++read;
    }
    if (read > 0) {
      std::lock_guard lock(mu_);
      stats_.followed_agents += read;
    }
    return made();
  };
  storage_.duty_agents(std::move(agents), std::move(marked), [this, ran](Result<StateDelta> delta) {
    if (delta) {
      if (!delta->events.empty())
        log::debug("sweep (this collector leads): " + std::to_string(delta->events.size()) +
                   " events");
      return publish(delta->events);
    }
    if (!*ran) return;  // not leading (any more): nothing was changed in memory
    if (delta.status().code() == Code::kUnavailable) return;  // shutting down
    log::error("state change not stored: " + delta.status().message());
    resync();
  });
}

namespace {
std::string target_of(const std::string& agent, const std::string& check) {
  return agent + " " + check;
}
}  // namespace

Result<StateDelta> Monitor::change_agents_and_wait(std::vector<std::string> agents,
                                                   std::function<Result<StateDelta>()> make) {
  std::promise<Result<StateDelta>> committed;
  auto future = committed.get_future();
  auto made = with_alerts(std::move(make), false);
  storage_.change_agents(
      std::move(agents),
      [this, made = std::move(made)](
          const std::vector<Storage::StoredAgent>& stored) -> Result<StateDelta> {
        for (const auto& agent : stored) {
          if (agent.current) continue;
          auto current = agent.load();
          if (!current)
            return current.status().with_context("read agent " + agent.agent + " again");
          engine_.reload_agent(agent.agent, std::move(*current));
          reseed_alerts(agent.agent);
        }
        return made();
      },
      [this, &committed](Result<StateDelta> delta) {
        if (delta) publish(delta->events);
        else resync();
        committed.set_value(std::move(delta));
      });
  return future.get();
}

std::vector<std::string> Monitor::agents_under(const Downtime& downtime) const {
  if (!downtime.agent.empty()) return {downtime.agent};
  std::vector<std::string> agents;
  for (const auto& a : engine_.agents(downtime.site)) agents.push_back(a.id);
  return agents;
}

StateDelta Monitor::start_downtimes(std::int64_t now) {
  // Shared with other collectors, the sweeps are the lead's: only the downtimes' part.
  return storage_.shared() ? engine_.tick_downtimes(now) : engine_.tick(now);
}

Result<StateDelta> Monitor::acknowledge(const std::string& agent, const std::string& check,
                                        Ack ack) {
  return change_agents_and_wait({agent}, [&]() -> Result<StateDelta> {
    const std::int64_t now = now_ms();
    auto delta = engine_.acknowledge(agent, check, ack, now);
    if (!delta) return delta;
    std::string comment = ack.comment;
    if (ack.sticky) comment += " [sticky]";
    if (ack.expires_ms != 0) comment += " [expires " + std::to_string(ack.expires_ms) + "]";
    delta->audit.push_back({.ts_ms = now,
                            .author = ack.author,
                            .action = "acknowledge",
                            .target = target_of(agent, check),
                            .comment = comment});
    return delta;
  });
}

Result<StateDelta> Monitor::unacknowledge(const std::string& agent, const std::string& check,
                                          const std::string& author, const std::string& comment) {
  return change_agents_and_wait({agent}, [&]() -> Result<StateDelta> {
    const std::int64_t now = now_ms();
    auto delta = engine_.unacknowledge(agent, check, author, now);
    if (!delta) return delta;
    delta->audit.push_back({.ts_ms = now,
                            .author = author,
                            .action = "unacknowledge",
                            .target = target_of(agent, check),
                            .comment = comment});
    return delta;
  });
}

Result<Downtime> Monitor::add_downtime(Downtime downtime) {
  // Collectors sharing a database number downtimes from it, never two alike.
  if (downtime.id == 0) {
    auto id = storage_.new_downtime_id();
    if (!id) return id.status();
    downtime.id = *id;
  }
  // The agents it covers are locked, and read again where another collector changed
  // them, before it starts over their checks.
  auto delta = change_agents_and_wait(agents_under(downtime), [&]() -> Result<StateDelta> {
    const std::int64_t now = now_ms();
    auto made = engine_.add_downtime(downtime, now);
    if (!made) return made;
    const Downtime& d = made->downtimes.front();
    std::string target = "site " + d.site;
    if (!d.agent.empty()) target += " agent " + d.agent;
    if (!d.check.empty()) target += " check " + d.check;
    made->audit.push_back({.ts_ms = now,
                           .author = d.author,
                           .action = "downtime " + std::to_string(d.id),
                           .target = target,
                           .comment = d.comment});
    // Start it at once rather than at the next tick.
    made->append(start_downtimes(now));
    return made;
  });
  if (!delta) return delta.status();
  return delta->downtimes.front();
}

Result<StateDelta> Monitor::remove_downtime(std::int64_t id, const std::string& author,
                                            const std::string& comment) {
  auto known = engine_.downtime(id);
  if (!known && storage_.shared()) {  // made through another collector: read it
    auto snapshot = storage_.load_state(now_ms());
    if (!snapshot) return snapshot.status();
    for (const auto& d : snapshot->downtimes) {
      if (d.id == id) known = d;
    }
  }
  std::vector<std::string> agents;
  if (known) agents = agents_under(*known);
  return change_agents_and_wait(std::move(agents), [&]() -> Result<StateDelta> {
    const std::int64_t now = now_ms();
    auto delta = engine_.remove_downtime(id, author, now);
    if (!delta) return delta;
    delta->audit.push_back({.ts_ms = now,
                            .author = author,
                            .action = "delete downtime " + std::to_string(id),
                            .target = "site " + delta->downtimes.front().site,
                            .comment = comment});
    delta->append(start_downtimes(now));
    return delta;
  });
}

Status Monitor::tick() {
  auto delta =
      change_and_wait([this]() -> Result<StateDelta> { return engine_.tick(now_ms()); }, true);
  return delta ? Status::ok() : delta.status();
}

Status Monitor::checkpoint() {
  for (;;) {
    auto delta = change_and_wait(
        [this]() -> Result<StateDelta> { return engine_.checkpoint(kCheckpointSlice); });
    if (!delta) return delta.status();
    if (delta->checks.size() < kCheckpointSlice) return Status::ok();
  }
}

void Monitor::set_listener(std::function<void(const std::vector<Event>&)> listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void Monitor::publish(const std::vector<Event>& events) {
  if (events.empty()) return;
  // Shared with other collectors, event ids are given in commit order without gaps
  // (Storage::Stored): ids below these that this collector has not published are
  // other collectors', committed already. They are published first, so that a reader
  // whose cursor passes these has seen them too.
  std::int64_t after = published_cursor();
  if (storage_.shared()) {
    constexpr std::size_t kSlice = 1000;
    while (after + 1 < events.front().id) {
      const auto wanted =
          std::min<std::int64_t>(static_cast<std::int64_t>(kSlice), events.front().id - after - 1);
      auto earlier = storage_.events(
          {.after = after, .limit = static_cast<std::size_t>(wanted), .primary = true});
      if (!earlier) {
        log::error("events of other collectors not read: " + earlier.status().message());
        break;
      }
      std::erase_if(*earlier, [&](const Event& e) { return e.id >= events.front().id; });
      if (earlier->empty()) break;
      after = earlier->back().id;
      publish_in_order(*earlier);
    }
  }
  publish_in_order(events);
}

void Monitor::publish_in_order(const std::vector<Event>& events) {
  std::vector<Event> fresh;
  std::function<void(const std::vector<Event>&)> listener;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      if (e.id <= published_) continue;  // published already (read back from the database)
      recent_.push_back(e);
      fresh.push_back(e);
      published_ = e.id;
    }
    if (fresh.empty()) return;
    stats_.events += static_cast<std::int64_t>(fresh.size());
    while (recent_.size() > options_.recent_events) recent_.pop_front();
    cv_.notify_all();
    listener = listener_;
  }
  if (listener) listener(fresh);
}

void Monitor::resync() {
  auto snapshot = storage_.load_state(now_ms());
  if (!snapshot) {
    log::error("cannot reload the state after a failed commit: " + snapshot.status().message());
    return;
  }
  log::warning("state reloaded from the database after a failed commit");
  engine_.restore(std::move(*snapshot), now_ms());
  reseed_all_alerts();
}

void Monitor::reseed_all_alerts() {
  std::shared_ptr<const Alerting> alerting;
  {
    std::lock_guard lock(mu_);
    alerting = alerting_;
  }
  if (alerting && alerting->reseed) alerting->reseed(now_ms());
}

void Monitor::follow_others(bool all, std::vector<std::string> agents) {
  auto finished = [this] {
    std::lock_guard lock(mu_);
    following_ = false;
    cv_.notify_all();
  };
  if (!all) {
    const auto count = static_cast<std::int64_t>(agents.size());
    storage_.change_agents(
        std::move(agents),
        [this](const std::vector<Storage::StoredAgent>& stored) -> Result<StateDelta> {
          for (const auto& agent : stored) {
            if (agent.current) continue;  // this collector wrote it last
            auto current = agent.load();
            if (!current) return current.status().with_context("read agent " + agent.agent);
            engine_.reload_agent(agent.agent, std::move(*current));
            reseed_alerts(agent.agent);
          }
          return StateDelta{};
        },
        [this, finished, count](Result<StateDelta> done) {
          if (!done && done.status().code() != Code::kUnavailable)
            log::error("following other collectors: " + done.status().message());
          publish_others_events();
          {
            std::lock_guard lock(mu_);
            stats_.followed_agents += count;
          }
          finished();
        });
    return;
  }
  storage_.change([this]() -> Result<StateDelta> { return engine_.checkpoint(); },
                  [this, finished](Result<StateDelta> saved) {
                    // On the writer, after the commit: nothing of this collector's is
                    // in flight, so the database holds all it published.
                    if (!saved) {
                      if (saved.status().code() != Code::kUnavailable)
                        log::error("following other collectors: " + saved.status().message());
                      return finished();
                    }
                    if (auto snapshot = storage_.load_state(now_ms())) {
                      engine_.refresh(std::move(*snapshot), now_ms());
                      reseed_all_alerts();
                    } else {
                      log::error("following other collectors: " + snapshot.status().message());
                    }
                    publish_others_events();
                    {
                      std::lock_guard lock(mu_);
                      ++stats_.followed_all;
                    }
                    finished();
                  });
}

void Monitor::publish_others_events() {
  constexpr std::size_t kSlice = 1000;
  for (;;) {
    auto events = storage_.events({.after = published_cursor(), .limit = kSlice, .primary = true});
    if (!events) {
      log::error("following other collectors: " + events.status().message());
      return;
    }
    publish(*events);
    if (events->size() < kSlice) return;
  }
}

void Monitor::start_following(std::unique_lock<std::mutex>& lock) {
  const bool all = std::exchange(others_all_, false);
  std::vector<std::string> agents(others_agents_.begin(), others_agents_.end());
  others_agents_.clear();
  others_changed_ = false;
  following_ = true;
  lock.unlock();
  follow_others(all, std::move(agents));
  lock.lock();
}

std::int64_t Monitor::published_cursor() const {
  std::lock_guard lock(mu_);
  return published_;
}

MonitorStats Monitor::stats() const {
  std::lock_guard lock(mu_);
  MonitorStats s = stats_;
  s.waiting_polls = static_cast<std::int64_t>(waiters_.size());
  return s;
}

std::optional<std::vector<Event>> Monitor::recent_after(std::int64_t after,
                                                        std::size_t limit) const {
  std::vector<Event> out;
  if (after >= published_) return out;
  if (recent_.empty() || recent_.front().id > after + 1) return std::nullopt;
  auto it = std::upper_bound(recent_.begin(), recent_.end(), after,
                             [](std::int64_t id, const Event& e) { return id < e.id; });
  for (; it != recent_.end() && out.size() < limit; ++it) out.push_back(*it);
  return out;
}

void Monitor::wait_events(std::int64_t after, std::size_t limit, std::chrono::milliseconds timeout,
                          EventsReply reply) {
  limit = std::max<std::size_t>(1, limit);
  std::optional<std::vector<Event>> ready;
  {
    std::lock_guard lock(mu_);
    ready = recent_after(after, limit);
    if (ready && ready->empty() && timeout.count() > 0 && !stopping_ && !polls_ended_) {
      waiters_.push_back(
          {after, limit, std::chrono::steady_clock::now() + timeout, std::move(reply)});
      cv_.notify_all();
      return;
    }
  }
  if (!ready) {  // older than memory holds: from the database
    auto stored = storage_.events({.after = after, .limit = limit});
    if (stored) ready = std::move(*stored);
    else ready.emplace();
  }
  const std::int64_t cursor = ready->empty() ? std::max(after, std::int64_t{0}) : ready->back().id;
  reply(std::move(*ready), cursor);
}

void Monitor::serve_waiters(bool all) {
  std::vector<std::pair<Waiter, std::vector<Event>>> ready;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      auto events = recent_after(it->after, it->limit);
      const bool has = !events || !events->empty();
      if (has || all || now >= it->deadline) {
        ready.emplace_back(std::move(*it), events ? std::move(*events) : std::vector<Event>{});
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [waiter, events] : ready) {
    const std::int64_t cursor = events.empty() ? waiter.after : events.back().id;
    waiter.reply(std::move(events), cursor);
  }
}

void Monitor::run() {
  using Clock = std::chrono::steady_clock;
  auto next_tick = Clock::now() + options_.tick;
  auto next_checkpoint = Clock::now() + options_.checkpoint;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (!others_changed_ || following_) {
        auto wake = std::min(next_tick, next_checkpoint);
        for (const auto& w : waiters_) wake = std::min(wake, w.deadline);
        cv_.wait_until(lock, wake);
      }
      if (stopping_) return;
      if (others_changed_ && !following_) start_following(lock);
    }
    serve_waiters(false);
    const auto now = Clock::now();
    if (now >= next_tick) {
      // The sweeps are the lead's: one collector at a time makes their events.
      if (storage_.leads()) {
        // Results that other collectors received may make fresh what this one's
        // memory finds stale: the agents it finds due are read again first, under
        // their row locks, in the sweep's transaction.
        // The sweep's time is the one they were found due at: no other is due then.
        const std::int64_t at = now_ms();
        std::vector<std::string> due;
        if (storage_.shared()) due = engine_.sweep_candidates(at);
        submit_duty(
            std::move(due), [this, at]() -> Result<StateDelta> { return engine_.tick(at); }, true);
      }
      next_tick = now + options_.tick;
    }
    if (now >= next_checkpoint) {
      // In slices, each a job of its own, so that reports queue behind a few thousand
      // row updates at most, not behind every check of the fleet.
      if (Status s = checkpoint(); !s && s.code() != Code::kUnavailable)
        log::error("state checkpoint failed: " + s.message());
      next_checkpoint = Clock::now() + options_.checkpoint;
    }
  }
}

}  // namespace vigie::collector
