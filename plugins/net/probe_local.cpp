// probe_http/tls/dns in process: libcurl's multi interface with OpenSSL for HTTP and
// TLS, c-ares for DNS, every job of a round on one event loop in the calling thread.
// vigie-probe (probe_main.cpp) and the tests use this; the agent runs vigie-probe.

#include <ares.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <regex.h>
#include <sys/select.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "plugins/net/probe.hpp"

namespace vigie::plugins::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The event loops stop this long before the caller's deadline, to gather the answers
// and return by it.
constexpr milliseconds kWrapUp{50};

milliseconds left_until(Clock::time_point deadline) {
  return std::max(milliseconds(1),
                  std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ares_library_init(ARES_LIB_INIT_ALL);
  });
}

// --- certificates, read while OpenSSL verifies them -----------------------------------

// What the TLS callbacks of one transfer fill in.
struct TlsFacts {
  Certificate certificate;
  std::string version;
  bool done = false;  // the first handshake ended: later connections (redirects) are not it
  // The first handshake's start and end, from OpenSSL's own callbacks: curl's timers
  // do not tell the handshake apart from the connection in every case.
  Clock::time_point started, finished;
};

int facts_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TlsFacts* facts_of(const SSL* ssl) {
  if (ssl == nullptr) return nullptr;
  return static_cast<TlsFacts*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), facts_index()));
}

std::string name_text(const X509_NAME* name, int nid) {
  const int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return {};
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::string whole_name(const X509_NAME* name) {
  char buffer[256];
  X509_NAME_oneline(name, buffer, sizeof buffer);
  return buffer;
}

std::int64_t epoch(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return static_cast<std::int64_t>(::timegm(&tm));
}

int verify_callback(int ok, X509_STORE_CTX* store) {
  const auto* ssl = static_cast<const SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  TlsFacts* facts = facts_of(ssl);
  if (facts == nullptr || facts->done) return ok;
  Certificate& c = facts->certificate;
  if (const X509* leaf = X509_STORE_CTX_get0_cert(store); leaf != nullptr && !c.seen) {
    c.seen = true;
    c.not_before = epoch(X509_get0_notBefore(leaf));
    c.not_after = epoch(X509_get0_notAfter(leaf));
    const X509_NAME* subject = X509_get_subject_name(leaf);
    c.subject = name_text(subject, NID_commonName);
    if (c.subject.empty()) c.subject = whole_name(subject);
    const X509_NAME* issuer = X509_get_issuer_name(leaf);
    c.issuer = name_text(issuer, NID_commonName);
    const std::string organisation = name_text(issuer, NID_organizationName);
    if (c.issuer.empty()) c.issuer = organisation.empty() ? whole_name(issuer) : organisation;
    else if (!organisation.empty() && organisation != c.issuer)
      c.issuer += " (" + organisation + ")";
  }
  if (ok == 0 && c.verify_error.empty())
    c.verify_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
  return ok;  // curl decides, as it would without us
}

void info_callback(const SSL* ssl, int where, int) {
  if ((where & (SSL_CB_HANDSHAKE_START | SSL_CB_HANDSHAKE_DONE)) == 0) return;
  TlsFacts* facts = facts_of(ssl);
  if (facts == nullptr || facts->done) return;
  if ((where & SSL_CB_HANDSHAKE_START) != 0) {
    if (facts->started == Clock::time_point()) facts->started = Clock::now();
    return;
  }
  facts->finished = Clock::now();
  facts->version = SSL_get_version(ssl);
  facts->done = true;
}

CURLcode ssl_ctx_function(CURL*, void* ctx, void* user) {
  auto* context = static_cast<SSL_CTX*>(ctx);
  SSL_CTX_set_ex_data(context, facts_index(), user);
  SSL_CTX_set_verify(context, SSL_CTX_get_verify_mode(context), verify_callback);
  SSL_CTX_set_info_callback(context, info_callback);
  return CURLE_OK;
}

// --- curl multi -----------------------------------------------------------------------

struct Transfer {
  CURL* easy = nullptr;
  TlsFacts tls;
  bool keep_body = false;
  std::string body;
  std::uint64_t body_bytes = 0;
  char error[CURL_ERROR_SIZE] = {};
  CURLcode result = CURLE_OK;
  bool finished = false;
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  t->body_bytes += n;
  if (t->keep_body && t->body.size() < kMaxBody)
    t->body.append(data, std::min(n, kMaxBody - t->body.size()));
  return n;
}

void common_options(Transfer& t, Clock::time_point deadline, const std::string& ca_file) {
  CURL* e = t.easy;
  const long budget = static_cast<long>(left_until(deadline).count());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, budget);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, budget);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file.c_str());
  // Every probe is a fresh connection with a full handshake: a reused connection or
  // TLS session would skip what is being checked.
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_function);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, &t.tls);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
}

