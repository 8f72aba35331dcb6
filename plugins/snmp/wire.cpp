#include "plugins/snmp/wire.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_integer.hpp"

namespace vigie::plugins::snmp {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr char kHex[] = "0123456789abcdef";

std::string hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = digit(text[i]);
    const int low = digit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high << 4 | low);
  }
  return out;
}

json oids(const std::vector<Oid>& list) {
  json out = json::array();
  for (const Oid& o : list) out.push_back(oid_text(o));
  return out;
}

// The fields below are read with these: a wrong type throws json's type_error, which
// decode_request turns into kInvalidArgument naming the request.
Result<std::vector<Oid>> read_oids(const json& list, const char* what) {
  std::vector<Oid> out;
  for (const json& text : list) {
    auto parsed = parse_oid(text.get<std::string>());
    if (!parsed) return parsed.status().with_context(what);
    out.push_back(std::move(*parsed));
  }
  return out;
}

json value_json(const Value& v) {
  switch (v.type) {
    case Type::kInteger: return v.integer;
    case Type::kCounter32:
    case Type::kGauge32:
    case Type::kTimeTicks:
    case Type::kCounter64: return v.number;
    case Type::kOctetString:
    case Type::kOpaque:
    case Type::kIpAddress: return hex(v.bytes);
    case Type::kObjectId: return oid_text(v.object);
    default: return nullptr;
  }
}

Result<Value> read_value(int type, const json& payload) {
  if (type < 0 || type > static_cast<int>(Type::kOther)) {
    return Status::corruption("value type " + std::to_string(type) + " is unknown");
  }
  Value v;
  v.type = static_cast<Type>(type);
  switch (v.type) {
    case Type::kInteger: v.integer = json_integer<std::int64_t>(payload); break;
    case Type::kCounter32:
    case Type::kGauge32:
    case Type::kTimeTicks:
    case Type::kCounter64: v.number = json_integer<std::uint64_t>(payload); break;
    case Type::kOctetString:
    case Type::kOpaque:
    case Type::kIpAddress: {
      auto bytes = unhex(payload.get<std::string>());
      if (!bytes) return Status::corruption("a string value is not hexadecimal");
      v.bytes = std::move(*bytes);
      break;
    }
    case Type::kObjectId: {
      auto object = parse_oid(payload.get<std::string>());
      if (!object) return object.status();
      v.object = std::move(*object);
      break;
    }
    default: break;
  }
  return v;
}

}  // namespace

std::string encode_request(const PollRequest& request) {
  json jobs = json::array();
  for (const auto& job : request.jobs) {
    const Target& t = job.target;
    jobs.push_back({
        {"target",
         {{"host", t.host},
          {"port", t.port},
          {"version", t.version == Target::Version::kV3 ? "3" : "2c"},
          {"community", hex(t.community)},
          {"user", hex(t.user)},
          {"auth_protocol", t.auth_protocol},
          {"auth_pass", hex(t.auth_pass)},
          {"priv_protocol", t.priv_protocol},
          {"priv_pass", hex(t.priv_pass)},
          {"timeout_ms", t.timeout.count()},
          {"retries", t.retries},
          {"bulk_size", t.bulk_size}}},
        {"scalars", oids(job.request.scalars)},
        {"subtrees", oids(job.request.subtrees)},
    });
  }
  return json{{"budget_ms", request.budget.count()},
              {"max_varbinds", request.max_varbinds},
              {"max_in_flight", request.max_in_flight},
              {"jobs", std::move(jobs)}}
      .dump();
}

