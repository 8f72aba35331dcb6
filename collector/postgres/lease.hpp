#pragma once
// The lead among collectors sharing one database: the duties that only one of them may
// run at a time (staleness and lost-agent sweeps, unreachable sites, expiries,
// housekeeping) run on the collector that holds vigie's advisory lock
// (pg_try_advisory_lock(kLeadLock)) on a connection of its own (application_name
// vigie-lease). A thread of the Lease holds that connection:
//
// - not leading, it tries to take the lock every `lease`;
// - on taking it, it bumps the term of table vigie_lead (its fencing token: the duties'
//   transactions check it, writes.hpp), in a transaction opened as a writer's (the
//   migrations' lock shared, the schema's version read: none taken on a database
//   migrated under this collector), then leads;
// - leading, it confirms every third of the lease, with a cheap query answered within
//   a third of the lease, that its session (hence the lock) and its term still stand,
//   and watches the connection's socket between confirmations;
// - it stops leading (fences itself) the moment the connection breaks, a confirmation
//   fails or the writer finds the lead's term gone (give_up), and held() turns false by itself once
//   no confirmation came for a whole lease, even if the thread were stuck: a collector cut off from
//   the server stops its duties within the lease, while the server frees the lock of a dead session
//   (a killed collector, a terminated backend) at once, so another leads within twice the lease.
//
// Each change of lead is logged and passed to `changed`, on the Lease's thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "collector/postgres/pq.hpp"
#include "collector/postgres/stop_signal.hpp"
#include "common/status.hpp"

namespace vigie::collector::pg {

// vigie's advisory lock key for the lead (per transaction, the migrations take 7612001,
// the partitions 7612002, db copy 7612004, the rollup packs' writers 7612005).
inline constexpr std::int64_t kLeadLock = 7612003;

class Lease {
 public:
  // `self`: this collector, as written in vigie_lead.holder. `migrated`: called (on the
  // Lease's thread) with the database's schema version when it is not this collector's
  // as the Lease would take a term; it then takes none, and competes again.
  Lease(std::string conninfo, std::string self, std::chrono::milliseconds lease,
        std::function<void(bool leading)> changed,
        std::function<void(std::int64_t version)> migrated = {});
  ~Lease();  // stops the thread, and leading (the connection closed frees the lock)
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Whether this collector leads now: the lock taken and confirmed within the lease.
  bool held() const;
  // The term it leads in (vigie_lead.term); 0 when it does not lead.
  std::int64_t term() const;
  // The database refused `term` to a duty's transaction (vigie_lead holds another):
  // if it still leads in that term, the Lease's thread stops leading at once, closes
  // its connection (the lock goes with it) and competes again, rather than leading
  // on until its next confirmation while its duties are refused. Any thread.
  void give_up(std::int64_t term);
  // Stops leading and competing for good, without waiting for the Lease's thread (which
  // may be the caller): for a collector that must run no duty any more (a database
  // migrated under it). `why` is logged if it led. Any thread.
  void retire(std::string why);

 private:
  void run();
  // Waits up to `ms` for the stop pipe or the connection's socket (-1: none); false
  // when stopping.
  bool pause(std::chrono::milliseconds ms, int socket = -1);
  void lead(std::int64_t term);
  // Bumps vigie_lead's term, in a transaction opened as a writer's (schema.hpp): refused
  // (kFailedPrecondition, `migrated_` told) when the schema is not this collector's.
  Result<std::int64_t> take_term(pq::Conn& conn, std::chrono::milliseconds step);
  void fence(const std::string& why);
  // Why the thread stops: retire()'s reason, or the collector stopping.
  std::string stopping_reason();

  const std::string conninfo_;
  const std::string self_;
  const std::chrono::milliseconds lease_;
  const std::function<void(bool)> changed_;
  const std::function<void(std::int64_t)> migrated_;
  std::atomic<std::int64_t> term_{0};
  // steady_clock nanoseconds of the last confirmation.
  std::atomic<std::int64_t> confirmed_{0};
  // The term give_up() was called for, until the Lease's thread takes it (0: none).
  std::atomic<std::int64_t> give_up_{0};
  std::mutex retired_mu_;
  std::string retired_;  // retire()'s `why`; "" until then
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace vigie::collector::pg
