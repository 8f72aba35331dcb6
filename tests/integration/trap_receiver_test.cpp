// vigie-snmp --traps, the agent's trap receiver, as the agent runs it: its options on
// stdin, its lines on stdout; traps and informs sent by net-snmp's snmptrap.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "plugins/snmp/wire.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/net_namespace.hpp"
#include "tests/support/peers.hpp"

namespace vigie {
namespace {

using Catch::Contains;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
namespace snmp = plugins::snmp;

const std::string kHelper =
    (std::filesystem::path(VIGIE_AGENT_BIN).parent_path() / "vigie-snmp").string();

// The receiver, its stdin held open, its stdout read line by line.
class Receiver {
 public:
  explicit Receiver(const snmp::TrapListenOptions& options) {
    int in[2];
    int out[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execl(kHelper.c_str(), kHelper.c_str(), "--traps", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    const std::string line = snmp::encode_trap_options(options) + "\n";
    REQUIRE(::write(stdin_, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
    auto ready = next(milliseconds(10'000));
    REQUIRE(ready);
    INFO(ready->message);
    REQUIRE(ready->kind == snmp::TrapLine::Kind::kReady);
    listen_ = ready->listen;
    port_ = listen_.substr(listen_.rfind(':') + 1);
  }
  ~Receiver() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ > 0) {
      const auto deadline = Clock::now() + milliseconds(3000);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        ::usleep(10'000);
      }
    }
    ::close(stdout_);
  }
  // Closes its stdin, as a dying agent does; its exit status, within `limit`.
  std::optional<int> close_stdin(milliseconds limit) {
    ::close(stdin_);
    stdin_ = -1;
    const auto deadline = Clock::now() + limit;
    int status = 0;
    while (Clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      ::usleep(10'000);
    }
    return std::nullopt;
  }

  const std::string& port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + port_; }

  // The next line, or nullopt after `limit`.
  std::optional<snmp::TrapLine> next(milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (true) {
      if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
        const std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        auto decoded = snmp::decode_trap_line(line);
        INFO(line);
        REQUIRE(decoded);
        if (decoded->kind == snmp::TrapLine::Kind::kCounters) counters = decoded->counters;
        return *decoded;
      }
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[65536];
      const ssize_t n = ::read(stdout_, buffer, sizeof buffer);
      if (n <= 0) return std::nullopt;
      pending_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  // The next event, skipping counters and warnings, or nullopt after `limit`.
  std::optional<protocol::Event> event(milliseconds limit = milliseconds(5000)) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      auto line = next(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
      if (!line) return std::nullopt;
      if (line->kind == snmp::TrapLine::Kind::kEvent) return line->event;
    }
    return std::nullopt;
  }
  // Reads lines until the counters satisfy `done`, within `limit`.
  template <class Predicate>
  bool counted(Predicate done, milliseconds limit = milliseconds(5000)) {
    const auto deadline = Clock::now() + limit;
    while (!done(counters)) {
      if (Clock::now() >= deadline) return false;
      next(milliseconds(200));
    }
    return true;
  }

  snmp::TrapCounters counters;

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string pending_;
  std::string listen_;
  std::string port_;
};

// snmptrap's exit status (0: sent, and for an inform, acknowledged).
int snmptrap(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/snmptrap");
  const auto r = testing::run(args);
  INFO(r.out << r.err);
  return r.exit_code;
}

snmp::TrapListenOptions options_for_tests() {
  snmp::TrapListenOptions o;
  o.listen = "127.0.0.1:0";
  o.engine_id = std::string("\x80\x00\x1f\x88\x04vigie:test", 15);
  o.boots = 3;
  o.rate = 5;
  o.burst = 20;
  o.counters_every = milliseconds(100);
  snmp::TrapDevice fw;
  fw.name = "fw";
  fw.target.host = "127.0.0.1";
  fw.target.community = "fw-secret";
  snmp::TrapDevice ap;
  ap.name = "ap";
  ap.target.host = "127.0.0.1";
  ap.target.version = plugins::snmp::Target::Version::kV3;
  ap.target.user = "vigie-ap";
  ap.target.auth_protocol = "SHA";
  ap.target.auth_pass = "ap-auth-pass";
  ap.target.priv_protocol = "AES";
  ap.target.priv_pass = "ap-priv-pass";
  snmp::TrapDevice sw;  // its engine id configured
  sw.name = "sw";
  sw.target.host = "127.0.0.1";
  sw.target.version = plugins::snmp::Target::Version::kV3;
  sw.target.user = "vigie-sw";
  sw.target.auth_protocol = "SHA-256";
  sw.target.auth_pass = "sw-auth-pass";
  sw.engine_id = std::string("\x80\x00\x00\x09\x03\x00\x11\x22\x33\x44\x55", 11);
  o.devices = {fw, ap, sw};
  return o;
}

const std::vector<std::string> kApV3 = {"-v3", "-u",  "vigie-ap",    "-l",           "authPriv",
                                        "-a",  "SHA", "-A",          "ap-auth-pass", "-x",
                                        "AES", "-X",  "ap-priv-pass"};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_CASE("Trap receiver: v2c and v3 traps and informs from the devices, decoded",
          "[traps][integration]") {
  Receiver receiver(options_for_tests());
  const std::string to = receiver.address();

  // v2c linkDown with its interface.
  REQUIRE(snmptrap({"-v2c", "-c", "fw-secret", to, "", "1.3.6.1.6.3.1.1.5.3",
                    "1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.2.2.1.8.3", "i", "2"}) == 0);
  auto e = receiver.event();
  REQUIRE(e);
  CHECK(e->device == "fw");
  CHECK(e->version == "2c");
  CHECK_FALSE(e->inform);
  CHECK(e->trap_oid == "1.3.6.1.6.3.1.1.5.3");
  CHECK(e->trap_name == "linkDown");
  CHECK(e->summary == "linkDown from fw: ifIndex.3=3, ifOperStatus.3=down(2)");
  CHECK_THAT(e->source, Catch::StartsWith("127.0.0.1:"));
  REQUIRE(e->varbinds.size() == 4);
  CHECK(e->varbinds[0].name == "sysUpTime.0");
  CHECK(e->varbinds[3].value == "down(2)");

  // A v2c inform: snmptrap -Ci succeeds only once acknowledged.
  REQUIRE(snmptrap({"-Ci", "-r", "0", "-t", "3", "-v2c", "-c", "fw-secret", to, "",
                    "1.3.6.1.6.3.1.1.5.4"}) == 0);
  e = receiver.event();
  REQUIRE(e);
  CHECK(e->inform);
  CHECK(e->trap_name == "linkUp");

  // v3 authPriv trap from an engine id never seen: learned from the message itself.
  REQUIRE(snmptrap(std::vector<std::string>{"-e", "0x80000000010203040506"} + kApV3 +
                   std::vector<std::string>{to, "", "1.3.6.1.4.1.2604.5.1.8.1.1",
                                            "1.3.6.1.4.1.2604.5.1.8.1.2", "s",
                                            "IPsec tunnel HQ is down"}) == 0);
  e = receiver.event();
  REQUIRE(e);
  CHECK(e->device == "ap");
  CHECK(e->version == "3");
  CHECK(e->trap_name == "sfosNotification");
  CHECK(e->summary == "sfosNotification from ap: IPsec tunnel HQ is down");

  // v3 authPriv inform: sent to the receiver's own engine id, which snmptrap discovers.
  REQUIRE(snmptrap(std::vector<std::string>{"-Ci", "-r", "0", "-t", "3"} + kApV3 +
                   std::vector<std::string>{to, "", "1.3.6.1.6.3.1.1.5.1"}) == 0);
  e = receiver.event();
  REQUIRE(e);
  CHECK(e->device == "ap");
  CHECK(e->inform);
  CHECK(e->trap_name == "coldStart");

  // v3 trap from a device whose engine id is configured: accepted under it...
  REQUIRE(snmptrap({"-e", "0x8000000903001122334455", "-v3", "-u", "vigie-sw", "-l", "authNoPriv",
                    "-a", "SHA-256", "-A", "sw-auth-pass", to, "", "1.3.6.1.6.3.1.1.5.2"}) == 0);
  e = receiver.event();
  REQUIRE(e);
  CHECK(e->device == "sw");
  CHECK(e->trap_name == "warmStart");
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.accepted == 5; }));
  CHECK(receiver.counters.dropped() == 0);

  // ...and under no other: its engine id is not learned.
  REQUIRE(snmptrap({"-e", "0x8000000903009999999999", "-v3", "-u", "vigie-sw", "-l", "authNoPriv",
                    "-a", "SHA-256", "-A", "sw-auth-pass", to, "", "1.3.6.1.6.3.1.1.5.2"}) == 0);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.auth_failed == 1; }));
  CHECK(receiver.counters.accepted == 5);

