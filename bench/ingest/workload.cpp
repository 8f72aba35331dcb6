#include "bench/ingest/workload.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/time.hpp"

namespace vigie::bench::ingest {
namespace {

// How one kind of metric looks: unit, thresholds, and the values a check shows in each
// status. Thresholds and values agree: OK values are inside the warning range, WARNING
// values past it but inside the critical range, CRITICAL values past both.
struct MetricKind {
  std::string_view unit;
  std::string_view warn;  // Nagios range, "" for none
  std::string_view crit;
  std::optional<double> min;
  std::optional<double> max;
  int decimals;
  std::array<double, 3> lo;  // OK, WARNING, CRITICAL
  std::array<double, 3> hi;
};

enum Kind : std::size_t {
  kPercentUsed,
  kFreeGb,
  kLoad,
  kLatencyMs,
  kLossPercent,
  kTimeS,
  kCount,
  kSizeGb,
  kBytes,
  kUptimeS,
  kBackupAgeS,
  kThreats,
  kCertValidityS,
  kClockOffsetS,
};

constexpr MetricKind kKinds[] = {
    /* kPercentUsed   */ {"%", "80", "90", 0.0, 100.0, 2, {3, 80.5, 90.5}, {78, 89.5, 99.9}},
    /* kFreeGb        */ {"GB", "10:", "5:", 0.0, {}, 2, {12, 5.5, 0.05}, {900, 9.8, 4.8}},
    /* kLoad          */ {"", "4", "8", 0.0, {}, 2, {0.01, 4.1, 8.2}, {3.5, 7.8, 25}},
    /* kLatencyMs     */ {"ms", "100", "500", 0.0, {}, 3, {0.2, 101, 510}, {60, 480, 2500}},
    /* kLossPercent   */ {"%", "20", "60", 0.0, 100.0, 0, {0, 21, 61}, {0.4, 59, 100}},
    /* kTimeS         */ {"s", "1", "5", 0.0, {}, 3, {0.005, 1.05, 5.2}, {0.8, 4.8, 10}},
    /* kCount         */ {"", "", "", 0.0, {}, 0, {0, 0, 0}, {400, 400, 400}},
    /* kSizeGb        */ {"GB", "", "", 0.0, {}, 2, {0.5, 0.5, 0.5}, {2000, 2000, 2000}},
    /* kBytes         */ {"B", "", "", 0.0, {}, 0, {1e3, 1e3, 1e3}, {5e8, 5e8, 5e8}},
    /* kUptimeS       */ {"s", "", "", 0.0, {}, 0, {600, 600, 600}, {3e7, 3e7, 3e7}},
    /* kBackupAgeS    */
    {"s", "93600", "180000", 0.0, {}, 0, {300, 94000, 181000}, {86400, 179000, 1.2e6}},
    /* kThreats       */ {"", "0", "3", 0.0, {}, 0, {0, 0.6, 3.6}, {0.4, 3.4, 20}},
    /* kCertValidityS */
    {"s", "1209600:", "604800:", 0.0, {}, 0, {1.3e6, 6.1e5, 0}, {7.7e6, 1.2e6, 6e5}},
    /* kClockOffsetS  */ {"s", "-0.5:0.5", "-1:1", {}, {}, 4, {-0.1, 0.51, 1.01}, {0.1, 0.99, 4}},
};

struct MetricEntry {
  std::string_view label;
  Kind kind;
};

struct CheckEntry {
  std::string_view id;    // family/type[:instance]
  std::string_view name;  // the check's name in the agent's configuration
  int interval_s;
  std::array<MetricEntry, 3> metrics;  // metric 0 decides the status
};

// What an agent on a member site runs: the host, the firewall and its links, the Wi-Fi,
// the backups, the antivirus, and Nagios plugins run as external checks.
constexpr CheckEntry kChecks[] = {
    {"system/load", "load", 60, {{{"load1", kLoad}, {"load5", kLoad}, {"load15", kLoad}}}},
    {"system/memory",
     "memory",
     60,
     {{{"used", kPercentUsed}, {"available", kFreeGb}, {"cached", kSizeGb}}}},
    {"system/swap", "swap", 60, {{{"used", kPercentUsed}, {"free", kFreeGb}, {"total", kSizeGb}}}},
    {"system/disk:/",
     "disk-root",
     300,
     {{{"used", kPercentUsed}, {"free", kFreeGb}, {"inodes", kPercentUsed}}}},
    {"system/disk:/srv",
     "disk-srv",
     300,
     {{{"used", kPercentUsed}, {"free", kFreeGb}, {"inodes", kPercentUsed}}}},
    {"system/disk:/var",
     "disk-var",
     300,
     {{{"used", kPercentUsed}, {"free", kFreeGb}, {"inodes", kPercentUsed}}}},
    {"system/disk:/home",
     "disk-home",
     300,
     {{{"used", kPercentUsed}, {"free", kFreeGb}, {"inodes", kPercentUsed}}}},
    {"system/uptime",
     "uptime",
     300,
     {{{"procs", kCount}, {"uptime", kUptimeS}, {"users", kCount}}}},
    {"firewall/sophos:fw-mairie",
     "firewall",
     60,
     {{{"cpu", kPercentUsed}, {"memory", kPercentUsed}, {"sessions", kCount}}}},
    {"firewall/sophos-wan:wan1",
     "wan1",
     60,
     {{{"rtt", kLatencyMs}, {"loss", kLossPercent}, {"rx", kBytes}}}},
    {"firewall/sophos-wan:wan2",
     "wan2",
     60,
     {{{"rtt", kLatencyMs}, {"loss", kLossPercent}, {"rx", kBytes}}}},
    {"firewall/sophos-vpn:mairie-cias",
     "vpn-cias",
     60,
     {{{"rtt", kLatencyMs}, {"loss", kLossPercent}, {"tx", kBytes}}}},
    {"wifi/unifi-vap:Mairie-Public",
     "hotspot-hall",
     60,
     {{{"retries", kLossPercent}, {"clients", kCount}, {"tx", kBytes}}}},
    {"wifi/unifi-vap:Mediatheque-Public",
     "hotspot-library",
     60,
     {{{"retries", kLossPercent}, {"clients", kCount}, {"tx", kBytes}}}},
    {"wifi/unifi-ap:ap-hall",
     "ap-hall",
     60,
     {{{"cpu", kPercentUsed}, {"memory", kPercentUsed}, {"uptime", kUptimeS}}}},
    {"wifi/unifi-ap:ap-salle-des-fetes",
     "ap-festival-hall",
     60,
     {{{"cpu", kPercentUsed}, {"memory", kPercentUsed}, {"uptime", kUptimeS}}}},
    {"wifi/portal:hotspot",
     "portal",
     60,
     {{{"time", kTimeS}, {"sessions", kCount}, {"size", kBytes}}}},
    {"backup/restic:/srv/restic",
     "backup",
     900,
     {{{"age", kBackupAgeS}, {"size", kSizeGb}, {"snapshots", kCount}}}},
    {"backup/borg:/srv/borg",
     "backup-borg",
     900,
     {{{"age", kBackupAgeS}, {"size", kSizeGb}, {"archives", kCount}}}},
    {"backup/avamar:mairie",
     "backup-avamar",
     900,
     {{{"age", kBackupAgeS}, {"size", kSizeGb}, {"files", kCount}}}},
    {"antivirus/clamd",
     "antivirus",
     300,
     {{{"threats", kThreats}, {"scan_time", kLatencyMs}, {"db_age", kUptimeS}}}},
    {"antivirus/signatures",
     "av-signatures",
     3600,
     {{{"age", kBackupAgeS}, {"signatures", kCount}, {"size", kBytes}}}},
    {"external:ping-gw",
     "ping-gw",
     30,
     {{{"rta", kLatencyMs}, {"pl", kLossPercent}, {"rtmax", kLatencyMs}}}},
    {"external:ping-dns",
     "ping-dns",
     30,
     {{{"rta", kLatencyMs}, {"pl", kLossPercent}, {"rtmax", kLatencyMs}}}},
    {"external:ping-isp",
     "ping-isp",
     30,
     {{{"rta", kLatencyMs}, {"pl", kLossPercent}, {"rtmax", kLatencyMs}}}},
    {"external:http-portal",
     "http-portal",
     60,
     {{{"time", kTimeS}, {"size", kBytes}, {"cert_validity", kCertValidityS}}}},
    {"external:dns", "dns", 60, {{{"time", kTimeS}, {"answers", kCount}, {"size", kBytes}}}},
    {"external:ntp",
     "ntp",
     300,
     {{{"offset", kClockOffsetS}, {"jitter", kTimeS}, {"stratum", kCount}}}},
    {"external:smtp-relay",
     "smtp",
     300,
     {{{"time", kTimeS}, {"cert_validity", kCertValidityS}, {"size", kBytes}}}},
    {"system/nftables",
     "nftables",
     300,
     {{{"drops", kThreats}, {"rules", kCount}, {"sets", kCount}}}},
};
constexpr std::size_t kCheckEntries = std::size(kChecks);

// Long-run share of non-OK checks: kFail / (kFail + kRecover), about 4 %.
constexpr double kFailProbability = 0.002;    // per run of an OK check
constexpr double kRecoverProbability = 0.05;  // per run of a non-OK check
constexpr double kWarningShare = 0.75;        // of the failures, the rest is CRITICAL

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_fixed(std::string& out, double v, int decimals) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  out.append(buf, r.ptr);
}

// `text` as a JSON string, quotes included.
std::string json_quoted(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `text` as JSON string content, without the quotes.
std::string json_escaped(std::string_view text) {
  const std::string quoted = json_quoted(text);
  return quoted.substr(1, quoted.size() - 2);
}

// `text` as a line-protocol tag value: commas, equal signs and spaces escaped.
std::string tag_escaped(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == ',' || c == '=' || c == ' ') out += '\\';
    out += c;
  }
  return out;
}

