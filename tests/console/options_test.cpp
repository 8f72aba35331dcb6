#include "console/options.hpp"

#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

namespace vigie::console {
namespace {

using Env = std::map<std::string, std::string>;

Result<Options> parse(std::vector<std::string_view> args, Env env = {}) {
  return parse_options(args, [&env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(std::vector<std::string_view> args, Env env = {}) {
  const auto options = parse(std::move(args), std::move(env));
  REQUIRE_FALSE(options.is_ok());
  CHECK(options.status().code() != Code::kOk);
  return options.status().message();
}

TEST_CASE("parse_options: defaults", "[options]") {
  const auto options = parse({});
  REQUIRE(options.is_ok());
  CHECK(options->url == "http://127.0.0.1:8080");
  CHECK(options->token.empty());
  CHECK(options->token_file.empty());
  CHECK(options->refresh == std::chrono::seconds(5));
  CHECK(options->command.empty());
  CHECK_FALSE(options->once);
  CHECK_FALSE(options->json);
  CHECK(options->columns == 120);
}

TEST_CASE("parse_options: every option, with a space or '='", "[options]") {
  const auto options =
      parse({"--url", "https://collector:8443", "--token-file=/etc/vigie/console.token",
             "--ca-file", "/etc/vigie/ca.crt", "--refresh=500ms", "--once", "--json"});
  REQUIRE(options.is_ok());
  CHECK(options->url == "https://collector:8443");
  CHECK(options->token_file == "/etc/vigie/console.token");
  CHECK(options->ca_file == "/etc/vigie/ca.crt");
  CHECK(options->refresh == std::chrono::milliseconds(500));
  CHECK(options->once);
  CHECK(options->json);
}

TEST_CASE("parse_options: the environment gives the URL, the token and the width", "[options]") {
  const Env env = {
      {"VIGIE_URL", "http://10.0.0.1:8080"}, {"VIGIE_TOKEN", " s3cret\n"}, {"COLUMNS", "90"}};
  auto options = parse({}, env);
  REQUIRE(options.is_ok());
  CHECK(options->url == "http://10.0.0.1:8080");
  CHECK(options->token == "s3cret");
  CHECK(options->columns == 90);

  options = parse({"--url", "http://other", "--token-file", "/t"}, env);
  REQUIRE(options.is_ok());
  CHECK(options->url == "http://other");
  CHECK(options->token.empty());  // the file wins
}

TEST_CASE("parse_options: a strange $COLUMNS is ignored", "[options]") {
  for (const char* columns : {"", "wide", "80x", "-1", "5", "99999999999"}) {
    const auto options = parse({}, {{"COLUMNS", columns}});
    REQUIRE(options.is_ok());
    CHECK(options->columns == 120);
  }
}

TEST_CASE("parse_options: --help stops the parse", "[options]") {
  const auto options = parse({"--help", "--bogus"});
  REQUIRE(options.is_ok());
  CHECK(options->help);
  CHECK(parse({"-h"})->help);
  CHECK_THAT(usage(), Catch::Contains("--token-file"));
}

TEST_CASE("parse_options: the non-interactive commands", "[options]") {
  const auto problems = parse({"problems", "--json"});
  REQUIRE(problems.is_ok());
  CHECK(problems->command == "problems");
  CHECK(problems->json);
  const auto site = parse({"site", "mairie"});
  REQUIRE(site.is_ok());
  CHECK(site->command == "site");
  CHECK(site->argument == "mairie");
  const auto check = parse({"check", "mairie-01/backup/restic:/srv"});
  REQUIRE(check.is_ok());
  CHECK(check->argument == "mairie-01/backup/restic:/srv");
}

TEST_CASE("commands: one table gives --help and what the command line takes", "[options]") {
  REQUIRE(commands().size() == 4);
  const std::string help = usage();
  for (const Command& command : commands()) {
    INFO(command.name);
    std::string line = "  " + std::string(command.name);
    if (!command.argument.empty()) line += " " + std::string(command.argument);
    CHECK_THAT(help, Catch::Contains(line) && Catch::Contains(std::string(command.summary)));
    std::vector<std::string_view> args = {command.name};
    if (!command.argument.empty()) args.push_back("mairie-01/system/load");
    const auto parsed = parse(args);
    REQUIRE(parsed.is_ok());
    CHECK(parsed->command == command.name);
    if (!command.argument.empty()) CHECK_THAT(error_of({command.name}), Catch::Contains("needs"));
  }
  CHECK_THAT(error_of({"frobnicate"}),
             Catch::Contains("(commands: problems, sites, site NAME, check AGENT/CHECK)"));
}

TEST_CASE("parse_options: the CA and token files from the environment", "[options]") {
  const auto options =
      parse({}, {{"VIGIE_CA_FILE", "/etc/vigie/ca.crt"}, {"VIGIE_TOKEN_FILE", "/etc/t"}});
  REQUIRE(options.is_ok());
  CHECK(options->ca_file == "/etc/vigie/ca.crt");
  CHECK(options->token_file == "/etc/t");
  const auto flag_wins = parse({"--ca-file", "/x.crt"}, {{"VIGIE_CA_FILE", "/etc/vigie/ca.crt"}});
  REQUIRE(flag_wins.is_ok());
  CHECK(flag_wins->ca_file == "/x.crt");
}

TEST_CASE("parse_options: bad usage names the argument", "[options]") {
  CHECK(error_of({"--bogus"}) == "unknown option \"--bogus\"");
  CHECK_THAT(error_of({"extra"}), Catch::StartsWith("unexpected argument \"extra\""));
  CHECK(error_of({"--url"}) == "--url needs a value");
  CHECK(error_of({"--url="}) == "--url needs a value");
  CHECK(error_of({"--once=yes"}) == "--once takes no value");
  CHECK(error_of({"--json"}) == "--json goes with --once or a command");
  CHECK(error_of({"site"}) == "site needs a site's name");
  CHECK(error_of({"check", "--json"}) == "check needs AGENT/CHECK");
  CHECK_THAT(error_of({"check", "load"}), Catch::Contains("expected AGENT/CHECK"));
  CHECK(error_of({"problems", "--once"}) == "--once and a command do not go together");
  CHECK(error_of({"--url", "collector:8080"}) ==
        "--url \"collector:8080\": expected http://HOST[:PORT] or https://HOST[:PORT]");
  CHECK_THAT(error_of({}, {{"VIGIE_URL", "ftp://x"}}), Catch::StartsWith("VIGIE_URL"));
  CHECK_THAT(error_of({"--refresh", "2"}), Catch::StartsWith("--refresh: \"2\": missing unit"));
  CHECK(error_of({"--refresh", "10ms"}) == "--refresh \"10ms\": at least 200ms");
  CHECK(error_of({}, {{"VIGIE_TOKEN", "two words"}}) ==
        "VIGIE_TOKEN: the token may hold visible ASCII characters only");
}

TEST_CASE("read_token_file: the token without surrounding blanks", "[options]") {
  const vigie::testing::TempDir dir;
  CHECK(read_token_file(dir.write("token", "  abc.DEF-123\n").string()).value() == "abc.DEF-123");
}

TEST_CASE("read_token_file: refuses what cannot be a token", "[options]") {
  const vigie::testing::TempDir dir;
  const auto error = [](const std::filesystem::path& path) {
    const auto token = read_token_file(path.string());
    REQUIRE_FALSE(token.is_ok());
    return token.status();
  };
  const Status missing = error(dir / "missing");
  CHECK(missing.code() == Code::kIoError);
  CHECK_THAT(missing.message(), Catch::Contains("missing") && Catch::Contains("No such file"));
  CHECK(error(dir.path()).code() == Code::kIoError);
  CHECK_THAT(error(dir.write("empty", "\n")).message(), Catch::EndsWith("the token is empty"));
  CHECK(error(dir.write("big", std::string(5000, 'a'))).code() == Code::kTooLarge);
  CHECK(error(dir.write("crlf", "abc\r\nX-Injected: yes\n")).code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace vigie::console
