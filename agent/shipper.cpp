#include "agent/shipper.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "common/json_parse.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"

namespace vigie::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kReportsPath = "/api/v1/reports";
constexpr std::size_t kMaxReasonBytes = 500;  // of a reason quoted in a log line
constexpr std::size_t kMaxTokenBytes = 4096;
// How long batches stay smaller than one the collector refused as too large.
constexpr std::chrono::hours kRefusedSizeMemory{1};

// The check name in a result's protocol JSON (as spooled), for a log line; "?" when none.
std::string result_name(std::string_view result) {
  const auto json = nlohmann::json::parse(result, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return "?";
  const auto name = json.find("name");
  return name != json.end() && name->is_string() ? name->get<std::string>() : "?";
}

std::string seconds_text(milliseconds d) {
  const auto tenths = (d.count() + 50) / 100;
  return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") +
         " s";
}

Result<std::string> read_token(const std::string& path) {
  auto text = read_file(path, kMaxTokenBytes);
  if (!text) return text.status().with_context("token file");
  // A secret anyone on the box can read is a secret no more: refuse it.
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return Status{Code::kPermissionDenied, "token file " + path + ": readable by others (mode " +
                                               mode + "): chmod 600 " + path +
                                               " (vigie-agent enroll writes it so)"};
  }
  std::string_view token = *text;
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) {
    token.remove_prefix(1);
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.remove_suffix(1);
  }
  if (token.empty()) return Status::invalid("token file " + path + ": empty");
  for (unsigned char c : token) {
    if (c <= ' ' || c >= 0x7f) {
      return Status::invalid("token file " + path +
                             ": the token may only hold printable ASCII characters");
    }
  }
  return std::string(token);
}

// Whether a refusal is about this machine's clock (a result's ts ahead of the
// collector's: {"field": "results[N].ts", "skew_ms": ...}), not about the batch.
bool clock_refused(long http_status, const std::string& body) {
  if (http_status != 400) return false;
  const auto json = parse_json_or_discarded(body);
  if (!json.is_object() || !json.contains("skew_ms") || !json.contains("field")) return false;
  const auto& field = json["field"];
  return field.is_string() && field.get<std::string>().starts_with("results[") &&
         field.get<std::string>().ends_with("].ts");
}

// The reason in a collector's error reply: {"error": "..."} or {"error": {"message":
// "..."}}, else the reply itself.
std::string collector_reason(const std::string& body) {
  const auto json = parse_json_or_discarded(body);
  std::string reason = body;
  if (json.is_object() && json.contains("error")) {
    const auto& error = json["error"];
    if (error.is_string()) {
      reason = error.get<std::string>();
    } else if (error.is_object() && error.contains("message") && error["message"].is_string()) {
      reason = error["message"].get<std::string>();
    }
  }
  if (reason.empty()) return "(no reason given)";
  return cut_utf8(std::move(reason), kMaxReasonBytes);
}

Result<std::unique_ptr<HttpClient>> make_client(const ShipperOptions& options,
                                                std::string_view path, const std::string& token) {
  return HttpClient::create({.url = options.url,
                             .ca_file = options.ca_file,
                             .client_cert = options.client_cert,
                             .client_key = options.client_key,
                             .token = token,
                             .connect_timeout = options.connect_timeout,
                             // A managed agent's configuration comes on this connection.
                             .max_reply_bytes = 1024 * 1024},
                            path);
}

}  // namespace

struct Shipper::Impl {
  Impl(protocol::AgentInfo agent_info, ShipperOptions shipper_options,
       std::unique_ptr<Spool> result_spool, std::unique_ptr<HttpClient> client)
      : agent(std::move(agent_info)),
        options(std::move(shipper_options)),
        spool(std::move(result_spool)),
        http(std::move(client)) {}

  void run() {
    try {
      loop();
    } catch (const std::exception& e) {  // thread entry: nowhere else to go
      log::error(std::string("shipper: stopped sending reports: ") + e.what());
    }
  }

