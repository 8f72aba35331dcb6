#include "collector/collector.hpp"

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "collector/calendar_command.hpp"
#include "collector/config_command.hpp"
#include "collector/db_command.hpp"
#include "collector/report/command.hpp"
#include "collector/serve_command.hpp"
#include "collector/token_command.hpp"
#include "common/config_fields.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

// vigie-collector's commands, as ninja's tools: a name, one line for --help, what the
// command's own help says (COMMAND --help), and the function that runs it with the
// command line after the program's name, the command's name first.
struct Command {
  const char* name;
  const char* summary;
  const CommandHelp& help;
  int (*run)(const std::vector<std::string_view>& args);
};

const Command kCommands[] = {
    {"serve", "receive reports, keep every check's state, serve the API (default)", kServeHelp,
     serve_command},
    {"token", "create, list and revoke technicians' tokens", kTokenHelp, token_command},
    {"enroll-token", "create one-time tokens that agents enroll with", kEnrollTokenHelp,
     enroll_token_command},
    {"config", "keep agents' configurations: templates, sites' and agents' values", kConfigHelp,
     config_command},
    {"report", "write the backup or availability report from the database, and mail it",
     kReportHelp, report_command},
    {"calendar", "print a calendar's public holidays in a year", kCalendarHelp, calendar_command},
    {"db", "migrate the database's schema; copy a SQLite one to PostgreSQL", kDbHelp, db_command},
};

const Command* find_command(std::string_view name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

// Every command's synopsis, what the program does, the commands, then the options of
// serve, which runs when no command is named.
std::string usage() {
  std::string text = "usage: ";
  for (const Command& c : kCommands) {
    for (const char ch : std::string_view(c.help.synopsis)) {
      text += ch;
      if (ch == '\n') text += "       ";
    }
    text += "\n       ";
  }
  text.resize(text.size() - 7);
  text +=
      "  (every command takes --db PATH; `vigie-collector COMMAND --help` shows its options)\n\n"
      "Receives check results from vigie agents, stores them and serves the query API.\n"
      "Tokens: a technician's token carries a role (a viewer reads, an operator also\n"
      "acknowledges, an admin also manages tokens); an agent gets its own token by exchanging\n"
      "a one-time enrollment token (default lifetime 24h) at POST /api/v1/enroll. A secret is\n"
      "printed once, when created; the database keeps only its hash.\n\ncommands:\n";
  for (const Command& c : kCommands) {
    std::string name = c.name;
    name.resize(14, ' ');
    text += "  " + name + c.summary + "\n";
  }
  text += "\nserve options:\n";
  text += kServeHelp.options;
  text += "  --version, --help\n";
  return text;
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
        std::cout << (command ? command_usage(command->help) : usage());
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
