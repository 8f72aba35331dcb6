#include "console/live.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "common/time.hpp"
#include "console/api_client.hpp"
#include "console/language.hpp"

namespace vigie::console {
namespace {

constexpr std::size_t kMaxSeries = 12;  // metrics of a check drawn with a sparkline

// Stores `body` parsed by `parse` into `slot`, or the error into `error`.
template <class T, class Parse>
void take(const Result<std::string>& body, Parse parse, std::shared_ptr<const T>& slot,
          Status& error) {
  if (!error.is_ok()) return;
  if (!body) {
    error = body.status();
    return;
  }
  auto parsed = parse(*body);
  if (!parsed) {
    error = parsed.status().with_context(tr("the collector's reply is malformed"));
    return;
  }
  slot = std::make_shared<const T>(std::move(parsed).value());
}

template <class Vector, class Parse, class Member>
void take_list(const Result<std::string>& body, Parse parse, Member member,
               std::shared_ptr<const Vector>& slot, Status& error) {
  if (!error.is_ok()) return;
  if (!body) {
    error = body.status();
    return;
  }
  auto parsed = parse(*body);
  if (!parsed) {
    error = parsed.status().with_context(tr("the collector's reply is malformed"));
    return;
  }
  slot = std::make_shared<const Vector>(std::move((*parsed).*member));
}

}  // namespace

std::string view_label(View view) {
  switch (view) {
    case View::kProblems: return tr("Problems");
    case View::kSites: return tr("Sites");
    case View::kSite: return tr("Site");
    case View::kCheck: return tr("Check");
    case View::kAgents: return tr("Agents");
    case View::kBackups: return tr("Backups");
  }
  return "?";
}

std::int64_t World::collector_time(std::int64_t local_now_ms) const {
  if (fetched_at_ms == 0) return local_now_ms;
  return collector_now_ms + (local_now_ms - fetched_at_ms);
}

World fetch_world(Transport& transport, const World& previous, const Want& want,
                  std::int64_t local_now_ms) {
  World next = previous;
  next.generation = previous.generation + 1;
  Status error;
  const auto get = [&](const std::string& path) { return transport.call("GET", path, {}); };

  take(get(overview_path()), parse_overview_reply, next.overview, error);
  switch (want.view) {
    case View::kProblems: {
      take_list(get(problems_path()), parse_problems_reply, &ChecksReply::rows, next.problems,
                error);
      break;
    }
    case View::kSites:
      take_list(get(sites_path()), parse_sites_reply, &SitesReply::sites, next.sites, error);
      break;
    case View::kAgents:
      take_list(get(agents_path()), parse_agents_reply, &AgentsReply::agents, next.agents, error);
      break;
    case View::kBackups:
      take_list(get(checks_path("backup")), parse_checks_reply, &ChecksReply::rows, next.backups,
                error);
      break;
    case View::kSite: take(get(site_path(want.site)), parse_site_reply, next.site, error); break;
    case View::kCheck: {
      std::shared_ptr<const CheckDetail> detail;
      take(get(check_path(want.agent, want.check)), parse_check_reply, detail, error);
      if (!error.is_ok()) break;
      auto page = std::make_shared<CheckPage>();
      page->detail = *detail;
      for (const Metric& metric : page->detail.row.result.metrics) {
        if (page->series.size() >= kMaxSeries) break;
        // 48 buckets of 30 minutes: one sparkline cell each.
        auto body = get(series_path(want.agent, want.check, metric.label, "24h", "30m"));
        if (!body) {
          if (body.status().code() == Code::kNotFound) continue;
          error = body.status();
          break;
        }
        if (auto series = parse_series_reply(*body)) page->series.push_back(std::move(*series));
      }
      if (!error.is_ok()) break;
      auto notes = get(notifications_path(want.agent, want.check));
      if (notes) {
        if (auto parsed = parse_notifications_reply(*notes)) page->notifications = *parsed;
      } else if (notes.status().code() != Code::kNotFound) {
        error = notes.status();
        break;
      }
      next.check = std::move(page);
      break;
    }
  }

  if (error.is_ok()) {
    next.fetched = want;
    next.fetched_at_ms = local_now_ms;
    next.collector_now_ms = next.overview ? next.overview->now_ms : local_now_ms;
    next.error = Status::ok();
    next.failing_since_ms = 0;
    return next;
  }
  // Nothing of a failed fetch is kept: a World is one consistent answer.
  World kept = previous;
  kept.generation = next.generation;
  kept.error = error;
  kept.failing_since_ms = previous.failing_since_ms != 0 ? previous.failing_since_ms : local_now_ms;
  return kept;
}

Live::Live(std::unique_ptr<Transport> feed, std::unique_ptr<Transport> events,
           std::unique_ptr<Transport> actions, Want want, LiveOptions options)
    : feed_(std::move(feed)),
      events_(std::move(events)),
      actions_(std::move(actions)),
      options_(std::move(options)),
      world_(std::make_shared<const World>()),
      want_(std::move(want)),
      feed_thread_([this] { feed_loop(); }),
      events_thread_([this] { events_loop(); }),
      actions_thread_([this] { actions_loop(); }) {}

Live::~Live() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  feed_->cancel();
  events_->cancel();
  actions_->cancel();
  wake_feed_.notify_all();
  wake_events_.notify_all();
  wake_actions_.notify_all();
  feed_thread_.join();
  events_thread_.join();
  actions_thread_.join();
}

