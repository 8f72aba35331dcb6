#pragma once
// `net/dns`: names resolve, through the system's DNS servers or a given one, within a
// time, and their answers optionally match. Resolved by c-ares in vigie-probe
// (probe.hpp), all the names of a check at once, so a dead server never blocks the
// agent. See docs/checks.md.
//
// Parameters:
//   "targets"        required: [{"name": "www.example.org", "type": "MX", "site": ...,
//                    and any of the per-check keys below}, ...]; a string is a name.
//                    ("name" and "type" of the check itself are the agent's: the check's
//                    name and "net/dns".)
//     "name"         the name to look up.
//     "type"         "A" (default), "AAAA", "MX", "TXT", "CNAME", "NS", "PTR", "SOA",
//                    "SRV" or "CAA".
//   "server"         "192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53"; default: the
//                    servers of /etc/resolv.conf.
//   "expect"         a POSIX extended regular expression one of the records must match.
//   "response_warn"  answer time above which a target is WARNING. Default: none.
//   "response_crit"  ... CRITICAL. Default: none.
// The check id of a target is "net/dns:<name>", with "/<type>" when not A and
// "@<server>" when given.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::net {

inline constexpr MetricSpec kDnsMetrics[] = {
    {"response_ms", "ms", "time to the answer"},
    {"records", "", "records in the answer of the type asked"},
};

std::unique_ptr<Check> make_dns_check();

}  // namespace vigie::plugins::net
