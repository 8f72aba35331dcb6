#include "agent/config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <system_error>
#include <tuple>
#include <utility>

#include "agent/json_lines.hpp"
#include "common/duration.hpp"
#include "common/file.hpp"
#include "common/protocol.hpp"
#include "plugins/registry.hpp"
#include "plugins/snmp/devices.hpp"
#include "plugins/snmp/wire.hpp"

namespace vigie::agent {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxIdentifier = 64;
constexpr std::size_t kMaxBatch = protocol::Limits{}.max_results;
constexpr milliseconds kMinPeriod{1000};
constexpr milliseconds kMaxInterval{366LL * 86'400'000};  // the protocol's bound on interval_s
constexpr std::size_t kMaxCheckId = protocol::Limits{}.max_string;
constexpr std::size_t kMaxQuoted = 60;  // bytes of a value quoted in an error message
constexpr milliseconds kMaxDefaultSplay{60'000};

constexpr std::string_view kTopKeys[] = {"agent",   "collector", "spool", "defaults",
                                         "devices", "traps",     "checks"};
constexpr std::string_view kTrapsKeys[] = {"listen",    "rate",       "burst",
                                           "engine_id", "poll_delay", "poll_gap"};
constexpr std::string_view kSpoolKeys[] = {"path", "max_mb", "max_age"};
constexpr std::size_t kMaxSpoolMb = 1024 * 1024;
constexpr std::string_view kAgentKeys[] = {"id", "site", "max_concurrent_checks"};
constexpr std::size_t kMaxConcurrentChecks = 64;
constexpr std::string_view kCollectorKeys[] = {"url",           "ca_file",    "token_file",
                                               "client_cert",   "client_key", "batch_max",
                                               "send_interval", "retry_max"};
constexpr std::string_view kDefaultsKeys[] = {"interval", "timeout", "splay"};

struct Defaults {
  milliseconds interval{60'000};
  milliseconds timeout{10'000};
  std::optional<milliseconds> splay;
};

Status field_error(std::string_view path, std::string_view reason) {
  std::string m(path);
  m += ": ";
  m += reason;
  return Status::invalid(std::move(m));
}

std::string member_path(std::string_view parent, std::string_view key) {
  std::string p(parent);
  if (!p.empty()) p += '.';
  p += key;
  return p;
}

std::string in_quotes(std::string_view s) {
  if (s.size() <= kMaxQuoted) return "\"" + std::string(s) + "\"";
  return "\"" + std::string(s.substr(0, kMaxQuoted)) + "...\"";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

Status check_keys(const json& object, std::string_view parent,
                  std::span<const std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string reason = "unknown key";
    std::string_view best;
    std::size_t best_distance = 3;  // suggest only near misses
    for (std::string_view k : known) {
      const std::size_t d = edit_distance(key, k);
      if (d < best_distance) {
        best = k;
        best_distance = d;
      }
    }
    if (!best.empty()) reason += " (did you mean " + in_quotes(best) + "?)";
    reason += "; known keys:";
    for (std::string_view k : known) reason += " " + std::string(k);
    return field_error(member_path(parent, key), reason);
  }
  return Status::ok();
}

// Reads object[key] as a string into *out. An absent key leaves *out alone and is an
// error only when `required`.
Status read_string(const json& object, std::string_view parent, std::string_view key, bool required,
                   std::string* out) {
  const auto it = object.find(key);
  if (it == object.end()) {
    return required ? field_error(member_path(parent, key), "required") : Status::ok();
  }
  if (!it->is_string()) {
    return field_error(member_path(parent, key),
                       std::string("expected a string, got ") + it->type_name());
  }
  *out = it->get<std::string>();
  return Status::ok();
}

Status check_identifier(std::string_view path, std::string_view value) {
  if (value.empty()) return field_error(path, "must not be empty");
  if (value.size() > kMaxIdentifier) {
    return field_error(
        path, in_quotes(value) + ": longer than " + std::to_string(kMaxIdentifier) + " characters");
  }
  if (!std::isalnum(static_cast<unsigned char>(value.front()))) {
    return field_error(path, in_quotes(value) + ": must start with a letter or a digit");
  }
  for (unsigned char c : value) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') {
      return field_error(path,
                         in_quotes(value) + ": only letters, digits, '.', '_' and '-' are allowed");
    }
  }
  return Status::ok();
}

Status read_identifier(const json& object, std::string_view parent, std::string_view key,
                       std::string* out) {
  if (Status s = read_string(object, parent, key, true, out); !s) return s;
  return check_identifier(member_path(parent, key), *out);
}

Status read_path(const json& object, std::string_view parent, std::string_view key,
                 std::string* out) {
  if (Status s = read_string(object, parent, key, false, out); !s) return s;
  if (object.contains(key) && (out->empty() || out->front() != '/')) {
    return field_error(member_path(parent, key), in_quotes(*out) + ": must be an absolute path");
  }
  return Status::ok();
}

// Reads object[key] as a duration in [min, max] into *out; absent leaves it alone.
Status read_duration(const json& object, std::string_view parent, std::string_view key,
                     milliseconds min, std::optional<milliseconds>* out,
                     milliseconds max = kMaxInterval) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  const std::string path = member_path(parent, key);
  if (!it->is_string()) {
    return field_error(
        path, std::string("expected a duration string such as \"30s\", got ") + it->type_name());
  }
  const std::string& text = it->get_ref<const std::string&>();
  auto parsed = parse_duration(text);
  if (!parsed) return field_error(path, parsed.status().message());
  if (*parsed < min) {
    return field_error(path, in_quotes(text) + ": must be at least " + format_duration(min));
  }
  if (*parsed > max) {
    return field_error(path, in_quotes(text) + ": must be at most " + format_duration(max));
  }
  *out = *parsed;
  return Status::ok();
}

Status read_count(const json& object, std::string_view parent, std::string_view key,
                  std::size_t min, std::size_t max, std::size_t* out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  const std::string path = member_path(parent, key);
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!it->is_number_integer()) {
    return field_error(path, "expected an integer " + range + ", got " + it->dump());
  }
  const bool in_range = it->is_number_unsigned() && it->get<std::uint64_t>() >= min &&
                        it->get<std::uint64_t>() <= max;
  if (!in_range) return field_error(path, it->dump() + ": must be in " + range);
  *out = it->get<std::size_t>();
  return Status::ok();
}

