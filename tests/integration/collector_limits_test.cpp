// The collector holding a fleet's connections: a cap answered 503, the open-file limit
// raised at start, accept errors that back off instead of spinning, and no large body
// read for a caller without a token. A real vigie-collector, raw connections on
// loopback.

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using namespace std::chrono_literals;

// A plain-HTTP collector on loopback, started through `prefix` (e.g. prlimit).
struct PlainCollector {
  testing::TempDir& dir;
  std::optional<testing::Child> child;
  std::string url;

  PlainCollector(testing::TempDir& d, std::vector<std::string> prefix,
                 std::vector<std::string> extra)
      : dir(d) {
    std::vector<std::string> argv = std::move(prefix);
    for (const std::string& a :
         {std::string(VIGIE_COLLECTOR_BIN), std::string("--listen"), std::string("127.0.0.1:0"),
          std::string("--db"), (dir / "c.db").string(), std::string("--port-file"),
          (dir / "port").string()})
      argv.push_back(a);
    argv.insert(argv.end(), extra.begin(), extra.end());
    child.emplace(argv, dir / "collector.log");
    const auto port = testing::wait_for_port_file(dir / "port", 10s);
    if (!port) FAIL("collector did not start:\n" << child->log());
    url = "http://127.0.0.1:" + std::to_string(*port);
  }
  ~PlainCollector() { (void)child->stop(SIGTERM, 10s); }

  // CPU time the collector has used, ms (utime + stime from /proc/PID/stat).
  long cpu_ms() const {
    std::ifstream in("/proc/" + std::to_string(child->pid()) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::stol(field);
      if (i == 15) stime = std::stol(field);
    }
    return (utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
  }
};

std::string get_health() { return "GET /healthz HTTP/1.1\r\nHost: vigie\r\n\r\n"; }

// Whether a new connection to `url` is served /healthz within 10 s, asking again while
// it is refused (a 503, or no room to accept: answered or closed at once); `answer` is
// the last reply.
bool served_soon(const std::string& url, std::string& answer) {
  return testing::eventually(
      [&] {
        testing::RawConnection next(url);
        if (!next.send(get_health())) return false;
        next.wait_closed(3s);
        answer = next.received();
        return answer.rfind("HTTP/1.1 200", 0) == 0;
      },
      10s);
}

TEST_CASE("Collector: past --max-connections a new connection is answered 503",
          "[collector][limits]") {
  testing::TempDir dir;
  PlainCollector c(dir, {}, {"--max-connections", "3"});
  std::vector<std::unique_ptr<testing::RawConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<testing::RawConnection>(c.url));
    REQUIRE(held.back()->open());
    REQUIRE(held.back()->send(get_health()));
    held.back()->wait_closed(1s);
    REQUIRE_THAT(held.back()->received(), Catch::StartsWith("HTTP/1.1 200"));
  }
  testing::RawConnection extra(c.url);
  REQUIRE(extra.open());
  CHECK(extra.wait_closed(5s));
  CHECK_THAT(extra.received(), Catch::StartsWith("HTTP/1.1 503"));
  CHECK_THAT(extra.received(), Catch::Contains("Retry-After: 10"));

  // One leaves: a connection after it is served, once the collector has seen it close
  // (a moment on a loaded machine: asked again until then, each answered 503 at once).
  held.pop_back();
  std::string answer;
  const bool served = served_soon(c.url, answer);
  INFO(answer);
  CHECK(served);
}

TEST_CASE("Collector: a large body without a valid token is refused before it is read",
          "[collector][limits]") {
  testing::TempDir dir;
  PlainCollector c(dir, {}, {});
  for (const std::string& auth : {std::string(), std::string("Authorization: Bearer nope\r\n")}) {
    INFO(auth);
    testing::RawConnection raw(c.url);
    REQUIRE(raw.send("POST /api/v1/reports HTTP/1.1\r\nHost: vigie\r\n" + auth +
                     "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"));
    // Answered at once, not after the 30 s read timeout or 10 MB.
    CHECK(raw.wait_closed(5s));
    CHECK_THAT(raw.received(), Catch::StartsWith("HTTP/1.1 401"));
  }
}

TEST_CASE("Collector: the open-file limit is raised, and running out of files backs off",
          "[collector][limits]") {
  testing::TempDir dir;
  // A soft limit of 64 under a hard one of 128: raised to 128 at start.
  PlainCollector c(dir, {"/usr/bin/prlimit", "--nofile=64:128", "--"}, {"--max-connections", "0"});
  std::ifstream limits("/proc/" + std::to_string(c.child->pid()) + "/limits");
  std::string line, files;
  while (std::getline(limits, line))
    if (line.starts_with("Max open files")) files = line;
  CHECK_THAT(files, Catch::Matches("Max open files +128 +128 +files *"));

  // More connections than files: accept fails (EMFILE) while they stay open.
  std::vector<std::unique_ptr<testing::RawConnection>> held;
  for (int i = 0; i < 160; ++i) held.push_back(std::make_unique<testing::RawConnection>(c.url));
  std::this_thread::sleep_for(500ms);
  const long before = c.cpu_ms();
  std::this_thread::sleep_for(2s);
  const long spent = c.cpu_ms() - before;
  CHECK(spent < 500);  // not a loop retrying accept at full speed
  held.clear();
  // Files again: served, once the collector's backed-off accept comes round.
  std::string answer;
  const bool served = served_soon(c.url, answer);
  INFO(answer);
  CHECK(served);
  CHECK_THAT(c.child->log(), Catch::Contains("accept: Too many open files"));
}

}  // namespace
}  // namespace vigie
