#pragma once
// `net/tls`: any TLS service (webmail, IMAPS, LDAPS...), and mail servers through
// STARTTLS (SMTP, IMAP, POP3): the handshake, the certificate (trusted, for the host
// name, days until expiry, its issuer) and the protocol version, for many services at
// once through vigie-probe (probe.hpp). See docs/checks.md.
//
// Parameters:
//   "targets"      required: [{"host": "mail.example.org", "port": 587, "starttls":
//                  "smtp", "site": "onesse"}, ...]. "starttls": "smtp", "imap" or
//                  "pop3"; without it TLS starts at once. "port" defaults to 443, or
//                  25 / 143 / 110 with STARTTLS.
//   "ca_file"      CAs to verify against instead of the system's.
//   "warn_days"    a certificate expiring within this many days is WARNING. Default 21.
//   "crit_days"    ... CRITICAL. Default 7.
//   "min_version"  an older protocol is WARNING: "TLSv1.2" (default), "TLSv1.3", or
//                  "TLSv1"/"TLSv1.1" to accept those.
// The check id of a target is "net/tls:<host>:<port>".

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::net {

inline constexpr MetricSpec kTlsMetrics[] = {
    {"handshake_ms", "ms", "time the TLS handshake took (after the STARTTLS dialogue, if any)"},
    {"cert_days", "", "whole days until the certificate expires"},
};

std::unique_ptr<Check> make_tls_check();

}  // namespace vigie::plugins::net
