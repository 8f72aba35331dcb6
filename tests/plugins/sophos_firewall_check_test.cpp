#include "plugins/firewall/sophos_firewall_check.hpp"

#include <time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <sstream>
#include <string>

#include "plugins/snmp/devices.hpp"
#include "tests/support/snmpsim.hpp"

namespace vigie::plugins::firewall {
namespace {

using nlohmann::json;
using testing::edit_recording;
using testing::fixture_recording;

constexpr const char* kHealthy = "sophos-xg-healthy";

// Removes every row of the IPsec tunnel table.
std::map<std::string, std::string> no_tunnels(const std::string& recording) {
  std::map<std::string, std::string> edits;
  std::istringstream lines(recording);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("1.3.6.1.4.1.2604.5.1.6.")) edits[line.substr(0, line.find('|'))] = "";
  }
  return edits;
}

// Each problem is the healthy recording with a few objects changed.
std::vector<testing::Recording> recordings() {
  const std::string healthy = fixture_recording(kHealthy);
  const std::string sfos = "1.3.6.1.4.1.2604.5.1.";
  return {
      {kHealthy, healthy},
      {"fw-ha-lost", edit_recording(healthy, {{sfos + "4.4.0", "2|2"}, {sfos + "4.5.0", "2|0"}})},
      {"fw-service-stopped", edit_recording(healthy, {{sfos + "3.10.0", "2|1"}})},
      {"fw-licence-expired",
       edit_recording(healthy, {{sfos + "5.3.1.0", "2|4"}, {sfos + "5.3.2.0", "4|Nov 20 2026"}})},
      {"fw-licence-expiring", edit_recording(healthy, {{sfos + "5.2.2.0", "4|Dec 15 2026"}})},
      {"fw-licence-days", edit_recording(healthy, {{sfos + "5.6.2.0", "4|Dec 3 2026"},
                                                   {sfos + "5.1.2.0", "4|Dec 24 2026"}})},
      {"fw-wan-down", edit_recording(healthy, {{"1.3.6.1.2.1.2.2.1.8.3", "2|2"}})},
      {"fw-wrong-type", edit_recording(healthy, {{sfos + "4.1.0", "4|enabled"}})},
      {"fw-no-ha-mib", edit_recording(healthy, {{sfos + "4.4.0", ""}, {sfos + "4.5.0", ""}})},
      {"not-a-firewall", fixture_recording("unifi-ap-healthy")},
      {"fw-no-tunnels", edit_recording(healthy, no_tunnels(healthy))},
      {"fw-tunnel-unreported",
       edit_recording(healthy, {{sfos + "6.1.1.1.1.8.1", ""}, {sfos + "6.1.1.1.1.8.3", "4|up"}})},
  };
}

testing::SnmpSim& simulator() {
  static testing::SnmpSim sim(recordings());
  return sim;
}

// The scenario's date: sfosCurrentDate is "Sat Nov 28 10:00:00 2026".
std::chrono::system_clock::time_point scenario_now() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 28;
  tm.tm_hour = 10;
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(::mktime(&tm));
}

Environment environment(const std::string& community, const std::string& extra_device = "{}") {
  json device = {
      {"host", "127.0.0.1"},
      {"port", simulator().port()},
      {"snmp",
       {{"version", "2c"}, {"community", community}, {"timeout", "500ms"}, {"retries", 0}}}};
  device.update(json::parse(extra_device));
  auto devices = snmp::Devices::create(json{{"fw", device}});
  REQUIRE(devices.is_ok());
  Environment env;
  env.devices = *devices;
  env.now = [] { return scenario_now(); };
  return env;
}

std::unique_ptr<Check> configured(const Environment& env, json params = json::object()) {
  auto check = make_sophos_firewall_check();
  check->attach(env);
  params["device"] = "fw";
  const Status status = check->configure(params);
  INFO(status.to_string());
  REQUIRE(status.is_ok());
  return check;
}

Outcome run(Check& check) {
  return check.run(RunContext{std::chrono::steady_clock::now() + std::chrono::seconds(5)});
}

