#include "collector/notifier.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <map>

#include "collector/alert_message.hpp"
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
// `cancel` set aborts it (shutdown: a peer that never answers must not hold the stop).
Status post_json(const AlertChannel& channel, const std::string& body,
                 const std::atomic<bool>& cancel) {
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
  auto progress = +[](void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
    return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
  };
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&cancel));
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
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
  // A message delivered, to record as such (Storage::outbox_sent).
  struct Delivered {
    std::vector<std::int64_t> ids;
    std::vector<std::string> keys;
    std::int64_t done_ms = 0;
    std::string status;  // "sent" or "digest"
    std::vector<NotificationRecord> history;
    bool told = false;  // its record was said to wait for the database
  };

  std::size_t channel = 0;
  std::unique_ptr<ChannelPacer> pacer;
  // Delivered while the database could not be reached: their rows stay claimed by this
  // collector, due again when the lease ends. Recorded before anything more is claimed,
  // so that, the database back within the lease, nobody (this collector included)
  // claims them and sends them again.
  std::vector<Delivered> unrecorded;
  std::condition_variable cv;
  std::thread thread;
};

Notifier::Notifier(AlertConfig config, Storage& storage, const StateEngine& engine,
                   NotifierOptions options)
    : config_(std::move(config)),
      storage_(storage),
      options_(std::move(options)),
      planner_(config_, engine) {
  if (!options_.now_ms) options_.now_ms = wall_ms;
  reseed(options_.now_ms());
  for (std::size_t i = 0; i < config_.channels.size(); ++i) {
    auto worker = std::make_unique<Worker>();
    worker->channel = i;
    worker->pacer = std::make_unique<ChannelPacer>(config_);
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) {
    worker->thread = std::thread([this, w = worker.get()] { deliver(*w); });
  }
}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cancel_ = true;
    for (auto& w : workers_) w->cv.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Notifier::reseed(std::int64_t now_ms) {
  // Reminders count from the last delivery the outbox remembers.
  const std::int64_t since =
      config_.renotify.count() > 0 ? now_ms - 2 * config_.renotify.count() : now_ms;
  auto last_sent = storage_.outbox_last_sent(since);
  if (!last_sent) log::warning("notifier: " + last_sent.status().message());
  planner_.seed(now_ms, last_sent ? *last_sent : std::map<std::string, std::int64_t>{});
}

void Notifier::reseed_agent(const std::string& agent, std::int64_t now_ms) {
  planner_.reseed_agent(agent, now_ms);
}

Monitor::Alerting Notifier::hooks() {
  return {.plan = [this](StateDelta& delta, std::int64_t now_ms,
                         bool tick) { plan(delta, now_ms, tick); },
          .reseed = [this](std::int64_t now_ms) { reseed(now_ms); },
          .reseed_agent = [this](const std::string& agent,
                                 std::int64_t now_ms) { reseed_agent(agent, now_ms); }};
}

void Notifier::plan(StateDelta& delta, std::int64_t now_ms, bool tick) {
  std::vector<std::pair<std::string, std::int64_t>> delivered;
  {
    std::lock_guard lock(mu_);
    delivered.swap(delivered_);
  }
  for (const auto& [key, at] : delivered) planner_.settled(key, at);
  // Collectors sharing the database deliver each other's messages: the reminders this
  // one plans count from a delivery made anywhere (else, once another collector had
  // delivered one, none would follow).
  if (tick && storage_.shared()) {
    std::int64_t since = 0;
    const std::vector<std::string> keys = planner_.unsettled(&since);
    if (!keys.empty()) {
      auto settled = storage_.outbox_settled(keys, since);
      if (!settled) log::warning("notifier: " + settled.status().message());
      else
        for (const auto& [key, at] : *settled) planner_.settled(key, at);
    }
  }
  AlertPlanner::Plan plan;
  planner_.add(delta.events, now_ms, plan);
  if (tick) planner_.tick(now_ms, plan);
  if (!plan.records.empty()) {
    std::lock_guard lock(mu_);
    stats_.suppressed += static_cast<std::int64_t>(plan.records.size());
  }
  for (auto& r : plan.records) delta.notifications.push_back(std::move(r));
  for (auto& row : plan.outbox) delta.outbox.push_back(std::move(row));
}

