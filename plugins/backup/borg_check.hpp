#pragma once
// `backup/borg`: the newest archive of a borg repository, its age against the expected
// schedule, the number of archives, its size and its change from the previous archive.
//
// Parameters:
//   "repository"       required: what borg takes (a path, ssh://user@host/path).
//   "passphrase_file"  absolute path of the file holding the passphrase (first line);
//                      without it the repository must be unencrypted.
//   "warn", "crit", "shrink_warn"  as for backup/restic (freshness.hpp).
//   "archives"         a glob: only archives whose name matches (borg --glob-archives).
//   "borg"             the program or a prefix array. Default "borg".
//   "base_dir"         BORG_BASE_DIR: where borg keeps its cache and security data.
//                      Default "/var/lib/vigie/borg".
//   "env"              extra environment (BORG_RSH for an ssh repository...).
// borg runs with --bypass-lock (read access is enough, a running backup does not block
// the check) and never prompts. Sizes are the archives' original sizes (borg info).
// A repository borg cannot open is CRITICAL with borg's reason; output it cannot read is
// UNKNOWN. instance() is the repository.

#include <memory>

#include "plugins/check.hpp"

namespace vigie::plugins::backup {

std::unique_ptr<Check> make_borg_check();

}  // namespace vigie::plugins::backup
