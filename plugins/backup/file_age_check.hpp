#pragma once
// `backup/file-age`: the newest file matching a pattern in a folder, for backups that
// other tools leave as files (database dumps, NAS exports): its age against the
// expected schedule, its size against a floor, how many there are, and how its size
// changed from the one before.
//
// Parameters:
//   "path"         required: absolute path of the folder.
//   "pattern"      glob on file names (fnmatch): "*.sql.gz". Default "*".
//   "recursive"    also look in subfolders. Default false.
//   "min_size"     the newest file must be at least this big: bytes (a number) or a
//                  string with a unit ("10MB", "1GiB"). Default 1 (an empty file is
//                  no backup); smaller is CRITICAL.
//   "warn", "crit", "shrink_warn"  as for backup/restic (freshness.hpp); the age is
//                  the file's modification time.
// Only regular files count (symbolic links are followed). At most 100,000 entries are
// looked at. instance() is the path, with "/<pattern>" when a pattern is given.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::backup {

inline constexpr MetricSpec kFileAgeMetrics[] = {
    {"age", "s", "age of the newest matching file (modification time), with the thresholds"},
    {"count", "", "matching files"},
    {"size", "B", "size of the newest matching file, with min_size as its critical floor"},
    {"size_change", "%", "change of that size from the previous file (absent with one file)"},
};

std::unique_ptr<Check> make_file_age_check();

}  // namespace vigie::plugins::backup
