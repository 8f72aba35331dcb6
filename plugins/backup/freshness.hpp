#pragma once
// How restic, borg and file-age judge a backup: the age of the newest snapshot (or
// archive, or file) against thresholds, how many there are, its size, and how that size
// changed from the previous one (a backup that suddenly shrinks by half usually lost a
// mount or a folder).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.hpp"
#include "plugins/check.hpp"
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

struct Snapshot {
  std::int64_t time = 0;       // seconds since the epoch
  std::optional<double> size;  // bytes
};

// The outcome for `count` snapshots whose newest is `latest` (nullopt when there is none:
// CRITICAL) and the one before it `previous`. `noun` names them ("snapshot", "archive").
// `now` is seconds since the epoch.
Outcome judge_freshness(std::string_view noun, std::uint64_t count,
                        const std::optional<Snapshot>& latest,
                        const std::optional<Snapshot>& previous, const FreshnessPolicy& policy,
                        std::int64_t now);

}  // namespace vigie::plugins::backup
