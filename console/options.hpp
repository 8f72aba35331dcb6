#pragma once
// The command line of vigie-console.

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/i18n.hpp"
#include "common/status.hpp"

namespace vigie::console {

struct Options {
  std::string url = "http://127.0.0.1:8080";  // --url, else $VIGIE_URL
  std::string token_file;                     // --token-file, else $VIGIE_TOKEN_FILE
  std::string token;                          // $VIGIE_TOKEN, when no --token-file
  std::string ca_file;                        // --ca-file, else $VIGIE_CA_FILE
  std::chrono::milliseconds refresh{5000};    // --refresh
  bool once = false;                          // --once: print the table and exit
  bool json = false;                          // --json (with --once or a command): print JSON
  // A non-interactive command: "problems", "sites", "site" (with `argument`, a site's
  // name) or "check" (with `argument`, AGENT/CHECK); empty: the interactive console.
  std::string command;
  std::string argument;
  bool help = false;  // --help
  // --lang: the language of the screens and tables; unset: the environment's
  // (choose_language()).
  std::optional<Lang> lang;
  int columns = 120;  // width of the --once table: $COLUMNS
};

// vigie-console's commands, as vigie-agent's and vigie-collector's: a name, what follows
// it, one line for --help. Each prints one view once, as text or JSON, and exits; without
// a command the console is interactive.
struct Command {
  std::string_view name;
  std::string_view argument;  // "NAME", "AGENT/CHECK"; "" when it takes none
  std::string_view summary;
};
std::span<const Command> commands();

// Reads an environment variable: its value, or nullptr when it is not set.
using GetEnv = std::function<const char*(const char*)>;

// The language to speak, before the arguments are parsed (their errors are written in
// it): --lang's when it is valid (`*forced` true), else the environment's
// (lang_from_environment).
Lang choose_language(std::span<const std::string_view> args, const GetEnv& env, bool* forced);

// Parses the arguments (without the program's name). Options take their value as the
// next argument or after '=' ("--url=URL"). kInvalidArgument names the bad argument.
Result<Options> parse_options(std::span<const std::string_view> args, const GetEnv& env);

// The --help text.
std::string usage();

// The token in `path`: the file's content without surrounding whitespace. Fails when
// the file cannot be read, is empty, is larger than 4 KiB, or holds other characters
// than visible ASCII.
Result<std::string> read_token_file(const std::string& path);

}  // namespace vigie::console
