#include "plugins/snmp/wire.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace vigie::plugins::snmp {
namespace {

using Catch::Contains;
using std::chrono::milliseconds;

TEST_CASE("SNMP helper protocol: a poll request goes through whole", "[snmp][wire]") {
  PollRequest request;
  request.budget = milliseconds(4500);
  request.max_varbinds = 123;
  request.max_in_flight = 7;
  Target v3;
  v3.host = "::1";
  v3.port = 1161;
  v3.version = Target::Version::kV3;
  v3.user = "vigie";
  v3.auth_protocol = "SHA-256";
  v3.auth_pass = "auth \"pass\" \xc3\xa9";
  v3.priv_protocol = "AES";
  v3.priv_pass = "privpass";
  v3.timeout = milliseconds(700);
  v3.retries = 3;
  v3.bulk_size = 10;
  Request asked;
  asked.scalars = {oid("1.3.6.1.2.1.1.3.0"), oid("1.3.6.1.2.1.1.5.0")};
  asked.subtrees = {oid("1.3.6.1.2.1.2.2.1")};
  request.jobs.push_back({v3, asked});
  Target v2;
  v2.host = "192.0.2.1";
  v2.community = "c\xff\x01";  // any bytes a file may hold
  request.jobs.push_back({v2, Request{}});

  auto back = decode_request(encode_request(request));
  REQUIRE(back.is_ok());
  CHECK(back->budget == milliseconds(4500));
  CHECK(back->max_varbinds == 123);
  CHECK(back->max_in_flight == 7);
  REQUIRE(back->jobs.size() == 2);
  const Target& t = back->jobs[0].target;
  CHECK(t.host == "::1");
  CHECK(t.port == 1161);
  CHECK(t.version == Target::Version::kV3);
  CHECK(t.user == "vigie");
  CHECK(t.auth_protocol == "SHA-256");
  CHECK(t.auth_pass == v3.auth_pass);
  CHECK(t.priv_pass == "privpass");
  CHECK(t.timeout == milliseconds(700));
  CHECK(t.retries == 3);
  CHECK(t.bulk_size == 10);
  CHECK(back->jobs[0].request.scalars == asked.scalars);
  CHECK(back->jobs[0].request.subtrees == asked.subtrees);
  CHECK(back->jobs[1].target.version == Target::Version::kV2c);
  CHECK(back->jobs[1].target.community == v2.community);
}

TEST_CASE("SNMP helper protocol: every type of value, and errors, come back as sent",
          "[snmp][wire]") {
  Snapshot snapshot;
  const auto add = [&](const char* name, Value v) { snapshot.add(oid(name), std::move(v)); };
  add("1.3.6.1.1.1", Value{.type = Type::kInteger, .integer = -42});
  add("1.3.6.1.1.2", Value{.type = Type::kCounter64, .number = 18446744073709551615ULL});
  add("1.3.6.1.1.3", Value{.type = Type::kGauge32, .number = 4294967295ULL});
  add("1.3.6.1.1.4", Value{.type = Type::kTimeTicks, .number = 389881234});
  add("1.3.6.1.1.5", Value{.type = Type::kCounter32, .number = 7});
  add("1.3.6.1.1.6", Value{.type = Type::kOctetString, .bytes = std::string("\x00\xfe\x80mac", 6)});
  add("1.3.6.1.1.7", Value{.type = Type::kIpAddress, .bytes = "192.0.2.7"});
  add("1.3.6.1.1.8", Value{.type = Type::kObjectId, .object = oid("1.3.6.1.4.1.2604")});
  add("1.3.6.1.1.9", Value{.type = Type::kOpaque, .bytes = "op"});
  add("1.3.6.1.1.10", Value{.type = Type::kNoSuchInstance});
  add("1.3.6.1.1.11", Value{.type = Type::kEndOfMibView});
  snapshot.taken = std::chrono::steady_clock::now();
  snapshot.taken_wall = std::chrono::system_clock::now();

  auto back = decode_result(encode_result(3, snapshot));
  REQUIRE(back.is_ok());
  CHECK(back->job == 3);
  REQUIRE(back->result.is_ok());
  CHECK(back->result->values() == snapshot.values());
  CHECK(back->result->taken == snapshot.taken);
  CHECK(back->result->taken_wall == snapshot.taken_wall);

  // An error from the device, its text not UTF-8: the code and a readable message.
  auto failed = decode_result(
      encode_result(0, Status(Code::kUnauthenticated, "authentication failed: \xff")));
  REQUIRE(failed.is_ok());
  REQUIRE_FALSE(failed->result.is_ok());
  CHECK(failed->result.status().code() == Code::kUnauthenticated);
  CHECK_THAT(failed->result.status().message(), Contains("authentication failed"));
}

TEST_CASE("SNMP helper protocol: a broken request or answer is refused with the reason",
          "[snmp][wire]") {
  for (const char* text :
       {"", "not json", "{}", R"({"budget_ms": 1, "max_varbinds": 1, "max_in_flight": 1})",
        R"({"budget_ms": -5, "max_varbinds": 1, "max_in_flight": 1, "jobs": []})",
        R"({"budget_ms": 1, "max_varbinds": 1, "max_in_flight": 1, "jobs": [{"target": {}}]})"}) {
    INFO(text);
    auto r = decode_request(text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("poll request"));
  }
  for (const char* line :
       {"", "{", R"({"job": 0})", R"({"job": 0, "code": 99, "message": "x"})",
        R"({"job": 0, "code": 0, "message": "x"})",
        R"({"job": 0, "values": [["1.3.6", 1, "zz"]], "taken": 0, "taken_wall": 0})",
        R"({"job": 0, "values": [["1.3.6", 77, 1]], "taken": 0, "taken_wall": 0})",
        R"({"job": 0, "values": [["x.y", 0, 1]], "taken": 0, "taken_wall": 0})",
        R"({"job": -1, "values": [], "taken": 0, "taken_wall": 0})"}) {
    INFO(line);
    auto r = decode_result(line);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kCorruption);
    CHECK_THAT(r.status().message(), Contains("SNMP helper"));
  }
}

