#include "collector/report/options.hpp"

#include <charconv>
#include <iostream>

#include "collector/report/command.hpp"
#include "common/config_fields.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

// A mail address as a relay takes it: something@domain, nothing that could end the
// SMTP command or the header it goes in.
bool plausible_address(std::string_view a) {
  const auto at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= a.size()) return false;
  return a.find_first_of(" \t\r\n<>,;\"()") == std::string_view::npos;
}

// "a@x.org, b@y.org": each address, trimmed and checked.
Status read_addresses(std::string_view list, std::vector<std::string>& out) {
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view one = rest.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (!plausible_address(one))
      return Status::invalid("--mail-to: " + quote(one) + " is not a mail address");
    out.emplace_back(one);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.empty()) return Status::invalid("--mail-to: no address");
  return Status::ok();
}

}  // namespace

Result<bool> ReportOutput::take(std::string_view a, std::string_view v) {
  if (a == "--out") {
    out = std::string(v);
  } else if (a == "--format") {
    if (v != "html" && v != "csv" && v != "json" && v != "md")
      return Status::invalid("--format " + quote(v) + ": expected html, csv, json or md");
    format = std::string(v);
  } else if (a == "--site") {
    if (v.empty()) return Status::invalid("--site: empty site name");
    site = std::string(v);
  } else if (a == "--lang") {
    auto parsed = parse_lang(v);
    if (!parsed) return parsed.status();
    lang = *parsed;
  } else if (a == "--tz") {
    tz = std::string(v);
  } else if (a == "--csv-separator") {
    if (v != "," && v != ";")
      return Status::invalid("--csv-separator " + quote(v) + ": expected \",\" or \";\"");
    separator = v[0];
  } else if (a == "--db") {
    db = std::string(v);
  } else if (a == "--mail-to") {
    if (Status s = read_addresses(v, mail_to); !s) return s;
  } else if (a == "--smtp") {
    smtp = std::string(v);
  } else if (a == "--mail-attempts") {
    int n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 20)
      return Status::invalid("--mail-attempts " + quote(v) + ": expected 1 to 20");
    attempts = n;
  } else if (a == "--mail-retry-wait") {
    auto d = parse_duration(v);
    if (!d) return d.status().with_context("--mail-retry-wait");
    retry_wait = *d;
  } else {
    return false;
  }
  return true;
}

Status ReportOutput::finish() {
  if (format.empty()) {
    const auto dot = out.rfind('.');
    const std::string ext = dot == std::string::npos ? "" : out.substr(dot + 1);
    format = (ext == "csv" || ext == "json" || ext == "md") ? ext : "html";
  }
  if (!mail_to.empty() && smtp.empty())
    return Status::invalid("--mail-to needs --smtp FILE (the relay to send through)");
  if (mail_to.empty() && !smtp.empty())
    return Status::invalid("--smtp is only used with --mail-to");
  return Status::ok();
}

Result<std::optional<MailSettings>> ReportOutput::mail_settings() const {
  if (mail_to.empty()) return std::optional<MailSettings>();
  auto settings = load_mail_settings(smtp);
  if (!settings) return settings.status();
  settings->to = mail_to;
  settings->attempts = attempts;
  settings->retry_wait = retry_wait;
  return std::optional<MailSettings>(std::move(*settings));
}

Status ReportOutput::write(const std::string& content, std::string_view what,
                           std::size_t sites) const {
  if (out == "-") {
    std::cout << content << std::flush;
    return Status::ok();
  }
  if (Status s = write_atomically(out, content); !s) return s;
  log::info(std::string(what) + " written to " + out + " (" + std::to_string(sites) + " sites)");
  return Status::ok();
}

}  // namespace vigie::collector
