#pragma once
// vigie-collector's entry point: runs the command the command line names (serve, the
// default, token, enroll-token, report; collector.cpp holds their table). Returns the
// process exit code.

namespace vigie::collector {

int run(int argc, char** argv);

}  // namespace vigie::collector
