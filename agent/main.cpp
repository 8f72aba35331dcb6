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
  return vigie::agent::run(argc, argv);
}