// Runs every transfer to its end or the deadline.
void run_multi(std::vector<std::unique_ptr<Transfer>>& transfers, Clock::time_point deadline) {
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) {
    for (auto& t : transfers) {
      t->result = CURLE_OUT_OF_MEMORY;
      t->finished = true;
    }
    return;
  }
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(kMaxInFlight));
  std::size_t pending = 0;
  for (auto& t : transfers) {
    if (t->finished) continue;
    if (curl_multi_add_handle(multi, t->easy) != CURLM_OK) {
      t->result = CURLE_FAILED_INIT;
      t->finished = true;
      continue;
    }
    ++pending;
  }
  while (pending > 0 && Clock::now() < deadline) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) break;
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &t);
      t->result = message->data.result;
      t->finished = true;
      --pending;
    }
    if (pending == 0) break;
    const auto wait = std::min<long long>(left_until(deadline).count(), 1000);
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait), nullptr);
  }
  for (auto& t : transfers) curl_multi_remove_handle(multi, t->easy);
  curl_multi_cleanup(multi);
}

double info_ms(CURL* easy, CURLINFO what) {
  curl_off_t us = 0;
  curl_easy_getinfo(easy, what, &us);
  return static_cast<double>(us) / 1000.0;
}

Status transfer_error(const Transfer& t) {
  if (!t.finished) return Status::timeout("no answer in time");
  if (t.result == CURLE_OK) return Status::ok();
  std::string message = t.error[0] != '\0' ? t.error : curl_easy_strerror(t.result);
  if (t.result == CURLE_OPERATION_TIMEDOUT) return Status::timeout(std::move(message));
  return Status::unavailable(std::move(message));
}

std::string host_in_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// --- c-ares -----------------------------------------------------------------------------

struct Lookup {
  const DnsProbe* probe = nullptr;
  ares_channel channel = nullptr;
  int type = 1;
  Clock::time_point start;
  DnsAnswer answer;
  bool finished = false;
};

int record_type(const std::string& type) {
  static const std::pair<const char*, int> kTypes[] = {
      {"A", 1},   {"NS", 2},   {"CNAME", 5}, {"SOA", 6},  {"PTR", 12},
      {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}, {"CAA", 257}};
  for (const auto& [name, code] : kTypes)
    if (type == name) return code;
  return 0;
}

std::string address(int family, const void* bytes) {
  char text[INET6_ADDRSTRLEN] = "?";
  ::inet_ntop(family, bytes, text, sizeof text);
  return text;
}

// The names in the answer section of records of `type` whose data is one domain name
// (CNAME), read from the wire: c-ares 1.18 has no parser for them.
Status parse_names(const unsigned char* buffer, int length, int type,
                   std::vector<std::string>& out) {
  if (length < 12) return Status::corruption("short DNS answer");
  const int questions = buffer[4] << 8 | buffer[5];
  const int answers = buffer[6] << 8 | buffer[7];
  const unsigned char* p = buffer + 12;
  const unsigned char* end = buffer + length;
  for (int i = 0; i < questions + answers; ++i) {
    char* name = nullptr;
    long used = 0;
    if (ares_expand_name(p, buffer, length, &name, &used) != ARES_SUCCESS)
      return Status::corruption("bad name in DNS answer");
    ares_free_string(name);
    p += used;
    if (i < questions) {
      p += 4;
      continue;
    }
    if (end - p < 10) return Status::corruption("short DNS record");
    const int rtype = p[0] << 8 | p[1];
    const int rdlength = p[8] << 8 | p[9];
    p += 10;
    if (end - p < rdlength) return Status::corruption("short DNS record data");
    if (rtype == type) {
      char* target = nullptr;
      if (ares_expand_name(p, buffer, length, &target, &used) == ARES_SUCCESS) {
        out.push_back(target);
        ares_free_string(target);
      }
    }
    p += rdlength;
  }
  return Status::ok();
}