std::size_t state_index(State s) {
  switch (s) {
    case State::kWarning: return 1;
    case State::kCritical: return 2;
    default: return 0;
  }
}

}  // namespace

std::uint64_t Rng::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

bool is_identifier(std::string_view text) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (text.empty() || !alnum(text[0])) return false;
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::string agent_id(int index) {
  std::string number = std::to_string(index + 1);
  if (number.size() < 5) number.insert(0, 5 - number.size(), '0');
  return "bench-" + number;
}

Catalogue::Catalogue(int checks, int metrics) : metrics_(metrics) {
  for (int i = 0; i < checks; ++i) {
    const std::size_t entry_index = static_cast<std::size_t>(i) % kCheckEntries;
    const CheckEntry& entry = kChecks[entry_index];
    const std::size_t round = static_cast<std::size_t>(i) / kCheckEntries;
    std::string id(entry.id);
    std::string name(entry.name);
    if (round > 0) {
      const std::string n = std::to_string(round + 1);
      id.append(id.find(':') == std::string::npos ? ":" : "-").append(n);
      name.append("-").append(n);
    }
    Check check;
    check.entry = entry_index;
    check.id = id;
    check.json_head =
        "{\"name\":" + json_quoted(name) + ",\"check\":" + json_quoted(id) + ",\"status\":";
    check.summary_middle =
        json_escaped(" - " + name + ": " + std::string(entry.metrics[0].label) + " ");
    check.summary_unit = json_escaped(kKinds[entry.metrics[0].kind].unit);
    check.id_tag = tag_escaped(id);
    for (int m = 0; m < metrics; ++m) {
      const MetricEntry& metric = entry.metrics[static_cast<std::size_t>(m) % 3];
      const MetricKind& kind = kKinds[metric.kind];
      std::string label(metric.label);
      if (m >= 3) label.append("_").append(std::to_string(m / 3 + 1));
      check.metric_heads.push_back("{\"name\":" + json_quoted(label) + ",\"value\":");
      std::string tail;
      if (!kind.unit.empty()) tail += ",\"unit\":" + json_quoted(kind.unit);
      if (!kind.warn.empty()) tail += ",\"warn\":" + json_quoted(kind.warn);
      if (!kind.crit.empty()) tail += ",\"crit\":" + json_quoted(kind.crit);
      if (kind.min) tail += ",\"min\":" + nlohmann::json(*kind.min).dump();
      if (kind.max) tail += ",\"max\":" + nlohmann::json(*kind.max).dump();
      check.metric_tails.push_back(tail + "}");
      check.metric_tags.push_back(tag_escaped(label));
      check.metric_names.push_back(label);
    }
    checks_.push_back(std::move(check));
  }
}

