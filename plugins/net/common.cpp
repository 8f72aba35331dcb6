#include "plugins/net/common.hpp"

#include <algorithm>
#include <cstdio>

#include "common/duration.hpp"
#include "common/protocol_rules.hpp"

namespace vigie::plugins::net {

using std::chrono::milliseconds;

Status read_millis(const nlohmann::json& params, const std::string& key, milliseconds min,
                   milliseconds max, milliseconds& out, const std::string& where) {
  const auto it = params.find(key);
  if (it == params.end()) return Status::ok();
  const std::string expected = "must be a duration from " + format_duration(min) + " to " +
                               format_duration(max) + " (\"500ms\", \"2s\")";
  if (!it->is_string()) return Status::invalid(where + key + ": " + expected);
  auto parsed = parse_duration(it->get_ref<const std::string&>());
  if (!parsed) return Status::invalid(where + key + ": " + parsed.status().message());
  if (*parsed < min || *parsed > max) return Status::invalid(where + key + ": " + expected);
  out = *parsed;
  return Status::ok();
}

Status check_order(milliseconds warn, milliseconds crit, const std::string& warn_key,
                   const std::string& crit_key, const std::string& where) {
  if (warn <= crit) return Status::ok();
  return Status::invalid(where + warn_key + ": " + format_duration(warn) + " is above " + crit_key +
                         " (" + format_duration(crit) + ")");
}

Status read_site(const nlohmann::json& target, const std::string& where, std::string& out) {
  const auto it = target.find("site");
  if (it == target.end()) return Status::ok();
  if (!it->is_string()) return Status::invalid(where + "site: must be a site name (a string)");
  const auto& site = it->get_ref<const std::string&>();
  if (Status s = protocol::rules::is_identifier(site); !s)
    return Status::invalid(where + "site: \"" + site.substr(0, 80) + "\": " + s.message());
  out = site;
  return Status::ok();
}

Status check_target_keys(const nlohmann::json& target, const std::string& where,
                         std::initializer_list<const char*> known) {
  for (const auto& [key, value] : target.items()) {
    if (std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) continue;
    std::string message = where + key + ": unknown parameter of a target; known:";
    for (const char* k : known) message += std::string(" ") + k;
    return Status::invalid(std::move(message));
  }
  return Status::ok();
}

std::string millis_text(double ms) {
  char buffer[32];
  if (ms >= 1000) {
    std::snprintf(buffer, sizeof buffer, "%.1f s", ms / 1000);
  } else if (ms >= 10) {
    std::snprintf(buffer, sizeof buffer, "%.0f ms", ms);
  } else if (ms >= 1) {
    std::snprintf(buffer, sizeof buffer, "%.1f ms", ms);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f ms", ms);
  }
  return buffer;
}

}  // namespace vigie::plugins::net
