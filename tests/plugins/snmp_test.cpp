#include "plugins/snmp/devices.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "plugins/snmp/rates.hpp"
#include "plugins/snmp/session.hpp"
#include "plugins/wifi/snmp_generic_check.hpp"
#include "tests/support/child.hpp"
#include "tests/support/snmpsim.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::snmp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kAuthPass = "auth-pass-1234";
constexpr const char* kPrivPass = "priv-pass-5678";

// Debian's snmpd on loopback with an SNMPv3 user (authPriv, SHA/AES) and a v2c
// community, its configuration in a folder of its own.
class Snmpd {
 public:
  Snmpd() {
    port_ = testing::free_udp_port();
    dir_.write("snmpd.conf", std::string("createUser vigie SHA \"") + kAuthPass + "\" AES \"" +
                                 kPrivPass +
                                 "\"\n"
                                 "rouser vigie priv\n"
                                 "rocommunity v2-test 127.0.0.1\n"
                                 "sysName v3-test-agent\n");
    std::filesystem::create_directories(dir_ / "persist");
    child_ = std::make_unique<testing::Child>(
        std::vector<std::string>{
            "/usr/bin/env", "SNMP_PERSISTENT_DIR=" + (dir_ / "persist").string(), "/usr/sbin/snmpd",
            "-f", "-C", "-c", (dir_ / "snmpd.conf").string(), "-Lo", "-M", "/nonexistent", "-m", "",
            "udp:127.0.0.1:" + std::to_string(port_)},
        dir_ / "snmpd.log");
    Target target;
    target.host = "127.0.0.1";
    target.port = static_cast<std::uint16_t>(port_);
    target.community = "v2-test";
    target.timeout = 200ms;
    target.retries = 0;
    Request request;
    request.scalars = {oid("1.3.6.1.2.1.1.5.0")};
    const bool ready = testing::eventually(
        [&] {
          auto session = open_session(target);
          if (!session) return false;
          bool ok = false;
          const PollJob job{session->get(), &target, &request};
          poll(std::span(&job, 1), Clock::now() + 1s,
               [&](std::size_t, Result<Snapshot> r) { ok = r.is_ok(); });
          return ok || !child_->running();
        },
        10s);
    if (!ready || !child_->running()) FAIL("snmpd did not start:\n" << child_->log());
  }
  int port() const { return port_; }
  const testing::TempDir& dir() const { return dir_; }

 private:
  testing::TempDir dir_;
  int port_ = 0;
  std::unique_ptr<testing::Child> child_;
};

Snmpd& snmpd() {
  static Snmpd daemon;
  return daemon;
}

std::shared_ptr<Devices> devices_from(const json& block) {
  auto devices = Devices::create(block);
  INFO(devices.status().to_string());
  REQUIRE(devices.is_ok());
  return *devices;
}

json v3_device(const std::string& auth_pass) {
  const auto auth_file = snmpd().dir().write("auth-" + auth_pass, auth_pass + "\n");
  return {{"host", "127.0.0.1"},
          {"port", snmpd().port()},
          {"snmp",
           {{"version", "3"},
            {"user", "vigie"},
            {"auth", "SHA"},
            {"auth_pass_file", auth_file.string()},
            {"priv", "AES"},
            {"priv_pass", kPrivPass},
            {"timeout", "1s"},
            {"retries", 1}}}};
}

Request sys_name() {
  Request request;
  request.scalars = {oid("1.3.6.1.2.1.1.5.0"), oid("1.3.6.1.2.1.1.3.0")};
  request.subtrees = {oid("1.3.6.1.2.1.2.2.1.2")};
  return request;
}

