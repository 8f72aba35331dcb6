#pragma once
// `vigie-collector report ...`: writes a report from the collector's database and,
// when asked, mails it. Reads the database only; safe while a collector runs.

#include <string>
#include <string_view>
#include <vector>

#include "collector/command_help.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// `args` starts with "report". Returns the process's exit code: 0 done, 1 the report
// could not be written, 2 bad usage, 3 written but the mail could not be sent.
int report_command(const std::vector<std::string_view>& args);

// `report availability ...` (availability_command.cpp).
int availability_command(const std::vector<std::string_view>& args);
// Writes `content` to a temporary file next to `path`, then renames it over `path`.
Status write_atomically(const std::string& path, const std::string& content);

// What its help says.
extern const CommandHelp kReportHelp;

}  // namespace vigie::collector
