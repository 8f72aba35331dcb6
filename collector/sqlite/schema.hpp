#pragma once
// The collector database's layout: its schema, the migrations from every earlier
// version, and how the columns that hold more than a number or a text encode it.
// A new schema version appends a migration step (schema.cpp) and bumps
// kSchemaVersion; an earlier step is never edited.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collector/state.hpp"
#include "common/check_result.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

// The version this collector writes and reads (PRAGMA user_version).
inline constexpr std::int64_t kSchemaVersion = 14;
// PRAGMA application_id of a collector database: "vigc" (the agent's spool is "vigS").
inline constexpr std::int64_t kApplicationId = 0x76696763;

// Whether the database open on `db` is a collector's, or new and empty, without
// writing to it: kFailedPrecondition naming what it is otherwise (another program's,
// the agent's spool).
Status check_application(sqlite3* db, const std::string& where);

// Brings the database to kSchemaVersion, each step in one transaction with its
// user_version bump. kCorruption when the database is newer than this collector.
Status migrate(sqlite3* db);
// The database's user_version.
Result<std::int64_t> schema_version(sqlite3* db);

// checks.ack: an acknowledgement as a JSON object, "" for none.
std::string ack_text(const std::shared_ptr<const Ack>& ack);
std::optional<Ack> ack_from_text(const std::string& text);
// checks.metrics: a result's metrics as a JSON array in protocol form. Reading back,
// an entry that no longer reads as a metric is skipped.
std::string metrics_text(const std::vector<Metric>& metrics);
std::vector<Metric> metrics_from_text(const std::string& text);

}  // namespace vigie::collector
