#include "tests/support/raw_connection.hpp"

#include <curl/curl.h>
#include <poll.h>

#include <csignal>

namespace vigie::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, at least 0, as poll() takes them.
int left_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits up to `ms` for `events` on the connection's socket; false on timeout or error.
bool wait_socket(CURL* curl, short events, int ms) {
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
    return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, ms) > 0;
}

}  // namespace

RawConnection::RawConnection(const std::string& url, const std::string& ca_file) {
  // TLS may write with plain write(2): a closed peer must give EPIPE, not kill the test.
  std::signal(SIGPIPE, SIG_IGN);
  CURL* curl = curl_easy_init();
  if (!curl) {
    error_ = "curl_easy_init failed";
    return;
  }
  curl_ = curl;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    error_ = std::string("connect: ") + curl_easy_strerror(rc);
    return;
  }
  open_ = true;
}

RawConnection::~RawConnection() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

bool RawConnection::send(std::string_view data, std::chrono::milliseconds limit) {
  CURL* curl = static_cast<CURL*>(curl_);
  const auto deadline = Clock::now() + limit;
  while (open_ && !data.empty()) {
    std::size_t sent = 0;
    const CURLcode rc = curl_easy_send(curl, data.data(), data.size(), &sent);
    if (rc == CURLE_AGAIN) {
      if (!wait_socket(curl, POLLOUT, left_ms(deadline))) {
        error_ = "send: timed out";
        return false;
      }
      continue;
    }
    if (rc != CURLE_OK) {
      open_ = false;
      error_ = std::string("send: ") + curl_easy_strerror(rc);
      return false;
    }
    data.remove_prefix(sent);
  }
  return open_;
}

bool RawConnection::wait_closed(std::chrono::milliseconds limit) {
  CURL* curl = static_cast<CURL*>(curl_);
  const auto deadline = Clock::now() + limit;
  while (open_) {
    // Read everything that has arrived: TLS records that are not data (session tickets)
    // make the socket readable and give CURLE_AGAIN.
    for (;;) {
      char buffer[4096];
      std::size_t n = 0;
      const CURLcode rc = curl_easy_recv(curl, buffer, sizeof buffer, &n);
      if (rc == CURLE_AGAIN) break;
      if (rc != CURLE_OK || n == 0) {
        open_ = false;
        error_ = rc == CURLE_OK ? "closed by the peer"
                                : std::string("closed: ") + curl_easy_strerror(rc);
        return true;
      }
      received_.append(buffer, n);
    }
    const int ms = left_ms(deadline);
    if (ms == 0) return false;
    wait_socket(curl, POLLIN, ms);
  }
  return true;
}

}  // namespace vigie::testing
