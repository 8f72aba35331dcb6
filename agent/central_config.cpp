#include "agent/central_config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/file.hpp"
#include "common/json_parse.hpp"
#include "common/log.hpp"
#include "common/utf8.hpp"

namespace vigie::agent {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
constexpr std::string_view kConfigPath = "/api/v1/config";
constexpr std::string_view kStatusPath = "/api/v1/config/status";

std::string origin_of(const std::string& version) {
  return "central configuration " + (version.empty() ? std::string("(no version)") : version);
}

// The collector's reason in an error reply, or the reply's start.
std::string reason_of(const HttpReply& reply) {
  if (reply.status == 0) return reply.error;
  const auto body = parse_json_or_discarded(reply.body);
  if (body.is_object() && body.contains("error") && body["error"].is_string())
    return "HTTP " + std::to_string(reply.status) + ": " + body["error"].get<std::string>();
  return "HTTP " + std::to_string(reply.status) + ": " + cut_utf8(reply.body, 200);
}

}  // namespace

Result<std::optional<CentralDocument>> read_central_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<CentralDocument>();
  auto text = read_file(path.string(), kMaxFileBytes);
  if (!text) return text.status();
  const auto root = parse_json_or_discarded(*text);
  if (!root.is_object() || !root.contains("version") || !root["version"].is_string() ||
      !root.contains("config") || !(root["config"].is_null() || root["config"].is_object())) {
    return Status::invalid(path.string() +
                           ": not a central configuration ({\"version\": ..., \"config\": ...})");
  }
  return std::optional<CentralDocument>(
      CentralDocument{root["version"].get<std::string>(), root["config"]});
}

Status write_central_file(const std::filesystem::path& path, const CentralDocument& document) {
  const std::string content =
      json{{"version", document.version}, {"config", document.config}}.dump(2) + "\n";
  const std::string tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::io_error("cannot write " + tmp + ": " + std::strerror(error));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    return Status::io_error("cannot write " + path.string() + ": " + std::strerror(error));
  }
  return Status::ok();
}

Result<StartingConfig> load_starting_config(const std::filesystem::path& local_path,
                                            const std::filesystem::path& central_path) {
  auto central = read_central_file(central_path);
  if (!central) return central.status();
  StartingConfig out;
  if (!central->has_value()) {
    auto config = load_config(local_path);
    if (!config) return config.status();
    out.config = std::move(*config);
    return out;
  }
  out.managed = true;
  auto text = read_file(local_path.string(), kMaxFileBytes);
  if (!text) return text.status();
  const CentralDocument& kept = **central;
  if (!kept.config.is_null()) {
    auto config =
        parse_managed_config(*text, local_path.string(), &kept.config, origin_of(kept.version));
    if (config) {
      out.config = std::move(*config);
      out.version = kept.version;
      return out;
    }
    // Only what the centre sent can be wrong here: the file itself is checked below.
    out.refused = kept.version;
    out.error = config.status().message();
  }
  auto own = parse_managed_config(*text, local_path.string(), nullptr, {});
  if (!own) return own.status();
  out.config = std::move(*own);
  return out;
}

CentralPoller::CentralPoller(CentralPollerOptions options, std::string running, std::string refused,
                             std::string error, Exchange exchange, Apply apply)
    : options_(std::move(options)),
      exchange_(std::move(exchange)),
      apply_(std::move(apply)),
      running_(std::move(running)),
      last_seen_(refused.empty() ? running_ : refused),
      refused_(std::move(refused)),
      error_(std::move(error)) {
  thread_ = std::thread([this] {
    try {
      loop();
    } catch (const std::exception& e) {  // thread entry
      log::error(std::string("central configuration: polling stopped: ") + e.what());
    }
  });
}

CentralPoller::~CentralPoller() { stop(); }

void CentralPoller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CentralPoller::loop() {
  while (true) {
    poll_once();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, options_.interval, [&] { return stopping_; })) return;
  }
}

void CentralPoller::poll_once() {
  HttpRequest request;
  request.method = "GET";
  request.target = std::string(kConfigPath);
  if (!last_seen_.empty()) request.headers.emplace_back("If-None-Match", "\"" + last_seen_ + "\"");
  const HttpReply reply = exchange_(request, options_.request_timeout);
  std::string problem;
  if (reply.status == 200) {
    auto body = parse_json_or_discarded(reply.body);
    if (body.is_object() && body.contains("version") && body["version"].is_string() &&
        body.contains("config")) {
      take(body);
    } else {
      problem = "the collector's reply is not a configuration";
    }
  } else if (reply.status == 404) {
    problem = "the collector keeps no configuration for this agent (" + reason_of(reply) +
              "); running the one in use";
  } else if (reply.status != 304) {
    problem = "cannot fetch the configuration: " + reason_of(reply) + "; running the one in use";
  }
  if (!problem.empty() && problem != last_problem_)
    log::warning("central configuration: " + problem);
  last_problem_ = problem;
  if (status_due_ && reply.status != 0) report_status();
}

void CentralPoller::take(const json& body) {
  const std::string version = body["version"].get<std::string>();
  last_seen_ = version;
  const json& document = body["config"];
  auto config = parse_managed_config(options_.local_text, options_.local_origin, &document,
                                     origin_of(version));
  status_due_ = true;
  if (!config) {
    refused_ = version;
    error_ = config.status().message();
    log::error("central configuration " + version + " REFUSED: " + error_ + "; still running " +
               (running_.empty() ? "the file's own" : running_));
    return;
  }
  if (Status s = write_central_file(options_.file, {version, document}); !s) {
    // It runs all the same; at the next start the older one on disk would.
    log::error("central configuration " + version + ": " + s.message());
  }
  const std::size_t checks = config->checks.size();
  apply_(std::move(*config), version);
  log::notice("central configuration " + version + " applied: " + std::to_string(checks) +
              (checks == 1 ? " check" : " checks"));
  running_ = version;
  refused_.clear();
  error_.clear();
}

void CentralPoller::report_status() {
  HttpRequest request;
  request.method = "POST";
  request.target = std::string(kStatusPath);
  request.content_type = "application/json";
  request.body = json{{"running", running_}, {"refused", refused_}, {"error", error_}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  const HttpReply reply = exchange_(request, options_.request_timeout);
  if (reply.status >= 200 && reply.status < 300) {
    status_due_ = false;
  } else {
    log::debug("central configuration: status not recorded: " + reason_of(reply));
  }
}

}  // namespace vigie::agent
