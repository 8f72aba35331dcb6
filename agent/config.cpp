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
#include <system_error>
#include <tuple>
#include <utility>

#include "agent/json_lines.hpp"
#include "common/config_fields.hpp"
#include "common/duration.hpp"
#include "common/file.hpp"
#include "common/json_parse.hpp"
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
                                               "send_interval", "retry_max",  "config_poll"};
constexpr std::string_view kDefaultsKeys[] = {"interval", "timeout", "splay"};

struct Defaults {
  milliseconds interval{60'000};
  milliseconds timeout{10'000};
  std::optional<milliseconds> splay;
};

// A period between two runs or sends: at least 1 s, at most what the protocol carries.
constexpr DurationRule kPeriod{.min = kMinPeriod, .max = kMaxInterval};

Status check_identifier(std::string_view path, std::string_view value) {
  if (value.size() > kMaxIdentifier) {
    return field_error(
        path, quote(value) + ": longer than " + std::to_string(kMaxIdentifier) + " characters");
  }
  if (!std::isalnum(static_cast<unsigned char>(value.front()))) {
    return field_error(path, quote(value) + ": must start with a letter or a digit");
  }
  for (unsigned char c : value) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') {
      return field_error(path,
                         quote(value) + ": only letters, digits, '.', '_' and '-' are allowed");
    }
  }
  return Status::ok();
}

Status read_identifier(const Fields& fields, std::string_view key, std::string& out) {
  if (Status s = read_string(fields, key, out, {.required = true}); !s) return s;
  return check_identifier(fields.path_of(key), out);
}

bool is_loopback_host(std::string_view host) {
  const bool ipv4_loopback =
      host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string_view::npos;
  return ipv4_loopback || host == "localhost" || host == "[::1]";
}

// Checks an http(s) base URL and returns it without a trailing '/'.
Result<std::string> check_url(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return Status::invalid(quote(url) + ": " + std::string(why));
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
  const json* object = nullptr;
  if (Status s = read_object(root, "agent", object, /*required=*/true); !s) return s;
  const Fields agent{*object, "agent"};
  if (Status s = check_keys(agent, kAgentKeys); !s) return s;
  if (Status s = read_identifier(agent, "id", config->agent_id); !s) return s;
  if (Status s = read_integer(agent, "max_concurrent_checks", 1, kMaxConcurrentChecks,
                              config->max_concurrent_checks);
      !s) {
    return s;
  }
  return read_identifier(agent, "site", config->site);
}

