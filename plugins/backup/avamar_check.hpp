#pragma once
// `backup/avamar`: the last backups of a Dell EMC Avamar client, from the output of
// `mccli activity show` (run on the Avamar utility node: over ssh, or a file a job
// leaves). The output is a status line "0,23000,CLI command completed successfully.",
// then a fixed-width table whose column widths the dashed line under the header gives:
//   ID  Status  Error Code  Start Time  Elapsed  End Time  Type  Progress Bytes
//   New Bytes  Client  Domain
//
// Parameters:
//   "command"  required: the program and its arguments, e.g. ["ssh", "-o",
//              "BatchMode=yes", "admin@avamar", "mccli", "activity", "show",
//              "--name=/clients/mairie-srv"] or ["cat", "/var/lib/vigie/avamar.txt"].
//   "client"   only count the rows of this client (the Client column). Default: all.
//   "warn", "crit", "shrink_warn"  as for backup/restic, on the end of the last
//              completed backup and its Progress Bytes.
// Anything the check does not recognize (another layout, a status it does not know) is
// UNKNOWN, never OK. Times carry a zone abbreviation: UTC/GMT are read as such, any other
// as the agent's local time. instance() is the client, or "" for all.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::backup {

inline constexpr MetricSpec kAvamarMetrics[] = {
    {"age", "s", "time since the end of the last completed backup, with the thresholds"},
    {"count", "", "backup activities listed (for the client)"},
    {"size", "B", "Progress Bytes of the last completed backup"},
    {"size_change", "%", "change of that size from the completed backup before"},
    {"error_code", "", "Error Code of the last finished backup (0 on success)"},
};

std::unique_ptr<Check> make_avamar_check();

}  // namespace vigie::plugins::backup
