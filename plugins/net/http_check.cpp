#include "plugins/net/http_check.hpp"

#include <regex.h>

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
using std::chrono::milliseconds;

struct StatusRange {
  long low, high;
};

// "200", "200-399", "200,301-302".
Result<std::vector<StatusRange>> parse_statuses(const std::string& text) {
  std::vector<StatusRange> out;
  std::size_t start = 0;
  const auto bad = [&] {
    return Status::invalid("\"" + text +
                           "\": must be HTTP status codes or ranges, e.g. \"200\", \"200-399\", "
                           "\"200,301-302\"");
  };
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const std::size_t dash = part.find('-');
    const auto number = [](const std::string& s) -> long {
      if (s.size() != 3 || !std::all_of(s.begin(), s.end(), ::isdigit)) return -1;
      const long v = std::stol(s);
      return v >= 100 && v <= 599 ? v : -1;
    };
    const long low = number(part.substr(0, dash));
    const long high = dash == std::string::npos ? low : number(part.substr(dash + 1));
    if (low < 0 || high < 0 || high < low) return bad();
    out.push_back({low, high});
    start = end + 1;
  }
  return out;
}

std::string statuses_text(const std::vector<StatusRange>& ranges) {
  std::string out;
  for (const auto& r : ranges) {
    if (!out.empty()) out += ",";
    out += std::to_string(r.low);
    if (r.high != r.low) out += "-" + std::to_string(r.high);
  }
  return out;
}

Status check_regex(const std::string& pattern, const std::string& key) {
  regex_t regex;
  const int rc = ::regcomp(&regex, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char message[256];
    ::regerror(rc, &regex, message, sizeof message);
    return Status::invalid(key + ": \"" + pattern.substr(0, 80) +
                           "\" is not a POSIX extended regular expression: " + message);
  }
  ::regfree(&regex);
  return Status::ok();
}

// An OK result's facts on one line: "HTTP 200 in 12 ms, certificate valid 59 days ...".
std::string facts_line(const Findings& findings) {
  const std::string details = findings.details();
  std::string line;
  std::size_t start = 0;
  while (start < details.size()) {
    const std::size_t end = std::min(details.find('\n', start), details.size());
    std::string item = details.substr(start, end - start);
    if (item.starts_with("OK: ")) item.erase(0, 4);
    line += (line.empty() ? "" : ", ") + item;
    start = end + 1;
  }
  return line;
}

struct Target {
  HttpProbe probe;
  std::string site;
  std::vector<StatusRange> expect = {{200, 399}};
  ExpiryDays days;
  std::optional<milliseconds> response_warn, response_crit;
};

class HttpCheck final : public Check {
 public:
  void attach(const Environment& env) override { env_ = env; }
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override { return run_all(context).front(); }
  std::vector<Outcome> run_all(const RunContext& context) override;

 private:
  Outcome judge(const Target& target, const HttpAnswer& answer) const;

  Environment env_;
  std::vector<Target> targets_;
};

// The keys a target and the check share: the check's values are the targets' defaults.
Status read_shared(const Fields& params, Target& t) {
  if (Status s = read_absolute_path(params, "ca_file", t.probe.ca_file); !s) return s;
  if (Status s = read_expiry_days(params, t.days); !s) return s;
  constexpr DurationRule kResponse{.min = milliseconds(1), .max = milliseconds(3'600'000)};
  if (Status s = read_duration(params, "response_warn", kResponse, t.response_warn); !s) return s;
  if (Status s = read_duration(params, "response_crit", kResponse, t.response_crit); !s) return s;
  if (t.response_warn && t.response_crit) {
    if (Status s = check_order(*t.response_warn, *t.response_crit, params.path_of("response_warn"),
                               "response_crit");
        !s)
      return s;
  }
  return read_bool(params, "follow_redirects", t.probe.follow_redirects);
}

Status HttpCheck::configure(const json& params) {
  if (Status s =
          check_parameters(params, {"targets", "ca_file", "warn_days", "crit_days", "response_warn",
                                    "response_crit", "follow_redirects", "proxy"});
      !s)
    return s;
  Target defaults;
  if (Status s = read_shared(params, defaults); !s) return s;
  if (Status s = read_string(params, "proxy", defaults.probe.proxy); !s) return s;
  const json* targets = nullptr;
  if (Status s = read_targets(params, "{\"url\": ..., \"site\": ...}", targets); !s) return s;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < targets->size(); ++i) {
    const json& item = (*targets)[i];
    const Fields fields{item, item_path("targets", i)};
    const std::string where = fields.path + ".";
    Target target = defaults;
    if (item.is_string()) {
      target.probe.url = item.get<std::string>();
    } else if (item.is_object()) {
      if (Status s = check_keys(
              fields, {"url", "site", "expect_status", "match", "follow_redirects", "ca_file",
                       "warn_days", "crit_days", "response_warn", "response_crit"});
          !s)
        return s;
      if (Status s = read_string(fields, "url", target.probe.url, {.required = true}); !s) return s;
      if (Status s = read_site(fields, target.site); !s) return s;
      if (Status s = read_shared(fields, target); !s) return s;
      std::string expect;
      if (Status s = read_string(fields, "expect_status", expect); !s) return s;
      if (!expect.empty()) {
        auto ranges = parse_statuses(expect);
        if (!ranges) return field_error(fields.path_of("expect_status"), ranges.status().message());
        target.expect = std::move(*ranges);
      }
      if (Status s = read_string(fields, "match", target.probe.match); !s) return s;
      if (!target.probe.match.empty()) {
        if (Status s = check_regex(target.probe.match, where + "match"); !s) return s;
      }
    } else {
      return field_error(fields.path, "must be a URL or {\"url\": ..., \"site\": ...}");
    }
    const std::string& url = target.probe.url;
    const bool printable = std::all_of(url.begin(), url.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
    });
    if (!(url.starts_with("http://") || url.starts_with("https://")) || url.size() > 2000 ||
        !printable || url.find("://") + 3 == url.size())
      return Status::invalid(where + "url: \"" + url.substr(0, 80) +
                             "\" is not an http:// or https:// URL");
    if (!seen.insert(url).second)
      return Status::invalid(where + "url: \"" + url.substr(0, 80) + "\" is listed twice");
    targets_.push_back(std::move(target));
  }
  return Status::ok();
}

