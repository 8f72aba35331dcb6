#pragma once
// The PostgreSQL database's layout and its migrations: an append-only list of steps,
// as SQLite's (sqlite/schema.hpp), each run in one transaction with the version bump,
// under an advisory lock so that collectors started together migrate once.

#include <cstdint>

#include "collector/postgres/pq.hpp"
#include "common/status.hpp"

namespace vigie::collector::pg {

// The version this collector writes and reads (table vigie_schema).
inline constexpr std::int64_t kSchemaVersion = 7;

// vigie's advisory lock key for the schema: each migration step holds it exclusively
// (pg_advisory_xact_lock), each writer's transaction shared (begin_writes()), so that no
// transaction of a collector runs across a migration made by another.
inline constexpr std::int64_t kSchemaLock = 7612001;
// The channel each migration step notifies on, its payload the version it brings the
// database to: collectors already running on the database hear of it within a
// moment (listen.hpp) rather than at their next write.
inline constexpr const char* kSchemaChannel = "vigie_schema";

// The database's version; 0 for an empty database.
Result<std::int64_t> schema_version(pq::Conn& conn);

// Brings the database to kSchemaVersion (or to `target`, older: for tests of a
// migration). kFailedPrecondition when it is newer than this collector: an older
// collector must not write to a schema it does not know. A database already there is
// only read: the migrations' lock is taken (exclusively) only when a step is to run.
Status migrate(pq::Conn& conn, std::int64_t target = kSchemaVersion);

// kFailedPrecondition unless the database is at kSchemaVersion (what a collector
// checks before it serves, when it was told not to migrate).
Status check_version(pq::Conn& conn);

// Opens a writer's transaction: BEGIN, the schema lock taken shared until it ends (a
// migration waits for the transaction; the transaction waits for a migration under
// way), then the database's version read after the lock, in one round trip. A writer
// commits nothing when the version is not kSchemaVersion: the database was migrated
// since this collector started (a rolling upgrade), and what it would write assumes
// a layout that is gone. The transaction is left open either way; on failure it is in
// an unknown state (ROLLBACK it).
Result<std::int64_t> begin_writes(pq::Conn& conn);

// What a collector running on a database migrated under it says and does (the error
// its log shows once, its /healthz reply).
std::string migrated_under(std::int64_t version);

}  // namespace vigie::collector::pg
