#pragma once
// What the network checks (net/http, net/tls, net/dns, net/ping) share: their list of
// targets, a target's site, and the wording of times. Their parameters are read with
// common/config_fields.hpp, a target's as the Fields of path "targets[2]".

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/config_fields.hpp"
#include "common/status.hpp"

namespace vigie::plugins::net {

// The "targets" array: required, not empty, at most Check::kMaxOutcomes targets; `out`
// points at it. `shape` says what a target is in the message ("{\"host\": ...}").
Status read_targets(const Fields& params, std::string_view shape, const nlohmann::json*& out);

// A target's optional "site": a member site name as the protocol allows it.
Status read_site(const Fields& target, std::string& out);

// "12 ms", "1.2 ms", "0.05 ms", "2.3 s".
std::string millis_text(double ms);

}  // namespace vigie::plugins::net