TEST_CASE("SNMP helper protocol: a number that is not an integer of its field is refused",
          "[snmp][wire]") {
  // Found by fuzzing (tests/fuzz/corpus/snmp_wire/taken-1e41.json): a number past 2^64 is a
  // double for the JSON parser, and casting it to an integer was undefined behaviour.
  for (const char* line : {
           R"({"job":1,"values":[["1.3.6.12.1.1.9",9,null]],"taken":)"
           R"(12366666666666666666666666666666666666666666456790,"taken_wall":1715684400123})",
           R"({"job": 0, "values": [], "taken": 0.5, "taken_wall": 0})",
           R"({"job": 0, "values": [], "taken": 0, "taken_wall": 1e300})",
           R"({"job": 0, "values": [["1.3.6", 0, 1e30]], "taken": 0, "taken_wall": 0})",
           R"({"job": 0, "values": [["1.3.6", 1, -1]], "taken": 0, "taken_wall": 0})",
           R"({"job": 0, "values": [["1.3.6", 4e9, 1]], "taken": 0, "taken_wall": 0})",
           R"({"job": 0, "code": 1e20, "message": "x"})",
       }) {
    INFO(line);
    auto r = decode_result(line);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kCorruption);
    CHECK_THAT(r.status().message(), Contains("SNMP helper's answer"));
  }
  const std::string target =
      R"({"host": "h", "version": "2c", "community": "", "user": "", "auth_pass": "",)"
      R"( "priv_pass": "", "auth_protocol": "", "priv_protocol": "", "timeout_ms": 1000,)";
  for (const std::string& text : std::vector<std::string>{
           R"({"budget_ms": 1e40, "max_varbinds": 1, "max_in_flight": 1, "jobs": []})",
           R"({"budget_ms": 1, "max_varbinds": -1, "max_in_flight": 1, "jobs": []})",
           R"({"budget_ms": 1, "max_varbinds": 1, "max_in_flight": 1, "jobs": [{"target": )" +
               target + R"( "port": 70000, "retries": 1, "bulk_size": 1}, "scalars": [],)" +
               R"( "subtrees": []}]})",
           R"({"budget_ms": 1, "max_varbinds": 1, "max_in_flight": 1, "jobs": [{"target": )" +
               target + R"( "port": 161, "retries": 1e10, "bulk_size": 1}, "scalars": [],)" +
               R"( "subtrees": []}]})",
       }) {
    INFO(text);
    auto r = decode_request(text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("poll request: "));
  }
  // The same request with a port in range is read.
  CHECK(decode_request(
            R"({"budget_ms": 1, "max_varbinds": 1, "max_in_flight": 1, "jobs": [{"target": )" +
            target + R"( "port": 161, "retries": 1, "bulk_size": 1}, "scalars": [],)" +
            R"( "subtrees": []}]})")
            .is_ok());
}

