#include "agent/config.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <utility>

#include <algorithm>
#include <chrono>
#include <string>

#include "plugins/snmp/devices.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::agent {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

constexpr const char* kFile = "/etc/vigie/agent.json";

// A valid file whose "checks" array is `checks` and whose other parts can be replaced.
std::string document(const std::string& checks,
                     const std::string& agent = R"({"id": "a-1", "site": "s"})",
                     const std::string& collector = R"({"url": "https://c.example.org"})",
                     const std::string& extra = "") {
  return "{\n  \"agent\": " + agent + ",\n  \"collector\": " + collector + ",\n" + extra +
         "  \"checks\": " + checks + "\n}\n";
}

// The error message for `text`, which must be refused, and the line it points to (0:
// none, or a syntax error's "LINE:COLUMN:", which stays in the message).
std::pair<std::string, int> located_error_of(const std::string& text) {
  auto config = parse_config(text, kFile);
  REQUIRE_FALSE(config.is_ok());
  CHECK(config.status().code() == Code::kInvalidArgument);
  std::string message = config.status().message();
  const std::string file = std::string(kFile) + ":";
  if (!message.starts_with(file)) return {message, 0};
  std::size_t end = file.size();
  while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
  if (end == file.size() || message.compare(end, 2, ": ") != 0) return {message, 0};
  const int line = std::stoi(message.substr(file.size(), end - file.size()));
  return {std::string(kFile) + message.substr(end), line};
}

// The message alone, written as "FILE: ..." whatever line it names.
std::string error_of(const std::string& text) { return located_error_of(text).first; }

const ConfiguredCheck& find(const Config& config, const std::string& name) {
  const auto it = std::find_if(config.checks.begin(), config.checks.end(),
                               [&](const ConfiguredCheck& c) { return c.name == name; });
  REQUIRE(it != config.checks.end());
  return *it;
}

TEST_CASE("Config: an error names the file and the line of the field", "[config]") {
  const std::string agent =
      "{\n  \"agent\": {\"id\": \"a\", \"site\": \"s\"},\n"
      "  \"collector\": {\"url\": \"https://c.example.org\"},\n"
      "  \"checks\": [\n"
      "    {\"name\": \"load\", \"type\": \"system/load\"},\n";
  const auto located = [&](const std::string& tail) { return located_error_of(agent + tail); };
  // Lines 1 to 5 are the head above; an unknown check type on line 7.
  auto [message, line] = located("    {\"name\": \"x\",\n     \"type\": \"system/lod\"}\n  ]\n}\n");
  CHECK(line == 7);
  CHECK_THAT(message, StartsWith(std::string(kFile) + ": checks[1].type: unknown check type"));
  // A missing parameter: the line of the check that lacks it.
  std::tie(message, line) = located("    {\"name\": \"ping\", \"type\": \"external\"}\n  ]\n}\n");
  CHECK(line == 6);
  CHECK_THAT(message, StartsWith(std::string(kFile) + ": checks[1].command:"));
  // Interval 0.
  std::tie(message, line) = located(
      "    {\"name\": \"l2\", \"type\": \"system/load\",\n\n      \"interval\": \"0s\"}\n  ]\n}\n");
  CHECK(line == 8);
  CHECK_THAT(message, StartsWith(std::string(kFile) + ": checks[1].interval:"));
  // A duplicate name.
  std::tie(message, line) =
      located("    // again\n    {\"name\": \"load\", \"type\": \"system/load\"}\n  ]\n}\n");
  CHECK(line == 7);
  CHECK_THAT(message, Contains("checks[1].name") && Contains("load"));
  // A misspelt parameter of a check: the line of the key, the right one suggested.
  std::tie(message, line) = located(
      "    {\"name\": \"root\", \"type\": \"system/disk\", \"path\": \"/\",\n"
      "     \"wran\": 95}\n  ]\n}\n");
  CHECK(line == 7);
  CHECK_THAT(message, StartsWith(std::string(kFile) +
                                 ": checks[1].wran: unknown key (did you mean \"warn\"?)"));
  // A device's field, by its whole path.
  std::tie(message, line) = located_error_of(
      "{\n  \"agent\": {\"id\": \"a\", \"site\": \"s\"},\n"
      "  \"collector\": {\"url\": \"https://c.example.org\"},\n"
      "  \"devices\": {\"fw\": {\"host\": \"h\",\n"
      "                        \"snmp\": {\"version\": \"2c\",\n"
      "                                 \"retries\": 99}}},\n"
      "  \"checks\": [{\"name\": \"load\", \"type\": \"system/load\"}]\n}\n");
  CHECK(line == 6);
  CHECK(message == std::string(kFile) + ": devices.fw.snmp.retries: 99: must be in 0..10");
}

