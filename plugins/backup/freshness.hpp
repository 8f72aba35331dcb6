#pragma once
// How restic, borg and file-age judge a backup: the age of the newest snapshot (or
// archive, or file) against thresholds, how many there are, its size, and how that size
// changed from the previous one (a backup that suddenly shrinks by half usually lost a
// mount or a folder).

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "plugins/check.hpp"
#include "plugins/process.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::backup {

inline constexpr MetricSpec kSnapshotMetrics[] = {
    {"age", "s", "age of the newest snapshot, with the warn/crit thresholds"},
    {"count", "", "snapshots in the repository (matching the filters)"},
    {"size", "B", "size of the data in the newest snapshot (absent when unknown)"},
    {"size_change", "%",
     "change of that size from the previous snapshot; warn range -shrink_warn: (absent with "
     "fewer than two snapshots)"},
};

struct FreshnessPolicy {
  std::chrono::seconds warn{26 * 3600};  // "warn", default 26h
  std::chrono::seconds crit{50 * 3600};  // "crit", default 50h
  double shrink_warn = 50;               // "shrink_warn", percent 0..100; 0 turns it off
};

// Reads "warn", "crit" and "shrink_warn" from a check's parameters.
Status read_policy(const nlohmann::json& params, FreshnessPolicy& policy);

// One backup a site could restore from: a restic snapshot, a borg archive, a dump file,
// an Avamar backup.
struct RestorePoint {
  std::int64_t time = 0;       // when it was made, seconds since the epoch
  std::optional<double> size;  // bytes
};

// The outcome for `count` snapshots whose newest is `latest` (nullopt when there is none:
// CRITICAL) and the one before it `previous`. `noun` names them ("snapshot", "archive").
// `now` is seconds since the epoch.
Outcome judge_freshness(std::string_view noun, std::uint64_t count,
                        const std::optional<RestorePoint>& latest,
                        const std::optional<RestorePoint>& previous, const FreshnessPolicy& policy,
                        std::int64_t now);

// What the last repository check (restic check, borg check) said. The checks keep it
// between runs, as such a check is run far less often than the backup is looked at.
struct Verification {
  std::int64_t time = 0;  // when it finished, seconds since the epoch
  bool ok = false;
  std::string reason;  // why it failed
};

// Reads "verify_every": how often to run the repository check (0: never, the default).
Status read_verify_every(const nlohmann::json& params, std::chrono::seconds& every);

// Adds the last repository check to `outcome`: "; checked 2h ago: no errors", or, when
// it failed, CRITICAL with "repository check failed 2h ago: <reason>; " in front.
void add_verification(Outcome& outcome, const std::optional<Verification>& verification,
                      std::int64_t now);

// Runs a backup program (`what` names the call in messages, "restic snapshots") and
// returns its output when it exits with a code up to `max_ok_exit`. Otherwise sets
// `failed`: CRITICAL with `reason(stderr)` when it exits with a higher code (it cannot
// read the repository: the backup cannot be trusted), UNKNOWN when it cannot run, is
// killed, runs past the deadline or prints more than `max_output`.
Result<ProcessResult> run_backup_program(const std::vector<std::string>& argv,
                                         const std::string& what,
                                         std::chrono::steady_clock::time_point deadline,
                                         const std::vector<std::string>& environment,
                                         std::size_t max_output, int max_ok_exit,
                                         std::string (*reason)(std::string_view err),
                                         Outcome& failed);

}  // namespace vigie::plugins::backup
