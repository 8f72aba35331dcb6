#pragma once
// Which process owns a SQLite database: the one collector that serves it (two would both
// write events and fail every report), or a `db copy` reading it (a collector starting
// on it meanwhile would write what the copy misses). An exclusive flock(2) on the
// database file, held until the process exits, says which; SQLite's own locks are
// fcntl(2) locks, which flock locks do not touch on Linux.

#include <filesystem>

#include "common/status.hpp"

namespace vigie::collector {

enum class LockMode {
  kServe,  // the file and its folder made when missing, opened for writing
  kRead,   // an existing file, opened read-only (a copy's source)
};

// Takes the lock: the descriptor to keep open while the database is owned (closing it
// frees the lock), kFailedPrecondition "database PATH is served by another collector
// (process N)" when another process holds it, kIoError when the file cannot be opened.
Result<int> lock_database(const std::filesystem::path& path, LockMode mode = LockMode::kServe);

}  // namespace vigie::collector
