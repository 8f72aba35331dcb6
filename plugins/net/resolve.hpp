#pragma once
// Host names to addresses for checks that open their own sockets (net/ping), without
// blocking past a deadline: the system's resolver (getaddrinfo, so /etc/hosts and
// the configured DNS servers) runs on a few threads of its own, and a name that has no
// answer by the deadline is reported as such while its lookup finishes in the
// background.

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace vigie::plugins::net {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
};

// "192.0.2.1", "2001:db8::1" (also "[2001:db8::1]"): resolved at once, no lookup.
Result<Address> numeric_address(const std::string& host);
// "192.0.2.1", "2001:db8::1".
std::string address_text(const Address& address);

// One result per host, in order: numeric addresses at once, names through the system
// resolver with at most `max_threads` lookups at a time. kNotFound for a name that does
// not exist, kTimeout for one not resolved by `deadline`, kUnavailable for other
// failures (the resolver's message). The first address given is taken.
std::vector<Result<Address>> resolve_all(const std::vector<std::string>& hosts,
                                         std::chrono::steady_clock::time_point deadline,
                                         std::size_t max_threads = 16);

}  // namespace vigie::plugins::net
