// The real agent probing websites, TLS services and DNS through vigie-probe, the helper
// beside it (libcurl, OpenSSL and c-ares are never part of the agent), and pinging from
// its own process.

#include <filesystem>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/collector_fixture.hpp"
#include "tests/support/net_peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using Catch::Contains;
using Catch::StartsWith;
using nlohmann::json;

struct Site {
  testing::TempDir dir;
  std::unique_ptr<testing::NetPeers> peers;
  std::string good, error;

  Site() {
    testing::make_certificate(dir.path(), "web", 90, {"localhost", "127.0.0.1"});
    testing::NetPeers::Options options;
    options.https = {{"web", (dir / "web.crt").string(), (dir / "web.key").string()}};
    peers = std::make_unique<testing::NetPeers>(dir.path(), options);
    good = "https://127.0.0.1:" + std::to_string(peers->port("web")) + "/";
    error = "https://127.0.0.1:" + std::to_string(peers->port("web")) + "/error";
  }

  std::filesystem::path config() const {
    const json config = {
        {"agent", {{"id", "poller"}, {"site", "centre"}}},
        {"collector", {{"url", "http://127.0.0.1:9"}}},
        {"checks",
         {{{"name", "sites"},
           {"type", "net/http"},
           {"ca_file", (dir / "ca.crt").string()},
           {"targets", {{{"url", good}, {"site", "onesse"}}, {{"url", error}, {"site", "brest"}}}}},
          {{"name", "links"},
           {"type", "net/ping"},
           {"targets", {"127.0.0.1"}},
           {"count", 2},
           {"packet_interval", "50ms"}}}}};
    return dir.write("agent.json", config.dump(1));
  }
};

json check_all(const std::filesystem::path& agent, const std::filesystem::path& config) {
  const auto r = testing::run({agent.string(), "check", "--config", config.string(), "--json"});
  INFO(r.out << r.err);
  const json results = json::parse(r.out, nullptr, false);
  REQUIRE(results.is_array());
  return results;
}

const json& result(const json& results, const std::string& id) {
  for (const auto& r : results) {
    if (r["check"] == id) return r;
  }
  FAIL("no result " << id << " in " << results.dump(1));
  throw std::logic_error("unreachable");
}

TEST_CASE("Agent: probes websites through vigie-probe, one result per target and site",
          "[agent][net]") {
  Site site;
  const json results = check_all(VIGIE_AGENT_BIN, site.config());
  INFO(results.dump(1));
  REQUIRE(results.size() == 3);
  const json& good = result(results, "net/http:" + site.good);
  CHECK(good["state"] == "OK");
  CHECK_THAT(good["summary"].get<std::string>(),
             StartsWith("HTTP 200 in ") && Contains("certificate valid "));
  const json& error = result(results, "net/http:" + site.error);
  CHECK(error["state"] == "CRITICAL");
  CHECK_THAT(error["summary"].get<std::string>(), StartsWith("HTTP 500"));
  if (good.contains("site")) {
    CHECK(good["site"] == "onesse");
    CHECK(error["site"] == "brest");
  }
  CHECK(result(results, "net/ping:127.0.0.1")["state"] == "OK");

  // A copy of the agent alone: each target says what is missing; ping needs no helper.
  const auto lone = site.dir / "vigie-agent";
  std::filesystem::copy_file(VIGIE_AGENT_BIN, lone);
  std::filesystem::permissions(lone, std::filesystem::perms(0755));
  const json missing = check_all(lone, site.config());
  INFO(missing.dump(1));
  const json& unknown = result(missing, "net/http:" + site.good);
  CHECK(unknown["state"] == "UNKNOWN");
  CHECK_THAT(unknown["summary"].get<std::string>(),
             Contains("the network-probe helper vigie-probe is not installed") &&
                 Contains((site.dir / "vigie-probe").string()));
  CHECK(result(missing, "net/ping:127.0.0.1")["state"] == "OK");

  // A helper that answers garbage or dies.
  for (const char* body : {"echo 'not json'", "kill -9 $$"}) {
    INFO(body);
    site.dir.write("vigie-probe", std::string("#!/bin/sh\ncat > /dev/null\n") + body + "\n", true);
    const json broken = check_all(lone, site.config());
    INFO(broken.dump(1));
    const json& r = result(broken, "net/http:" + site.error);
    CHECK(r["state"] == "UNKNOWN");
    CHECK_THAT(r["summary"].get<std::string>(), Contains("probe helper"));
  }
}

TEST_CASE("Agent: its program needs neither libcurl nor c-ares", "[agent][net]") {
  const auto r = testing::run({"/usr/bin/readelf", "--dynamic", VIGIE_AGENT_BIN});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* library : {"libcurl", "libcares", "libssl"}) {
    INFO(library);
    CHECK_THAT(r.out, !Contains(library));
  }
}

}  // namespace
}  // namespace vigie
