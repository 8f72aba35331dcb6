#include "plugins/antivirus/clamd_check.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

#include "plugins/process.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/child.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::antivirus {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

constexpr const char* kClamd = "/usr/sbin/clamd";

std::string run_ok(const std::vector<std::string>& argv) {
  ProcessOptions options;
  options.timeout = 10s;
  const auto result = run_process(argv, options);
  REQUIRE(result.is_ok());
  INFO(argv[0] << ": " << result->err);
  REQUIRE(result->exit_code == 0);
  return result->out;
}

// A daily signature database as freshclam would leave it, but unsigned: a ".cud"
// container (a 512-byte "ClamAV-VDB:..." header, then a tar.gz holding daily.info, which
// repeats the header and lists each file's size and SHA-256, and one hash signature).
// libclamav loads such a container without a digital signature.
void write_database(const testing::TempDir& dir, const std::filesystem::path& db, long long version,
                    std::time_t built) {
  const auto build = dir.path() / "cud";
  std::filesystem::create_directories(build);
  std::filesystem::create_directories(db);
  std::tm tm{};
  ::localtime_r(&built, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%d %b %Y %H-%M %z", &tm);
  const std::string header = "ClamAV-VDB:" + std::string(date) + ":" + std::to_string(version) +
                             ":1:90:x:x:vigie-test:" + std::to_string(built);
  // The MD5 of "hello\n", size 6.
  const std::string hdb = "b1946ac92492d2347c6235b4d2611184:6:Vigie.Test.Signature\n";
  dir.write("cud/daily.hdb", hdb);
  const std::string sum = run_ok({"sha256sum", (build / "daily.hdb").string()}).substr(0, 64);
  dir.write("cud/daily.info",
            header + "\ndaily.hdb:" + std::to_string(hdb.size()) + ":" + sum + "\n");
  run_ok({"tar", "--format=ustar", "-czf", (build / "daily.tar.gz").string(), "-C", build.string(),
          "daily.info", "daily.hdb"});
  std::ifstream tar(build / "daily.tar.gz", std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(tar)), std::istreambuf_iterator<char>());
  std::string padded = header;
  padded.resize(512, ' ');
  std::ofstream out(db / "daily.cud", std::ios::binary | std::ios::trunc);
  out << padded << body;
}

// A TCP port nobody listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

Outcome run_clamd(const json& params, std::chrono::milliseconds budget = 5s) {
  return testing::configured(make_clamd_check, params)->run(testing::context(budget));
}

TEST_CASE("ClamdCheck: a real clamd, its signature age, then stopped", "[clamd]") {
  if (!std::filesystem::exists(kClamd))
    VIGIE_SKIP_TEST(testing::Absent::kPackage,
                    kClamd << " is not installed (scripts/bootstrap installs clamav-daemon)");
  testing::TempDir dir;
  const auto db = dir.path() / "db";
  const std::time_t built = std::time(nullptr) - 3 * 86400 - 600;  // 3 days and 10 minutes
  write_database(dir, db, 27837, built);
  const auto socket = (dir / "clamd.sock").string();
  const int port = free_port();
  dir.write("clamd.conf", "Foreground yes\nLocalSocket " + socket + "\nTCPSocket " +
                              std::to_string(port) + "\nTCPAddr 127.0.0.1\nDatabaseDirectory " +
                              db.string() + "\nPidFile " + (dir / "clamd.pid").string() +
                              "\nMaxThreads 2\nBytecode no\n");
  testing::Child clamd({kClamd, "-c", (dir / "clamd.conf").string()}, dir / "clamd.log");
  const bool up = testing::eventually(
      [&] {
        return run_clamd({{"socket", socket}}).status != State::kCritical || !clamd.running();
      },
      20s);
  INFO(clamd.log());
  REQUIRE(up);
  REQUIRE(clamd.running());

  // 3 days old: past the default warn (2d), within crit (7d).
  auto outcome = run_clamd({{"socket", socket}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::StartsWith("ClamAV 1."));
  CHECK_THAT(outcome.summary, Catch::Contains(" up, signatures 27837 of ") &&
                                  Catch::EndsWith(" (3d old) (WARNING > 2d)"));
  CHECK(find_metric(outcome, "signature_age").value >= 3 * 86400 + 600);
  CHECK(find_metric(outcome, "signature_age").value < 3 * 86400 + 700);
  CHECK(find_metric(outcome, "signature_age").warn == Range{0, 2 * 86400});
  CHECK(find_metric(outcome, "signature_age").crit == Range{0, 7 * 86400});
  CHECK(find_metric(outcome, "signature_version").value == 27837);
  CHECK(find_metric(outcome, "response_time").value >= 0);

  outcome = run_clamd({{"socket", socket}, {"warn", "4d"}});
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::EndsWith(" (3d old)"));

  outcome = run_clamd({{"socket", socket}, {"warn", "1d"}, {"crit", "3d"}});
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::EndsWith(" (3d old) (CRITICAL > 3d)"));

  const json tcp = {{"host", "127.0.0.1"}, {"port", port}, {"warn", "4d"}};
  CHECK(testing::configured(make_clamd_check, tcp)->instance() ==
        "127.0.0.1:" + std::to_string(port));
  outcome = run_clamd(tcp);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::Contains(" up, signatures 27837 of "));

  REQUIRE(clamd.stop(SIGTERM, 10s).has_value());
  outcome = run_clamd({{"socket", socket}});
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary ==
        "clamd not answering on " + socket + ": connect: No such file or directory");
  outcome = run_clamd(tcp);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "clamd not answering on 127.0.0.1:" + std::to_string(port) +
                               ": connect: Connection refused");
}