Status parse_records(int type, const unsigned char* buffer, int length,
                     std::vector<std::string>& out) {
  int rc = ARES_SUCCESS;
  switch (type) {
    case 1: {
      ares_addrttl addresses[64];
      int n = 64;
      rc = ares_parse_a_reply(buffer, length, nullptr, addresses, &n);
      for (int i = 0; rc == ARES_SUCCESS && i < n; ++i)
        out.push_back(address(AF_INET, &addresses[i].ipaddr));
      break;
    }
    case 28: {
      ares_addr6ttl addresses[64];
      int n = 64;
      rc = ares_parse_aaaa_reply(buffer, length, nullptr, addresses, &n);
      for (int i = 0; rc == ARES_SUCCESS && i < n; ++i)
        out.push_back(address(AF_INET6, &addresses[i].ip6addr));
      break;
    }
    case 15: {
      ares_mx_reply* mx = nullptr;
      rc = ares_parse_mx_reply(buffer, length, &mx);
      for (auto* r = mx; r != nullptr; r = r->next)
        out.push_back(std::to_string(r->priority) + " " + r->host);
      ares_free_data(mx);
      break;
    }
    case 16: {
      ares_txt_ext* txt = nullptr;
      rc = ares_parse_txt_reply_ext(buffer, length, &txt);
      for (auto* r = txt; r != nullptr; r = r->next) {
        const std::string chunk(reinterpret_cast<const char*>(r->txt), r->length);
        if (r->record_start || out.empty()) out.push_back(chunk);
        else out.back() += chunk;
      }
      ares_free_data(txt);
      break;
    }
    case 2: {
      hostent* host = nullptr;
      rc = ares_parse_ns_reply(buffer, length, &host);
      if (rc == ARES_SUCCESS) {
        for (char** a = host->h_aliases; a != nullptr && *a != nullptr; ++a) out.push_back(*a);
        ares_free_hostent(host);
      }
      break;
    }
    case 12: {
      hostent* host = nullptr;
      rc = ares_parse_ptr_reply(buffer, length, nullptr, 0, AF_INET, &host);
      if (rc == ARES_SUCCESS) {
        out.push_back(host->h_name);
        for (char** a = host->h_aliases; a != nullptr && *a != nullptr; ++a) out.push_back(*a);
        ares_free_hostent(host);
      }
      break;
    }
    case 33: {
      ares_srv_reply* srv = nullptr;
      rc = ares_parse_srv_reply(buffer, length, &srv);
      for (auto* r = srv; r != nullptr; r = r->next)
        out.push_back(std::to_string(r->priority) + " " + std::to_string(r->weight) + " " +
                      std::to_string(r->port) + " " + r->host);
      ares_free_data(srv);
      break;
    }
    case 6: {
      ares_soa_reply* soa = nullptr;
      rc = ares_parse_soa_reply(buffer, length, &soa);
      if (rc == ARES_SUCCESS) {
        out.push_back(std::string(soa->nsname) + " " + soa->hostmaster + " " +
                      std::to_string(soa->serial));
        ares_free_data(soa);
      }
      break;
    }
    case 257: {
      ares_caa_reply* caa = nullptr;
      rc = ares_parse_caa_reply(buffer, length, &caa);
      for (auto* r = caa; r != nullptr; r = r->next)
        out.push_back(std::to_string(r->critical) + " " +
                      std::string(reinterpret_cast<const char*>(r->property), r->plength) + " \"" +
                      std::string(reinterpret_cast<const char*>(r->value), r->length) + "\"");
      ares_free_data(caa);
      break;
    }
    default: return parse_names(buffer, length, type, out);
  }
  if (rc == ARES_ENODATA) return Status::ok();  // no record of this type: said by the caller
  if (rc != ARES_SUCCESS)
    return Status::corruption(std::string("DNS answer: ") + ares_strerror(rc));
  return Status::ok();
}

void on_answer(void* user, int status, int, unsigned char* buffer, int length) {
  auto* lookup = static_cast<Lookup*>(user);
  if (lookup->finished) return;
  lookup->finished = true;
  DnsAnswer& a = lookup->answer;
  a.ms = std::chrono::duration<double, std::milli>(Clock::now() - lookup->start).count();
  const std::string what = lookup->probe->type + " " + lookup->probe->name;
  switch (status) {
    case ARES_SUCCESS: break;
    case ARES_ENOTFOUND:
      a.error = Status::not_found(lookup->probe->name + " does not exist (NXDOMAIN)");
      return;
    case ARES_ENODATA: break;  // the name exists, without records of this type
    case ARES_ETIMEOUT: a.error = Status::timeout("no answer to " + what); return;
    case ARES_ESERVFAIL:
      a.error = Status::unavailable("the server failed (SERVFAIL) for " + what);
      return;
    case ARES_EREFUSED:
      a.error = Status::unavailable("the server refused (REFUSED) " + what);
      return;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: a.error = Status::timeout("no answer to " + what + " in time"); return;
    default:
      a.error = Status::unavailable(std::string(ares_strerror(status)) + " (" + what + ")");
      return;
  }
  if (status == ARES_SUCCESS) {
    a.error = parse_records(lookup->type, buffer, length, a.records);
    if (!a.error.is_ok()) return;
  }
  if (a.records.empty()) a.error = Status::not_found("no " + what + " record");
}

}  // namespace

