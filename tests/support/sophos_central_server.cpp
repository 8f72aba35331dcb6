#include "tests/support/sophos_central_server.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "plugins/process.hpp"

namespace vigie::testing {

using namespace std::chrono_literals;

SophosCentralServer::SophosCentralServer(std::filesystem::path dir, const nlohmann::json& scenario)
    : dir_(std::move(dir)) {
  const auto tls = dir_ / "central-tls";
  auto certs = plugins::run_process({std::string(VIGIE_SOURCE_DIR) + "/scripts/make-certs",
                                     tls.string(), "localhost", "127.0.0.1"},
                                    {.timeout = 20s, .max_output = 1 << 20});
  if (!certs || certs->exit_code != 0) throw std::runtime_error("make-certs failed");
  const auto scenario_file = dir_ / "central-scenario.json";
  std::ofstream(scenario_file) << scenario.dump(1);
  const auto port_file = dir_ / "central.ports";
  std::filesystem::remove(port_file);
  child_ = std::make_unique<Child>(
      std::vector<std::string>{
          "/usr/bin/python3",
          std::string(VIGIE_SOURCE_DIR) + "/tests/support/sophos_central_server.py", "--scenario",
          scenario_file.string(), "--log", (dir_ / "central-requests.jsonl").string(),
          "--port-file", port_file.string(), "--tls-cert", (tls / "server.crt").string(),
          "--tls-key", (tls / "server.key").string()},
      dir_ / "central.log");
  const bool ready = eventually([&] { return std::filesystem::exists(port_file); }, 15s);
  if (!ready) throw std::runtime_error("the Sophos Central test server did not start:\n" + log());
  std::ifstream in(port_file);
  const auto ports = nlohmann::json::parse(in, nullptr, false);
  if (!ports.is_object()) throw std::runtime_error("unreadable " + port_file.string());
  id_port_ = ports["id"];
  api_port_ = ports["api"];
  region_ports_[0] = ports["regions"][0];
  region_ports_[1] = ports["regions"][1];
}

SophosCentralServer::~SophosCentralServer() = default;

std::string SophosCentralServer::auth_url() const {
  return "https://127.0.0.1:" + std::to_string(id_port_);
}

std::string SophosCentralServer::api_url() const {
  return "https://127.0.0.1:" + std::to_string(api_port_);
}

std::string SophosCentralServer::region_url(int region) const {
  return std::string(region == 0 ? "https://localhost:" : "https://127.0.0.1:") +
         std::to_string(region_ports_[region]);
}

std::string SophosCentralServer::ca() const { return (dir_ / "central-tls/ca.crt").string(); }

std::vector<nlohmann::json> SophosCentralServer::requests() const {
  std::vector<nlohmann::json> out;
  std::ifstream in(dir_ / "central-requests.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));  // else a line being written
  }
  return out;
}

std::string SophosCentralServer::log() const { return child_ ? child_->log() : std::string(); }

}  // namespace vigie::testing