TEST_CASE("Config: the demo configuration loads", "[config]") {
  auto config = load_config(VIGIE_SOURCE_DIR "/config/agent.demo.json");
  REQUIRE(config.is_ok());
  CHECK(config->agent_id == "demo-mairie-01");
  CHECK(config->site == "demo-site");
  CHECK(config->collector.url == "http://127.0.0.1:8080");
  CHECK(config->collector.token_file.empty());
  REQUIRE(config->checks.size() >= 5);

  const auto& load = find(*config, "load");
  CHECK(load.id == "system/load");
  CHECK(load.interval == 5s);
  CHECK(load.timeout == 5s);
  CHECK(load.splay == 500ms);
  CHECK(find(*config, "disk-root").id == "system/disk:/");
  CHECK(find(*config, "certificate").id == "external:certificate");
  for (const auto& check : config->checks) {
    CHECK(check.check != nullptr);
    CHECK(check.interval >= 5s);
    CHECK(check.interval <= 10s);
    CHECK(check.timeout <= check.interval);
  }
}

TEST_CASE("Config: the commented example configuration loads", "[config]") {
  auto config = load_config(VIGIE_SOURCE_DIR "/config/agent.example.json");
  REQUIRE(config.is_ok());
  CHECK(config->agent_id == "onesse-mairie-01");
  CHECK(config->collector.url == "https://supervision.example.org:8443");
  CHECK(config->collector.ca_file == "/etc/vigie/ca.crt");
  CHECK(config->devices.contains("fw"));
  const auto& load = find(*config, "load");
  CHECK(load.interval == 60s);
  CHECK(load.timeout == 10s);
  CHECK(load.splay == 6s);
  CHECK(find(*config, "ntp").splay == 60s);  // a tenth of 15 min, capped at 1 min
  CHECK(find(*config, "disk-backup").id == "system/disk:/srv");
  CHECK(find(*config, "ping-gw").id == "external:ping-gw");
  CHECK(find(*config, "backup").id == "backup/restic:/srv/restic");
  CHECK(find(*config, "backup-offsite").id ==
        "backup/borg:ssh://vigie@backup.example.org/./mairie");
  CHECK(find(*config, "dump-accounting").id == "backup/file-age:/srv/dumps/compta-*.sql.gz");
  CHECK(find(*config, "antivirus").id == "antivirus/clamd:/run/clamav/clamd.ctl");
  CHECK(find(*config, "host-firewall").id == "firewall/host");
  CHECK(find(*config, "links").id == "net/ping");
  CHECK(find(*config, "dns").id == "net/dns");
}

TEST_CASE("Config: malformed JSON gives file:line:column and the parser's reason", "[config]") {
  const std::string text = "{\n  \"agent\": {\"id\": \"a\"\n  \"site\": \"s\"}\n}\n";
  const std::string message = error_of(text);
  // The position is the last character the parser read: the end of the unexpected token.
  CHECK_THAT(message, StartsWith(std::string(kFile) + ":3:8: "));
  CHECK_THAT(message, Contains("syntax error while parsing object"));
  CHECK_THAT(message, !Contains("json.exception"));

  CHECK_THAT(error_of("{\"agent\": "), StartsWith(std::string(kFile) + ":1:11: "));
  CHECK_THAT(error_of(""), StartsWith(std::string(kFile) + ":1:1: "));
}

