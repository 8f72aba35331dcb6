#include "plugins/net/dns_check.hpp"

#include <regex.h>

#include <algorithm>
#include <cmath>

#include "plugins/check_support.hpp"
#include "plugins/net/common.hpp"
#include "plugins/net/probe.hpp"
#include "plugins/net/resolve.hpp"
#include "plugins/snmp/common.hpp"

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

class DnsCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return instance_; }
  Outcome run(const RunContext& context) override;

 private:
  DnsProbe probe_;
  std::string expect_;
  std::optional<milliseconds> warn_, crit_;
  std::string instance_;
};

Status DnsCheck::configure(const json& params) {
  if (Status s = snmp::check_keys(
          params, {"name", "type", "server", "expect", "response_warn", "response_crit"});
      !s)
    return s;
  if (Status s = read_string(params, "name", probe_.name, true); !s) return s;
  const std::string& name = probe_.name;
  if (name.size() > 253 || !std::all_of(name.begin(), name.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && c != 0x7f && c != '/' && c != '@';
      }))
    return Status::invalid("name: \"" + name.substr(0, 80) + "\" is not a domain name");
  if (Status s = read_string(params, "type", probe_.type); !s) return s;
  std::transform(probe_.type.begin(), probe_.type.end(), probe_.type.begin(), ::toupper);
  if (std::none_of(std::begin(kTypes), std::end(kTypes),
                   [&](const char* t) { return probe_.type == t; })) {
    std::string message = "type: \"" + probe_.type.substr(0, 20) + "\" is not one of";
    for (const char* t : kTypes) message += std::string(" ") + t;
    return Status::invalid(std::move(message));
  }
  std::string server;
  if (Status s = read_string(params, "server", server); !s) return s;
  if (!server.empty()) {
    auto parsed = parse_server(server);
    if (!parsed) return Status::invalid("server: " + parsed.status().message());
    probe_.server = *parsed;
  }
  if (Status s = read_string(params, "expect", expect_); !s) return s;
  if (!expect_.empty()) {
    regex_t regex;
    const int rc = ::regcomp(&regex, expect_.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char message[256];
      ::regerror(rc, &regex, message, sizeof message);
      return Status::invalid("expect: \"" + expect_.substr(0, 80) +
                             "\" is not a POSIX extended regular expression: " + message);
    }
    ::regfree(&regex);
  }
  const milliseconds hour{3'600'000};
  milliseconds warn{0}, crit{0};
  if (Status s = read_millis(params, "response_warn", milliseconds(1), hour, warn); !s) return s;
  if (Status s = read_millis(params, "response_crit", milliseconds(1), hour, crit); !s) return s;
  if (warn.count() > 0) warn_ = warn;
  if (crit.count() > 0) crit_ = crit;
  if (warn_ && crit_) {
    if (Status s = check_order(*warn_, *crit_, "response_warn", "response_crit"); !s) return s;
  }
  instance_ = probe_.name + (probe_.type == "A" ? "" : "/" + probe_.type) +
              (probe_.server.empty() ? "" : "@" + probe_.server);
  return Status::ok();
}

bool matches(const std::string& pattern, const std::string& text) {
  regex_t regex;
  if (::regcomp(&regex, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return false;
  const bool found = ::regexec(&regex, text.c_str(), 0, nullptr, 0) == 0;
  ::regfree(&regex);
  return found;
}

Outcome DnsCheck::run(const RunContext& context) {
  const auto answers = probe_dns({probe_}, context.deadline);
  const DnsAnswer& a = answers.front();
  if (a.not_run) return unknown_outcome(a.error.message());
  Outcome outcome;
  const std::string question = probe_.type + " " + probe_.name;
  const std::string through = probe_.server.empty() ? "" : " (server " + probe_.server + ")";
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
      threshold_metric("response_ms", ms, "ms", threshold(warn_), threshold(crit_), 0));
  outcome.metrics.push_back(threshold_metric("records", static_cast<double>(a.records.size()), "",
                                             std::nullopt, std::nullopt, 0));
  outcome.status = State::kOk;
  std::string note;
  if (crit_ && a.ms > static_cast<double>(crit_->count())) {
    outcome.status = State::kCritical;
    note = " (CRITICAL > " + millis_text(static_cast<double>(crit_->count())) + ")";
  } else if (warn_ && a.ms > static_cast<double>(warn_->count())) {
    outcome.status = State::kWarning;
    note = " (WARNING > " + millis_text(static_cast<double>(warn_->count())) + ")";
  }
  outcome.summary = question + ": " + records + " in " + millis_text(a.ms) + note + through;
  if (!expect_.empty() && std::none_of(a.records.begin(), a.records.end(),
                                       [&](const std::string& r) { return matches(expect_, r); })) {
    outcome.status = State::kCritical;
    outcome.summary =
        question + ": no record matches \"" + expect_ + "\" (" + records + ")" + through;
  }
  for (const auto& r : a.records) outcome.details += r + "\n";
  outcome.details += "answered by " + a.server;
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_dns_check() { return std::make_unique<DnsCheck>(); }

}  // namespace vigie::plugins::net