  void loop();
  // After a 401: true (and sending resumes) when the token file holds a new token.
  bool reread_token();
  // Sends the next batch, if any; returns when to try again and updates `failures`.
  Clock::time_point send_next(bool flushing, Clock::time_point flush_deadline, int& failures);

  const protocol::AgentInfo agent;
  const ShipperOptions options;
  const std::unique_ptr<Spool> spool;
  std::unique_ptr<HttpClient> http;  // replaced when a new token is read after a 401
  std::string token;
  std::mt19937_64 random{std::random_device{}()};
  std::atomic<std::int64_t> last_sent_ms{0};
  std::atomic<bool> halted{false};  // a 401: sending stopped until the token changes
  // Results per batch now: batch_max, halved when the collector finds a batch too
  // large, doubled back after each delivery, but kept for an hour under the size the
  // collector refused. Sending thread only.
  std::size_t batch_cap = 0;
  std::size_t refused_size = 0;  // results in the smallest batch refused as too large
  Clock::time_point refused_at;

  // Held while `http` is in use: the sending thread and exchange() share the connection.
  std::mutex http_mutex;
  std::mutex mutex;  // guards stopping and flush_deadline
  std::condition_variable wake;
  bool stopping = false;
  Clock::time_point flush_deadline;
  std::thread thread;
};

void Shipper::Impl::loop() {
  int failures = 0;  // consecutive failed sends of the batch at the head of the spool
  Clock::time_point next_try = Clock::now() + options.send_interval;
  while (true) {
    std::unique_lock lock(mutex);
    if (!stopping) {
      wake.wait_until(lock, next_try, [&] {
        return stopping || (failures == 0 && spool->size() >= options.batch_max);
      });
    }
    if (stopping) {
      // Flushing: send at once rather than at the next send_interval, but keep the
      // backoff of a failing collector, and give up at the deadline.
      if (spool->size() == 0 || Clock::now() >= flush_deadline) return;
      if (failures > 0) {
        if (next_try >= flush_deadline) return;
        wake.wait_until(lock, next_try, [] { return false; });
      }
    }
    const bool flushing = stopping;
    const Clock::time_point deadline = flush_deadline;
    if (halted.load(std::memory_order_relaxed)) {
      if (flushing) return;
      lock.unlock();
      next_try = Clock::now() + options.token_recheck;
      if (!reread_token()) continue;
      failures = 0;
      lock.lock();
      if (stopping) return;
      lock.unlock();
    } else {
      lock.unlock();
    }
    next_try = send_next(flushing, deadline, failures);
  }
}

bool Shipper::Impl::reread_token() {
  if (options.token_file.empty()) return false;
  auto read = read_token(options.token_file);
  if (!read || *read == token) return false;
  auto client = make_client(options, kReportsPath, *read);
  if (!client) {
    log::error("shipper: " + client.status().message());
    return false;
  }
  {
    std::lock_guard use(http_mutex);
    std::lock_guard lock(mutex);
    http = std::move(*client);
  }
  token = std::move(*read);
  halted.store(false, std::memory_order_relaxed);
  log::notice("shipper: " + options.token_file + " holds a new token: sending resumes");
  return true;
}

