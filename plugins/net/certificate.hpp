#pragma once
// How net/http and net/tls judge what a TLS handshake showed (probe.hpp): a failed
// verification named plainly, the days until expiry against thresholds, the issuer.

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config_fields.hpp"
#include "common/status.hpp"
#include "plugins/check.hpp"
#include "plugins/findings.hpp"
#include "plugins/net/probe.hpp"

namespace vigie::plugins::net {

struct ExpiryDays {
  double warn = 21;  // a certificate expiring within this many days is WARNING
  double crit = 7;   // ... CRITICAL
};

// Reads `warn_days` / `crit_days` of `params` over `out` (crit <= warn).
Status read_expiry_days(const Fields& params, ExpiryDays& out);

// curl's code for a certificate the client refused (CURLE_PEER_FAILED_VERIFICATION).
inline constexpr int kCurlPeerFailedVerification = 60;

// Adds the findings about the certificate of a handshake that ended with `error`
// (curl's `curl_code`): returns true when the error was about the certificate (it is
// then said, and needs no other finding). Adds the `cert_days` metric when the
// certificate was seen.
bool judge_certificate(const Certificate& certificate, const Status& error, int curl_code,
                       std::chrono::system_clock::time_point now, const ExpiryDays& days,
                       Findings& findings, Outcome& outcome);

}  // namespace vigie::plugins::net