bool is_loopback_host(std::string_view host) {
  const bool ipv4_loopback =
      host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string_view::npos;
  return ipv4_loopback || host == "localhost" || host == "[::1]";
}

// Checks an http(s) base URL and returns it without a trailing '/'.
Result<std::string> check_url(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return Status::invalid(in_quotes(url) + ": " + std::string(why));
  };
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) {
    return bad("must start with https:// (or http:// for a collector on this machine)");
  }
  for (unsigned char c : url) {
    if (c <= ' ' || c >= 0x7f) return bad("contains a space or a non-ASCII character");
  }
  const std::string_view rest = url.substr(https ? 8 : 7);
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view base = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (base.find_first_of("?#") != std::string_view::npos) {
    return bad("must not have a query or a fragment");
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the url are not supported (use collector.token_file)");
  }
  std::string_view host;
  std::string_view tail;             // ":port" or ""
  if (authority.starts_with('[')) {  // an IPv6 literal
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = authority.substr(0, close + 1);
    tail = authority.substr(close + 1);
    for (unsigned char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(c) && c != ':' && c != '.') return bad("bad IPv6 address");
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    tail = colon == std::string_view::npos ? "" : authority.substr(colon);
    for (unsigned char c : host) {
      if (!std::isalnum(c) && c != '-' && c != '.') return bad("bad host name");
    }
  }
  if (host.empty() || host == "[]") return bad("missing host");
  if (!tail.empty()) {
    const std::string_view port = tail.substr(1);
    int number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (tail[0] != ':' || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
        number < 1 || number > 65535) {
      return bad("the port must be a number 1..65535");
    }
  }
  if (!https && !is_loopback_host(host)) {
    return bad(
        "plain http is only allowed to a collector on this machine (localhost, "
        "127.0.0.1, [::1]); use https://");
  }
  std::string clean(url);
  while (clean.ends_with('/')) clean.pop_back();
  return clean;
}

