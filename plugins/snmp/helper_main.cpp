// vigie-snmp: the agent's SNMP helper. Reads one poll request on stdin, polls the
// devices with net-snmp, and prints one line per job on stdout as each ends
// (plugins/snmp/wire.hpp). The agent runs it; it is not meant to be run by hand.

#include <unistd.h>

#include <cstdio>
#include <string>

#include "plugins/process.hpp"
#include "plugins/snmp/session.hpp"
#include "plugins/snmp/wire.hpp"

namespace snmp = vigie::plugins::snmp;
using Clock = std::chrono::steady_clock;

namespace {

void emit(std::size_t job, const vigie::Result<snmp::Snapshot>& result) {
  const std::string line = snmp::encode_result(job, result) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 || ::isatty(STDIN_FILENO)) {
    std::fprintf(stderr,
                 "%s: the vigie agent's SNMP helper: it reads a poll request on its standard "
                 "input, from vigie-agent, and takes no argument\n",
                 argv[0]);
    return 2;
  }
  std::string input;
  char buffer[65536];
  while (input.size() <= vigie::plugins::kMaxInput) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, stdin);
    if (n == 0) break;
    input.append(buffer, n);
  }
  if (input.size() > vigie::plugins::kMaxInput) {
    std::fprintf(stderr, "vigie-snmp: the poll request is larger than %zu bytes\n",
                 vigie::plugins::kMaxInput);
    return 2;
  }
  auto request = snmp::decode_request(input);
  if (!request) {
    std::fprintf(stderr, "vigie-snmp: %s\n", request.status().message().c_str());
    return 2;
  }
  const auto deadline = Clock::now() + request->budget;

  std::vector<std::unique_ptr<snmp::Session>> sessions;
  std::vector<snmp::PollJob> jobs;
  std::vector<std::size_t> index;  // jobs[i] is the request's job index[i]
  for (std::size_t i = 0; i < request->jobs.size(); ++i) {
    const auto& job = request->jobs[i];
    auto session = snmp::open_session(job.target);
    if (!session) {
      emit(i, session.status());
      continue;
    }
    sessions.push_back(std::move(*session));
    jobs.push_back({sessions.back().get(), &job.target, &job.request});
    index.push_back(i);
  }
  snmp::poll(
      jobs, deadline,
      [&](std::size_t i, vigie::Result<snmp::Snapshot> result) { emit(index[i], result); },
      request->max_varbinds, request->max_in_flight);
  return 0;
}
