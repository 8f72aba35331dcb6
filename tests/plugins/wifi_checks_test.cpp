#include "plugins/wifi/snmp_generic_check.hpp"
#include "plugins/wifi/unifi_check.hpp"

#include <time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>

#include "plugins/snmp/devices.hpp"
#include "plugins/wifi/office_hours.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/snmpsim.hpp"

namespace vigie::plugins::wifi {
namespace {

using nlohmann::json;
using testing::edit_recording;
using testing::fixture_recording;

constexpr const char* kHealthy = "unifi-ap-healthy";
constexpr const char* kIdentity = "(UAP-AC-Pro 6.6.77.15402)";

std::vector<testing::Recording> recordings() {
  const std::string healthy = fixture_recording(kHealthy);
  const std::string vap = "1.3.6.1.4.1.41112.1.6.1.2.1.";
  return {
      {kHealthy, healthy},
      {"ap-vap-down", edit_recording(healthy, {{vap + "22.2", "2|2"}})},
      {"ap-hotspot-empty", edit_recording(healthy, {{vap + "8.1", "2|0"}})},
      {"ap-isolated",
       edit_recording(healthy, {{"1.3.6.1.4.1.41112.1.6.3.2.0", "2|1"}, {vap + "8.1", "2|0"}})},
      {"ap-uplink-down", edit_recording(healthy, {{"1.3.6.1.4.1.41112.1.6.2.1.1.16.1", "2|2"}})},
      {"ap-ath1-down", edit_recording(healthy, {{"1.3.6.1.2.1.2.2.1.8.7", "2|2"}})},
      {"ap-ath1-disabled", edit_recording(healthy, {{"1.3.6.1.2.1.2.2.1.7.7", "2|2"},
                                                    {"1.3.6.1.2.1.2.2.1.8.7", "2|2"}})},
      {"ap-busy-channel", edit_recording(healthy, {{"1.3.6.1.4.1.41112.1.6.1.1.1.6.1", "2|91"}})},
      {"sophos-xg-healthy", fixture_recording("sophos-xg-healthy")},
  };
}

testing::SnmpSim& simulator() {
  static testing::SnmpSim sim(recordings());
  return sim;
}

// Saturday 28 November 2026, 10:00, local time.
std::chrono::system_clock::time_point saturday_morning() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 28;
  tm.tm_hour = 10;
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(::mktime(&tm));
}

Environment environment(const std::string& community) {
  json device = {{"host", "127.0.0.1"},
                 {"port", simulator().port()},
                 {"snmp", {{"community", community}, {"timeout", "500ms"}, {"retries", 0}}}};
  auto devices = snmp::Devices::create(json{{"ap", device}});
  REQUIRE(devices.is_ok());
  Environment env;
  env.devices = *devices;
  env.now = [] { return saturday_morning(); };
  return env;
}

Outcome run_check(std::unique_ptr<Check> check, const std::string& community,
                  json params = json::object()) {
  check->attach(environment(community));
  params["device"] = "ap";
  const Status status = check->configure(params);
  INFO(status.to_string());
  REQUIRE(status.is_ok());
  return check->run(RunContext{std::chrono::steady_clock::now() + std::chrono::seconds(5)});
}

Outcome unifi(const std::string& community, json params = json::object()) {
  return run_check(make_unifi_check(), community, std::move(params));
}

Outcome generic(const std::string& community, json params = json::object()) {
  return run_check(make_snmp_generic_check(), community, std::move(params));
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

void only_problem(const Outcome& outcome, State state, const std::string& text,
                  const std::string& identity = kIdentity) {
  INFO(outcome.summary << "\n" << outcome.details);
  CHECK(outcome.status == state);
  CHECK(outcome.summary == text + " " + identity);
  std::size_t problems = 0;
  std::istringstream lines(outcome.details);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("OK: ")) ++problems;
  }
  CHECK(problems == 1);
}

TEST_CASE("UnifiCheck: the healthy access point is OK with its metrics", "[unifi][snmp]") {
  const Outcome outcome = unifi(kHealthy);
  INFO(outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary ==
        "UAP-AC-Pro 6.6.77.15402: 2 SSIDs up, 15 stations (Mairie-WiFi-Public 9, "
        "Mairie-Agents 6), up 21 d 04:00");
  CHECK(value(outcome, "stations") == 15);
  CHECK(value(outcome, "stations_Mairie-WiFi-Public") == 9);
  CHECK(value(outcome, "stations_Mairie-Agents") == 6);
  CHECK(value(outcome, "stations_2g") == 9);
  CHECK(value(outcome, "stations_5g") == 6);
  CHECK(value(outcome, "wifi0_cu_pct") == 38);
  CHECK(value(outcome, "wifi1_cu_pct") == 17);
  CHECK(value(outcome, "uptime") == 1828807);
  CHECK_THAT(outcome.details, Catch::Contains("OK: uplink eth0 up"));
  CHECK_THAT(
      outcome.details,
      Catch::Contains("OK: SSID Mairie-WiFi-Public up (2.4 GHz, ath0), channel 6, 9 stations"));
}

TEST_CASE("UnifiCheck: one SSID only", "[unifi][snmp]") {
  const Outcome outcome = unifi(kHealthy, {{"ssid", "Mairie-Agents"}});
  CHECK(outcome.status == State::kOk);
  CHECK(value(outcome, "stations") == 6);
  only_problem(unifi(kHealthy, {{"ssid", "Mairie-Guests"}}), State::kCritical,
               "SSID Mairie-Guests not broadcast by this AP");
}

