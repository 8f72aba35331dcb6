#include "plugins/net/certificate.hpp"

#include <cmath>

#include "plugins/check_support.hpp"

namespace vigie::plugins::net {

Status read_expiry_days(const Fields& params, ExpiryDays& out) {
  ExpiryDays days = out;
  if (Status s = read_number(params, "warn_days", 0, 3650, days.warn); !s) return s;
  if (Status s = read_number(params, "crit_days", 0, 3650, days.crit); !s) return s;
  if (days.crit > days.warn) {
    return field_error(
        params.path_of("crit_days"),
        number_text(days.crit) + " is above warn_days (" + number_text(days.warn) + ")");
  }
  out = days;
  return Status::ok();
}

bool judge_certificate(const Certificate& c, const Status& error, int curl_code,
                       std::chrono::system_clock::time_point now, const ExpiryDays& days,
                       Findings& findings, Outcome& outcome) {
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::string issuer = c.issuer.empty() ? "" : " (issued by " + c.issuer + ")";
  const std::string until = " (" + utc_text(c.not_after) + ")";
  double left = 0;
  if (c.seen) {
    left = std::trunc(static_cast<double>(c.not_after - now_s) / 86400.0);  // whole days
    Metric metric{"cert_days", left, ""};
    metric.warn = Range{days.warn, std::numeric_limits<double>::infinity()};
    metric.crit = Range{days.crit, std::numeric_limits<double>::infinity()};
    outcome.metrics.push_back(std::move(metric));
  }
  // A refused certificate: OpenSSL's reason when the chain failed, curl's for the name.
  if (!error.is_ok() && (curl_code == kCurlPeerFailedVerification || !c.verify_error.empty())) {
    if (c.seen && c.not_after < now_s) {
      findings.add(State::kCritical, "certificate expired " +
                                         age_text(std::chrono::seconds(now_s - c.not_after)) +
                                         " ago" + until + issuer);
    } else if (c.seen && c.not_before > now_s) {
      findings.add(State::kCritical,
                   "certificate not valid before " + utc_text(c.not_before) + issuer);
    } else if (!c.verify_error.empty()) {
      findings.add(State::kCritical, "certificate not trusted: " + c.verify_error + issuer);
    } else {
      findings.add(State::kCritical, "certificate refused: " + error.message() +
                                         (c.seen ? " (subject " + c.subject + ")" : std::string()));
    }
    return true;
  }
  if (!error.is_ok() || !c.seen) return false;
  const std::string left_text = number_text(left) + (left == 1 ? " day" : " days");
  if (left < 0) {
    findings.add(State::kCritical, "certificate expired" + until + issuer);
  } else if (left <= days.crit) {
    findings.add(State::kCritical, "certificate expires in " + left_text + until + issuer);
  } else if (left <= days.warn) {
    findings.add(State::kWarning, "certificate expires in " + left_text + until + issuer);
  } else {
    findings.add(State::kOk, "certificate valid " + left_text + issuer);
  }
  return false;
}

}  // namespace vigie::plugins::net
