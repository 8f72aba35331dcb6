#pragma once
// Live changes across collectors sharing one database. A writer that commits events,
// acknowledgements or downtimes also sends a notification on kChannel in the same
// transaction (pg_notify: delivered on commit, never for a rollback), naming the
// collector that made it and the agents whose states it changed (payload()), so that
// the others read those agents again rather than the whole fleet. Each collector keeps
// one Listener: a connection of its own that LISTENs on the channel, read by a thread
// that waits on the connection's socket (poll; no busy loop) and calls `changed` for
// the notifications of other collectors, those read at once merged into one call.
// When the connection drops it is made again with a growing delay (0.1 s up to 5 s),
// and `changed` is called with `all` once it is back: what was committed meanwhile is
// then read again from the database, so nothing is missed.
//
// The same connection listens on the schema's channel (schema.hpp): each migration
// step notifies it, and once listening (at each connection) the Listener reads the
// database's version; both are passed to `migrated`, so that a collector hears within
// a moment that a newer one migrated the database under it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "collector/postgres/stop_signal.hpp"
#include "collector/storage.hpp"

namespace vigie::collector::pg {

inline constexpr const char* kChannel = "vigie_changes";

// A notification's payload: the sender's name, then a line per agent, or a line "*"
// when `changed.all` or when the names would not fit in a notification (PostgreSQL
// takes payloads under 8000 bytes).
std::string payload(std::string_view self, const Storage::OthersChanged& changed);
// What a payload says, or nothing when `self` sent it. A payload of one line (a
// sender's name alone) says `all`.
std::optional<Storage::OthersChanged> read_payload(std::string_view payload, std::string_view self);

class Listener {
 public:
  // `self`: this collector's name in the notifications (its own are ignored).
  using Changed = std::function<void(const Storage::OthersChanged&)>;
  // The database's schema version, as read or notified (may be the one it knows).
  using Migrated = std::function<void(std::int64_t version)>;
  Listener(std::string conninfo, std::string self, Changed changed, Migrated migrated);
  ~Listener();  // stops the thread
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void run();

  const std::string conninfo_;
  const std::string self_;
  const Changed changed_;
  const Migrated migrated_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace vigie::collector::pg
