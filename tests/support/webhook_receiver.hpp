#pragma once
// A real webhook receiver on 127.0.0.1 (tests/support/webhook_receiver.py, Python's
// http.server) for the tests of alert notifications: it keeps every request it gets,
// and can speak HTTPS, answer 500 or never answer, to show what a sender does with a
// failing or hanging peer.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child.hpp"

namespace vigie::testing {

class WebhookReceiver {
 public:
  struct Options {
    std::string cert;  // non-empty: HTTPS with this certificate and key
    std::string key;
    int fail_first = 0;        // answer 500 to the first N requests
    bool always_fail = false;  // answer 500 to every request
    // Requests to these paths are kept (status 0) and never answered: the receiver
    // waits until the sender closes the connection (its timeout, or its death).
    std::vector<std::string> hold_paths;
    std::chrono::milliseconds delay{0};  // every answer this long after the request
  };
  struct Request {
    std::int64_t time_ms = 0;  // when it arrived (wall clock)
    std::string path;
    std::string content_type;
    std::string body;
    int status = 0;  // the answer it got; 0: held, never answered
  };

  // Starts the receiver with its files under `dir` (which must exist) and waits until
  // it listens. Throws std::runtime_error when it cannot.
  WebhookReceiver(std::filesystem::path dir, Options options);
  explicit WebhookReceiver(std::filesystem::path dir);
  ~WebhookReceiver();

  int port() const { return port_; }
  // "http(s)://127.0.0.1:PORT" + path.
  std::string url(const std::string& path) const;
  std::vector<Request> requests() const;
  // True once at least `n` requests have arrived, false after `limit`.
  bool wait_for(std::size_t n, std::chrono::milliseconds limit) const;
  std::string log() const;

 private:
  std::filesystem::path dir_;
  bool tls_ = false;
  int port_ = 0;
  std::unique_ptr<Child> child_;
};

}  // namespace vigie::testing