Clock::time_point Shipper::Impl::send_next(bool flushing, Clock::time_point deadline,
                                           int& failures) {
  const auto retry_later = [&] {
    ++failures;
    const milliseconds delay =
        backoff_delay(failures, options.backoff_initial, options.backoff_max,
                      std::uniform_real_distribution<double>(0.0, 1.0)(random));
    return std::pair(Clock::now() + delay, delay);
  };
  if (batch_cap == 0) batch_cap = std::max<std::size_t>(options.batch_max, 1);
  // A full batch waits (a backlog, even of smaller batches than batch_max): at once.
  const auto next_send = [&] {
    failures = 0;
    return spool->size() >= batch_cap ? Clock::now() : Clock::now() + options.send_interval;
  };

  auto next = spool->next_batch(BatchLimits{.max_results = batch_cap,
                                            .max_bytes = options.batch_max_bytes,
                                            .max_values = options.batch_max_values});
  if (!next) {
    const auto [when, delay] = retry_later();
    log::error("shipper: " + next.status().message() + "; retry in " + seconds_text(delay));
    return when;
  }
  if (!next->has_value()) return next_send();
  const Batch& batch = **next;
  const std::string what =
      "batch seq " + std::to_string(batch.seq) + " (" + std::to_string(batch.results.size()) +
      " results" +
      (batch.events.empty() ? std::string()
                            : ", " + std::to_string(batch.events.size()) + " events") +
      ")";

  protocol::Report head;  // the report without its results and events, already encoded
  head.agent = agent;
  head.seq = batch.seq;
  // What the collector shows as this agent's health: its clock and its backlog.
  head.sent_ms = wall_ms();
  protocol::SpoolInfo backlog;
  backlog.depth = static_cast<std::int64_t>(spool->size());  // this batch included
  backlog.oldest_ms = batch.oldest_ms;
  backlog.dropped = static_cast<std::int64_t>(spool->dropped());
  head.spool = backlog;
  const Body body =
      encode_body(assemble_report(head, batch.results, batch.events), options.gzip_above);
  {
    // stop() may set an abort time on the client in use: it must not be swapped then.
    std::lock_guard lock(mutex);
    if (stopping) http->abort_after(flush_deadline);
  }
  milliseconds timeout = options.request_timeout;
  if (flushing) {
    timeout = std::min(timeout, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  }
  HttpReply reply;
  {
    std::lock_guard use(http_mutex);
    reply = http->post(body.data, body.gzipped, timeout);
  }

  if (clock_refused(reply.status, reply.body)) {
    // The results are fine, the clock is not: keep them until it is right.
    const auto [when, delay] = retry_later();
    log::error("shipper: the collector refuses " + what + ": " + collector_reason(reply.body) +
               "; the batch is kept, retry in " + seconds_text(delay));
    return when;
  }
  switch (judge_response(reply.status)) {
    case Verdict::kDelivered:
      if (failures > 0) {
        log::notice("shipper: " + what + " delivered after " + std::to_string(failures) +
                    " failed attempts");
      }
      spool->remove(batch.seq);
      last_sent_ms.store(wall_ms(), std::memory_order_relaxed);
      if (refused_size > 0 && Clock::now() - refused_at > kRefusedSizeMemory) refused_size = 0;
      batch_cap = std::min(std::max<std::size_t>(options.batch_max, 1), batch_cap * 2);
      if (refused_size > 1) batch_cap = std::min(batch_cap, refused_size - 1);
      return next_send();
    case Verdict::kRefused: {
      const std::string reason =
          "HTTP " + std::to_string(reply.status) + ": " + collector_reason(reply.body);
      const std::string field = reply_field(reply.body);
      const auto index = result_index(field);
      // A field naming a result or an event blames an item, set apart below; another
      // member (agent.id, protocol) blames none: keep the batch.
      if (!field.empty() && !index && !field.starts_with("results") &&
          !field.starts_with("events")) {
        const auto [when, delay] = retry_later();
        log::error("shipper: the collector refuses " + what + " for its " + field + " (" + reason +
                   "): no result is to blame, the batch is kept; retry #" +
                   std::to_string(failures) + " in " + seconds_text(delay));
        return when;
      }
      if (index && *index < batch.results.size()) {
        log::error("shipper: the collector REFUSED result " + std::to_string(*index) + " of " +
                   what + " (check " + result_name(batch.results[*index]) + ") with " + reason +
                   "; that result is quarantined, never sent again (vigie-agent spool shows "
                   "it); the others are sent again");
        spool->quarantine(batch.seq, *index, reason);
        failures = 0;
        return Clock::now();
      }
      // Results and events (traps) share the spool's rows: halving isolates either.
      const std::size_t rows = batch.results.size() + batch.events.size();
      if (rows > 1) {
        batch_cap = std::max<std::size_t>(1, rows / 2);
        if (refused_size == 0 || rows < refused_size) refused_size = rows;
        refused_at = Clock::now();
        log::warning("shipper: the collector refused " + what + " with " + reason +
                     "; its results are sent again in batches of at most " +
                     std::to_string(batch_cap));
        spool->release(batch.seq);
        failures = 0;
        return Clock::now();
      }
      if (batch.results.empty()) {
        // An event alone that can never be accepted: kept, it would block every report.
        log::error("shipper: the collector REFUSED " + what + " (an event) with " + reason +
                   "; the event is dropped");
        spool->remove(batch.seq);
        return next_send();
      }
      log::error("shipper: the collector REFUSED " + what + " (check " +
                 result_name(batch.results.front()) + ") with " + reason +
                 "; the result is quarantined, never sent again (vigie-agent spool shows it)");
      spool->quarantine(batch.seq, 0, reason);
      return next_send();
    }
    case Verdict::kRetry: break;
  }
  const std::string why = reply.status == 0 ? reply.error
                                            : "HTTP " + std::to_string(reply.status) + ": " +
                                                  collector_reason(reply.body);
  if (reply.status == 401) {
    ++failures;  // keeps a full spool from waking the loop before the recheck
    halted.store(true, std::memory_order_relaxed);
    log::error("shipper: THE COLLECTOR REJECTS THIS AGENT'S TOKEN (" + why +
               "): sending STOPS; results are kept in the spool. Enroll the agent again "
               "(vigie-agent enroll), which rewrites " +
               options.token_file + ": sending resumes when that file changes.");
    return Clock::now() + options.token_recheck;
  }
  if ((reply.status == 429 || reply.status == 503) && reply.retry_after.count() > 0) {
    ++failures;
    // Not earlier than asked; a little later at random, so that the agents told the
    // same moment do not all come back at once.
    const milliseconds asked = std::min<milliseconds>(reply.retry_after, options.retry_after_max);
    const milliseconds delay =
        asked + milliseconds(static_cast<milliseconds::rep>(
                    static_cast<double>(asked.count()) * 0.1 *
                    std::uniform_real_distribution<double>(0.0, 1.0)(random)));
    log::warning("shipper: sending " + what + " to " + options.url + " failed: " + why +
                 "; retry #" + std::to_string(failures) + " in " + seconds_text(delay) +
                 " as the collector asked (Retry-After)");
    return Clock::now() + delay;
  }
  const auto [when, delay] = retry_later();
  log::warning("shipper: sending " + what + " to " + options.url + " failed: " + why + "; retry #" +
               std::to_string(failures) + " in " + seconds_text(delay));
  return when;
}

Shipper::Shipper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Shipper::~Shipper() { stop(milliseconds(0)); }

Result<std::unique_ptr<Shipper>> Shipper::create(protocol::AgentInfo agent, ShipperOptions options,
                                                 std::unique_ptr<Spool> spool) {
  std::string token;
  if (!options.token_file.empty()) {
    auto read = read_token(options.token_file);
    if (!read) return read.status();
    token = std::move(*read);
  }
  if (!options.ca_file.empty()) {
    auto ca = read_file(options.ca_file, 16 * 1024 * 1024);
    if (!ca) return ca.status().with_context("CA file");
  }
  if (!options.client_cert.empty()) {
    auto cert = read_file(options.client_cert, 1024 * 1024);
    if (!cert) return cert.status().with_context("client certificate");
    auto key = read_file(options.client_key, 1024 * 1024);
    if (!key) return key.status().with_context("client key");
  }
  auto http = make_client(options, kReportsPath, token);
  if (!http) return http.status();
  auto impl = std::make_unique<Impl>(std::move(agent), std::move(options), std::move(spool),
                                     std::move(*http));
  impl->token = std::move(token);
  Impl* raw = impl.get();
  std::unique_ptr<Shipper> shipper(new Shipper(std::move(impl)));
  raw->thread = std::thread([raw] { raw->run(); });
  return shipper;
}

void Shipper::submit(const protocol::Event& event) {
  impl_->spool->add(event);
  if (impl_->spool->size() >= impl_->options.batch_max) {
    { std::lock_guard lock(impl_->mutex); }
    impl_->wake.notify_one();
  }
}

void Shipper::submit(CheckResult result) {
  impl_->spool->add(fit_to_protocol(std::move(result)));
  if (impl_->spool->size() >= impl_->options.batch_max) {
    // Taking the mutex orders this with the sender's check-then-wait: no lost wakeup.
    { std::lock_guard lock(impl_->mutex); }
    impl_->wake.notify_one();
  }
}

std::size_t Shipper::stop(milliseconds flush_deadline) {
  if (impl_->thread.joinable()) {
    const auto deadline = Clock::now() + flush_deadline;
    {
      std::lock_guard lock(impl_->mutex);
      impl_->stopping = true;
      impl_->flush_deadline = deadline;
    }
    {
      std::lock_guard lock(impl_->mutex);
      impl_->http->abort_after(deadline);
    }
    impl_->wake.notify_one();
    impl_->thread.join();
    if (const std::size_t left = impl_->spool->size(); left > 0) {
      log::warning("shipper: stopped with " + std::to_string(left) + " results not sent");
    }
  }
  return impl_->spool->size();
}

HttpReply Shipper::exchange(const HttpRequest& request, milliseconds timeout) {
  std::lock_guard use(impl_->http_mutex);
  return impl_->http->send(request, timeout);
}

ShipperStats Shipper::stats() const {
  ShipperStats stats;
  stats.depth = impl_->spool->size();
  stats.oldest_ms = impl_->spool->oldest_ms();
  stats.dropped = impl_->spool->dropped();
  stats.quarantined = impl_->spool->quarantined();
  stats.last_sent_ms = impl_->last_sent_ms.load(std::memory_order_relaxed);
  stats.halted = impl_->halted.load(std::memory_order_relaxed);
  return stats;
}

HttpReply post_once(const ShipperOptions& options, std::string_view path,
                    const std::string& json_body, const std::string& token) {
  auto http = make_client(options, path, token);
  if (!http) return {0, {}, http.status().message()};
  return (*http)->post(json_body, /*gzipped=*/false, options.request_timeout);
}

std::string reply_reason(const std::string& body) { return collector_reason(body); }

std::string reply_field(const std::string& body) {
  const auto json = parse_json_or_discarded(body);
  if (!json.is_object()) return {};
  const auto field = json.find("field");
  if (field == json.end() || !field->is_string()) return {};
  return cut_utf8(field->get<std::string>(), kMaxReasonBytes);
}

std::optional<std::size_t> result_index(std::string_view field) {
  constexpr std::string_view kPrefix = "results[";
  if (!field.starts_with(kPrefix)) return std::nullopt;
  field.remove_prefix(kPrefix.size());
  const std::size_t close = field.find(']');
  if (close == 0 || close == std::string_view::npos || close > 9) return std::nullopt;
  std::size_t index = 0;
  for (const char c : field.substr(0, close)) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<std::size_t>(c - '0');
  }
  const std::string_view rest = field.substr(close + 1);
  if (!rest.empty() && rest.front() != '.' && rest.front() != '[') return std::nullopt;
  return index;
}

Verdict judge_response(long http_status) {
  if (http_status >= 200 && http_status < 300) return Verdict::kDelivered;
  // Malformed, too large, unprocessable: about the batch's content. Any other 4xx says
  // nothing about it (a token, a url, an encoding a proxy refuses, a collector asking
  // us to slow down): an operator fixes that, and dropping data for it would lose it all.
  if (http_status == 400 || http_status == 413 || http_status == 422) return Verdict::kRefused;
  return Verdict::kRetry;
}

milliseconds backoff_delay(int attempt, milliseconds initial, milliseconds max, double random) {
  milliseconds base = std::min(initial, max);
  for (int i = 1; i < attempt && base < max; ++i) base = std::min(base * 2, max);
  const milliseconds half = base / 2;
  const double r = std::clamp(random, 0.0, 1.0);
  return half + milliseconds(
                    static_cast<milliseconds::rep>(static_cast<double>((base - half).count()) * r));
}

}  // namespace vigie::agent
