#include "plugins/firewall/host_firewall_check.hpp"

#include <mbedtls/sha256.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::firewall {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxRulesetOutput = 16 << 20;
constexpr std::size_t kMaxStateFile = 64 << 10;
constexpr std::string_view kDefaultStateFile = "/var/lib/vigie/firewall-host.state";
// nft and iptables-save live in sbin, which the default PATH of a child leaves out.
constexpr std::string_view kPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

enum class Backend { kAuto, kNftables, kIptables };

// What a ruleset amounts to, whichever tool printed it.
struct Ruleset {
  std::string tool;  // "nftables" or "iptables"
  std::size_t rules = 0;
  std::size_t input_chains = 0;
  std::vector<std::string> filtering;  // why input is filtered: "inet filter input: policy drop"
  std::string canonical;               // the text the fingerprint is made of
};

Result<std::string> sha256_hex(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  // mbedTLS, linked statically: the agent maps no libcrypto for this.
  const int error = mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(text.data()),
                                       text.size(), digest.data(), 0);
  if (error != 0) return Status::internal("SHA-256: mbedTLS error " + std::to_string(error));
  std::string hex;
  for (unsigned char b : digest) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", b);
    hex += byte;
  }
  return hex;
}

// Drops what changes without anyone changing the rules: handles (renumbered when rules
// are reloaded), counters and quotas (traffic), the elements of sets that the rules fill
// themselves (dynamic sets, sets with timeouts).
void canonicalize(json& value) {
  if (value.is_array()) {
    for (auto& item : value) canonicalize(item);
    return;
  }
  if (!value.is_object()) return;
  for (const char* key : {"handle", "packets", "bytes", "used", "expires"}) value.erase(key);
  const auto flags = value.find("flags");
  const bool dynamic = value.contains("timeout") ||
                       (flags != value.end() &&
                        ((flags->is_string() && (*flags == "dynamic" || *flags == "timeout")) ||
                         (flags->is_array() &&
                          (std::find(flags->begin(), flags->end(), "dynamic") != flags->end() ||
                           std::find(flags->begin(), flags->end(), "timeout") != flags->end()))));
  if (dynamic) value.erase("elem");
  for (auto& [key, item] : value.items()) canonicalize(item);
}

// True when `expr` holds a drop or reject verdict anywhere (a plain verdict, or inside a
// verdict map).
bool has_drop(const json& expr) {
  if (expr.is_array()) {
    for (const auto& item : expr) {
      if (has_drop(item)) return true;
    }
    return false;
  }
  if (!expr.is_object()) return false;
  if (expr.contains("drop") || expr.contains("reject")) return true;
  for (const auto& [key, item] : expr.items()) {
    if (has_drop(item)) return true;
  }
  return false;
}

std::string string_field(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Ruleset> parse_nft(std::string_view out) {
  auto parsed = parse_json_output(out, "nft -j list ruleset", 64);
  if (!parsed) return parsed.status();
  const auto bad = [](const std::string& why) {
    return Status(Code::kCorruption, "nft -j list ruleset: " + why);
  };
  if (!parsed->is_object() || !parsed->contains("nftables") || !(*parsed)["nftables"].is_array())
    return bad("expected {\"nftables\": [...]}");
  json& items = (*parsed)["nftables"];
  Ruleset ruleset;
  ruleset.tool = "nftables";
  using ChainKey = std::tuple<std::string, std::string, std::string>;
  std::set<ChainKey> input_chains;
  json kept = json::array();
  // Chains first: a rule may be listed before its chain only in a malformed listing.
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    if (!item.is_object() || item.size() != 1)
      return bad("element " + std::to_string(i) + " is not an object with one key");
    const auto entry = item.begin();
    const std::string& kind = entry.key();
    const json& body = entry.value();
    if (!body.is_object() && kind != "metainfo")
      return bad("element " + std::to_string(i) + " (" + quote(kind) + ") is not an object");
    if (kind != "chain") continue;
    const auto family = string_field(body, "family");
    if (string_field(body, "hook") != "input" || string_field(body, "type") != "filter" ||
        (family != "ip" && family != "ip6" && family != "inet"))
      continue;
    const ChainKey key{family, string_field(body, "table"), string_field(body, "name")};
    input_chains.insert(key);
    if (string_field(body, "policy") == "drop") {
      ruleset.filtering.push_back(std::get<0>(key) + " " + std::get<1>(key) + " " +
                                  std::get<2>(key) + ": policy drop");
    }
  }
  ruleset.input_chains = input_chains.size();
  std::set<ChainKey> dropping;
  for (auto& item : items) {
    const auto entry = item.begin();
    const std::string& kind = entry.key();
    const json& body = entry.value();
    if (kind == "metainfo") continue;
    if (kind == "rule") {
      ++ruleset.rules;
      const ChainKey key{string_field(body, "family"), string_field(body, "table"),
                         string_field(body, "chain")};
      const auto expr = body.find("expr");
      if (expr == body.end() || !expr->is_array())
        return bad("a rule of " + quote(std::get<2>(key)) + " has no \"expr\" array");
      if (input_chains.contains(key) && has_drop(*expr) && dropping.insert(key).second) {
        ruleset.filtering.push_back(std::get<0>(key) + " " + std::get<1>(key) + " " +
                                    std::get<2>(key) + ": drop rules");
      }
    }
    json copy = item;
    canonicalize(copy);
    kept.push_back(std::move(copy));
  }
  ruleset.canonical = kept.dump();
  return ruleset;
}

