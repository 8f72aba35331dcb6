#include "plugins/net/dns_check.hpp"

#include <regex.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "plugins/check_support.hpp"
#include "plugins/net/common.hpp"
#include "plugins/net/probe.hpp"
#include "plugins/net/resolve.hpp"

namespace vigie::plugins::net {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kTypes[] = {"A",  "AAAA", "MX",  "TXT", "CNAME",
                                  "NS", "PTR",  "SOA", "SRV", "CAA"};

// "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT" as c-ares wants it ("ADDR:PORT",
// "[V6]:PORT"); an error naming what is wrong.
Result<std::string> parse_server(const std::string& text) {
  std::string host = text;
  std::string port;
  if (text.starts_with("[")) {
    const std::size_t close = text.find(']');
    if (close == std::string::npos) return Status::invalid("unclosed '['");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return Status::invalid("expected ':' after ']'");
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  }
  auto address = numeric_address(host);
  if (!address) return Status::invalid("\"" + host + "\" is not an IP address");
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535)
      return Status::invalid("port \"" + port + "\" is not 1..65535");
  }
  const std::string printed =
      address->family() == AF_INET6 ? "[" + address_text(*address) + "]" : address_text(*address);
  return port.empty() ? printed : printed + ":" + port;
}

bool matches(const std::string& pattern, const std::string& text) {
  regex_t regex;
  if (::regcomp(&regex, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return false;
  const bool found = ::regexec(&regex, text.c_str(), 0, nullptr, 0) == 0;
  ::regfree(&regex);
  return found;
}

struct Target {
  DnsProbe probe;
  std::string site;
  std::string expect;
  std::optional<milliseconds> warn, crit;
  std::string id;  // name[/TYPE][@server]
};

// The keys a target and the check share: the check's values are the targets' defaults.
Status read_shared(const Fields& params, Target& t) {
  std::string server;
  if (Status s = read_string(params, "server", server); !s) return s;
  if (!server.empty()) {
    auto parsed = parse_server(server);
    if (!parsed) return field_error(params.path_of("server"), parsed.status().message());
    t.probe.server = *parsed;
  }
  if (Status s = read_string(params, "expect", t.expect); !s) return s;
  if (params.object.contains("expect")) {
    regex_t regex;
    const int rc = ::regcomp(&regex, t.expect.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char message[256];
      ::regerror(rc, &regex, message, sizeof message);
      return field_error(
          params.path_of("expect"),
          quote(t.expect, 80) + " is not a POSIX extended regular expression: " + message);
    }
    ::regfree(&regex);
  }
  constexpr DurationRule kResponse{.min = milliseconds(1), .max = milliseconds(3'600'000)};
  if (Status s = read_duration(params, "response_warn", kResponse, t.warn); !s) return s;
  if (Status s = read_duration(params, "response_crit", kResponse, t.crit); !s) return s;
  if (t.warn && t.crit) {
    if (Status s = check_order(*t.warn, *t.crit, params.path_of("response_warn"), "response_crit");
        !s)
      return s;
  }
  return Status::ok();
}

class DnsCheck final : public Check {
 public:
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override { return run_all(context).front(); }
  std::vector<Outcome> run_all(const RunContext& context) override;

 private:
  Outcome judge(const Target& target, const DnsAnswer& answer) const;
  std::vector<Target> targets_;
};

Status DnsCheck::configure(const json& params) {
  if (Status s = check_parameters(
          params, {"targets", "server", "expect", "response_warn", "response_crit"});
      !s)
    return s;
  Target defaults;
  if (Status s = read_shared(params, defaults); !s) return s;
  const json* targets = nullptr;
  if (Status s = read_targets(params, "{\"name\": ..., \"type\": ...}", targets); !s) return s;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < targets->size(); ++i) {
    const json& item = (*targets)[i];
    const Fields fields{item, item_path("targets", i)};
    const std::string where = fields.path + ".";
    Target target = defaults;
    if (item.is_string()) {
      target.probe.name = item.get<std::string>();
    } else if (item.is_object()) {
      if (Status s = check_keys(fields, {"name", "type", "site", "server", "expect",
                                         "response_warn", "response_crit"});
          !s)
        return s;
      if (Status s = read_string(fields, "name", target.probe.name, {.required = true}); !s)
        return s;
      if (Status s = read_string(fields, "type", target.probe.type); !s) return s;
      if (Status s = read_site(fields, target.site); !s) return s;
      if (Status s = read_shared(fields, target); !s) return s;
    } else {
      return field_error(fields.path, "must be a name or {\"name\": ..., \"type\": ...}");
    }
    const std::string& name = target.probe.name;
    if (name.empty() || name.size() > 253 || !std::all_of(name.begin(), name.end(), [](char c) {
          return static_cast<unsigned char>(c) > 0x20 && c != 0x7f && c != '/' && c != '@';
        }))
      return Status::invalid(where + "name: \"" + name.substr(0, 80) + "\" is not a domain name");
    std::string& type = target.probe.type;
    std::transform(type.begin(), type.end(), type.begin(), ::toupper);
    if (std::none_of(std::begin(kTypes), std::end(kTypes),
                     [&](const char* t) { return type == t; })) {
      std::string message = where + "type: \"" + type.substr(0, 20) + "\" is not one of";
      for (const char* t : kTypes) message += std::string(" ") + t;
      return Status::invalid(std::move(message));
    }
    target.id = name + (type == "A" ? "" : "/" + type) +
                (target.probe.server.empty() ? "" : "@" + target.probe.server);
    if (!seen.insert(target.id).second)
      return Status::invalid(where + "name: " + target.id + " is listed twice");
    targets_.push_back(std::move(target));
  }
  return Status::ok();
}

Outcome DnsCheck::judge(const Target& target, const DnsAnswer& a) const {
  Outcome outcome;
  if (a.not_run) outcome = unknown_outcome(a.error.message());
  outcome.target = target.id;
  outcome.site = target.site;
  if (a.not_run) return outcome;
  const std::string question = target.probe.type + " " + target.probe.name;
  const std::string through =
      target.probe.server.empty() ? "" : " (server " + target.probe.server + ")";
  if (!a.error.is_ok()) {
    outcome.status = a.error.code() == Code::kInvalidArgument ? State::kUnknown : State::kCritical;
    outcome.summary = a.error.message() + through;
    if (a.error.code() == Code::kNotFound)
      outcome.metrics.push_back(threshold_metric("records", 0, "", std::nullopt, std::nullopt, 0));
    return outcome;
  }
  std::string records;
  for (const auto& r : a.records) records += (records.empty() ? "" : ", ") + r;
  if (records.size() > 200) records = records.substr(0, 200) + "...";
  const double ms = std::round(a.ms * 1000) / 1000;
  const auto threshold = [](const std::optional<milliseconds>& t) -> std::optional<double> {
    if (!t) return std::nullopt;
    return static_cast<double>(t->count());
  };
  outcome.metrics.push_back(
      threshold_metric("response_ms", ms, "ms", threshold(target.warn), threshold(target.crit), 0));
  outcome.metrics.push_back(threshold_metric("records", static_cast<double>(a.records.size()), "",
                                             std::nullopt, std::nullopt, 0));
  outcome.status = State::kOk;
  std::string note;
  if (target.crit && a.ms > static_cast<double>(target.crit->count())) {
    outcome.status = State::kCritical;
    note = " (CRITICAL > " + millis_text(static_cast<double>(target.crit->count())) + ")";
  } else if (target.warn && a.ms > static_cast<double>(target.warn->count())) {
    outcome.status = State::kWarning;
    note = " (WARNING > " + millis_text(static_cast<double>(target.warn->count())) + ")";
  }
  outcome.summary = question + ": " + records + " in " + millis_text(a.ms) + note + through;
  if (!target.expect.empty() &&
      std::none_of(a.records.begin(), a.records.end(),
                   [&](const std::string& r) { return matches(target.expect, r); })) {
    outcome.status = State::kCritical;
    outcome.summary =
        question + ": no record matches \"" + target.expect + "\" (" + records + ")" + through;
  }
  for (const auto& r : a.records) outcome.details += r + "\n";
  outcome.details += "answered by " + a.server;
  return outcome;
}

std::vector<Outcome> DnsCheck::run_all(const RunContext& context) {
  std::vector<DnsProbe> probes;
  for (const Target& t : targets_) probes.push_back(t.probe);
  const auto answers = probe_dns(probes, context.deadline);
  std::vector<Outcome> outcomes;
  for (std::size_t i = 0; i < targets_.size(); ++i)
    outcomes.push_back(judge(targets_[i], answers[i]));
  return outcomes;
}

}  // namespace

std::unique_ptr<Check> make_dns_check() { return std::make_unique<DnsCheck>(); }

}  // namespace vigie::plugins::net