TEST_CASE("Devices: SNMPv3 authPriv (SHA/AES) against snmpd", "[snmp][snmpv3]") {
  auto devices = devices_from({{"ap", v3_device(kAuthPass)}});
  REQUIRE(devices->subscribe("ap", sys_name()).is_ok());
  auto snapshot = devices->snapshot("ap", Clock::now() + 5s);
  INFO(snapshot.status().to_string());
  REQUIRE(snapshot.is_ok());
  CHECK((*snapshot)->text(oid("1.3.6.1.2.1.1.5.0")).value() == "v3-test-agent");
  CHECK((*snapshot)->integer(oid("1.3.6.1.2.1.1.3.0")).is_ok());
  CHECK_FALSE((*snapshot)->column(oid("1.3.6.1.2.1.2.2.1.2")).empty());  // walked with GETBULK
}

TEST_CASE("Devices: a wrong SNMPv3 passphrase is 'authentication failed', not a timeout",
          "[snmp][snmpv3]") {
  auto devices = devices_from({{"ap", v3_device("not-the-passphrase")}});
  REQUIRE(devices->subscribe("ap", sys_name()).is_ok());
  const auto start = Clock::now();
  auto snapshot = devices->snapshot("ap", Clock::now() + 5s);
  CHECK(Clock::now() - start < 1500ms);  // one try of 1 s + retry would be 2 s
  REQUIRE_FALSE(snapshot.is_ok());
  CHECK(snapshot.status().code() == Code::kUnauthenticated);
  CHECK_THAT(snapshot.status().message(), Catch::Contains("authentication failed"));

  // And a check reading it says so.
  auto check = wifi::make_snmp_generic_check();
  Environment env;
  env.devices = devices_from({{"ap", v3_device("not-the-passphrase")}});
  check->attach(env);
  REQUIRE(check->configure({{"device", "ap"}}).is_ok());
  const Outcome outcome = check->run(RunContext{Clock::now() + 5s});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::StartsWith("device ap (127.0.0.1:") &&
                                  Catch::Contains("authentication failed"));
}

TEST_CASE("Devices: one poll shared by the checks of a device until max_age", "[snmp]") {
  json device = {{"host", "127.0.0.1"},
                 {"port", snmpd().port()},
                 {"max_age", "1s"},
                 {"snmp", {{"version", "2c"}, {"community", "v2-test"}}}};
  auto devices = devices_from({{"gw", device}});
  Request first;
  first.scalars = {oid("1.3.6.1.2.1.1.5.0")};
  Request second;
  second.scalars = {oid("1.3.6.1.2.1.1.3.0")};
  REQUIRE(devices->subscribe("gw", first).is_ok());
  REQUIRE(devices->subscribe("gw", second).is_ok());
  auto a = devices->snapshot("gw", Clock::now() + 5s);
  auto b = devices->snapshot("gw", Clock::now() + 5s);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->get() == b->get());  // the same poll
  CHECK((*a)->text(oid("1.3.6.1.2.1.1.5.0")).is_ok());
  CHECK((*a)->integer(oid("1.3.6.1.2.1.1.3.0")).is_ok());  // both checks' OIDs in one poll
  std::this_thread::sleep_for(1100ms);
  auto c = devices->snapshot("gw", Clock::now() + 5s);
  REQUIRE(c.is_ok());
  CHECK(c->get() != a->get());
}

