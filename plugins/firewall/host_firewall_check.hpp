#pragma once
// `firewall/host`: the Linux firewall of the machine the agent runs on is on, filters
// what comes in, and has not changed since a technician last accepted it.
//
// Reads `nft -j list ruleset` (nftables; iptables-nft rules show there too) or, when nft
// is not installed, `iptables-save` (IPv4 only). Input is filtered when a base chain on
// the input hook (nftables) or the INPUT chain of the filter table (iptables) has a drop
// policy or a drop/reject rule.
//
// The ruleset's fingerprint (SHA-256 of the rules without handles and counters) is kept
// in a state file. The first run records it; a different ruleset is a WARNING ("changed")
// until a technician accepts it by deleting the state file (the next run records the
// ruleset then in force).
//
// Parameters (all optional):
//   "backend"      "auto" (default: nftables, else iptables), "nftables" or "iptables".
//   "nft"          the nft program or a prefix array (["ip", "netns", "exec", "lan",
//                  "nft"], ["sudo", "-n", "/usr/sbin/nft"]). Default "nft".
//   "iptables_save"  the same for iptables-save. Default "iptables-save".
//   "state_file"   where the accepted fingerprint is kept. Default
//                  /var/lib/vigie/firewall-host.state.
// Reading the ruleset needs CAP_NET_ADMIN: the agent, given it by its service, hands it to
// nft and iptables-save alone (process.hpp), or nft runs through sudo (docs/checks.md).
// instance() is "": one per agent.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::firewall {

inline constexpr MetricSpec kHostFirewallMetrics[] = {
    {"rules", "", "rules in the ruleset (all tables and chains)"},
    {"input_chains", "", "base chains on the input hook (nftables) or 1 for iptables' INPUT"},
};

std::unique_ptr<Check> make_host_firewall_check();

}  // namespace vigie::plugins::firewall