// Something on a unix socket that answers each command as `reply` says ("" for no
// answer at all until the test ends): what a broken clamd, or another program, does.
class FakeClamd {
 public:
  FakeClamd(std::string path, std::function<std::string(const std::string&)> reply)
      : reply_(std::move(reply)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeClamd() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 20) <= 0) continue;
      const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::string command;
      char c = 0;
      while (command.size() < 64 && ::recv(client, &c, 1, 0) == 1 && c != '\0') command += c;
      const std::string answer = reply_(command);
      if (answer.empty()) {
        while (!stop_) std::this_thread::sleep_for(10ms);
      } else {
        ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      }
      ::close(client);
    }
  }

  int fd_ = -1;
  std::function<std::string(const std::string&)> reply_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Outcome run_against(const std::string& ping, const std::string& version,
                    std::chrono::milliseconds budget = 2s) {
  testing::TempDir dir;
  const auto socket = (dir / "fake.sock").string();
  FakeClamd fake(socket,
                 [&](const std::string& command) { return command == "zPING" ? ping : version; });
  return run_clamd({{"socket", socket}}, budget);
}

TEST_CASE("ClamdCheck: unexpected, truncated and oversized replies are UNKNOWN", "[clamd]") {
  const std::string pong = std::string("PONG\0", 5);
  const std::string good = std::string("ClamAV 1.4.6/27837/Thu Nov 26 02:14:24 2026\0", 44);
  REQUIRE(run_against(pong, good).status != State::kUnknown);

  const std::vector<std::pair<std::string, std::string>> version_cases = {
      {std::string("ClamAV 1.4.6\0", 13),
       "ClamAV 1.4.6 is up but reports no signature database (VERSION \"ClamAV 1.4.6\")"},
      {std::string("COMMAND UNAVAILABLE\0", 20), "clamd is up but refuses VERSION"},
      {"ClamAV 1.4.6/27837/Thu Nov",
       "unexpected VERSION reply \"ClamAV 1.4.6/27837/Thu Nov\": "
       "unreadable database date"},
      {"ClamAV 1.4.6/abc/Thu Nov 26 02:14:24 2026", "unexpected VERSION reply"},
      {"ClamAV 1.4.6/27837", "unexpected VERSION reply \"ClamAV 1.4.6/27837\": no database date"},
      {"HTTP/1.1 400 Bad Request\r\n", "unexpected VERSION reply \"HTTP/1.1 400 Bad Request\": "},
      {std::string("\xff\xfe\0", 3), "unexpected VERSION reply \"\\xff\\xfe\""},
      {std::string(5000, 'A'),
       "clamd answered PING but not VERSION: reply to VERSION longer "
       "than 1024 bytes"},
  };
  for (const auto& [reply, reason] : version_cases) {
    INFO(reply.substr(0, 60));
    const auto outcome = run_against(pong, reply);
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::StartsWith(reason));
    CHECK(find_metric(outcome, "response_time").value.has_value());
  }

  auto outcome = run_against("PANG", good);
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::EndsWith(": unexpected PING reply \"PANG\""));

  // Accepts the connection and never answers: a hung daemon.
  const auto start = std::chrono::steady_clock::now();
  outcome = run_against("", good, 300ms);
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
  CHECK(outcome.status == State::kCritical);
  CHECK_THAT(outcome.summary, Catch::EndsWith(": no answer to PING in time"));
}

TEST_CASE("ClamdCheck: configure names the bad parameter", "[clamd]") {
  const auto error = [](const json& params) {
    return testing::configure_error(make_clamd_check, params);
  };
  CHECK(testing::configured(make_clamd_check, json::object())->instance() ==
        "/run/clamav/clamd.ctl");
  CHECK(testing::configured(make_clamd_check, {{"host", "localhost"}})->instance() ==
        "localhost:3310");
  CHECK_THAT(error({{"socket", "clamd.ctl"}}),
             Catch::Contains("\"clamd.ctl\": must be an absolute path"));
  CHECK(error({{"socket", "/run/c"}, {"host", "h"}}) ==
        "socket, host: give one, the unix socket or the TCP host");
  CHECK(error({{"port", 3310}}) == "port: needs \"host\"");
  CHECK(error({{"host", "h"}, {"port", 70000}}) == "port: 70000: must be in 1..65535");
  CHECK_THAT(error({{"socket", "/" + std::string(200, 'x')}}), Catch::StartsWith("socket: longer"));
  CHECK(error({{"warn", "8d"}}) == "warn: 8d is above crit (1w)");
}

TEST_CASE("Antivirus checks: a misspelt parameter is refused, the right one suggested", "[clamd]") {
  testing::check_misspellings({
      {"antivirus/clamd", "sockt", "socket"},
      {"antivirus/signature-age", "fromat", "format"},
      {"antivirus/sophos", "update_wran", "update_warn"},
      {"antivirus/sophos-central", "stale_day", "stale_days"},
  });
}

}  // namespace
}  // namespace vigie::plugins::antivirus