TEST_CASE("Devices: table columns walked side by side, over several round trips", "[snmp]") {
  // snmpd's own tables, with 2 rows per GETBULK: every column must come back whole.
  auto devices = devices_from({{"gw",
                                {{"host", "127.0.0.1"},
                                 {"port", snmpd().port()},
                                 {"snmp", {{"community", "v2-test"}, {"max_repetitions", 2}}}}}});
  Request request;
  request.scalars = {oid("1.3.6.1.2.1.2.1.0")};  // ifNumber
  request.subtrees = {oid("1.3.6.1.2.1.2.2.1.1"), oid("1.3.6.1.2.1.2.2.1.2"),
                      oid("1.3.6.1.2.1.2.2.1.3"), oid("1.3.6.1.2.1.2.2.1.8"),
                      oid("1.3.6.1.2.1.25.1")};  // a subtree of scalars too
  REQUIRE(devices->subscribe("gw", request).is_ok());
  auto snapshot = devices->snapshot("gw", Clock::now() + 5s);
  INFO(snapshot.status().to_string());
  REQUIRE(snapshot.is_ok());
  const auto count = (*snapshot)->integer(oid("1.3.6.1.2.1.2.1.0"));
  REQUIRE(count.is_ok());
  REQUIRE(*count >= 1);
  for (const char* column : {"1.3.6.1.2.1.2.2.1.1", "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3",
                             "1.3.6.1.2.1.2.2.1.8"}) {
    INFO(column);
    CHECK(static_cast<std::int64_t>((*snapshot)->column(oid(column)).size()) == *count);
  }
  CHECK((*snapshot)->integer(oid("1.3.6.1.2.1.25.1.1.0")).is_ok());  // hrSystemUptime
}

TEST_CASE("Devices: many devices are polled at once, not one after the other", "[snmp]") {
  // 40 devices that never answer (no one listens on their port), 500 ms each: polled
  // one by one that would be 20 s.
  const int silent = testing::free_udp_port();
  json block = json::object();
  for (int i = 0; i < 40; ++i) {
    block["dead-" + std::to_string(i)] = {
        {"host", "127.0.0.1"},
        {"port", silent},
        {"snmp", {{"community", "c" + std::to_string(i)}, {"timeout", "500ms"}, {"retries", 0}}}};
  }
  block["alive"] = {
      {"host", "127.0.0.1"}, {"port", snmpd().port()}, {"snmp", {{"community", "v2-test"}}}};
  auto devices = devices_from(block);
  for (const auto& name : devices->names()) REQUIRE(devices->subscribe(name, sys_name()).is_ok());
  const auto start = Clock::now();
  auto alive = devices->snapshot("alive", Clock::now() + 5s);
  CHECK(alive.is_ok());
  for (int i = 0; i < 40; ++i) {
    auto dead = devices->snapshot("dead-" + std::to_string(i), Clock::now() + 5s);
    REQUIRE_FALSE(dead.is_ok());
    CHECK(dead.status().code() == Code::kTimeout);
    CHECK_THAT(dead.status().message(), Catch::StartsWith("no answer from 127.0.0.1:"));
  }
  CHECK(Clock::now() - start < 2s);
}

// A UDP peer on loopback that answers every datagram with bytes that are not SNMP,
// until the test ends (bounded: 10 s at most).
class GarbagePeer {
 public:
  GarbagePeer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] {
      const auto end = Clock::now() + 10s;
      while (!stop_ && Clock::now() < end) {
        char buffer[2048];
        sockaddr_in from{};
        socklen_t from_length = sizeof from;
        const ssize_t n = ::recvfrom(fd_, buffer, sizeof buffer, 0,
                                     reinterpret_cast<sockaddr*>(&from), &from_length);
        if (n <= 0) continue;
        // A BER SEQUENCE that claims more than it holds, then noise.
        const char garbage[] = "\x30\x82\xff\xff\x02\x01\x01\x04\x06public\xa2\x05garbage";
        ::sendto(fd_, garbage, sizeof garbage, 0, reinterpret_cast<sockaddr*>(&from), from_length);
        ++answered_;
      }
    });
  }
  ~GarbagePeer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int answered() const { return answered_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

TEST_CASE("Devices: a device answering garbage is UNKNOWN, not a crash nor a hang", "[snmp]") {
  GarbagePeer peer;
  auto devices =
      devices_from({{"junk",
                     {{"host", "127.0.0.1"},
                      {"port", peer.port()},
                      {"snmp", {{"community", "public"}, {"timeout", "300ms"}, {"retries", 1}}}}}});
  REQUIRE(devices->subscribe("junk", sys_name()).is_ok());
  const auto start = Clock::now();
  auto result = devices->snapshot("junk", Clock::now() + 5s);
  CHECK(Clock::now() - start < 2s);
  CHECK(peer.answered() >= 1);
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kTimeout);
  CHECK_THAT(result.status().message(), Catch::StartsWith("no answer from 127.0.0.1:"));
}