Result<PollRequest> decode_request(std::string_view text) {
  PollRequest out;
  try {
    const json doc = json::parse(text);
    out.budget = milliseconds(json_integer<std::int64_t>(doc.at("budget_ms")));
    out.max_varbinds = json_integer<std::size_t>(doc.at("max_varbinds"));
    out.max_in_flight = json_integer<std::size_t>(doc.at("max_in_flight"));
    if (out.budget < milliseconds(0)) return Status::invalid("poll request: budget_ms < 0");
    for (const json& job : doc.at("jobs")) {
      const json& t = job.at("target");
      PollRequest::Job j;
      j.target.host = t.at("host").get<std::string>();
      j.target.port = json_integer<std::uint16_t>(t.at("port"));
      const std::string version = t.at("version").get<std::string>();
      if (version != "2c" && version != "3") {
        return Status::invalid("poll request: version \"" + version + "\"");
      }
      j.target.version = version == "3" ? Target::Version::kV3 : Target::Version::kV2c;
      // The secrets and the user, read from files, may hold any byte: hexadecimal.
      for (auto [name, field] :
           {std::pair{"community", &j.target.community}, std::pair{"user", &j.target.user},
            std::pair{"auth_pass", &j.target.auth_pass},
            std::pair{"priv_pass", &j.target.priv_pass}}) {
        auto bytes = unhex(t.at(name).get<std::string>());
        if (!bytes)
          return Status::invalid(std::string("poll request: ") + name + " is not hexadecimal");
        *field = std::move(*bytes);
      }
      j.target.auth_protocol = t.at("auth_protocol").get<std::string>();
      j.target.priv_protocol = t.at("priv_protocol").get<std::string>();
      j.target.timeout = milliseconds(json_integer<std::int64_t>(t.at("timeout_ms")));
      j.target.retries = json_integer<int>(t.at("retries"));
      j.target.bulk_size = json_integer<int>(t.at("bulk_size"));
      auto scalars = read_oids(job.at("scalars"), "poll request: scalars");
      if (!scalars) return scalars.status();
      auto subtrees = read_oids(job.at("subtrees"), "poll request: subtrees");
      if (!subtrees) return subtrees.status();
      j.request.scalars = std::move(*scalars);
      j.request.subtrees = std::move(*subtrees);
      out.jobs.push_back(std::move(j));
    }
  } catch (const json::exception& e) {
    return Status::invalid(std::string("poll request: ") + e.what());
  } catch (const BadInteger& e) {
    return Status::invalid(std::string("poll request: ") + e.what());
  }
  return out;
}

std::string encode_result(std::size_t job, const Result<Snapshot>& result) {
  json line = {{"job", job}};
  if (!result) {
    line["code"] = static_cast<int>(result.status().code());
    line["message"] = result.status().message();
    // A device's error text may hold any byte: replaced, not refused, if not UTF-8.
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  const Snapshot& snapshot = *result;
  json values = json::array();
  for (const auto& [name, value] : snapshot.values()) {
    values.push_back({oid_text(name), static_cast<int>(value.type), value_json(value)});
  }
  line["values"] = std::move(values);
  line["taken"] = snapshot.taken.time_since_epoch().count();
  line["taken_wall"] = snapshot.taken_wall.time_since_epoch().count();
  return line.dump();
}

Result<JobResult> decode_result(std::string_view text) {
  JobResult out;
  try {
    const json line = json::parse(text);
    if (!line.at("job").is_number_unsigned()) {
      return Status::corruption("SNMP helper's answer: job is not a job number");
    }
    out.job = json_integer<std::size_t>(line.at("job"));
    if (const auto code = line.find("code"); code != line.end()) {
      const int number = json_integer<int>(*code);
      if (number <= 0 || number > static_cast<int>(Code::kInternal)) {
        return Status::corruption("SNMP helper's answer: error code " + std::to_string(number));
      }
      out.result = Status(static_cast<Code>(number), line.at("message").get<std::string>());
      return out;
    }
    Snapshot snapshot;
    for (const json& entry : line.at("values")) {
      auto name = parse_oid(entry.at(0).get<std::string>());
      if (!name) return Status::corruption("SNMP helper's answer: " + name.status().message());
      auto value = read_value(json_integer<int>(entry.at(1)), entry.at(2));
      if (!value) return Status::corruption("SNMP helper's answer: " + value.status().message());
      snapshot.add(std::move(*name), std::move(*value));
    }
    snapshot.taken = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(json_integer<std::int64_t>(line.at("taken"))));
    snapshot.taken_wall = std::chrono::system_clock::time_point(
        std::chrono::system_clock::duration(json_integer<std::int64_t>(line.at("taken_wall"))));
    out.result = std::move(snapshot);
  } catch (const json::exception& e) {
    return Status::corruption(std::string("SNMP helper's answer: ") + e.what());
  } catch (const BadInteger& e) {
    return Status::corruption(std::string("SNMP helper's answer: ") + e.what());
  }
  return out;
}

