#pragma once
// `vigie-collector token ...` and `vigie-collector enroll-token ...`: technicians'
// tokens and the one-time tokens agents enroll with, in the collector's database.

#include <string_view>
#include <vector>

#include "collector/command_help.hpp"

namespace vigie::collector {

// `args` starts with the command's name. Returns the process's exit code: 0 done,
// 1 the database failed, 2 bad usage.
int token_command(const std::vector<std::string_view>& args);
int enroll_token_command(const std::vector<std::string_view>& args);

// What their help says.
extern const CommandHelp kTokenHelp;
extern const CommandHelp kEnrollTokenHelp;

}  // namespace vigie::collector
