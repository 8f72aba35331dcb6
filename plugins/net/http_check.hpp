#pragma once
// `net/http`: websites, many at once (a central poller watching the members' sites):
// each target's URL fetched concurrently by vigie-probe (probe.hpp, curl multi), its
// status, body, response time and, for HTTPS, certificate judged; one result per
// target, filed under its member site. See docs/checks.md.
//
// Parameters:
//   "targets"       required: [{"url": "https://...", "site": "onesse",
//                   "expect_status": "200-399", "match": "Mairie", "follow_redirects":
//                   true, and any of the per-check keys below}, ...]; a string is a URL.
//   "ca_file"       CAs to verify against instead of the system's. Default: the system's.
//   "warn_days"     a certificate expiring within this many days is WARNING. Default 21.
//   "crit_days"     ... CRITICAL. Default 7.
//   "response_warn" total time above which a target is WARNING ("2s"). Default: none.
//   "response_crit" ... CRITICAL. Default: none.
//   "follow_redirects"  default for the targets: true (at most 10).
//   "proxy"         "http://proxy:3128": fetch through it. Default: none, whatever the
//                   environment says.
// The check id of a target is "net/http:<url>".

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::net {

inline constexpr MetricSpec kHttpMetrics[] = {
    {"response_ms", "ms", "time to the end of the answer (redirects followed included)"},
    {"tls_ms", "ms", "time to the end of the TLS handshake, connection included"},
    {"body_bytes", "B", "size of the body received"},
    {"cert_days", "", "whole days until the certificate expires"},
};

std::unique_ptr<Check> make_http_check();

}  // namespace vigie::plugins::net
