#pragma once
// `backup/restic`: the newest snapshot of a restic repository, its age against the
// expected schedule, the number of snapshots, its size and its change from the
// previous snapshot.
//
// Parameters:
//   "repository"     required: what restic's -r takes (a path, sftp:..., rest:..., s3:...).
//   "password_file"  required: absolute path of the file holding the repository password.
//   "warn", "crit"   age of the newest snapshot past which the check is WARNING /
//                    CRITICAL. Defaults "26h" and "50h".
//   "shrink_warn"    WARNING when the newest snapshot is smaller than the previous one by
//                    more than this percentage. Default 50; 0 turns it off.
//   "host", "path", "tag"  only count snapshots with that host name / path / tag.
//   "restic"         the program: a name or absolute path, or an array (a prefix such as
//                    ["nice", "-n", "10", "restic"]). Default "restic".
//   "cache_dir"      restic's cache folder; without it restic runs with --no-cache.
//   "env"            extra environment for restic (credentials of a cloud repository).
// restic runs with --no-lock, so read access to the repository is enough and a running
// backup or prune is never disturbed. Sizes come from the snapshot's summary (restic >=
// 0.17) or else from `restic stats` (restore size) of the two newest snapshots.
// A repository restic cannot open (missing, unreachable, wrong password) is CRITICAL with
// restic's reason; output it cannot read is UNKNOWN. instance() is the repository.

#include <memory>

#include "plugins/check.hpp"

namespace vigie::plugins::backup {

std::unique_ptr<Check> make_restic_check();

}  // namespace vigie::plugins::backup
