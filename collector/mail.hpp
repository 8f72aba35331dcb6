#pragma once
// Sending e-mail through an SMTP relay (libcurl): a plain-text body, an optional HTML
// alternative and attachments, over STARTTLS (the default), SMTPS, or, to a relay on
// this machine only, plain SMTP. Used by the backup reports and the alert notifier.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.hpp"

namespace vigie::collector::mail {

struct Attachment {
  std::string filename;      // as the reader sees it: "sauvegardes-2026-w48.csv"
  std::string content_type;  // "text/csv; charset=utf-8"
  std::string data;
};

struct Message {
  std::string from;             // "vigie <vigie@example.org>" or "vigie@example.org"
  std::vector<std::string> to;  // at least one address
  std::string subject;          // UTF-8; encoded for the header as needed
  std::string text;             // the plain-text body, always sent
  std::string html;             // optional: sent as the preferred alternative
  std::vector<Attachment> attachments;
};

enum class Security {
  kStartTls,  // smtp://, the connection upgraded with STARTTLS, which is required
  kTls,       // smtps://, TLS from the first byte
  kNone,      // plain SMTP: only to a relay on a loopback address, never with a password
};

struct Relay {
  std::string host;
  int port = 587;
  Security security = Security::kStartTls;
  std::string username;  // empty: no authentication
  std::string password;
  std::string ca_file;                        // empty: the system's CAs
  std::string from;                           // the default sender of messages that name none
  std::chrono::milliseconds timeout{30'000};  // for the whole conversation
};

// Reads a relay from its JSON configuration block:
//   { "url": "smtp://mail.example.org:587",   // smtps://... for TLS from the start
//     "tls": "starttls" | "none",             // for smtp:// URLs; default starttls
//     "username": "...", "password_file": "/etc/vigie/smtp.pass",
//     "ca_file": "...", "from": "vigie@example.org", "timeout": "30s" }
// `where` names the block in error messages ("alerts.json: smtp").
Result<Relay> parse_relay(const nlohmann::json& block, std::string_view where);

// One attempt to deliver `message`. Errors name the relay and what went wrong; a
// failure the relay may get over (it cannot be reached, or answers 4xx) is
// kUnavailable, a refusal (5xx, bad credentials, bad certificate) is another code.
Status send(const Relay& relay, const Message& message);

// Delivers with up to `attempts` tries, waiting `first_wait`, then twice as long each
// time, between them; each failed try is logged as a warning. Returns the last error.
Status send_with_retries(const Relay& relay, const Message& message, int attempts = 3,
                         std::chrono::milliseconds first_wait = std::chrono::seconds(2));

// RFC 2047 encoded-word for a header value that is not plain ASCII.
std::string encode_header(std::string_view utf8);

}  // namespace vigie::collector::mail