std::vector<HttpAnswer> probe_http(const std::vector<HttpProbe>& jobs, Clock::time_point deadline) {
  global_init();
  deadline -= kWrapUp;
  std::vector<std::unique_ptr<Transfer>> transfers;
  std::vector<HttpAnswer> answers(jobs.size());
  for (const HttpProbe& job : jobs) {
    auto t = std::make_unique<Transfer>();
    t->easy = curl_easy_init();
    if (t->easy == nullptr) {
      t->finished = true;
      t->result = CURLE_FAILED_INIT;
      transfers.push_back(std::move(t));
      continue;
    }
    CURL* e = t->easy;
    common_options(*t, deadline, job.ca_file);
    curl_easy_setopt(e, CURLOPT_URL, job.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, job.follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, kMaxRedirects);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "vigie-agent/" VIGIE_VERSION " (net/http)");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");       // what the server offers, decoded
    curl_easy_setopt(e, CURLOPT_PROXY, job.proxy.c_str());  // "": none, whatever the env says
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    t->keep_body = !job.match.empty();
    transfers.push_back(std::move(t));
  }
  run_multi(transfers, deadline);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Transfer& t = *transfers[i];
    HttpAnswer& a = answers[i];
    a.error = transfer_error(t);
    a.curl_code =
        t.finished ? static_cast<int>(t.result) : static_cast<int>(CURLE_OPERATION_TIMEDOUT);
    a.certificate = t.tls.certificate;
    a.tls_version = t.tls.version;
    a.body_bytes = t.body_bytes;
    if (t.easy == nullptr) continue;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &a.status);
    char* url = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &url);
    if (url != nullptr) a.final_url = url;
    curl_easy_getinfo(t.easy, CURLINFO_REDIRECT_COUNT, &a.redirects);
    a.total_ms = info_ms(t.easy, CURLINFO_TOTAL_TIME_T);
    a.connect_ms = info_ms(t.easy, CURLINFO_CONNECT_TIME_T);
    a.tls_ms = info_ms(t.easy, CURLINFO_APPCONNECT_TIME_T);
    a.first_byte_ms = info_ms(t.easy, CURLINFO_STARTTRANSFER_TIME_T);
    if (!jobs[i].match.empty() && a.error.is_ok()) {
      regex_t regex;
      if (::regcomp(&regex, jobs[i].match.c_str(), REG_EXTENDED | REG_NOSUB) == 0) {
        regmatch_t range[1];
        range[0].rm_so = 0;
        range[0].rm_eo = static_cast<regoff_t>(t.body.size());
        a.matched = ::regexec(&regex, t.body.c_str(), 1, range, REG_STARTEND) == 0 ? 1 : 0;
        ::regfree(&regex);
      }
    }
  }
  return answers;
}

