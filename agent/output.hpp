#pragma once
// What the command line prints: whole texts on standard output and standard error, with
// stdio (iostreams would bring every locale facet into the static agent:
// docs/performance.md, "Agent footprint"). Thread-safe: stdio locks each call.

#include <string_view>

namespace vigie::agent {

void print(std::string_view text);        // on standard output
void print_error(std::string_view text);  // on standard error

}  // namespace vigie::agent
