#include "plugins/snmp/devices.hpp"

#include <algorithm>
#include <optional>

#include "common/duration.hpp"
#include "common/file.hpp"
#include "plugins/snmp/wire.hpp"

namespace vigie::plugins::snmp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kDeviceKeys[] = {"host", "port", "max_age", "snmp"};
constexpr std::string_view kSnmpKeys[] = {
    "version",         "community", "community_file", "user",           "auth",    "auth_pass",
    "auth_pass_file",  "priv",      "priv_pass",      "priv_pass_file", "timeout", "retries",
    "max_repetitions", "engine_id"};

Status unknown_keys(const json& object, std::string_view prefix,
                    std::span<const std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string message = std::string(prefix) + key + ": unknown key; known keys:";
    for (std::string_view k : known) message += " " + std::string(k);
    return Status::invalid(std::move(message));
  }
  return Status::ok();
}

Status read_string(const json& object, std::string_view prefix, const char* key,
                   std::optional<std::string>& out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  if (!it->is_string())
    return Status::invalid(std::string(prefix) + key + ": expected a string, got " +
                           it->type_name());
  out = it->get<std::string>();
  return Status::ok();
}

Status read_int(const json& object, std::string_view prefix, const char* key, int min, int max,
                int& out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  if (!it->is_number_integer() || it->get<long long>() < min || it->get<long long>() > max)
    return Status::invalid(std::string(prefix) + key + ": " + it->dump() + ": must be an integer " +
                           std::to_string(min) + ".." + std::to_string(max));
  out = it->get<int>();
  return Status::ok();
}

Status read_duration(const json& object, std::string_view prefix, const char* key, milliseconds min,
                     milliseconds max, milliseconds& out) {
  std::optional<std::string> text;
  if (Status s = read_string(object, prefix, key, text); !s) return s;
  if (!text) return Status::ok();
  auto parsed = parse_duration(*text);
  if (!parsed) return Status::invalid(std::string(prefix) + key + ": " + parsed.status().message());
  if (*parsed < min || *parsed > max)
    return Status::invalid(std::string(prefix) + key + ": \"" + *text + "\": must be " +
                           format_duration(min) + ".." + format_duration(max));
  out = *parsed;
  return Status::ok();
}

// A secret given inline or in a file; the file is read when a session opens, so
// that the agent's configuration loads where the file is not readable yet.
Status read_secret(const json& object, std::string_view prefix, const std::string& key,
                   std::string& value, std::string& file) {
  std::optional<std::string> inline_value;
  std::optional<std::string> path;
  if (Status s = read_string(object, prefix, key.c_str(), inline_value); !s) return s;
  if (Status s = read_string(object, prefix, (key + "_file").c_str(), path); !s) return s;
  if (inline_value && path)
    return Status::invalid(std::string(prefix) + key + ": give " + key + " or " + key +
                           "_file, not both");
  if (inline_value) value = *inline_value;
  if (path) {
    if (path->empty() || path->front() != '/')
      return Status::invalid(std::string(prefix) + key + "_file: must be an absolute path");
    file = *path;
  }
  return Status::ok();
}

Status load_secret(const std::string& key, const std::string& file, std::string& out) {
  if (file.empty()) return Status::ok();
  auto text = read_file(file, 4096);
  if (!text) return Status::invalid("snmp." + key + "_file: " + text.status().message());
  std::string value = *text;
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) return Status::invalid("snmp." + key + "_file: " + file + " is empty");
  out = std::move(value);
  return Status::ok();
}

