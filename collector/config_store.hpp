#pragma once
// Where the agent configurations kept by the collector live (config_template.hpp):
// templates, sites' and agents' values, and what each managed agent says it runs.
// Storage is a ConfigStore (storage.hpp): the SQLite backend keeps them in the
// collector's database (sqlite/configs.cpp).
//
// Threading: any thread. Writes go through the storage's writer and wait for their
// commit: call them from a worker or a command-line thread, never from an I/O thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/config_template.hpp"
#include "collector/state.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// One stored document: a template, or a site's or an agent's values.
struct ConfigEntry {
  ConfigKind kind = ConfigKind::kTemplate;
  std::string name;           // the template's name, the site, or the agent id
  std::string document;       // JSON text
  std::int64_t revision = 0;  // the store's revision when it was last written
  std::int64_t updated_ms = 0;
  std::string author;
  bool operator==(const ConfigEntry&) const = default;
};

// Every entry, as of one revision.
struct ConfigSnapshot {
  std::int64_t revision = 0;         // grows with every change; 0: nothing ever stored
  std::vector<ConfigEntry> entries;  // by kind, then name
};

// One change: an entry stored (document set) or removed (document nullopt).
struct ConfigChange {
  ConfigKind kind = ConfigKind::kTemplate;
  std::string name;
  std::optional<std::string> document;
  // The revision the change was checked against: if the store has moved past it, the
  // change is refused with kFailedPrecondition (someone changed it meanwhile) and
  // nothing is written.
  std::int64_t based_on = 0;
  AuditEntry audit;  // stored in the same transaction
};

// What an agent said about its configuration (POST /api/v1/config/status).
struct AgentConfigReport {
  std::string agent;
  std::string running;  // the version it runs; "" none yet (its own file)
  std::string refused;  // the last version it refused; "" none
  std::string error;    // why it refused it
  std::int64_t reported_ms = 0;
  bool operator==(const AgentConfigReport&) const = default;
};

class ConfigStore {
 public:
  virtual ~ConfigStore() = default;

  virtual Result<ConfigSnapshot> config_snapshot() = 0;
  // The current revision alone: a cheap test of whether a snapshot is still current.
  virtual Result<std::int64_t> config_revision() = 0;
  // Applies `change` and its audit entry in one transaction; returns the new revision.
  // kNotFound when removing an entry that does not exist.
  virtual Result<std::int64_t> change_config(const ConfigChange& change) = 0;

  // Replaces what `report.agent` said before.
  virtual Status put_agent_config_report(const AgentConfigReport& report) = 0;
  virtual Result<std::vector<AgentConfigReport>> agent_config_reports() = 0;
};

}  // namespace vigie::collector
