#pragma once
// A real webhook receiver on 127.0.0.1 (tests/support/webhook_receiver.py, Python's
// http.server) for the tests of alert notifications: it keeps every request it gets,
// and can speak HTTPS or answer 500 to show what a sender does with a failing peer.

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
  };
  struct Request {
    std::int64_t time_ms = 0;  // when it arrived (wall clock)
    std::string path;
    std::string content_type;
    std::string body;
    int status = 0;  // the answer it got
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
