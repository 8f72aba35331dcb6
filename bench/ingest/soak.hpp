#pragma once
// The fault soak's load (vigie-bench-ingest --soak, driven by bench/soak/run): simulated
// agents that each behave as the real agent's shipper does. An agent sends one report
// every --interval; it keeps a report until a 2xx says it is stored (or a duplicate);
// after a connection error, a timeout, a 5xx or a 503/429 it sends the same report, the
// same (agent, seq), again after a backoff (1 s doubling to 30 s, at least 5 s after a
// 503 or 429, with jitter). A refusal (another 4xx) would make the real agent set the
// batch apart: it is counted as such, and fails the run.
//
// When the time is up, the agents stop making reports and send what they still hold,
// for at most --drain. Then, with a viewer token, every result sent is looked up through
// the collector's query API (GET /api/v1/series, raw tier, each check's first metric):
// every result acknowledged must be there exactly once, and no result may be there that
// was never sent. Once a second a line goes to the timeline file, for the faults'
// recovery times.
//
// Several collectors sharing one database (base_urls): each agent starts on one of them
// (in turn) and, as an agent behind DNS with several addresses would, moves to the next
// after a failed attempt. Injected duplicates (duplicate_share): a report just
// acknowledged is sent once more, to the next collector, as an agent does when the
// answer was lost on the way; it must be answered "duplicate", never "stored".

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/ingest/workload.hpp"

namespace vigie::bench::ingest {

struct Credential {
  std::string agent;
  std::string token;
};

struct SoakOptions {
  std::string base_url;                // https://127.0.0.1:PORT
  std::vector<std::string> base_urls;  // several collectors on one database; empty: base_url
  std::string ca_file;
  std::string site;
  int results_per_report = 10;
  int connections = 32;  // threads, each with one keep-alive connection and its agents
  std::chrono::milliseconds duration{30 * 60'000};
  std::chrono::milliseconds interval{30'000};  // between an agent's reports
  std::chrono::milliseconds timeout{10'000};   // the longest one request may take
  std::chrono::milliseconds drain{180'000};    // to send what is held after the time
  std::string timeline_file;                   // "" for none
  std::string viewer_token;                    // "" to skip the check through the API
  double duplicate_share = 0;                  // of the reports acknowledged, sent again
  // Called once per report at its first 2xx, from the agent's thread (an agent's in
  // seq order): what was stored, e.g. to feed a reference collector the same stream.
  std::function<void(const std::string& agent, std::uint64_t seq, const std::string& body)>
      on_acknowledged;
};

// Runs the soak and prints its summary. Returns 0 when nothing was lost, doubled,
// refused or left unsent, 1 otherwise.
int run_soak(const SoakOptions& options, const Catalogue& catalogue,
             const std::vector<Credential>& credentials);

}  // namespace vigie::bench::ingest
