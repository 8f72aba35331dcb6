#include "agent/output.hpp"

#include <cstdio>

namespace vigie::agent {

void print(std::string_view text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void print_error(std::string_view text) { std::fwrite(text.data(), 1, text.size(), stderr); }

}  // namespace vigie::agent
