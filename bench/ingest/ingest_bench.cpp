// vigie-bench-ingest: how many check results a second the collector stores, and how fast
// it answers, under a simulated fleet of agents; and, to compare, InfluxDB 1.x's /write
// with the same shape of data. docs/performance.md says how to run it and what it found.

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/ingest/latency_histogram.hpp"
#include "bench/ingest/loopback_client.hpp"
#include "bench/ingest/soak.hpp"
#include "bench/ingest/workload.hpp"
#include "common/duration.hpp"
#include "common/gzip.hpp"
#include "common/protocol.hpp"
#include "common/time.hpp"

namespace vigie::bench::ingest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(usage: vigie-bench-ingest --url URL --tokens FILE [options]
       vigie-bench-ingest --target influx [--url URL] [options]

Sends check results from simulated agents to a vigie collector (or, to compare, to an
InfluxDB 1.x) on this machine, then prints one summary: requests, results/s, samples/s
stored (2xx answers only), errors by status, latency p50/p90/p99/max.

target:
  --target vigie|influx   what to load (default vigie)
  --url URL               the server's base URL, on loopback only: https://127.0.0.1:PORT
                          for vigie (required); influx default http://127.0.0.1:8086,
                          written to database "bench" (created if missing)
  --ca-file PEM           the CA certificate an https server must chain to
workload:
  --agents N              simulated agents, one report stream each (default 1000; vigie)
  --checks N              checks per agent (default 30)
  --metrics N             metrics per check, one sample each per result (default 3)
  --results-per-report N  results in one report (default: --checks, one agent's round)
  --series N              series written, agents x checks x metrics in order
                          (default 1000; influx)
  --points-per-request N  points in one write, one sample each (default 5000; influx)
  --gzip                  send bodies gzip-compressed
load:
  --connections N         keep-alive connections, one thread each (default 8; influx 4)
  --duration DUR          measured time (default 60s)
  --warmup DUR            time before it, sent but not counted (default 10s)
  --rate SAMPLES_PER_S    0: as fast as the server answers (closed loop, the default);
                          else paced, open loop: requests leave at fixed times and their
                          latency counts from the time they were due, so a queue shows
agents' tokens (vigie):
  --tokens FILE           "agent_id token" per line, one per agent
  --enroll-tokens FILE    enrollment secrets, one per line (vigie-collector enroll-token
                          create --count N): if --tokens FILE does not exist, enroll
                          --agents agents with them and write it, so that reruns reuse it
  --site SITE             the agents' site, that of the enrollment secrets (default bench)
  --enroll-only           enroll, write --tokens FILE, and exit
fault soak (vigie; bench/soak/run drives it):
  --soak                  each agent sends a report every --interval and keeps it until a
                          2xx, sending the same (agent, seq) again after a connection
                          error, a timeout, a 5xx, a 503 or a 429, with backoff, as the
                          real agent does; for --duration, then at most --drain more to
                          send what is held; then checks through the query API that
                          every result acknowledged is stored exactly once
  --interval DUR          between an agent's reports (default 30s)
  --timeout DUR           the longest one request may take (default 10s)
  --drain DUR             (default 3m)
  --timeline FILE         a CSV line a second: acknowledgements and failures so far
  --viewer-token FILE     a viewer token (vigie-collector token create --role viewer),
                          for the check through the API; without it, no check
  --help

Exit status: 0 when every request got a 2xx answer, 1 otherwise, 2 for bad usage.
)";

enum class Target { kVigie, kInflux };

struct Options {
  Target target = Target::kVigie;
  std::string url;
  std::string ca_file;
  int agents = 1000;
  int checks = 30;
  int metrics = 3;
  int results_per_report = 0;  // 0: checks
  int series = 1000;
  int points_per_request = 5000;
  bool gzip = false;
  int connections = 0;  // 0: the target's default
  std::chrono::milliseconds duration{60'000};
  std::chrono::milliseconds warmup{10'000};
  double rate = 0;
  std::string tokens_file;
  std::string enroll_tokens_file;
  std::string site = "bench";
  bool enroll_only = false;
  bool soak = false;
  std::chrono::milliseconds interval{30'000};
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds drain{180'000};
  std::string timeline_file;
  std::string viewer_token_file;
};

// The options that take a value; the others are --gzip and --enroll-only.
// clang-format off
constexpr std::string_view kValueFlags[] = {
    "--target", "--url", "--ca-file", "--agents", "--checks", "--metrics",
    "--results-per-report", "--series", "--points-per-request", "--connections",
    "--duration", "--warmup", "--rate", "--tokens", "--enroll-tokens", "--site",
    "--interval", "--timeout", "--drain", "--timeline", "--viewer-token"};
// clang-format on

constexpr std::chrono::milliseconds kRequestTimeout{30'000};
// After a request got no answer at all: do not spin on a server that is gone.
constexpr std::chrono::milliseconds kPauseAfterFailure{100};

Result<long long> parse_int(std::string_view flag, std::string_view text, long long lo,
                            long long hi) {
  long long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    return Status::invalid(std::string(flag) + ": expected a number " + std::to_string(lo) + ".." +
                           std::to_string(hi) + ", got \"" + std::string(text) + "\"");
  }
  return v;
}

Result<Options> parse_args(const std::vector<std::string_view>& args) {
  Options o;
  const protocol::Limits limits;
  bool agents_set = false, results_set = false, series_set = false, points_set = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--gzip") {
      o.gzip = true;
      continue;
    }
    if (a == "--enroll-only") {
      o.enroll_only = true;
      continue;
    }
    if (a == "--soak") {
      o.soak = true;
      continue;
    }
    if (std::find(std::begin(kValueFlags), std::end(kValueFlags), a) == std::end(kValueFlags))
      return Status::invalid("unknown argument \"" + std::string(a) + "\"");
    if (i + 1 >= args.size()) return Status::invalid(std::string(a) + ": missing value");
    const std::string_view v = args[i + 1];
    auto integer = [&](int& field, long long lo, long long hi) -> Status {
      auto n = parse_int(a, v, lo, hi);
      if (!n) return n.status();
      field = static_cast<int>(*n);
      return Status::ok();
    };
    auto duration = [&](std::chrono::milliseconds& field) -> Status {
      auto d = parse_duration(v);
      if (!d) return d.status().with_context(a);
      field = *d;
      return Status::ok();
    };
    Status s;
    if (a == "--target") {
      if (v == "vigie") {
        o.target = Target::kVigie;
      } else if (v == "influx") {
        o.target = Target::kInflux;
      } else {
        s = Status::invalid("--target: expected vigie or influx, got \"" + std::string(v) + "\"");
      }
    } else if (a == "--url") {
      o.url = v;
    } else if (a == "--ca-file") {
      o.ca_file = v;
    } else if (a == "--agents") {
      s = integer(o.agents, 1, 100'000);
      agents_set = true;
    } else if (a == "--checks") {
      s = integer(o.checks, 1, 1000);
    } else if (a == "--metrics") {
      s = integer(o.metrics, 1, static_cast<long long>(limits.max_metrics));
    } else if (a == "--results-per-report") {
      s = integer(o.results_per_report, 1, static_cast<long long>(limits.max_results));
      results_set = true;
    } else if (a == "--series") {
      s = integer(o.series, 1, 10'000'000);
      series_set = true;
    } else if (a == "--points-per-request") {
      s = integer(o.points_per_request, 1, 1'000'000);
      points_set = true;
    } else if (a == "--connections") {
      s = integer(o.connections, 1, 256);
    } else if (a == "--duration") {
      s = duration(o.duration);
      if (s && (o.duration.count() < 1000 || o.duration > std::chrono::hours(24)))
        s = Status::invalid("--duration: expected 1s to 24h");
    } else if (a == "--warmup") {
      s = duration(o.warmup);
      if (s && o.warmup > std::chrono::hours(1)) s = Status::invalid("--warmup: at most 1h");
    } else if (a == "--rate") {
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), o.rate);
      if (ec != std::errc() || end != v.data() + v.size() || !(o.rate >= 0) || o.rate > 1e9) {
        s = Status::invalid(
            "--rate: expected samples per second, 0 (as fast as possible) to "
            "1e9, got \"" +
            std::string(v) + "\"");
      }
    } else if (a == "--tokens") {
      o.tokens_file = v;
    } else if (a == "--enroll-tokens") {
      o.enroll_tokens_file = v;
    } else if (a == "--interval" || a == "--timeout" || a == "--drain") {
      auto& field = a == "--interval" ? o.interval : a == "--timeout" ? o.timeout : o.drain;
      s = duration(field);
      if (s && (field.count() < 100 || field > std::chrono::hours(1)))
        s = Status::invalid(std::string(a) + ": expected 100ms to 1h");
    } else if (a == "--timeline") {
      o.timeline_file = v;
    } else if (a == "--viewer-token") {
      o.viewer_token_file = v;
    } else {
      o.site = v;
      if (!is_identifier(o.site))
        s = Status::invalid("--site: may only contain letters, digits, '.', '_' and '-'");
    }
    if (!s) return s;
    ++i;
  }

  if (o.target == Target::kVigie) {
    if (o.url.empty()) return Status::invalid("--url: required (the collector's base URL)");
    if (series_set || points_set)
      return Status::invalid("--series and --points-per-request are for --target influx");
    if (o.tokens_file.empty() && o.enroll_tokens_file.empty())
      return Status::invalid(
          "the agents need tokens: give --tokens FILE, --enroll-tokens FILE, "
          "or both");
    if (o.enroll_only && (o.tokens_file.empty() || o.enroll_tokens_file.empty()))
      return Status::invalid("--enroll-only needs --enroll-tokens and --tokens");
    if (o.results_per_report == 0) o.results_per_report = o.checks;
    if (o.connections == 0) o.connections = 8;
    if (o.connections > o.agents) {
      return Status::invalid("--connections " + std::to_string(o.connections) + " is more than " +
                             "--agents " + std::to_string(o.agents) +
                             ": each connection needs agents of its own");
    }
  } else {
    if (agents_set || results_set || !o.tokens_file.empty() || !o.enroll_tokens_file.empty() ||
        o.enroll_only) {
      return Status::invalid(
          "--agents, --results-per-report, --tokens, --enroll-tokens and "
          "--enroll-only are for --target vigie");
    }
    if (o.url.empty()) o.url = "http://127.0.0.1:8086";
    if (o.connections == 0) o.connections = 4;
    if (o.connections > o.series) {
      return Status::invalid("--connections " + std::to_string(o.connections) + " is more than " +
                             "--series " + std::to_string(o.series) +
                             ": each connection needs series of its own");
    }
  }
  return o;
}

// --- Agents' tokens --------------------------------------------------------------------

// A secret as it may go into an Authorization header: printable ASCII, no blank.
bool is_token_text(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// The lines of a file, without surrounding blanks; blank lines and "#" comments skipped.
Result<std::vector<std::string>> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::io_error("cannot read " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') {
      lines.emplace_back();  // kept as empty so that line numbers stay right
      continue;
    }
    const auto last = line.find_last_not_of(" \t\r");
    lines.push_back(line.substr(first, last - first + 1));
  }
  if (in.bad()) return Status::io_error("cannot read " + path);
  return lines;
}

Result<std::vector<Credential>> read_tokens(const std::string& path, int agents) {
  auto lines = read_lines(path);
  if (!lines) return lines.status();
  std::vector<Credential> credentials;
  std::set<std::string> seen;
  for (std::size_t n = 0;
       n < lines->size() && credentials.size() < static_cast<std::size_t>(agents); ++n) {
    const std::string& line = (*lines)[n];
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(n + 1) + ": ";
    const auto space = line.find_first_of(" \t");
    const auto token_at = line.find_first_not_of(" \t", space);
    if (space == std::string::npos || token_at == std::string::npos)
      return Status::invalid(where + "expected \"agent_id token\"");
    Credential c{line.substr(0, space), line.substr(token_at)};
    if (!is_identifier(c.agent)) {
      return Status::invalid(where + "agent id \"" + c.agent +
                             "\" may only contain letters, digits, '.', '_' and '-'");
    }
    if (!is_token_text(c.token))
      return Status::invalid(where + "expected \"agent_id token\", the token in printable ASCII");
    if (!seen.insert(c.agent).second)
      return Status::invalid(where + "agent " + c.agent + " has a token already");
    credentials.push_back(std::move(c));
  }
  if (credentials.size() < static_cast<std::size_t>(agents)) {
    return Status::invalid(path + ": " + std::to_string(credentials.size()) +
                           " agent tokens, fewer than --agents " + std::to_string(agents) +
                           " (delete it to enroll again with --enroll-tokens)");
  }
  return credentials;
}

// Written whole or not at all, readable by its owner only: it holds secrets.
Status write_tokens(const std::string& path, const std::vector<Credential>& credentials) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Status::io_error("cannot write " + tmp);
    std::error_code ec;
    std::filesystem::permissions(
        tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    if (ec) return Status::io_error("cannot restrict " + tmp + ": " + ec.message());
    out << "# agent_id token, written by vigie-bench-ingest --enroll-tokens\n";
    for (const auto& c : credentials) out << c.agent << ' ' << c.token << '\n';
    out.flush();
    if (!out) return Status::io_error("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::io_error("cannot write " + path + ": " + ec.message());
  return Status::ok();
}

// Exchanges one enrollment secret per agent for the agent's token, as an agent does.
Result<std::vector<Credential>> enroll(const Options& o, const std::string& base) {
  auto secrets = read_lines(o.enroll_tokens_file);
  if (!secrets) return secrets.status();
  std::erase(*secrets, std::string());
  for (const auto& secret : *secrets) {
    if (!is_token_text(secret)) {
      return Status::invalid(o.enroll_tokens_file +
                             ": expected one enrollment secret per line, in printable ASCII");
    }
  }
  if (secrets->size() < static_cast<std::size_t>(o.agents)) {
    return Status::invalid(o.enroll_tokens_file + ": " + std::to_string(secrets->size()) +
                           " enrollment secrets, fewer than --agents " + std::to_string(o.agents));
  }
  auto client = LoopbackClient::create(o.ca_file, kRequestTimeout);
  if (!client) return client.status();
  const std::string url = base + "/api/v1/enroll";
  std::vector<Credential> credentials;
  const auto started = Clock::now();
  for (int i = 0; i < o.agents; ++i) {
    const std::string id = agent_id(i);
    const Headers headers({"Authorization: Bearer " + (*secrets)[static_cast<std::size_t>(i)],
                           "Content-Type: application/json"});
    const nlohmann::json body = {{"agent", {{"id", id}, {"site", o.site}}}};
    const LoopbackReply reply = client->post(url, headers, body.dump());
    const std::string what = "enrolling agent " + id + " at " + url + ": ";
    if (!reply.error.empty()) return Status::unavailable(what + reply.error);
    if (reply.status != 200) {
      return Status::invalid(what + "HTTP " + std::to_string(reply.status) + " " + reply.body);
    }
    const auto answer = nlohmann::json::parse(reply.body, nullptr, false);
    const auto token = answer.is_object() ? answer.find("token") : answer.end();
    if (!answer.is_object() || token == answer.end() || !token->is_string())
      return Status::invalid(what + "expected {\"token\": ...}, got " + reply.body);
    credentials.push_back({id, token->get<std::string>()});
  }
  std::fprintf(stderr, "vigie-bench-ingest: enrolled %d agents in %.1f s\n", o.agents,
               std::chrono::duration<double>(Clock::now() - started).count());
  return credentials;
}

// The agents' tokens: from --tokens FILE when it exists, else by enrollment (then
// written to FILE, when given).
Result<std::vector<Credential>> agent_credentials(const Options& o, const std::string& base) {
  if (!o.tokens_file.empty() && std::filesystem::exists(o.tokens_file)) {
    if (!o.enroll_tokens_file.empty()) {
      std::cerr << "vigie-bench-ingest: " << o.tokens_file
                << " exists: using its tokens, not enrolling\n";
    }
    return read_tokens(o.tokens_file, o.agents);
  }
  if (o.enroll_tokens_file.empty()) return Status::not_found("cannot read " + o.tokens_file);
  auto credentials = enroll(o, base);
  if (!credentials) return credentials.status();
  if (!o.tokens_file.empty()) {
    if (Status s = write_tokens(o.tokens_file, *credentials); !s) return s;
  }
  return credentials;
}

// --- Load ------------------------------------------------------------------------------

// What one connection sends, request after request.
class Source {
 public:
  virtual ~Source() = default;
  // Replaces `body` with the next request's; returns the headers to send it with.
  virtual const Headers& next(std::string& body) = 0;
};

// Reports of the connection's agents, in turn.
class ReportSource final : public Source {
 public:
  ReportSource(const Catalogue& catalogue, const Options& o,
               const std::vector<Credential>& credentials, std::uint64_t first_seq,
               std::uint64_t seed)
      : rng_(seed), results_(o.results_per_report), gzip_(o.gzip) {
    agents_.reserve(credentials.size());
    for (const auto& c : credentials) {
      agents_.emplace_back(catalogue, c.agent, o.site, first_seq, rng_);
      std::vector<std::string> lines = {"Authorization: Bearer " + c.token,
                                        "Content-Type: application/json"};
      if (gzip_) lines.emplace_back("Content-Encoding: gzip");
      headers_.emplace_back(lines);
    }
  }

  const Headers& next(std::string& body) override {
    const std::size_t i = next_;
    next_ = (next_ + 1) % agents_.size();
    agents_[i].next_report(results_, rng_, body);
    if (gzip_) body = gzip_compress(body);
    return headers_[i];
  }

 private:
  Rng rng_;
  int results_;
  bool gzip_;
  std::vector<Agent> agents_;
  std::vector<Headers> headers_;
  std::size_t next_ = 0;
};

// Line-protocol writes of the connection's series.
class LineSource final : public Source {
 public:
  LineSource(const Catalogue& catalogue, const Options& o, const std::vector<std::int64_t>& series,
             std::uint64_t seed)
      : rng_(seed),
        series_(catalogue, o.site, series, rng_),
        points_(o.points_per_request),
        gzip_(o.gzip),
        headers_(
            o.gzip ? std::vector<std::string>{"Content-Type: text/plain", "Content-Encoding: gzip"}
                   : std::vector<std::string>{"Content-Type: text/plain"}) {}

  const Headers& next(std::string& body) override {
    series_.next_lines(points_, rng_, body);
    if (gzip_) body = gzip_compress(body);
    return headers_;
  }

 private:
  Rng rng_;
  SeriesSet series_;
  int points_;
  bool gzip_;
  Headers headers_;
};

struct ErrorCount {
  std::uint64_t count = 0;
  std::string first_body;  // what the server said the first time
};

// What the requests of one phase (warm-up or measured) saw, on one connection or all.
struct Tally {
  std::uint64_t requests = 0;  // answered, failed, or due and never sent
  std::uint64_t stored = 0;    // answered 2xx
  std::uint64_t results = 0;   // in the 2xx requests
  std::uint64_t samples = 0;   // in the 2xx requests
  std::uint64_t body_bytes = 0;
  std::uint64_t connections_opened = 0;
  std::map<std::string, ErrorCount> errors;
  LatencyHistogram latency;
  Clock::time_point last_done{};

  std::uint64_t error_count() const {
    std::uint64_t n = 0;
    for (const auto& [key, e] : errors) n += e.count;
    return n;
  }

  void add_error(const std::string& key, std::string_view body) {
    ErrorCount& e = errors[key];
    if (e.count++ == 0) e.first_body = body.substr(0, 200);
  }

  void merge(const Tally& other) {
    requests += other.requests;
    stored += other.stored;
    results += other.results;
    samples += other.samples;
    body_bytes += other.body_bytes;
    connections_opened += other.connections_opened;
    for (const auto& [key, e] : other.errors) {
      ErrorCount& mine = errors[key];
      if (mine.count == 0) mine.first_body = e.first_body;
      mine.count += e.count;
    }
    latency.merge(other.latency);
    last_done = std::max(last_done, other.last_done);
  }
};

// When one connection sends. All connections share start, measure_from and end.
struct Schedule {
  Clock::time_point start;         // the warm-up starts
  Clock::time_point measure_from;  // the warm-up ends, the measured time starts
  Clock::time_point end;
  double requests_per_s = 0;  // all connections together; 0: closed loop
  int connection = 0;
  int connections = 1;
};

// What each request carries, for the counts.
struct RequestShape {
  std::uint64_t results = 0;  // check results (vigie), 0 for influx
  std::uint64_t samples = 0;
};

void account(Tally& t, const LoopbackReply& reply, std::size_t bytes, const RequestShape& shape,
             Clock::time_point due, Clock::time_point done) {
  ++t.requests;
  t.body_bytes += bytes;
  t.connections_opened += reply.reconnected ? 1 : 0;
  t.latency.record(done - due);
  t.last_done = std::max(t.last_done, done);
  if (!reply.error.empty()) return t.add_error("no answer: " + reply.error, "");
  if (reply.status < 200 || reply.status > 299)
    return t.add_error("HTTP " + std::to_string(reply.status), reply.body);
  // vigie answers a report it had already stored with 200 but stores nothing.
  if (reply.body.find("\"duplicate\"") != std::string::npos)
    return t.add_error("HTTP 200 duplicate, not stored", reply.body);
  ++t.stored;
  t.results += shape.results;
  t.samples += shape.samples;
}

struct Phases {
  Tally warmup;
  Tally measured;
};

// Closed loop: the next request leaves when the last one is answered.
void run_closed(LoopbackClient& client, Source& source, const std::string& url, const Schedule& s,
                const RequestShape& shape, Phases& out) {
  std::string body;
  std::this_thread::sleep_until(s.start);
  while (Clock::now() < s.end) {
    const Headers& headers = source.next(body);
    const auto sent = Clock::now();
    if (sent >= s.end) break;
    const LoopbackReply reply = client.post(url, headers, body);
    const auto done = Clock::now();
    account(sent >= s.measure_from ? out.measured : out.warmup, reply, body.size(), shape, sent,
            done);
    if (!reply.error.empty()) std::this_thread::sleep_for(kPauseAfterFailure);
  }
}

// Open loop: request j of connection k is due at start + (j + k / C) * C / rate, whether
// or not the ones before it were answered; when the server falls behind, requests wait
// their turn and that wait counts in their latency.
void run_paced(LoopbackClient& client, Source& source, const std::string& url, const Schedule& s,
               const RequestShape& shape, Phases& out) {
  const double period_s = s.connections / s.requests_per_s;
  const double offset = static_cast<double>(s.connection) / s.connections;
  auto due = [&](std::uint64_t j) {
    return s.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                         (static_cast<double>(j) + offset) * period_s));
  };
  std::string body;
  for (std::uint64_t j = 0; due(j) < s.end; ++j) {
    if (Clock::now() >= s.end) {
      // Time ran out with requests still due: count them as failed, with the time they
      // had already waited as a lower bound of their latency.
      for (; due(j) < s.end; ++j) {
        if (due(j) < s.measure_from) continue;
        ++out.measured.requests;
        out.measured.latency.record(s.end - due(j));
        out.measured.add_error("not sent: still queued when time ran out", "");
      }
      return;
    }
    const Headers& headers = source.next(body);
    std::this_thread::sleep_until(due(j));
    const LoopbackReply reply = client.post(url, headers, body);
    const auto done = Clock::now();
    account(due(j) >= s.measure_from ? out.measured : out.warmup, reply, body.size(), shape, due(j),
            done);
    if (!reply.error.empty()) std::this_thread::sleep_for(kPauseAfterFailure);
  }
}

