#pragma once
// Reading small files that a person wrote (configurations, tokens, certificates)
// whole, with a bound, so that pointing an option at /dev/zero or a huge log cannot
// take the process's memory.

#include <cstddef>
#include <string>

#include "common/status.hpp"

namespace vigie {

// The whole content of the regular file at `path`. kNotFound when it does not exist;
// kIoError when it cannot be read or is not a regular file; kTooLarge past `max_bytes`.
// Messages start with the path.
Result<std::string> read_file(const std::string& path, std::size_t max_bytes);

}  // namespace vigie
