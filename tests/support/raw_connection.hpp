#pragma once
// A connection on which a test writes the bytes itself and watches what the server
// does: a client that sends one byte a second, a request cut in the middle. libcurl
// makes the TCP connection and, for an https URL, the TLS handshake (the server must be
// signed by `ca_file`); after that nothing is added to what the test sends.
//
// One thread at a time. Using it ignores SIGPIPE in the whole process, so that writing
// to a connection the server closed is an error, not the end of the test program.

#include <chrono>
#include <string>
#include <string_view>

namespace vigie::testing {

class RawConnection {
 public:
  // Connects to the host and port of `url` ("https://127.0.0.1:8443", any path is
  // ignored); error() says why when it could not.
  explicit RawConnection(const std::string& url, const std::string& ca_file = {});
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // "" while connected; why the connection failed or ended otherwise.
  const std::string& error() const { return error_; }
  // True from a successful connection until the peer closes it or an I/O fails.
  bool open() const { return open_; }

  // Sends all of `data`, waiting at most `limit` for the socket to take it. False when
  // the connection is not open, fails, or the time runs out.
  bool send(std::string_view data, std::chrono::milliseconds limit = std::chrono::seconds(5));
  // Reads what the server sends (appended to received()) until it closes the
  // connection or `limit` passes (0: only what has already arrived). True when closed.
  bool wait_closed(std::chrono::milliseconds limit);
  const std::string& received() const { return received_; }

 private:
  void* curl_ = nullptr;  // CURL*: libcurl's header stays in the .cpp
  bool open_ = false;
  std::string error_;
  std::string received_;
};

}  // namespace vigie::testing