Status parse_collector(const json& root, CollectorConfig* collector) {
  const json* object = nullptr;
  if (Status s = read_object(root, "collector", object, /*required=*/true); !s) return s;
  const Fields fields{*object, "collector"};
  if (Status s = check_keys(fields, kCollectorKeys); !s) return s;
  if (Status s = read_string(fields, "url", collector->url, {.required = true}); !s) return s;
  auto url = check_url(collector->url);
  if (!url) return url.status().with_context("collector.url");
  collector->url = *url;
  for (const auto& [key, out] :
       {std::pair{"ca_file", &collector->ca_file}, std::pair{"token_file", &collector->token_file},
        std::pair{"client_cert", &collector->client_cert},
        std::pair{"client_key", &collector->client_key}}) {
    if (Status s = read_absolute_path(fields, key, *out); !s) return s;
  }
  if (Status s = read_integer(fields, "batch_max", 1, kMaxBatch, collector->batch_max); !s) {
    return s;
  }
  if (Status s = read_duration(fields, "send_interval", kPeriod, collector->send_interval); !s) {
    return s;
  }
  if (Status s =
          read_duration(fields, "retry_max", {.min = kMinPeriod, .max = std::chrono::hours(1)},
                        collector->retry_max);
      !s) {
    return s;
  }
  if (Status s = read_duration(fields, "config_poll", kPeriod, collector->config_poll); !s) {
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
  const json* object = nullptr;
  if (Status s = read_object(root, "spool", object); !s || object == nullptr) return s;
  const Fields fields{*object, "spool"};
  if (Status s = check_keys(fields, kSpoolKeys); !s) return s;
  if (Status s = read_absolute_path(fields, "path", spool->path); !s) return s;
  // Fractions allowed: a small box may spare only a few hundred kilobytes.
  if (Status s = read_number(fields, "max_mb", 0.01, kMaxSpoolMb, spool->max_mb); !s) return s;
  return read_duration(fields, "max_age",
                       {.min = std::chrono::minutes(1), .max = milliseconds(3650LL * 86'400'000)},
                       spool->max_age);
}

// "ADDR:PORT" or "[ADDR]:PORT", ADDR an IP address (the agent listens on it).
Status check_listen(std::string_view path, const std::string& listen) {
  const auto colon = listen.rfind(':');
  const auto bad = [&](std::string_view why) {
    return field_error(path, quote(listen) + ": " + std::string(why) +
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
  const json* object = nullptr;
  if (Status s = read_object(root, "traps", object); !s || object == nullptr) return s;
  const Fields fields{*object, "traps"};
  if (Status s = check_keys(fields, kTrapsKeys); !s) return s;
  if (!config->snmp_devices || config->snmp_devices->names().empty())
    return field_error("traps",
                       "traps are accepted from the devices only, and \"devices\" "
                       "declares none");
  TrapsConfig traps;
  if (Status s = read_string(fields, "listen", traps.listen); !s) return s;
  if (Status s = check_listen(fields.path_of("listen"), traps.listen); !s) return s;
  if (Status s = read_number(fields, "rate", 0.01, 10'000.0, traps.rate); !s) return s;
  if (Status s = read_number(fields, "burst", 1.0, 100'000.0, traps.burst); !s) return s;
  if (fields.object.contains("engine_id")) {
    std::string engine;
    if (Status s = read_string(fields, "engine_id", engine, {.allow_empty = true}); !s) return s;
    auto bytes = plugins::snmp::parse_engine_id(engine);
    if (!bytes) return field_error(fields.path_of("engine_id"), bytes.status().message());
    traps.engine_id = std::move(*bytes);
  } else {
    traps.engine_id = default_engine_id(config->agent_id);
  }
  if (Status s = read_duration(fields, "poll_delay",
                               {.min = milliseconds(0), .max = std::chrono::minutes(10)},
                               traps.poll_delay);
      !s)
    return s;
  if (Status s = read_duration(fields, "poll_gap",
                               {.min = kMinPeriod, .max = std::chrono::hours(24)}, traps.poll_gap);
      !s)
    return s;
  config->traps = std::move(traps);
  return Status::ok();
}

Status parse_defaults(const json& root, Defaults* defaults) {
  const json* object = nullptr;
  if (Status s = read_object(root, "defaults", object); !s || object == nullptr) return s;
  const Fields fields{*object, "defaults"};
  if (Status s = check_keys(fields, kDefaultsKeys); !s) return s;
  if (Status s = read_duration(fields, "interval", kPeriod, defaults->interval); !s) return s;
  if (Status s = read_duration(fields, "timeout", kPeriod, defaults->timeout); !s) return s;
  return read_duration(fields, "splay", {.min = milliseconds(0), .max = kMaxInterval},
                       defaults->splay);
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
  const Fields fields{item, path};
  if (Status s = read_identifier(fields, "name", out->name); !s) return s;
  if (Status s = read_string(fields, "type", out->type, {.required = true}); !s) return s;
  auto type = plugins::find_check_type(out->type);
  if (!type) return field_error(fields.path_of("type"), type.status().message());
  if (out->type == kSelfCheckType) {
    return field_error(fields.path_of("type"),
                       "\"agent/self\" is built in and always on: remove this check");
  }

  std::optional<milliseconds> interval;
  std::optional<milliseconds> timeout;
  std::optional<milliseconds> splay;
  if (Status s = read_duration(fields, "interval", kPeriod, interval); !s) return s;
  if (Status s = read_duration(fields, "timeout", kPeriod, timeout); !s) return s;
  if (Status s =
          read_duration(fields, "splay", {.min = milliseconds(0), .max = kMaxInterval}, splay);
      !s) {
    return s;
  }
  out->interval = interval.value_or(defaults.interval);
  const std::string every = " (every " + format_duration(out->interval) + ")";
  if (timeout && *timeout > out->interval) {
    return field_error(fields.path_of("timeout"), quote(format_duration(*timeout)) +
                                                      ": longer than the check's interval" + every);
  }
  if (splay && *splay > out->interval) {
    return field_error(fields.path_of("splay"), quote(format_duration(*splay)) +
                                                    ": longer than the check's interval" + every);
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
    return field_error(path, "check id " + quote(out->id) + ": must be at most " +
                                 std::to_string(kMaxCheckId) + " bytes without control characters");
  }
  return Status::ok();
}

Status parse_checks(const json& root, const Defaults& defaults, const plugins::Environment& env,
                    bool optional, std::vector<ConfiguredCheck>* checks) {
  const auto it = root.find("checks");
  if (it == root.end()) return optional ? Status::ok() : field_error("checks", "required");
  if (!it->is_array()) {
    return field_error("checks", std::string("expected an array, got ") + it->type_name());
  }
  if (it->empty() && !optional) return field_error("checks", "lists no check");
  std::map<std::string, std::size_t, std::less<>> by_name;
  std::map<std::string, std::size_t, std::less<>> by_id;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string path = item_path("checks", i);
    ConfiguredCheck check;
    if (Status s = parse_check((*it)[i], path, defaults, env, &check); !s) return s;
    if (const auto [dup, added] = by_name.emplace(check.name, i); !added) {
      return field_error(field_path(path, "name"), "duplicate name " + quote(check.name) +
                                                       " (also checks[" +
                                                       std::to_string(dup->second) + "])");
    }
    if (const auto [dup, added] = by_id.emplace(check.id, i); !added) {
      return field_error(path, "check id " + quote(check.id) + " is also the id of checks[" +
                                   std::to_string(dup->second) +
                                   "]: two checks may not watch the same thing");
    }
    checks->push_back(std::move(check));
  }
  return Status::ok();
}

// `checks_optional`: a managed agent's own file, whose checks may come from the centre.
Result<Config> parse_document(const json& root, bool checks_optional) {
  if (!root.is_object()) {
    return Status::invalid(std::string("expected an object at the top level, got ") +
                           root.type_name());
  }
  Config config;
  Defaults defaults;
  if (Status s = check_keys(root, kTopKeys); !s) return s;
  if (Status s = parse_agent(root, &config); !s) return s;
  if (Status s = parse_collector(root, &config.collector); !s) return s;
  if (Status s = parse_spool(root, &config.spool); !s) return s;
  if (Status s = parse_defaults(root, &defaults); !s) return s;
  const json* devices_object = nullptr;
  if (Status s = read_object(root, "devices", devices_object); !s) return s;
  if (devices_object != nullptr) {
    config.devices = *devices_object;
    auto devices = plugins::snmp::Devices::create(*devices_object);
    if (!devices) return devices.status();
    config.snmp_devices = std::move(*devices);
  }
  if (Status s = parse_traps(root, &config); !s) return s;
  plugins::Environment env;
  env.devices = config.snmp_devices;
  if (Status s = parse_checks(root, defaults, env, checks_optional, &config.checks); !s) return s;
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

// The JSON of a configuration file, or where and why it is not JSON.
Result<json> parse_json(std::string_view text, std::string_view origin) {
  std::size_t byte = 0;
  auto parsed = vigie::parse_json(text, {.comments = true, .error_byte = &byte});
  if (parsed) return parsed;
  const std::string reason = parse_error_reason(parsed.status().message());
  if (byte == 0) return Status::invalid(std::string(origin) + ": " + reason);  // too deep
  const auto [line, column] = line_column(text, byte);
  return Status::invalid(std::string(origin) + ":" + std::to_string(line) + ":" +
                         std::to_string(column) + ": " + reason);
}

// parse_document's result, an error placed in `text` by its line.
Result<Config> parse_located(const json& root, std::string_view text, std::string_view origin,
                             bool checks_optional) {
  auto config = parse_document(root, checks_optional);
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

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view origin) {
  auto root = parse_json(text, origin);
  if (!root) return root.status();
  return parse_located(*root, text, origin, /*checks_optional=*/false);
}

Result<Config> parse_managed_config(std::string_view text, std::string_view origin,
                                    const nlohmann::json* central,
                                    std::string_view central_origin) {
  auto root = parse_json(text, origin);
  if (!root) return root.status();
  if (central == nullptr) return parse_located(*root, text, origin, /*checks_optional=*/true);
  const std::string where(central_origin);
  if (!central->is_object())
    return Status::invalid(where + ": expected an object, got " + central->type_name());
  for (const auto& [key, value] : central->items()) {
    if (std::find(std::begin(kCentralKeys), std::end(kCentralKeys), key) == std::end(kCentralKeys))
      return Status::invalid(where + ": " + key +
                             ": not from the centre (the agent's identity, collector and spool "
                             "stay in " +
                             std::string(origin) + ")");
  }
  if (!root->is_object()) return parse_located(*root, text, origin, true);  // its own error
  json merged = *root;
  for (const std::string_view key : kCentralKeys) merged.erase(std::string(key));
  for (const auto& [key, value] : central->items()) merged[key] = value;
  auto config = parse_document(merged, /*checks_optional=*/false);
  if (config) {
    config->path = std::string(origin);
    return config;
  }
  // An error in the centre's part names it; one in the file's, the file and its line.
  const std::string& message = config.status().message();
  for (const std::string_view key : kCentralKeys) {
    if (message.starts_with(key) && message.size() > key.size() &&
        (message[key.size()] == '.' || message[key.size()] == '[' || message[key.size()] == ':'))
      return Status::invalid(where + ": " + message);
  }
  return parse_located(merged, text, origin, false);
}

Result<Config> load_config(const std::filesystem::path& path) {
  auto text = read_file(path.string(), kMaxFileBytes);
  if (!text) return text.status();
  return parse_config(*text, path.string());
}

}  // namespace vigie::agent
