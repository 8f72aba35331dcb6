// vigie-collector's command line: its commands and their help; a bad serve option is
// named and nothing starts (exit 2).

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

TEST_CASE("Collector: --help lists every command, and each command has its own",
          "[collector-cli]") {
  const auto all = testing::run({VIGIE_COLLECTOR_BIN, "--help"});
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out, Catch::StartsWith("usage: vigie-collector [serve] [options]\n"
                                        "       vigie-collector token create"));
  const std::pair<std::string, std::string> commands[] = {
      {"serve", "usage: vigie-collector [serve] [options]"},
      {"token", "usage: vigie-collector token create"},
      {"enroll-token", "usage: vigie-collector enroll-token create"},
      {"report", "usage: vigie-collector report backup"},
  };
  for (const auto& [name, usage] : commands) {
    INFO(name);
    CHECK_THAT(all.out, Catch::Contains("\n  " + name + " "));  // in the list of commands
    const auto one = testing::run({VIGIE_COLLECTOR_BIN, name, "--help"});
    CHECK(one.exit_code == 0);
    CHECK_THAT(one.out, Catch::StartsWith(usage));
  }
  // Without a command, serve runs: the overview ends with its options.
  CHECK_THAT(all.out, Catch::Contains("serve options:\n  --listen ADDR:PORT"));

  const auto unknown = testing::run({VIGIE_COLLECTOR_BIN, "tokens", "list"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::StartsWith("vigie-collector: unknown command \"tokens\" (did "
                                            "you mean \"token\"?)"));
}

}  // namespace
}  // namespace vigie
