#include "plugins/snmp/devices.hpp"

#include <algorithm>
#include <optional>

#include "common/config_fields.hpp"
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

constexpr DurationRule kTimeoutRule{.min = milliseconds(100), .max = milliseconds(60'000)};
constexpr DurationRule kMaxAgeRule{.min = milliseconds(1000), .max = milliseconds(86'400'000)};

// A secret given inline or in a file; the file is read when a session opens, so
// that the agent's configuration loads where the file is not readable yet.
Status read_secret(const Fields& snmp, const std::string& key, std::string& value,
                   std::string& file) {
  const std::string file_key = key + "_file";
  if (snmp.object.contains(key) && snmp.object.contains(file_key)) {
    return field_error(snmp.path_of(key), "give " + key + " or " + file_key + ", not both");
  }
  if (Status s = read_string(snmp, key, value, {.allow_empty = true}); !s) return s;
  return read_absolute_path(snmp, file_key, file);
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

Status parse_snmp(const Fields& snmp, DeviceOptions& options) {
  Target& target = options.target;
  if (Status s = check_keys(snmp, kSnmpKeys); !s) return s;
  std::string version = "2c";
  if (Status s = read_string(snmp, "version", version); !s) return s;
  if (version == "2c") {
    target.version = Target::Version::kV2c;
  } else if (version == "3") {
    target.version = Target::Version::kV3;
  } else {
    return field_error(snmp.path_of("version"), quote(version) + ": must be \"2c\" or \"3\"");
  }
  if (target.version == Target::Version::kV2c) {
    for (const char* key : {"user", "auth", "auth_pass", "auth_pass_file", "priv", "priv_pass",
                            "priv_pass_file", "engine_id"}) {
      if (snmp.object.contains(key))
        return field_error(snmp.path_of(key), "only for SNMP version \"3\"");
    }
    if (Status s = read_secret(snmp, "community", target.community, options.community_file); !s)
      return s;
    if (target.community.empty() && options.community_file.empty())
      return field_error(snmp.path_of("community"), "must not be empty");
  } else {
    if (snmp.object.contains("community") || snmp.object.contains("community_file"))
      return field_error(snmp.path_of("community"), "only for SNMP version \"2c\"");
    std::string engine;
    if (Status s = read_string(snmp, "engine_id", engine); !s) return s;
    if (snmp.object.contains("engine_id")) {
      auto bytes = parse_engine_id(engine);
      if (!bytes) return field_error(snmp.path_of("engine_id"), bytes.status().message());
      options.engine_id = std::move(*bytes);
    }
    if (!snmp.object.contains("user"))
      return field_error(snmp.path_of("user"), "required for SNMP version \"3\"");
    if (Status s = read_string(snmp, "user", target.user); !s) return s;
    if (Status s = read_string(snmp, "auth", target.auth_protocol); !s) return s;
    if (Status s = read_string(snmp, "priv", target.priv_protocol); !s) return s;
    constexpr std::string_view kAuth[] = {"MD5", "SHA", "SHA-256", "SHA-512"};
    constexpr std::string_view kPriv[] = {"AES", "DES"};
    if (std::find(std::begin(kAuth), std::end(kAuth), target.auth_protocol) == std::end(kAuth))
      return field_error(snmp.path_of("auth"),
                         quote(target.auth_protocol) + ": must be MD5, SHA, SHA-256 or SHA-512");
    if (std::find(std::begin(kPriv), std::end(kPriv), target.priv_protocol) == std::end(kPriv))
      return field_error(snmp.path_of("priv"),
                         quote(target.priv_protocol) + ": must be AES or DES");
    if (Status s = read_secret(snmp, "auth_pass", target.auth_pass, options.auth_pass_file); !s)
      return s;
    if (Status s = read_secret(snmp, "priv_pass", target.priv_pass, options.priv_pass_file); !s)
      return s;
    if (!target.auth_pass.empty() && target.auth_pass.size() < 8)
      return field_error(snmp.path_of("auth_pass"), "at least 8 characters (RFC 3414)");
    if (!target.priv_pass.empty() && target.priv_pass.size() < 8)
      return field_error(snmp.path_of("priv_pass"), "at least 8 characters (RFC 3414)");
    if ((!target.priv_pass.empty() || !options.priv_pass_file.empty()) &&
        target.auth_pass.empty() && options.auth_pass_file.empty())
      return field_error(snmp.path_of("priv_pass"), "privacy needs auth_pass as well");
  }
  if (Status s = read_duration(snmp, "timeout", kTimeoutRule, target.timeout); !s) return s;
  if (Status s = read_integer(snmp, "retries", 0, 10, target.retries); !s) return s;
  return read_integer(snmp, "max_repetitions", 1, 200, target.bulk_size);
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
  const Fields device{object, field_path("devices", name)};
  if (Status s = check_keys(device, kDeviceKeys); !s) return s;
  DeviceOptions options;
  options.name = std::string(name);
  std::string host;
  if (Status s = read_string(device, "host", host); !s) return s;
  if (host.empty()) return field_error(device.path_of("host"), "required, a name or an address");
  const bool sane = std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '_';
  });
  if (!sane || host.size() > 253)
    return field_error(device.path_of("host"), quote(host) + " is not a host name or address");
  options.target.host = host;
  if (Status s = read_integer(device, "port", 1, 65535, options.target.port); !s) return s;
  if (Status s = read_duration(device, "max_age", kMaxAgeRule, options.max_age); !s) return s;
  const json* snmp = nullptr;
  if (Status s = read_object(device, "snmp", snmp); !s) return s;
  if (snmp == nullptr) {
    return field_error(device.path_of("snmp"), "required (at least {\"version\": \"2c\"})");
  }
  if (Status s = parse_snmp(Fields{*snmp, device.path_of("snmp")}, options); !s) return s;
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
    if (!options) return options.status();
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