std::string describe_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024);
  }
  return buf;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void print_errors(const char* title, const Tally& t) {
  std::printf("%-18s %llu\n", title, static_cast<unsigned long long>(t.error_count()));
  for (const auto& [key, e] : t.errors) {
    std::printf("  %-40s %llu%s%s\n", key.c_str(), static_cast<unsigned long long>(e.count),
                e.first_body.empty() ? "" : "  first: ", e.first_body.c_str());
  }
}

// Runs the load on every connection, then prints the summary. Returns the exit status.
int measure(const Options& o, std::vector<std::unique_ptr<Source>>& sources, const std::string& url,
            const RequestShape& shape, const std::string& workload) {
  std::vector<LoopbackClient> clients;
  for (std::size_t k = 0; k < sources.size(); ++k) {
    auto client = LoopbackClient::create(o.ca_file, kRequestTimeout);
    if (!client) {
      std::cerr << "vigie-bench-ingest: " << client.status().message() << "\n";
      return 1;
    }
    clients.push_back(std::move(*client));
  }
  const double requests_per_s = o.rate / static_cast<double>(shape.samples);
  Schedule schedule;
  schedule.start = Clock::now() + std::chrono::milliseconds(100);  // threads start together
  schedule.measure_from = schedule.start + o.warmup;
  schedule.end = schedule.measure_from + o.duration;
  schedule.requests_per_s = requests_per_s;
  schedule.connections = o.connections;

  std::cerr << "vigie-bench-ingest: " << format_duration(o.warmup) << " warm-up, then "
            << format_duration(o.duration) << " measured\n";
  const double cpu_before = cpu_seconds();
  std::vector<Phases> phases(sources.size());
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < sources.size(); ++k) {
    threads.emplace_back([&, k] {
      Schedule s = schedule;
      s.connection = static_cast<int>(k);
      try {
        if (s.requests_per_s > 0) {
          run_paced(clients[k], *sources[k], url, s, shape, phases[k]);
        } else {
          run_closed(clients[k], *sources[k], url, s, shape, phases[k]);
        }
      } catch (const std::exception& e) {  // bad_alloc: this connection stops, and says so
        phases[k].measured.add_error(std::string("connection stopped: ") + e.what(), "");
      }
    });
  }
  for (auto& t : threads) t.join();
  const double cpu = cpu_seconds() - cpu_before;

  Phases all;
  for (const auto& p : phases) {
    all.warmup.merge(p.warmup);
    all.measured.merge(p.measured);
  }
  const Tally& m = all.measured;
  const double window_s =
      std::chrono::duration<double>(std::max(schedule.end, m.last_done) - schedule.measure_from)
          .count();
  const double wall_s =
      std::chrono::duration<double>(std::max(schedule.end, m.last_done) - schedule.start).count();

  std::printf("vigie-bench-ingest: %s at %s\n", o.target == Target::kVigie ? "vigie" : "influx",
              url.c_str());
  std::printf(
      "  workload %s, %s per request%s\n", workload.c_str(),
      describe_bytes(
          m.requests ? static_cast<double>(m.body_bytes) / static_cast<double>(m.requests) : 0)
          .c_str(),
      o.gzip ? " (gzip)" : "");
  if (o.rate > 0) {
    std::printf(
        "  load     %d keep-alive connections, paced at %.0f samples/s (%.1f requests/s,"
        " open loop), %s warm-up, %s measured\n",
        o.connections, o.rate, requests_per_s, format_duration(o.warmup).c_str(),
        format_duration(o.duration).c_str());
  } else {
    std::printf(
        "  load     %d keep-alive connections, as fast as answered (closed loop), "
        "%s warm-up, %s measured\n",
        o.connections, format_duration(o.warmup).c_str(), format_duration(o.duration).c_str());
  }
  std::printf(
      "%-18s %llu in %.2f s (%llu 2xx, %llu errors), %llu connections opened\n",
      "requests:", static_cast<unsigned long long>(m.requests), window_s,
      static_cast<unsigned long long>(m.stored), static_cast<unsigned long long>(m.error_count()),
      static_cast<unsigned long long>(all.warmup.connections_opened + m.connections_opened));
  if (o.target == Target::kVigie)
    std::printf("%-18s %.0f\n", "results/s:", static_cast<double>(m.results) / window_s);
  std::printf("%-18s %.0f%s\n", "samples/s stored:", static_cast<double>(m.samples) / window_s,
              o.target == Target::kInflux ? " (points, one field each)" : "");
  std::printf("%-18s p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
              "latency ms:", m.latency.percentile_ms(0.50), m.latency.percentile_ms(0.90),
              m.latency.percentile_ms(0.99), m.latency.max_ms());
  print_errors("errors:", m);
  if (all.warmup.error_count() > 0) print_errors("warm-up errors:", all.warmup);
  std::printf("%-18s %llu samples (warm-up included)\n",
              "stored in all:", static_cast<unsigned long long>(all.warmup.samples + m.samples));
  std::printf("%-18s %.1f s (%.0f %% of one core)\n", "client CPU:", cpu, 100 * cpu / wall_s);
  const bool failed = m.error_count() > 0 || all.warmup.error_count() > 0 || m.stored == 0;
  return failed ? 1 : 0;
}

