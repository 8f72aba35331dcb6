#include "plugins/antivirus/clamd_check.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <ctime>
#include <string>
#include <system_error>
#include <utility>

#include "common/duration.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::antivirus {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::string_view kDefaultSocket = "/run/clamav/clamd.ctl";
constexpr int kDefaultPort = 3310;
// clamd's replies to PING and VERSION are one short line.
constexpr std::size_t kMaxReply = 1024;

std::string errno_text(int error) { return std::generic_category().message(error); }

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

int poll_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

// Waits for `events` on `fd` until the deadline: false when the time ran out.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    const int timeout = poll_ms(deadline);
    const int ready = ::poll(&pfd, 1, timeout);
    if (ready > 0) return true;
    if (ready == 0 || (ready < 0 && errno != EINTR)) return false;
  }
}

struct Endpoint {
  std::string socket;  // unix socket path, or "" for TCP
  std::string host;
  int port = kDefaultPort;
  std::string name() const { return socket.empty() ? host + ":" + std::to_string(port) : socket; }
};

// A failed exchange: kUnavailable when clamd is not there (refused, missing socket),
// kTimeout when it does not answer in time, kCorruption/kTooLarge for a reply that is
// not one.
Result<Socket> connect_to(const Endpoint& endpoint, Clock::time_point deadline) {
  if (!endpoint.socket.empty()) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (endpoint.socket.size() >= sizeof address.sun_path)
      return Status::invalid("socket path too long: " + endpoint.socket);
    std::memcpy(address.sun_path, endpoint.socket.c_str(), endpoint.socket.size() + 1);
    Socket sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (sock.get() < 0) return Status::io_error("socket: " + errno_text(errno));
    if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
      return sock;
    if (errno != EAGAIN && errno != EINPROGRESS)
      return Status::unavailable("connect: " + errno_text(errno));
    if (!wait_for(sock.get(), POLLOUT, deadline)) return Status::timeout("connect timed out");
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return Status::unavailable("connect: " + errno_text(error));
    return sock;
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc =
      ::getaddrinfo(endpoint.host.c_str(), std::to_string(endpoint.port).c_str(), &hints, &found);
  if (rc != 0)
    return Status::unavailable("cannot resolve " + endpoint.host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  Status last = Status::unavailable("no address for " + endpoint.host);
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    Socket sock(
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (sock.get() < 0) {
      last = Status::io_error("socket: " + errno_text(errno));
      continue;
    }
    if (::connect(sock.get(), a->ai_addr, a->ai_addrlen) == 0) return sock;
    if (errno != EINPROGRESS) {
      last = Status::unavailable("connect: " + errno_text(errno));
      continue;
    }
    if (!wait_for(sock.get(), POLLOUT, deadline)) return Status::timeout("connect timed out");
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error == 0) return sock;
    last = Status::unavailable("connect: " + errno_text(error));
  }
  return last;
}

// Sends "z<command>\0" and reads the NUL-terminated reply (clamd closes the connection
// after it as well).
Result<std::string> exchange(const Endpoint& endpoint, std::string_view command,
                             Clock::time_point deadline) {
  auto sock = connect_to(endpoint, deadline);
  if (!sock) return sock.status();
  const std::string request = "z" + std::string(command) + '\0';
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        ::send(sock->get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!wait_for(sock->get(), POLLOUT, deadline)) return Status::timeout("send timed out");
      continue;
    }
    return Status::unavailable("send: " + errno_text(errno));
  }

  std::string reply;
  std::array<char, 512> buffer;
  for (;;) {
    if (!wait_for(sock->get(), POLLIN, deadline))
      return Status::timeout("no answer to " + std::string(command) + " in time");
    const ssize_t n = ::recv(sock->get(), buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::unavailable("recv: " + errno_text(errno));
    }
    if (n == 0) break;
    reply.append(buffer.data(), static_cast<std::size_t>(n));
    const auto nul = reply.find('\0');
    if (nul != std::string::npos) {
      reply.resize(nul);
      break;
    }
    if (reply.size() > kMaxReply) {
      return Status::too_large("reply to " + std::string(command) + " longer than " +
                               std::to_string(kMaxReply) + " bytes: " + quote(reply));
    }
  }
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
  return reply;
}

struct Version {
  std::string engine;                // "1.4.6"
  std::optional<long long> daily;    // daily database version
  std::optional<std::int64_t> time;  // its build time, seconds since the epoch
};

// A ctime(3) date in local time: "Thu Nov 26 02:14:24 2026" (the day may be padded).
std::optional<std::int64_t> parse_ctime(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::array<std::string_view, 5> fields;
  std::size_t count = 0;
  while (!text.empty()) {
    const auto start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const auto end = text.find(' ');
    if (count == fields.size()) return std::nullopt;
    fields[count++] = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  }
  if (count != fields.size()) return std::nullopt;
  const auto month = std::find(kMonths.begin(), kMonths.end(), fields[1]);
  if (month == kMonths.end()) return std::nullopt;
  const auto number = [](std::string_view s) -> int {
    int value = -1;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc() && end == s.data() + s.size() ? value : -1;
  };
  const int day = number(fields[2]);
  const int year = number(fields[4]);
  const auto clock = fields[3];
  if (clock.size() != 8 || clock[2] != ':' || clock[5] != ':') return std::nullopt;
  const int hour = number(clock.substr(0, 2));
  const int minute = number(clock.substr(3, 2));
  const int second = number(clock.substr(6, 2));
  if (day < 1 || day > 31 || year < 1970 || year > 9999 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = static_cast<int>(month - kMonths.begin());
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  const std::time_t local = ::mktime(&tm);
  if (local == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(local);
}

// "ClamAV 1.4.6/27837/Thu Nov 26 02:14:24 2026", or "ClamAV 1.4.6" without a database.
Result<Version> parse_version(std::string_view reply) {
  const auto bad = [&](std::string why) {
    return Status(Code::kCorruption, "unexpected VERSION reply " + quote(reply) + ": " + why);
  };
  if (!reply.starts_with("ClamAV ")) return bad("not \"ClamAV <version>...\"");
  std::string_view rest = reply.substr(7);
  Version version;
  const auto slash = rest.find('/');
  version.engine = std::string(rest.substr(0, slash));
  if (version.engine.empty() || version.engine.find(' ') != std::string::npos)
    return bad("no engine version");
  if (slash == std::string_view::npos) return version;
  rest.remove_prefix(slash + 1);
  const auto second = rest.find('/');
  if (second == std::string_view::npos) return bad("no database date");
  long long daily = 0;
  const auto field = rest.substr(0, second);
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), daily);
  if (ec != std::errc() || end != field.data() + field.size() || daily < 0)
    return bad("database version is not a number");
  version.daily = daily;
  version.time = parse_ctime(rest.substr(second + 1));
  if (!version.time) return bad("unreadable database date");
  return version;
}

class ClamdCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return endpoint_.name(); }
  Outcome run(const RunContext& context) override;

 private:
  Endpoint endpoint_{std::string(kDefaultSocket), {}, kDefaultPort};
  std::chrono::seconds warn_{2 * 86400};
  std::chrono::seconds crit_{7 * 86400};
};

Status ClamdCheck::configure(const json& params) {
  if (Status s = check_parameters(params, {"socket", "host", "port", "warn", "crit"}); !s) return s;
  Endpoint endpoint;
  if (Status s = read_absolute_path(params, "socket", endpoint.socket); !s) return s;
  if (Status s = read_string(params, "host", endpoint.host); !s) return s;
  if (Status s = read_integer(params, "port", 1, 65535, endpoint.port); !s) return s;
  if (params.contains("port") && endpoint.host.empty()) {
    return Status::invalid("port: needs \"host\"");
  }
  if (!endpoint.socket.empty() && !endpoint.host.empty())
    return Status::invalid("socket, host: give one, the unix socket or the TCP host");
  if (endpoint.socket.size() >= sizeof(sockaddr_un::sun_path))
    return Status::invalid("socket: longer than " +
                           std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  if (endpoint.socket.empty() && endpoint.host.empty()) endpoint.socket = kDefaultSocket;
  std::chrono::seconds warn = warn_;
  std::chrono::seconds crit = crit_;
  if (Status s = read_duration(params, "warn", {}, warn); !s) return s;
  if (Status s = read_duration(params, "crit", {}, crit); !s) return s;
  if (Status s = check_order(warn, crit, "warn", "crit"); !s) return s;
  endpoint_ = std::move(endpoint);
  warn_ = warn;
  crit_ = crit;
  return Status::ok();
}

Outcome ClamdCheck::run(const RunContext& context) {
  const auto start = Clock::now();
  Outcome outcome;
  const auto ping = exchange(endpoint_, "PING", context.deadline);
  if (!ping) {
    const auto code = ping.status().code();
    if (code == Code::kUnavailable || code == Code::kTimeout) {
      outcome.status = State::kCritical;
      outcome.summary =
          "clamd not answering on " + endpoint_.name() + ": " + ping.status().message();
      return outcome;
    }
    return unknown_outcome("clamd on " + endpoint_.name() + ": " + ping.status().message());
  }
  const auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (*ping != "PONG") {
    return unknown_outcome("clamd on " + endpoint_.name() + ": unexpected PING reply " +
                           quote(*ping));
  }
  outcome.metrics.push_back(threshold_metric("response_time", std::round(elapsed * 10) / 10, "ms",
                                             std::nullopt, std::nullopt));

  const auto reply = exchange(endpoint_, "VERSION", context.deadline);
  if (!reply) {
    auto failed =
        unknown_outcome("clamd answered PING but not VERSION: " + reply.status().message());
    failed.metrics = std::move(outcome.metrics);
    return failed;
  }
  if (*reply == "COMMAND UNAVAILABLE") {
    auto failed = unknown_outcome(
        "clamd is up but refuses VERSION (EnableVersionCommand no in clamd.conf?): the "
        "signature age is unknown");
    failed.metrics = std::move(outcome.metrics);
    return failed;
  }
  const auto version = parse_version(*reply);
  if (!version) {
    auto failed = unknown_outcome(version.status().message());
    failed.metrics = std::move(outcome.metrics);
    return failed;
  }
  if (!version->time) {
    auto failed =
        unknown_outcome("ClamAV " + version->engine +
                        " is up but reports no signature database (VERSION " + quote(*reply) + ")");
    failed.metrics = std::move(outcome.metrics);
    return failed;
  }

  const std::int64_t age = static_cast<std::int64_t>(std::time(nullptr)) - *version->time;
  outcome.metrics.insert(
      outcome.metrics.begin(),
      {threshold_metric("signature_age", static_cast<double>(std::max<std::int64_t>(age, 0)), "s",
                        static_cast<double>(warn_.count()), static_cast<double>(crit_.count())),
       threshold_metric("signature_version", static_cast<double>(*version->daily), "", std::nullopt,
                        std::nullopt)});
  std::string note;
  outcome.status = older_than(age, warn_, crit_, note);
  outcome.summary = "ClamAV " + version->engine + " up, signatures " +
                    std::to_string(*version->daily) + " of " + utc_text(*version->time) + " (" +
                    age_text(std::chrono::seconds(std::max<std::int64_t>(age, 0))) + " old)" + note;
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_clamd_check() { return std::make_unique<ClamdCheck>(); }

}  // namespace vigie::plugins::antivirus