std::size_t Catalogue::kind(int check, int metric) const {
  const CheckEntry& entry = kChecks[checks_[static_cast<std::size_t>(check)].entry];
  return entry.metrics[static_cast<std::size_t>(metric) % 3].kind;
}

double Catalogue::value(int check, int metric, State status, Rng& rng) const {
  const MetricKind& k = kKinds[kind(check, metric)];
  const std::size_t s = metric == 0 ? state_index(status) : 0;
  return rng.uniform(k.lo[s], k.hi[s]);
}

void Catalogue::append_value(std::string& out, int check, int metric, double value) const {
  append_fixed(out, value, kKinds[kind(check, metric)].decimals);
}

void Catalogue::append_result(std::string& out, int check, State status, std::int64_t ts_ms,
                              Rng& rng) const {
  const Check& c = checks_[static_cast<std::size_t>(check)];
  const double first = value(check, 0, status, rng);
  out += c.json_head;
  append_int(out, static_cast<int>(status));
  out += ",\"summary\":\"";
  out += state_name(status);
  out += c.summary_middle;
  append_value(out, check, 0, first);
  out += c.summary_unit;
  out += "\",\"metrics\":[";
  for (int m = 0; m < metrics_; ++m) {
    const auto i = static_cast<std::size_t>(m);
    if (m > 0) out += ',';
    out += c.metric_heads[i];
    append_value(out, check, m, m == 0 ? first : value(check, m, status, rng));
    out += c.metric_tails[i];
  }
  out += "],\"ts\":";
  append_int(out, ts_ms);
  out += ",\"duration_ms\":";
  append_int(out, static_cast<std::int64_t>(rng.uniform(2, 1500)));
  out += ",\"interval_s\":";
  append_int(out, kChecks[c.entry].interval_s);
  out += '}';
}

