#include "plugins/firewall/host_firewall_check.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "plugins/process.hpp"
#include "tests/plugins/check_test_util.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::firewall {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_metric;

ProcessResult run_command(const std::vector<std::string>& argv) {
  ProcessOptions options;
  options.timeout = 10s;
  options.environment = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"};
  const auto result = run_process(argv, options);
  REQUIRE(result.is_ok());
  return *result;
}

// A network namespace of the test's own, deleted at the end: its firewall is empty at
// first and nothing the test does to it touches the machine's.
class NetNamespace {
 public:
  NetNamespace() : name_("vigie-test-" + std::to_string(::getpid())) {
    const auto result = run_command({"ip", "netns", "add", name_});
    created_ = result.exit_code == 0;
    error_ = result.err;
  }
  ~NetNamespace() {
    if (created_) run_command({"ip", "netns", "delete", name_});
  }
  bool created() const { return created_; }
  const std::string& error() const { return error_; }

  std::vector<std::string> exec(std::vector<std::string> argv) const {
    std::vector<std::string> prefixed = {"ip", "netns", "exec", name_};
    prefixed.insert(prefixed.end(), argv.begin(), argv.end());
    return prefixed;
  }
  void nft(const std::string& command) const {
    const auto result = run_command(exec({"nft", command}));
    INFO("nft " << command << ": " << result.err);
    REQUIRE(result.exit_code == 0);
  }

 private:
  std::string name_;
  bool created_ = false;
  std::string error_;
};

Outcome run_firewall(const json& params) {
  return testing::configured(make_host_firewall_check, params)->run(testing::context(10s));
}

TEST_CASE("HostFirewallCheck: nftables in a network namespace: off, drop policy, changed",
          "[firewall]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "not root: cannot create a network namespace");
  NetNamespace ns;  // a missing ip (iproute2) fails in run_command: refused is the host's
  if (!ns.created())
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "ip netns add failed (" << ns.error() << ")");
  testing::TempDir dir;
  const auto state = (dir / "firewall.state").string();
  const json params = {{"nft", ns.exec({"nft"})}, {"state_file", state}};

  auto outcome = run_firewall(params);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no nftables ruleset: the host firewall is off");
  CHECK_FALSE(std::filesystem::exists(state));

  // A table and an input chain that accepts everything: on, but filters nothing.
  ns.nft("add table inet filter");
  ns.nft("add chain inet filter input { type filter hook input priority 0; policy accept; }");
  outcome = run_firewall(params);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary ==
        "input not filtered: no input chain has a drop policy or drop rules "
        "(nftables, 0 rules)");

  ns.nft("add chain inet filter input { type filter hook input priority 0; policy drop; }");
  ns.nft("add rule inet filter input ct state established,related counter accept");
  outcome = run_firewall(params);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary ==
        "input filtered (inet filter input: policy drop), nftables, 1 rule; "
        "ruleset recorded as accepted");
  CHECK(find_metric(outcome, "rules").value == 1);
  CHECK(find_metric(outcome, "input_chains").value == 1);
  CHECK_THAT(outcome.details, Catch::Matches("fingerprint sha256:[0-9a-f]{64}(\\n[\\s\\S]*)?"));
  REQUIRE(std::filesystem::exists(state));

  // Traffic changes the counters, not the fingerprint (ping may be missing: the
  // fingerprint must not change either way).
  run_command(ns.exec({"ip", "link", "set", "lo", "up"}));
  ProcessOptions ping_options;
  ping_options.timeout = 5s;
  (void)run_process(ns.exec({"ping", "-c", "1", "-W", "1", "127.0.0.1"}), ping_options);
  outcome = run_firewall(params);
  CHECK(outcome.status == State::kOk);
  CHECK_THAT(outcome.summary, Catch::StartsWith("input filtered (inet filter input: policy drop), "
                                                "nftables, 1 rule, unchanged since "));

  ns.nft("add rule inet filter input tcp dport 22 accept");
  outcome = run_firewall(params);
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary,
             Catch::StartsWith("ruleset changed since it was accepted on ") &&
                 Catch::EndsWith(" (2 rules, 1 then), input filtered (inet filter input: policy "
                                 "drop); to accept it, delete " +
                                 state));
  CHECK(run_firewall(params).status == State::kWarning);  // until accepted

  std::filesystem::remove(state);  // accepted
  CHECK(run_firewall(params).status == State::kOk);
  CHECK(run_firewall(params).status == State::kOk);

  // A drop rule instead of a drop policy filters too.
  ns.nft("add chain inet filter input { type filter hook input priority 0; policy accept; }");
  ns.nft("add rule inet filter input ip saddr 192.0.2.0/24 drop");
  outcome = run_firewall(params);
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::Contains("input filtered (inet filter input: drop rules)"));
}

TEST_CASE("HostFirewallCheck: iptables-save in a network namespace", "[firewall]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "not root: cannot create a network namespace");
  NetNamespace ns;  // a missing ip (iproute2) fails in run_command: refused is the host's
  if (!ns.created())
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "ip netns add failed (" << ns.error() << ")");
  testing::TempDir dir;
  const json params = {{"backend", "iptables"},
                       {"iptables_save", ns.exec({"iptables-save"})},
                       {"state_file", (dir / "state").string()}};
  auto outcome = run_firewall(params);
  CHECK(outcome.status == State::kCritical);
  CHECK(outcome.summary == "no iptables ruleset: the host firewall is off");

  REQUIRE(run_command(ns.exec({"iptables", "-P", "INPUT", "DROP"})).exit_code == 0);
  REQUIRE(run_command(ns.exec({"iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"})).exit_code ==
          0);
  outcome = run_firewall(params);
  CHECK(outcome.status == State::kOk);
  CHECK(outcome.summary ==
        "input filtered (filter INPUT: policy DROP), iptables, 1 rule; "
        "ruleset recorded as accepted");
  REQUIRE(run_command(
              ns.exec({"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"}))
              .exit_code == 0);
  outcome = run_firewall(params);
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::Contains("(2 rules, 1 then)"));
}

