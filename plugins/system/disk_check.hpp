#pragma once
// `system/disk`: space and inodes used on one filesystem, from statvfs(3).
//
// Parameters:
//   "path"         required: the filesystem's mount point, an absolute path. Any other
//                  path reports the filesystem that holds it.
//   "warn"         used space, in percent, above which the check is WARNING. Default 80.
//   "crit"         the same for CRITICAL. Default 90.
//   "inodes_warn"  used inodes, in percent, above which it is WARNING. Default 80.
//   "inodes_crit"  the same for CRITICAL. Default 90.
// Percentages are 0..100 and a warn threshold must not exceed its crit one. Used space
// is counted as df does: used / (used + available to unprivileged users), so the
// blocks reserved for root count as neither. A filesystem without inodes (vfat,
// btrfs) reports no inode metric. instance() is the path.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::system {

inline constexpr MetricSpec kDiskMetrics[] = {
    {"used", "B", "space in use"},
    {"size", "B", "total size of the filesystem"},
    {"used_pct", "%", "space in use, as df counts it, with the warn/crit thresholds"},
    {"inodes_used_pct", "%", "inodes in use (absent when the filesystem has no inode count)"},
};

std::unique_ptr<Check> make_disk_check();

}  // namespace vigie::plugins::system