TEST_CASE("Devices: a deadline shorter than the device's timeout is kept", "[snmp]") {
  auto devices =
      devices_from({{"dead",
                     {{"host", "127.0.0.1"},
                      {"port", testing::free_udp_port()},
                      {"snmp", {{"community", "x"}, {"timeout", "5s"}, {"retries", 2}}}}}});
  REQUIRE(devices->subscribe("dead", sys_name()).is_ok());
  const auto start = Clock::now();
  auto result = devices->snapshot("dead", Clock::now() + 300ms);
  CHECK(Clock::now() - start < 1s);
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kTimeout);
}

TEST_CASE("Devices: the block is validated with clear messages", "[snmp]") {
  const auto error = [](const std::string& text) {
    auto devices = Devices::create(json::parse(text));
    REQUIRE_FALSE(devices.is_ok());
    return devices.status().message();
  };
  CHECK_THAT(error(R"({"fw": {"snmp": {}}})"), Catch::StartsWith("devices.fw.host: required"));
  CHECK_THAT(error(R"({"fw": {"host": "h", "snmp": {"version": "2"}}})"),
             Catch::StartsWith("devices.fw.snmp.version: \"2\": must be \"2c\" or \"3\""));
  CHECK_THAT(error(R"({"fw": {"host": "h", "snmp": {}, "colour": 1}})"),
             Catch::StartsWith("devices.fw.colour: unknown key"));
  CHECK_THAT(error(R"({"fw": {"host": "h", "port": 70000, "snmp": {}}})"),
             Catch::StartsWith("devices.fw.port: 70000: must be in 1..65535"));
  CHECK_THAT(error(R"({"fw": {"host": "h", "snmp": {"version": "3"}}})"),
             Catch::StartsWith("devices.fw.snmp.user: required"));
  CHECK_THAT(
      error(
          R"({"fw": {"host": "h", "snmp": {"version": "3", "user": "u", "priv_pass": "12345678"}}})"),
      Catch::Contains("privacy needs auth_pass"));
  CHECK_THAT(
      error(R"({"fw": {"host": "h", "snmp": {"version": "3", "user": "u", "auth": "SHA1024"}}})"),
      Catch::Contains("snmp.auth: \"SHA1024\""));
  CHECK_THAT(
      error(
          R"({"fw": {"host": "h", "snmp": {"version": "3", "user": "u", "auth_pass": "short"}}})"),
      Catch::Contains("at least 8 characters"));
  CHECK_THAT(error(R"({"fw": {"host": "h", "snmp": {"community": "a", "user": "u"}}})"),
             Catch::Contains("snmp.user: only for SNMP version \"3\""));
  CHECK_THAT(error(R"({"fw": {"host": "h; rm -rf /", "snmp": {}}})"),
             Catch::Contains("is not a host name or address"));
  CHECK_THAT(error(R"({"fw": {"host": "h", "snmp": {"timeout": "1h"}}})"),
             Catch::Contains("snmp.timeout"));
  auto ok = Devices::create(json::parse(R"({"fw": {"host": "h", "snmp": {}}})"));
  REQUIRE(ok.is_ok());
  CHECK_THAT((*ok)->subscribe("gw", {}).message(), Catch::Contains("known devices: fw"));
}

