#include "collector/mail.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/config_fields.hpp"
#include "common/duration.hpp"
#include "common/file.hpp"
#include "common/log.hpp"

namespace vigie::collector::mail {
namespace {

using json = nlohmann::json;

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// "Name <user@host>" or "user@host" -> "user@host"; empty when it is not an address.
std::string addr_spec(std::string_view address) {
  std::string_view a = address;
  if (const auto open = a.rfind('<'); open != std::string_view::npos) {
    const auto close = a.find('>', open);
    if (close == std::string_view::npos || close + 1 != a.size()) return {};
    a = a.substr(open + 1, close - open - 1);
  }
  while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
  while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
  const auto at = a.find('@');
  if (a.empty() || at == 0 || at == std::string_view::npos || at + 1 == a.size() ||
      a.find_first_of(" \t\r\n<>,;\"") != std::string_view::npos) {
    return {};
  }
  return std::string(a);
}

// The address as it goes into a From/To header, its display name encoded if needed.
std::string header_address(std::string_view address) {
  const auto open = address.rfind('<');
  if (open == std::string_view::npos) return std::string(address);
  std::string_view name = address.substr(0, open);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (name.empty()) return std::string(address.substr(open));
  return encode_header(name) + " " + std::string(address.substr(open));
}

// RFC 5322 date, always in English whatever the process locale says.
std::string rfc5322_date(std::time_t now) {
  static constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed",
                                                    "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string message_id(std::string_view from) {
  std::random_device rd;
  char id[40];
  std::snprintf(id, sizeof id, "%08x%08x%08x", rd(), rd(), rd());
  const std::string sender = addr_spec(from);
  const auto at = sender.find('@');
  return "<" + std::string(id) + ".vigie" +
         (at == std::string::npos ? "@localhost" : sender.substr(at)) + ">";
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_mime* m) const { curl_mime_free(m); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
template <class T>
using CurlPtr = std::unique_ptr<T, CurlDeleter>;

curl_slist* append(curl_slist* list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list, line.c_str());
  if (grown == nullptr) throw std::bad_alloc();
  return grown;
}

std::string relay_name(const Relay& relay) {
  const bool v6 = relay.host.find(':') != std::string::npos;
  return (v6 ? "[" + relay.host + "]" : relay.host) + ":" + std::to_string(relay.port);
}

Status check_message(const Relay& relay, const Message& message) {
  const std::string& from = message.from.empty() ? relay.from : message.from;
  if (from.empty())
    return Status::invalid("no sender: the message and the relay name none (\"from\")");
  if (has_line_break(from) || addr_spec(from).empty()) {
    return Status::invalid("sender \"" + from + "\" is not an e-mail address");
  }
  if (message.to.empty()) return Status::invalid("no recipient");
  for (const auto& to : message.to) {
    if (has_line_break(to) || addr_spec(to).empty()) {
      return Status::invalid("recipient \"" + to + "\" is not an e-mail address");
    }
  }
  if (has_line_break(message.subject)) return Status::invalid("the subject holds a line break");
  for (const auto& a : message.attachments) {
    if (a.filename.empty() || has_line_break(a.filename) ||
        a.filename.find('"') != std::string::npos) {
      return Status::invalid("attachment file name \"" + a.filename + "\" is not usable");
    }
    if (has_line_break(a.content_type))
      return Status::invalid("attachment content type holds a line break");
  }
  return Status::ok();
}

Status classify(CURLcode rc, long smtp_code, const char* detail, const Relay& relay) {
  const std::string where = "SMTP relay " + relay_name(relay);
  std::string what = *detail != '\0' ? detail : curl_easy_strerror(rc);
  if (smtp_code != 0 && what.find(std::to_string(smtp_code)) == std::string::npos) {
    what += " (server answered " + std::to_string(smtp_code) + ")";
  }
  // The server's own answer decides first: curl reports a refused recipient as a
  // send error, which would otherwise read as a relay that cannot be reached.
  if (smtp_code >= 400 && smtp_code < 500) return Status::unavailable(where + ": " + what);
  if (smtp_code >= 500 && rc != CURLE_LOGIN_DENIED)
    return {Code::kPermissionDenied, where + ": refused: " + what};
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: return Status::unavailable(where + ": " + what);
    case CURLE_LOGIN_DENIED:
      return {Code::kPermissionDenied, where + ": authentication refused: " + what};
    case CURLE_PEER_FAILED_VERIFICATION:
      return {Code::kPermissionDenied, where + ": certificate not trusted: " + what};
    case CURLE_USE_SSL_FAILED:
      return {Code::kFailedPrecondition,
              where + ": STARTTLS is not offered, and it is required: " + what};
    default: break;
  }
  return Status::unavailable(where + ": " + what);
}

}  // namespace

