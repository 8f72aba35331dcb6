#pragma once
// The vigie-agent command line (`vigie-agent --help` lists the commands):
//
//   run           run the checks on schedule and ship their results, until SIGTERM
//   check         run checks once and print their results; exit code = worst state
//   config check  validate the configuration file
//   checks        list the built-in check types
//
// Exit codes: 0 success; 1 a bad configuration or an environment problem (state
// folder, token file); 2 bad usage. `check` instead exits with the worst state of the
// checks it ran (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), and with 3 (UNKNOWN, as a
// Nagios plugin would) when it cannot run them, so that a script never reads a broken
// configuration as WARNING or CRITICAL.

namespace vigie::agent {

// Runs the command line and returns the process exit code. Never throws.
int run(int argc, char** argv);

}  // namespace vigie::agent
