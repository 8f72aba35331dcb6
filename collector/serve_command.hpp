#pragma once
// `vigie-collector [serve] [options]`: receives check results from agents, stores
// them and serves the query API until SIGTERM or SIGINT.

#include <string_view>
#include <vector>

#include "collector/command_help.hpp"

namespace vigie::collector {

// `args`: the command line after the program's name, "serve" first or not. Returns
// the process's exit code: 0 stopped by a signal, 1 could not start, 2 bad usage.
int serve_command(const std::vector<std::string_view>& args);

// What its help says.
extern const CommandHelp kServeHelp;

}  // namespace vigie::collector