TEST_CASE("Config: a file nested past any configuration's depth is refused, not built",
          "[config]") {
  // 100,000 levels (what a walk of it would overflow the stack on).
  const std::string deep = R"({"agent": {"id": "a", "site": "s", "extra": )" +
                           std::string(100'000, '[') + std::string(100'000, ']') + "}}";
  CHECK(error_of(deep) == std::string(kFile) + ": nested deeper than 64 levels");
}

TEST_CASE("Config: comments are allowed", "[config]") {
  auto config = parse_config(document("[ /* none yet */ {\"name\": \"load\", // the load\n"
                                      "\"type\": \"system/load\"} ]"),
                             kFile);
  REQUIRE(config.is_ok());
  CHECK(config->checks.size() == 1);
  CHECK(config->path == kFile);
}

TEST_CASE("Config: an unknown check type is refused with a suggestion", "[config]") {
  const std::string message =
      error_of(document(R"([{"name": "disk", "type": "system/disk", "path": "/"},
                   {"name": "load", "type": "sytem/load"}])"));
  CHECK_THAT(message, StartsWith(std::string(kFile) +
                                 ": checks[1].type: unknown check type \"sytem/load\""));
  CHECK_THAT(message, Contains("did you mean \"system/load\"?"));
}

TEST_CASE("Config: a check without a name is refused", "[config]") {
  CHECK(error_of(document(R"([{"type": "system/load"}])")) ==
        std::string(kFile) + ": checks[0].name: required, a string");
  CHECK(error_of(document(R"([{"name": 7, "type": "system/load"}])")) ==
        std::string(kFile) + ": checks[0].name: expected a string, got number");
  CHECK_THAT(error_of(document(R"([{"name": "a b", "type": "system/load"}])")),
             StartsWith(std::string(kFile) + ": checks[0].name: \"a b\": only letters"));
}

TEST_CASE("Config: duplicate check names and ids are refused", "[config]") {
  CHECK(error_of(document(R"([{"name": "load", "type": "system/load"},
                              {"name": "load", "type": "system/disk", "path": "/"}])")) ==
        std::string(kFile) + ": checks[1].name: duplicate name \"load\" (also checks[0])");
  CHECK_THAT(error_of(document(R"([{"name": "load", "type": "system/load"},
                                   {"name": "load2", "type": "system/load"}])")),
             StartsWith(std::string(kFile) +
                        ": checks[1]: check id \"system/load\" is also the id of checks[0]"));
}

TEST_CASE("Config: intervals and timeouts are checked", "[config]") {
  const auto with = [](const std::string& fields) {
    return document(R"([{"name": "disk", "type": "system/disk", "path": "/"},
                        {"name": "users", "type": "external", "command": ["check_users"]},
                        {"name": "load", "type": "system/load", )" +
                    fields + "}]");
  };
  CHECK(error_of(with(R"("interval": "0s")")) ==
        std::string(kFile) + ": checks[2].interval: \"0s\": must be at least 1s");
  CHECK_THAT(error_of(with(R"("interval": "10")")),
             StartsWith(std::string(kFile) + ": checks[2].interval: \"10\": missing unit"));
  CHECK_THAT(error_of(with(R"("interval": 10)")),
             StartsWith(std::string(kFile) + ": checks[2].interval: expected a duration such as"));
  CHECK_THAT(error_of(with(R"("interval": "1y")")),
             StartsWith(std::string(kFile) + ": checks[2].interval: \"1y\": unknown unit"));
  CHECK(error_of(with(R"("interval": "30s", "timeout": "1m")")) ==
        std::string(kFile) +
            ": checks[2].timeout: \"1m\": longer than the check's interval (every 30s)");
  CHECK(error_of(with(R"("interval": "30s", "splay": "31s")")) ==
        std::string(kFile) +
            ": checks[2].splay: \"31s\": longer than the check's interval (every 30s)");
}

TEST_CASE("Config: the default timeout is clamped to a shorter interval", "[config]") {
  auto config =
      parse_config(document(R"([{"name": "load", "type": "system/load", "interval": "3s"},
                   {"name": "disk", "type": "system/disk", "path": "/", "splay": "0s"}])",
                            R"({"id": "a", "site": "s"})", R"({"url": "https://c"})",
                            R"(  "defaults": {"interval": "2m", "timeout": "20s", "splay": "5s"},)"
                            "\n"),
                   kFile);
  REQUIRE(config.is_ok());
  CHECK(config->checks[0].interval == 3s);
  CHECK(config->checks[0].timeout == 3s);
  CHECK(config->checks[0].splay == 3s);
  CHECK(config->checks[1].interval == 2min);
  CHECK(config->checks[1].timeout == 20s);
  CHECK(config->checks[1].splay == 0s);
}