std::string Catalogue::line_prefix(std::string_view agent, std::string_view site, int check,
                                   int metric) const {
  const Check& c = checks_[static_cast<std::size_t>(check)];
  return "vigie,agent=" + tag_escaped(agent) + ",check=" + c.id_tag +
         ",metric=" + c.metric_tags[static_cast<std::size_t>(metric)] +
         ",site=" + tag_escaped(site) + " value=";
}

State next_status(State status, Rng& rng) {
  if (status == State::kOk) {
    if (rng.uniform() >= kFailProbability) return State::kOk;
    return rng.uniform() < kWarningShare ? State::kWarning : State::kCritical;
  }
  return rng.uniform() < kRecoverProbability ? State::kOk : status;
}

State initial_status(Rng& rng) {
  const double not_ok = kFailProbability / (kFailProbability + kRecoverProbability);
  if (rng.uniform() >= not_ok) return State::kOk;
  return rng.uniform() < kWarningShare ? State::kWarning : State::kCritical;
}

Agent::Agent(const Catalogue& catalogue, std::string id, std::string site, std::uint64_t first_seq,
             Rng& rng)
    : catalogue_(catalogue), id_(std::move(id)), seq_(first_seq) {
  head_ = "{\"protocol\":1,\"agent\":{\"id\":" + json_quoted(id_) +
          ",\"site\":" + json_quoted(site) + ",\"hostname\":" + json_quoted(id_) +
          ",\"version\":" + json_quoted(VIGIE_VERSION) + "},\"seq\":";
  for (int c = 0; c < catalogue_.checks(); ++c) status_.push_back(initial_status(rng));
}

Agent::Written Agent::next_report(int results, Rng& rng, std::string& body) {
  body.clear();
  body += head_;
  const Written written{seq_, next_check_, std::max(wall_ms(), last_ts_ms_ + 1), results};
  append_int(body, static_cast<std::int64_t>(seq_++));
  body += ",\"results\":[";
  // Each result a millisecond after the last: a series' timestamps strictly increase.
  const std::int64_t ts = written.first_ts_ms;
  for (int r = 0; r < results; ++r) {
    if (r > 0) body += ',';
    const int check = next_check_;
    next_check_ = (next_check_ + 1) % catalogue_.checks();
    State& status = status_[static_cast<std::size_t>(check)];
    status = next_status(status, rng);
    catalogue_.append_result(body, check, status, ts + r, rng);
  }
  last_ts_ms_ = ts + results - 1;
  body += "]}";
  return written;
}

SeriesSet::SeriesSet(const Catalogue& catalogue, const std::string& site,
                     const std::vector<std::int64_t>& indices, Rng& rng)
    : catalogue_(catalogue) {
  const std::int64_t per_agent =
      static_cast<std::int64_t>(catalogue.checks()) * catalogue.metrics();
  series_.reserve(indices.size());
  for (const std::int64_t index : indices) {
    const int agent = static_cast<int>(index / per_agent);
    const int check = static_cast<int>(index % per_agent / catalogue.metrics());
    const int metric = static_cast<int>(index % catalogue.metrics());
    series_.push_back({catalogue.line_prefix(agent_id(agent), site, check, metric), check, metric,
                       initial_status(rng), 0});
  }
}

void SeriesSet::next_lines(int points, Rng& rng, std::string& body) {
  body.clear();
  const std::int64_t now = wall_ms();
  for (int p = 0; p < points; ++p) {
    Series& s = series_[next_];
    next_ = (next_ + 1) % series_.size();
    if (s.metric == 0) s.status = next_status(s.status, rng);
    s.last_ts_ms = std::max(now, s.last_ts_ms + 1);
    body += s.prefix;
    catalogue_.append_value(body, s.check, s.metric,
                            catalogue_.value(s.check, s.metric, s.status, rng));
    body += ' ';
    append_int(body, s.last_ts_ms);
    body += '\n';
  }
}

}  // namespace vigie::bench::ingest
