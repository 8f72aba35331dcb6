#pragma once
// What the network checks (net/http, net/tls, net/dns, net/ping) share: reading their
// parameters, and the wording of times.

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.hpp"

namespace vigie::plugins::net {

// A duration with a unit ("250ms", "2s") within [min, max]; `out` untouched when the
// key is absent. kInvalidArgument naming `where` + key otherwise.
Status read_millis(const nlohmann::json& params, const std::string& key,
                   std::chrono::milliseconds min, std::chrono::milliseconds max,
                   std::chrono::milliseconds& out, const std::string& where = {});

// warn <= crit, else "<where><warn_key>: 2s is above <crit_key> (1s)".
Status check_order(std::chrono::milliseconds warn, std::chrono::milliseconds crit,
                   const std::string& warn_key, const std::string& crit_key,
                   const std::string& where = {});

// A target's optional "site": a member site name as the protocol allows it.
Status read_site(const nlohmann::json& target, const std::string& where, std::string& out);

// Refuses keys of a target object other than `known`, naming `where` ("targets[2].").
Status check_target_keys(const nlohmann::json& target, const std::string& where,
                         std::initializer_list<const char*> known);

// "12 ms", "1.2 ms", "0.05 ms", "2.3 s".
std::string millis_text(double ms);

}  // namespace vigie::plugins::net
