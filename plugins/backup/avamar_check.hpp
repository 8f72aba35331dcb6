#pragma once
// `backup/avamar`: the last backups of Dell EMC Avamar clients, from the output of
// `mccli activity show` (run on the Avamar utility node: over ssh, or a file a job
// leaves), plain or with --xml (plugins/backup/mccli.hpp reads both).
//
// Two modes:
//   one client (or all together): one result, as for backup/restic.
//   grid ("sites" given): one listing for the whole grid, one result per client filed
//     under its member's site, the client's domain path mapped by the longest "sites"
//     key it falls under ("/clients/onesse" -> "onesse-et-laharie"); plus the check's
//     own result, WARNING naming the clients without a site. A "sites" key with no
//     activity under it is CRITICAL for that site.
//
// Parameters:
//   "command"  required: the program and its arguments, e.g. ["ssh", "-o",
//              "BatchMode=yes", "admin@avamar", "mccli", "activity", "show"] or
//              ["cat", "/var/lib/vigie/avamar.txt"].
//   "client"   only count the rows of this client (the Client column). Default: all.
//   "warn", "crit", "shrink_warn"  as for backup/restic, on the end of the last
//              completed backup and its Progress Bytes.
//   "sites"    grid mode: {"/domain/or/client/path": "site", ...}, or a key's value
//              {"site": "...", "warn": "8d", "crit": "15d"} for a client whose schedule
//              is not daily. Not with "client".
// Anything the check does not recognize (another layout, a status it does not know) is
// UNKNOWN naming the row, never OK: in grid mode, for that client only when the row
// names it. Times carry a zone abbreviation: UTC/GMT are read as such, any other as the
// agent's local time. instance() is the client, or "" for all (and in grid mode, where
// each result's target is the client's path).

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::backup {

inline constexpr MetricSpec kAvamarMetrics[] = {
    {"age", "s", "time since the end of the last completed backup, with the thresholds"},
    {"count", "", "completed backups listed (for the client)"},
    {"size", "B", "Progress Bytes of the last completed backup"},
    {"size_change", "%", "change of that size from the completed backup before"},
    {"error_code", "", "Error Code of the last finished backup (0 on success)"},
    {"failures", "", "failed, canceled, timed-out... backups listed"},
    {"exceptions", "", "backups listed as completed with exceptions"},
    {"new_bytes", "%", "New Bytes of the last completed backup (share of new data)"},
    {"clients", "", "grid mode, the check's own result: clients in the listing"},
    {"unmapped", "", "grid mode, the check's own result: clients without a site (warning above 0)"},
};

std::unique_ptr<Check> make_avamar_check();

}  // namespace vigie::plugins::backup
