#include "collector/central_config.hpp"

#include <utility>

#include "common/protocol_rules.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;
using Key = std::pair<ConfigKind, std::string>;
using Documents = std::map<Key, json>;

// The template and values that apply to `agent` at `site`, rendered.
Result<AgentConfig> resolve(const Documents& docs, const std::string& agent,
                            const std::string& site) {
  const auto find = [&](ConfigKind kind, const std::string& name) -> const json* {
    const auto it = docs.find({kind, name});
    return it == docs.end() ? nullptr : &it->second;
  };
  const json* own = find(ConfigKind::kAgent, agent);
  const json* of_site = find(ConfigKind::kSite, site);
  AgentConfig out{.agent = agent, .site = site, .template_name = {}, .config = {}, .version = {}};
  for (const json* values : {of_site, own}) {
    if (values != nullptr && values->contains("template"))
      out.template_name = (*values)["template"].get<std::string>();
  }
  const std::string who = "agent \"" + agent + "\" of site \"" + site + "\"";
  if (out.template_name.empty())
    return Status::not_found("no template applies to " + who + " (its site's or its own values)");
  const json* tmpl = find(ConfigKind::kTemplate, out.template_name);
  if (tmpl == nullptr)
    return Status::invalid(who + ": template \"" + out.template_name + "\" does not exist");
  std::map<std::string, json> vars;
  for (const json* values : {of_site, own}) {
    if (values == nullptr || !values->contains("vars")) continue;
    for (const auto& [name, value] : (*values)["vars"].items()) vars[name] = value;
  }
  vars["agent_id"] = agent;
  vars["site"] = site;
  auto rendered = render_template(*tmpl, vars);
  if (!rendered) {
    return Status::invalid(who + ", template \"" + out.template_name +
                           "\": " + rendered.status().message());
  }
  out.config = std::move(*rendered);
  out.version = config_version(out.config);
  return out;
}