// Generates one report and has the protocol decoder read it: the hand-written encoder
// must say what the collector expects.
Status self_check(const Catalogue& catalogue, const Options& o) {
  Rng rng(1);
  Agent probe(catalogue, agent_id(0), o.site, 1, rng);
  std::string body;
  probe.next_report(o.results_per_report, rng, body);
  auto report = protocol::decode_report(body);
  if (!report)
    return Status::internal("a generated report is invalid: " + report.status().message());
  bool shape_ok = report->results.size() == static_cast<std::size_t>(o.results_per_report);
  for (const auto& r : report->results)
    shape_ok = shape_ok && r.metrics.size() == static_cast<std::size_t>(o.metrics);
  if (!shape_ok) return Status::internal("a generated report does not have the requested shape");
  return Status::ok();
}

int soak(const Options& o, const std::string& base, const Catalogue& catalogue,
         const std::vector<Credential>& credentials) {
  SoakOptions s{.base_url = base,
                .ca_file = o.ca_file,
                .site = o.site,
                .results_per_report = o.results_per_report,
                .connections = o.connections,
                .duration = o.duration,
                .interval = o.interval,
                .timeout = o.timeout,
                .drain = o.drain,
                .timeline_file = o.timeline_file,
                .viewer_token = {}};
  if (!o.viewer_token_file.empty()) {
    auto lines = read_lines(o.viewer_token_file);
    if (!lines) {
      std::cerr << "vigie-bench-ingest: " << lines.status().message() << "\n";
      return 1;
    }
    std::erase(*lines, std::string());
    if (lines->size() != 1 || !is_token_text(lines->front())) {
      std::cerr << "vigie-bench-ingest: " << o.viewer_token_file
                << ": expected one token, in printable ASCII\n";
      return 1;
    }
    s.viewer_token = lines->front();
  }
  return run_soak(s, catalogue, credentials);
}

