#pragma once
// The template language of agent configurations kept by the collector
// (docs/operations.md, "Configuration from the centre"), small on purpose.
//
// A template is the part of an agent's configuration that the centre manages: a JSON
// object with "defaults", "devices" and "checks" as in the agent's own file (the
// agent's identity, its collector and its spool stay in the file on the site). A string
// value that is exactly "${name}" is a placeholder: rendering replaces the whole value
// by the variable's JSON value (a string, a number, an object...). Substitution is of
// values, never of text: "${a}-x" is an error, not a concatenation, and keys are never
// substituted; "$${...}" stands for a literal "${...}". A variable that is not set is
// an error naming it and where it is used. Secrets never travel from the centre: a
// member that holds one inline ("community", "auth_pass", "password", "client_secret",
// ...) is refused in favour of its *_file form, a path on the agent.
//
// Values: a site's or an agent's document, {"template": NAME, "vars": {NAME: VALUE}};
// an agent's own values win over its site's, and its template over its site's. The
// variables "agent_id" and "site" are always set, to the agent's.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.hpp"

namespace vigie::collector {

enum class ConfigKind { kTemplate, kSite, kAgent };
std::string_view config_kind_name(ConfigKind kind);  // "template", "site", "agent"
std::optional<ConfigKind> config_kind_from_name(std::string_view name);

// The members a template may have.
inline constexpr std::string_view kTemplateKeys[] = {"defaults", "devices", "checks"};

// Checks a template's form: an object of kTemplateKeys, placeholders well formed, no
// inline secret. The error names the member by its path ("checks[2].warn: ...").
Status check_template(const nlohmann::json& document);
// Checks a site's or an agent's values: {"template"?: NAME, "vars"?: {NAME: VALUE}};
// variable names are [A-Za-z_][A-Za-z0-9_]* and "agent_id" and "site" are reserved.
Status check_values(const nlohmann::json& document);

// `document` with every placeholder replaced by its variable's value, then checked
// for inline secrets (a variable's value may be an object). kInvalidArgument
// "checks[1].device: variable \"fw\" is not set".
Result<nlohmann::json> render_template(const nlohmann::json& document,
                                       const std::map<std::string, nlohmann::json>& vars);

// The version of a rendered configuration: 16 hex digits of the SHA-256 of its
// compact JSON text (object members sorted), what the agent reports and the ETag.
std::string config_version(const nlohmann::json& rendered);

// What changes from `before` to `after`, one line per member by its path:
// "~ checks[0].warn: "26h" -> "30h"", "+ devices.ap2: {...}", "- checks[3]: {...}".
// Empty when they are equal.
std::vector<std::string> json_diff(const nlohmann::json& before, const nlohmann::json& after);

}  // namespace vigie::collector
