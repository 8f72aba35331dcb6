#pragma once
// `vigie-collector calendar show NAME --year YYYY`: the days off a calendar of the
// calendars file, or a built-in holiday set, gives in a year.

#include <string>
#include <string_view>
#include <vector>

#include "collector/command_help.hpp"

namespace vigie::collector {

// The calendars file every command reads when not told otherwise; a missing file at
// this path is no calendar, a missing file given with --calendars is an error.
inline constexpr const char* kDefaultCalendarsFile = "/etc/vigie/calendars.json";

// What a command appends to "no such calendar" when it read no file, the default one
// being missing: a newcomer who names "desk" learns where calendars come from.
std::string no_calendars_file_note();

// `args` starts with the command's name. Exit code: 0 printed, 2 bad usage or an
// unknown calendar.
int calendar_command(const std::vector<std::string_view>& args);

extern const CommandHelp kCalendarHelp;

}  // namespace vigie::collector
