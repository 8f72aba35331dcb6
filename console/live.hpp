#pragma once
// What the console knows, kept current by three threads so that the UI thread never
// waits for the network:
//   - the feed asks the collector for the overview and for what the current view shows
//     (Want), every refresh interval or at once when asked, and publishes each answer
//     as a new immutable World;
//   - the event watcher long-polls GET /api/v1/events and asks the feed for a new World
//     as soon as anything changes, so that the screen follows the collector live;
//   - the action queue sends acknowledgements and downtimes, one at a time, and keeps
//     what became of each for the footer.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "console/model.hpp"

namespace vigie::console {

// How the threads reach the collector: ApiClient, or a fake in tests. Each thread has
// its own Transport, so one is never used by two threads at once.
class Transport {
 public:
  virtual ~Transport() = default;
  // method "GET", "POST" or "DELETE"; path with its query; body JSON or empty. The reply's
  // body on 2xx, else why not (ApiClient::get says which code means what).
  virtual Result<std::string> call(std::string_view method, std::string_view path,
                                   std::string_view body) = 0;
  // Makes the call in progress and every later one fail soon. Any thread.
  virtual void cancel() = 0;
};

enum class View { kProblems, kSites, kSite, kCheck, kAgents, kBackups };
// The view's name as its title shows it, in the console's language.
std::string view_label(View view);

// What the current view needs from the collector.
struct Want {
  View view = View::kProblems;
  std::string site;   // kSite
  std::string agent;  // kCheck
  std::string check;  // kCheck
  bool operator==(const Want&) const = default;
};

// The Check view's data: the check with its history, a 24-hour series per metric, and
// its notifications (nullopt while the collector has no such route: 404).
struct CheckPage {
  CheckDetail detail;
  std::vector<Series> series;
  std::optional<std::vector<NotificationRow>> notifications;
};

// Everything the views draw. Immutable once published; parts that did not change are
// shared with the previous World rather than copied. A part is null until fetched.
struct World {
  std::uint64_t generation = 0;  // grows with every World the feed publishes
  std::shared_ptr<const Overview> overview;
  std::shared_ptr<const std::vector<CheckRow>> problems;  // sort_problems() order
  std::shared_ptr<const std::vector<SiteRow>> sites;
  std::shared_ptr<const std::vector<AgentRow>> agents;
  std::shared_ptr<const std::vector<CheckRow>> backups;
  std::shared_ptr<const SiteDetail> site;  // the site of the last Want::site
  std::shared_ptr<const CheckPage> check;  // the check of the last Want::agent/check
  Want fetched;                            // what the last good fetch was for

  std::int64_t fetched_at_ms = 0;     // local clock of the last good fetch; 0: none yet
  std::int64_t collector_now_ms = 0;  // the collector's clock at that fetch
  Status error;                       // why the latest fetch failed; OK if it did not
  std::int64_t failing_since_ms = 0;  // local clock of the first failure in a row

  // The collector's clock at local time `local_now_ms`, carried forward from the last
  // good fetch so that ages keep growing while the collector cannot be reached.
  std::int64_t collector_time(std::int64_t local_now_ms) const;
};

// One fetch for `want` at local time `local_now_ms`: the World that follows `previous`.
// Pure but for `transport`; the feed thread calls it, and so do the benchmark and tests.
World fetch_world(Transport& transport, const World& previous, const Want& want,
                  std::int64_t local_now_ms);

// An acknowledgement or a downtime to send.
struct Request {
  std::string method;
  std::string path;
  std::string body;
  std::string what;  // "acknowledge mairie-01/backup/restic:/srv", for messages
};

struct LiveOptions {
  std::chrono::milliseconds refresh{5000};  // fetch at least this often
  std::chrono::milliseconds retry{2000};    // the event watcher's pause after a failure
  std::string poll_timeout = "25s";         // the events long-poll's `timeout`
};

// The three threads. Constructed by the UI thread; every method may be called from
// any thread. The destructor cancels the transports and joins the threads.
class Live {
 public:
  Live(std::unique_ptr<Transport> feed, std::unique_ptr<Transport> events,
       std::unique_ptr<Transport> actions, Want want, LiveOptions options);
  ~Live();
  Live(const Live&) = delete;
  Live& operator=(const Live&) = delete;

  // The latest World; never null (empty until the first fetch ends).
  std::shared_ptr<const World> world() const;
  // Asks for what `want` needs, at once when it differs from the current want.
  void set_want(Want want);
  // Fetches now rather than at the end of the interval.
  void refresh();
  // Queues a request; its outcome comes back through take_messages().
  void send(Request request);
  // Messages about sent requests since the last call, oldest first: "acknowledged ..."
  // or the error. `failed` says which.
  struct Message {
    std::string text;
    bool failed = false;
  };
  std::vector<Message> take_messages();
  // True while the event long-poll is connected.
  bool events_live() const;
  // Requests queued or in flight.
  std::size_t pending() const;

 private:
  void feed_loop();
  void events_loop();
  void actions_loop();

  const std::unique_ptr<Transport> feed_;
  const std::unique_ptr<Transport> events_;
  const std::unique_ptr<Transport> actions_;
  const LiveOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_feed_;
  std::condition_variable wake_events_;
  std::condition_variable wake_actions_;
  std::shared_ptr<const World> world_;  // guarded by mutex_
  Want want_;                           // guarded by mutex_
  bool refresh_ = false;                // guarded by mutex_
  bool stop_ = false;                   // guarded by mutex_
  bool events_live_ = false;            // guarded by mutex_
  std::deque<Request> requests_;        // guarded by mutex_
  std::size_t in_flight_ = 0;           // guarded by mutex_
  std::vector<Message> messages_;       // guarded by mutex_
  std::thread feed_thread_;             // threads last: start once the rest is ready
  std::thread events_thread_;
  std::thread actions_thread_;
};

}  // namespace vigie::console