std::shared_ptr<const World> Live::world() const {
  const std::lock_guard lock(mutex_);
  return world_;
}

void Live::set_want(Want want) {
  {
    const std::lock_guard lock(mutex_);
    if (want == want_) return;
    want_ = std::move(want);
    refresh_ = true;
  }
  wake_feed_.notify_all();
}

void Live::refresh() {
  {
    const std::lock_guard lock(mutex_);
    refresh_ = true;
  }
  wake_feed_.notify_all();
}

void Live::send(Request request) {
  {
    const std::lock_guard lock(mutex_);
    requests_.push_back(std::move(request));
  }
  wake_actions_.notify_all();
}

std::vector<Live::Message> Live::take_messages() {
  const std::lock_guard lock(mutex_);
  return std::exchange(messages_, {});
}

bool Live::events_live() const {
  const std::lock_guard lock(mutex_);
  return events_live_;
}

std::size_t Live::pending() const {
  const std::lock_guard lock(mutex_);
  return requests_.size() + in_flight_;
}

void Live::feed_loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    refresh_ = false;
    const std::shared_ptr<const World> previous = world_;
    const Want want = want_;
    lock.unlock();
    std::shared_ptr<const World> next;
    // A thread's entry: nothing may escape it, or the process would terminate.
    try {
      next = std::make_shared<const World>(fetch_world(*feed_, *previous, want, wall_ms()));
    } catch (const std::exception& e) {
      World failed = *previous;
      failed.generation = previous->generation + 1;
      failed.error = Status::internal(e.what());
      next = std::make_shared<const World>(std::move(failed));
    }
    lock.lock();
    world_ = std::move(next);
    // While failing, try again sooner than the refresh interval: reconnect quickly.
    const auto wait =
        world_->error.is_ok() ? options_.refresh : std::min(options_.refresh, options_.retry);
    wake_feed_.wait_for(lock, wait, [this] { return stop_ || refresh_; });
  }
}

void Live::events_loop() {
  std::int64_t cursor = -1;  // -1: none yet, from now on
  std::unique_lock lock(mutex_);
  while (!stop_) {
    // The first call after a start or a failure answers at once: the console knows it
    // is live again without waiting for an event.
    const bool confirmed = events_live_;
    lock.unlock();
    const std::string path = events_path(confirmed ? options_.poll_timeout : "0s",
                                         cursor >= 0 ? std::optional(cursor) : std::nullopt);
    Result<std::string> body = Status::internal("not asked");
    try {
      body = events_->call("GET", path, {});
    } catch (const std::exception& e) {
      body = Status::internal(e.what());
    }
    std::optional<EventsReply> reply;
    if (body) {
      if (auto parsed = parse_events_reply(*body)) reply = *parsed;
    }
    lock.lock();
    if (stop_) break;
    if (!reply) {
      const bool was_live = events_live_;
      events_live_ = false;
      // A cursor the collector refuses (400) is dropped: from now on.
      if (body.status().code() == Code::kInvalidArgument) cursor = -1;
      if (was_live) {
        refresh_ = true;  // the feed says soon whether the collector is gone
        wake_feed_.notify_all();
      }
      wake_events_.wait_for(lock, options_.retry, [this] { return stop_; });
      continue;
    }
    const bool reconnected = !events_live_;
    events_live_ = true;
    cursor = reply->cursor;
    if (reply->events > 0 || reconnected) {
      refresh_ = true;
      wake_feed_.notify_all();
    }
  }
}

void Live::actions_loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (requests_.empty()) {
      wake_actions_.wait(lock, [this] { return stop_ || !requests_.empty(); });
      continue;
    }
    Request request = std::move(requests_.front());
    requests_.pop_front();
    ++in_flight_;
    lock.unlock();
    Result<std::string> reply = Status::internal("not sent");
    try {
      reply = actions_->call(request.method, request.path, request.body);
    } catch (const std::exception& e) {
      reply = Status::internal(e.what());
    }
    lock.lock();
    --in_flight_;
    if (reply) {
      messages_.push_back({format("{what}: done", {{"what", request.what}}), false});
    } else {
      messages_.push_back(
          {format("{what}: {error}", {{"what", request.what}, {"error", reply.status().message()}}),
           true});
    }
    refresh_ = true;
    wake_feed_.notify_all();
  }
}

}  // namespace vigie::console
