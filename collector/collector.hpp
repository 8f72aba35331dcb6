#pragma once
// vigie-collector's entry point: parses the command line and runs the server until
// SIGTERM or SIGINT. Returns the process exit code.

namespace vigie::collector {

int run(int argc, char** argv);

}  // namespace vigie::collector
