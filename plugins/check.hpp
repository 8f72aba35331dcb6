#pragma once
// The interface every built-in check implements, and what a run gets and gives.
//
// Life of a check: the agent creates it from the registry (registry.hpp), calls
// configure() once with the check's block from the config file, then calls run()
// once per interval, possibly from a worker thread. run() must return before the
// deadline in its context and must not throw (the runner still catches, and turns an
// exception into UNKNOWN with its message).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/check_result.hpp"
#include "common/status.hpp"

namespace vigie::plugins {

namespace snmp {
class Devices;
}

// What the agent shares with the checks it configures.
struct Environment {
  // The config's "devices" (plugins/snmp/devices.hpp); null when it declares none.
  std::shared_ptr<snmp::Devices> devices;
  // The wall clock; null: std::chrono::system_clock::now. Tests pin it.
  std::function<std::chrono::system_clock::time_point()> now;
};

// What a run produces; the agent adds name, check id, timestamps and interval.
struct Outcome {
  State status = State::kUnknown;
  std::string summary;
  std::string details;
  std::vector<Metric> metrics;
  // For a check that watches many targets (Check::run_all): the target this outcome
  // is about, which becomes the instance part of its check id ("net/http" with target
  // "https://example.org/" reports as "net/http:https://example.org/"); "" for the
  // check's own outcome.
  std::string target;
  // The member site the outcome is about when it is not the agent's own (central
  // pollers: a Sophos Central tenant, an Avamar client, a member's website); "": the
  // agent's site. The collector accepts it only from an agent enrolled to report for
  // that site.
  std::string site;
};

struct RunContext {
  std::chrono::steady_clock::time_point deadline;  // run() must be done by then
};

class Check {
 public:
  virtual ~Check() = default;

  // Called once, before configure(), by the agent. Checks that read shared things
  // (SNMP devices, the clock) keep what they need; others ignore it.
  virtual void attach(const Environment&) {}

  // Validates the check's parameters (the whole check object from the config, so
  // that it can read its own keys) once, before any run. An error message names the
  // parameter, e.g. "command: must be a non-empty array of strings".
  virtual Status configure(const nlohmann::json& params) = 0;

  // The part after ':' in the check id ("/srv" in "system/disk:/srv"), or "" when a
  // check of this type has a single instance per agent.
  virtual std::string instance() const { return {}; }

  // One run. Never throws; a failure to check is State::kUnknown with the reason.
  virtual Outcome run(const RunContext& context) = 0;

  // One run of a check that watches many targets (websites, tenants, the clients of a
  // backup grid): one outcome per target, each with its `target` set, optionally
  // preceded by the check's own outcome (empty `target`: a round that could not start,
  // targets without a site, ...). The agent calls this, never run(); the default gives
  // run()'s single outcome. Same contract as run(): never throws, done by the deadline;
  // a target that could not be judged in time is UNKNOWN saying so, and the others are
  // not held back by it. At most kMaxOutcomes outcomes; targets must be distinct.
  virtual std::vector<Outcome> run_all(const RunContext& context) { return {run(context)}; }

  static constexpr std::size_t kMaxOutcomes = 5000;  // the protocol's results per report
};

}  // namespace vigie::plugins
