#pragma once
// `antivirus/clamd`: the ClamAV daemon answers, and its signatures are recent.
//
// Over clamd's unix or TCP socket: PING (expects PONG), then VERSION, whose reply
// "ClamAV 1.4.6/27837/Thu Nov 26 02:14:24 2026" gives the engine version, the daily
// signature database version and its build time (clamd's local time).
//
// Parameters:
//   "socket"        absolute path of clamd's unix socket. Default /run/clamav/clamd.ctl
//                   (Debian's), unless "host" is given.
//   "host", "port"  clamd's TCP socket instead (clamd.conf TCPSocket/TCPAddr); port
//                   default 3310.
//   "warn", "crit"  signature age past which the check is WARNING / CRITICAL.
//                   Defaults "2d" and "7d" (libclamav itself warns at 7 days).
// A daemon that cannot be reached, refuses or does not answer PING in time is CRITICAL;
// a reply the check cannot read is UNKNOWN. instance() is the socket path or host:port.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::antivirus {

inline constexpr MetricSpec kClamdMetrics[] = {
    {"signature_age", "s", "age of the daily signature database, with the warn/crit thresholds"},
    {"signature_version", "", "version of the daily signature database"},
    {"response_time", "ms", "time clamd took to answer PING"},
};

std::unique_ptr<Check> make_clamd_check();

}  // namespace vigie::plugins::antivirus
