#pragma once
// vigie-console: the technicians' terminal view of the collector.

namespace vigie::console {

// The whole program: parses the command line, then shows the check list until the
// user quits (or prints it once with --once). Returns the exit status: 0 success,
// 1 the collector cannot be reached or refused the request, 2 bad usage.
int run(int argc, char** argv);

}  // namespace vigie::console
