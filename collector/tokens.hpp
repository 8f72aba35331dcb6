#pragma once
// Secrets for agents, technicians and enrollment. A token is shown once, when it is
// created; the collector keeps only its SHA-256 (tokens carry 160 random bits, so a
// fast hash is enough: there is nothing to brute-force).

#include <optional>
#include <string>
#include <string_view>

namespace vigie::collector {

// What a token allows. Technician roles are ordered: an operator may do what a viewer
// may, an admin what an operator may. An agent token may only report for its own agent
// id; an enrollment token may only be exchanged once for an agent token.
enum class Role { kViewer, kOperator, kAdmin, kAgent, kEnroll };

std::string_view role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);
// True when a token of role `have` may use a route that requires `need`.
bool role_allows(Role have, Role need);

// A new random secret: "<prefix>_" followed by 40 hex digits (160 bits from OpenSSL's
// CSPRNG). Prefixes tell a leaked secret's kind at a glance: "vga" agent, "vgu" user,
// "vge" enrollment.
std::string new_secret(Role role);
// Lower-case hex SHA-256 of the secret: what the database stores.
std::string hash_secret(std::string_view secret);

// The secret of an "Authorization: Bearer <secret>" header, or "" when the header
// is missing or of another scheme.
std::string bearer_token(std::string_view authorization);

}  // namespace vigie::collector
