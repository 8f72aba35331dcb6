#pragma once
// Sends check results to the collector: POST <url>/api/v1/reports (protocol.hpp).
//
// Results go into a Spool (spool.hpp). A sending thread of its own (requests block)
// takes a batch of at most batch_max results (and batch_max_bytes, batch_max_values)
// every send_interval (at once when a full batch waits), posts it, and removes it from
// the spool only after a 2xx. A failed send is retried with the same seq after an
// exponential backoff with jitter, or after the collector's Retry-After on a 429 or 503.
// A batch the collector refuses (see judge_response) is not dropped: when the refusal
// names one result ("field": "results[3]..."), that result alone is quarantined in the
// spool, with an error log that quotes the collector's reason, and the others are sent
// again at once; otherwise (413, too large) the batch goes back to the spool and is sent
// again in halves, down to one result, which is then quarantined. Batches grow back
// (doubling) after each delivery. A refusal that names a member of the report but no
// result (agent.id...) blames no result: it is retried with backoff.
// A 401 (the token was revoked, or is unknown) stops sending with a loud error: results
// keep going to the spool, and sending resumes when the token file changes (a new
// enrollment) or the agent restarts. Nothing here ever blocks the scheduler's loop.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/report_encoding.hpp"
#include "agent/spool.hpp"
#include "common/check_result.hpp"
#include "common/http_client.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::agent {

struct ShipperOptions {
  std::string url;              // collector base URL, e.g. "https://sup.example.org:8443"
  std::string ca_file;          // PEM CA bundle for https; "": the system's store
  std::string token_file;       // file holding the agent's bearer token; "": none sent
  std::string client_cert;      // PEM client certificate for TLS; "": none
  std::string client_key;       // its PEM private key (required with client_cert)
  std::size_t batch_max = 500;  // results per report
  std::size_t batch_max_bytes = BatchLimits{}.max_bytes;    // of the results' JSON
  std::size_t batch_max_values = BatchLimits{}.max_values;  // JSON values of the results
  std::chrono::milliseconds send_interval{5000};            // results gather this long
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30'000};     // whole request, connect included
  std::chrono::milliseconds backoff_initial{1000};       // first retry after ~1 s
  std::chrono::milliseconds backoff_max{300'000};        // doubling up to ~5 min
  std::size_t gzip_above = 1024;                         // gzip bodies larger than this (bytes)
  std::chrono::milliseconds retry_after_max{3'600'000};  // a longer Retry-After is cut to this
  std::chrono::milliseconds token_recheck{5000};  // after a 401: how often the token file is read
};

// What the agent's own check reports about sending.
struct ShipperStats {
  std::size_t depth = 0;          // results in the spool
  std::int64_t oldest_ms = 0;     // the oldest one's timestamp; 0: none
  std::uint64_t dropped = 0;      // dropped by the spool since it was created
  std::uint64_t quarantined = 0;  // results refused for good, since the spool was created
  std::int64_t last_sent_ms = 0;  // last 2xx (wall clock); 0: none since the start
  bool halted = false;            // sending stopped on a 401
};

// Owns the sending thread. submit() may be called from any thread; stop() and the
// destructor from the thread that created it.
class Shipper {
 public:
  // Reads the token file and checks the CA file, then starts the sending thread.
  // kNotFound / kIoError / kInvalidArgument name the file that is wrong.
  static Result<std::unique_ptr<Shipper>> create(protocol::AgentInfo agent, ShipperOptions options,
                                                 std::unique_ptr<Spool> spool);
  ~Shipper();  // stop(0) unless stopped already
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  // Queues a result (made to fit the protocol first, see fit_to_protocol). Never
  // blocks on the network.
  void submit(CheckResult result);
  // Queues an event (an SNMP trap) the same way; it goes in the reports' `events`.
  void submit(const protocol::Event& event);

  // Any thread.
  ShipperStats stats() const;

  // Sends `request` to the collector over the shipper's own connection, with its token
  // (a managed agent's configuration requests), taking turns with the reports: it may
  // wait for a report in flight. Any thread; blocking.
  HttpReply exchange(const HttpRequest& request, std::chrono::milliseconds timeout);

  // Sends what is queued, giving up at `flush_deadline` from now (a request in flight
  // is aborted then), and stops the thread. Returns how many results were left unsent.
  std::size_t stop(std::chrono::milliseconds flush_deadline);

 private:
  struct Impl;
  explicit Shipper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One POST of a JSON body to options.url + path, with the same TLS settings and
// timeouts as reports: for one-off requests such as enrollment. Blocking.
HttpReply post_once(const ShipperOptions& options, std::string_view path,
                    const std::string& json_body, const std::string& token);

// The collector's reason in an error reply ({"error": "..."}), or the body itself,
// cut to a log line.
std::string reply_reason(const std::string& body);
// The member an error reply blames ({"field": "results[3].status"}), "" when none.
std::string reply_field(const std::string& body);
// The result a field path names: 3 for "results[3]" and "results[3].metrics[0].unit";
// nullopt for any other path ("results", "agent.id", "").
std::optional<std::size_t> result_index(std::string_view field);

// What becomes of a batch after the collector answered with `http_status` (0: no
// answer at all: DNS, connection, TLS or timeout failure).
enum class Verdict {
  kDelivered,  // 2xx: stored (or a replay the collector already had)
  kRetry,      // no answer, 1xx/3xx, 5xx, and the 4xx that do not depend on the batch's
               // content: 401/403 (token), 404/405 (url), 408, 415, 429...
  kRefused,    // 400, 413, 422: the batch, as it is, will never be accepted (see above)
};
Verdict judge_response(long http_status);

// The wait before retry number `attempt` (1 = first retry): initial * 2^(attempt-1),
// at most `max`, with "equal jitter": half of it fixed, the other half scaled by
// `random` in [0, 1), so agents that failed together do not retry together.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, double random);

}  // namespace vigie::agent
