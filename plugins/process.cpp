#include "plugins/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "common/log.hpp"

namespace vigie::plugins {
namespace {

static_assert(static_cast<int>(Capability::kSetgid) == CAP_SETGID);
static_assert(static_cast<int>(Capability::kSetuid) == CAP_SETUID);
static_assert(static_cast<int>(Capability::kNetAdmin) == CAP_NET_ADMIN);
static_assert(static_cast<int>(Capability::kNetRaw) == CAP_NET_RAW);

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
// How long the output pipes may stay open after the program exits (a process it left
// behind holds them) before reading stops.
constexpr milliseconds kExitGrace{100};
// Without a pidfd (kernels before 5.3, some seccomp profiles) the program's exit is
// noticed by polling at this period.
constexpr milliseconds kExitPollPeriod{20};
constexpr std::size_t kReadChunk = 32 * 1024;
// How long a killed group's leader may take to die before it is left to a thread of its
// own to reap: a process in uninterruptible sleep (a dead NFS server) dies only when the
// kernel lets it.
constexpr milliseconds kKillGrace{2000};

std::string errno_text(int error) { return std::generic_category().message(error); }

// The calling thread's capability sets (three 64-bit masks), through the system calls:
// async-signal-safe, so a forked child may use them.
struct CapSets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};

  int get() { return ::syscall(SYS_capget, &header, data) == 0 ? 0 : errno; }
  int set() { return ::syscall(SYS_capset, &header, data) == 0 ? 0 : errno; }
  std::uint64_t permitted() const {
    return data[0].permitted | (std::uint64_t{data[1].permitted} << 32);
  }
  std::uint64_t inheritable() const {
    return data[0].inheritable | (std::uint64_t{data[1].inheritable} << 32);
  }
  void assign(std::uint64_t permitted, std::uint64_t effective, std::uint64_t inheritable) {
    for (int i = 0; i < 2; ++i) {
      data[i].permitted = static_cast<std::uint32_t>(permitted >> (32 * i));
      data[i].effective = static_cast<std::uint32_t>(effective >> (32 * i));
      data[i].inheritable = static_cast<std::uint32_t>(inheritable >> (32 * i));
    }
  }
};

std::uint64_t capability_mask(const std::vector<Capability>& capabilities) {
  std::uint64_t mask = 0;
  for (const Capability c : capabilities) mask |= capability_bit(c);
  return mask;
}

