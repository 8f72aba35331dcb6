#include "plugins/net/tls_check.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "plugins/check_support.hpp"
#include "plugins/findings.hpp"
#include "plugins/net/certificate.hpp"
#include "plugins/net/common.hpp"
#include "plugins/net/probe.hpp"

namespace vigie::plugins::net {
namespace {

using nlohmann::json;

constexpr const char* kVersions[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

int version_rank(const std::string& version) {
  for (int i = 0; i < 4; ++i)
    if (version == kVersions[i]) return i;
  return -1;
}

struct Target {
  TlsProbe probe;
  std::string site;
  std::string id;  // "host:port"
};

class TlsCheck final : public Check {
 public:
  void attach(const Environment& env) override { env_ = env; }
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override { return run_all(context).front(); }
  std::vector<Outcome> run_all(const RunContext& context) override;

 private:
  Outcome judge(const Target& target, const TlsAnswer& answer) const;

  Environment env_;
  std::vector<Target> targets_;
  ExpiryDays days_;
  std::string ca_file_;
  int min_version_ = 2;
};

Status TlsCheck::configure(const json& params) {
  if (Status s =
          check_parameters(params, {"targets", "ca_file", "warn_days", "crit_days", "min_version"});
      !s)
    return s;
  if (Status s = read_absolute_path(params, "ca_file", ca_file_); !s) return s;
  if (Status s = read_expiry_days(params, days_); !s) return s;
  std::string min_version;
  if (Status s = read_string(params, "min_version", min_version); !s) return s;
  if (!min_version.empty()) {
    min_version_ = version_rank(min_version);
    if (min_version_ < 0)
      return Status::invalid(
          "min_version: must be \"TLSv1\", \"TLSv1.1\", \"TLSv1.2\" or "
          "\"TLSv1.3\"");
  }
  constexpr std::string_view kShape = "{\"host\": ..., \"port\": ..., \"starttls\": ...}";
  const json* targets = nullptr;
  if (Status s = read_targets(params, kShape, targets); !s) return s;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < targets->size(); ++i) {
    const json& item = (*targets)[i];
    const Fields fields{item, item_path("targets", i)};
    const std::string where = fields.path + ".";
    if (!item.is_object()) return field_error(fields.path, "must be " + std::string(kShape));
    if (Status s = check_keys(fields, {"host", "port", "starttls", "site"}); !s) return s;
    Target target;
    target.probe.ca_file = ca_file_;
    if (Status s = read_string(fields, "host", target.probe.host, {.required = true}); !s) return s;
    const std::string& host = target.probe.host;
    const bool printable = std::all_of(host.begin(), host.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && c != 0x7f && c != '/' && c != '[' &&
             c != ']' && c != '@';
    });
    if (!printable || host.size() > 255)
      return Status::invalid(where + "host: \"" + host.substr(0, 80) +
                             "\" is not a host name or address");
    std::string starttls;
    if (Status s = read_string(fields, "starttls", starttls); !s) return s;
    int port = 443;
    if (starttls == "smtp") {
      target.probe.starttls = StartTls::kSmtp;
      port = 25;
    } else if (starttls == "imap") {
      target.probe.starttls = StartTls::kImap;
      port = 143;
    } else if (starttls == "pop3") {
      target.probe.starttls = StartTls::kPop3;
      port = 110;
    } else if (!starttls.empty()) {
      return Status::invalid(where + "starttls: must be \"smtp\", \"imap\" or \"pop3\"");
    }
    target.probe.port = port;
    if (Status s = read_integer(fields, "port", 1, 65535, target.probe.port); !s) return s;
    if (Status s = read_site(fields, target.site); !s) return s;
    target.id = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                std::to_string(target.probe.port);
    if (!seen.insert(target.id).second)
      return Status::invalid(where + "host: " + target.id + " is listed twice");
    targets_.push_back(std::move(target));
  }
  return Status::ok();
}

Outcome TlsCheck::judge(const Target& target, const TlsAnswer& a) const {
  Outcome outcome;
  if (a.not_run) outcome = unknown_outcome(a.error.message());
  outcome.target = target.id;
  outcome.site = target.site;
  if (a.not_run) return outcome;
  Findings findings;
  Findings certificate;  // said after the protocol
  const auto now = env_.now ? env_.now() : std::chrono::system_clock::now();
  const bool refused =
      judge_certificate(a.certificate, a.error, a.curl_code, now, days_, certificate, outcome);
  if (!a.error.is_ok() && !refused) {
    findings.add(State::kCritical, a.error.code() == Code::kTimeout
                                       ? "no handshake in time: " + a.error.message()
                                       : a.error.message());
  }
  if (a.error.is_ok()) {
    const int rank = version_rank(a.tls_version);
    if (rank >= 0 && rank < min_version_) {
      findings.add(State::kWarning, a.tls_version + " is older than " + kVersions[min_version_]);
    } else {
      findings.add(State::kOk, a.tls_version);
    }
    findings.add(State::kOk, "handshake in " + millis_text(a.handshake_ms));
    outcome.metrics.push_back(threshold_metric("handshake_ms",
                                               std::round(a.handshake_ms * 1000) / 1000, "ms",
                                               std::nullopt, std::nullopt, 0));
  }
  findings.append(certificate);
  outcome.status = findings.state();
  const std::string details = findings.details();
  if (findings.has_problems()) {
    outcome.summary = findings.problems();
  } else {
    std::size_t start = 0;
    while (start < details.size()) {
      const std::size_t end = std::min(details.find('\n', start), details.size());
      outcome.summary += (outcome.summary.empty() ? "" : ", ") +
                         details.substr(start + 4, end - start - 4);  // without "OK: "
      start = end + 1;
    }
  }
  outcome.details = details;
  if (a.certificate.seen) outcome.details += "\ncertificate subject " + a.certificate.subject;
  return outcome;
}

std::vector<Outcome> TlsCheck::run_all(const RunContext& context) {
  std::vector<TlsProbe> probes;
  for (const Target& t : targets_) probes.push_back(t.probe);
  const auto answers = probe_tls(probes, context.deadline);
  std::vector<Outcome> outcomes;
  for (std::size_t i = 0; i < targets_.size(); ++i)
    outcomes.push_back(judge(targets_[i], answers[i]));
  return outcomes;
}

}  // namespace

std::unique_ptr<Check> make_tls_check() { return std::make_unique<TlsCheck>(); }

}  // namespace vigie::plugins::net
