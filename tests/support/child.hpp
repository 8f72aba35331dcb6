#pragma once
// A real program started by a test (a collector, an agent): its output goes to a log
// file the test can print on failure; the destructor stops it (SIGTERM, then SIGKILL
// after a grace period) so that no test leaves a process behind.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vigie::testing {

class Child {
 public:
  // Starts argv[0] with argv; stdout and stderr appended to `log`.
  Child(std::vector<std::string> argv, std::filesystem::path log);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig`; then, for a stopping signal, waits up to `grace` and returns the
  // exit status (as from waitpid), or nullopt if it is still running.
  std::optional<int> stop(int sig, std::chrono::milliseconds grace = std::chrono::seconds(5));
  // True while the process has not exited.
  bool running();
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::optional<int> status_;
};

// Polls `done` every 50 ms until it returns true or `limit` passes.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Reads a port written by `--port-file`, waiting up to `limit` for it to appear.
std::optional<int> wait_for_port_file(const std::filesystem::path& file,
                                      std::chrono::milliseconds limit);

struct HttpReply {
  long status = 0;  // 0: no reply (the error says why)
  std::string body;
  std::string error;
};

// HTTP(S) from the test side (libcurl), for requests the test shapes itself. For
// https URLs the server must be signed by `ca_file`.
HttpReply http_request(const std::string& method, const std::string& url,
                       const std::string& body = {}, const std::vector<std::string>& headers = {},
                       const std::string& ca_file = {});

}  // namespace vigie::testing
