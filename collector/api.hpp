#pragma once
// The collector's HTTP API as a table of handlers (api.cpp): a parsed request in, a
// response out, no socket in sight. The server calls handle() from a worker thread.
//
// Agents' configurations kept centrally: GET /api/v1/config (an agent's own, with an
// ETag), POST /api/v1/config/status (what it runs), and /api/v1/configs for admins
// (docs/protocol.md).
//
// Every route but /healthz and /api/v1/enroll needs "Authorization: Bearer <token>";
// the table says which role each route needs (tokens.hpp). 401: no, unknown, revoked
// or expired token; 403: a token of the wrong role, or an agent token used for
// another agent.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "collector/central_config.hpp"
#include "collector/http.hpp"
#include "collector/metrics.hpp"
#include "collector/monitor.hpp"
#include "collector/notifier.hpp"
#include "collector/rate_limit.hpp"
#include "collector/storage.hpp"
#include "common/protocol.hpp"

namespace vigie::collector {

struct ApiOptions {
  // Largest decompressed report body, bytes (default 32 MiB). The compressed body is
  // bounded by the server (ServerOptions::max_body).
  std::size_t max_inflated_body = 32 * 1024 * 1024;
  protocol::Limits limits;
  std::function<std::int64_t()> now_ms;  // wall clock; vigie::wall_ms when empty
  // The longest GET /api/v1/events waits for an event (default 25 s).
  std::chrono::milliseconds max_poll{25'000};
  // For /metrics; null when no alerts are configured. Must outlive the Api.
  const Notifier* notifier = nullptr;
  // Reports per second each agent may send (429 and Retry-After past it).
  RateLimit agent_rate;
  // Enrollment attempts per source address (429 and Retry-After past it): an
  // enrollment is anonymous work (a token hashed and looked up, a write), so guessing
  // is slow. Default 2 a second, 30 at once (a site's agents installed together).
  RateLimit enroll_rate{.per_second = 2, .burst = 30};
  // A result timestamped further ahead of the collector's clock is refused (400 naming
  // results[i].ts and the skew): a clock in the future would freeze its check, since
  // results older than the last one change nothing. Default 5 minutes.
  std::chrono::milliseconds max_clock_ahead{300'000};
  // Checks one agent may have (0: no bound; default 50,000, a central poller's
  // included): a report that would create more is refused with 413 naming the limit.
  std::size_t max_checks_per_agent = 50'000;
};

class Api {
 public:
  // `storage` and `monitor` must outlive the Api.
  Api(Storage& storage, Monitor& monitor, ApiOptions options);

  // Routes the request and calls `respond` exactly once, possibly later and from
  // another thread (ingest answers after the storage commit).
  void handle(const HttpRequest& request, Respond respond) const;
  // Whether an Authorization header carries a token that is known, not revoked and
  // not expired (ServerOptions::authorize: before a large body is read). Any thread.
  bool token_valid(const std::string& authorization) const;

 private:
  struct Route;

  // The caller's token, or the error response to send.
  Result<TokenRecord> authenticate(const HttpRequest& request, Role need) const;

  using Handler = void (Api::*)(const HttpRequest&, const TokenRecord&, Respond) const;
  void post_report(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void post_enroll(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_overview(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_checks(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_problems(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_check(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_sites(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_site(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_agents(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_events(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void post_ack(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void delete_ack(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_downtimes(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void post_downtime(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void delete_downtime(const HttpRequest& request, const TokenRecord& caller,
                       Respond respond) const;
  void get_audit(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_notifications(const HttpRequest& request, const TokenRecord& caller,
                         Respond respond) const;
  void get_config(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void post_config_status(const HttpRequest& request, const TokenRecord& caller,
                          Respond respond) const;
  void get_configs(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void put_configs(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void delete_configs(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void post_configs_diff(const HttpRequest& request, const TokenRecord& caller,
                         Respond respond) const;
  // PUT, DELETE and diff: the change the request asks for, stored unless `dry_run`.
  void change_configs(const HttpRequest& request, const TokenRecord& caller, bool remove,
                      bool dry_run, Respond respond) const;
  void get_health(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_metrics(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  void get_series(const HttpRequest& request, const TokenRecord& caller, Respond respond) const;
  // The checks `filter` selects, of one `family` ("backup") unless it is empty.
  void list(const CheckFilter& filter, const std::string& family, Respond respond) const;

  Storage& storage_;
  Monitor& monitor_;
  mutable CentralConfigs configs_;
  mutable RateLimiter limiter_;
  mutable RateLimiter enroll_limiter_;  // by source address
  mutable std::atomic<std::int64_t> rate_limited_{0};
  mutable RequestMetrics requests_;
  ApiOptions options_;
};

}  // namespace vigie::collector