// In a forked child, before exec: the program gets exactly `give`, of the capabilities
// held, in its inheritable and ambient sets (and so, after execve, in its permitted and
// effective ones); the others stay behind. 0 or an errno.
int pass_capabilities(std::uint64_t give) {
  CapSets caps;
  if (int e = caps.get(); e != 0) return e;
  give &= caps.permitted();
  if (caps.inheritable() != give) {
    for (int i = 0; i < 2; ++i)
      caps.data[i].inheritable = static_cast<std::uint32_t>(give >> (32 * i));
    if (int e = caps.set(); e != 0) return e;
  }
  // Kernels before 4.3 have no ambient set (EINVAL): nothing to clear there.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return errno;
  for (int c = 0; c < 64; ++c) {
    if ((give >> c & 1) != 0 && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
      return errno;
  }
  return 0;
}

// True when a child started now would inherit a capability it was not given: the
// calling thread has an inheritable one (ambient ones are a subset of those).
bool may_leak_capabilities() {
  CapSets caps;
  return caps.get() != 0 || caps.inheritable() != 0;
}

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Descriptors 0..2 become the child's stdio through dup2. One meant for the child that
// sits there (when the agent runs with a standard descriptor closed) could be overwritten
// before it is copied, so those are kept at 3 and above.
Status raise_above_stdio(Fd& fd) {
  if (fd.get() > STDERR_FILENO) return Status::ok();
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return Status::io_error("fcntl: " + errno_text(errno));
  fd = Fd(moved);
  return Status::ok();
}

struct Pipe {
  Fd read;
  Fd write;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::io_error("pipe: " + errno_text(errno));
  Pipe pipe{Fd(fds[0]), Fd(fds[1])};
  if (Status s = raise_above_stdio(pipe.write); !s) return s;
  return pipe;
}

Result<Fd> open_dev_null() {
  Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::io_error("/dev/null: " + errno_text(errno));
  if (Status s = raise_above_stdio(fd); !s) return s;
  return fd;
}

// A pipe holding `input` whole, its write end closed: the child's stdin. Written before
// the child starts, so the pipe is made large enough (up to kMaxInput).
Result<Fd> input_pipe(const std::string& input) {
  if (input.size() > kMaxInput) {
    return Status::too_large("process input: " + std::to_string(input.size()) +
                             " bytes, more than " + std::to_string(kMaxInput));
  }
  auto pipe = make_pipe();
  if (!pipe) return pipe.status();
  const int capacity = ::fcntl(pipe->write.get(), F_GETPIPE_SZ);
  if (capacity >= 0 && input.size() > static_cast<std::size_t>(capacity) &&
      ::fcntl(pipe->write.get(), F_SETPIPE_SZ, static_cast<int>(input.size())) < 0) {
    return Status::io_error("process input: a pipe of " + std::to_string(input.size()) +
                            " bytes: " + errno_text(errno));
  }
  std::size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = ::write(pipe->write.get(), input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("process input: " + errno_text(errno));
    written += static_cast<std::size_t>(n);
  }
  pipe->write.reset();
  if (Status s = raise_above_stdio(pipe->read); !s) return s;
  return std::move(pipe->read);
}

// Pointers into `strings` for exec, NULL-terminated. `strings` must outlive them.
std::vector<char*> c_array(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

Status validate(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  if (argv.empty() || argv[0].empty()) return Status::invalid("empty command");
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].find('\0') != std::string::npos)
      return Status::invalid("argument " + std::to_string(i) + " contains a NUL byte");
  }
  for (const auto& entry : env) {
    const auto eq = entry.find('=');
    if (eq == 0 || eq == std::string::npos || entry.find('\0') != std::string::npos)
      return Status::invalid("environment entry \"" + entry.substr(0, entry.find('\0')) +
                             "\" is not NAME=value");
  }
  return Status::ok();
}

std::string_view search_path(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) return std::string_view(entry).substr(5);
  }
  return kDefaultPath;
}

// The files to try for argv[0], in order: itself when it holds a '/', else the name in
// each directory of PATH. Empty PATH entries (the current directory) are skipped: an
// agent's working directory is no place to pick programs from.
std::vector<std::string> candidates(const std::string& program, std::string_view path) {
  if (program.find('/') != std::string::npos) return {program};
  std::vector<std::string> out;
  while (!path.empty()) {
    const auto colon = path.find(':');
    const auto dir = path.substr(0, colon);
    if (!dir.empty()) out.push_back(std::string(dir) + "/" + program);
    path = colon == std::string_view::npos ? std::string_view() : path.substr(colon + 1);
  }
  return out;
}

Status exec_error(const std::string& program, const std::string& file, int error) {
  std::string message = "cannot execute " + file + ": " + errno_text(error);
  if (program != file) message += " (\"" + program + "\" found in PATH)";
  switch (error) {
    case ENOENT:
    case ENOTDIR: return Status::not_found(std::move(message));
    case EACCES:
    case EPERM:
    case ENOEXEC:
    case EISDIR: return {Code::kPermissionDenied, std::move(message)};
    default: return Status::io_error(std::move(message));
  }
}

