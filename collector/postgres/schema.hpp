#pragma once
// The PostgreSQL database's layout and its migrations: an append-only list of steps,
// as SQLite's (sqlite/schema.hpp), each run in one transaction with the version bump,
// under an advisory lock so that collectors started together migrate once.

#include <cstdint>

#include "collector/postgres/pq.hpp"
#include "common/status.hpp"

namespace vigie::collector::pg {

// The version this collector writes and reads (table vigie_schema).
inline constexpr std::int64_t kSchemaVersion = 6;

// The database's version; 0 for an empty database.
Result<std::int64_t> schema_version(pq::Conn& conn);

// Brings the database to kSchemaVersion (or to `target`, older: for tests of a
// migration). kFailedPrecondition when it is newer than this collector: an older
// collector must not write to a schema it does not know.
Status migrate(pq::Conn& conn, std::int64_t target = kSchemaVersion);

// kFailedPrecondition unless the database is at kSchemaVersion (what a collector
// checks before it serves, when it was told not to migrate).
Status check_version(pq::Conn& conn);

}  // namespace vigie::collector::pg
