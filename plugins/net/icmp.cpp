#include "plugins/net/icmp.hpp"

#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kCookie = 8;  // random bytes at the start of every payload

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Socket {
  Fd fd;
  bool raw = false;
};

std::string ping_group_range() {
  const auto text = read_part("/proc/sys/net/ipv4/ping_group_range", 0, 256);
  const auto range = text ? split_words(*text) : std::vector<std::string>();
  return range.size() >= 2 ? range[0] + " " + range[1] : "?";
}

Result<Socket> open_socket(int family, IcmpSocket kind) {
  const int protocol = family == AF_INET ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6};
  const char* version = family == AF_INET ? "IPv4" : "IPv6";
  int unprivileged_errno = 0;
  if (kind != IcmpSocket::kRaw) {
    const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd >= 0) return Socket{Fd(fd), false};
    unprivileged_errno = errno;
  }
  const std::string refused = std::string("unprivileged ICMP sockets refused (") +
                              std::strerror(unprivileged_errno) +
                              "; net.ipv4.ping_group_range is \"" + ping_group_range() +
                              "\", the agent's group " + std::to_string(::getegid()) + ")";
  if (kind == IcmpSocket::kUnprivileged)
    return Status::unavailable(std::string("cannot ping over ") + version + ": " + refused);
  const int fd = ::socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    const std::string raw =
        std::string("a raw socket needs CAP_NET_RAW (") + std::strerror(errno) + ")";
    return Status::unavailable(std::string("cannot ping over ") + version + ": " +
                               (kind == IcmpSocket::kAuto ? refused + ", and " : "") + raw);
  }
  Socket socket{Fd(fd), true};
  // A raw socket sees every ICMP message of the host: only echo replies are wanted.
  if (family == AF_INET) {
    // struct icmp_filter and ICMP_FILTER of <linux/icmp.h>, which clashes with glibc's.
    constexpr int kIcmpFilter = 1;
    const std::uint32_t blocked = ~(1u << ICMP_ECHOREPLY);
    ::setsockopt(fd, SOL_RAW, kIcmpFilter, &blocked, sizeof blocked);
  } else {
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
    ::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
  }
  return socket;
}

