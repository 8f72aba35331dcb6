#pragma once
// ICMP echo ("ping") to many hosts at once from one thread, for net/ping.
//
// Two kinds of socket can send echo requests without the ping program:
// - an unprivileged ICMP socket (SOCK_DGRAM, IPPROTO_ICMP / IPPROTO_ICMPV6), which
//   Linux grants to the groups within the sysctl net.ipv4.ping_group_range (also for
//   IPv6); the kernel picks the echo identifier and hands the socket its own replies;
// - a raw socket (SOCK_RAW), which needs CAP_NET_RAW; the identifier is ours and
//   the socket sees every echo reply, which are told apart by identifier, sequence
//   number and a random cookie in the payload.
// "auto" tries the first, then the second.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "plugins/net/resolve.hpp"

namespace vigie::plugins::net {

enum class IcmpSocket { kAuto, kUnprivileged, kRaw };

struct EchoOptions {
  int count = 5;                            // echo requests per host
  std::chrono::milliseconds interval{500};  // between two requests to one host
  std::chrono::milliseconds timeout{1000};  // a reply later than this is lost
  IcmpSocket socket = IcmpSocket::kAuto;
  std::size_t payload = 56;  // bytes after the ICMP header (>= 16)
};

struct EchoStats {
  int sent = 0;      // requests handed to the kernel or refused by it
  int received = 0;  // replies in time
  double rtt_min_ms = 0, rtt_avg_ms = 0, rtt_max_ms = 0;  // of the replies received
  // Why requests could not be sent ("sendto: Network is unreachable"), the first
  // such error; ok otherwise. The requests still count as sent and lost.
  Status send_error;
};

struct EchoRound {
  std::vector<Result<EchoStats>> hosts;  // per address given, in order; an error when
                                         // no request could be sent at all (no socket)
  std::string method;                    // "unprivileged ICMP socket", "raw socket", ...
};

// Pings every address `count` times, spreading the first requests of the hosts over
// one interval, and returns by `deadline`: when the options would not fit in the time
// left, the interval and the timeout shrink to fit. Never throws.
EchoRound ping_all(const std::vector<Address>& addresses, const EchoOptions& options,
                   std::chrono::steady_clock::time_point deadline);

// Requests a round may carry: the 16-bit sequence numbers must not repeat.
inline constexpr std::size_t kMaxEchoRequests = 60000;

}  // namespace vigie::plugins::net
