#pragma once
// The agent configurations kept by the collector, as agents and administrators see
// them: which template and values apply to an agent, the configuration they render to
// and its version, and changes checked before they are stored (a change may not break
// the configuration of an agent that had a good one). The documents are kept in a
// ConfigStore; the agents known are those with a valid agent token (TokenStore).
//
// Threading: any thread. What is rendered is cached for the store's revision, so an
// unchanged configuration costs one small query (the revision) per call.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collector/config_store.hpp"
#include "collector/token_store.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// What one agent should run.
struct AgentConfig {
  std::string agent;
  std::string site;
  std::string template_name;
  nlohmann::json config;  // the rendered template
  std::string version;    // config_version(config)
};

// An agent's configuration as it stands: what it should run (or why it cannot) and
// what it says it runs.
struct AgentConfigState {
  std::string agent;
  std::string site;
  bool managed = false;  // a template applies to it
  std::string version;   // what it should run; "" when none or when it does not render
  std::string problem;   // why it does not render
  std::optional<AgentConfigReport> report;  // what it said last
  // Managed, and not running `version` (or a version the centre cannot render).
  bool behind() const { return managed && (!report || report->running != version); }
};

// A change checked against every known agent, not stored yet.
struct ConfigPlan {
  ConfigChange change;               // ready for ConfigStore::change_config
  std::vector<std::string> diff;     // json_diff of the document
  std::vector<std::string> updated;  // agents whose configuration changes: "id: old -> new"
};

class CentralConfigs {
 public:
  // Both must outlive this object.
  CentralConfigs(ConfigStore& configs, TokenStore& tokens);

  // The configuration of `agent` at `site`: kNotFound when no template applies to it,
  // kInvalidArgument when it cannot be rendered (the message says why).
  Result<AgentConfig> for_agent(const std::string& agent, const std::string& site);

  // Every known agent's (agents with a valid agent token, and those with values).
  Result<std::vector<AgentConfigState>> agents();

  // The stored entries.
  Result<ConfigSnapshot> snapshot();

  // Checks a change (the document's form, then every known agent's configuration with
  // it) and describes it. `document` nullopt removes the entry. kInvalidArgument names
  // what is wrong, and the agent whose configuration it would break.
  Result<ConfigPlan> plan(ConfigKind kind, const std::string& name,
                          const std::optional<nlohmann::json>& document, const std::string& author,
                          std::int64_t now_ms);
  // plan() then store it (with its audit entry); returns the plan.
  Result<ConfigPlan> apply(ConfigKind kind, const std::string& name,
                           const std::optional<nlohmann::json>& document, const std::string& author,
                           std::int64_t now_ms);

 private:
  struct Cache;
  // The entries as of the store's current revision, parsed.
  Result<std::shared_ptr<const Cache>> current();

  ConfigStore& configs_;
  TokenStore& tokens_;
  std::mutex mutex_;
  std::shared_ptr<const Cache> cache_;
};

}  // namespace vigie::collector
