#pragma once
// A managed agent's configuration from the centre (vigie-agent enroll --managed;
// docs/protocol.md, "Configuration from the centre").
//
// The last good configuration is kept on disk, <state-dir>/central.json:
//   {"version": "3f2a9c0b1d4e5f60", "config": {"defaults": ..., "devices": ..., "checks": ...}}
// ("config": null until the first one arrives). The file's presence is what makes the
// agent managed: enroll --managed creates it. At start the agent runs what it holds, so
// a collector that is down changes nothing.
//
// A CentralPoller asks the collector for the agent's configuration every
// collector.config_poll with GET /api/v1/config and If-None-Match (an unchanged one
// is one small request answered 304), over the shipper's connection. A new one is
// validated with the same code as `vigie-agent config check` (parse_managed_config):
// valid, it is written to the file and handed to `apply`; invalid, it is refused, the
// agent keeps running the last good one, and the reason is logged. Either way the
// agent tells the collector what it runs, and what it refused and why
// (POST /api/v1/config/status).

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/config.hpp"
#include "common/http_client.hpp"
#include "common/status.hpp"

namespace vigie::agent {

inline constexpr std::string_view kCentralFile = "central.json";

// What the centre sent, or what is kept on disk.
struct CentralDocument {
  std::string version;    // "": none received yet
  nlohmann::json config;  // null: none received yet
};

// The file's document; nullopt when there is no file (the agent is not managed).
// kInvalidArgument for a file that is not such a document.
Result<std::optional<CentralDocument>> read_central_file(const std::filesystem::path& path);
// Writes it atomically (temporary file, fsync, rename), mode 0600.
Status write_central_file(const std::filesystem::path& path, const CentralDocument& document);

// The agent's configuration from its own file `local_path` and, for a managed agent,
// the centre's document kept at `central_path`. If the document kept there no longer
// validates (an agent upgraded since, a check type gone), the file's own checks run
// and `*refused` says why. `version` is set to the version in use ("" the file's own).
struct StartingConfig {
  Config config;
  bool managed = false;
  std::string version;
  std::string refused;  // the version on disk not used; "" when it was
  std::string error;    // why
};
Result<StartingConfig> load_starting_config(const std::filesystem::path& local_path,
                                            const std::filesystem::path& central_path);

struct CentralPollerOptions {
  std::filesystem::path file;  // <state-dir>/central.json
  std::string local_text;      // the agent's own configuration file, as read at start
  std::string local_origin;    // its path, for messages
  std::chrono::milliseconds interval{60'000};
  std::chrono::milliseconds request_timeout{30'000};
};

class CentralPoller {
 public:
  // Sends a request to the collector with the agent's token (Shipper::exchange).
  using Exchange = std::function<HttpReply(const HttpRequest&, std::chrono::milliseconds)>;
  // Takes a validated configuration to run; called on the poller's thread.
  using Apply = std::function<void(Config config, const std::string& version)>;

  // Starts the thread; the first poll is at once. `running`: the version in use at
  // start ("" none); `refused` and `error`: the one on disk refused at start, and why
  // ("" none).
  CentralPoller(CentralPollerOptions options, std::string running, std::string refused,
                std::string error, Exchange exchange, Apply apply);
  ~CentralPoller();  // stop()
  CentralPoller(const CentralPoller&) = delete;
  CentralPoller& operator=(const CentralPoller&) = delete;

  // Ends the thread, after the request in flight (bounded by its timeout). Any thread
  // but the poller's.
  void stop();

 private:
  void loop();
  void poll_once();
  void take(const nlohmann::json& body);
  void report_status();

  const CentralPollerOptions options_;
  Exchange exchange_;
  Apply apply_;
  std::string running_;       // version in use
  std::string last_seen_;     // last version received, used or refused: the If-None-Match
  std::string refused_;       // last version refused
  std::string error_;         // why
  bool status_due_ = true;    // the collector has not heard what we run yet
  std::string last_problem_;  // logged once until it changes
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigie::agent