std::string encode_header(std::string_view utf8) {
  if (is_ascii(utf8)) {
    // Folded at spaces so that no line passes 78 characters with its field name
    // (RFC 5322 2.2.3); a word longer than a line stays whole.
    std::string out;
    std::size_t line = 10;  // "Subject: " and the like
    std::size_t i = 0;
    while (i < utf8.size()) {
      std::size_t next = utf8.find(' ', i + 1);
      if (next == std::string_view::npos) next = utf8.size();
      const std::string_view word = utf8.substr(i, next - i);  // with its leading space
      if (!out.empty() && word.front() == ' ' && line + word.size() > 78) {
        out += "\r\n";
        line = 0;
      }
      out += word;
      line += word.size();
      i = next;
    }
    return out;
  }
  // Encoded words of 42 bytes of text (56 in base64, 68 characters in all), cut on
  // character boundaries so that no word splits a UTF-8 sequence: with "Subject: "
  // before the first, no line passes 78 characters.
  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t end = std::min(utf8.size(), i + 42);
    while (end < utf8.size() && (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80) --end;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(utf8.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

namespace {

// The relay's host, port and default security from its smtp:// or smtps:// URL.
Status parse_relay_url(const std::string& url, const std::string& at, Relay& relay) {
  std::string_view rest;
  if (url.starts_with("smtp://")) {
    rest = std::string_view(url).substr(7);
    relay.security = Security::kStartTls;
    relay.port = 587;
  } else if (url.starts_with("smtps://")) {
    rest = std::string_view(url).substr(8);
    relay.security = Security::kTls;
    relay.port = 465;
  } else {
    return Status::invalid(at + ".url: expected smtp://HOST[:PORT] or smtps://HOST[:PORT], got \"" +
                           url + "\"");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos)
      return Status::invalid(at + ".url: unclosed '[' in \"" + url + "\"");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return Status::invalid(at + ".url: bad port in \"" + url + "\"");
      port = rest.substr(close + 2);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty() || host.find_first_of("/@?# ") != std::string_view::npos) {
    return Status::invalid(at + ".url: no usable host in \"" + url + "\"");
  }
  relay.host = std::string(host);
  if (!port.empty() || rest.ends_with(':')) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535)
        return Status::invalid(at + ".url: bad port in \"" + url + "\"");
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return Status::invalid(at + ".url: bad port in \"" + url + "\"");
    relay.port = p;
  }
  return Status::ok();
}

}  // namespace

Result<Relay> parse_relay(const json& block, std::string_view where) {
  const std::string at(where);
  const Fields fields{block, at};
  if (Status s = check_keys(
          fields, {"url", "tls", "username", "password_file", "ca_file", "from", "timeout"});
      !s)
    return s;
  std::string url, tls, password_file;
  Relay relay;
  if (Status s = read_string(fields, "url", url, {.required = true}); !s) return s;
  for (const auto& [key, out] :
       {std::pair{"tls", &tls}, std::pair{"username", &relay.username},
        std::pair{"password_file", &password_file}, std::pair{"ca_file", &relay.ca_file},
        std::pair{"from", &relay.from}}) {
    if (Status s = read_string(fields, key, *out, {.allow_empty = true}); !s) return s;
  }
  if (Status s = read_duration(fields, "timeout", {.min = std::chrono::seconds(1)}, relay.timeout);
      !s)
    return s;

  if (Status u = parse_relay_url(url, at, relay); !u) return u;
  if (!tls.empty()) {
    if (relay.security == Security::kTls) {
      return Status::invalid(at +
                             ".tls: smtps:// is TLS from the start; \"tls\" is for smtp:// URLs");
    }
    if (tls == "none") {
      relay.security = Security::kNone;
    } else if (tls != "starttls") {
      return Status::invalid(at + ".tls: expected \"starttls\" or \"none\", got \"" + tls + "\"");
    }
  }

  if (!password_file.empty()) {
    auto secret = read_file(password_file, 4096);
    if (!secret) return secret.status().with_context(at + ".password_file");
    relay.password = std::move(*secret);
    while (!relay.password.empty() &&
           (relay.password.back() == '\n' || relay.password.back() == '\r')) {
      relay.password.pop_back();
    }
    if (relay.username.empty()) return Status::invalid(at + ": password_file without username");
  }
  if (relay.security == Security::kNone) {
    if (!is_loopback_host(relay.host)) {
      return Status::invalid(
          at + ".tls: \"none\" is only allowed for a relay on this machine (loopback), not " +
          relay.host);
    }
    if (!relay.username.empty()) {
      return Status::invalid(at + ".tls: \"none\" would send the password in clear; use starttls");
    }
  }
  if (!relay.from.empty() && (has_line_break(relay.from) || addr_spec(relay.from).empty())) {
    return Status::invalid(at + ".from: \"" + relay.from + "\" is not an e-mail address");
  }
  return relay;
}

