#pragma once
// A network namespace of the test's own (ip netns), deleted at the end: its interfaces,
// routes and sysctls are the test's, and nothing it does touches the machine's
// network. Needs root; created() says whether it could be made, absent() what its absence
// means to the test (tests/support/peers.hpp).

#include <string>
#include <vector>

#include "tests/support/peers.hpp"

namespace vigie::testing {

class NetNamespace {
 public:
  // Creates "vigie-<tag>-<pid>" with its loopback up.
  explicit NetNamespace(const std::string& tag);
  ~NetNamespace();
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;

  bool created() const { return created_; }
  const std::string& error() const { return error_; }
  // When not created: kPackage when ip (iproute2) is not installed, else kRefusal (not
  // root, or the kernel refused).
  Absent absent() const { return absent_; }
  const std::string& name() const { return name_; }

  // Runs argv inside the namespace ("ip netns exec NAME ..."); false with the error
  // output in `error` when it fails.
  bool run(const std::vector<std::string>& argv, std::string* error = nullptr) const;

  // While alive, the calling thread (and the sockets it opens) lives in the namespace.
  class Inside {
   public:
    explicit Inside(const NetNamespace& ns);
    ~Inside();
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;

   private:
    int original_ = -1;
  };

 private:
  std::string name_;
  bool created_ = false;
  std::string error_;
  Absent absent_ = Absent::kRefusal;
};

}  // namespace vigie::testing
