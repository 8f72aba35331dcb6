#include "collector/collector.hpp"

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "collector/report/command.hpp"
#include "collector/serve_command.hpp"
#include "collector/token_command.hpp"
#include "common/config_fields.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

// vigie-collector's commands, as ninja's tools: a name, one line for --help, the
// command's own usage (COMMAND --help), and the function that runs it with the command
// line after the program's name, the command's name first.
struct Command {
  const char* name;
  const char* summary;
  const char* usage;
  int (*run)(const std::vector<std::string_view>& args);
};

const Command kCommands[] = {
    {"serve", "receive reports, keep every check's state, serve the API (default)", kServeUsage,
     serve_command},
    {"token", "create, list and revoke technicians' tokens", kTokenUsage, token_command},
    {"enroll-token", "create one-time tokens that agents enroll with", kEnrollTokenUsage,
     enroll_token_command},
    {"report", "write the backup report from the database, and mail it", kReportUsage,
     report_command},
};

const Command* find_command(std::string_view name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::string usage() {
  std::string text =
      "usage: vigie-collector [COMMAND] [options]\n\n"
      "vigie's collector: receives check results from agents, stores them, keeps every\n"
      "check's state and serves the query API; its tokens and reports come from the same\n"
      "database.\n\ncommands:\n";
  for (const Command& c : kCommands) {
    std::string name = c.name;
    name.resize(14, ' ');
    text += "  " + name + c.summary + "\n";
  }
  text += "\n`vigie-collector COMMAND --help` shows a command's options; --version prints\n";
  text += "the version. Without a command, serve runs:\n\n";
  return text + kServeUsage;
}

}  // namespace

int run(int argc, char** argv) {
  try {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    const Command* command = args.empty() ? nullptr : find_command(args[0]);
    if (!command && !args.empty() && !args[0].starts_with("-")) {
      std::cerr << "vigie-collector: unknown command " << quote(args[0]);
      std::vector<std::string_view> names;
      for (const Command& c : kCommands) names.push_back(c.name);
      if (const auto near = closest_match(args[0], names); !near.empty())
        std::cerr << " (did you mean " << quote(near) << "?)";
      std::cerr << "\n\n" << usage();
      return 2;
    }
    for (const auto a : args) {
      if (a == "--help" || a == "-h") {
        std::cout << (command ? std::string(command->usage) : usage());
        return 0;
      }
      if (a == "--version") {
        std::cout << "vigie-collector " VIGIE_VERSION "\n";
        return 0;
      }
    }
    return command ? command->run(args) : serve_command(args);
  } catch (const std::exception& e) {
    log::error(std::string("fatal: ") + e.what());
    return 1;
  }
}

}  // namespace vigie::collector