Outcome HttpCheck::judge(const Target& target, const HttpAnswer& a) const {
  Outcome outcome;
  if (a.not_run) outcome = unknown_outcome(a.error.message());
  outcome.target = target.probe.url;
  outcome.site = target.site;
  if (a.not_run) return outcome;
  Findings findings;
  Findings certificate;  // said after the HTTP facts
  const auto now = env_.now ? env_.now() : std::chrono::system_clock::now();
  const bool certificate_refused = judge_certificate(a.certificate, a.error, a.curl_code, now,
                                                     target.days, certificate, outcome);
  const std::string time_text = millis_text(a.total_ms);
  if (!a.error.is_ok() && !certificate_refused) {
    if (a.curl_code == 47) {  // CURLE_TOO_MANY_REDIRECTS
      findings.add(State::kCritical,
                   "redirect loop: more than " + std::to_string(kMaxRedirects) + " redirects");
    } else if (a.error.code() == Code::kTimeout) {
      findings.add(State::kCritical, "no answer in time: " + a.error.message());
    } else {
      findings.add(State::kCritical, a.error.message());
    }
  }
  if (a.error.is_ok()) {
    const bool expected =
        std::any_of(target.expect.begin(), target.expect.end(),
                    [&](const StatusRange& r) { return a.status >= r.low && a.status <= r.high; });
    std::string fact = "HTTP " + std::to_string(a.status) + " in " + time_text;
    if (a.redirects > 0)
      fact += " after " + std::to_string(a.redirects) + " redirect" + (a.redirects > 1 ? "s" : "");
    if (!expected) {
      findings.add(State::kCritical, fact + " (expected " + statuses_text(target.expect) + ")");
    } else {
      std::string note;
      State state = State::kOk;
      if (target.response_crit && a.total_ms > static_cast<double>(target.response_crit->count())) {
        state = State::kCritical;
        note =
            " (CRITICAL > " + millis_text(static_cast<double>(target.response_crit->count())) + ")";
      } else if (target.response_warn &&
                 a.total_ms > static_cast<double>(target.response_warn->count())) {
        state = State::kWarning;
        note =
            " (WARNING > " + millis_text(static_cast<double>(target.response_warn->count())) + ")";
      }
      findings.add(state, fact + note);
    }
    if (a.matched == 0)
      findings.add(State::kCritical, "the body does not match \"" + target.probe.match + "\"");
    if (a.matched == 1) findings.add(State::kOk, "the body matches \"" + target.probe.match + "\"");
    const std::optional<double> warn =
        target.response_warn
            ? std::optional<double>(static_cast<double>(target.response_warn->count()))
            : std::nullopt;
    const std::optional<double> crit =
        target.response_crit
            ? std::optional<double>(static_cast<double>(target.response_crit->count()))
            : std::nullopt;
    const auto round = [](double ms) { return std::round(ms * 1000) / 1000; };
    outcome.metrics.push_back(
        threshold_metric("response_ms", round(a.total_ms), "ms", warn, crit, 0));
    if (!a.tls_version.empty())
      outcome.metrics.push_back(
          threshold_metric("tls_ms", round(a.tls_ms), "ms", std::nullopt, std::nullopt, 0));
    outcome.metrics.push_back(threshold_metric("body_bytes", static_cast<double>(a.body_bytes), "B",
                                               std::nullopt, std::nullopt, 0));
  }
  findings.append(certificate);
  outcome.status = findings.state();
  if (findings.has_problems()) {
    outcome.summary = findings.problems();
  } else {
    outcome.summary = facts_line(findings);
  }
  outcome.details = findings.details();
  if (!a.final_url.empty() && a.final_url != target.probe.url)
    outcome.details += "\nfinal URL " + a.final_url;
  if (!a.tls_version.empty()) outcome.details += "\n" + a.tls_version;
  if (a.certificate.seen) outcome.details += "\ncertificate subject " + a.certificate.subject;
  return outcome;
}

std::vector<Outcome> HttpCheck::run_all(const RunContext& context) {
  std::vector<HttpProbe> probes;
  for (const Target& t : targets_) probes.push_back(t.probe);
  const auto answers = probe_http(probes, context.deadline);
  std::vector<Outcome> outcomes;
  for (std::size_t i = 0; i < targets_.size(); ++i)
    outcomes.push_back(judge(targets_[i], answers[i]));
  return outcomes;
}

}  // namespace

std::unique_ptr<Check> make_http_check() { return std::make_unique<HttpCheck>(); }

}  // namespace vigie::plugins::net