TEST_CASE("Config: the collector url must be http(s), plain http only on loopback", "[config]") {
  const auto url = [](const std::string& u) {
    return document(R"([{"name": "load", "type": "system/load"}])", R"({"id": "a", "site": "s"})",
                    R"({"url": ")" + u + R"("})");
  };
  CHECK_THAT(error_of(url("ftp://c.example.org")),
             StartsWith(std::string(kFile) +
                        ": collector.url: \"ftp://c.example.org\": must start with https://"));
  CHECK_THAT(error_of(url("http://c.example.org")),
             Contains("plain http is only allowed to a collector on this machine"));
  CHECK_THAT(error_of(url("http://127.example.org")), Contains("plain http is only allowed"));
  CHECK_THAT(error_of(url("https://")), Contains("missing host"));
  CHECK_THAT(error_of(url("https://c.example.org:99999")), Contains("port must be"));
  CHECK_THAT(error_of(url("https://c.example.org/x?y=1")), Contains("query"));
  CHECK_THAT(error_of(url("https://user:pw@c.example.org")), Contains("credentials"));

  for (const std::string ok : {"http://127.0.0.1:8080/", "http://localhost", "http://[::1]:80",
                               "https://[2001:db8::1]:8443/vigie"}) {
    INFO(ok);
    auto config = parse_config(url(ok), kFile);
    REQUIRE(config.is_ok());
    CHECK(config->collector.url.back() != '/');
  }
}

