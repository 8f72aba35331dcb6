// vigie-collector's serve options: a bad value is named and nothing starts (exit 2).

#include <catch2/catch.hpp>

#include "tests/support/collector_fixture.hpp"

namespace vigie {
namespace {

TEST_CASE("Collector: a bad serve option is named, with the usage, and exits 2",
          "[collector-cli]") {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--agent-rate", "fast"}, "--agent-rate: expected a number 0..1000000, got \"fast\""},
      {{"--agent-rate", "-1"}, "--agent-rate: expected a number 0..1000000, got \"-1\""},
      {{"--agent-burst", "0"}, "--agent-burst: expected a number 1..1000000, got \"0\""},
      {{"--max-queued-reports", "-5"},
       "--max-queued-reports: expected a number 0..100000000, got \"-5\""},
      {{"--threads", "0"}, "--threads: expected a number 1..64"},
      {{"--listen", "127.0.0.1"}, "--listen \"127.0.0.1\": expected ADDR:PORT"},
      {{"--agent-rate"}, "--agent-rate"},
      {{"--frobnicate"}, "unknown argument \"--frobnicate\""},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {VIGIE_COLLECTOR_BIN, "--db", "/nonexistent/never.db"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = testing::run(argv);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("vigie-collector: " + message));
    CHECK_THAT(r.err, Catch::Contains("usage: vigie-collector"));
  }
}

}  // namespace
}  // namespace vigie