NotifierStats Notifier::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Notifier::deliver(Worker& worker) {
  const AlertChannel& channel = config_.channels[worker.channel];
  // A claim holds its rows this long: past it, rows whose sender died are due again.
  // Twice the longest one delivery may take (the request's timeout, the relay's for a
  // mail): one that ends in time is recorded before another collector may take its rows.
  const std::int64_t send_ms = channel.kind == AlertChannel::Kind::kEmail && config_.smtp
                                   ? config_.smtp->timeout.count()
                                   : channel.timeout.count();
  const std::int64_t lease_ms = 2 * std::max<std::int64_t>(send_ms, 1'000);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      worker.cv.wait_for(lock, options_.poll, [this] { return stopping_; });
      if (stopping_) return;
    }
    try {
      if (!record_delivered(worker)) continue;  // the database is still away
      const std::int64_t now = options_.now_ms();
      auto messages = worker.pacer->next(now, [&](std::int64_t due_by) {
        auto rows = storage_.claim_outbox(channel.name, now, due_by, options_.max_claim, lease_ms);
        if (!rows) {
          if (rows.status().code() != Code::kUnavailable)
            log::error("notifier: " + channel.name + ": " + rows.status().message());
          return std::vector<OutboxRow>{};
        }
        return std::move(*rows);
      });
      // The messages of one claim go one after the other, longer together than its lease
      // (up to storm.threshold requests, each up to the timeout): each after the first
      // renews its rows' claim, and leaves the rows another collector took once the
      // lease ran out (it sends them).
      const std::int64_t held_until = now + lease_ms;
      for (std::size_t i = 0; i < messages.size(); ++i) {
        if (i > 0 && !renew(worker, messages[i], held_until, lease_ms)) continue;
        send(worker, messages[i]);
      }
    } catch (const std::exception& e) {  // bad_alloc, or a bug: keep notifying
      log::error("notifier: " + channel.name + ": " + e.what());
    }
  }
}

bool Notifier::renew(Worker& worker, ChannelPacer::Message& message, std::int64_t held_until_ms,
                     std::int64_t lease_ms) {
  const AlertChannel& channel = config_.channels[worker.channel];
  std::vector<std::int64_t> ids;
  for (const auto& row : message.rows) ids.push_back(row.id);
  auto renewed = storage_.renew_outbox(ids, held_until_ms, options_.now_ms() + lease_ms);
  if (!renewed) {
    // Unsure whether it still holds them: not sent now, due again when the lease ends.
    if (renewed.status().code() != Code::kUnavailable)
      log::error("notifier: " + channel.name + ": " + renewed.status().message());
    return false;
  }
  if (renewed->size() < ids.size()) {
    log::warning("notifier: " + channel.name + ": " + std::to_string(ids.size() - renewed->size()) +
                 " alert(s) claimed by another collector once this one's lease ran out: not "
                 "sent here");
    std::erase_if(message.rows, [&](const OutboxRow& row) {
      return !std::binary_search(renewed->begin(), renewed->end(), row.id);
    });
  }
  return !message.rows.empty();
}