// iptables-save's lines: "*filter", ":INPUT DROP [12:3456]", "-A INPUT ... -j DROP",
// "COMMIT", and "# ..." comments (which carry a date).
Result<Ruleset> parse_iptables_save(std::string_view out) {
  Ruleset ruleset;
  ruleset.tool = "iptables";
  std::string table;
  std::size_t number = 0;
  while (!out.empty()) {
    const auto newline = out.find('\n');
    std::string line(out.substr(0, newline));
    out.remove_prefix(newline == std::string_view::npos ? out.size() : newline + 1);
    ++number;
    if (line.empty() || line[0] == '#') continue;
    const auto bad = [&](const std::string& why) {
      return Status(Code::kCorruption, "iptables-save: line " + std::to_string(number) + " " +
                                           quote(line) + ": " + why);
    };
    if (line[0] == '*') {
      table = line.substr(1);
      if (table.empty()) return bad("no table name");
    } else if (line[0] == ':') {
      if (table.empty()) return bad("a chain outside a table");
      // ":INPUT DROP [0:0]": the counters go, they change with traffic.
      const auto bracket = line.find(" [");
      if (bracket != std::string::npos) line.erase(bracket);
      const auto space = line.find(' ');
      if (space == std::string::npos) return bad("no policy");
      if (table == "filter" && line.substr(1, space - 1) == "INPUT") {
        ruleset.input_chains = 1;
        if (line.substr(space + 1) == "DROP")
          ruleset.filtering.push_back("filter INPUT: policy DROP");
      }
    } else if (line.starts_with("-A ")) {
      if (table.empty()) return bad("a rule outside a table");
      ++ruleset.rules;
      if (table == "filter" && line.starts_with("-A INPUT ") &&
          (line.find(" -j DROP") != std::string::npos ||
           line.find(" -j REJECT") != std::string::npos) &&
          std::find(ruleset.filtering.begin(), ruleset.filtering.end(),
                    "filter INPUT: drop rules") == ruleset.filtering.end()) {
        ruleset.filtering.push_back("filter INPUT: drop rules");
      }
    } else if (line == "COMMIT") {
      table.clear();
    } else {
      return bad("not a line iptables-save writes");
    }
    ruleset.canonical += line;
    ruleset.canonical += '\n';
  }
  return ruleset;
}

struct Accepted {
  std::string fingerprint;
  std::int64_t since = 0;
  std::size_t rules = 0;
};

Result<std::optional<Accepted>> read_state(const std::string& path) {
  auto text = read_file(path, kMaxStateFile);
  if (!text) {
    if (text.status().code() == Code::kNotFound) return std::optional<Accepted>();
    return text.status();
  }
  auto parsed = parse_json_output(*text, path, 4);
  if (!parsed) return parsed.status();
  const auto& state = *parsed;
  if (!state.is_object() || !state.contains("fingerprint") || !state["fingerprint"].is_string() ||
      !state.contains("since") || !state["since"].is_number_integer())
    return Status(Code::kCorruption, path + ": not a state file of this check");
  Accepted accepted{state["fingerprint"].get<std::string>(), state["since"].get<std::int64_t>(), 0};
  if (state.contains("rules") && state["rules"].is_number_unsigned())
    accepted.rules = state["rules"].get<std::size_t>();
  return std::optional<Accepted>(accepted);
}

// Written to a temporary file renamed over the old one: never half a state file.
Status write_state(const std::string& path, const Accepted& accepted) {
  const json state = {{"fingerprint", accepted.fingerprint},
                      {"since", accepted.since},
                      {"since_text", utc_text(accepted.since)},
                      {"rules", accepted.rules}};
  return write_file_atomically(path, state.dump(2) + "\n", 0666);
}

class HostFirewallCheck final : public Check {
 public:
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override;

 private:
  Result<Ruleset> read_ruleset(const RunContext& context) const;

  Backend backend_ = Backend::kAuto;
  std::vector<std::string> nft_{"nft"};
  std::vector<std::string> iptables_save_{"iptables-save"};
  std::string state_file_{kDefaultStateFile};
};