Status parse_snmp(const json& snmp, std::string_view prefix, DeviceOptions& options) {
  Target& target = options.target;
  if (!snmp.is_object())
    return Status::invalid(std::string(prefix) + ": expected an object, got " + snmp.type_name());
  const std::string p = std::string(prefix) + ".";
  if (Status s = unknown_keys(snmp, p, kSnmpKeys); !s) return s;
  std::optional<std::string> version;
  if (Status s = read_string(snmp, p, "version", version); !s) return s;
  if (!version || *version == "2c") {
    target.version = Target::Version::kV2c;
  } else if (*version == "3") {
    target.version = Target::Version::kV3;
  } else {
    return Status::invalid(p + "version: \"" + *version + "\": must be \"2c\" or \"3\"");
  }
  if (target.version == Target::Version::kV2c) {
    for (const char* key : {"user", "auth", "auth_pass", "auth_pass_file", "priv", "priv_pass",
                            "priv_pass_file", "engine_id"}) {
      if (snmp.contains(key)) return Status::invalid(p + key + ": only for SNMP version \"3\"");
    }
    if (Status s = read_secret(snmp, p, "community", target.community, options.community_file); !s)
      return s;
    if (target.community.empty()) return Status::invalid(p + "community: must not be empty");
  } else {
    if (snmp.contains("community") || snmp.contains("community_file"))
      return Status::invalid(p + "community: only for SNMP version \"2c\"");
    std::optional<std::string> engine;
    if (Status s = read_string(snmp, p, "engine_id", engine); !s) return s;
    if (engine) {
      auto bytes = parse_engine_id(*engine);
      if (!bytes) return Status::invalid(p + "engine_id: " + bytes.status().message());
      options.engine_id = std::move(*bytes);
    }
    std::optional<std::string> user;
    std::optional<std::string> auth;
    std::optional<std::string> priv;
    if (Status s = read_string(snmp, p, "user", user); !s) return s;
    if (!user || user->empty()) return Status::invalid(p + "user: required for SNMP version \"3\"");
    target.user = *user;
    if (Status s = read_string(snmp, p, "auth", auth); !s) return s;
    if (Status s = read_string(snmp, p, "priv", priv); !s) return s;
    if (auth) target.auth_protocol = *auth;
    if (priv) target.priv_protocol = *priv;
    constexpr std::string_view kAuth[] = {"MD5", "SHA", "SHA-256", "SHA-512"};
    constexpr std::string_view kPriv[] = {"AES", "DES"};
    if (std::find(std::begin(kAuth), std::end(kAuth), target.auth_protocol) == std::end(kAuth))
      return Status::invalid(p + "auth: \"" + target.auth_protocol +
                             "\": must be MD5, SHA, SHA-256 or SHA-512");
    if (std::find(std::begin(kPriv), std::end(kPriv), target.priv_protocol) == std::end(kPriv))
      return Status::invalid(p + "priv: \"" + target.priv_protocol + "\": must be AES or DES");
    if (Status s = read_secret(snmp, p, "auth_pass", target.auth_pass, options.auth_pass_file); !s)
      return s;
    if (Status s = read_secret(snmp, p, "priv_pass", target.priv_pass, options.priv_pass_file); !s)
      return s;
    if (!target.auth_pass.empty() && target.auth_pass.size() < 8)
      return Status::invalid(p + "auth_pass: at least 8 characters (RFC 3414)");
    if (!target.priv_pass.empty() && target.priv_pass.size() < 8)
      return Status::invalid(p + "priv_pass: at least 8 characters (RFC 3414)");
    if ((!target.priv_pass.empty() || !options.priv_pass_file.empty()) &&
        target.auth_pass.empty() && options.auth_pass_file.empty())
      return Status::invalid(p + "priv_pass: privacy needs auth_pass as well");
  }
  if (Status s = read_duration(snmp, p, "timeout", milliseconds(100), milliseconds(60'000),
                               target.timeout);
      !s) {
    return s;
  }
  if (Status s = read_int(snmp, p, "retries", 0, 10, target.retries); !s) return s;
  return read_int(snmp, p, "max_repetitions", 1, 200, target.bulk_size);
}

}  // namespace

