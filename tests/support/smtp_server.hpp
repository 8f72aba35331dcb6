#pragma once
// A real SMTP server on 127.0.0.1 (Debian's python3-aiosmtpd, driven by
// tests/support/smtp_server.py) for the tests of e-mail: it keeps every message it
// accepts, raw, for the test to read. It can demand STARTTLS, demand a login, or
// refuse every recipient (550).

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child.hpp"

namespace vigie::testing {

class SmtpServer {
 public:
  struct Options {
    bool starttls = false;  // require STARTTLS with this certificate and key
    std::string cert;
    std::string key;
    std::string user;  // non-empty: require AUTH with user and password
    std::string password;
    bool refuse = false;  // answer 550 to every recipient
    // Hold the answer to the first message, once it is kept (messages() shows it), until
    // release() (30 s at most): the sender waits for it meanwhile.
    bool hold_first = false;
  };

  // Starts the server with its files under `dir` (which must exist) and waits until it
  // listens. Throws std::runtime_error when it cannot.
  SmtpServer(std::filesystem::path dir, Options options);
  explicit SmtpServer(std::filesystem::path dir);
  ~SmtpServer();

  int port() const { return port_; }
  // Every message accepted so far, oldest first, as received (headers and body).
  std::vector<std::string> messages() const;
  // True once at least `n` messages have arrived, false after `limit`.
  bool wait_for(std::size_t n, std::chrono::milliseconds limit) const;
  // Lets the first message's answer go (Options::hold_first).
  void release();
  // Stops the server: later connections are refused.
  void stop();
  std::string log() const;

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  std::unique_ptr<Child> child_;
};

}  // namespace vigie::testing
