// SNMP traps from end to end, with real processes: net-snmp's snmptrap sends to the real
// agent's receiver, the agent sends the trap to a real collector, and the trap is in the
// check's history and the events feed; the device (snmpsim) is polled again at once.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/snmpsim.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using Catch::Contains;
using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;

constexpr const char* kFirmwareOid = "1.3.6.1.4.1.2604.5.1.1.3.0";
constexpr const char* kCommunity = "sophos-xg-healthy";

json get_json(Collector& collector, const std::string& path, const std::string& token) {
  const auto reply = collector.get(path, token);
  if (reply.status != 200) return nullptr;
  return json::parse(reply.body, nullptr, false);
}

// A counter of GET /metrics; -1 when absent.
double metric(Collector& collector, const std::string& token, const std::string& name) {
  const std::string text = collector.get("/metrics", token).body;
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

json traps_of(const json& events) {
  json out = json::array();
  if (!events.is_array()) return out;
  for (const auto& e : events) {
    if (e.value("kind", "") == "trap") out.push_back(e);
  }
  return out;
}

TEST_CASE(
    "Traps end to end: snmptrap, the agent, the collector's history and events, and a "
    "poll of the device at once",
    "[traps][e2e]") {
  // The firewall's firmware version can be changed with an SNMP SET (snmpsim's
  // writecache), so that a poll is told apart from the agent's cached answer.
  testing::SnmpSim sim(
      {{kCommunity,
        testing::edit_recording(testing::fixture_recording("sophos-xg-healthy"),
                                {{kFirmwareOid, "4:writecache|value=20.0.2 MR-2-Build378"}})}});
  testing::TempDir dir;
  Collector collector(dir);
  const std::string viewer = collector.token("viewer");
  const auto token =
      dir.write_secret("agent.token", collector.enroll("trap-agent", "it-site") + "\n");
  const int trap_port = testing::free_udp_port();
  const json config = {
      {"agent", {{"id", "trap-agent"}, {"site", "it-site"}}},
      {"collector",
       {{"url", collector.url()},
        {"ca_file", collector.ca()},
        {"token_file", token.string()},
        {"send_interval", "1s"}}},
      {"defaults", {{"splay", "0s"}}},
      {"devices",
       {{"fw",
         {{"host", "127.0.0.1"},
          {"port", sim.port()},
          {"max_age", "1h"},
          {"snmp", {{"version", "2c"}, {"community", kCommunity}, {"timeout", "2s"}}}}}}},
      {"traps",
       {{"listen", "127.0.0.1:" + std::to_string(trap_port)},
        {"poll_delay", "0s"},
        {"poll_gap", "1s"}}},
      // Run once an hour: a second result within the test comes from the trap.
      {"checks",
       {{{"name", "firewall"},
         {"type", "firewall/sophos"},
         {"device", "fw"},
         {"interval", "1h"}}}}};
  const auto config_file = dir.write("agent.json", config.dump(1));
  testing::Child agent({VIGIE_AGENT_BIN, "run", "--config", config_file.string(), "--state-dir",
                        dir.path().string()},
                       dir / "agent.log");
  const auto logs = [&] {
    return "collector log:\n" + collector.child().log() + "\nagent log:\n" + agent.log();
  };

  // The first poll, as the agent starts.
  std::string check_id;
  json first;
  const bool polled_once = testing::eventually(
      [&] {
        const json checks = get_json(collector, "/api/v1/checks?agent=trap-agent", viewer);
        if (!checks.is_object()) return false;
        for (const auto& c : checks["checks"]) {
          if (c.value("name", "") == "firewall") {
            check_id = c["check"];
            first = c;
            return true;
          }
        }
        return false;
      },
      30s);
  if (!polled_once) FAIL(logs());
  CHECK_THAT(first["summary"].get<std::string>(), Contains("SFOS 20.0.2 MR-2"));
  const std::string check_path = "/api/v1/check?agent=trap-agent&check=" + check_id;

  // The device changes; the agent would not see it for an hour...
  auto set = testing::run({"/usr/bin/snmpset", "-v2c", "-c", kCommunity,
                           "127.0.0.1:" + std::to_string(sim.port()), kFirmwareOid, "s",
                           "21.0.0 GA-Build169"});
  INFO(set.out << set.err);
  REQUIRE(set.exit_code == 0);
  // ...but it sends a trap: linkDown of its port 3.
  auto sent = testing::run({"/usr/bin/snmptrap", "-v2c", "-c", kCommunity,
                            "127.0.0.1:" + std::to_string(trap_port), "", "1.3.6.1.6.3.1.1.5.3",
                            "1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.2.2.1.8.3", "i", "2"});
  INFO(sent.out << sent.err);
  REQUIRE(sent.exit_code == 0);

  // In the check's history, decoded.
  json trap;
  REQUIRE(testing::eventually(
      [&] {
        const json check = get_json(collector, check_path, viewer);
        if (!check.is_object()) return false;
        const json traps = traps_of(check["history"]);
        if (traps.empty()) return false;
        trap = traps[0];
        return true;
      },
      15s));
  CHECK(trap["summary"] == "linkDown from fw: ifIndex.3=3, ifOperStatus.3=down(2)");
  CHECK(trap["site"] == "it-site");
  CHECK(trap["trap"]["name"] == "linkDown");
  CHECK(trap["trap"]["oid"] == "1.3.6.1.6.3.1.1.5.3");
  CHECK(trap["trap"]["device"] == "fw");
  CHECK(trap["trap"]["version"] == "2c");
  CHECK_THAT(trap["trap"]["source"].get<std::string>(), Contains("127.0.0.1:"));

  // In the console's Check view, as a technician prints it for a ticket.
  const auto viewer_file = collector.token_file("viewer");
  const auto shown =
      testing::run({VIGIE_CONSOLE_BIN, "--url", collector.url(), "--ca-file", collector.ca(),
                    "--token-file", viewer_file.string(), "check", "trap-agent/" + check_id});
  INFO(shown.out << shown.err);
  CHECK(shown.exit_code == 0);
  CHECK_THAT(shown.out, Contains("Recent traps (newest first)") &&
                            Contains("linkDown from fw: ifIndex.3=3, ifOperStatus.3=down(2)"));

  // In the events feed, once.
  const json feed = get_json(collector, "/api/v1/events?after=0&timeout=0s", viewer);
  REQUIRE(feed.is_object());
  const json traps = traps_of(feed["events"]);
  REQUIRE(traps.size() == 1);
  CHECK(traps[0]["id"] == trap["id"]);
  CHECK(traps[0]["check"] == check_id);

  // And the device polled again within seconds, not at the next hour.
  json polled;
  const bool fresh = testing::eventually(
      [&] {
        polled = get_json(collector, check_path, viewer);
        return polled.is_object() &&
               polled["summary"].get<std::string>().find("SFOS 21.0.0") != std::string::npos;
      },
      15s);
  INFO(polled.dump());
  CHECK(fresh);
  CHECK(polled["ts"].get<std::int64_t>() > first["ts"].get<std::int64_t>());

  // A storm: one trap replayed 3,000 times as fast as the socket takes it. The agent
  // passes on the device's burst and rate (50, then 5 a second), the collector keeps
  // 20 of this device's check (one kept already) and counts the rest.
  const int capture = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in here{};
  here.sin_family = AF_INET;
  here.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(capture, reinterpret_cast<sockaddr*>(&here), sizeof here) == 0);
  socklen_t length = sizeof here;
  REQUIRE(::getsockname(capture, reinterpret_cast<sockaddr*>(&here), &length) == 0);
  REQUIRE(testing::run({"/usr/bin/snmptrap", "-v2c", "-c", kCommunity,
                        "127.0.0.1:" + std::to_string(ntohs(here.sin_port)), "",
                        "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.2.2.1.1.3", "i", "3"})
              .exit_code == 0);
  char packet[2048];
  pollfd p{capture, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  const ssize_t size = ::recv(capture, packet, sizeof packet, 0);
  REQUIRE(size > 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(trap_port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3000; ++i) {
    ::sendto(capture, packet, static_cast<std::size_t>(size), 0, reinterpret_cast<sockaddr*>(&to),
             sizeof to);
    if (i % 200 == 199) ::usleep(2000);
  }
  ::close(capture);
  double kept = 0;
  double not_kept = 0;
  // Until what the agent passed on has reached the collector (two quiet reads in a row).
  double seen = -1;
  REQUIRE(testing::eventually(
      [&] {
        kept = metric(collector, viewer, "vigie_traps_kept_total");
        not_kept = metric(collector, viewer, "vigie_traps_not_kept_total");
        const bool quiet = kept + not_kept == seen && not_kept > 0;
        seen = kept + not_kept;
        if (!quiet) std::this_thread::sleep_for(1500ms);
        return quiet;
      },
      20s));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("kept " << kept << ", not kept " << not_kept << " in " << seconds << " s");
  CHECK(kept == 20);
  CHECK(kept + not_kept >= 1 + 50);
  CHECK(kept + not_kept <= 1 + 50 + 5 * seconds + 1);
  const json after = get_json(collector, "/api/v1/events?after=0&limit=10000&timeout=0s", viewer);
  CHECK(traps_of(after["events"]).size() == 20);
  const json last = traps_of(after["events"]).back();
  CHECK(last["trap"]["name"] == "linkUp");

  auto stopped = agent.stop(SIGTERM);
  REQUIRE(stopped);
  CHECK(WEXITSTATUS(*stopped) == 0);
}

}  // namespace
}  // namespace vigie