Outcome run_on(const std::string& community, json params = json::object()) {
  auto check = configured(environment(community), std::move(params));
  return run(*check);
}

const Metric* metric(const Outcome& outcome, const std::string& label) {
  for (const auto& m : outcome.metrics) {
    if (m.label == label) return &m;
  }
  return nullptr;
}

double value(const Outcome& outcome, const std::string& label) {
  const Metric* m = metric(outcome, label);
  INFO(label);
  REQUIRE(m != nullptr);
  REQUIRE(m->value.has_value());
  return *m->value;
}

// Exactly one problem was raised, and the summary names it.
void only_problem(const Outcome& outcome, State state, const std::string& text) {
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == state);
  CHECK_THAT(outcome.summary, Catch::StartsWith(text));
  CHECK_THAT(outcome.summary, Catch::EndsWith("(XGS126, SFOS 20.0.2 MR-2-Build378)"));
  CHECK(outcome.summary.find(';') == std::string::npos);
  std::size_t problems = 0;
  std::istringstream lines(outcome.details);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("OK: ")) ++problems;
  }
  CHECK(problems == 1);
}

TEST_CASE("SophosFirewallCheck: the healthy firewall is OK with its metrics", "[sophos][snmp]") {
  const Outcome outcome = run_on(kHealthy);
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary ==
        "XGS126, SFOS 20.0.2 MR-2-Build378: HA primary/auxiliary, 21 services running, "
        "subscriptions valid, up 45 d 03:00");
  CHECK(value(outcome, "uptime") == 3898812);
  CHECK(value(outcome, "cpu_pct") == Approx(6.8));
  CHECK(value(outcome, "memory_pct") == 46);
  CHECK(value(outcome, "swap_pct") == 2);
  CHECK(value(outcome, "disk_pct") == 31);
  CHECK(value(outcome, "live_users") == 14);
  CHECK(value(outcome, "services_running") == 21);
  CHECK(value(outcome, "licence_network_days") == 367);
  CHECK(value(outcome, "licence_base_days") > 300000);
  CHECK(metric(outcome, "licence_email_days") == nullptr);  // not subscribed
  CHECK(metric(outcome, "Port2_in_bps") == nullptr);        // rates need two polls
  CHECK_THAT(outcome.details, Catch::Contains("OK: licence Email protection: not subscribed"));
  CHECK_THAT(outcome.details, Catch::Contains("OK: interface Port3 disabled"));
  CHECK_THAT(outcome.details, Catch::Contains("OK: HA primary, peer auxiliary (Active-Passive)"));
  // Tunnels nobody listed are shown, not judged.
  CHECK(value(outcome, "tunnels") == 3);
  CHECK(value(outcome, "tunnels_active") == 2);
  CHECK_THAT(outcome.details,
             Catch::Contains("OK: 2/3 IPsec tunnels active (not required: Annexe-Ecole down)"));
}

TEST_CASE("SophosFirewallCheck: the IPsec tunnels listed must be active", "[sophos][snmp]") {
  const Outcome up = run_on(kHealthy, {{"tunnels", {"DC-Paris", "Mairie-Backup"}}});
  INFO(up.summary << "\n" << up.details);
  CHECK(up.status == State::kOk);
  CHECK_THAT(up.summary, Catch::Contains("subscriptions valid, 2 required IPsec tunnels active"));

  only_problem(run_on(kHealthy, {{"tunnels", {"DC-Paris", "Annexe-Ecole"}}}), State::kCritical,
               "IPsec tunnel Annexe-Ecole down");
  only_problem(run_on(kHealthy, {{"tunnels", {"Annexe-Mairie"}}}), State::kCritical,
               "IPsec tunnel Annexe-Mairie not found");
}

