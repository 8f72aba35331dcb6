#pragma once
// Network probes for net/http, net/tls and net/dns: what to probe and what came back,
// facts only (the checks judge them). libcurl, OpenSSL and c-ares stay behind this
// header, and out of the agent's process: like SNMP (plugins/snmp/wire.hpp), each round
// of a check runs the helper vigie-probe, which probes every target of the round
// concurrently on one event loop (curl multi for HTTP and TLS, c-ares for DNS) and
// answers one JSON line per target. Two implementations of the three functions below:
// probe_local.cpp probes in process (the helper itself, the tests), probe_client.cpp
// runs the helper (the agent).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace vigie::plugins::net {

// The server's certificate as the TLS handshake showed it, whether or not it was
// trusted. Read while the chain is verified, so an expired or unknown one is known too.
struct Certificate {
  bool seen = false;
  std::int64_t not_before = 0;  // seconds since the epoch
  std::int64_t not_after = 0;
  std::string subject;  // its common name, else the whole subject
  std::string issuer;   // the issuer's common name and organisation
  // Why the chain was not trusted, in OpenSSL's words ("certificate has expired",
  // "unable to get local issuer certificate"); "" when it was.
  std::string verify_error;
};

struct HttpProbe {
  std::string url;
  bool follow_redirects = true;  // at most kMaxRedirects
  std::string ca_file;           // "" : the system's CAs
  std::string match;             // a POSIX extended regex the body must match; "": none
  std::string proxy;             // "" : none
};

struct HttpAnswer {
  // The probe could not run at all (the helper missing or broken): the check cannot
  // judge, and says so (UNKNOWN with `error`).
  bool not_run = false;
  Status error;       // the transfer failed: curl's message (kTimeout for a timeout)
  int curl_code = 0;  // CURLcode, 0 on success
  long status = 0;    // the last response's HTTP status, 0 when none came
  std::string final_url;
  long redirects = 0;
  double total_ms = 0, connect_ms = 0, tls_ms = 0, first_byte_ms = 0;
  std::uint64_t body_bytes = 0;
  int matched = -1;         // 1 the body matched, 0 it did not, -1 not asked or no body
  Certificate certificate;  // of the first TLS connection (the URL's own host)
  std::string tls_version;  // "TLSv1.3"; "" without TLS
};

enum class StartTls { kNone, kSmtp, kImap, kPop3 };

struct TlsProbe {
  std::string host;
  int port = 443;
  StartTls starttls = StartTls::kNone;
  std::string ca_file;
};

struct TlsAnswer {
  // The probe could not run at all (the helper missing or broken): the check cannot
  // judge, and says so (UNKNOWN with `error`).
  bool not_run = false;
  Status error;
  int curl_code = 0;
  double connect_ms = 0, handshake_ms = 0;
  Certificate certificate;
  std::string tls_version;
};

struct DnsProbe {
  std::string name;
  std::string type = "A";  // A AAAA MX TXT CNAME NS PTR SOA SRV CAA
  std::string server;      // "ADDR" or "ADDR:PORT" ("[v6]:PORT"); "": the system's
};

struct DnsAnswer {
  // The probe could not run at all (the helper missing or broken): the check cannot
  // judge, and says so (UNKNOWN with `error`).
  bool not_run = false;
  Status error;                      // kNotFound for NXDOMAIN, kTimeout, kUnavailable (SERVFAIL...)
  std::vector<std::string> records;  // "192.0.2.1", "10 mx.example.org", ...
  double ms = 0;
  std::string server;  // the server that answered, when known
};

inline constexpr long kMaxRedirects = 10;
inline constexpr std::size_t kMaxBody = 1024 * 1024;  // bytes of a body kept for `match`
inline constexpr std::size_t kMaxInFlight = 256;      // transfers at a time

// Each probes every job concurrently and returns one answer per job, in order, by
// `deadline` (a job not done by then has a kTimeout error). Never throw.
std::vector<HttpAnswer> probe_http(const std::vector<HttpProbe>& jobs,
                                   std::chrono::steady_clock::time_point deadline);
std::vector<TlsAnswer> probe_tls(const std::vector<TlsProbe>& jobs,
                                 std::chrono::steady_clock::time_point deadline);
std::vector<DnsAnswer> probe_dns(const std::vector<DnsProbe>& jobs,
                                 std::chrono::steady_clock::time_point deadline);

// --- the helper's protocol (probe_wire.cpp) ---------------------------------------------
// A request is one JSON object on the helper's stdin: {"kind": "http"|"tls"|"dns",
// "budget_ms": N, "jobs": [...]}; the helper answers one line per job, {"job": i, ...},
// as each ends.
struct ProbeRequest {
  std::string kind;
  std::chrono::milliseconds budget{0};
  std::vector<HttpProbe> http;
  std::vector<TlsProbe> tls;
  std::vector<DnsProbe> dns;
};
std::string encode_request(const ProbeRequest& request);
Result<ProbeRequest> decode_request(std::string_view text);  // kInvalidArgument

std::string encode_answer(std::size_t job, const HttpAnswer& answer);
std::string encode_answer(std::size_t job, const TlsAnswer& answer);
std::string encode_answer(std::size_t job, const DnsAnswer& answer);
// The job's index, and the answer into `out`; kCorruption naming what is wrong.
Result<std::size_t> decode_answer(std::string_view line, HttpAnswer& out);
Result<std::size_t> decode_answer(std::string_view line, TlsAnswer& out);
Result<std::size_t> decode_answer(std::string_view line, DnsAnswer& out);

}  // namespace vigie::plugins::net
