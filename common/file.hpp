#pragma once
// Reading small files that a person wrote (configurations, tokens, certificates)
// whole, with a bound, so that pointing an option at /dev/zero or a huge log cannot
// take the process's memory; reading a part of a bigger one (a header, the end of a
// log); writing a file whole or not at all. Plain POSIX calls, not iostreams: the static
// agent would carry every locale facet (docs/performance.md, "Agent footprint").

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.hpp"

namespace vigie {

// The whole content of the regular file at `path`. kNotFound when it does not exist;
// kIoError when it cannot be read or is not a regular file; kTooLarge past `max_bytes`.
// Messages start with the path.
Result<std::string> read_file(const std::string& path, std::size_t max_bytes);

// At most `max_bytes` of the regular file at `path` from byte `offset`: fewer at its end,
// none past it. Errors as read_file's, but for kTooLarge. /proc's files are regular.
Result<std::string> read_part(const std::string& path, std::uint64_t offset, std::size_t max_bytes);

// Writes `content` to `path` with `mode` (less the umask) through a temporary file
// ("<path>.tmp"), fsync and rename: a reader finds the old file or the new one, never
// half of one. kIoError naming the file otherwise.
Status write_file_atomically(const std::string& path, const std::string& content, unsigned mode);

}  // namespace vigie
