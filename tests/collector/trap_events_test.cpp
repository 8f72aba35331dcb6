#include "collector/trap_events.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace vigie::collector {
namespace {

using nlohmann::json;

protocol::Event link_down() {
  protocol::Event e;
  e.ts_ms = 1'700'000'000'000;
  e.name = "firewall";
  e.check = "firewall/sophos:fw";
  e.summary = "linkDown from fw: ifIndex.3=3";
  e.device = "fw";
  e.source = "192.0.2.1:1024";
  e.version = "2c";
  e.trap_oid = "1.3.6.1.6.3.1.1.5.3";
  e.trap_name = "linkDown";
  e.varbinds = {{"1.3.6.1.2.1.2.2.1.1.3", "ifIndex.3", "INTEGER", "3"}};
  return e;
}

TEST_CASE("trap_text: what a trap said, as the API shows it", "[trap_events]") {
  const json j = json::parse(trap_text(link_down()));
  CHECK(j == json{{"device", "fw"},
                  {"source", "192.0.2.1:1024"},
                  {"version", "2c"},
                  {"inform", false},
                  {"oid", "1.3.6.1.6.3.1.1.5.3"},
                  {"name", "linkDown"},
                  {"varbinds",
                   {{{"oid", "1.3.6.1.2.1.2.2.1.1.3"},
                     {"name", "ifIndex.3"},
                     {"type", "INTEGER"},
                     {"value", "3"}}}}});
  CHECK(json::parse(trap_text(link_down(), 7))["not_kept_before"] == 7);
}

TEST_CASE("trap_text: a trap at the protocol's limits is kept within kMaxTrapText",
          "[trap_events]") {
  protocol::Event e = link_down();
  e.device = std::string(1024, 'd');
  e.trap_name = std::string(1024, 'n');
  e.varbinds.clear();
  // 64 variables of 1 KB values, the last byte of each a two-byte character's first.
  for (int i = 0; i < 64; ++i) {
    e.varbinds.push_back({"1.3.6.1.4.1.2604.5." + std::to_string(i), std::string(1024, 'x'),
                          "OCTET STRING", std::string(kMaxTrapValue - 1, 'v') + "\xc3\xa9"});
  }
  const std::string text = trap_text(e);
  CHECK(text.size() <= kMaxTrapText);
  const json j = json::parse(text);  // valid JSON: no character cut in two
  CHECK(j["device"].get<std::string>().size() == kMaxTrapValue);
  const auto kept = j["varbinds"].size();
  CHECK(kept >= 3);
  CHECK(kept < 64);
  CHECK(j["varbinds_not_kept"] == 64 - kept);
  CHECK(j["varbinds"][0]["value"] == std::string(kMaxTrapValue - 1, 'v'));
}

TEST_CASE("TrapGate: a burst, then one a refill period, the gap counted on the next kept",
          "[trap_events]") {
  TrapGate gate({.burst = 3, .refill_ms = 60'000});
  std::int64_t before = -1;
  const std::int64_t t0 = 1'700'000'000'000;
  for (int i = 0; i < 3; ++i) {
    CHECK(gate.admit("a", "fw", "firewall/sophos:fw", t0, &before));
    CHECK(before == 0);
  }
  for (int i = 0; i < 1000; ++i)
    CHECK_FALSE(gate.admit("a", "fw", "firewall/sophos:fw", t0, &before));
  // Another check of the device, another agent's device of the same name: their own.
  CHECK(gate.admit("a", "fw", "firewall/sophos-ipsec:fw", t0, &before));
  CHECK(gate.admit("b", "fw", "firewall/sophos:fw", t0, &before));
  CHECK_FALSE(gate.admit("a", "fw", "firewall/sophos:fw", t0 + 59'000, &before));
  CHECK(gate.admit("a", "fw", "firewall/sophos:fw", t0 + 60'000, &before));
  CHECK(before == 1001);
  CHECK_FALSE(gate.admit("a", "fw", "firewall/sophos:fw", t0 + 60'000, &before));
  // A quiet hour fills the bucket again, never past the burst.
  for (int i = 0; i < 3; ++i)
    CHECK(gate.admit("a", "fw", "firewall/sophos:fw", t0 + 3'600'000, &before));
  CHECK_FALSE(gate.admit("a", "fw", "firewall/sophos:fw", t0 + 3'600'000, &before));
  CHECK(gate.kept() == 3 + 2 + 1 + 3);
  CHECK(gate.not_kept() == 1000 + 1 + 1 + 1);
}

TEST_CASE("TrapGate: buckets are bounded, full ones forgotten first", "[trap_events]") {
  TrapGate gate({.burst = 1, .refill_ms = 60'000, .max_buckets = 4});
  std::int64_t before = 0;
  const std::int64_t t0 = 1'700'000'000'000;
  // Four devices in a storm fill the table: a fifth is not kept while they are.
  for (int d = 0; d < 4; ++d) {
    CHECK(gate.admit("a", "d" + std::to_string(d), "", t0, &before));
    CHECK_FALSE(gate.admit("a", "d" + std::to_string(d), "", t0, &before));
  }
  CHECK_FALSE(gate.admit("a", "d4", "", t0, &before));
  // Once theirs are full again (and told), they make room.
  for (int d = 0; d < 4; ++d)
    CHECK(gate.admit("a", "d" + std::to_string(d), "", t0 + 60'000, &before));
  CHECK(gate.admit("a", "d4", "", t0 + 120'000, &before));
}

}  // namespace
}  // namespace vigie::collector
