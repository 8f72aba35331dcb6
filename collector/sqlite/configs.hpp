#pragma once
// The agent configuration tables of the collector database (ConfigStore's SQLite
// side). Reads run on any connection; writes on the writer's, inside its transaction.

#include <cstdint>
#include <vector>

#include "collector/config_store.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

Result<ConfigSnapshot> read_config_snapshot(sqlite3* db);
Result<std::int64_t> read_config_revision(sqlite3* db);
// The writes of ConfigStore::change_config, with its checks and errors.
Result<std::int64_t> apply_config_change(sqlite3* db, const ConfigChange& change);
Status upsert_agent_config_report(sqlite3* db, const AgentConfigReport& report);
Result<std::vector<AgentConfigReport>> read_agent_config_reports(sqlite3* db);

}  // namespace vigie::collector
