#pragma once
// `net/ping`: ICMP echo to many hosts at once (plugins/net/icmp.hpp), one result per
// host: loss and round-trip time against thresholds. See docs/checks.md.
//
// Parameters:
//   "targets"          required: [{"host": "192.0.2.1", "site": "onesse"}, ...]; a
//                      string is a host without a site. At most 5000, distinct.
//   "count"            echo requests per host, 1..100. Default 5.
//   "rtt_warn"         mean round trip above which a host is WARNING. Default "200ms".
//   "rtt_crit"         ... CRITICAL. Default "500ms".
//   "loss_warn"        percentage of requests lost above which a host is WARNING.
//                      Default 20.
//   "loss_crit"        ... CRITICAL. Default 60. A host that answers nothing is
//                      CRITICAL whatever the thresholds.
//   "packet_interval"  time between two requests to one host. Default "500ms".
//   "packet_timeout"   a reply later than this is lost. Default "1s".
//   "icmp_socket"      "auto" (default), "unprivileged" or "raw" (icmp.hpp).
// A round lasts about count x packet_interval + packet_timeout (3 s by default), and
// shrinks to fit the check's timeout. The check id of a host is "net/ping:<host>".

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::net {

inline constexpr MetricSpec kPingMetrics[] = {
    {"rtt_avg", "ms", "mean round-trip time of the replies"},
    {"rtt_min", "ms", "shortest round-trip time"},
    {"rtt_max", "ms", "longest round-trip time"},
    {"loss_pct", "%", "echo requests without a reply in time"},
};

std::unique_ptr<Check> make_ping_check();

}  // namespace vigie::plugins::net
