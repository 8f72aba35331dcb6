#include "tests/support/snmpsim.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "plugins/snmp/session.hpp"

namespace vigie::testing {
namespace {

std::vector<std::uint32_t> numeric(const std::string& text) {
  auto parsed = plugins::snmp::parse_oid(text);
  if (!parsed) throw std::runtime_error("bad OID in a recording: " + text);
  return *parsed;
}

}  // namespace

std::string fixture_recording(const std::string& name) {
  std::ifstream in(std::string(VIGIE_SOURCE_DIR) + "/tests/fixtures/snmp/" + name + ".snmprec");
  if (!in) throw std::runtime_error("no recording " + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string edit_recording(const std::string& text,
                           const std::map<std::string, std::string>& edits) {
  std::map<std::vector<std::uint32_t>, std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto bar = line.find('|');
    lines[numeric(line.substr(0, bar))] = line;
  }
  for (const auto& [name, value] : edits) {
    if (value.empty()) {
      lines.erase(numeric(name));
    } else {
      lines[numeric(name)] = name + "|" + value;
    }
  }
  std::string out;
  for (const auto& [name, line] : lines) out += line + "\n";
  return out;
}

int free_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

SnmpSim::SnmpSim(const std::vector<Recording>& recordings) {
  namespace fs = std::filesystem;
  const fs::path data = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  fs::create_directories(data);
  fs::create_directories(cache);
  for (const auto& recording : recordings)
    dir_.write("data/" + recording.community + ".snmprec", recording.text);
  fs::permissions(dir_.path(), fs::perms(0755));
  fs::permissions(data, fs::perms(0755));
  std::vector<std::string> argv = {"/usr/bin/snmpsimd", "--data-dir=" + data.string(),
                                   "--cache-dir=" + cache.string(), "--logging-method=null"};
  // snmpsimd refuses to run as root unless it drops to an unprivileged user, which
  // must then be able to write its index.
  if (::geteuid() == 0) {
    fs::permissions(cache, fs::perms(0777));
    argv.push_back("--process-user=nobody");
    argv.push_back("--process-group=nogroup");
  }
  port_ = free_udp_port();
  argv.push_back("--agent-udpv4-endpoint=127.0.0.1:" + std::to_string(port_));
  child_ = std::make_unique<Child>(argv, dir_ / "snmpsim.log");

  using namespace plugins::snmp;
  for (const auto& recording : recordings) {
    Target target;
    target.host = "127.0.0.1";
    target.port = static_cast<std::uint16_t>(port_);
    target.community = recording.community;
    target.timeout = std::chrono::milliseconds(300);
    target.retries = 0;
    auto session = open_session(target);
    if (!session) throw std::runtime_error("snmpsim: " + session.status().message());
    Request request;
    request.scalars = {oid("1.3.6.1.2.1.1.3.0")};
    const bool ready = eventually(
        [&] {
          if (!child_->running()) return true;
          bool ok = false;
          const PollJob job{session->get(), &target, &request};
          poll(std::span(&job, 1), std::chrono::steady_clock::now() + std::chrono::seconds(1),
               [&](std::size_t, Result<Snapshot> r) { ok = r.is_ok(); });
          return ok;
        },
        std::chrono::seconds(15));
    if (!ready || !child_->running())
      throw std::runtime_error("snmpsim did not start serving " + recording.community + ":\n" +
                               log());
  }
}

SnmpSim::~SnmpSim() = default;

std::string SnmpSim::log() const { return child_ ? child_->log() : std::string(); }

}  // namespace vigie::testing
