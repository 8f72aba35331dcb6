#pragma once
// `backup/avamar-server`: the health of a Dell EMC Avamar grid, from three outputs read
// on its utility node:
//   `mccli server show-prop`  capacity: "Server utilization 17.1%" (else "Capacity used"
//                             over "Total capacity"), "Bytes protected";
//   `mccli checkpoint show`   checkpoints: Tag (cp.YYYYMMDDhhmmss, UTC), Validated
//                             ("Validated", "", "In Progress");
//   `status.dpn`              the nodes' state, System-Status, Access-Status, and the
//                             "Last GC: finished <date> ... (OK)" line.
// mccli's output may be plain or --xml (plugins/backup/mccli.hpp).
//
// Parameters:
//   "command"             how to reach the utility node, put before each of the three
//                         commands, e.g. ["ssh", "-o", "BatchMode=yes", "admin@avamar"];
//                         default: none (the agent runs on the utility node).
//   "show_prop_command", "checkpoint_command", "status_command"
//                         a whole command instead, for one of the three (e.g. ["cat",
//                         "/var/lib/vigie/status.dpn"] for a file a job leaves).
//   "warn", "crit"        percent of the capacity used; defaults 80, 90.
//   "checkpoint_warn", "checkpoint_crit"  age of the last validated checkpoint; "36h",
//                         "72h".
//   "gc_warn"             age of the last finished garbage collection; "50h".
// Anything not recognised in what the check reads (a layout, a Validated value, a
// node row, the GC line) is UNKNOWN naming it, never OK; status.dpn's lines the check
// does not use are skipped. Dates of status.dpn are read in the agent's local time.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::backup {

inline constexpr MetricSpec kAvamarServerMetrics[] = {
    {"used", "%", "capacity used (Server utilization), with the thresholds"},
    {"capacity", "B", "Total capacity"},
    {"used_bytes", "B", "Capacity used"},
    {"protected", "B", "Bytes protected"},
    {"checkpoint_age", "s", "age of the last validated checkpoint, with the thresholds"},
    {"checkpoints", "", "checkpoints listed"},
    {"gc_age", "s", "time since the last garbage collection finished, warning above gc_warn"},
    {"gc_recovered", "B", "what the last garbage collection recovered"},
    {"nodes", "", "nodes listed by status.dpn"},
    {"nodes_offline", "", "nodes not ONLINE (critical above 0)"},
};

std::unique_ptr<Check> make_avamar_server_check();

}  // namespace vigie::plugins::backup
