#pragma once
// `vigie-collector db ...`: the database's schema (migrate), and the move of a SQLite
// collector to PostgreSQL (copy, db_copy.hpp).

#include <string_view>
#include <vector>

#include "collector/command_help.hpp"

namespace vigie::collector {

// `args` starts with the command's name. Returns the process's exit code: 0 done,
// 1 the database failed, 2 bad usage.
int db_command(const std::vector<std::string_view>& args);

extern const CommandHelp kDbHelp;

}  // namespace vigie::collector
