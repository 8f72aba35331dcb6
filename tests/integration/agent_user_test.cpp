// An external check run as another user, by the real agent running as an unprivileged
// user with only CAP_SETUID and CAP_SETGID (ambient), as its systemd drop-in gives them.

#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

TEST_CASE("Agent: a plugin run as another user gets none of the agent's capabilities",
          "[agent-user]") {
  if (::geteuid() != 0) {
    WARN("not root: cannot start the agent as another user here");
    return;
  }
  testing::TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  dir.write(
      "caps.sh",
      "#!/bin/sh\n"
      "echo \"OK $(id -un) $(grep -E '^Cap(Eff|Amb)' /proc/self/status | tr '\\t\\n' '  ')\"\n",
      true);
  const auto config = dir.write("agent.json", R"({"agent": {"id": "t", "site": "s"},
        "collector": {"url": "http://127.0.0.1:9"},
        "checks": [{"name": "caps", "type": "external", "user": "daemon",
                    "command": [")" + (dir / "caps.sh").string() +
                                                  R"("]}]})");
  // A copy nobody may run, wherever the build tree is.
  const auto agent = dir / "vigie-agent";
  std::filesystem::copy_file(VIGIE_AGENT_BIN, agent);
  std::filesystem::permissions(agent, std::filesystem::perms(0755));
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                              "--clear-groups"};

  auto argv = as_nobody;
  argv.insert(argv.end(), {"--inh-caps=+setuid,+setgid", "--ambient-caps=+setuid,+setgid",
                           agent.string(), "check", "--config", config.string()});
  auto r = testing::run(argv);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("OK daemon CapEff: 0000000000000000 CapAmb: 0000000000000000"));

  // Without the capabilities: UNKNOWN, and why.
  argv = as_nobody;
  argv.insert(argv.end(), {agent.string(), "check", "--config", config.string()});
  r = testing::run(argv);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains("UNKNOWN  cannot run as user daemon: setgroups: Operation not "
                                    "permitted (the agent needs CAP_SETUID and CAP_SETGID)"));
}

}  // namespace
}  // namespace vigie