  // Its stdin closed (the agent is gone): it exits, with 0.
  const auto status = receiver.close_stdin(milliseconds(3000));
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("Trap receiver: what is not a device's, with its credentials, is counted and dropped",
          "[traps][integration]") {
  Receiver receiver(options_for_tests());
  const std::string to = receiver.address();
  // An unknown community.
  CHECK(snmptrap({"-v2c", "-c", "public", to, "", "1.3.6.1.6.3.1.1.5.1"}) == 0);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.bad_community == 1; }));
  // An inform with an unknown community is not acknowledged either.
  CHECK(snmptrap({"-Ci", "-r", "0", "-t", "1", "-v2c", "-c", "public", to, "",
                  "1.3.6.1.6.3.1.1.5.1"}) != 0);
  // From an address that is no device's, with the right community.
  CHECK(snmptrap({"--clientaddr=127.0.0.2", "-v2c", "-c", "fw-secret", to, "",
                  "1.3.6.1.6.3.1.1.5.1"}) == 0);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.unknown_source == 1; }));
  // The device's v3 user with a wrong passphrase; then without authentication at all.
  CHECK(snmptrap({"-e", "0x80000000010203040506", "-v3", "-u", "vigie-ap", "-l", "authPriv", "-a",
                  "SHA", "-A", "not-the-pass", "-x", "AES", "-X", "ap-priv-pass", to, "",
                  "1.3.6.1.6.3.1.1.5.1"}) == 0);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.auth_failed == 1; }));
  CHECK(snmptrap({"-e", "0x80000000010203040506", "-v3", "-u", "vigie-ap", "-l", "noAuthNoPriv", to,
                  "", "1.3.6.1.6.3.1.1.5.1"}) == 0);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.bad_user == 1; }));
  // authNoPriv where the device has privacy: below its level.
  CHECK(snmptrap({"-e", "0x80000000010203040506", "-v3", "-u", "vigie-ap", "-l", "authNoPriv", "-a",
                  "SHA", "-A", "ap-auth-pass", to, "", "1.3.6.1.6.3.1.1.5.1"}) == 0);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.bad_user == 2; }));
  // A v1 trap, with the right community: not accepted.
  CHECK(snmptrap({"-v1", "-c", "fw-secret", to, "1.3.6.1.4.1.8072", "127.0.0.1", "0", "0", ""}) ==
        0);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.malformed == 1; }));
  // Not SNMP at all.
  const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(receiver.port())));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char junk[] = "\x30\x82\xff\xffnot snmp";
  ::sendto(s, junk, sizeof junk, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(s);
  CHECK(receiver.counted([](const snmp::TrapCounters& c) { return c.malformed == 2; }));
  CHECK(receiver.counters.accepted == 0);
  CHECK_FALSE(receiver.event(milliseconds(300)));
}