int bench_vigie(const Options& o) {
  auto base = loopback_base_url(o.url);
  if (!base) {
    std::cerr << "vigie-bench-ingest: --url " << base.status().message() << "\n";
    return 2;
  }
  auto credentials = agent_credentials(o, *base);
  if (!credentials) {
    std::cerr << "vigie-bench-ingest: " << credentials.status().message() << "\n";
    return 1;
  }
  if (o.enroll_only) return 0;
  const Catalogue catalogue(o.checks, o.metrics);
  if (Status s = self_check(catalogue, o); !s) {
    std::cerr << "vigie-bench-ingest: " << s.message() << "\n";
    return 1;
  }
  if (o.soak) return soak(o, *base, catalogue, *credentials);
  // As a real agent with fresh state does: sequence numbers from the current time in
  // ms, above anything an earlier run stored for the same agent.
  const auto first_seq = static_cast<std::uint64_t>(wall_ms());
  std::vector<std::unique_ptr<Source>> sources;
  for (int k = 0; k < o.connections; ++k) {
    std::vector<Credential> mine;
    for (std::size_t i = static_cast<std::size_t>(k); i < credentials->size();
         i += static_cast<std::size_t>(o.connections))
      mine.push_back((*credentials)[i]);
    sources.push_back(std::make_unique<ReportSource>(catalogue, o, mine, first_seq,
                                                     static_cast<std::uint64_t>(k) + 1));
  }
  const RequestShape shape{
      static_cast<std::uint64_t>(o.results_per_report),
      static_cast<std::uint64_t>(o.results_per_report) * static_cast<std::uint64_t>(o.metrics)};
  const std::string workload =
      std::to_string(o.agents) + " agents x " + std::to_string(o.checks) + " checks x " +
      std::to_string(o.metrics) + " metrics (" +
      std::to_string(static_cast<std::int64_t>(o.agents) * o.checks * o.metrics) + " series), " +
      std::to_string(shape.results) + " results = " + std::to_string(shape.samples) + " samples";
  return measure(o, sources, *base + "/api/v1/reports", shape, workload);
}

