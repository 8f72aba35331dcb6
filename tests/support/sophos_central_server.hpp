#pragma once
// A Sophos Central test server on 127.0.0.1 (tests/support/sophos_central_server.py,
// Python's http.server with ssl): the identity host, the global API host and two
// regions, over HTTPS with certificates from scripts/make-certs, serving the shapes of
// the public API for a scenario the test writes (partner, tenants, endpoints, alerts,
// and faults: 403, 429, tokens that expire or are revoked, malformed JSON, endless
// lists, slow tenants). It logs every request for the test to read.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/child.hpp"

namespace vigie::testing {

class SophosCentralServer {
 public:
  // Starts the server with its files under `dir` (which must exist): certificates in
  // dir/central-tls (made for localhost and 127.0.0.1), the scenario, the request log.
  // The first region's apiHost names "localhost" (SNI and a DNS name checked), the
  // second "127.0.0.1" (an address checked). Throws std::runtime_error when it cannot
  // start.
  SophosCentralServer(std::filesystem::path dir, const nlohmann::json& scenario);
  ~SophosCentralServer();

  std::string auth_url() const;              // "https://127.0.0.1:<id port>"
  std::string api_url() const;               // "https://127.0.0.1:<api port>"
  std::string region_url(int region) const;  // as in the tenants' apiHost
  std::string ca() const;                    // the CA file that signed its certificate
  // The requests served so far, one JSON object each (see the .py file).
  std::vector<nlohmann::json> requests() const;
  std::string log() const;

 private:
  std::filesystem::path dir_;
  int id_port_ = 0;
  int api_port_ = 0;
  int region_ports_[2] = {0, 0};
  std::unique_ptr<Child> child_;
};

}  // namespace vigie::testing