TEST_CASE("UnifiCheck: a VAP down is CRITICAL", "[unifi][snmp]") {
  only_problem(unifi("ap-vap-down"), State::kCritical,
               "SSID Mairie-Agents down (5 GHz, ath1), radio wifi1 has no SSID up");
}

TEST_CASE("UnifiCheck: a hotspot with no station is WARNING, with opt-outs", "[unifi][snmp]") {
  only_problem(unifi("ap-hotspot-empty"), State::kWarning,
               "hotspot Mairie-WiFi-Public has no station");
  CHECK(unifi("ap-hotspot-empty", {{"empty_ok", {"Mairie-WiFi-Public"}}}).status == State::kOk);
  const Outcome weekend = unifi("ap-hotspot-empty", {{"office_hours", "Mon-Fri 08:00-18:00"}});
  CHECK(weekend.status == State::kOk);
  CHECK_THAT(weekend.details, Catch::Contains("(outside office hours)"));
  CHECK(unifi("ap-hotspot-empty", {{"office_hours", "Sat-Sun 09:00-12:00"}}).status ==
        State::kWarning);
  // Staff SSIDs may be empty; "hotspots" names the public ones when usage is not set.
  CHECK(unifi("ap-hotspot-empty", {{"hotspots", {"Mairie-Agents"}}}).status == State::kOk);
}

TEST_CASE("UnifiCheck: an isolated AP is CRITICAL, and its empty hotspot is not blamed",
          "[unifi][snmp]") {
  only_problem(unifi("ap-isolated"), State::kCritical, "AP isolated: it lost its wired uplink");
  only_problem(unifi("ap-uplink-down"), State::kCritical, "uplink eth0 down");
}

TEST_CASE("UnifiCheck: a busy channel is WARNING", "[unifi][snmp]") {
  only_problem(unifi("ap-busy-channel"), State::kWarning,
               "radio wifi0 (2.4 GHz) channel utilisation 91%");
}

TEST_CASE("UnifiCheck: a device that is not UniFi, or silent, is UNKNOWN", "[unifi][snmp]") {
  const Outcome other = unifi("sophos-xg-healthy");
  CHECK(other.status == State::kUnknown);
  CHECK_THAT(other.summary, Catch::Contains("not a UniFi access point: UBNT-UniFi-MIB missing"));
  const Outcome silent = unifi("nobody-home");
  CHECK(silent.status == State::kUnknown);
  CHECK_THAT(silent.summary, Catch::Contains("no answer from 127.0.0.1:"));
}

TEST_CASE("GenericCheck: the healthy AP's radios through IF-MIB", "[wifi-generic][snmp]") {
  const Outcome outcome = generic(kHealthy);
  INFO(outcome.details);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary == "UAP-AC-Pro 6.6.77.15402: 4 Wi-Fi interfaces up, stations unavailable");
  CHECK(value(outcome, "radios_up") == 4);
  const Metric* stations = metric(outcome, "stations");
  REQUIRE(stations != nullptr);
  CHECK_FALSE(stations->value.has_value());  // unavailable, not 0
}

TEST_CASE("GenericCheck: an enabled radio down is CRITICAL, a disabled one is not",
          "[wifi-generic][snmp]") {
  only_problem(generic("ap-ath1-down"), State::kCritical, "ath1 down", "(UAP-AC-Pro 6.6.77.15402)");
  const Outcome disabled = generic("ap-ath1-disabled");
  CHECK(disabled.status == State::kOk);
  CHECK_THAT(disabled.summary, Catch::Contains("3 Wi-Fi interfaces up, 1 disabled"));
  only_problem(generic(kHealthy, {{"interfaces", {"ath0", "wlan9"}}}), State::kCritical,
               "interface wlan9 not found", "(UAP-AC-Pro 6.6.77.15402)");
}

TEST_CASE("GenericCheck: a device without Wi-Fi interfaces is UNKNOWN", "[wifi-generic][snmp]") {
  const Outcome outcome = generic("sophos-xg-healthy");
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::StartsWith("no 802.11 interface on Linux FW-MAIRIE-01"));
}

TEST_CASE("OfficeHours: parse and contain", "[unifi]") {
  auto hours = OfficeHours::parse("Mon-Fri 08:00-18:00");
  REQUIRE(hours.is_ok());
  CHECK_FALSE(hours->contains(saturday_morning()));
  CHECK(hours->contains(saturday_morning() - std::chrono::hours(24)));        // Friday 10:00
  CHECK(hours->contains(saturday_morning() - std::chrono::hours(17)));        // Friday 17:00
  CHECK_FALSE(hours->contains(saturday_morning() - std::chrono::hours(14)));  // Friday 20:00
  CHECK(OfficeHours::parse("Fri-Mon 00:00-24:00")->contains(saturday_morning()));
  CHECK_FALSE(OfficeHours::parse("Mon-Fri").is_ok());
  CHECK_FALSE(OfficeHours::parse("Mon-Fri 18:00-08:00").is_ok());
  CHECK_FALSE(OfficeHours::parse("Lun-Ven 08:00-18:00").is_ok());
}

TEST_CASE("Wi-Fi checks: a misspelt parameter is refused, the right one suggested", "[unifi]") {
  testing::check_misspellings({
      {"wifi/unifi", "hotspot", "hotspots"},
      {"wifi/snmp-generic", "interface", "interfaces"},
  });
}

}  // namespace
}  // namespace vigie::plugins::wifi