TEST_CASE("Devices: an unreadable passphrase file is an error of the device", "[snmp]") {
  auto devices = devices_from(
      {{"ap",
        {{"host", "127.0.0.1"},
         {"snmp", {{"version", "3"}, {"user", "u"}, {"auth_pass_file", "/nonexistent/pass"}}}}}});
  REQUIRE(devices->subscribe("ap", sys_name()).is_ok());
  auto result = devices->snapshot("ap", Clock::now() + 2s);
  REQUIRE_FALSE(result.is_ok());
  CHECK_THAT(result.status().message(), Catch::StartsWith("snmp.auth_pass_file: "));
}

TEST_CASE("RateTracker: rates, Counter32 wrap, resets", "[snmp]") {
  RateTracker rates;
  const auto t0 = Clock::time_point(100s);
  rates.begin(t0, 1000);
  CHECK_FALSE(rates.rate("in", 1000, 32).has_value());  // first poll
  rates.end();
  rates.begin(t0 + 10s, 2000);
  CHECK(rates.rate("in", 6000, 32).value() == Approx(500));
  rates.end();
  rates.begin(t0 + 20s, 3000);
  // 0xFFFFFF00 then 0x100: one wrap, 0x200 bytes in 10 s.
  CHECK(rates.rate("in", 0xFFFFFF00ULL, 32).has_value());
  rates.end();
  rates.begin(t0 + 30s, 4000);
  CHECK(rates.rate("in", 0x100, 32).value() == Approx(512.0 / 10));
  rates.end();
  rates.begin(t0 + 40s, 5000);
  CHECK(rates.rate("hc", 5'000'000'000ULL, 64) == std::nullopt);
  rates.end();
  rates.begin(t0 + 50s, 6000);
  CHECK_FALSE(rates.rate("hc", 1000, 64).has_value());  // a Counter64 going down: a reset
  rates.end();
  rates.begin(t0 + 60s, 10);  // the device restarted
  CHECK_FALSE(rates.rate("hc", 2000, 64).has_value());
  rates.end();
  rates.begin(t0 + 70s, 1010);
  CHECK(rates.rate("hc", 3000, 64).value() == Approx(100));
  // A key missing from a poll starts again.
  rates.end();
  rates.begin(t0 + 80s, 2010);
  rates.end();
  rates.begin(t0 + 90s, 3010);
  CHECK_FALSE(rates.rate("hc", 4000, 64).has_value());
}

TEST_CASE("Snapshot: typed access names the OID and the problem", "[snmp]") {
  Snapshot s;
  s.add(oid("1.3.6.1.2.1.1.5.0"), Value{Type::kOctetString, 0, 0, "fw", {}});
  s.add(oid("1.3.6.1.2.1.1.7.0"), Value{Type::kNoSuchObject});
  CHECK(s.text(oid("1.3.6.1.2.1.1.5.0")).value() == "fw");
  CHECK(s.integer(oid("1.3.6.1.2.1.1.5.0")).status().message() ==
        "1.3.6.1.2.1.1.5.0: OCTET STRING, expected a number");
  CHECK(s.integer(oid("1.3.6.1.2.1.1.7.0")).status().message() ==
        "1.3.6.1.2.1.1.7.0: noSuchObject");
  CHECK(s.counter(oid("1.3.6.1.2.1.1.8.0")).status().message() ==
        "1.3.6.1.2.1.1.8.0: not in the answer");
  CHECK_FALSE(parse_oid("1.3.x").is_ok());
  CHECK_FALSE(parse_oid("1.3.").is_ok());
  CHECK_FALSE(parse_oid("").is_ok());
  CHECK(parse_oid(".1.3.6").value() == Oid{1, 3, 6});
  Request r;
  r.merge({{}, {oid("1.3.6.1.2.1.2.2.1.2")}});
  r.merge({{}, {oid("1.3.6.1.2.1.2.2")}});
  r.merge({{}, {oid("1.3.6.1.2.1.2.2.1.8")}});
  CHECK(r.subtrees == std::vector<Oid>{oid("1.3.6.1.2.1.2.2")});
}

}  // namespace
}  // namespace vigie::plugins::snmp
