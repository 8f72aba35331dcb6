#pragma once
// The SNMP devices of an agent (the "devices" block of its config), shared by the
// checks that read them: one session per device, one poll per device per interval.
//
//   "devices": {
//     "fw": { "host": "192.0.2.1", "port": 161, "max_age": "30s",
//             "snmp": { "version": "2c", "community": "public",
//                       "timeout": "2s", "retries": 1, "max_repetitions": 25 } },
//     "ap": { "host": "192.0.2.21",
//             "snmp": { "version": "3", "user": "vigie",
//                       "auth": "SHA", "auth_pass_file": "/etc/vigie/snmp.auth",
//                       "priv": "AES", "priv_pass_file": "/etc/vigie/snmp.priv",
//                       "engine_id": "0x80001f8803..." } } }    (for its v3 traps)
//
// Each check that reads a device subscribes, at configure time, the OIDs it needs; a
// poll asks the union of them. When a check wants a device whose latest poll is
// older than max_age, every subscribed device that is stale too is polled at once
// (concurrently, one thread): the checks of the other devices, due within the same
// few seconds, then find their answer ready. A failed poll (timeout, authentication)
// is shared the same way, so a dead device costs one timeout per max_age, not one
// per check.
//
// Thread safety: subscribe() only before the first snapshot(); snapshot() from any
// thread.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.hpp"
#include "plugins/snmp/session.hpp"

namespace vigie::plugins::snmp {

struct DeviceOptions {
  std::string name;
  Target target;
  std::chrono::milliseconds max_age{30'000};  // a poll younger than this is shared
  // The device's SNMPv3 engine id (bytes), for its traps ("engine_id", hex); "": learned.
  std::string engine_id;
  // Secrets kept in files, read (again) each time a session opens; "" for none.
  std::string community_file, auth_pass_file, priv_pass_file;
};

// Validates one device of the block; messages name the field by its whole path, e.g.
// "devices.fw.snmp.version: \"2\": must be \"2c\" or \"3\"".
// Passphrase files are read when a session opens, not here.
Result<DeviceOptions> parse_device(std::string_view name, const nlohmann::json& object);

// The device's target with its secrets read from their files (each call reads them
// again). kInvalidArgument naming the file that cannot be read, or a passphrase too short.
Result<Target> with_secrets(const DeviceOptions& options);

class Devices {
 public:
  // Validates the whole block (an object); messages start with "devices.<name>.".
  static Result<std::shared_ptr<Devices>> create(const nlohmann::json& block);
  ~Devices();

  // Known device names, sorted.
  std::vector<std::string> names() const;
  const DeviceOptions* options(std::string_view device) const;

  // Adds `request` to what each poll of `device` asks. kNotFound (listing the known
  // devices) for an unknown name.
  Status subscribe(std::string_view device, const Request& request);

  // Makes the next snapshot() of `device` poll it, however young its latest answer
  // (a trap said something changed). Unknown names are ignored.
  void expire(std::string_view device);

  // The latest answer of `device`, polling it first (with the other stale ones) when
  // it is older than its max_age. Returns by `deadline` at the latest.
  Result<std::shared_ptr<const Snapshot>> snapshot(std::string_view device,
                                                   std::chrono::steady_clock::time_point deadline);

 private:
  struct Device;
  Devices() = default;
  void poll_batch(std::vector<Device*> batch, std::chrono::steady_clock::time_point deadline,
                  std::unique_lock<std::mutex>& lock);

  mutable std::mutex mutex_;
  std::condition_variable polled_;
  std::map<std::string, std::unique_ptr<Device>, std::less<>> devices_;
  std::chrono::steady_clock::duration last_batch_{};  // how long the latest poll lasted
};

}  // namespace vigie::plugins::snmp
