// vigie-snmp: the agent's SNMP helper. Reads one poll request on stdin, polls the
// devices with net-snmp, and prints one line per job on stdout as each ends
// (plugins/snmp/wire.hpp). With --traps, it receives SNMP traps and informs instead,
// until its stdin closes (plugins/snmp/trap_receiver.hpp). The agent runs it; it is
// not meant to be run by hand.

#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <string>
#include <string_view>

#include "plugins/process.hpp"
#include "plugins/snmp/session.hpp"
#include "plugins/snmp/trap_receiver.hpp"
#include "plugins/snmp/wire.hpp"

namespace snmp = vigie::plugins::snmp;
using Clock = std::chrono::steady_clock;

namespace {

void emit(std::size_t job, const vigie::Result<snmp::Snapshot>& result) {
  const std::string line = snmp::encode_result(job, result) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

void print_line(const std::string& text) {
  const std::string line = text + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// The first line of stdin, read a byte at a time: what follows it (nothing, until the
// agent closes it) must stay unread.
bool read_first_line(std::string& line) {
  char c = 0;
  while (line.size() <= vigie::plugins::kMaxInput) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line += c;
  }
  return false;
}

int receive_traps() {
  std::string line;
  if (!read_first_line(line)) {
    print_line(snmp::encode_warning("vigie-snmp --traps: no options on standard input"));
    return 2;
  }
  auto options = snmp::decode_trap_options(line);
  if (!options) {
    print_line(snmp::encode_warning("vigie-snmp --traps: " + options.status().message()));
    return 2;
  }
  snmp::TrapHandlers handlers;
  handlers.ready = [](std::string_view listen, std::string_view engine_id) {
    print_line(snmp::encode_ready(listen, engine_id));
  };
  handlers.event = [](const vigie::protocol::Event& event) {
    print_line(snmp::encode_event(event));
  };
  handlers.counters = [](const snmp::TrapCounters& counters) {
    print_line(snmp::encode_counters(counters));
  };
  handlers.warning = [](std::string_view message) { print_line(snmp::encode_warning(message)); };
  if (vigie::Status s = snmp::receive_traps(*options, STDIN_FILENO, handlers); !s) {
    print_line(snmp::encode_warning(s.message()));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--traps" && !::isatty(STDIN_FILENO))
    return receive_traps();
  if (argc > 1 || ::isatty(STDIN_FILENO)) {
    std::fprintf(stderr,
                 "%s: the vigie agent's SNMP helper: it reads a poll request on its standard "
                 "input, from vigie-agent, and takes no argument but --traps\n",
                 argv[0]);
    return 2;
  }
  auto input = vigie::plugins::read_request(STDIN_FILENO);
  if (!input) {
    std::fprintf(stderr, "vigie-snmp: %s\n", input.status().message().c_str());
    return 2;
  }
  auto request = snmp::decode_request(*input);
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
