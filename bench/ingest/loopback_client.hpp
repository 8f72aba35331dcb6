#pragma once
// A blocking HTTP/1.1 client that keeps its one connection alive between requests
// (a libcurl easy handle; loopback_client.cpp is the only file of the benchmark that
// includes curl.h). One per thread: a client is never shared.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

struct curl_slist;

namespace vigie::bench::ingest {

// Initialises libcurl for the process; call once, before any thread starts.
Status init_http();

// `url` if it is an http or https URL whose host is on the loopback interface
// (127.0.0.0/8, ::1 or localhost), without a trailing '/'; kInvalidArgument otherwise.
// The benchmark sends only to this machine.
Result<std::string> loopback_base_url(std::string_view url);

// Request headers, "Name: value" each, built once and sent with many requests.
// "Expect:" is always added: no 100-continue round trip before a body.
class Headers {
 public:
  explicit Headers(const std::vector<std::string>& lines);
  const curl_slist* list() const { return list_.get(); }

 private:
  struct Free {
    void operator()(curl_slist* list) const;
  };
  std::unique_ptr<curl_slist, Free> list_;
};

struct LoopbackReply {
  long status = 0;           // the HTTP status; 0 when no answer came (see error)
  std::string error;         // why no answer came, "" when one did
  std::string body;          // the answer's body, its first 4 KiB
  bool reconnected = false;  // a new connection was opened for this request
};

class LoopbackClient {
 public:
  // `ca_file`: the CA certificate (PEM) that https servers must chain to; "" for the
  // system's. `timeout`: the longest one request may take, connection included.
  static Result<LoopbackClient> create(const std::string& ca_file,
                                       std::chrono::milliseconds timeout);

  LoopbackClient(LoopbackClient&&) noexcept;
  LoopbackClient& operator=(LoopbackClient&&) noexcept;
  ~LoopbackClient();

  // POSTs `body` to `url` and waits for the answer (its body's first 4 KiB).
  LoopbackReply post(const std::string& url, const Headers& headers, std::string_view body);
  // GETs `url` and waits for the answer, its body whole up to 64 MiB.
  LoopbackReply get(const std::string& url, const Headers& headers);

 private:
  struct Impl;
  explicit LoopbackClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::bench::ingest
