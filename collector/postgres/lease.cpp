#include "collector/postgres/lease.hpp"

#include <algorithm>
#include <memory>

#include "collector/postgres/pq.hpp"
#include "collector/postgres/schema.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector::pg {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t ticks() { return Clock::now().time_since_epoch().count(); }

}  // namespace

Lease::Lease(std::string conninfo, std::string self, std::chrono::milliseconds lease,
             std::function<void(bool)> changed, std::function<void(std::int64_t)> migrated)
    : conninfo_(std::move(conninfo)),
      self_(std::move(self)),
      lease_(std::max(lease, std::chrono::milliseconds(30))),
      changed_(std::move(changed)),
      migrated_(std::move(migrated)) {
  if (!stop_.ready()) {
    log::error("lead: cannot make a pipe; this collector never leads");
    return;
  }
  thread_ = std::thread([this] { run(); });
}

Lease::~Lease() {
  stop_.stop();
  if (thread_.joinable()) thread_.join();
}

bool Lease::held() const {
  if (term_.load() == 0) return false;
  const auto since = Clock::duration(ticks() - confirmed_.load());
  return since < lease_;
}

std::int64_t Lease::term() const { return held() ? term_.load() : 0; }

void Lease::give_up(std::int64_t term) {
  if (term == 0 || term_.load() != term) return;
  give_up_ = term;
  stop_.wake();
}

void Lease::retire(std::string why) {
  {
    std::lock_guard lock(retired_mu_);
    if (!retired_.empty()) return;
    retired_ = std::move(why);
  }
  stop_.stop();
}

bool Lease::pause(std::chrono::milliseconds ms, int socket) {
  (void)stop_.wait(ms, socket);
  stop_.clear();  // a give_up() that came too late for its term: one wait cut short at most
  return !stop_.stopping();
}

void Lease::lead(std::int64_t term) {
  confirmed_ = ticks();
  term_ = term;
  log::notice("lead: this collector leads (term " + std::to_string(term) +
              "): it runs the sweeps and housekeeping");
  changed_(true);
}

void Lease::fence(const std::string& why) {
  if (term_.exchange(0) == 0) return;
  log::warning("lead: this collector no longer leads: " + why);
  changed_(false);
}

void Lease::run() {
  // Statements of the lease's connection answer within a third of the lease, so that
  // a confirmation, waited for every third, fails before the lease ends.
  const auto step = std::max(lease_ / 3, std::chrono::milliseconds(10));
  bool warned = false;
  while (!stop_.stopping()) {
    auto made = pq::Conn::connect(conninfo_);
    if (!made) {
      if (!warned) log::warning("lead: " + made.status().message() + "; trying again");
      warned = true;
      if (!pause(lease_)) break;
      continue;
    }
    std::unique_ptr<pq::Conn> conn = std::move(*made);
    Status s = conn->exec("SET application_name = 'vigie-lease'; SET statement_timeout = " +
                          std::to_string(step.count()));
    warned = false;
    while (s && !stop_.stopping()) {
      if (term_.load() == 0) {
        auto taken = conn->query_within("SELECT pg_try_advisory_lock($1)",
                                        pq::Params().add(kLeadLock), step);
        if (!taken) {
          s = taken.status();
          break;
        }
        if (taken->text(0, 0) != "t") {
          // Another collector leads; a connection that breaks meanwhile is made again.
          if (!pause(lease_, conn->socket())) break;
          if (!conn->consume_input() || !conn->ok()) s = Status::unavailable("connection lost");
          continue;
        }
        auto term = take_term(*conn, step);
        if (!term) {
          s = term.status();
          break;  // the connection is closed below, which frees the lock
        }
        lead(*term);
        continue;
      }
      // Leading: the socket watched until the next confirmation is due.
      const auto due = Clock::now() + step;
      while (Clock::now() < due && !stop_.stopping()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
        if (!pause(std::max(left, std::chrono::milliseconds(1)), conn->socket())) break;
        if (give_up_.exchange(0) == term_.load()) {
          s = Status(Code::kFailedPrecondition,
                     "its duties were refused: the database holds another term than its " +
                         std::to_string(term_.load()));
          break;
        }
        if (!conn->consume_input() || !conn->ok()) {
          s = Status::unavailable("the lease's connection was lost");
          break;
        }
      }
      if (!s || stop_.stopping()) break;
      auto confirmed =
          conn->query_within("SELECT term FROM vigie_lead WHERE id = 1", pq::Params(), step);
      if (!confirmed) {
        s = confirmed.status();
        break;
      }
      if (confirmed->size() != 1 || confirmed->int64(0, 0) != term_.load()) {
        s = Status(Code::kFailedPrecondition, "another collector took the lead");
        break;
      }
      confirmed_ = ticks();
    }
    // The duties stop before the connection goes (and with it the lock, if the server
    // still holds it for this collector): never two leaders at once.
    if (term_.load() != 0)
      fence(stop_.stopping() ? stopping_reason() : s ? std::string("stopped") : s.message());
    conn.reset();
    if (stop_.stopping()) break;
    if (!s) log::warning("lead: " + s.message() + "; connecting again");
    if (!pause(std::min(lease_, std::chrono::milliseconds(1000)))) break;
  }
  if (term_.load() != 0) fence(stopping_reason());
}

Result<std::int64_t> Lease::take_term(pq::Conn& conn, std::chrono::milliseconds step) {
  // In a transaction opened as a writer's (begin_writes(): the migrations' lock shared,
  // then the version read), each statement answered within `step`: the term is a write
  // outside the writer, not to be made on a schema this collector does not know.
  Status s = conn.query_within("BEGIN", pq::Params(), step).status();
  if (s)
    s = conn.query_within("SELECT pg_advisory_xact_lock_shared($1)", pq::Params().add(kSchemaLock),
                          step)
            .status();
  auto version = s ? conn.query_within("SELECT version FROM vigie_schema", pq::Params(), step)
                   : Result<pq::Rows>(s);
  if (version && version->size() != 1) version = Status::internal("vigie_schema holds no version");
  if (version && version->int64(0, 0) != kSchemaVersion) {
    const std::int64_t found = version->int64(0, 0);
    (void)conn.query_within("ROLLBACK", pq::Params(), step);
    if (migrated_) migrated_(found);
    return Status(Code::kFailedPrecondition, "the database's schema version is " +
                                                 std::to_string(found) + ", not " +
                                                 std::to_string(kSchemaVersion));
  }
  auto term = version ? conn.query_within(
                            "UPDATE vigie_lead SET term = term + 1, holder = $1, since_ms = $2"
                            " WHERE id = 1 RETURNING term",
                            pq::Params().add(self_).add(wall_ms()), step)
                      : Result<pq::Rows>(version.status());
  if (term && term->size() != 1) term = Status::internal("no row in vigie_lead");
  if (term) s = conn.query_within("COMMIT", pq::Params(), step).status();
  if (!term || !s) return term ? s : term.status();
  return term->int64(0, 0);
}

std::string Lease::stopping_reason() {
  std::lock_guard lock(retired_mu_);
  return retired_.empty() ? std::string("the collector stops") : retired_;
}

}  // namespace vigie::collector::pg
