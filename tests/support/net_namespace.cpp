#include "tests/support/net_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <stdexcept>

#include "plugins/process.hpp"

namespace vigie::testing {
namespace {

// Runs argv; false with the reason in `error` when it fails, and `not_found` set when the
// program itself is not installed.
bool run_command(const std::vector<std::string>& argv, std::string* error,
                 bool* not_found = nullptr) {
  plugins::ProcessOptions options;
  options.timeout = std::chrono::seconds(10);
  options.environment = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"};
  const auto result = plugins::run_process(argv, options);
  if (!result) {
    if (error != nullptr) *error = result.status().message();
    if (not_found != nullptr) *not_found = result.status().code() == Code::kNotFound;
    return false;
  }
  if (result->ending != plugins::ProcessResult::Ending::kExited || result->exit_code != 0) {
    if (error != nullptr) *error = result->err.empty() ? "failed" : result->err;
    return false;
  }
  return true;
}

}  // namespace

NetNamespace::NetNamespace(const std::string& tag)
    : name_("vigie-" + tag + "-" + std::to_string(::getpid())) {
  if (::geteuid() != 0) {
    error_ = "not root";
    return;
  }
  bool not_found = false;
  created_ = run_command({"ip", "netns", "add", name_}, &error_, &not_found);
  if (not_found) {
    absent_ = Absent::kPackage;
    error_ = "ip is not installed (scripts/bootstrap installs iproute2): " + error_;
  }
  if (created_ && !run({"ip", "link", "set", "lo", "up"}, &error_)) {
    run_command({"ip", "netns", "delete", name_}, nullptr);
    created_ = false;
  }
}

NetNamespace::~NetNamespace() {
  if (created_) run_command({"ip", "netns", "delete", name_}, nullptr);
}

bool NetNamespace::run(const std::vector<std::string>& argv, std::string* error) const {
  std::vector<std::string> prefixed = {"ip", "netns", "exec", name_};
  prefixed.insert(prefixed.end(), argv.begin(), argv.end());
  return run_command(prefixed, error);
}

NetNamespace::Inside::Inside(const NetNamespace& ns) {
  original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
  if (original_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    if (target >= 0) ::close(target);
    throw std::runtime_error("cannot enter network namespace " + ns.name());
  }
  ::close(target);
}

NetNamespace::Inside::~Inside() {
  if (original_ >= 0) {
    ::setns(original_, CLONE_NEWNET);
    ::close(original_);
  }
}

}  // namespace vigie::testing
