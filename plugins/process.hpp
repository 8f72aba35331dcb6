#pragma once
// Runs a program without a shell and collects what it prints, under a deadline.
//
// The child gets its own process group, stdin from /dev/null (or the given input),
// stdout and stderr on pipes, no other open file descriptor, default signal
// dispositions and an empty signal mask. When the timeout passes the whole group is killed
// (SIGKILL), so grandchildren started by a plugin do not outlive it. Output beyond the cap is read
// and discarded (the child never blocks on a full pipe) and the result says it was
// truncated.
//
// When the program itself exits, its output is read until both pipes close; if a
// process it left behind still holds them open 100 ms later, reading stops. Either
// way the group is then killed, so a run never leaves a process of its group behind
// (a process that moved to another group or session, e.g. with setsid, escapes this).
//
// With ProcessOptions::run_as the child switches to that user (groups, gid, then uid)
// before exec; when it may not, the run fails with kPermissionDenied naming the user. Its
// processes are killed all the same: when the caller may not signal them (its uid is not
// theirs), a short-lived child of its own switches to their uid and kills the group.
//
// Capabilities: a program gets none of the caller's, but those ProcessOptions::capabilities
// names (and the caller holds), provided keep_capabilities_to_self() ran at the start of the
// program. A caller running as root is the exception: a program that root starts is root.
//
// Blocking: call it from a worker thread. Thread-safe: runs may overlap. The process
// must leave its children to their owners: SIGCHLD not ignored, no waitpid(-1).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace vigie::plugins {

// A user to run a program as: its ids and groups, looked up once (find_user).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, the primary one included
  std::string home;
};

// The user `name` of this system (the passwd and group databases); kNotFound when there
// is no such user.
Result<RunAs> find_user(const std::string& name);

// The Linux capabilities the agent uses (their numbers are those of linux/capability.h).
enum class Capability : int {
  kSetgid = 6,     // switching a plugin to another user
  kSetuid = 7,     // the same, and killing that user's processes at a timeout
  kNetAdmin = 12,  // for nft and iptables-save (firewall/host)
  kNetRaw = 13,    // for raw sockets (check_icmp)
};
constexpr std::uint64_t capability_bit(Capability c) {
  return std::uint64_t{1} << static_cast<int>(c);
}

// Call once at the start of a program that starts others, on its main thread before any
// other thread exists (Linux keeps capabilities per thread; a new thread copies its
// creator's). Empties the ambient and inheritable sets, so that no program started later
// inherits a capability (an ambient capability passes through execve), and keeps in the
// permitted and effective sets only those of `keep` (capability_bit()s) they hold. Returns
// the capabilities kept. Does nothing, and returns 0, in a process whose real or effective
// uid is 0: what root starts is root whatever its sets say. kIoError when the system
// refuses (the message says which call).
Result<std::uint64_t> keep_capabilities_to_self(std::uint64_t keep);

struct ProcessOptions {
  std::chrono::milliseconds timeout{10'000};  // default 10 s
  std::size_t max_output = 64 * 1024;         // bytes kept of stdout, and of stderr
  // The child's whole environment ("NAME=value"); empty means default_environment().
  std::vector<std::string> environment;
  // Run the program as this user, its groups included (the caller needs CAP_SETUID and
  // CAP_SETGID, or to be root); nullopt: as the caller. Never uid 0 (kInvalidArgument).
  std::optional<RunAs> run_as;
  // Capabilities the program gets (permitted, effective and ambient, so that they pass on
  // to what it runs), those of them the caller holds; none by default. Not with run_as;
  // never kSetuid or kSetgid.
  std::vector<Capability> capabilities;
  // The child's stdin: these bytes, then end of file (at most kMaxInput); nullopt:
  // /dev/null. Secrets go here rather than in argv, which any local user can read.
  std::optional<std::string> input;
};

// The most ProcessOptions::input may hold: the system's largest pipe by default.
inline constexpr std::size_t kMaxInput = 1024 * 1024;

// What a helper the agent runs (vigie-snmp, vigie-probe) reads of its request: all of
// `fd` to its end, at most kMaxInput bytes; kInvalidArgument when there is more (read no
// further), kIoError naming the error when a read fails.
Result<std::string> read_request(int fd);

struct ProcessResult {
  enum class Ending { kExited, kSignaled, kTimedOut };
  Ending ending = Ending::kExited;
  int exit_code = 0;  // when kExited
  int signal = 0;     // when kSignaled
  std::string out;    // stdout, at most max_output bytes
  std::string err;    // stderr, at most max_output bytes
  bool truncated = false;
  std::chrono::milliseconds elapsed{0};
};

// The minimal environment a child gets by default:
// PATH=/usr/local/bin:/usr/bin:/bin and LANG=C.
std::vector<std::string> default_environment();

// argv[0] is the program: a path, or a bare name (no '/') looked up in the PATH of
// the child's environment. kInvalidArgument for an empty argv, an argument or
// environment entry holding a NUL byte, an entry without '=', a run_as of uid 0,
// run_as with capabilities, or kSetuid or kSetgid in capabilities; kNotFound /
// kPermissionDenied when the program does not exist or cannot be executed (the
// message names it and says why); kIoError when the system refuses a pipe or a fork;
// kInternal when someone else reaped the child.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options);

}  // namespace vigie::plugins