void Notifier::send(Worker& worker, ChannelPacer::Message& message) {
  const AlertChannel& channel = config_.channels[worker.channel];
  const int kind = channel.kind == AlertChannel::Kind::kEmail ? 1 : 0;
  Outgoing out{.channel = worker.channel, .digest = message.digest};
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> unreadable;
  int attempts = 0;
  for (const auto& row : message.rows) {
    auto alert = alert_from_json(row.alert);
    if (!alert) {
      log::error("notifier: " + channel.name + ": outbox row " + std::to_string(row.id) + ": " +
                 alert.status().message());
      unreadable.push_back(row.id);
      continue;
    }
    out.alerts.push_back(std::move(*alert));
    ids.push_back(row.id);
    attempts = std::max(attempts, row.attempts);
  }
  const std::int64_t now = options_.now_ms();
  if (!unreadable.empty()) {
    if (Status s = storage_.outbox_failed(unreadable, now, 0, "unreadable outbox row", {}); !s)
      log::error("notifier: " + s.message());
  }
  if (out.alerts.empty()) return;

  Status status;
  try {
    if (channel.kind == AlertChannel::Kind::kWebhook) {
      status = post_json(channel, webhook_body(channel, out, now), cancel_);
    } else if (config_.smtp) {
      status = send_mail(*config_.smtp, channel, out, now);
    } else {
      status = Status::invalid("no smtp relay configured");
    }
  } catch (const std::exception& e) {
    status = Status::internal(e.what());
  }
  ++attempts;
  const std::int64_t done_ms = options_.now_ms();
  if (!status && cancel_) {  // stopped mid-way: due again at the next start
    if (Status s = storage_.outbox_failed(ids, done_ms, done_ms, "stopped", {}); !s)
      log::warning("notifier: " + channel.name + ": " + s.message());
    return;
  }
  const bool retry = !status && status.code() == Code::kUnavailable && attempts < channel.attempts;
  if (retry) {
    // first_wait, then twice as long each time, up to max_wait.
    std::int64_t wait = channel.first_wait.count();
    for (int i = 1; i < attempts && wait < options_.max_wait.count(); ++i) wait *= 2;
    wait = std::min<std::int64_t>(wait, options_.max_wait.count());
    log::warning("notifier: " + channel.name + ": attempt " + std::to_string(attempts) + " of " +
                 std::to_string(channel.attempts) + " failed: " + status.message() + "; next in " +
                 human_duration(std::chrono::milliseconds(wait)));
    {
      std::lock_guard lock(mu_);
      ++stats_.retried;
    }
    if (Status s = storage_.outbox_failed(ids, done_ms, done_ms + wait, status.message(), {}); !s)
      log::error("notifier: " + channel.name + ": " + s.message());
    return;
  }
  if (!status) log::error("notifier: " + channel.name + ": given up: " + status.message());
  std::vector<NotificationRecord> records;
  for (const auto& a : out.alerts) {
    records.push_back(
        {.ts_ms = done_ms,
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
                   : out.digest ? "one message for " + std::to_string(out.alerts.size()) + " alerts"
                                : std::string()});
  }
  {
    std::lock_guard lock(mu_);
    if (!status) ++stats_.failed[kind];
    else if (out.digest) ++stats_.digests[kind];
    else ++stats_.sent[kind];
  }
  // Settled in the transaction that stores the history: "sent" is written only for
  // what was sent. A give-up not recorded is tried again once the claim runs out.
  if (!status) {
    const Status settled =
        storage_.outbox_failed(ids, done_ms, 0, status.message(), std::move(records));
    if (!settled) log::error("notifier: " + channel.name + ": " + settled.message());
    return;
  }
  Worker::Delivered delivered{.ids = std::move(ids),
                              .done_ms = done_ms,
                              .status = out.digest ? "digest" : "sent",
                              .history = std::move(records)};
  for (const auto& row : message.rows) delivered.keys.push_back(row.key);
  worker.unrecorded.push_back(std::move(delivered));
  (void)record_delivered(worker);
}

bool Notifier::record_delivered(Worker& worker) {
  const AlertChannel& channel = config_.channels[worker.channel];
  while (!worker.unrecorded.empty()) {
    Worker::Delivered& d = worker.unrecorded.front();
    const Status settled = storage_.outbox_sent(d.ids, d.done_ms, d.status, d.history);
    if (!settled && settled.code() == Code::kUnavailable) {
      if (!d.told) {
        d.told = true;
        log::warning(
            "notifier: " + channel.name + ": " + std::to_string(d.ids.size()) +
            " alert(s) delivered, recorded once the database can be reached: " + settled.message());
      }
      return false;
    }
    if (!settled) {
      log::error("notifier: " + channel.name + ": " + settled.message());
    } else {
      std::lock_guard lock(mu_);
      for (const auto& key : d.keys) delivered_.emplace_back(key, d.done_ms);
    }
    worker.unrecorded.erase(worker.unrecorded.begin());
  }
  return true;
}

}  // namespace vigie::collector
