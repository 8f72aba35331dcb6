#pragma once
// What vigie-collector's help says about one of its commands (collector.cpp holds
// their table): `vigie-collector --help` gathers every command's synopsis, and
// `vigie-collector COMMAND --help` prints command_usage().

#include <string>

namespace vigie::collector {

struct CommandHelp {
  const char* synopsis;  // its forms, one a line: "vigie-collector token list"
  const char* about;     // what it does, a paragraph or two
  const char* options;   // its options, "  --db PATH   ..." lines and what follows them
};

// "usage: " and the synopsis, the about text, then "options:" and the options.
std::string command_usage(const CommandHelp& help);

}  // namespace vigie::collector
