#include "tests/support/webhook_receiver.hpp"

#include <cctype>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace vigie::testing {

WebhookReceiver::WebhookReceiver(std::filesystem::path dir, Options options)
    : dir_(std::move(dir)), tls_(!options.cert.empty()) {
  const auto port_file = dir_ / "webhook.port";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {
      "/usr/bin/python3",
      std::string(VIGIE_SOURCE_DIR) + "/tests/support/webhook_receiver.py",
      "--log",
      (dir_ / "webhook.jsonl").string(),
      "--port-file",
      port_file.string()};
  if (tls_) argv.insert(argv.end(), {"--tls-cert", options.cert, "--tls-key", options.key});
  if (options.fail_first > 0)
    argv.insert(argv.end(), {"--fail-first", std::to_string(options.fail_first)});
  if (options.always_fail) argv.emplace_back("--always-fail");
  for (const auto& path : options.hold_paths) argv.insert(argv.end(), {"--hold-path", path});
  if (options.delay.count() > 0)
    argv.insert(argv.end(), {"--delay-ms", std::to_string(options.delay.count())});
  child_ = std::make_unique<Child>(argv, dir_ / "webhook.log");
  const auto port = wait_for_port_file(port_file, std::chrono::seconds(15));
  if (!port) throw std::runtime_error("the webhook receiver did not start:\n" + child_->log());
  port_ = *port;
}

WebhookReceiver::WebhookReceiver(std::filesystem::path dir)
    : WebhookReceiver(std::move(dir), Options{}) {}

WebhookReceiver::~WebhookReceiver() = default;

std::string WebhookReceiver::url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::requests() const {
  std::vector<Request> out;
  std::ifstream in(dir_ / "webhook.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;  // a line being written
    Request r;
    r.time_ms = j.value("time", std::int64_t{0});
    r.path = j.value("path", "");
    r.body = j.value("body", "");
    r.status = j.value("status", 0);
    if (j.contains("headers") && j["headers"].is_object()) {
      for (const auto& [name, value] : j["headers"].items()) {
        std::string lower = name;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "content-type" && value.is_string()) r.content_type = value;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool WebhookReceiver::wait_for(std::size_t n, std::chrono::milliseconds limit) const {
  return eventually([&] { return requests().size() >= n; }, limit);
}

std::string WebhookReceiver::log() const { return child_ ? child_->log() : std::string(); }

}  // namespace vigie::testing