TEST_CASE("Config: agent, collector and top-level keys are validated", "[config]") {
  const std::string checks = R"([{"name": "load", "type": "system/load"}])";
  CHECK_THAT(error_of(document(checks, R"({"id": "mairie 1", "site": "s"})")),
             StartsWith(std::string(kFile) + ": agent.id: \"mairie 1\": only letters"));
  CHECK(error_of(document(checks, R"({"id": "a"})")) ==
        std::string(kFile) + ": agent.site: required, a string");
  CHECK_THAT(error_of(document(checks, R"({"id": "-a", "site": "s"})")),
             Contains("must start with a letter or a digit"));
  CHECK_THAT(error_of(document(checks, R"({"id": "a", "site": "s"})",
                               R"({"url": "https://c", "tokn_file": "/t"})")),
             StartsWith(std::string(kFile) +
                        ": collector.tokn_file: unknown key (did you mean \"token_file\"?)"));
  CHECK_THAT(error_of(document(checks, R"({"id": "a", "site": "s"})",
                               R"({"url": "https://c", "token_file": "agent.token"})")),
             Contains("collector.token_file: \"agent.token\": must be an absolute path"));
  CHECK(error_of(document(checks, R"({"id": "a", "site": "s"})",
                          R"({"url": "https://c", "batch_max": 0})")) ==
        std::string(kFile) + ": collector.batch_max: 0: must be in 1..5000");
  CHECK_THAT(error_of(document(checks, R"({"id": "a", "site": "s"})", R"({"url": "https://c"})",
                               "  \"devices\": [],\n")),
             StartsWith(std::string(kFile) + ": devices: expected an object, got array"));
  CHECK_THAT(error_of(document(checks, R"({"id": "a", "site": "s"})", R"({"url": "https://c"})",
                               "  \"chekcs\": [],\n")),
             StartsWith(std::string(kFile) + ": chekcs: unknown key (did you mean \"checks\"?)"));
  CHECK(error_of(document("[]")) == std::string(kFile) + ": checks: lists no check");
  CHECK(error_of(document(checks, R"({"id": "a", "site": "s", "max_concurrent_checks": 0})")) ==
        std::string(kFile) + ": agent.max_concurrent_checks: 0: must be in 1..64");
  auto eight = parse_config(
      document(checks, R"({"id": "a", "site": "s", "max_concurrent_checks": 8})"), kFile);
  REQUIRE(eight.is_ok());
  CHECK(eight->max_concurrent_checks == 8);
  CHECK(parse_config(document(checks), kFile)->max_concurrent_checks == 4);
  CHECK_THAT(error_of("[1, 2]"), Contains("expected an object at the top level, got array"));
}

TEST_CASE("Config: a check's own parameter errors are reported with its path", "[config]") {
  CHECK_THAT(error_of(document(R"([{"name": "load", "type": "system/load"},
                                   {"name": "ping", "type": "external"}])")),
             StartsWith(std::string(kFile) + ": checks[1].command: "));
}

TEST_CASE("Config: a missing file is kNotFound and names the file", "[config]") {
  testing::TempDir dir;
  auto config = load_config(dir / "agent.json");
  REQUIRE_FALSE(config.is_ok());
  CHECK(config.status().code() == Code::kNotFound);
  CHECK_THAT(config.status().message(), StartsWith((dir / "agent.json").string() + ": "));

  const auto file = dir.write("agent.json", "{ \"agent\": ");
  auto broken = load_config(file);
  REQUIRE_FALSE(broken.is_ok());
  CHECK_THAT(broken.status().message(), StartsWith(file.string() + ":1:"));
}

TEST_CASE("Config: SNMP checks read the devices block", "[config]") {
  const std::string devices =
      R"(  "devices": {"fw": {"host": "192.0.2.1", "snmp": {"version": "2c"}}},
)";
  auto config = parse_config(
      document(R"([{"name": "fw", "type": "firewall/sophos", "device": "fw"},
                   {"name": "ap", "type": "wifi/snmp-generic", "device": "fw"}])",
               R"({"id": "a-1", "site": "s"})", R"({"url": "https://c.example.org"})", devices),
      kFile);
  INFO(config.status().to_string());
  REQUIRE(config.is_ok());
  REQUIRE(config->snmp_devices != nullptr);
  CHECK(config->snmp_devices->names() == std::vector<std::string>{"fw"});
  CHECK(find(*config, "fw").id == "firewall/sophos:fw");
  CHECK(find(*config, "ap").id == "wifi/snmp-generic:fw");

  CHECK(error_of(document(R"([{"name": "fw", "type": "firewall/sophos", "device": "gw"}])",
                          R"({"id": "a-1", "site": "s"})", R"({"url": "https://c.example.org"})",
                          devices)) ==
        std::string(kFile) +
            ": checks[0].device: no device named \"gw\" in \"devices\"; known devices: fw");
  CHECK(error_of(document(R"([{"name": "fw", "type": "firewall/sophos", "device": "fw"}])")) ==
        std::string(kFile) +
            ": checks[0].device: \"fw\": the configuration declares no \"devices\"");
  CHECK_THAT(
      error_of(document(R"([{"name": "load", "type": "system/load"}])",
                        R"({"id": "a-1", "site": "s"})", R"({"url": "https://c.example.org"})",
                        R"(  "devices": {"fw": {"host": "h", "snmp": {"version": "1"}}},
)")),
      StartsWith(std::string(kFile) + ": devices.fw.snmp.version: \"1\": must be"));
}

TEST_CASE("Config: the spool block, retry_max and the client certificate", "[config]") {
  const std::string checks = R"([{"name": "load", "type": "system/load"}])";
  const std::string agent = R"({"id": "a", "site": "s"})";
  const std::string url = R"("url": "https://c.example.org")";

  auto defaults = parse_config(document(checks), kFile);
  REQUIRE(defaults.is_ok());
  CHECK(defaults->spool.path.empty());
  CHECK(defaults->spool.max_mb == 64);
  CHECK(defaults->spool.max_age == std::chrono::hours(7 * 24));
  CHECK(defaults->collector.retry_max == 5min);

  auto set =
      parse_config(document(checks, agent,
                            "{" + url + R"(, "retry_max": "30s", "client_cert": "/etc/vigie/a.crt",
                  "client_key": "/etc/vigie/a.key"})",
                            R"(  "spool": {"path": "/srv/spool.db", "max_mb": 0.5, "max_age": "2d"},
)"),
                   kFile);
  INFO(set.status().message());
  REQUIRE(set.is_ok());
  CHECK(set->spool.path == "/srv/spool.db");
  CHECK(set->spool.max_mb == 0.5);
  CHECK(set->spool.max_age == 48h);
  CHECK(set->collector.retry_max == 30s);
  CHECK(set->collector.client_cert == "/etc/vigie/a.crt");
  CHECK(set->collector.client_key == "/etc/vigie/a.key");

  const auto spool = [&](const std::string& block) {
    return error_of(document(checks, agent, "{" + url + "}", "  \"spool\": " + block + ",\n"));
  };
  CHECK_THAT(spool(R"({"max_mb": 0})"), Contains("spool.max_mb: 0: must be in 0.01.."));
  CHECK_THAT(spool(R"({"max_mb": "64"})"), Contains("spool.max_mb"));
  CHECK_THAT(spool(R"({"max_age": "10s"})"), Contains("spool.max_age: \"10s\": must be at least"));
  CHECK_THAT(spool(R"({"path": "spool.db"})"),
             Contains("spool.path: \"spool.db\": must be an absolute path"));
  CHECK_THAT(spool(R"({"size": 1})"), Contains("spool"));
  CHECK_THAT(spool("[]"), Contains("spool: expected an object"));

  CHECK_THAT(error_of(document(checks, agent, "{" + url + R"(, "client_cert": "/a.crt"})")),
             Contains("collector.client_cert: client_cert and client_key go together"));
  CHECK_THAT(error_of(document(checks, agent, "{" + url + R"(, "retry_max": "2h"})")),
             Contains("collector.retry_max: \"2h\": must be at most"));
}

TEST_CASE("Config: agent/self is built in and may not be declared", "[config]") {
  CHECK_THAT(error_of(document(R"([{"name": "me", "type": "agent/self"}])")),
             Contains("checks[0].type: \"agent/self\" is built in and always on"));
}

}  // namespace
}  // namespace vigie::agent

namespace vigie::agent {
namespace {

const std::string kDevices =
    R"(  "devices": {"fw": {"host": "192.0.2.1", "snmp": {"version": "2c"}},
               "ap": {"host": "192.0.2.2", "snmp": {"version": "3", "user": "u",
                      "auth_pass": "authpass1", "engine_id": "0x8000000001020304"}}},
)";
const std::string kFwCheck = R"([{"name": "fw", "type": "firewall/sophos", "device": "fw"},
                                  {"name": "load", "type": "system/load"}])";