Status validate(const Target& target) {
  if (target.host.empty()) return Status::invalid("host: empty");
  if (target.version != Target::Version::kV3) return Status::ok();
  if (target.user.empty()) return Status::invalid("user: required for SNMPv3");
  static constexpr std::string_view kAuth[] = {"MD5",     "SHA",    "SHA1",    "SHA-1",
                                               "SHA-256", "SHA256", "SHA-512", "SHA512"};
  static constexpr std::string_view kPriv[] = {"AES", "AES-128", "AES128", "DES"};
  const auto known = [](const auto& names, const std::string& name) {
    return std::find(std::begin(names), std::end(names), name) != std::end(names);
  };
  if (!target.auth_pass.empty()) {
    if (!known(kAuth, target.auth_protocol)) {
      return Status::invalid("auth: \"" + target.auth_protocol +
                             "\" is not one of MD5, SHA, SHA-256, SHA-512");
    }
    if (target.auth_pass.size() < 8)
      return Status::invalid("auth passphrase: fewer than 8 characters");
    if (!target.priv_pass.empty()) {
      if (!known(kPriv, target.priv_protocol)) {
        return Status::invalid("priv: \"" + target.priv_protocol + "\" is not one of AES, DES");
      }
      if (target.priv_pass.size() < 8) {
        return Status::invalid("priv passphrase: fewer than 8 characters");
      }
    }
  } else if (!target.priv_pass.empty()) {
    return Status::invalid("priv: privacy needs authentication (auth_pass) as well");
  }
  return Status::ok();
}

