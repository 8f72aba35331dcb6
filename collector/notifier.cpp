#include "collector/notifier.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <deque>

#include "collector/alert_planner.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

// Deliveries ---------------------------------------------------------------------------

std::once_flag curl_once;

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One POST. kUnavailable when trying again may help (no answer, 5xx, 408, 429).
Status post_json(const AlertChannel& channel, const std::string& body) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::internal("cannot create a libcurl handle");
  curl_slist* raw = curl_slist_append(nullptr, "Content-Type: application/json");
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
  for (const auto& h : channel.headers) {
    curl_slist* next = curl_slist_append(headers.get(), h.c_str());
    if (!next) return Status::internal("out of memory");
    (void)headers.release();
    headers.reset(next);
  }
  char error[CURL_ERROR_SIZE] = {0};
  std::string answer;
  auto write = +[](char* data, std::size_t size, std::size_t n, void* user) -> std::size_t {
    auto* out = static_cast<std::string*>(user);
    if (out->size() < 4096) out->append(data, std::min(size * n, 4096 - out->size()));
    return size * n;
  };
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, channel.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(channel.timeout.count()));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "vigie-collector/" VIGIE_VERSION);
  if (!channel.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, channel.ca_file.c_str());
  const std::string where = channel.name + " (" + url_host(channel.url) + ")";
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    const std::string why = error[0] ? error : curl_easy_strerror(rc);
    const bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                     rc == CURLE_SSL_CERTPROBLEM;
    if (tls) return Status(Code::kPermissionDenied, where + ": " + why);
    return Status::unavailable(where + ": " + why);
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300) return Status::ok();
  std::string detail = "HTTP " + std::to_string(code);
  if (!answer.empty()) {
    std::string line = answer.substr(0, 200);
    std::replace_if(
        line.begin(), line.end(), [](char ch) { return ch == '\n' || ch == '\r'; }, ' ');
    detail += ": " + line;
  }
  if (code >= 500 || code == 408 || code == 429) return Status::unavailable(where + ": " + detail);
  return Status::invalid(where + ": " + detail);
}

Status send_mail(const mail::Relay& relay, const AlertChannel& channel, const Outgoing& out,
                 std::int64_t now_ms) {
  mail::Message message;
  message.from = relay.from;
  message.to = channel.to;
  message.subject = mail_subject(out);
  message.text = mail_text(out, now_ms);
  return mail::send(relay, message);
}

}  // namespace

struct Notifier::Worker {
  std::size_t channel = 0;
  std::deque<Outgoing> queue;
  std::condition_variable cv;
  std::thread thread;
};

Notifier::Notifier(AlertConfig config, Storage& storage, const StateEngine& engine,
                   NotifierOptions options)
    : config_(std::move(config)), storage_(storage), engine_(engine), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = wall_ms;
  for (std::size_t i = 0; i < config_.channels.size(); ++i) {
    auto worker = std::make_unique<Worker>();
    worker->channel = i;
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) {
    worker->thread = std::thread([this, w = worker.get()] { deliver(*w); });
  }
  thread_ = std::thread([this] { run(); });
}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
    for (auto& w : workers_) w->cv.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Notifier::post(const std::vector<Event>& events) {
  // Only what the planner looks at: most events (soft changes, acknowledgements...)
  // never make an alert.
  std::vector<const Event*> wanted;
  for (const auto& e : events) {
    if (e.backfill) continue;
    switch (e.kind) {
      case EventKind::kState:
        if (e.type == StateType::kHard) wanted.push_back(&e);
        break;
      case EventKind::kFresh:
      case EventKind::kAgentLost:
      case EventKind::kAgentBack:
      case EventKind::kSiteUnreachable:
      case EventKind::kSiteReachable: wanted.push_back(&e); break;
      default:
        if (e.notify) wanted.push_back(&e);
    }
  }
  if (wanted.empty()) return;
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (incoming_.size() + wanted.size() > options_.max_queue) {
    stats_.dropped += static_cast<std::int64_t>(wanted.size());
    log::error("notifier: " + std::to_string(wanted.size()) +
               " events dropped: the notifier is behind by " + std::to_string(incoming_.size()));
    return;
  }
  for (const Event* e : wanted) incoming_.push_back(*e);
  cv_.notify_all();
}