int bench_influx(const Options& o) {
  auto base = loopback_base_url(o.url);
  if (!base) {
    std::cerr << "vigie-bench-ingest: --url " << base.status().message() << "\n";
    return 2;
  }
  {
    auto client = LoopbackClient::create(o.ca_file, kRequestTimeout);
    if (!client) {
      std::cerr << "vigie-bench-ingest: " << client.status().message() << "\n";
      return 1;
    }
    const LoopbackReply reply =
        client->post(*base + "/query", Headers({"Content-Type: application/x-www-form-urlencoded"}),
                     "q=CREATE%20DATABASE%20bench");
    if (reply.status != 200) {
      std::cerr << "vigie-bench-ingest: cannot create database bench at " << *base << ": "
                << (reply.error.empty() ? "HTTP " + std::to_string(reply.status) + " " + reply.body
                                        : reply.error)
                << "\n";
      return 1;
    }
  }
  const Catalogue catalogue(o.checks, o.metrics);
  std::vector<std::unique_ptr<Source>> sources;
  for (int k = 0; k < o.connections; ++k) {
    std::vector<std::int64_t> mine;
    for (std::int64_t i = k; i < o.series; i += o.connections) mine.push_back(i);
    sources.push_back(
        std::make_unique<LineSource>(catalogue, o, mine, static_cast<std::uint64_t>(k) + 1));
  }
  const RequestShape shape{0, static_cast<std::uint64_t>(o.points_per_request)};
  const std::string workload = std::to_string(o.series) + " series (agents x " +
                               std::to_string(o.checks) + " checks x " + std::to_string(o.metrics) +
                               " metrics), " + std::to_string(o.points_per_request) + " points";
  return measure(o, sources, *base + "/write?db=bench&precision=ms", shape, workload);
}

int run(int argc, char** argv) {
  try {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    for (const auto a : args) {
      if (a == "--help" || a == "-h") {
        std::cout << kUsage;
        return 0;
      }
    }
    auto options = parse_args(args);
    if (!options) {
      std::cerr << "vigie-bench-ingest: " << options.status().message() << "\n\n" << kUsage;
      return 2;
    }
    if (Status s = init_http(); !s) {
      std::cerr << "vigie-bench-ingest: " << s.message() << "\n";
      return 1;
    }
    return options->target == Target::kVigie ? bench_vigie(*options) : bench_influx(*options);
  } catch (const std::exception& e) {
    std::cerr << "vigie-bench-ingest: fatal: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace
}  // namespace vigie::bench::ingest

int main(int argc, char** argv) { return vigie::bench::ingest::run(argc, argv); }