std::string encode_trap_options(const TrapListenOptions& options) {
  json devices = json::array();
  for (const TrapDevice& d : options.devices) {
    const Target& t = d.target;
    devices.push_back({{"name", d.name},
                       {"host", t.host},
                       {"version", t.version == Target::Version::kV3 ? "3" : "2c"},
                       {"community", hex(t.community)},
                       {"user", hex(t.user)},
                       {"auth_protocol", t.auth_protocol},
                       {"auth_pass", hex(t.auth_pass)},
                       {"priv_protocol", t.priv_protocol},
                       {"priv_pass", hex(t.priv_pass)},
                       {"engine_id", hex(d.engine_id)}});
  }
  return json{{"listen", options.listen},     {"engine_id", hex(options.engine_id)},
              {"boots", options.boots},       {"rate", options.rate},
              {"burst", options.burst},       {"counters_every_ms", options.counters_every.count()},
              {"devices", std::move(devices)}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<TrapListenOptions> decode_trap_options(std::string_view line) {
  TrapListenOptions out;
  try {
    const json doc = json::parse(line);
    out.listen = doc.at("listen").get<std::string>();
    auto engine = unhex(doc.at("engine_id").get<std::string>());
    if (!engine || engine->size() < 5 || engine->size() > 32)
      return Status::invalid("trap options: engine_id is not 5 to 32 bytes of hexadecimal");
    out.engine_id = std::move(*engine);
    out.boots = json_integer<std::uint32_t>(doc.at("boots"));
    out.rate = doc.at("rate").get<double>();
    out.burst = doc.at("burst").get<double>();
    out.counters_every = milliseconds(json_integer<std::int64_t>(doc.at("counters_every_ms")));
    if (!(out.rate > 0) || !(out.burst >= 1))
      return Status::invalid("trap options: rate must be > 0 and burst >= 1");
    for (const json& d : doc.at("devices")) {
      TrapDevice device;
      device.name = d.at("name").get<std::string>();
      Target& t = device.target;
      t.host = d.at("host").get<std::string>();
      const std::string version = d.at("version").get<std::string>();
      if (version != "2c" && version != "3")
        return Status::invalid("trap options: device " + device.name + ": version \"" + version +
                               "\"");
      t.version = version == "3" ? Target::Version::kV3 : Target::Version::kV2c;
      for (auto [name, field] :
           {std::pair{"community", &t.community}, std::pair{"user", &t.user},
            std::pair{"auth_pass", &t.auth_pass}, std::pair{"priv_pass", &t.priv_pass},
            std::pair{"engine_id", &device.engine_id}}) {
        auto bytes = unhex(d.at(name).get<std::string>());
        if (!bytes)
          return Status::invalid("trap options: device " + device.name + ": " + name +
                                 " is not hexadecimal");
        *field = std::move(*bytes);
      }
      t.auth_protocol = d.at("auth_protocol").get<std::string>();
      t.priv_protocol = d.at("priv_protocol").get<std::string>();
      if (Status s = validate(t); !s) return s.with_context("trap options: device " + device.name);
      out.devices.push_back(std::move(device));
    }
  } catch (const json::exception& e) {
    return Status::invalid(std::string("trap options: ") + e.what());
  } catch (const BadInteger& e) {
    return Status::invalid(std::string("trap options: ") + e.what());
  }
  return out;
}

namespace {

json counters_json(const TrapCounters& c) {
  return {{"accepted", c.accepted},           {"unknown_source", c.unknown_source},
          {"bad_community", c.bad_community}, {"bad_user", c.bad_user},
          {"auth_failed", c.auth_failed},     {"rate_limited", c.rate_limited},
          {"malformed", c.malformed},         {"rate_limited_by_device", c.rate_limited_by_device}};
}

}  // namespace

std::string encode_ready(std::string_view listen, std::string_view engine_id) {
  return json{{"ready", {{"listen", listen}, {"engine_id", hex(engine_id)}}}}.dump();
}

std::string encode_event(const protocol::Event& event) {
  // A device's strings may hold any byte: replaced, not refused, if not UTF-8.
  return json{{"event", protocol::event_to_json(event)}}.dump(-1, ' ', false,
                                                              json::error_handler_t::replace);
}

std::string encode_counters(const TrapCounters& counters) {
  return json{{"counters", counters_json(counters)}}.dump(-1, ' ', false,
                                                          json::error_handler_t::replace);
}

std::string encode_warning(std::string_view message) {
  return json{{"warning", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<TrapLine> decode_trap_line(std::string_view text) {
  TrapLine out;
  try {
    const json line = json::parse(text);
    if (!line.is_object() || line.size() != 1)
      return Status::corruption("trap helper's line: not an object of one member");
    if (const auto ready = line.find("ready"); ready != line.end()) {
      out.kind = TrapLine::Kind::kReady;
      out.listen = ready->at("listen").get<std::string>();
      auto engine = unhex(ready->at("engine_id").get<std::string>());
      if (!engine) return Status::corruption("trap helper's line: engine_id is not hexadecimal");
      out.engine_id = std::move(*engine);
    } else if (const auto event = line.find("event"); event != line.end()) {
      out.kind = TrapLine::Kind::kEvent;
      auto decoded = protocol::event_from_json(*event, "event");
      if (!decoded) return Status::corruption("trap helper's line: " + decoded.status().message());
      out.event = std::move(*decoded);
    } else if (const auto c = line.find("counters"); c != line.end()) {
      out.kind = TrapLine::Kind::kCounters;
      TrapCounters& n = out.counters;
      n.accepted = json_integer<std::uint64_t>(c->at("accepted"));
      n.unknown_source = json_integer<std::uint64_t>(c->at("unknown_source"));
      n.bad_community = json_integer<std::uint64_t>(c->at("bad_community"));
      n.bad_user = json_integer<std::uint64_t>(c->at("bad_user"));
      n.auth_failed = json_integer<std::uint64_t>(c->at("auth_failed"));
      n.rate_limited = json_integer<std::uint64_t>(c->at("rate_limited"));
      n.malformed = json_integer<std::uint64_t>(c->at("malformed"));
      const json& by_device = c->at("rate_limited_by_device");
      if (!by_device.is_object())
        return Status::corruption("trap helper's line: rate_limited_by_device is not an object");
      for (const auto& [device, count] : by_device.items())
        n.rate_limited_by_device[device] = json_integer<std::uint64_t>(count);
    } else if (const auto warning = line.find("warning"); warning != line.end()) {
      out.kind = TrapLine::Kind::kWarning;
      out.message = warning->get<std::string>();
    } else {
      return Status::corruption("trap helper's line: unknown member " + line.begin().key());
    }
  } catch (const json::exception& e) {
    return Status::corruption(std::string("trap helper's line: ") + e.what());
  } catch (const BadInteger& e) {
    return Status::corruption(std::string("trap helper's line: ") + e.what());
  }
  return out;
}

std::string engine_id_hex(std::string_view bytes) { return hex(bytes); }

Result<std::string> parse_engine_id(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto bytes = unhex(lower);
  if (!bytes || bytes->size() < 5 || bytes->size() > 32)
    return Status::invalid("\"" + std::string(text.substr(0, 70)) +
                           "\": an engine id is 5 to 32 bytes in hexadecimal, e.g. "
                           "\"0x80001f88040102030405\"");
  return std::move(*bytes);
}

}  // namespace vigie::plugins::snmp