Status parse_agent(const json& root, Config* config) {
  const auto it = root.find("agent");
  if (it == root.end()) return field_error("agent", "required");
  if (!it->is_object()) {
    return field_error("agent", std::string("expected an object, got ") + it->type_name());
  }
  if (Status s = check_keys(*it, "agent", kAgentKeys); !s) return s;
  if (Status s = read_identifier(*it, "agent", "id", &config->agent_id); !s) return s;
  if (Status s = read_count(*it, "agent", "max_concurrent_checks", 1, kMaxConcurrentChecks,
                            &config->max_concurrent_checks);
      !s) {
    return s;
  }
  return read_identifier(*it, "agent", "site", &config->site);
}

Status parse_collector(const json& root, CollectorConfig* collector) {
  const auto it = root.find("collector");
  if (it == root.end()) return field_error("collector", "required");
  if (!it->is_object()) {
    return field_error("collector", std::string("expected an object, got ") + it->type_name());
  }
  const json& object = *it;
  if (Status s = check_keys(object, "collector", kCollectorKeys); !s) return s;
  if (Status s = read_string(object, "collector", "url", true, &collector->url); !s) return s;
  auto url = check_url(collector->url);
  if (!url) return url.status().with_context("collector.url");
  collector->url = *url;
  if (Status s = read_path(object, "collector", "ca_file", &collector->ca_file); !s) return s;
  if (Status s = read_path(object, "collector", "token_file", &collector->token_file); !s) {
    return s;
  }
  if (Status s = read_count(object, "collector", "batch_max", 1, kMaxBatch, &collector->batch_max);
      !s) {
    return s;
  }
  std::optional<milliseconds> send_interval;
  if (Status s = read_duration(object, "collector", "send_interval", kMinPeriod, &send_interval);
      !s) {
    return s;
  }
  if (send_interval) collector->send_interval = *send_interval;
  std::optional<milliseconds> retry_max;
  if (Status s = read_duration(object, "collector", "retry_max", kMinPeriod, &retry_max,
                               std::chrono::hours(1));
      !s) {
    return s;
  }
  if (retry_max) collector->retry_max = *retry_max;
  if (Status s = read_path(object, "collector", "client_cert", &collector->client_cert); !s) {
    return s;
  }
  if (Status s = read_path(object, "collector", "client_key", &collector->client_key); !s) {
    return s;
  }
  if (collector->client_cert.empty() != collector->client_key.empty()) {
    return field_error(
        collector->client_cert.empty() ? "collector.client_key" : "collector.client_cert",
        "client_cert and client_key go together: give both or neither");
  }
  return Status::ok();
}

Status parse_spool(const json& root, SpoolConfig* spool) {
  const auto it = root.find("spool");
  if (it == root.end()) return Status::ok();
  if (!it->is_object()) {
    return field_error("spool", std::string("expected an object, got ") + it->type_name());
  }
  const json& object = *it;
  if (Status s = check_keys(object, "spool", kSpoolKeys); !s) return s;
  if (Status s = read_path(object, "spool", "path", &spool->path); !s) return s;
  if (const auto mb = object.find("max_mb"); mb != object.end()) {
    // Fractions allowed: a small box may spare only a few hundred kilobytes.
    if (!mb->is_number() || mb->get<double>() < 0.01 ||
        mb->get<double>() > static_cast<double>(kMaxSpoolMb)) {
      return field_error("spool.max_mb", mb->dump() + ": must be a number of megabytes in 0.01.." +
                                             std::to_string(kMaxSpoolMb));
    }
    spool->max_mb = mb->get<double>();
  }
  std::optional<milliseconds> max_age;
  if (Status s = read_duration(object, "spool", "max_age", std::chrono::minutes(1), &max_age,
                               milliseconds(3650LL * 86'400'000));
      !s) {
    return s;
  }
  if (max_age) spool->max_age = *max_age;
  return Status::ok();
}