TEST_CASE("Config: traps, their defaults and the devices checks read", "[config]") {
  auto config =
      parse_config(document(kFwCheck, R"({"id": "onesse-mairie-01", "site": "s"})",
                            R"({"url": "https://c.example.org"})", kDevices + "  \"traps\": {},\n"),
                   kFile);
  REQUIRE(config);
  REQUIRE(config->traps);
  CHECK(config->traps->listen == "0.0.0.0:10162");
  CHECK(config->traps->rate == 5);
  CHECK(config->traps->burst == 50);
  CHECK(config->traps->poll_delay == 2s);
  CHECK(config->traps->poll_gap == 30s);
  CHECK(config->traps->engine_id == std::string("\x80\x00\x1f\x88\x04vigie:onesse-mairie-01", 27));
  CHECK(config->checks[0].device == "fw");
  CHECK(config->checks[1].device.empty());
  CHECK(config->snmp_devices->options("ap")->engine_id ==
        std::string("\x80\x00\x00\x00\x01\x02\x03\x04", 8));

  auto set = parse_config(
      document(kFwCheck, R"({"id": "a-1", "site": "s"})", R"({"url": "https://c.example.org"})",
               kDevices + R"(  "traps": {"listen": "[::1]:0", "rate": 0.5, "burst": 3,
                                "engine_id": "80001f8805aabbcc", "poll_delay": "0s",
                                "poll_gap": "5m"},
)"),
      kFile);
  REQUIRE(set);
  CHECK(set->traps->listen == "[::1]:0");
  CHECK(set->traps->rate == 0.5);
  CHECK(set->traps->engine_id == std::string("\x80\x00\x1f\x88\x05\xaa\xbb\xcc", 8));
  CHECK(set->traps->poll_gap == 5min);

  // No "traps": none.
  auto none = parse_config(document(kFwCheck, R"({"id": "a-1", "site": "s"})",
                                    R"({"url": "https://c.example.org"})", kDevices),
                           kFile);
  REQUIRE(none);
  CHECK_FALSE(none->traps);
}

TEST_CASE("Config: a traps block that cannot work is refused, naming the field", "[config]") {
  const auto with = [&](const std::string& traps, const std::string& devices = kDevices) {
    return error_of(document(R"([{"name": "load", "type": "system/load"}])",
                             R"({"id": "a-1", "site": "s"})", R"({"url": "https://c.example.org"})",
                             devices + "  \"traps\": " + traps + ",\n"));
  };
  CHECK_THAT(with(R"({"listen": "10162"})"),
             Contains("traps.listen: \"10162\": expected ADDR:PORT"));
  CHECK_THAT(with(R"({"listen": "localhost:162"})"),
             Contains("traps.listen") && Contains("not an IPv4 address"));
  CHECK_THAT(with(R"({"listen": "0.0.0.0:70000"})"), Contains("the port must be 0..65535"));
  CHECK_THAT(with(R"({"rate": 0})"), Contains("traps.rate: 0: must be in 0.01..10000"));
  CHECK_THAT(with(R"({"engine_id": "0x12"})"),
             Contains("traps.engine_id") && Contains("5 to 32 bytes"));
  CHECK_THAT(with(R"({"lisen": "0.0.0.0:1"})"),
             Contains("traps.lisen: unknown key (did you mean \"listen\"?)"));
  CHECK_THAT(with("{}", ""), Contains("traps: traps are accepted from the devices only"));
  CHECK_THAT(
      with(
          "{}",
          R"(  "devices": {"fw": {"host": "h", "snmp": {"version": "2c", "engine_id": "0x8000000001"}}},
)"),
      Contains("engine_id: only for SNMP version \"3\""));
}

constexpr const char* kManagedFile = R"({
  // a managed agent's own file
  "agent": {"id": "a-01", "site": "town"},
  "collector": {"url": "https://collector.example:8443", "config_poll": "5s"},
  "checks": [{"name": "own", "type": "system/load"}]
})";

