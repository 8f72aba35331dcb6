#include "agent/enroll.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agent/central_config.hpp"
#include "agent/config.hpp"
#include "agent/shipper.hpp"
#include "common/file.hpp"
#include "common/protocol.hpp"

namespace vigie::agent {
namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  const auto last = s.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

std::string hostname() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string();
}

// Writes `content` to `path` with mode 0600 through a temporary file, fsync and rename.
Status write_secret(const std::filesystem::path& path, const std::string& content) {
  const std::string tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::io_error("cannot write " + tmp + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::io_error("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace

Status enroll(const EnrollOptions& o) {
  for (const auto& [name, value] : {std::pair{"--collector", o.url},
                                    {"--token-file", o.token_file},
                                    {"--enroll-token", o.enroll_token},
                                    {"--agent-id", o.agent_id},
                                    {"--site", o.site}}) {
    if (value.empty()) return Status::invalid(std::string(name) + " is required");
  }
  const nlohmann::json request = {{"agent",
                                   {{"id", o.agent_id},
                                    {"site", o.site},
                                    {"hostname", hostname()},
                                    {"version", VIGIE_VERSION}}}};
  ShipperOptions http{
      .url = o.url, .ca_file = o.ca_file, .client_cert = o.client_cert, .client_key = o.client_key};
  const HttpReply reply = post_once(http, "/api/v1/enroll", request.dump(), o.enroll_token);
  if (reply.status == 0)
    return Status::unavailable("cannot reach the collector at " + o.url + ": " + reply.error);
  if (reply.status != 200) {
    return Status(reply.status == 401 || reply.status == 403 ? Code::kPermissionDenied
                                                             : Code::kInvalidArgument,
                  "the collector refused the enrollment (HTTP " + std::to_string(reply.status) +
                      "): " + reply_reason(reply.body));
  }
  const auto answer = nlohmann::json::parse(reply.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("token") || !answer["token"].is_string() ||
      answer["token"].get<std::string>().empty())
    return Status::invalid("the collector's reply holds no token: " + reply_reason(reply.body));
  return write_secret(o.token_file, answer["token"].get<std::string>() + "\n");
}

int enroll_command(std::span<char* const> args) {
  EnrollOptions o;
  std::string config_path;
  std::string enroll_token_file;
  std::string state_dir = "/var/lib/vigie";
  bool managed = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--managed") {
      managed = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      std::cerr << "vigie-agent enroll: " << a << ": missing value (or unknown argument)\n";
      return 2;
    }
    std::string v = args[++i];
    if (a == "--config") config_path = v;
    else if (a == "--collector") o.url = v;
    else if (a == "--ca-file") o.ca_file = v;
    else if (a == "--token-file") o.token_file = v;
    else if (a == "--agent-id") o.agent_id = v;
    else if (a == "--site") o.site = v;
    else if (a == "--enroll-token") o.enroll_token = v;
    else if (a == "--enroll-token-file") enroll_token_file = v;
    else if (a == "--state-dir") state_dir = v;
    else {
      std::cerr << "vigie-agent enroll: unknown argument \"" << a << "\"\n";
      return 2;
    }
  }
  // What the command line leaves out comes from the agent's configuration.
  if (config_path.empty() && std::filesystem::exists(kDefaultConfigPath))
    config_path = std::string(kDefaultConfigPath);
  if (!config_path.empty()) {
    // A managed agent's file may list no check: they come from the centre.
    auto text = read_file(config_path, 4 * 1024 * 1024);
    auto config = text ? (managed ? parse_managed_config(*text, config_path, nullptr, {})
                                  : parse_config(*text, config_path))
                       : Result<Config>(text.status());
    if (!config) {
      std::cerr << "vigie-agent enroll: " << config.status().message() << "\n";
      return 1;
    }
    if (o.url.empty()) o.url = config->collector.url;
    if (o.ca_file.empty()) o.ca_file = config->collector.ca_file;
    if (o.token_file.empty()) o.token_file = config->collector.token_file;
    o.client_cert = config->collector.client_cert;
    o.client_key = config->collector.client_key;
    if (o.agent_id.empty()) o.agent_id = config->agent_id;
    if (o.site.empty()) o.site = config->site;
  }
  if (!enroll_token_file.empty()) {
    auto text = read_file(enroll_token_file, 4096);
    if (!text) {
      std::cerr << "vigie-agent enroll: " << text.status().message() << "\n";
      return 1;
    }
    o.enroll_token = trim(*text);
  }
  if (Status s = enroll(o); !s) {
    std::cerr << "vigie-agent enroll: " << s.message() << "\n";
    return s.code() == Code::kInvalidArgument && s.message().find("required") != std::string::npos
               ? 2
               : 1;
  }
  std::cerr << "enrolled as agent \"" << o.agent_id << "\" of site \"" << o.site
            << "\"; token written to " << o.token_file << "\n";
  if (managed) {
    // The file's presence makes the agent managed; one kept already (a re-enrollment)
    // keeps the configuration it holds.
    const std::filesystem::path file = std::filesystem::path(state_dir) / kCentralFile;
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (!std::filesystem::exists(file, ec)) {
      if (Status s = write_central_file(file, {"", nullptr}); !s) {
        std::cerr << "vigie-agent enroll: " << s.message() << "\n";
        return 1;
      }
    }
    std::cerr << "managed: the agent's checks come from the collector (kept in " << file.string()
              << ")\n";
  }
  return 0;
}

}  // namespace vigie::agent