Status HostFirewallCheck::configure(const json& params) {
  if (Status s = check_parameters(params, {"backend", "nft", "iptables_save", "state_file"}); !s)
    return s;
  std::string backend = "auto";
  if (Status s = read_string(params, "backend", backend); !s) return s;
  if (backend != "auto" && backend != "nftables" && backend != "iptables")
    return Status::invalid("backend: must be \"auto\", \"nftables\" or \"iptables\"");
  auto nft = nft_;
  auto iptables_save = iptables_save_;
  std::string state_file = state_file_;
  if (Status s = read_command(params, "nft", nft); !s) return s;
  if (Status s = read_command(params, "iptables_save", iptables_save); !s) return s;
  if (Status s = read_absolute_path(params, "state_file", state_file); !s) return s;
  backend_ = backend == "auto"       ? Backend::kAuto
             : backend == "nftables" ? Backend::kNftables
                                     : Backend::kIptables;
  nft_ = std::move(nft);
  iptables_save_ = std::move(iptables_save);
  state_file_ = std::move(state_file);
  return Status::ok();
}

Result<Ruleset> HostFirewallCheck::read_ruleset(const RunContext& context) const {
  const auto run = [&](std::vector<std::string> argv,
                       const std::string& what) -> Result<std::string> {
    auto process = run_until(argv, context.deadline, {std::string(kPath), "LANG=C"},
                             kMaxRulesetOutput, {Capability::kNetAdmin});
    if (!process) return process.status();
    if (process->ending != ProcessResult::Ending::kExited || process->exit_code != 0) {
      const auto why = last_line(process->err);
      return Status(Code::kUnavailable,
                    what + " failed: " + (why.empty() ? std::string("no reason given") : why));
    }
    if (process->truncated)
      return Status::too_large(what + ": output larger than " + bytes_text(kMaxRulesetOutput));
    return std::move(process->out);
  };
  if (backend_ != Backend::kIptables) {
    auto argv = nft_;
    argv.insert(argv.end(), {"-j", "list", "ruleset"});
    auto out = run(argv, "nft -j list ruleset");
    // Only nft itself missing means "no nftables here": a missing prefix (sudo) is an
    // error to report, not a reason to read another tool.
    const bool missing = !out && out.status().code() == Code::kNotFound && nft_.size() == 1;
    if (!(missing && backend_ == Backend::kAuto)) {
      if (!out) return out.status();
      return parse_nft(*out);
    }
  }
  auto out = run(iptables_save_, "iptables-save");
  if (!out) return out.status();
  return parse_iptables_save(*out);
}

Outcome HostFirewallCheck::run(const RunContext& context) {
  auto ruleset = read_ruleset(context);
  if (!ruleset) return unknown_outcome(ruleset.status().message());

  Outcome outcome;
  outcome.metrics = {threshold_metric("rules", static_cast<double>(ruleset->rules), "",
                                      std::nullopt, std::nullopt),
                     threshold_metric("input_chains", static_cast<double>(ruleset->input_chains),
                                      "", std::nullopt, std::nullopt)};
  const auto digest = sha256_hex(ruleset->canonical);
  if (!digest)
    return unknown_outcome("cannot fingerprint the ruleset: " + digest.status().message());
  const std::string fingerprint = "sha256:" + *digest;
  const std::string rules =
      std::to_string(ruleset->rules) + (ruleset->rules == 1 ? " rule" : " rules");
  outcome.details = "fingerprint " + fingerprint;

  if (ruleset->filtering.empty()) {
    outcome.status = State::kCritical;
    if (ruleset->rules == 0 && ruleset->input_chains == 0) {
      outcome.summary = "no " + ruleset->tool + " ruleset: the host firewall is off";
    } else {
      outcome.summary = "input not filtered: no input chain has a drop policy or drop rules (" +
                        ruleset->tool + ", " + rules + ")";
    }
    return outcome;
  }
  std::string why = "input filtered (";
  for (std::size_t i = 0; i < ruleset->filtering.size(); ++i)
    why += (i > 0 ? "; " : "") + ruleset->filtering[i];
  why += ")";
  const std::string filtered = why + ", " + ruleset->tool + ", " + rules;

  const auto state = read_state(state_file_);
  if (!state) {
    outcome.status = State::kWarning;
    outcome.summary = filtered +
                      "; cannot compare with the accepted ruleset: " + state.status().message() +
                      " (delete it to accept the current ruleset)";
    return outcome;
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (!state->has_value()) {
    const Status written = write_state(state_file_, Accepted{fingerprint, now, ruleset->rules});
    outcome.status = written ? State::kOk : State::kWarning;
    outcome.summary = filtered + (written ? "; ruleset recorded as accepted"
                                          : "; cannot record the ruleset: " + written.message());
    return outcome;
  }
  const Accepted& accepted = **state;
  if (accepted.fingerprint == fingerprint) {
    outcome.status = State::kOk;
    outcome.summary = filtered + ", unchanged since " + utc_text(accepted.since);
    return outcome;
  }
  outcome.status = State::kWarning;
  outcome.summary = "ruleset changed since it was accepted on " + utc_text(accepted.since) + " (" +
                    rules + ", " + std::to_string(accepted.rules) + " then), " + why +
                    "; to accept it, delete " + state_file_;
  outcome.details += "\naccepted " + accepted.fingerprint;
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_host_firewall_check() { return std::make_unique<HostFirewallCheck>(); }

}  // namespace vigie::plugins::firewall