TEST_CASE("SNMP helper protocol: targets refused before any poll", "[snmp][wire]") {
  Target t;
  CHECK_THAT(validate(t).message(), Contains("host: empty"));
  t.host = "127.0.0.1";
  CHECK(validate(t).is_ok());
  t.version = Target::Version::kV3;
  CHECK_THAT(validate(t).message(), Contains("user: required"));
  t.user = "u";
  CHECK(validate(t).is_ok());
  t.priv_pass = "12345678";
  CHECK_THAT(validate(t).message(), Contains("privacy needs authentication"));
  t.auth_pass = "1234567";
  CHECK_THAT(validate(t).message(), Contains("fewer than 8"));
  t.auth_pass = "12345678";
  t.auth_protocol = "SHA-3";
  CHECK_THAT(validate(t).message(), Contains("\"SHA-3\" is not one of"));
  t.auth_protocol = "SHA-512";
  t.priv_protocol = "3DES";
  CHECK_THAT(validate(t).message(), Contains("\"3DES\" is not one of"));
  t.priv_protocol = "DES";
  CHECK(validate(t).is_ok());
}

}  // namespace
}  // namespace vigie::plugins::snmp

namespace vigie::plugins::snmp {
namespace {

TEST_CASE("SNMP helper protocol: trap options go through whole, secrets of any byte",
          "[snmp][wire]") {
  TrapListenOptions options;
  options.listen = "[::1]:0";
  options.engine_id = std::string("\x80\x00\x1f\x88\x04vigie:t1", 13);
  options.boots = 42;
  options.rate = 2.5;
  options.burst = 7;
  TrapDevice fw;
  fw.name = "fw";
  fw.target.host = "192.0.2.1";
  fw.target.community = std::string("com\0munity\n", 11);
  TrapDevice ap;
  ap.name = "ap";
  ap.target.host = "ap.example";
  ap.target.version = Target::Version::kV3;
  ap.target.user = "vigie";
  ap.target.auth_pass = "auth pass \xff";
  ap.target.priv_pass = "privpass";
  ap.engine_id = "\x80\x00\x00\x01\x02";
  options.devices = {fw, ap};
  const std::string line = encode_trap_options(options);
  CHECK(line.find('\n') == std::string::npos);
  CHECK_THAT(line, !Contains("privpass"));  // hexadecimal: not greppable in a dump
  auto decoded = decode_trap_options(line);
  REQUIRE(decoded);
  CHECK(decoded->listen == "[::1]:0");
  CHECK(decoded->engine_id == options.engine_id);
  CHECK(decoded->boots == 42);
  CHECK(decoded->rate == 2.5);
  REQUIRE(decoded->devices.size() == 2);
  CHECK(decoded->devices[0].target.community == fw.target.community);
  CHECK(decoded->devices[1].target.auth_pass == ap.target.auth_pass);
  CHECK(decoded->devices[1].engine_id == ap.engine_id);

  auto bad = decode_trap_options(R"({"listen": "0.0.0.0:10162"})");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.status().message(), Contains("trap options"));
  // Numbers that are no integers of their fields: refused with the reason, not cast.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"("boots":42)", R"("boots":1e300)"},
           {R"("boots":42)", R"("boots":4294967296)"},
           {R"("counters_every_ms":1000)", R"("counters_every_ms":1e19)"},
       }) {
    std::string text = line;
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
    INFO(text);
    auto r = decode_trap_options(text);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("trap options: ") && Contains("not an integer"));
  }
}