Result<Target> with_secrets(const DeviceOptions& options) {
  Target target = options.target;
  Status secrets = load_secret("community", options.community_file, target.community);
  if (secrets) secrets = load_secret("auth_pass", options.auth_pass_file, target.auth_pass);
  if (secrets) secrets = load_secret("priv_pass", options.priv_pass_file, target.priv_pass);
  if (secrets && !target.auth_pass.empty() && target.auth_pass.size() < 8)
    secrets = Status::invalid("snmp.auth_pass: fewer than 8 characters (RFC 3414)");
  if (secrets && !target.priv_pass.empty() && target.priv_pass.size() < 8)
    secrets = Status::invalid("snmp.priv_pass: fewer than 8 characters (RFC 3414)");
  if (!secrets) return secrets;
  return target;
}

Result<DeviceOptions> parse_device(std::string_view name, const nlohmann::json& object) {
  if (!object.is_object())
    return Status::invalid(std::string("expected an object, got ") + object.type_name());
  if (Status s = unknown_keys(object, "", kDeviceKeys); !s) return s;
  DeviceOptions options;
  options.name = std::string(name);
  std::optional<std::string> host;
  if (Status s = read_string(object, "", "host", host); !s) return s;
  if (!host || host->empty()) return Status::invalid("host: required, a name or an address");
  const bool sane = std::all_of(host->begin(), host->end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '_';
  });
  if (!sane || host->size() > 253)
    return Status::invalid("host: \"" + host->substr(0, 60) + "\" is not a host name or address");
  options.target.host = *host;
  int port = 161;
  if (Status s = read_int(object, "", "port", 1, 65535, port); !s) return s;
  options.target.port = static_cast<std::uint16_t>(port);
  if (Status s = read_duration(object, "", "max_age", milliseconds(1000), milliseconds(86'400'000),
                               options.max_age);
      !s) {
    return s;
  }
  const auto snmp = object.find("snmp");
  if (snmp == object.end())
    return Status::invalid("snmp: required (at least {\"version\": \"2c\"})");
  if (Status s = parse_snmp(*snmp, "snmp", options); !s) return s;
  return options;
}

struct Devices::Device {
  DeviceOptions options;
  Request request;
  std::unique_ptr<Session> session;
  bool polling = false;
  std::optional<Result<std::shared_ptr<const Snapshot>>> latest;
  Clock::time_point latest_at;
  bool expired = false;  // expire(): the next snapshot() polls
};

Devices::~Devices() = default;

Result<std::shared_ptr<Devices>> Devices::create(const nlohmann::json& block) {
  if (!block.is_object())
    return Status::invalid(std::string("devices: expected an object, got ") + block.type_name());
  std::shared_ptr<Devices> devices(new Devices());
  for (const auto& [name, object] : block.items()) {
    auto options = parse_device(name, object);
    if (!options) return options.status().with_context("devices." + name);
    auto device = std::make_unique<Device>();
    device->options = std::move(*options);
    devices->devices_.emplace(name, std::move(device));
  }
  return devices;
}

std::vector<std::string> Devices::names() const {
  std::vector<std::string> out;
  for (const auto& [name, device] : devices_) out.push_back(name);
  return out;
}

const DeviceOptions* Devices::options(std::string_view device) const {
  const auto it = devices_.find(device);
  return it == devices_.end() ? nullptr : &it->second->options;
}

Status Devices::subscribe(std::string_view device, const Request& request) {
  std::lock_guard lock(mutex_);
  const auto it = devices_.find(device);
  if (it == devices_.end()) {
    std::string message = "no device named \"" + std::string(device) + "\" in \"devices\"";
    message += devices_.empty() ? " (it declares none)" : "; known devices:";
    for (const auto& [name, d] : devices_) message += " " + name;
    return Status::not_found(std::move(message));
  }
  it->second->request.merge(request);
  return Status::ok();
}

void Devices::expire(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (const auto it = devices_.find(name); it != devices_.end()) it->second->expired = true;
}

