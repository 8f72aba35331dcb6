#include <malloc.h>
#include <nss.h>

#include <cstdio>
#include <utility>

#include "agent/agent.hpp"

int main(int argc, char** argv) {
#ifdef VIGIE_AGENT_STATIC_BUILD
  // A static program can use only the name services built into it: glibc would
  // dlopen any other that nsswitch.conf lists (systemd, mdns...), a shared library
  // needing the shared libc, which crashes a static one. Users, groups and hosts come
  // from the files and DNS (docs/operations.md).
  static constexpr std::pair<const char*, const char*> kServices[] = {
      {"passwd", "files"},    {"group", "files"},     {"initgroups", "files"},
      {"shadow", "files"},    {"hosts", "files dns"}, {"services", "files"},
      {"protocols", "files"}, {"networks", "files"}};
  for (const auto& [database, services] : kServices) {
    if (__nss_configure_lookup(database, services) != 0) {
      std::fprintf(stderr, "vigie-agent: cannot restrict the %s lookups to %s\n", database,
                   services);
      return 1;
    }
  }
#endif
  // glibc gives each thread that allocates an arena of its own, up to 8 per CPU, and what
  // a thread freed stays in its arena. A central poller's round reads hundreds of pages
  // on a few threads at once: with an arena each, some 3 MB more stayed resident between
  // rounds (docs/performance.md, "Central poll"). Two arenas cost nothing measurable to
  // an agent whose threads mostly wait.
  mallopt(M_ARENA_MAX, 2);
  return vigie::agent::run(argc, argv);
}