std::string compact(const json& document) {
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

struct CentralConfigs::Cache {
  ConfigSnapshot snapshot;
  Documents docs;
  mutable std::mutex memo_mutex;
  mutable std::map<std::pair<std::string, std::string>, Result<AgentConfig>> memo;
};

CentralConfigs::CentralConfigs(ConfigStore& configs, TokenStore& tokens)
    : configs_(configs), tokens_(tokens) {}

Result<std::shared_ptr<const CentralConfigs::Cache>> CentralConfigs::current() {
  auto revision = configs_.config_revision();
  if (!revision) return revision.status();
  {
    std::lock_guard lock(mutex_);
    if (cache_ && cache_->snapshot.revision == *revision) return cache_;
  }
  auto snapshot = configs_.config_snapshot();
  if (!snapshot) return snapshot.status();
  auto cache = std::make_shared<Cache>();
  for (const ConfigEntry& entry : snapshot->entries) {
    auto document = json::parse(entry.document, nullptr, false);
    // Stored only after its checks: a document that no longer parses is left out.
    if (!document.is_discarded()) cache->docs[{entry.kind, entry.name}] = std::move(document);
  }
  cache->snapshot = std::move(*snapshot);
  std::lock_guard lock(mutex_);
  if (!cache_ || cache_->snapshot.revision <= cache->snapshot.revision) cache_ = cache;
  return std::shared_ptr<const Cache>(cache);
}

Result<ConfigSnapshot> CentralConfigs::snapshot() {
  auto cache = current();
  if (!cache) return cache.status();
  return (*cache)->snapshot;
}

Result<AgentConfig> CentralConfigs::for_agent(const std::string& agent, const std::string& site) {
  auto cache = current();
  if (!cache) return cache.status();
  const Cache& c = **cache;
  std::lock_guard lock(c.memo_mutex);
  const auto key = std::pair(agent, site);
  if (const auto it = c.memo.find(key); it != c.memo.end()) return it->second;
  auto resolved = resolve(c.docs, agent, site);
  c.memo.emplace(key, resolved);
  return resolved;
}

Result<std::vector<AgentConfigState>> CentralConfigs::agents() {
  auto tokens = tokens_.list_tokens();
  if (!tokens) return tokens.status();
  auto reports = configs_.agent_config_reports();
  if (!reports) return reports.status();
  std::map<std::string, AgentConfigReport> said;
  for (auto& r : *reports) said.emplace(r.agent, std::move(r));
  std::map<std::string, std::string> known;  // agent -> site
  for (const TokenRecord& t : *tokens) {
    if (t.role == Role::kAgent && t.revoked_ms == 0) known[t.agent] = t.site;
  }
  std::vector<AgentConfigState> out;
  for (const auto& [agent, site] : known) {
    AgentConfigState state{.agent = agent, .site = site};
    auto config = for_agent(agent, site);
    if (config) {
      state.managed = true;
      state.version = config->version;
    } else if (config.status().code() != Code::kNotFound) {
      state.managed = true;
      state.problem = config.status().message();
    }
    if (const auto it = said.find(agent); it != said.end()) state.report = it->second;
    out.push_back(std::move(state));
  }
  return out;
}

Result<ConfigPlan> CentralConfigs::plan(ConfigKind kind, const std::string& name,
                                        const std::optional<json>& document,
                                        const std::string& author, std::int64_t now_ms) {
  const std::string what = std::string(config_kind_name(kind)) + " \"" + name + "\"";
  if (Status s = protocol::rules::is_identifier(name); !s)
    return Status::invalid(std::string(config_kind_name(kind)) + " name \"" + name +
                           "\": " + s.message());
  if (document) {
    Status s = kind == ConfigKind::kTemplate ? check_template(*document) : check_values(*document);
    if (!s) return s.with_context(what);
  }
  auto cache = current();
  if (!cache) return cache.status();
  const Cache& c = **cache;
  Documents after = c.docs;
  const auto old = c.docs.find({kind, name});
  if (document) {
    after[{kind, name}] = *document;
  } else {
    if (old == c.docs.end()) return Status::not_found("no " + what + " to remove");
    after.erase({kind, name});
  }
  if (document && kind != ConfigKind::kTemplate && document->contains("template")) {
    const std::string used = (*document)["template"].get<std::string>();
    if (!after.contains({ConfigKind::kTemplate, used}))
      return Status::invalid(what + ": template \"" + used +
                             "\" does not exist (set the template first)");
  }

  ConfigPlan plan;
  plan.diff = json_diff(old == c.docs.end() ? json::object() : old->second,
                        document ? *document : json::object());
  auto tokens = tokens_.list_tokens();
  if (!tokens) return tokens.status();
  for (const TokenRecord& t : *tokens) {
    if (t.role != Role::kAgent || t.revoked_ms != 0) continue;
    auto before = resolve(c.docs, t.agent, t.site);
    auto now = resolve(after, t.agent, t.site);
    if (before && !now && now.status().code() != Code::kNotFound) {
      return Status::invalid(what + " would break the configuration of " + now.status().message());
    }
    const std::string from = before ? before->version : "(none)";
    const std::string to = now ? now->version : "(none)";
    if (from != to) plan.updated.push_back(t.agent + ": " + from + " -> " + to);
  }
  plan.change.kind = kind;
  plan.change.name = name;
  if (document) plan.change.document = compact(*document);
  plan.change.based_on = c.snapshot.revision;
  plan.change.audit = {.id = 0,
                       .ts_ms = now_ms,
                       .author = author,
                       .action = document ? "config set" : "config remove",
                       .target = std::string(config_kind_name(kind)) + " " + name,
                       .comment = std::to_string(plan.updated.size()) +
                                  (plan.updated.size() == 1 ? " agent gets" : " agents get") +
                                  " a new configuration",
                       .before = old == c.docs.end() ? "" : compact(old->second),
                       .after = document ? compact(*document) : ""};
  return plan;
}

Result<ConfigPlan> CentralConfigs::apply(ConfigKind kind, const std::string& name,
                                         const std::optional<json>& document,
                                         const std::string& author, std::int64_t now_ms) {
  auto planned = plan(kind, name, document, author, now_ms);
  if (!planned) return planned.status();
  auto revision = configs_.change_config(planned->change);
  if (!revision) return revision.status();
  return planned;
}

}  // namespace vigie::collector
