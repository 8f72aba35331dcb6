#pragma once
// Network peers on 127.0.0.1 for the tests of the network checks, in one Python process
// (tests/support/net_peers.py, Python's standard library only): HTTP and HTTPS servers
// with a home page, an error, a slow page and a redirect loop; a plain TLS service;
// IMAP and POP3 servers with STARTTLS; a server that accepts and never answers.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child.hpp"

namespace vigie::testing {

class NetPeers {
 public:
  struct Tls {
    std::string name;
    std::string cert, key;  // files of scripts/make-certs
  };
  struct Options {
    std::vector<Tls> https, tls, imap, pop3;
    std::vector<std::string> http, silent;
  };

  // Starts them with their files under `dir` (which must exist) and waits until all
  // listen. Throws std::runtime_error when they cannot start.
  NetPeers(std::filesystem::path dir, const Options& options);
  ~NetPeers();

  // The port of the service called `name`; throws when there is none.
  int port(const std::string& name) const;
  std::string log() const;

 private:
  std::map<std::string, int> ports_;
  std::unique_ptr<Child> child_;
};

// Makes certificates with scripts/make-certs: `dir`/ca.crt signs `dir`/<stem>.crt valid
// for `names`, from `days` days ago when negative (expired) or for `days` days. Throws
// when it fails.
void make_certificate(const std::filesystem::path& dir, const std::string& stem, int days,
                      const std::vector<std::string>& names);

}  // namespace vigie::testing
