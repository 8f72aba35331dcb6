#pragma once
// The outbox table of the collector database (Storage's outbox operations, SQLite
// side). Rows are inserted with the rest of a StateDelta (ingest.hpp); these are the
// reads and the writes of delivery. Writes run on the writer's connection, inside its
// transaction; reads on any connection.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "collector/state.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

// Whether a row of `channel` not settled is due, as Storage::claim_outbox says (any
// connection).
Result<bool> outbox_has_due(sqlite3* db, const std::string& channel, std::int64_t now_ms,
                            std::int64_t due_by_ms);
// Storage::renew_outbox's writes.
Result<std::vector<std::int64_t>> renew_outbox_rows(sqlite3* db,
                                                    const std::vector<std::int64_t>& ids,
                                                    std::int64_t held_until_ms,
                                                    std::int64_t until_ms);
// Storage::claim_outbox's writes.
Result<std::vector<OutboxRow>> claim_outbox_rows(sqlite3* db, const std::string& channel,
                                                 std::int64_t now_ms, std::int64_t due_by_ms,
                                                 std::size_t limit, std::int64_t lease_ms);
// Settles rows with `status` ("sent", "digest" or "failed") at now_ms. True when this
// very record was made before (no row changed, each is settled at now_ms with `status`):
// a sender that could not learn whether its commit went through records again, and the
// history it carries is in already.
Result<bool> settle_outbox_rows(sqlite3* db, const std::vector<std::int64_t>& ids,
                                std::int64_t now_ms, const std::string& status,
                                const std::string& error);
// A failed attempt to be retried at retry_at_ms.
Status retry_outbox_rows(sqlite3* db, const std::vector<std::int64_t>& ids,
                         std::int64_t retry_at_ms, const std::string& error);
// Storage::outbox_last_sent.
Result<std::map<std::string, std::int64_t>> read_outbox_last_sent(sqlite3* db,
                                                                  std::int64_t since_ms);
// Storage::outbox_settled.
Result<std::map<std::string, std::int64_t>> read_outbox_settled(
    sqlite3* db, const std::vector<std::string>& keys, std::int64_t since_ms);

}  // namespace vigie::collector