// Starts the program in a new process group with /dev/null, out and err as its stdio and
// nothing else open. glibc's posix_spawn reports exec failures (ENOENT, EACCES...) as
// its return value, so no error pipe is needed.
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  if (int rc = posix_spawn_file_actions_init(&actions); rc != 0)
    return Status::io_error("posix_spawn_file_actions_init: " + errno_text(rc));
  posix_spawnattr_t attr;
  if (int rc = posix_spawnattr_init(&attr); rc != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return Status::io_error("posix_spawnattr_init: " + errno_text(rc));
  }
  struct Cleanup {
    posix_spawn_file_actions_t* actions;
    posix_spawnattr_t* attr;
    ~Cleanup() {
      posix_spawn_file_actions_destroy(actions);
      posix_spawnattr_destroy(attr);
    }
  } cleanup{&actions, &attr};

  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  // An agent that blocks or ignores signals (SIGPIPE, SIGTERM...) must not hand that
  // down: ignored dispositions and the mask survive exec.
  int rc = posix_spawnattr_setflags(
      &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  if (rc != 0) return Status::io_error("posix_spawn set-up: " + errno_text(rc));

  auto args = c_array(argv);
  auto envp = c_array(env);
  const auto files = candidates(argv[0], search_path(env));
  if (files.empty()) return Status::not_found("\"" + argv[0] + "\" not found: PATH is empty");
  // Like execvp: a file that is missing or not executable in one PATH directory does not
  // hide the program in the next one; "permission denied" wins over "not found".
  const bool from_path = argv[0].find('/') == std::string::npos;
  const std::string* denied = nullptr;
  for (const auto& file : files) {
    pid_t pid = 0;
    rc = posix_spawn(&pid, file.c_str(), &actions, &attr, args.data(), envp.data());
    if (rc == 0) return pid;
    if (!from_path) return exec_error(argv[0], file, rc);
    if (rc == EACCES) {
      if (denied == nullptr) denied = &file;
    } else if (rc != ENOENT && rc != ENOTDIR) {
      return exec_error(argv[0], file, rc);
    }
  }
  if (denied != nullptr) return exec_error(argv[0], *denied, EACCES);
  return Status::not_found("\"" + argv[0] + "\" not found in PATH (" +
                           std::string(search_path(env)) + ")");
}

// spawn() for a program run as another user, or given capabilities, or started while
// the caller has inheritable capabilities it must not hand down: posix_spawn can change
// neither credentials nor capabilities, so this forks. The child does only
// async-signal-safe work (everything it needs is prepared before the fork) and changes
// its credentials with raw system calls, which act on the calling thread alone, the only
// one a forked child has. What went wrong in the child comes back on a close-on-exec
// pipe: nothing read means exec succeeded.
Result<pid_t> spawn_forked(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, int in, int out, int err,
                           const RunAs* user, std::uint64_t capabilities) {
  auto args = c_array(argv);
  auto envp = c_array(env);
  const auto files = candidates(argv[0], search_path(env));
  if (files.empty()) return Status::not_found("\"" + argv[0] + "\" not found: PATH is empty");
  std::vector<const char*> paths;
  for (const auto& f : files) paths.push_back(f.c_str());
  auto report = make_pipe();
  if (!report) return report.status();
  const int report_fd = report->write.get();
  // For kernels without close_range (before 5.9): the highest descriptor to close.
  const long open_max = std::clamp<long>(::sysconf(_SC_OPEN_MAX), 1024, 1 << 16);

  struct Failure {
    int stage = 0;  // 1 groups, 2 gid, 3 uid, 4 exec, 5 capabilities
    int error = 0;
    int file = 0;  // for exec: the candidate that decided
  };
  const pid_t pid = ::fork();
  if (pid < 0) return Status::io_error("fork: " + errno_text(errno));
  if (pid == 0) {
    Failure f;
    ::setpgid(0, 0);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::dup2(in, STDIN_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
        ::dup2(err, STDERR_FILENO) < 0) {
      f = {4, errno, 0};
    } else {
      // Nothing else open, but the report pipe (close-on-exec).
      if (::syscall(SYS_close_range, report_fd + 1, ~0U, 0) != 0) {
        for (long fd = report_fd + 1; fd < open_max; ++fd) ::close(static_cast<int>(fd));
      }
      if (report_fd > STDERR_FILENO + 1 &&
          ::syscall(SYS_close_range, STDERR_FILENO + 1, report_fd - 1, 0) != 0) {
        for (int fd = STDERR_FILENO + 1; fd < report_fd; ++fd) ::close(fd);
      }
      if (user != nullptr) {
        if (::syscall(SYS_setgroups, user->groups.size(), user->groups.data()) != 0) {
          f = {1, errno, 0};
        } else if (::syscall(SYS_setresgid, user->gid, user->gid, user->gid) != 0) {
          f = {2, errno, 0};
        } else if (::syscall(SYS_setresuid, user->uid, user->uid, user->uid) != 0) {
          f = {3, errno, 0};
        }
      }
      // The capabilities the agent holds (ambient ones would survive a switch between two
      // users that are not root, and execve) are not the program's, but those it is given.
      if (f.stage == 0) {
        if (const int e = pass_capabilities(capabilities); e != 0) f = {5, e, 0};
      }
      if (f.stage == 0) {
        // Like execvp: EACCES in one directory does not hide the program in the next.
        f = {4, ENOENT, 0};
        bool denied = false;
        for (std::size_t i = 0; i < paths.size(); ++i) {
          ::execve(paths[i], args.data(), envp.data());
          const int e = errno;
          if (e == EACCES) {
            if (!denied) f = {4, e, static_cast<int>(i)};
            denied = true;
          } else if (e != ENOENT && e != ENOTDIR) {
            f = {4, e, static_cast<int>(i)};
            break;
          } else if (!denied) {
            f = {4, e, static_cast<int>(i)};
          }
        }
      }
    }
    [[maybe_unused]] const auto written = ::write(report_fd, &f, sizeof f);
    ::_exit(127);
  }
  report->write.reset();
  Failure f;
  ssize_t n;
  do {
    n = ::read(report->read.get(), &f, sizeof f);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return pid;  // exec'd: the pipe closed with nothing in it
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (user != nullptr && f.stage >= 1 && f.stage <= 3) {
    static constexpr const char* kWhat[] = {"", "setgroups", "setresgid", "setresuid"};
    return Status{Code::kPermissionDenied,
                  "cannot run as user " + user->name + ": " + kWhat[f.stage] + ": " +
                      errno_text(f.error) +
                      (f.error == EPERM ? " (the agent needs CAP_SETUID and CAP_SETGID)" : "")};
  }
  if (f.stage == 5) {
    return Status{Code::kPermissionDenied,
                  "cannot set the capabilities of " + argv[0] + ": " + errno_text(f.error)};
  }
  const std::string& file = files[static_cast<std::size_t>(f.file)];
  if (argv[0].find('/') == std::string::npos && (f.error == ENOENT || f.error == ENOTDIR))
    return Status::not_found("\"" + argv[0] + "\" not found in PATH (" +
                             std::string(search_path(env)) + ")");
  return exec_error(argv[0], file, f.error);
}

// True once the process has ended. WNOWAIT leaves it a zombie: its pid, and so its
// process group id, cannot be reused before we kill the group and reap it. `lost` is set
// when someone else reaped it (SIGCHLD ignored, a stray waitpid(-1)): its group id may
// then belong to strangers already.
bool has_exited(pid_t pid, bool& lost) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    lost = errno == ECHILD;
    return lost;
  }
  return info.si_pid != 0;
}

