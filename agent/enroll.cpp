#include "agent/enroll.hpp"

#include <unistd.h>

#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agent/central_config.hpp"
#include "agent/config.hpp"
#include "agent/output.hpp"
#include "agent/shipper.hpp"
#include "common/file.hpp"
#include "common/json_parse.hpp"
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
  const auto answer = parse_json_or_discarded(reply.body);
  if (!answer.is_object() || !answer.contains("token") || !answer["token"].is_string() ||
      answer["token"].get<std::string>().empty())
    return Status::invalid("the collector's reply holds no token: " + reply_reason(reply.body));
  return write_file_atomically(o.token_file, answer["token"].get<std::string>() + "\n", 0600);
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
      print_error("vigie-agent enroll: " + std::string(a) +
                  ": missing value (or unknown argument)\n");
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
      print_error("vigie-agent enroll: unknown argument \"" + std::string(a) + "\"\n");
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
      print_error("vigie-agent enroll: " + config.status().message() + "\n");
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
      print_error("vigie-agent enroll: " + text.status().message() + "\n");
      return 1;
    }
    o.enroll_token = trim(*text);
  }
  if (Status s = enroll(o); !s) {
    print_error("vigie-agent enroll: " + s.message() + "\n");
    return s.code() == Code::kInvalidArgument && s.message().find("required") != std::string::npos
               ? 2
               : 1;
  }
  print_error("enrolled as agent \"" + o.agent_id + "\" of site \"" + o.site +
              "\"; token written to " + o.token_file + "\n");
  if (managed) {
    // The file's presence makes the agent managed; one kept already (a re-enrollment)
    // keeps the configuration it holds.
    const std::filesystem::path file = std::filesystem::path(state_dir) / kCentralFile;
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (!std::filesystem::exists(file, ec)) {
      if (Status s = write_central_file(file, {"", nullptr}); !s) {
        print_error("vigie-agent enroll: " + s.message() + "\n");
        return 1;
      }
    }
    print_error("managed: the agent's checks come from the collector (kept in " + file.string() +
                ")\n");
  }
  return 0;
}

}  // namespace vigie::agent
