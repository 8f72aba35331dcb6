#pragma once
// `agent/self`: the agent watching itself, built in and always on (the agent adds it,
// every minute; a configuration may not declare it). It reports what a technician
// needs to trust the other results: is the agent sending, how far behind is it, did it
// lose anything, are its checks slow, how much memory does it hold.
//
// States:
//   CRITICAL  the oldest unsent result is over 1 h old, or the collector rejects the
//             agent's token (sending stopped)
//   WARNING   the oldest unsent result is over 15 min old, or results were dropped
//             from the spool, or a result was refused by the collector and
//             quarantined, during the last hour; or traps are configured and their
//             receiver has not been listening for a minute since the agent started
//   OK        otherwise
// Without an agent behind it (vigie-agent check) it reports only memory and version.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::agent {

inline constexpr MetricSpec kSelfMetrics[] = {
    {"spool_depth", "", "results in the spool, waiting to be sent"},
    {"spool_oldest_age", "s", "age of the oldest result not yet acknowledged (0: none)"},
    {"spool_dropped", "c", "results dropped by the spool (full or too old) since it was created"},
    {"spool_quarantined", "c",
     "results the collector refused for good, kept apart, since the spool was created"},
    {"last_send_age", "s", "time since the collector last acknowledged a batch"},
    {"check_latency_max", "ms", "the slowest check run since the previous agent/self run"},
    {"check_latency_p95", "ms", "95th percentile of the check runs since the previous run"},
    {"check_runs", "", "check runs since the previous agent/self run"},
    {"rss", "B", "the agent's resident memory"},
    {"traps_accepted", "c", "SNMP traps and informs accepted since the agent started (with traps)"},
    {"traps_dropped", "c",
     "SNMP traps dropped since the agent started: unknown sources, wrong credentials, over a "
     "device's rate (with traps)"},
};

inline constexpr std::int64_t kSelfWarnAgeMs = 15 * 60'000;
inline constexpr std::int64_t kSelfCritAgeMs = 60 * 60'000;

// The running agent's own figures.
struct AgentHealth {
  std::size_t spool_depth = 0;
  std::int64_t spool_oldest_ms = 0;     // 0: the spool is empty
  std::uint64_t spool_dropped = 0;      // since the spool was created
  std::uint64_t spool_quarantined = 0;  // results, since the spool was created
  std::int64_t last_sent_ms = 0;        // the collector's last 2xx; 0: none since the start
  std::int64_t started_ms = 0;          // when the agent started
  bool sending_halted = false;          // the collector rejected the token
  std::vector<std::int64_t> check_durations_ms;  // check runs since the previous call
  // SNMP traps (agent/traps.hpp), when the configuration receives them.
  struct Traps {
    std::uint64_t accepted = 0;
    std::uint64_t dropped = 0;
    bool listening = false;
  };
  std::optional<Traps> traps;
};

// The check as the agent runs it: `health` is called once per run (from a worker
// thread) and starts a new window of check durations.
std::unique_ptr<Check> make_self_check(std::function<AgentHealth()> health);
// The registry's factory: no agent behind it.
std::unique_ptr<Check> make_self_check();

// The percentile `p` (0..100) of `values`, nearest rank; 0 when empty. Reorders them.
std::int64_t percentile(std::vector<std::int64_t>& values, double p);

// The resident set size of this process in bytes, from /proc/self/status; 0 if unknown.
std::uint64_t resident_bytes();

}  // namespace vigie::plugins::agent
