#include "tests/support/net_peers.hpp"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "plugins/process.hpp"

namespace vigie::testing {

NetPeers::NetPeers(std::filesystem::path dir, const Options& options) {
  const auto port_file = dir / "peers.json";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   std::string(VIGIE_SOURCE_DIR) + "/tests/support/net_peers.py",
                                   "--port-file", port_file.string()};
  const auto add = [&](const char* flag, const std::vector<Tls>& list) {
    for (const auto& t : list) argv.insert(argv.end(), {flag, t.name + ":" + t.cert + ":" + t.key});
  };
  add("--https", options.https);
  add("--tls", options.tls);
  add("--imap", options.imap);
  add("--pop3", options.pop3);
  for (const auto& name : options.http) argv.insert(argv.end(), {"--http", name});
  for (const auto& name : options.silent) argv.insert(argv.end(), {"--silent", name});
  child_ = std::make_unique<Child>(argv, dir / "peers.log");
  const bool ready =
      eventually([&] { return std::filesystem::exists(port_file); }, std::chrono::seconds(15));
  if (!ready) throw std::runtime_error("the network peers did not start:\n" + child_->log());
  std::ifstream in(port_file);
  const auto ports = nlohmann::json::parse(in);
  for (const auto& [name, port] : ports.items()) ports_[name] = port.get<int>();
}

NetPeers::~NetPeers() = default;

int NetPeers::port(const std::string& name) const {
  const auto it = ports_.find(name);
  if (it == ports_.end()) throw std::runtime_error("no peer named " + name);
  return it->second;
}

std::string NetPeers::log() const { return child_ ? child_->log() : std::string(); }

void make_certificate(const std::filesystem::path& dir, const std::string& stem, int days,
                      const std::vector<std::string>& names) {
  std::vector<std::string> argv = {std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs",
                                   "--server",
                                   stem,
                                   "--days",
                                   std::to_string(days),
                                   dir.string()};
  argv.insert(argv.end(), names.begin(), names.end());
  plugins::ProcessOptions options;
  options.timeout = std::chrono::seconds(30);
  auto result = plugins::run_process(argv, options);
  if (!result || result->ending != plugins::ProcessResult::Ending::kExited ||
      result->exit_code != 0)
    throw std::runtime_error("make-certs failed: " +
                             (result ? result->err : result.status().message()));
}

}  // namespace vigie::testing