void keep(std::string& text, std::string_view chunk, std::size_t cap, bool& truncated) {
  const std::size_t room = cap - std::min(cap, text.size());
  if (chunk.size() > room) truncated = true;
  text.append(chunk.substr(0, std::min(room, chunk.size())));
}

int poll_timeout(Clock::time_point now, Clock::time_point until, bool cap_at_period) {
  auto wait = std::chrono::ceil<milliseconds>(until - now);
  if (cap_at_period) wait = std::min(wait, kExitPollPeriod);
  return static_cast<int>(std::clamp<milliseconds::rep>(wait.count(), 0, INT_MAX));
}

// Sends SIGKILL to process group `group`. One run as another user is out of the caller's
// reach unless it holds CAP_KILL (EPERM): a child of the caller then becomes that user
// (the CAP_SETUID that started the group allows it), sends the signal and exits; it runs
// nothing else. 0 or an errno.
int kill_group(pid_t group, const RunAs* user) {
  if (::kill(-group, SIGKILL) == 0) return 0;
  if (errno != EPERM || user == nullptr) return errno;
  const uid_t uid = user->uid;
  const pid_t killer = ::fork();
  if (killer < 0) return errno;
  if (killer == 0) {
    if (::syscall(SYS_setresuid, uid, uid, uid) != 0) ::_exit(errno & 0x7f);
    ::_exit(::kill(-group, SIGKILL) == 0 ? 0 : errno & 0x7f);
  }
  int status = 0;
  while (::waitpid(killer, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  if (!WIFEXITED(status)) return ECHILD;
  return WEXITSTATUS(status);
}

// Reaps `pid`, which was sent SIGKILL, waiting at most kKillGrace for it to die. A
// process that outlives that is left to a thread that reaps it whenever it ends, so that
// the caller's worker is free.
enum class Reaped { kYes, kLost, kAlive };
Reaped reap(pid_t pid, const Fd& pidfd, int& wait_status, int& error) {
  const auto give_up = Clock::now() + kKillGrace;
  for (;;) {
    const pid_t reaped = ::waitpid(pid, &wait_status, WNOHANG);
    if (reaped == pid) return Reaped::kYes;
    if (reaped < 0 && errno != EINTR) {
      error = errno;
      return Reaped::kLost;
    }
    const auto now = Clock::now();
    if (now >= give_up) break;
    const int wait = poll_timeout(now, give_up, !pidfd.valid());
    if (pidfd.valid()) {
      pollfd p{pidfd.get(), POLLIN, 0};
      ::poll(&p, 1, wait);
    } else {
      std::this_thread::sleep_for(milliseconds(wait));
    }
  }
  try {
    std::thread([pid] {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }).detach();
  } catch (const std::system_error&) {  // no thread to spare: it stays a zombie when it ends
  }
  return Reaped::kAlive;
}

}  // namespace

Result<std::string> read_request(int fd) {
  std::string input;
  char buffer[65536];
  while (input.size() <= kMaxInput) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("cannot read the request: " + errno_text(errno));
    if (n == 0) return input;
    input.append(buffer, static_cast<std::size_t>(n));
  }
  return Status::too_large("the request is larger than " + std::to_string(kMaxInput) + " bytes");
}

