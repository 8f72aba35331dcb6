#pragma once
// The protocol between the agent and its SNMP helper, vigie-snmp: one poll per run of
// the helper. The agent writes a PollRequest on the helper's stdin (JSON, with the
// communities and passphrases: never on its command line, which any local user can
// read); the helper answers one JSON line per job on its stdout as each job ends.
//
// The helper keeps net-snmp, and the shared OpenSSL it loads, out of the agent's
// process: an agent that polls no device maps neither, and a fault in the SNMP library
// costs one poll, not the agent.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "plugins/snmp/session.hpp"

namespace vigie::plugins::snmp {

struct PollRequest {
  struct Job {
    Target target;
    Request request;
  };
  std::vector<Job> jobs;
  std::chrono::milliseconds budget{0};  // the poll ends this long after it starts
  std::size_t max_varbinds = 20000;
  std::size_t max_in_flight = kMaxInFlight;
};

std::string encode_request(const PollRequest& request);
// kInvalidArgument naming the field that is missing or wrong.
Result<PollRequest> decode_request(std::string_view text);

// One job's outcome: a line without its newline.
std::string encode_result(std::size_t job, const Result<Snapshot>& result);
struct JobResult {
  std::size_t job = 0;
  Result<Snapshot> result = Status::internal("no result");
};
// kCorruption naming what is wrong with the line.
Result<JobResult> decode_result(std::string_view line);

// What open_session() refuses before any packet is sent (kInvalidArgument), so that
// the agent says it at once rather than after a run of the helper.
Status validate(const Target& target);

}  // namespace vigie::plugins::snmp
