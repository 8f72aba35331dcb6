#include "plugins/net/common.hpp"

#include <algorithm>
#include <cstdio>

#include "common/protocol_rules.hpp"
#include "plugins/check.hpp"

namespace vigie::plugins::net {

Status read_targets(const Fields& params, std::string_view shape, const nlohmann::json*& out) {
  const auto it = params.object.find("targets");
  const std::string usage = "required, a non-empty array of " + std::string(shape);
  if (it == params.object.end()) return field_error(params.path_of("targets"), usage);
  if (!it->is_array()) {
    return field_error(params.path_of("targets"),
                       "expected an array of " + std::string(shape) + ", got " + it->type_name());
  }
  if (it->empty()) return field_error(params.path_of("targets"), usage);
  if (it->size() > Check::kMaxOutcomes) {
    return field_error(params.path_of("targets"),
                       "at most " + std::to_string(Check::kMaxOutcomes) + " targets");
  }
  out = &*it;
  return Status::ok();
}

Status read_site(const Fields& target, std::string& out) {
  std::string site;
  if (Status s = read_string(target, "site", site); !s) return s;
  if (site.empty()) return Status::ok();
  if (Status s = protocol::rules::is_identifier(site); !s)
    return field_error(target.path_of("site"), quote(site) + ": " + s.message());
  out = std::move(site);
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
