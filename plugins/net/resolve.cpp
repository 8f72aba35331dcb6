#include "plugins/net/resolve.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace vigie::plugins::net {
namespace {

std::string unbracketed(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

Result<Address> lookup(const std::string& host, int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;  // one entry per address, not one per socket type
  hints.ai_flags = flags;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(unbracketed(host).c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    const std::string why = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    if (rc == EAI_NONAME || rc == EAI_NODATA)
      return Status::not_found("\"" + host + "\" does not resolve (" + why + ")");
    return Status::unavailable("cannot resolve \"" + host + "\": " + why);
  }
  Address address;
  std::memcpy(&address.storage, list->ai_addr, list->ai_addrlen);
  address.length = list->ai_addrlen;
  ::freeaddrinfo(list);
  return address;
}

// Shared by the caller and the resolver threads, which may outlive the call.
struct Work {
  std::mutex mutex;
  std::condition_variable done;
  std::deque<std::size_t> queue;  // indexes of names not yet taken
  std::vector<std::string> names;
  std::vector<std::optional<Result<Address>>> results;
  std::size_t pending = 0;  // names not yet answered
  bool abandoned = false;   // the caller has left: take no more names
};

void resolver(std::shared_ptr<Work> work) {
  std::unique_lock lock(work->mutex);
  while (!work->abandoned && !work->queue.empty()) {
    const std::size_t i = work->queue.front();
    work->queue.pop_front();
    const std::string name = work->names[i];
    lock.unlock();
    auto result = lookup(name, 0);
    lock.lock();
    work->results[i] = std::move(result);
    --work->pending;
    work->done.notify_all();
  }
}

}  // namespace

Result<Address> numeric_address(const std::string& host) { return lookup(host, AI_NUMERICHOST); }

std::string address_text(const Address& address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address.family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address.storage).sin_addr, text,
                sizeof text);
  } else if (address.family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address.storage).sin6_addr, text,
                sizeof text);
  }
  return text;
}

std::vector<Result<Address>> resolve_all(const std::vector<std::string>& hosts,
                                         std::chrono::steady_clock::time_point deadline,
                                         std::size_t max_threads) {
  auto work = std::make_shared<Work>();
  work->names = hosts;
  work->results.resize(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    auto numeric = numeric_address(hosts[i]);
    if (numeric) {
      work->results[i] = std::move(*numeric);
    } else {
      work->queue.push_back(i);
    }
  }
  work->pending = work->queue.size();
  const std::size_t threads = std::min(std::max<std::size_t>(1, max_threads), work->pending);
  std::unique_lock lock(work->mutex);
  for (std::size_t t = 0; t < threads; ++t) {
    // A failure to start a thread leaves the names to the others, or to the deadline.
    try {
      std::thread(resolver, work).detach();
    } catch (const std::system_error&) {
      break;
    }
  }
  work->done.wait_until(lock, deadline, [&] { return work->pending == 0; });
  work->abandoned = true;
  std::vector<Result<Address>> out;
  out.reserve(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (work->results[i]) {
      out.push_back(std::move(*work->results[i]));
    } else {
      out.push_back(Status::timeout("\"" + hosts[i] + "\" not resolved in time"));
    }
  }
  return out;
}

}  // namespace vigie::plugins::net
