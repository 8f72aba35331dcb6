#include "tests/support/collector_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace vigie::testing {

using namespace std::chrono_literals;

plugins::ProcessResult run(std::vector<std::string> argv) {
  auto r = plugins::run_process(argv, {.timeout = 20s, .max_output = 4 * 1024 * 1024});
  REQUIRE(r.is_ok());
  return std::move(*r);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

namespace {

// A free port of 127.0.0.1 below the kernel's ephemeral range. A collector restarted by
// a test listens on its port again; one the kernel had handed out (port 0) may by then
// be the local port of another test's connection, and the restart fails ("Address
// already in use"). Below the range, only a listener takes it.
int port_below_ephemeral() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  const int first = std::max(1024, low - 12'000);
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(first, std::max(first, low - 1));
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int port = pick(random);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 0;  // the kernel's pick, then
}

}  // namespace

Collector::Collector(const TempDir& dir, std::vector<std::string> extra, std::string db)
    : dir_(dir), extra_(std::move(extra)), db_(std::move(db)), port_(port_below_ephemeral()) {
  auto certs = run({std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs", (dir / "tls").string()});
  REQUIRE(certs.exit_code == 0);
  start();
}

void Collector::start() {
  std::filesystem::remove(dir_ / "port");
  std::vector<std::string> argv = {VIGIE_COLLECTOR_BIN,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port_),
                                   "--db",
                                   db(),
                                   "--port-file",
                                   (dir_ / "port").string(),
                                   "--tls-cert",
                                   (dir_ / "tls/server.crt").string(),
                                   "--tls-key",
                                   (dir_ / "tls/server.key").string()};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  child_.emplace(argv, dir_ / "collector.log");
  auto port = wait_for_port_file(dir_ / "port", 10s);
  if (!port) FAIL("collector did not start:\n" << child_->log());
  port_ = *port;
  url_ = "https://127.0.0.1:" + std::to_string(port_);
}

void Collector::restart(bool kill) {
  stop(kill);
  start();
}

void Collector::stop(bool kill) {
  REQUIRE(child_->stop(kill ? SIGKILL : SIGTERM, 10s).has_value());
  child_.reset();
}

std::string Collector::token(const std::string& role) {
  auto r = run({VIGIE_COLLECTOR_BIN, "token", "create", "--role", role, "--db", db()});
  REQUIRE(r.exit_code == 0);
  return trim(r.out);
}

std::filesystem::path Collector::token_file(const std::string& role) {
  return dir_.write_secret(role + ".token", token(role) + "\n");
}

std::string Collector::enroll_token(const std::string& site, const std::string& report_for) {
  std::vector<std::string> argv = {
      VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--site", site, "--db", db()};
  if (!report_for.empty()) argv.insert(argv.end(), {"--report-for", report_for});
  auto r = run(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return trim(r.out);
}

std::string Collector::enroll(const std::string& agent, const std::string& site) {
  const nlohmann::json request = {{"agent", {{"id", agent}, {"site", site}}}};
  auto reply = http_request("POST", url_ + "/api/v1/enroll", request.dump(),
                            {"Authorization: Bearer " + enroll_token(site)}, ca());
  INFO(reply.body << reply.error);
  REQUIRE(reply.status == 200);
  return nlohmann::json::parse(reply.body)["token"];
}

HttpReply Collector::get(const std::string& path, const std::string& token) {
  return http_request("GET", url_ + path, {}, {"Authorization: Bearer " + token}, ca());
}

HttpReply Collector::call(const std::string& method, const std::string& path,
                          const std::string& token, const std::string& body) {
  std::vector<std::string> headers = {"Content-Type: application/json"};
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return http_request(method, url_ + path, body, headers, ca());
}

HttpReply Collector::post(const std::string& path, const std::string& body,
                          const std::string& token, const std::vector<std::string>& headers) {
  std::vector<std::string> all = headers;
  if (!token.empty()) all.push_back("Authorization: Bearer " + token);
  return http_request("POST", url_ + path, body, all, ca());
}

}  // namespace vigie::testing
