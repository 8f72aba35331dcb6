// vigie-collector's command line: its commands and their help; a bad serve option is
// named and nothing starts (exit 2).

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "collector/csv.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

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

// The number of lines of `token list` (its header aside).
std::size_t token_count(const testing::Collector& collector) {
  const auto list = testing::run({VIGIE_COLLECTOR_BIN, "token", "list", "--db", collector.db()});
  REQUIRE(list.exit_code == 0);
  return static_cast<std::size_t>(std::count(list.out.begin(), list.out.end(), '\n')) - 1;
}

TEST_CASE("Collector: enroll-token create --sites gives one token per line, as CSV",
          "[collector-cli][enroll-campaign]") {
  testing::TempDir dir;
  testing::Collector collector(dir);
  const auto sites = dir.write("campaign.csv",
                               "site,agent,contact\n"
                               "mairie-a,a-01,maire@a.example\n"
                               "mairie-b,b-01,\"Secretariat, B\"\n"
                               "mairie-c,,c@c.example\n");
  const auto created = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--sites",
                                     sites.string(), "--count", "3", "--db", collector.db()});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  CHECK_THAT(created.err, Catch::Contains("3 enrollment tokens created"));
  const auto records = collector::parse_csv(created.out);
  REQUIRE(records);
  REQUIRE(records->size() == 4);
  CHECK((*records)[0].fields ==
        std::vector<std::string>{"site", "agent", "contact", "token", "expires"});
  CHECK((*records)[2].fields[2] == "Secretariat, B");
  const auto token_of = [&](std::size_t row) { return (*records)[row].fields.at(3); };
  for (std::size_t row = 1; row <= 3; ++row) CHECK_THAT(token_of(row), Catch::StartsWith("vge_"));

  const auto enroll = [&](const std::string& agent, const std::string& site,
                          const std::string& secret) {
    const nlohmann::json request = {{"agent", {{"id", agent}, {"site", site}}}};
    return collector.post("/api/v1/enroll", request.dump(), secret);
  };
  // A token is for its line's site, and for its agent id when the line gives one.
  auto r = enroll("intruder", "mairie-b", token_of(2));
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains("is for agent \\\"b-01\\\""));
  CHECK(enroll("b-01", "mairie-a", token_of(2)).status == 403);
  CHECK(enroll("a-01", "mairie-a", token_of(1)).status == 200);
  CHECK(enroll("b-01", "mairie-b", token_of(2)).status == 200);
  CHECK(enroll("c-any", "mairie-c", token_of(3)).status == 200);

  SECTION("a count that does not match, or a bad line, stores no token at all") {
    const std::size_t before = token_count(collector);
    auto wrong = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--sites",
                               sites.string(), "--count", "600", "--db", collector.db()});
    CHECK(wrong.exit_code == 2);
    CHECK_THAT(wrong.err, Catch::Contains("--count 600, but " + sites.string() + " lists 3"));
    CHECK(wrong.out.empty());
    const auto bad = dir.write("bad.csv", "mairie-d,d-01\nmairie-e,e-01\nmairie f,f-01\n");
    wrong = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--sites", bad.string(),
                          "--db", collector.db()});
    CHECK(wrong.exit_code == 2);
    CHECK_THAT(wrong.err, Catch::Contains(bad.string() + ":3: site \"mairie f\""));
    CHECK(wrong.out.empty());
    CHECK(token_count(collector) == before);
  }
}

}  // namespace
}  // namespace vigie