NotifierStats Notifier::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Notifier::record(std::vector<NotificationRecord> records) {
  if (records.empty()) return;
  auto shared = std::make_shared<std::vector<NotificationRecord>>(std::move(records));
  storage_.change(
      [shared]() -> Result<StateDelta> {
        StateDelta delta;
        delta.notifications = std::move(*shared);
        return delta;
      },
      [](Result<StateDelta> done) {
        if (!done && done.status().code() != Code::kUnavailable)
          log::error("notifier: history not stored: " + done.status().message());
      });
}

void Notifier::run() {
  AlertPlanner planner(config_, engine_);
  planner.seed(options_.now_ms());
  for (;;) {
    std::vector<Event> events;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(250),
                   [this] { return stopping_ || !incoming_.empty(); });
      if (stopping_) return;
      events.swap(incoming_);
    }
    AlertPlanner::Plan plan;
    try {
      const std::int64_t now = options_.now_ms();
      planner.add(events, now, plan);
      planner.tick(now, plan);
    } catch (const std::exception& e) {  // bad_alloc, or a bug: keep notifying
      log::error(std::string("notifier: ") + e.what());
    }
    {
      std::lock_guard lock(mu_);
      stats_.suppressed += static_cast<std::int64_t>(plan.records.size());
      for (auto& out : plan.send) {
        Worker& w = *workers_[out.channel];
        w.queue.push_back(std::move(out));
        w.cv.notify_all();
      }
    }
    record(std::move(plan.records));
  }
}

void Notifier::deliver(Worker& worker) {
  const AlertChannel& channel = config_.channels[worker.channel];
  const int kind = channel.kind == AlertChannel::Kind::kEmail ? 1 : 0;
  for (;;) {
    Outgoing out;
    {
      std::unique_lock lock(mu_);
      worker.cv.wait(lock, [&] { return stopping_ || !worker.queue.empty(); });
      if (stopping_) {
        if (!worker.queue.empty())
          log::warning("notifier: " + channel.name + ": " + std::to_string(worker.queue.size()) +
                       " messages not sent: shutting down");
        return;
      }
      out = std::move(worker.queue.front());
      worker.queue.pop_front();
    }
    Status status;
    auto wait = channel.first_wait;
    for (int attempt = 1; attempt <= channel.attempts; ++attempt) {
      try {
        const std::int64_t now = options_.now_ms();
        if (channel.kind == AlertChannel::Kind::kWebhook) {
          status = post_json(channel, webhook_body(channel, out, now));
        } else if (config_.smtp) {
          status = send_mail(*config_.smtp, channel, out, now);
        } else {
          status = Status::invalid("no smtp relay configured");
        }
      } catch (const std::exception& e) {
        status = Status::internal(e.what());
      }
      if (status || status.code() != Code::kUnavailable || attempt == channel.attempts) break;
      log::warning("notifier: attempt " + std::to_string(attempt) + " of " +
                   std::to_string(channel.attempts) + " failed: " + status.message() +
                   "; next in " + human_duration(wait));
      std::unique_lock lock(mu_);
      if (worker.cv.wait_for(lock, wait, [this] { return stopping_; })) break;
      wait *= 2;
    }
    if (!status) log::error("notifier: " + channel.name + ": given up: " + status.message());
    std::vector<NotificationRecord> records;
    const std::int64_t now = options_.now_ms();
    for (const auto& a : out.alerts) {
      records.push_back({.ts_ms = now,
                         .site = a.site,
                         .agent = a.agent,
                         .check = a.check,
                         .channel = kind == 1 ? "email" : "webhook",
                         .target = channel_target(channel),
                         .kind = a.kind,
                         .state = a.state,
                         .status = !status      ? "failed"
                                   : out.digest ? "digest"
                                                : "sent",
                         .detail = !status      ? status.message()
                                   : out.digest ? "one message for " +
                                                      std::to_string(out.alerts.size()) + " alerts"
                                                : std::string()});
    }
    {
      std::lock_guard lock(mu_);
      if (!status) ++stats_.failed[kind];
      else if (out.digest) ++stats_.digests[kind];
      else ++stats_.sent[kind];
    }
    record(std::move(records));
  }
}

}  // namespace vigie::collector
