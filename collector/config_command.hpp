#pragma once
// `vigie-collector config set|get|list|diff|remove`: the agent configurations kept by
// the collector (central_config.hpp), in the collector's database.

#include <string_view>
#include <vector>

#include "collector/command_help.hpp"

namespace vigie::collector {

// `args` starts with the command's name. Returns the process's exit code: 0 done,
// 1 the database failed or the change was refused, 2 bad usage.
int config_command(const std::vector<std::string_view>& args);

extern const CommandHelp kConfigHelp;

}  // namespace vigie::collector