Status send(const Relay& relay, const Message& message) {
  if (Status s = check_message(relay, message); !s) return s;
  global_init();
  try {
    CurlPtr<CURL> curl(curl_easy_init());
    if (!curl) return Status::internal("curl_easy_init failed");
    CURL* c = curl.get();
    const std::string& from = message.from.empty() ? relay.from : message.from;

    const std::string url =
        (relay.security == Security::kTls ? "smtps://" : "smtp://") + relay_name(relay);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(relay.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<std::int64_t>(relay.timeout.count(), 10'000)));
    if (relay.security == Security::kStartTls)
      curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!relay.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, relay.ca_file.c_str());
    if (!relay.username.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, relay.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, relay.password.c_str());
    }
    const std::string mail_from = "<" + addr_spec(from) + ">";
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
    CurlPtr<curl_slist> rcpt;
    std::string to_header;
    for (const auto& to : message.to) {
      rcpt.reset(append(rcpt.release(), "<" + addr_spec(to) + ">"));
      to_header += (to_header.empty() ? "" : ", ") + header_address(to);
    }
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());

    CurlPtr<curl_slist> headers;
    for (const std::string& h :
         {"Date: " + rfc5322_date(std::time(nullptr)), "From: " + header_address(from),
          "To: " + to_header, "Subject: " + encode_header(message.subject),
          "Message-ID: " + message_id(from)}) {
      headers.reset(append(headers.release(), h));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

    // multipart/mixed { multipart/alternative { text/plain, text/html }, attachments... }:
    // the plain text first, the preferred HTML last, as RFC 2046 orders alternatives.
    CurlPtr<curl_mime> mime(curl_mime_init(c));
    CurlPtr<curl_slist> inline_header;
    const auto add_text = [](curl_mime* into, const std::string& body, const char* type) {
      curl_mimepart* part = curl_mime_addpart(into);
      curl_mime_data(part, body.data(), body.size());
      curl_mime_type(part, type);
      curl_mime_encoder(part, "quoted-printable");
    };
    if (message.html.empty()) {
      add_text(mime.get(), message.text, "text/plain; charset=utf-8");
    } else {
      curl_mime* alternative = curl_mime_init(c);
      add_text(alternative, message.text, "text/plain; charset=utf-8");
      add_text(alternative, message.html, "text/html; charset=utf-8");
      curl_mimepart* part = curl_mime_addpart(mime.get());
      curl_mime_subparts(part, alternative);  // the part owns it from here
      curl_mime_type(part, "multipart/alternative");
      inline_header.reset(append(nullptr, "Content-Disposition: inline"));
      curl_mime_headers(part, inline_header.release(), 1);
    }
    for (const auto& a : message.attachments) {
      curl_mimepart* part = curl_mime_addpart(mime.get());
      curl_mime_data(part, a.data.data(), a.data.size());
      curl_mime_type(part,
                     a.content_type.empty() ? "application/octet-stream" : a.content_type.c_str());
      curl_mime_filename(part, a.filename.c_str());
      curl_mime_encoder(part, "base64");
    }
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());

    char detail[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    const CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) return classify(rc, code, detail, relay);
    return Status::ok();
  } catch (const std::bad_alloc&) {
    return Status::internal("out of memory while preparing the message");
  }
}

Status send_with_retries(const Relay& relay, const Message& message, int attempts,
                         std::chrono::milliseconds first_wait) {
  attempts = std::max(1, attempts);
  auto wait = first_wait;
  Status last;
  for (int i = 1; i <= attempts; ++i) {
    last = send(relay, message);
    if (last || last.code() == Code::kInvalidArgument) return last;
    log::warning("mail \"" + message.subject + "\": attempt " + std::to_string(i) + " of " +
                 std::to_string(attempts) + " failed: " + last.message());
    if (i < attempts) {
      std::this_thread::sleep_for(wait);
      wait *= 2;
    }
  }
  return last;
}

}  // namespace vigie::collector::mail
