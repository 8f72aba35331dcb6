// vigie-probe: the agent's network-probe helper. Reads one probe request on stdin
// (plugins/net/probe.hpp), probes every job of it at once, and prints one line per job
// on stdout. The agent runs it for net/http, net/tls and net/dns; it takes no argument.

#include <unistd.h>

#include <cstdio>
#include <string>

#include "plugins/net/probe.hpp"
#include "plugins/process.hpp"

namespace net = vigie::plugins::net;
using Clock = std::chrono::steady_clock;

namespace {

void emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 || ::isatty(STDIN_FILENO)) {
    std::fprintf(stderr,
                 "%s: the vigie agent's network-probe helper: it reads a probe request on its "
                 "standard input, from vigie-agent, and takes no argument\n",
                 argv[0]);
    return 2;
  }
  auto input = vigie::plugins::read_request(STDIN_FILENO);
  if (!input) {
    std::fprintf(stderr, "vigie-probe: %s\n", input.status().message().c_str());
    return 2;
  }
  auto request = net::decode_request(*input);
  if (!request) {
    std::fprintf(stderr, "vigie-probe: %s\n", request.status().message().c_str());
    return 2;
  }
  const auto deadline = Clock::now() + request->budget;
  if (request->kind == "http") {
    const auto answers = net::probe_http(request->http, deadline);
    for (std::size_t i = 0; i < answers.size(); ++i) emit(net::encode_answer(i, answers[i]));
  } else if (request->kind == "tls") {
    const auto answers = net::probe_tls(request->tls, deadline);
    for (std::size_t i = 0; i < answers.size(); ++i) emit(net::encode_answer(i, answers[i]));
  } else {
    const auto answers = net::probe_dns(request->dns, deadline);
    for (std::size_t i = 0; i < answers.size(); ++i) emit(net::encode_answer(i, answers[i]));
  }
  std::fflush(stdout);
  return 0;
}