Result<RunAs> find_user(const std::string& name) {
  if (name.empty()) return Status::invalid("empty user name");
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(static_cast<std::size_t>(size > 0 ? size : 16384));
  passwd entry{};
  passwd* found = nullptr;
  int rc;
  while ((rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) ==
             ERANGE &&
         buffer.size() < (1u << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0) return Status::io_error("looking up user " + name + ": " + errno_text(rc));
  if (found == nullptr) return Status::not_found("no user \"" + name + "\" on this system");
  RunAs user;
  user.name = name;
  user.uid = entry.pw_uid;
  user.gid = entry.pw_gid;
  user.home = entry.pw_dir ? entry.pw_dir : "/";
  int count = 16;
  for (int attempt = 0; attempt < 8; ++attempt) {
    user.groups.resize(static_cast<std::size_t>(count));
    int n = count;
    if (::getgrouplist(name.c_str(), entry.pw_gid, user.groups.data(), &n) >= 0) {
      user.groups.resize(static_cast<std::size_t>(n));
      return user;
    }
    count = std::max(n, count * 2);
  }
  return Status::io_error("looking up the groups of user " + name + ": too many");
}

std::vector<std::string> default_environment() {
  return {"PATH=" + std::string(kDefaultPath), "LANG=C"};
}

Result<std::uint64_t> keep_capabilities_to_self(std::uint64_t keep) {
  if (::getuid() == 0 || ::geteuid() == 0) return std::uint64_t{0};
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return Status::io_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL): " + errno_text(errno));
  CapSets caps;
  if (const int e = caps.get(); e != 0) return Status::io_error("capget: " + errno_text(e));
  const std::uint64_t kept = caps.permitted() & keep;
  caps.assign(kept, kept, 0);
  if (const int e = caps.set(); e != 0) return Status::io_error("capset: " + errno_text(e));
  return kept;
}

Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options) {
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  const auto env = options.environment.empty() ? default_environment() : options.environment;
  if (Status s = validate(argv, env); !s) return s;

  auto out_pipe = make_pipe();
  if (!out_pipe) return out_pipe.status();
  auto err_pipe = make_pipe();
  if (!err_pipe) return err_pipe.status();
  auto dev_null = options.input ? input_pipe(*options.input) : open_dev_null();
  if (!dev_null) return dev_null.status();
  const RunAs* user = options.run_as ? &*options.run_as : nullptr;
  if (user != nullptr && user->uid == 0)
    return Status::invalid("run_as " + user->name + ": uid 0: a program is never run as root");
  const std::uint64_t capabilities = capability_mask(options.capabilities);
  if (user != nullptr && capabilities != 0)
    return Status::invalid("run_as " + user->name + " with capabilities: not both");
  // With either, a program could become any user, root included.
  if ((capabilities &
       (capability_bit(Capability::kSetuid) | capability_bit(Capability::kSetgid))) != 0)
    return Status::invalid("CAP_SETUID and CAP_SETGID are never given to a program");
  auto spawned =
      user != nullptr || capabilities != 0 || may_leak_capabilities()
          ? spawn_forked(argv, env, dev_null->get(), out_pipe->write.get(), err_pipe->write.get(),
                         user, capabilities)
          : spawn(argv, env, dev_null->get(), out_pipe->write.get(), err_pipe->write.get());
  if (!spawned) return spawned.status();
  const pid_t pid = *spawned;
  // The child has its copies; ours would keep the pipes from ever reaching end of file.
  dev_null->reset();
  out_pipe->write.reset();
  err_pipe->write.reset();

  ProcessResult result;
  struct Stream {
    Fd fd;
    std::string* text;
  };
  std::array<Stream, 2> streams{Stream{std::move(out_pipe->read), &result.out},
                                Stream{std::move(err_pipe->read), &result.err}};
  // glibc 2.36's <sys/pidfd.h> lacks extern "C": call the system call directly.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  bool exited = false;
  bool lost = false;
  bool timed_out = false;
  Status failure;
  auto stop_reading = deadline;
  std::array<char, kReadChunk> buffer;

  for (;;) {
    const auto now = Clock::now();
    const bool reading = streams[0].fd.valid() || streams[1].fd.valid();
    if (!exited && has_exited(pid, lost)) {
      exited = true;
      stop_reading = std::min(deadline, now + kExitGrace);
    }
    if (exited && !reading) break;
    if (now >= stop_reading) {
      timed_out = !exited;
      break;
    }

    std::array<pollfd, 3> fds{};
    std::array<Stream*, 3> owners{};
    nfds_t count = 0;
    for (auto& stream : streams) {
      if (!stream.fd.valid()) continue;
      owners[count] = &stream;
      fds[count++] = pollfd{stream.fd.get(), POLLIN, 0};
    }
    const bool watch_exit = !exited && pidfd.valid();
    if (watch_exit) fds[count++] = pollfd{pidfd.get(), POLLIN, 0};

    const int ready =
        ::poll(fds.data(), count, poll_timeout(now, stop_reading, !exited && !pidfd.valid()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      failure = Status::io_error("poll: " + errno_text(errno));
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (owners[i] == nullptr || fds[i].revents == 0) continue;
      Stream& stream = *owners[i];
      const ssize_t n = ::read(stream.fd.get(), buffer.data(), buffer.size());
      if (n > 0) {
        keep(*stream.text, std::string_view(buffer.data(), static_cast<std::size_t>(n)),
             options.max_output, result.truncated);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        stream.fd.reset();
      }
    }
  }

  if (lost) {
    return Status::internal("lost track of " + argv[0] +
                            ": reaped elsewhere (is SIGCHLD ignored?)");
  }
  // The program is still running (timeout, poll failure) or a zombie holding the group
  // id: either way the group is still ours to kill. Whatever it left behind goes too.
  const int kill_error = kill_group(pid, user);
  int wait_status = 0;
  int wait_error = 0;
  const Reaped reaped = reap(pid, pidfd, wait_status, wait_error);
  result.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  const std::string who = argv[0] + " (pid " + std::to_string(pid) + ")";
  if (kill_error != 0 && kill_error != ESRCH)
    log::warning("cannot kill the processes of " + who + ": " + errno_text(kill_error));

  if (!failure) return failure;
  if (reaped == Reaped::kLost)
    return Status::internal("lost track of " + argv[0] + ": " + errno_text(wait_error));
  if (reaped == Reaped::kAlive) {
    const std::string message =
        who +
        (kill_error != 0 ? " cannot be killed: " + errno_text(kill_error)
                         : " is alive " + std::to_string(kKillGrace.count() / 1000) +
                               " s after SIGKILL (uninterruptible sleep?)") +
        "; left behind";
    log::error(message);
    return Status::internal(message);
  }
  if (timed_out) {
    result.ending = ProcessResult::Ending::kTimedOut;
  } else if (WIFEXITED(wait_status)) {
    result.ending = ProcessResult::Ending::kExited;
    result.exit_code = WEXITSTATUS(wait_status);
  } else {
    result.ending = ProcessResult::Ending::kSignaled;
    result.signal = WTERMSIG(wait_status);
  }
  return result;
}

}  // namespace vigie::plugins
