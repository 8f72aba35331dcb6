#pragma once
// `firewall/sophos`: a Sophos Firewall (SFOS, XG/XGS) over SNMP (SFOS-FIREWALL-MIB,
// IF-MIB, HOST-RESOURCES-MIB). See docs/checks.md for the parameters and states.
//
// Parameters:
//   "device"              required: a device of the "devices" block.
//   "services"            services that must be running (short names, see
//                         docs/checks.md); default: the ones every SFOS runs.
//   "ha"                  "auto" (default: judge HA when it is enabled), "required"
//                         (HA disabled is CRITICAL) or "ignore".
//   "licence_warn_days"   a subscription expiring within this many days is WARNING.
//                         Default 30.
//   "licence_crit_days"   ... CRITICAL. Default 7.
//   "wan_ports"           interfaces whose loss is CRITICAL. Default ["Port2"].
//   "ignore_interfaces"   interfaces never judged.
//   "tunnels"             IPsec connections (names) that must be active; the others
//                         are listed, not judged.
//   "clock"               "agent" (default) or "device": whose date is "today" for
//                         the expiry arithmetic (the device's sfosCurrentDate).
//   "cpu_warn"/"cpu_crit", "memory_warn"/"memory_crit", "disk_warn"/"disk_crit":
//                         percentages; defaults 80/95, 90/95, 80/90.
// instance() is the device name.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::firewall {

inline constexpr MetricSpec kSophosFirewallMetrics[] = {
    {"uptime", "s", "time since the firewall started (sysUpTime)"},
    {"cpu_pct", "%", "CPU busy, mean of the cores (hrProcessorLoad)"},
    {"memory_pct", "%", "memory in use (sfosMemoryPercentUsage)"},
    {"swap_pct", "%", "swap in use"},
    {"disk_pct", "%", "disk in use (sfosDiskPercentUsage)"},
    {"live_users", "", "users logged in through the captive portal"},
    {"services_running", "", "SFOS services in the running state"},
    {"licence_<module>_days", "", "days until a subscribed module expires"},
    {"tunnels", "", "IPsec connections the firewall lists (sfosIPSecVpnTunnelTable)"},
    {"tunnels_active", "", "IPsec connections with at least one active tunnel"},
    {"<interface>_in_bps", "", "traffic received, bits per second (from the second poll)"},
    {"<interface>_out_bps", "", "traffic sent, bits per second (from the second poll)"},
};

std::unique_ptr<Check> make_sophos_firewall_check();

}  // namespace vigie::plugins::firewall