TEST_CASE("Config: a managed agent's checks come from the centre's document", "[config]") {
  const auto central = nlohmann::json::parse(
      R"({"defaults": {"interval": "30s"}, "checks": [{"name": "c1", "type": "system/load"},
                                                      {"name": "c2", "type": "system/uptime"}]})");
  auto config = parse_managed_config(kManagedFile, "agent.json", &central, "central v1");
  REQUIRE(config);
  CHECK(config->agent_id == "a-01");
  CHECK(config->collector.config_poll == std::chrono::seconds(5));
  REQUIRE(config->checks.size() == 2);
  CHECK(config->checks[0].name == "c1");
  CHECK(config->checks[0].interval == std::chrono::seconds(30));
  // Without a document yet, the file's own checks, which may be none.
  auto own = parse_managed_config(kManagedFile, "agent.json", nullptr, {});
  REQUIRE(own);
  CHECK(own->checks.size() == 1);
  auto none = parse_managed_config(
      R"({"agent": {"id": "a", "site": "s"}, "collector": {"url": "https://c.example"}})",
      "agent.json", nullptr, {});
  REQUIRE(none);
  CHECK(none->checks.empty());
}

TEST_CASE("Config: the centre's errors name it, and it may not change identity or collector",
          "[config]") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"checks": [{"name": "x", "type": "system/bogus"}]})", "central v2: checks[0].type: "},
      {R"({"checks": [{"name": "x", "type": "system/load", "warn": "lots"}]})",
       "central v2: checks[0]"},
      {R"({"checks": []})", "central v2: checks: lists no check"},
      {R"({"collector": {"url": "https://evil.example"}, "checks": []})",
       "central v2: collector: not from the centre"},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    const auto central = nlohmann::json::parse(text);
    auto config = parse_managed_config(kManagedFile, "agent.json", &central, "central v2");
    REQUIRE_FALSE(config);
    CHECK_THAT(config.status().message(), Catch::StartsWith(message));
  }
}

}  // namespace
}  // namespace vigie::agent