TEST_CASE("SNMP helper protocol: the receiver's lines", "[snmp][wire]") {
  auto ready = decode_trap_line(encode_ready("127.0.0.1:10162", "\x80\x01\x02\x03\x04"));
  REQUIRE(ready);
  CHECK(ready->kind == TrapLine::Kind::kReady);
  CHECK(ready->listen == "127.0.0.1:10162");
  CHECK(ready->engine_id == "\x80\x01\x02\x03\x04");

  TrapCounters counters;
  counters.accepted = 3;
  counters.rate_limited = 9950;
  counters.rate_limited_by_device["fw"] = 9950;
  counters.bad_community = 1;
  auto c = decode_trap_line(encode_counters(counters));
  REQUIRE(c);
  CHECK(c->kind == TrapLine::Kind::kCounters);
  CHECK(c->counters == counters);
  CHECK(c->counters.dropped() == 9951);

  protocol::Event event;
  event.ts_ms = 1;
  event.summary = "coldStart from fw";
  event.device = "fw";
  event.version = "2c";
  event.trap_oid = "1.3.6.1.6.3.1.1.5.1";
  auto e = decode_trap_line(encode_event(event));
  REQUIRE(e);
  CHECK(e->kind == TrapLine::Kind::kEvent);
  CHECK(e->event == event);

  // Held to the protocol: a line the collector would refuse is refused here.
  event.trap_oid = "not an oid";
  CHECK_FALSE(decode_trap_line(encode_event(event)));
  for (const char* garbage : {"", "{}", "[1]", R"({"what": 1})", R"({"ready": {}})"}) {
    INFO(garbage);
    auto r = decode_trap_line(garbage);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kCorruption);
  }
  // A counter that is no integer of its field: refused, not cast (1e30 to an integer
  // was undefined behaviour).
  const std::string counters_text = encode_counters(counters);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"("accepted":3)", R"("accepted":1e30)"},
           {R"("bad_community":1)", R"("bad_community":-1)"},
           {R"("bad_community":1)", R"("bad_community":0.5)"},
           {R"({"fw":9950})", R"({"fw":1e300})"},
           {R"({"fw":9950})", R"([9950])"},
       }) {
    std::string line = counters_text;
    REQUIRE(line.find(from) != std::string::npos);
    line.replace(line.find(from), from.size(), to);
    INFO(line);
    auto r = decode_trap_line(line);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kCorruption);
    CHECK_THAT(r.status().message(), Contains("trap helper's line"));
  }
}

TEST_CASE("SNMP helper protocol: engine ids in hexadecimal", "[snmp][wire]") {
  CHECK(parse_engine_id("0x80001F8804414243").value() == std::string("\x80\x00\x1f\x88\x04"
                                                                     "ABC",
                                                                     8));
  CHECK(parse_engine_id("8000000001").value().size() == 5);
  CHECK(engine_id_hex(std::string("\x80\x00\x1f\x88\x04", 5)) == "80001f8804");
  for (const char* bad :
       {"", "0x", "80", "0x80000000", "xyz0000000", std::string(70, 'a').c_str()}) {
    INFO(bad);
    CHECK_FALSE(parse_engine_id(bad));
  }
}

}  // namespace
}  // namespace vigie::plugins::snmp