std::uint16_t checksum(const unsigned char* data, std::size_t size) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < size; i += 2)
    sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (size % 2 != 0) sum += static_cast<std::uint32_t>(data[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

struct Host {
  const Address* address = nullptr;
  Socket* socket = nullptr;
  Status error;  // no socket for its family
  int next = 0;  // the next request to send
  Clock::time_point next_send;
  std::vector<Clock::time_point> sent_at;
  std::vector<bool> answered;
  EchoStats stats;
  double rtt_sum = 0;
};

bool same_address(const Address& a, const sockaddr_storage& from) {
  if (a.family() != from.ss_family) return false;
  if (a.family() == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(a.storage).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(from).sin_addr.s_addr;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a.storage).sin6_addr,
                     &reinterpret_cast<const sockaddr_in6&>(from).sin6_addr, sizeof(in6_addr)) == 0;
}

class Round {
 public:
  Round(const std::vector<Address>& addresses, const EchoOptions& options,
        Clock::time_point deadline)
      : options_(options), deadline_(deadline) {
    std::random_device random;
    id_ = static_cast<std::uint16_t>(random());
    base_ = static_cast<std::uint16_t>(random());
    for (auto& byte : cookie_) byte = static_cast<unsigned char>(random());
    hosts_.resize(addresses.size());
    for (std::size_t i = 0; i < addresses.size(); ++i) hosts_[i].address = &addresses[i];
  }

  EchoRound run() {
    EchoRound round;
    fit_to_deadline();
    open_sockets(round.method);
    const auto start = Clock::now();
    const auto n = static_cast<std::int64_t>(hosts_.size());
    for (std::int64_t i = 0; i < n; ++i) {
      Host& host = hosts_[static_cast<std::size_t>(i)];
      host.next_send = start + options_.interval * i / std::max<std::int64_t>(1, n);
      host.sent_at.resize(static_cast<std::size_t>(options_.count));
      host.answered.resize(static_cast<std::size_t>(options_.count));
    }
    loop();
    for (Host& host : hosts_) {
      if (!host.error.is_ok()) {
        round.hosts.push_back(host.error);
        continue;
      }
      if (host.stats.received > 0) host.stats.rtt_avg_ms = host.rtt_sum / host.stats.received;
      round.hosts.push_back(host.stats);
    }
    return round;
  }

 private:
  // The first requests of the hosts are spread over one interval, so the last request
  // leaves after count intervals and its reply may take the timeout.
  void fit_to_deadline() {
    const auto left = std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(
                                                    deadline_ - Clock::now() - milliseconds(20)));
    const auto needed = options_.interval * options_.count + options_.timeout;
    if (needed <= left) return;
    options_.timeout = std::min(options_.timeout, left / 3);
    options_.interval = (left - options_.timeout) / std::max(1, options_.count);
  }

  void open_sockets(std::string& method) {
    for (Host& host : hosts_) {
      const int family = host.address->family();
      auto& slot = family == AF_INET ? v4_ : v6_;
      auto& error = family == AF_INET ? v4_error_ : v6_error_;
      if (!slot && error.is_ok()) {
        auto opened = open_socket(family, options_.socket);
        if (opened) {
          slot = std::move(*opened);
          if (method.empty()) method = slot->raw ? "raw socket" : "unprivileged ICMP socket";
        } else {
          error = opened.status();
        }
      }
      if (slot) {
        host.socket = &*slot;
      } else {
        host.error = error;
      }
    }
  }

  void send(Host& host, std::size_t index, Clock::time_point now) {
    const int packet = host.next++;
    host.next_send += options_.interval;
    const std::size_t sequence_index =
        index * static_cast<std::size_t>(options_.count) + static_cast<std::size_t>(packet);
    const auto sequence = static_cast<std::uint16_t>(base_ + sequence_index);
    std::vector<unsigned char> buffer(8 + std::max(options_.payload, kCookie), 0);
    const bool v4 = host.address->family() == AF_INET;
    buffer[0] = v4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    buffer[4] = static_cast<unsigned char>(id_ >> 8);
    buffer[5] = static_cast<unsigned char>(id_);
    buffer[6] = static_cast<unsigned char>(sequence >> 8);
    buffer[7] = static_cast<unsigned char>(sequence);
    std::copy(cookie_.begin(), cookie_.end(), buffer.begin() + 8);
    if (v4) {  // the kernel computes ICMPv6 checksums itself
      const std::uint16_t sum = checksum(buffer.data(), buffer.size());
      buffer[2] = static_cast<unsigned char>(sum >> 8);
      buffer[3] = static_cast<unsigned char>(sum);
    }
    host.sent_at[static_cast<std::size_t>(packet)] = now;
    ++host.stats.sent;
    const ssize_t n =
        ::sendto(host.socket->fd.get(), buffer.data(), buffer.size(), 0,
                 reinterpret_cast<const sockaddr*>(&host.address->storage), host.address->length);
    if (n < 0 && host.stats.send_error.is_ok())
      host.stats.send_error = Status::unavailable(std::string("sendto: ") + std::strerror(errno));
    last_send_ = now;
  }

  void receive(Socket& socket, int family) {
    unsigned char buffer[1500];
    for (;;) {
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      const ssize_t n = ::recvfrom(socket.fd.get(), buffer, sizeof buffer, 0,
                                   reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n < 0) return;  // EAGAIN: all read; anything else: nothing more to read either
      const auto now = Clock::now();
      const unsigned char* icmp = buffer;
      std::size_t size = static_cast<std::size_t>(n);
      if (family == AF_INET && socket.raw) {  // a raw IPv4 socket gets the IP header
        const std::size_t header = static_cast<std::size_t>(buffer[0] & 0x0f) * 4;
        if (header > size) continue;
        icmp += header;
        size -= header;
      }
      if (size < 8 + kCookie) continue;
      if (icmp[0] != (family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY)) continue;
      const auto id = static_cast<std::uint16_t>(icmp[4] << 8 | icmp[5]);
      if (socket.raw && id != id_) continue;  // another program's ping
      if (!std::equal(cookie_.begin(), cookie_.end(), icmp + 8)) continue;
      const auto sequence = static_cast<std::uint16_t>(icmp[6] << 8 | icmp[7]);
      const std::size_t index = static_cast<std::uint16_t>(sequence - base_);
      const std::size_t count = static_cast<std::size_t>(options_.count);
      if (index >= hosts_.size() * count) continue;
      Host& host = hosts_[index / count];
      const std::size_t packet = index % count;
      if (static_cast<int>(packet) >= host.next || host.answered[packet]) continue;  // duplicate
      if (!same_address(*host.address, from)) continue;
      const auto rtt = now - host.sent_at[packet];
      if (rtt > options_.timeout) continue;  // too late: lost
      host.answered[packet] = true;
      const double ms = std::chrono::duration<double, std::milli>(rtt).count();
      EchoStats& stats = host.stats;
      stats.rtt_min_ms = stats.received == 0 ? ms : std::min(stats.rtt_min_ms, ms);
      stats.rtt_max_ms = std::max(stats.rtt_max_ms, ms);
      host.rtt_sum += ms;
      ++stats.received;
      ++answered_;
    }
  }

  void loop() {
    std::size_t expected = 0;
    for (const Host& host : hosts_)
      if (host.error.is_ok()) expected += static_cast<std::size_t>(options_.count);
    for (;;) {
      auto now = Clock::now();
      if (now >= deadline_) return;
      bool all_sent = true;
      std::optional<Clock::time_point> wake;
      for (std::size_t i = 0; i < hosts_.size(); ++i) {
        Host& host = hosts_[i];
        if (!host.error.is_ok()) continue;
        while (host.next < options_.count && host.next_send <= now) send(host, i, now);
        if (host.next < options_.count) {
          all_sent = false;
          wake = wake ? std::min(*wake, host.next_send) : host.next_send;
        }
      }
      if (answered_ == expected) return;
      if (all_sent) {
        const auto end = last_send_ + options_.timeout;
        if (now >= end) return;
        wake = end;
      }
      wake = std::min(wake.value_or(deadline_), deadline_);
      std::array<pollfd, 2> fds{};
      nfds_t used = 0;
      if (v4_) fds[used++] = {v4_->fd.get(), POLLIN, 0};
      if (v6_) fds[used++] = {v6_->fd.get(), POLLIN, 0};
      now = Clock::now();
      const auto wait = std::chrono::ceil<milliseconds>(std::max(Clock::duration(0), *wake - now));
      ::poll(fds.data(), used, static_cast<int>(std::min<std::int64_t>(wait.count(), 60'000)));
      if (v4_) receive(*v4_, AF_INET);
      if (v6_) receive(*v6_, AF_INET6);
    }
  }

  EchoOptions options_;
  Clock::time_point deadline_;
  std::vector<Host> hosts_;
  std::optional<Socket> v4_, v6_;
  Status v4_error_, v6_error_;
  std::uint16_t id_ = 0;
  std::uint16_t base_ = 0;
  std::array<unsigned char, kCookie> cookie_{};
  std::size_t answered_ = 0;
  Clock::time_point last_send_{};
};

}  // namespace

EchoRound ping_all(const std::vector<Address>& addresses, const EchoOptions& options,
                   Clock::time_point deadline) {
  EchoOptions fitted = options;
  fitted.count = std::max(1, options.count);
  if (addresses.size() * static_cast<std::size_t>(fitted.count) > kMaxEchoRequests) {
    EchoRound round;
    for (std::size_t i = 0; i < addresses.size(); ++i)
      round.hosts.push_back(Status::invalid("too many echo requests in one round"));
    return round;
  }
  return Round(addresses, fitted, deadline).run();
}

}  // namespace vigie::plugins::net