std::vector<TlsAnswer> probe_tls(const std::vector<TlsProbe>& jobs, Clock::time_point deadline) {
  global_init();
  deadline -= kWrapUp;
  std::vector<std::unique_ptr<Transfer>> transfers;
  std::vector<TlsAnswer> answers(jobs.size());
  for (const TlsProbe& job : jobs) {
    auto t = std::make_unique<Transfer>();
    t->easy = curl_easy_init();
    if (t->easy == nullptr) {
      t->finished = true;
      t->result = CURLE_FAILED_INIT;
      transfers.push_back(std::move(t));
      continue;
    }
    CURL* e = t->easy;
    common_options(*t, deadline, job.ca_file);
    // A TLS service of any kind: curl opens the connection and stops after the
    // handshake (CONNECT_ONLY); for STARTTLS it first speaks the protocol up to the
    // upgrade, and logs in to nothing.
    const char* scheme = "https";
    switch (job.starttls) {
      case StartTls::kSmtp: scheme = "smtp"; break;
      case StartTls::kImap: scheme = "imap"; break;
      case StartTls::kPop3: scheme = "pop3"; break;
      case StartTls::kNone: break;
    }
    const std::string url =
        std::string(scheme) + "://" + host_in_url(job.host) + ":" + std::to_string(job.port) + "/";
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, scheme);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_SSL_ENABLE_ALPN, 0L);  // not an HTTP server, maybe
    if (job.starttls != StartTls::kNone) curl_easy_setopt(e, CURLOPT_USE_SSL, CURLUSESSL_ALL);
    transfers.push_back(std::move(t));
  }
  run_multi(transfers, deadline);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Transfer& t = *transfers[i];
    TlsAnswer& a = answers[i];
    a.error = transfer_error(t);
    a.curl_code =
        t.finished ? static_cast<int>(t.result) : static_cast<int>(CURLE_OPERATION_TIMEDOUT);
    a.certificate = t.tls.certificate;
    a.tls_version = t.tls.version;
    if (t.easy == nullptr) continue;
    a.connect_ms = info_ms(t.easy, CURLINFO_CONNECT_TIME_T);
    if (t.tls.done && t.tls.started != Clock::time_point())
      a.handshake_ms =
          std::chrono::duration<double, std::milli>(t.tls.finished - t.tls.started).count();
    if (a.error.is_ok() && t.tls.version.empty())
      a.error = Status::unavailable("the server did not start TLS");
  }
  return answers;
}

std::vector<DnsAnswer> probe_dns(const std::vector<DnsProbe>& jobs, Clock::time_point deadline) {
  global_init();
  deadline -= kWrapUp;
  std::vector<std::unique_ptr<Lookup>> lookups;
  const int budget = static_cast<int>(left_until(deadline).count());
  for (const DnsProbe& job : jobs) {
    auto lookup = std::make_unique<Lookup>();
    lookup->probe = &job;
    lookup->type = record_type(job.type);
    lookup->answer.server = job.server.empty() ? "the system's resolver" : job.server;
    ares_options options{};
    options.timeout = std::max(1, budget / 3);  // a second try waits twice as long
    options.tries = 2;
    if (lookup->type == 0) {
      lookup->answer.error = Status::invalid("unknown record type " + job.type);
      lookup->finished = true;
    } else if (int rc = ares_init_options(&lookup->channel, &options,
                                          ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
               rc != ARES_SUCCESS) {
      lookup->answer.error = Status::unavailable(std::string("c-ares: ") + ares_strerror(rc));
      lookup->finished = true;
      lookup->channel = nullptr;
    } else if (!job.server.empty()) {
      if (int rc2 = ares_set_servers_ports_csv(lookup->channel, job.server.c_str());
          rc2 != ARES_SUCCESS) {
        lookup->answer.error =
            Status::invalid("server \"" + job.server + "\": " + ares_strerror(rc2));
        lookup->finished = true;
      }
    }
    lookups.push_back(std::move(lookup));
  }
  for (auto& lookup : lookups) {
    if (lookup->finished) continue;
    lookup->start = Clock::now();
    ares_query(lookup->channel, lookup->probe->name.c_str(), 1 /* IN */, lookup->type, on_answer,
               lookup.get());
  }
  for (;;) {
    fd_set readers, writers;
    FD_ZERO(&readers);
    FD_ZERO(&writers);
    int highest = 0;
    bool waiting = false;
    timeval wait{0, 0};
    const auto left = left_until(deadline);
    timeval limit{static_cast<time_t>(left.count() / 1000),
                  static_cast<suseconds_t>(left.count() % 1000 * 1000)};
    timeval* shortest = &limit;
    for (auto& lookup : lookups) {
      if (lookup->finished || lookup->channel == nullptr) continue;
      waiting = true;
      highest = std::max(highest, ares_fds(lookup->channel, &readers, &writers));
      shortest = ares_timeout(lookup->channel, shortest, &wait);
      if (shortest == &wait) {
        limit = wait;
        shortest = &limit;
      }
    }
    if (!waiting || Clock::now() >= deadline) break;
    ::select(highest, &readers, &writers, nullptr, shortest);
    for (auto& lookup : lookups) {
      if (!lookup->finished && lookup->channel != nullptr)
        ares_process(lookup->channel, &readers, &writers);
    }
  }
  std::vector<DnsAnswer> answers;
  for (auto& lookup : lookups) {
    if (lookup->channel != nullptr) ares_destroy(lookup->channel);  // calls back the unfinished
    answers.push_back(std::move(lookup->answer));
  }
  return answers;
}

}  // namespace vigie::plugins::net
