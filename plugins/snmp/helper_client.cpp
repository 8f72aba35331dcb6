// open_session() and poll() for the agent: each poll runs the SNMP helper, vigie-snmp
// (plugins/snmp/wire.hpp), so that net-snmp never loads in the agent's process. The
// tests and the benchmarks link session.cpp instead, which polls in process.

#include <unistd.h>

#include <algorithm>

#include "plugins/process.hpp"
#include "plugins/snmp/session.hpp"
#include "plugins/snmp/wire.hpp"

namespace vigie::plugins::snmp {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Beyond the poll's own deadline: the helper's start, and the jobs it reports as
// timed out at the deadline.
constexpr milliseconds kGrace{3000};
// A poll answers at most max_varbinds values per job, ~70 bytes each on the wire.
constexpr std::size_t kMaxAnswer = 64 * 1024 * 1024;

// No packet is sent before a poll: the helper opens the sessions (for SNMPv3, with
// the engine discovery) each time it runs.
class HelperSession final : public Session {};

}  // namespace

Result<std::unique_ptr<Session>> open_session(const Target& target) {
  if (Status s = validate(target); !s) return s;
  return std::unique_ptr<Session>(new HelperSession());
}

void poll(std::span<const PollJob> jobs, Clock::time_point deadline,
          const std::function<void(std::size_t, Result<Snapshot>)>& done, std::size_t max_varbinds,
          std::size_t max_in_flight) {
  if (jobs.empty()) return;
  std::vector<bool> answered(jobs.size(), false);
  const auto finish_all = [&](const Status& status) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!answered[i]) done(i, status);
    }
  };
  auto helper = helper_path();
  if (!helper) return finish_all(helper.status());

  PollRequest request;
  request.budget =
      std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  request.max_varbinds = max_varbinds;
  request.max_in_flight = max_in_flight;
  for (const PollJob& job : jobs) request.jobs.push_back({*job.target, *job.request});

  ProcessOptions options;
  options.timeout = request.budget + kGrace;
  options.max_output = kMaxAnswer;
  options.input = encode_request(request);
  auto run = run_process({*helper}, options);
  if (!run) return finish_all(run.status().with_context(*helper));

  std::string_view out = run->out;
  Status first_error;  // of the lines that make no sense, the first
  while (!out.empty()) {
    const std::size_t end = out.find('\n');
    if (end == std::string_view::npos) break;  // a line cut short: the helper died
    auto line = decode_result(out.substr(0, end));
    out.remove_prefix(end + 1);
    if (!line || line->job >= jobs.size() || answered[line->job]) {
      if (first_error.is_ok()) {
        first_error = line ? Status::corruption("SNMP helper's answer: job " +
                                                std::to_string(line->job) + " unknown or repeated")
                           : line.status();
      }
      continue;
    }
    answered[line->job] = true;
    done(line->job, std::move(line->result));
  }
  if (!first_error.is_ok()) return finish_all(first_error);
  const std::string why = [&]() -> std::string {
    using Ending = ProcessResult::Ending;
    switch (run->ending) {
      case Ending::kTimedOut:
        return "did not finish within " + std::to_string(options.timeout.count()) + " ms";
      case Ending::kSignaled: return "was killed by signal " + std::to_string(run->signal);
      case Ending::kExited: break;
    }
    const std::string_view err(run->err);
    return "exited with status " + std::to_string(run->exit_code) +
           (err.empty() ? std::string() : ": " + std::string(err.substr(0, err.find('\n'))));
  }();
  const Status missing = run->ending == ProcessResult::Ending::kTimedOut
                             ? Status::timeout("the SNMP helper " + why)
                             : Status::unavailable("the SNMP helper " + why);
  finish_all(missing);
}

}  // namespace vigie::plugins::snmp
