#pragma once
// `antivirus/sophos-central`: the endpoints of every member, from Sophos Central, for a
// central poller. One check per API credential (a partner's, an organisation's or a
// tenant's). Each round: a token (OAuth2 client credentials), whoami, the credential's
// tenants (paged by number), then, for each tenant mapped to a vigie site, on that
// tenant's own API host with its X-Tenant-ID, its endpoints (view=full, paged by key)
// and its open alerts (paged by key). Tenants are polled `concurrency` at a time, each
// within its own share of the round's time, so that a slow tenant never makes the
// others late.
//
// Parameters:
//   "client_id"           required: the API credential's client id.
//   "client_secret_file"  required: an absolute path to a file holding the secret
//                         (refused when others may read it, like the agent's token).
//   "auth_url"            default "https://id.sophos.com" (token at /api/v2/oauth2/token)
//   "api_url"             default "https://api.central.sophos.com" (whoami, tenants).
//                         Both must be https, except on loopback.
//   "ca_file"             an absolute path to a PEM bundle; default the system's.
//   "sites"               {"<tenant id or name>": "<vigie site>", ...}; default none.
//   "stale_days"          endpoints not seen for more days are named; default 14.
//   "concurrency"         tenants polled at once, 1..32; default 4.
//   "max_endpoints"       endpoints (and alerts) read per tenant at most; a list that
//                         goes on is cut there and said so. 1..1000000; default 10000.
//
// Outcomes: one per `sites` key (its target is the key, its site the value): the
// tenant's health, UNKNOWN when it could not be read (403 no access, late, a reply not
// understood), or when the key matches no tenant or several. Plus the check's own
// outcome (no target: the poller's site): the round, WARNING naming the tenants
// without a site; UNKNOWN when the round could not start (then every key is UNKNOWN
// too, saying why).

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::antivirus {

inline constexpr MetricSpec kSophosCentralMetrics[] = {
    {"endpoints", "", "a tenant's endpoints"},
    {"bad", "", "endpoints in bad health (critical above 0)"},
    {"suspicious", "", "endpoints in suspicious health (warning above 0)"},
    {"tamper_off", "", "endpoints with tamper protection off where supported (warning above 0)"},
    {"not_seen", "", "endpoints not seen for more than stale_days (warning above 0)"},
    {"alerts", "", "the tenant's open alerts, all severities"},
    {"alerts_high", "", "open high-severity alerts (critical above 0)"},
    {"tenants", "", "the round: tenants the credential sees"},
    {"unmapped", "", "the round: tenants without a site in `sites` (warning above 0)"},
    {"failed", "", "the round: mapped tenants that could not be read"},
    {"rate_limited", "", "the round: 429 answers waited out"},
    {"round_time", "s", "the round: how long it took"},
};

std::unique_ptr<Check> make_sophos_central_check();

}  // namespace vigie::plugins::antivirus