TEST_CASE("SophosFirewallCheck: a firewall without IPsec tunnels", "[sophos][snmp]") {
  const Outcome quiet = run_on("fw-no-tunnels");
  CHECK(quiet.status == State::kOk);
  CHECK(metric(quiet, "tunnels") == nullptr);
  CHECK_THAT(quiet.details, !Catch::Contains("IPsec"));
  const Outcome listed = run_on("fw-no-tunnels", {{"tunnels", {"DC-Paris"}}});
  only_problem(listed, State::kCritical,
               "IPsec tunnel DC-Paris not found (the firewall lists no IPsec tunnel)");
  CHECK(value(listed, "tunnels") == 0);
  CHECK(value(listed, "tunnels_active") == 0);
}

TEST_CASE("SophosFirewallCheck: a tunnel whose activity is not reported is UNKNOWN if required",
          "[sophos][snmp]") {
  // What SFOS answers for a connection without tunnels is not documented: a missing
  // ActiveTunnel, or one of another type, is not taken for "down".
  only_problem(run_on("fw-tunnel-unreported", {{"tunnels", {"DC-Paris"}}}), State::kUnknown,
               "IPsec tunnel DC-Paris in an unreported state");
  const Outcome other = run_on("fw-tunnel-unreported");
  CHECK(other.status == State::kOk);
  CHECK(value(other, "tunnels_active") == 0);
}

TEST_CASE("SophosFirewallCheck: traffic rates from the second poll", "[sophos][snmp]") {
  auto check = configured(environment(kHealthy, R"({"max_age": "1s"})"));
  const Outcome first = run(*check);
  CHECK(metric(first, "Port2_in_bps") == nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const Outcome second = run(*check);
  INFO(second.details);
  // The recording's counters do not move: 0 b/s, but a rate all the same.
  CHECK(value(second, "Port2_in_bps") == 0);
  CHECK(value(second, "Port1.20_out_bps") == 0);
  CHECK(metric(second, "lo_in_bps") == nullptr);
  CHECK(metric(second, "Port3_in_bps") == nullptr);  // disabled
}

TEST_CASE("SophosFirewallCheck: HA peer lost is CRITICAL", "[sophos][snmp]") {
  only_problem(run_on("fw-ha-lost"), State::kCritical, "HA peer lost: this unit runs standalone");
}

TEST_CASE("SophosFirewallCheck: a stopped service that should run is CRITICAL", "[sophos][snmp]") {
  only_problem(run_on("fw-service-stopped"), State::kCritical, "service ips stopped");
}

TEST_CASE("SophosFirewallCheck: a stopped service nobody asked for stays quiet", "[sophos][snmp]") {
  const Outcome outcome = run_on("fw-service-stopped", {{"services", {"dns", "http"}}});
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.details, Catch::Contains("not required: ips stopped"));
}

TEST_CASE("SophosFirewallCheck: an expired licence is CRITICAL", "[sophos][snmp]") {
  only_problem(run_on("fw-licence-expired"), State::kCritical,
               "licence Web protection expired (Nov 20 2026)");
}

TEST_CASE("SophosFirewallCheck: a licence expiring within 30 days is WARNING", "[sophos][snmp]") {
  only_problem(run_on("fw-licence-expiring"), State::kWarning,
               "licence Network protection expires in 17 days (Dec 15 2026)");
}

TEST_CASE("SophosFirewallCheck: most severe first, and the thresholds are configurable",
          "[sophos][snmp]") {
  const Outcome outcome = run_on("fw-licence-days");
  INFO(outcome.details);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary ==
        "licence Sandstorm expires in 5 days (Dec 3 2026); "
        "licence Base firewall expires in 26 days (Dec 24 2026) "
        "(XGS126, SFOS 20.0.2 MR-2-Build378)");
  const Outcome relaxed =
      run_on("fw-licence-days", {{"licence_warn_days", 4}, {"licence_crit_days", 2}});
  CHECK(relaxed.status == State::kOk);
}

TEST_CASE("SophosFirewallCheck: the device's own date can be today", "[sophos][snmp]") {
  auto env = environment("fw-licence-expiring");
  env.now = [] { return scenario_now() + std::chrono::hours(24 * 400); };
  auto agent_clock = configured(env);
  CHECK_THAT(run(*agent_clock).summary, Catch::Contains("Network protection expired 383 days ago"));
  auto device_clock = configured(environment("fw-licence-expiring"), {{"clock", "device"}});
  CHECK_THAT(run(*device_clock).summary, Catch::Contains("expires in 17 days"));
}