// nft's (or iptables-save's) output replaced by a script's.
Outcome run_fake(const std::string& output, const std::string& backend = "nftables") {
  testing::TempDir dir;
  const auto out = dir.write("out", output);
  const auto script = dir.write("tool", "#!/bin/sh\nexec cat '" + out.string() + "'\n", true);
  return run_firewall({{"backend", backend},
                       {"nft", script.string()},
                       {"iptables_save", script.string()},
                       {"state_file", (dir / "state").string()}});
}

TEST_CASE("HostFirewallCheck: unreadable output is UNKNOWN with the reason", "[firewall]") {
  const std::vector<std::pair<std::string, std::string>> nft_cases = {
      {"", "nft -j list ruleset: empty output"},
      {"{\"nftables\": [{\"metainfo\": {}}, {\"table\"", "nft -j list ruleset: not valid JSON"},
      {"[]", "nft -j list ruleset: expected {\"nftables\": [...]}"},
      {"{\"nftables\": [42]}", "nft -j list ruleset: element 0 is not an object with one key"},
      {"{\"nftables\": [{\"chain\": 1}]}",
       "nft -j list ruleset: element 0 (\"chain\") is not an object"},
      {"{\"nftables\": [{\"rule\": {\"chain\": \"input\"}}]}",
       "nft -j list ruleset: a rule of \"input\" has no \"expr\" array"},
      {"{\"nftables\": " + std::string(10000, '[') + std::string(10000, ']') + "}",
       "nft -j list ruleset: JSON nested deeper than 64 levels"},
  };
  for (const auto& [output, reason] : nft_cases) {
    INFO(output.substr(0, 60));
    const auto outcome = run_fake(output);
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::StartsWith(reason));
  }
  auto outcome = run_fake("{\"nftables\": [" + std::string(17 << 20, ' ') + "]}");
  CHECK(outcome.summary == "nft -j list ruleset: output larger than 16 MiB");

  const std::vector<std::pair<std::string, std::string>> iptables_cases = {
      {"hello\n", "iptables-save: line 1 \"hello\": not a line iptables-save writes"},
      {":INPUT DROP [0:0]\n",
       "iptables-save: line 1 \":INPUT DROP [0:0]\": a chain outside a table"},
      {"*filter\n:INPUT\n", "iptables-save: line 2 \":INPUT\": no policy"},
      {"-A INPUT -j DROP\n", "a rule outside a table"},
      {"*\n", "no table name"},
  };
  for (const auto& [output, reason] : iptables_cases) {
    INFO(output);
    outcome = run_fake(output, "iptables");
    CHECK(outcome.status == State::kUnknown);
    CHECK_THAT(outcome.summary, Catch::Contains(reason));
  }

  outcome = run_firewall({{"backend", "nftables"}, {"nft", "/nonexistent/nft"}});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("/nonexistent/nft: No such file or directory"));
  // auto reads iptables only when nft itself is missing, not a prefix such as sudo.
  outcome =
      run_firewall({{"nft", {"/nonexistent/sudo", "-n", "nft"}}, {"iptables_save", "/bin/true"}});
  CHECK(outcome.status == State::kUnknown);
  CHECK_THAT(outcome.summary, Catch::Contains("/nonexistent/sudo: No such file or directory"));
  testing::TempDir dir;
  outcome = run_firewall({{"nft", "/nonexistent/nft"},
                          {"iptables_save", "/bin/true"},
                          {"state_file", (dir / "state").string()}});
  CHECK(outcome.summary == "no iptables ruleset: the host firewall is off");
}

TEST_CASE("HostFirewallCheck: a broken state file is a WARNING that says what to do",
          "[firewall]") {
  testing::TempDir dir;
  const auto out = dir.write("out", "*filter\n:INPUT DROP [0:0]\nCOMMIT\n");
  const auto script = dir.write("tool", "#!/bin/sh\nexec cat '" + out.string() + "'\n", true);
  const auto state = dir.write("state", "{\"fingerprint\": ");
  const auto outcome = run_firewall({{"backend", "iptables"},
                                     {"iptables_save", script.string()},
                                     {"state_file", state.string()}});
  CHECK(outcome.status == State::kWarning);
  CHECK_THAT(outcome.summary, Catch::StartsWith("input filtered (filter INPUT: policy DROP), "
                                                "iptables, 0 rules; cannot compare with the "
                                                "accepted ruleset: ") &&
                                  Catch::EndsWith("(delete it to accept the current ruleset)"));
}

TEST_CASE("HostFirewallCheck: configure names the bad parameter", "[firewall]") {
  CHECK(testing::configure_error(make_host_firewall_check, {{"backend", "pf"}}) ==
        "backend: must be \"auto\", \"nftables\" or \"iptables\"");
  CHECK_THAT(testing::configure_error(make_host_firewall_check, {{"nft", json::array()}}),
             Catch::StartsWith("nft: must not be empty"));
  CHECK_THAT(testing::configure_error(make_host_firewall_check, {{"state_file", "fw.state"}}),
             Catch::Contains("\"fw.state\": must be an absolute path"));
}

TEST_CASE("Firewall checks: a misspelt parameter is refused, the right one suggested",
          "[firewall]") {
  testing::check_misspellings({
      {"firewall/host", "backnd", "backend"},
      {"firewall/sophos", "servces", "services"},
  });
}

}  // namespace
}  // namespace vigie::plugins::firewall
