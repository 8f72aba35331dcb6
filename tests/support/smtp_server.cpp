#include "tests/support/smtp_server.hpp"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vigie::testing {

SmtpServer::SmtpServer(std::filesystem::path dir, Options options) : dir_(std::move(dir)) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_ / "maildir");
  const fs::path port_file = dir_ / "smtp.port";
  fs::remove(port_file);
  std::vector<std::string> argv = {
      "/usr/bin/python3", std::string(VIGIE_SOURCE_DIR) + "/tests/support/smtp_server.py",
      "--maildir",        (dir_ / "maildir").string(),
      "--port-file",      port_file.string()};
  if (options.starttls) {
    argv.insert(argv.end(), {"--tls-cert", options.cert, "--tls-key", options.key});
  }
  if (!options.user.empty()) {
    argv.insert(argv.end(), {"--user", options.user, "--password", options.password});
  }
  if (options.refuse) argv.emplace_back("--refuse");
  if (options.hold_first) {
    fs::remove(dir_ / "release");
    argv.insert(argv.end(), {"--hold-first-until", (dir_ / "release").string()});
  }
  child_ = std::make_unique<Child>(argv, dir_ / "smtp.log");
  const auto port = wait_for_port_file(port_file, std::chrono::seconds(15));
  if (!port) throw std::runtime_error("the SMTP server did not start:\n" + child_->log());
  port_ = *port;
}

SmtpServer::SmtpServer(std::filesystem::path dir) : SmtpServer(std::move(dir), Options{}) {}

SmtpServer::~SmtpServer() = default;

std::vector<std::string> SmtpServer::messages() const {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "maildir")) {
    if (entry.path().extension() == ".eml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    out.push_back(s.str());
  }
  return out;
}

bool SmtpServer::wait_for(std::size_t n, std::chrono::milliseconds limit) const {
  return eventually([&] { return messages().size() >= n; }, limit);
}

void SmtpServer::release() { std::ofstream(dir_ / "release") << "go\n"; }

void SmtpServer::stop() {
  if (child_) child_->stop(SIGTERM);
}

std::string SmtpServer::log() const { return child_ ? child_->log() : std::string(); }

}  // namespace vigie::testing