// "ADDR:PORT" or "[ADDR]:PORT", ADDR an IP address (the agent listens on it).
Status check_listen(std::string_view path, const std::string& listen) {
  const auto colon = listen.rfind(':');
  const auto bad = [&](std::string_view why) {
    return field_error(path, in_quotes(listen) + ": " + std::string(why) +
                                 " (e.g. \"0.0.0.0:10162\" or \"[::]:10162\")");
  };
  if (colon == std::string::npos) return bad("expected ADDR:PORT");
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  const bool v6 = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (v6) host = host.substr(1, host.size() - 2);
  unsigned char buffer[16];
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buffer) != 1)
    return bad(v6 ? "not an IPv6 address" : "not an IPv4 address (IPv6 in brackets)");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("the port must be 0..65535");
  return Status::ok();
}

// 0x80001f88 (RFC 3411: the enterprise, Net-SNMP's, with the high bit), 04 (text), then
// "vigie:" and the agent id, cut to the 27 bytes of text allowed.
std::string default_engine_id(const std::string& agent_id) {
  std::string id("\x80\x00\x1f\x88\x04", 5);
  id += ("vigie:" + agent_id).substr(0, 27);
  return id;
}

Status parse_traps(const json& root, Config* config) {
  const auto it = root.find("traps");
  if (it == root.end()) return Status::ok();
  if (!it->is_object())
    return field_error("traps", std::string("expected an object, got ") + it->type_name());
  const json& object = *it;
  if (Status s = check_keys(object, "traps", kTrapsKeys); !s) return s;
  if (!config->snmp_devices || config->snmp_devices->names().empty())
    return field_error("traps",
                       "traps are accepted from the devices only, and \"devices\" "
                       "declares none");
  TrapsConfig traps;
  if (Status s = read_string(object, "traps", "listen", false, &traps.listen); !s) return s;
  if (Status s = check_listen("traps.listen", traps.listen); !s) return s;
  for (auto [key, out, min, max] : {std::tuple{"rate", &traps.rate, 0.01, 10'000.0},
                                    std::tuple{"burst", &traps.burst, 1.0, 100'000.0}}) {
    const auto value = object.find(key);
    if (value == object.end()) continue;
    if (!value->is_number() || value->get<double>() < min || value->get<double>() > max) {
      return field_error(member_path("traps", key), value->dump() + ": must be a number in " +
                                                        json(min).dump() + ".." + json(max).dump());
    }
    *out = value->get<double>();
  }
  std::string engine;
  if (Status s = read_string(object, "traps", "engine_id", false, &engine); !s) return s;
  if (object.contains("engine_id")) {
    auto bytes = plugins::snmp::parse_engine_id(engine);
    if (!bytes) return field_error("traps.engine_id", bytes.status().message());
    traps.engine_id = std::move(*bytes);
  } else {
    traps.engine_id = default_engine_id(config->agent_id);
  }
  std::optional<milliseconds> delay;
  std::optional<milliseconds> gap;
  if (Status s = read_duration(object, "traps", "poll_delay", milliseconds(0), &delay,
                               std::chrono::minutes(10));
      !s)
    return s;
  if (Status s =
          read_duration(object, "traps", "poll_gap", kMinPeriod, &gap, std::chrono::hours(24));
      !s)
    return s;
  if (delay) traps.poll_delay = *delay;
  if (gap) traps.poll_gap = *gap;
  config->traps = std::move(traps);
  return Status::ok();
}

Status parse_defaults(const json& root, Defaults* defaults) {
  const auto it = root.find("defaults");
  if (it == root.end()) return Status::ok();
  if (!it->is_object()) {
    return field_error("defaults", std::string("expected an object, got ") + it->type_name());
  }
  if (Status s = check_keys(*it, "defaults", kDefaultsKeys); !s) return s;
  std::optional<milliseconds> interval;
  std::optional<milliseconds> timeout;
  if (Status s = read_duration(*it, "defaults", "interval", kMinPeriod, &interval); !s) return s;
  if (Status s = read_duration(*it, "defaults", "timeout", kMinPeriod, &timeout); !s) return s;
  if (Status s = read_duration(*it, "defaults", "splay", milliseconds(0), &defaults->splay); !s) {
    return s;
  }
  if (interval) defaults->interval = *interval;
  if (timeout) defaults->timeout = *timeout;
  return Status::ok();
}

// Prefixes a check's configure() message with the check's path: "command: must be..."
// becomes "checks[3].command: must be...".
Status configure_error(std::string_view path, const Status& status) {
  const std::string& m = status.message();
  const std::size_t end = m.find_first_of(":.[ ");
  const bool names_parameter = end != std::string::npos && end > 0 && m[end] != ' ';
  return Status(status.code(), std::string(path) + (names_parameter ? "." : ": ") + m);
}

Status configure_check(plugins::Check& check, const json& params, std::string_view path) {
  Status status;
  try {
    status = check.configure(params);
  } catch (const std::exception& e) {  // a check invocation is a boundary
    status = Status::invalid(std::string("check rejected its parameters: ") + e.what());
  }
  return status ? status : configure_error(path, status);
}

Status parse_check(const json& item, const std::string& path, const Defaults& defaults,
                   const plugins::Environment& env, ConfiguredCheck* out) {
  if (!item.is_object()) {
    return field_error(path, std::string("expected an object, got ") + item.type_name());
  }
  if (Status s = read_identifier(item, path, "name", &out->name); !s) return s;
  if (Status s = read_string(item, path, "type", true, &out->type); !s) return s;
  auto type = plugins::find_check_type(out->type);
  if (!type) return field_error(member_path(path, "type"), type.status().message());
  if (out->type == kSelfCheckType) {
    return field_error(member_path(path, "type"),
                       "\"agent/self\" is built in and always on: remove this check");
  }

  std::optional<milliseconds> interval;
  std::optional<milliseconds> timeout;
  std::optional<milliseconds> splay;
  if (Status s = read_duration(item, path, "interval", kMinPeriod, &interval); !s) return s;
  if (Status s = read_duration(item, path, "timeout", kMinPeriod, &timeout); !s) return s;
  if (Status s = read_duration(item, path, "splay", milliseconds(0), &splay); !s) return s;
  out->interval = interval.value_or(defaults.interval);
  const std::string every = " (every " + format_duration(out->interval) + ")";
  if (timeout && *timeout > out->interval) {
    return field_error(
        member_path(path, "timeout"),
        in_quotes(format_duration(*timeout)) + ": longer than the check's interval" + every);
  }
  if (splay && *splay > out->interval) {
    return field_error(
        member_path(path, "splay"),
        in_quotes(format_duration(*splay)) + ": longer than the check's interval" + every);
  }
  out->timeout = timeout.value_or(std::min(defaults.timeout, out->interval));
  out->splay = splay.value_or(std::min(
      defaults.splay.value_or(std::min(out->interval / 10, kMaxDefaultSplay)), out->interval));

  out->check = (*type)->make();
  out->check->attach(env);
  if (Status s = configure_check(*out->check, item, path); !s) return s;
  // The device it reads, if any: a trap from it runs the check at once (agent/traps.hpp).
  if (const auto device = item.find("device");
      device != item.end() && device->is_string() && env.devices &&
      env.devices->options(device->get<std::string>()) != nullptr)
    out->device = device->get<std::string>();
  if (out->type == "external") {
    out->id = "external:" + out->name;
  } else {
    const std::string instance = out->check->instance();
    out->id = instance.empty() ? out->type : out->type + ":" + instance;
  }
  const bool control = std::any_of(out->id.begin(), out->id.end(),
                                   [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  if (control || out->id.size() > kMaxCheckId) {
    return field_error(path, "check id " + in_quotes(out->id) + ": must be at most " +
                                 std::to_string(kMaxCheckId) + " bytes without control characters");
  }
  return Status::ok();
}

Status parse_checks(const json& root, const Defaults& defaults, const plugins::Environment& env,
                    std::vector<ConfiguredCheck>* checks) {
  const auto it = root.find("checks");
  if (it == root.end()) return field_error("checks", "required");
  if (!it->is_array()) {
    return field_error("checks", std::string("expected an array, got ") + it->type_name());
  }
  if (it->empty()) return field_error("checks", "lists no check");
  std::map<std::string, std::size_t, std::less<>> by_name;
  std::map<std::string, std::size_t, std::less<>> by_id;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string path = "checks[" + std::to_string(i) + "]";
    ConfiguredCheck check;
    if (Status s = parse_check((*it)[i], path, defaults, env, &check); !s) return s;
    if (const auto [dup, added] = by_name.emplace(check.name, i); !added) {
      return field_error(member_path(path, "name"), "duplicate name " + in_quotes(check.name) +
                                                        " (also checks[" +
                                                        std::to_string(dup->second) + "])");
    }
    if (const auto [dup, added] = by_id.emplace(check.id, i); !added) {
      return field_error(path, "check id " + in_quotes(check.id) + " is also the id of checks[" +
                                   std::to_string(dup->second) +
                                   "]: two checks may not watch the same thing");
    }
    checks->push_back(std::move(check));
  }
  return Status::ok();
}

Result<Config> parse_document(const json& root) {
  if (!root.is_object()) {
    return Status::invalid(std::string("expected an object at the top level, got ") +
                           root.type_name());
  }
  Config config;
  Defaults defaults;
  if (Status s = check_keys(root, "", kTopKeys); !s) return s;
  if (Status s = parse_agent(root, &config); !s) return s;
  if (Status s = parse_collector(root, &config.collector); !s) return s;
  if (Status s = parse_spool(root, &config.spool); !s) return s;
  if (Status s = parse_defaults(root, &defaults); !s) return s;
  if (const auto it = root.find("devices"); it != root.end()) {
    if (!it->is_object()) {
      return field_error("devices", std::string("expected an object, got ") + it->type_name());
    }
    config.devices = *it;
    auto devices = plugins::snmp::Devices::create(*it);
    if (!devices) return devices.status();
    config.snmp_devices = std::move(*devices);
  }
  if (Status s = parse_traps(root, &config); !s) return s;
  plugins::Environment env;
  env.devices = config.snmp_devices;
  if (Status s = parse_checks(root, defaults, env, &config.checks); !s) return s;
  return config;
}

// nlohmann's what() is "[json.exception.parse_error.101] parse error at line 3, column 5:
// <reason>"; keep the reason, the position is given as file:line:column.
std::string parse_error_reason(const std::string& what) {
  std::size_t start = what.find("] ");
  start = start == std::string::npos ? 0 : start + 2;
  if (what.compare(start, 11, "parse error") == 0) {
    const std::size_t colon = what.find(": ", start);
    if (colon != std::string::npos) return what.substr(colon + 2);
  }
  return what.substr(start);
}

// Line and column (both from 1) of the byte nlohmann reports: the 1-based index of the
// last character it read (size + 1 at the end of the input).
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t byte) {
  const std::size_t index = std::min(byte == 0 ? 0 : byte - 1, text.size());
  const std::string_view before = text.substr(0, index);
  const std::size_t line =
      1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t newline = before.rfind('\n');
  const std::size_t column = newline == std::string_view::npos ? index + 1 : index - newline;
  return {line, column};
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view origin) {
  json root;
  try {
    root = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    const auto [line, column] = line_column(text, e.byte);
    return Status::invalid(std::string(origin) + ":" + std::to_string(line) + ":" +
                           std::to_string(column) + ": " + parse_error_reason(e.what()));
  } catch (const json::exception& e) {
    return Status::invalid(std::string(origin) + ": " + parse_error_reason(e.what()));
  }
  auto config = parse_document(root);
  if (!config) {
    // "checks[2].interval: ..." -> "FILE:LINE: checks[2].interval: ...", as compilers
    // write it, so that an editor jumps to the line.
    const std::string& message = config.status().message();
    const auto colon = message.find(": ");
    const std::string_view path = std::string_view(message).substr(0, colon);
    const bool is_path =
        colon != std::string::npos && path.find_first_of(" \"'") == std::string_view::npos;
    if (const std::size_t line = is_path ? line_of(text, path) : 0; line > 0)
      return Status::invalid(std::string(origin) + ":" + std::to_string(line) + ": " + message);
    return config.status().with_context(origin);
  }
  config->path = std::string(origin);
  return config;
}

Result<Config> load_config(const std::filesystem::path& path) {
  auto text = read_file(path.string(), kMaxFileBytes);
  if (!text) return text.status();
  return parse_config(*text, path.string());
}

}  // namespace vigie::agent