TEST_CASE("Trap receiver: a flood of 10,000 traps from one device is held to its rate",
          "[traps][integration]") {
  auto options = options_for_tests();
  Receiver receiver(options);
  // One trap as snmptrap sends it, captured, then sent 10,000 times.
  const int capture = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in here{};
  here.sin_family = AF_INET;
  here.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(capture, reinterpret_cast<sockaddr*>(&here), sizeof here) == 0);
  socklen_t length = sizeof here;
  REQUIRE(::getsockname(capture, reinterpret_cast<sockaddr*>(&here), &length) == 0);
  REQUIRE(snmptrap({"-v2c", "-c", "fw-secret", "127.0.0.1:" + std::to_string(ntohs(here.sin_port)),
                    "", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.1", "i", "1"}) == 0);
  char packet[2048];
  pollfd p{capture, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  const ssize_t size = ::recv(capture, packet, sizeof packet, 0);
  REQUIRE(size > 0);

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(receiver.port())));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto start = Clock::now();
  constexpr int kFlood = 10'000;
  for (int i = 0; i < kFlood; ++i) {
    ::sendto(capture, packet, static_cast<std::size_t>(size), 0, reinterpret_cast<sockaddr*>(&to),
             sizeof to);
    if (i % 200 == 199) {
      // What a socket buffer holds, at a time: on a loaded machine the receiver may
      // fall behind, and the kernel would drop what it has no room for, uncounted.
      ::usleep(2000);
      receiver.counted(
          [&](const snmp::TrapCounters& c) {
            return c.accepted + c.rate_limited + 400 > static_cast<std::uint64_t>(i);
          },
          milliseconds(2000));
    }
  }
  ::close(capture);
  // Every packet counted: accepted or over the rate (the kernel may drop a few).
  REQUIRE(receiver.counted(
      [&](const snmp::TrapCounters& c) { return c.accepted + c.rate_limited >= kFlood * 9 / 10; },
      milliseconds(20'000)));
  receiver.counted([&](const snmp::TrapCounters&) { return false; }, milliseconds(500));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto& c = receiver.counters;
  INFO("accepted " << c.accepted << ", over the rate " << c.rate_limited << " in " << seconds
                   << " s");
  CHECK(c.accepted <= static_cast<std::uint64_t>(options.burst + options.rate * seconds) + 1);
  CHECK(c.accepted >= static_cast<std::uint64_t>(options.burst));
  CHECK(c.rate_limited_by_device.at("fw") == c.rate_limited);
  CHECK(c.bad_community + c.unknown_source + c.malformed == 0);
  // The other devices were not starved; the flooded one is heard again once it calms.
  REQUIRE(snmptrap(std::vector<std::string>{"-e", "0x80000000010203040506"} + kApV3 +
                   std::vector<std::string>{receiver.address(), "", "1.3.6.1.6.3.1.1.5.1"}) == 0);
  std::optional<protocol::Event> e;
  while ((e = receiver.event()) && e->device != "ap") {
  }
  REQUIRE(e);
  ::usleep(300'000);  // 1.5 tokens at 5/s
  REQUIRE(snmptrap({"-v2c", "-c", "fw-secret", receiver.address(), "", "1.3.6.1.6.3.1.1.5.4"}) ==
          0);
  while ((e = receiver.event()) && e->trap_name != "linkUp") {
  }
  REQUIRE(e);
}

// The redirect docs/operations.md gives, as a site's agent host would load it.
constexpr const char* kRedirect = R"(table inet vigie_traps {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    udp dport 162 redirect to :10162
  }
}
)";

TEST_CASE(
    "Trap receiver: on port 10162, a device's traps and informs to port 162 reach it "
    "through the documented nftables redirect",
    "[traps][integration]") {
  // Two namespaces joined by a veth pair: the agent's host and a device.
  testing::NetNamespace host("traphost");
  testing::NetNamespace device("trapdev");
  if (!host.created())
    VIGIE_SKIP_TEST(host.absent(), "cannot create a network namespace (" << host.error() << ")");
  if (!device.created())
    VIGIE_SKIP_TEST(device.absent(),
                    "cannot create a network namespace (" << device.error() << ")");
  testing::TempDir dir;
  const auto rules = dir.write("vigie-traps.nft", kRedirect);
  std::string error;
  const bool ready = host.run({"ip", "link", "add", "vt0", "type", "veth", "peer", "name", "vt1",
                               "netns", device.name()},
                              &error) &&
                     host.run({"ip", "addr", "add", "10.77.0.1/24", "dev", "vt0"}, &error) &&
                     host.run({"ip", "link", "set", "vt0", "up"}, &error) &&
                     device.run({"ip", "addr", "add", "10.77.0.2/24", "dev", "vt1"}, &error) &&
                     device.run({"ip", "link", "set", "vt1", "up"}, &error) &&
                     host.run({"nft", "-f", rules.string()}, &error);
  INFO(error);
  REQUIRE(ready);

  auto options = options_for_tests();
  options.listen = "0.0.0.0:10162";
  options.devices.resize(1);
  options.devices[0].target.host = "10.77.0.2";
  std::optional<Receiver> receiver;
  {
    testing::NetNamespace::Inside inside(host);  // its process lives there
    receiver.emplace(options);
  }
  REQUIRE(receiver->port() == "10162");

  // A trap to 162, as devices send by default.
  CHECK(device.run({"snmptrap", "-v2c", "-c", "fw-secret", "10.77.0.1:162", "",
                    "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2"},
                   &error));
  INFO(error);
  auto e = receiver->event();
  REQUIRE(e);
  CHECK(e->device == "fw");
  CHECK(e->trap_name == "linkDown");
  CHECK_THAT(e->source, Catch::StartsWith("10.77.0.2:"));
  // An inform: snmptrap succeeds only when the answer came back through the redirect.
  CHECK(device.run({"snmptrap", "-Ci", "-r", "0", "-t", "3", "-v2c", "-c", "fw-secret",
                    "10.77.0.1:162", "", "1.3.6.1.6.3.1.1.5.4"},
                   &error));
  INFO(error);
  e = receiver->event();
  REQUIRE(e);
  CHECK(e->inform);
  CHECK(e->trap_name == "linkUp");
}

}  // namespace
}  // namespace vigie