Result<std::shared_ptr<const Snapshot>> Devices::snapshot(std::string_view name,
                                                          Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  const auto it = devices_.find(name);
  if (it == devices_.end())
    return Status::not_found("no device named \"" + std::string(name) + "\"");
  Device& device = *it->second;
  // A poll of every device that lasts longer than max_age must not make each later
  // check start another: a result stays fresh for twice the last batch's length too.
  const auto stale = [this](const Device& d, Clock::time_point now) {
    return !d.latest || d.expired ||
           now - d.latest_at >= std::max<Clock::duration>(d.options.max_age, 2 * last_batch_);
  };
  while (true) {
    const Clock::time_point now = Clock::now();
    if (!stale(device, now)) return *device.latest;
    if (now >= deadline)
      return Status::timeout("no answer from device \"" + device.options.name +
                             "\" before the check's deadline");
    if (device.polling) {
      polled_.wait_until(lock, deadline);
      continue;
    }
    std::vector<Device*> batch;
    for (auto& [other_name, other] : devices_) {
      if (other->polling || (other->request.scalars.empty() && other->request.subtrees.empty()))
        continue;
      if (other.get() == &device || stale(*other, now)) batch.push_back(other.get());
    }
    if (std::find(batch.begin(), batch.end(), &device) == batch.end()) batch.push_back(&device);
    poll_batch(std::move(batch), deadline, lock);
  }
}

void Devices::poll_batch(std::vector<Device*> batch, Clock::time_point deadline,
                         std::unique_lock<std::mutex>& lock) {
  for (Device* d : batch) d->polling = true;
  lock.unlock();

  std::vector<PollJob> jobs;
  std::vector<Device*> polled;
  std::vector<std::pair<Device*, Status>> failed_open;
  std::vector<Device*> to_close;
  for (Device* d : batch) {
    if (!d->session) {
      auto loaded = with_secrets(d->options);
      if (!loaded) {
        failed_open.emplace_back(d, loaded.status());
        continue;
      }
      Target& target = d->options.target;
      target = std::move(*loaded);
      auto session = open_session(target);
      if (!session) {
        failed_open.emplace_back(d, session.status());
        continue;
      }
      d->session = std::move(*session);
    }
    jobs.push_back({d->session.get(), &d->options.target, &d->request});
    polled.push_back(d);
  }
  const auto publish = [&](Device* d, Result<Snapshot> result) {
    std::lock_guard guard(mutex_);
    d->polling = false;
    const bool cut_short =
        !result && result.status().code() == Code::kTimeout && Clock::now() >= deadline;
    // A session that failed opens again next time, rereading the secrets and, for v3,
    // discovering the engine again (closed below,
    // after poll(): closing needs the library, which poll() holds).
    if (!result) to_close.push_back(d);
    if (cut_short) {
      // Our deadline, not the device, ended this poll: do not record it as the
      // device's answer; the next check of this device polls again.
    } else if (result) {
      d->expired = false;
      d->latest =
          std::shared_ptr<const Snapshot>(std::make_shared<Snapshot>(std::move(result).value()));
      d->latest_at = Clock::now();
    } else {
      d->expired = false;
      d->latest = Result<std::shared_ptr<const Snapshot>>(result.status());
      d->latest_at = Clock::now();
    }
    polled_.notify_all();
  };
  for (auto& [d, status] : failed_open) publish(d, status);
  const Clock::time_point start = Clock::now();
  poll(jobs, deadline,
       [&](std::size_t i, Result<Snapshot> result) { publish(polled[i], std::move(result)); });
  // Only this thread touches a device's session while the device is being polled,
  // and the device is no longer marked polling: take the lock before closing.
  // Closing takes the SNMP library's lock, which poll() holds while it takes ours:
  // close outside ours.
  std::vector<std::unique_ptr<Session>> closing;
  lock.lock();
  last_batch_ = Clock::now() - start;
  for (Device* d : to_close) {
    if (!d->polling) closing.push_back(std::move(d->session));
  }
  lock.unlock();
  closing.clear();
  lock.lock();
}

}  // namespace vigie::plugins::snmp