TEST_CASE("SophosFirewallCheck: a WAN port down is CRITICAL, another port WARNING",
          "[sophos][snmp]") {
  only_problem(run_on("fw-wan-down"), State::kCritical, "WAN Port2 down");
  only_problem(run_on("fw-wan-down", {{"wan_ports", json::array()}}), State::kWarning,
               "interface Port2 down");
  CHECK(run_on("fw-wan-down", {{"wan_ports", json::array()}, {"ignore_interfaces", {"Port2"}}})
            .status == State::kOk);
}

TEST_CASE("SophosFirewallCheck: a device that stops answering is UNKNOWN", "[sophos][snmp]") {
  // The check gives up after the configured timeout (500 ms, no retry here), well
  // inside its deadline; a loaded machine may add a little, never ten seconds.
  const auto start = std::chrono::steady_clock::now();
  const Outcome outcome = run_on("nobody-home");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::StartsWith("device fw (127.0.0.1:") &&
                                  Catch::Contains("no answer from 127.0.0.1:"));
}

TEST_CASE("SophosFirewallCheck: wrong types and missing objects are UNKNOWN with the reason",
          "[sophos][snmp]") {
  only_problem(run_on("fw-wrong-type"), State::kUnknown,
               "HA state unreadable (1.3.6.1.4.1.2604.5.1.4.1.0: OCTET STRING, expected a number)");
  only_problem(
      run_on("fw-no-ha-mib"), State::kUnknown,
      "HA enabled but its state is unreadable (1.3.6.1.4.1.2604.5.1.4.4.0: noSuchInstance)");
  const Outcome other = run_on("not-a-firewall");
  CHECK(other.status == State::kUnknown);
  CHECK_THAT(other.summary, Catch::Contains("is not a Sophos SFOS firewall") &&
                                Catch::Contains("sysObjectID 1.3.6.1.4.1.8072.3.2.10"));
}

TEST_CASE("SophosFirewallCheck: parameters are validated", "[sophos]") {
  Environment env;
  auto devices = snmp::Devices::create(
      json::parse(R"({"fw": {"host": "127.0.0.1", "snmp": {"version": "2c"}}})"));
  REQUIRE(devices.is_ok());
  env.devices = *devices;
  const auto error = [&](json params) {
    auto check = make_sophos_firewall_check();
    check->attach(env);
    const Status s = check->configure(params);
    REQUIRE_FALSE(s.is_ok());
    return s.message();
  };
  CHECK_THAT(error(json::object()), Catch::StartsWith("device: required"));
  CHECK_THAT(error({{"device", "gw"}}),
             Catch::Contains("no device named \"gw\"") && Catch::Contains("known devices: fw"));
  CHECK_THAT(error({{"device", "fw"}, {"services", {"ipx"}}}),
             Catch::StartsWith("services: unknown service \"ipx\""));
  CHECK_THAT(error({{"device", "fw"}, {"clock", "ntp"}}), Catch::StartsWith("clock:"));
  CHECK_THAT(error({{"device", "fw"}, {"licence_warn_days", 3}}),
             Catch::StartsWith("licence_crit_days: above"));
  CHECK_THAT(error({{"device", "fw"}, {"tunnels", "DC-Paris"}}), Catch::StartsWith("tunnels:"));
  CHECK_THAT(error({{"device", "fw"}, {"tunnels", {""}}}),
             Catch::StartsWith("tunnels[0]: must not be empty"));
  CHECK_THAT(error({{"device", "fw"}, {"tunnels", {"A", "A"}}}),
             Catch::StartsWith("tunnels[1]: \"A\" is listed twice"));
  CHECK_THAT(error({{"device", "fw"}, {"colour", "red"}}),
             Catch::StartsWith("colour: unknown key; known keys: device services"));
}

}  // namespace
}  // namespace vigie::plugins::firewall
