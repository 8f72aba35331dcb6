#include "plugins/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/peers.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins {
namespace {

using namespace std::chrono_literals;
using Ending = ProcessResult::Ending;

ProcessResult run_ok(const std::vector<std::string>& argv, ProcessOptions options = {}) {
  auto result = run_process(argv, options);
  INFO(result.status().to_string());
  REQUIRE(result.is_ok());
  return *std::move(result);
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// True while the process exists and is not a zombie (a SIGKILLed grandchild is
// reparented and may wait a while for its new parent to reap it).
bool running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' &&
         stat[paren + 2] != 'X';
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (running(pid)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

pid_t read_pid(const std::filesystem::path& file) { return std::stoi(read_text(file)); }

TEST_CASE("run_process: reports the exit code", "[process]") {
  testing::TempDir dir;
  const auto script = dir.write("exit.sh", "#!/bin/sh\necho \"status $1\"\nexit \"$1\"\n", true);
  for (int code : {0, 1, 2, 3, 4, 42, 255}) {
    const auto result = run_ok({script.string(), std::to_string(code)});
    CHECK(result.ending == Ending::kExited);
    CHECK(result.exit_code == code);
    CHECK(result.out == "status " + std::to_string(code) + "\n");
    CHECK_FALSE(result.truncated);
  }
}

TEST_CASE("run_process: reports death by signal", "[process]") {
  testing::TempDir dir;
  const auto script = dir.write("segv.sh", "#!/bin/sh\necho before\nkill -SEGV $$\n", true);
  const auto result = run_ok({script.string()});
  CHECK(result.ending == Ending::kSignaled);
  CHECK(result.signal == SIGSEGV);
  CHECK(result.out == "before\n");
}

TEST_CASE("run_process: a timeout kills the whole process group", "[process]") {
  testing::TempDir dir;
  const auto script = dir.write("hang.sh",
                                "#!/bin/sh\n"
                                "echo $$ > \"$1/leader.pid\"\n"
                                "sleep 300 &\n"
                                "echo $! > \"$1/child.pid\"\n"
                                "echo started\n"
                                "sleep 300\n",
                                true);
  ProcessOptions options;
  options.timeout = 1s;
  const auto result = run_ok({script.string(), dir.path().string()}, options);
  CHECK(result.ending == Ending::kTimedOut);
  CHECK(result.out == "started\n");
  CHECK(result.elapsed >= 1s);
  CHECK(result.elapsed < 1500ms);
  CHECK_FALSE(running(read_pid(dir / "leader.pid")));
  CHECK(gone_within(read_pid(dir / "child.pid"), 1s));
}

TEST_CASE("run_process: a child left holding the pipes does not delay the result", "[process]") {
  testing::TempDir dir;
  const auto script = dir.write("leave.sh",
                                "#!/bin/sh\n"
                                "sleep 300 &\n"
                                "echo $! > \"$1/child.pid\"\n"
                                "echo done\n",
                                true);
  const auto result = run_ok({script.string(), dir.path().string()});
  CHECK(result.ending == Ending::kExited);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "done\n");
  CHECK(result.elapsed < 1s);
  CHECK(gone_within(read_pid(dir / "child.pid"), 1s));
}

TEST_CASE("run_process: waits for a program that closed its output", "[process]") {
  const auto result = run_ok({"/bin/sh", "-c", "exec >&- 2>&-; sleep 0.2; exit 5"});
  CHECK(result.ending == Ending::kExited);
  CHECK(result.exit_code == 5);
  CHECK(result.elapsed >= 200ms);
}

TEST_CASE("run_process: output past the cap is discarded with bounded memory", "[process]") {
  ProcessOptions options;
  options.max_output = 64 * 1024;
  const auto result = run_ok({"/bin/sh", "-c",
                              "head -c 10000000 /dev/zero; head -c 10000000 /dev/zero >&2; "
                              "exit 1"},
                             options);
  CHECK(result.ending == Ending::kExited);
  CHECK(result.exit_code == 1);
  CHECK(result.out.size() == options.max_output);
  CHECK(result.err.size() == options.max_output);
  CHECK(result.truncated);
  CHECK(result.elapsed < 2s);
}

TEST_CASE("run_process: captures stderr apart from stdout", "[process]") {
  const auto result = run_ok({"/bin/sh", "-c", "echo to-out; echo to-err >&2"});
  CHECK(result.out == "to-out\n");
  CHECK(result.err == "to-err\n");
}

TEST_CASE("run_process: the environment is the minimal one or exactly the given one", "[process]") {
  ::setenv("VIGIE_TEST_SECRET", "leak", 1);
  CHECK(run_ok({"/usr/bin/env"}).out == "PATH=/usr/local/bin:/usr/bin:/bin\nLANG=C\n");
  testing::TempDir dir;
  const auto script = dir.write("env.sh", "#!/bin/sh\nenv\n", true);
  const auto from_script = run_ok({script.string()}).out;
  ::unsetenv("VIGIE_TEST_SECRET");
  CHECK_THAT(from_script, Catch::Contains("PATH=/usr/local/bin:/usr/bin:/bin\n"));
  CHECK_THAT(from_script, !Catch::Contains("VIGIE_TEST_SECRET"));
  CHECK_THAT(from_script, !Catch::Contains("HOME="));

  ProcessOptions options;
  options.environment = {"FOO=bar baz", "PATH=/usr/bin:/bin"};
  CHECK(run_ok({"/usr/bin/env"}, options).out == "FOO=bar baz\nPATH=/usr/bin:/bin\n");
}

TEST_CASE("run_process: the child has /dev/null as stdin and no other inherited fd", "[process]") {
  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(leaked > 2);
  // ls opens /proc/self/fd itself: fd 3 is its own directory handle.
  CHECK(run_ok({"/bin/ls", "/proc/self/fd"}).out == "0\n1\n2\n3\n");
  CHECK(run_ok({"/bin/readlink", "/proc/self/fd/0"}).out == "/dev/null\n");
  ::close(leaked);
}

TEST_CASE("run_process: the input, when given, is the child's stdin, then end of file",
          "[process]") {
  ProcessOptions options;
  options.max_output = 2 * 1024 * 1024;
  // Larger than a pipe holds by default (64 KiB), and bytes of every value.
  std::string input;
  for (int i = 0; i < 300'000; ++i) input += static_cast<char>(i * 7 % 256);
  options.input = input;
  auto r = run_process({"/bin/cat"}, options);
  REQUIRE(r.is_ok());
  CHECK(r->exit_code == 0);
  CHECK(r->out.size() == input.size());
  CHECK(r->out == input);

  options.input = "";
  r = run_process({"/bin/cat"}, options);
  REQUIRE(r.is_ok());
  CHECK(r->out.empty());

  options.input = std::string(kMaxInput + 1, 'x');
  r = run_process({"/bin/cat"}, options);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kTooLarge);
}

// What read_request makes of `input` written into a pipe by another thread and closed.
Result<std::string> read_through_pipe(const std::string& input) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::thread writer([&] {
    std::size_t done = 0;
    while (done < input.size()) {
      const ssize_t n = ::write(fds[1], input.data() + done, input.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
  });
  auto read = read_request(fds[0]);
  writer.join();
  ::close(fds[0]);
  return read;
}

TEST_CASE("read_request: a helper's request is read whole up to kMaxInput, refused beyond",
          "[process]") {
  auto empty = read_through_pipe("");
  REQUIRE(empty);
  CHECK(empty->empty());

  const std::string largest(kMaxInput, 'r');
  auto whole = read_through_pipe(largest);
  REQUIRE(whole);
  CHECK(*whole == largest);

  auto over = read_through_pipe(largest + "!");
  REQUIRE_FALSE(over);
  CHECK(over.status().code() == Code::kTooLarge);
  CHECK(over.status().message() == "the request is larger than 1048576 bytes");

  const int closed = ::dup(STDERR_FILENO);
  REQUIRE(closed >= 0);
  ::close(closed);
  auto failed = read_request(closed);
  REQUIRE_FALSE(failed);
  CHECK(failed.status().code() == Code::kIoError);
  CHECK(failed.status().message() == "cannot read the request: Bad file descriptor");
}

TEST_CASE("run_process: works when the caller's stdin and stderr are closed", "[process]") {
  // The new pipes then land on 0 and 2, the very descriptors the child's stdio replaces.
  const int saved_in = ::dup(STDIN_FILENO);
  const int saved_err = ::dup(STDERR_FILENO);
  REQUIRE(saved_in >= 0);
  REQUIRE(saved_err >= 0);
  ::close(STDIN_FILENO);
  ::close(STDERR_FILENO);
  auto result =
      run_process({"/bin/sh", "-c", "echo out; echo err >&2; readlink /proc/self/fd/0"}, {});
  ::dup2(saved_in, STDIN_FILENO);
  ::dup2(saved_err, STDERR_FILENO);
  ::close(saved_in);
  ::close(saved_err);
  REQUIRE(result.is_ok());
  CHECK(result->out == "out\n/dev/null\n");
  CHECK(result->err == "err\n");
}

TEST_CASE("run_process: the child runs in its own process group", "[process]") {
  // Field 5 of /proc/<pid>/stat is the process group id.
  const auto result = run_ok({"/bin/sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat"});
  const auto newline = result.out.find('\n');
  REQUIRE(newline != std::string::npos);
  CHECK(result.out.substr(0, newline + 1) == result.out.substr(newline + 1));
}

TEST_CASE("run_process: the child gets default signal dispositions and no mask", "[process]") {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  REQUIRE(::sigaction(SIGPIPE, &ignore, &previous) == 0);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigset_t old_mask;
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old_mask) == 0);

  const auto result = run_ok({"/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"});

  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &previous, nullptr);
  // Hex masks, bit n-1 for signal n. Only the standard signals 1..31 are looked at: glibc
  // keeps its two internal real-time signals (32, 33) ignored across posix_spawn.
  std::istringstream lines(result.out);
  std::string name;
  std::string mask;
  int seen = 0;
  while (lines >> name >> mask) {
    INFO(name << " " << mask);
    CHECK((std::stoull(mask, nullptr, 16) & 0x7fffffffULL) == 0);
    ++seen;
  }
  CHECK(seen == 2);
}

TEST_CASE("run_process: runs overlap from several threads", "[process]") {
  constexpr int kThreads = 8;
  constexpr int kRuns = 10;
  std::vector<std::thread> threads;
  std::vector<int> correct(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &correct] {
      for (int i = 0; i < kRuns; ++i) {
        const auto text = std::to_string(t) + "-" + std::to_string(i);
        const auto result = run_process({"/bin/echo", text}, {});
        if (result.is_ok() && result->out == text + "\n") ++correct[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) CHECK(correct[t] == kRuns);
}

TEST_CASE("run_process: run_as switches to the user, with the same rules", "[process]") {
  auto nobody = find_user("nobody");
  REQUIRE(nobody.is_ok());
  CHECK(nobody->uid == 65534);
  CHECK(find_user("no-such-user-here").status().code() == Code::kNotFound);
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "not root: cannot switch users here");
  ProcessOptions options;
  options.run_as = *nobody;
  auto r = run_process({"id", "-u"}, options);  // found in PATH
  REQUIRE(r.is_ok());
  CHECK(r->out == "65534\n");
  r = run_process({"sh", "-c", "echo out; echo err >&2; ls /proc/self/fd | wc -l; exit 3"},
                  options);
  REQUIRE(r.is_ok());
  CHECK(r->exit_code == 3);
  CHECK(r->out == "out\n4\n");  // 0, 1, 2 and ls's own directory: nothing inherited
  CHECK(r->err == "err\n");
  CHECK(run_process({"no-such-program-here"}, options).status().code() == Code::kNotFound);
  CHECK(run_process({"/no/such/program"}, options).status().code() == Code::kNotFound);
  options.timeout = std::chrono::milliseconds(300);
  r = run_process({"sleep", "10"}, options);
  REQUIRE(r.is_ok());
  CHECK(r->ending == ProcessResult::Ending::kTimedOut);
}

TEST_CASE("run_process: never runs a program as root, nor as a user with capabilities",
          "[process]") {
  RunAs root{"root", 0, 0, {0}, "/root"};
  ProcessOptions options;
  options.run_as = root;
  CHECK(run_process({"/bin/true"}, options).status().to_string() ==
        "invalid argument: run_as root: uid 0: a program is never run as root");
  auto nobody = find_user("nobody");
  REQUIRE(nobody.is_ok());
  options.run_as = *nobody;
  options.capabilities = {Capability::kNetRaw};
  CHECK(run_process({"/bin/true"}, options).status().code() == Code::kInvalidArgument);
}

// In a child process that became nobody with CAP_SETUID, CAP_SETGID and CAP_NET_ADMIN,
// as the agent runs: `body` returns the text the test checks.
std::string as_unprivileged_agent(const std::function<std::string()>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string text;
    constexpr std::uint64_t kKeep = capability_bit(Capability::kSetuid) |
                                    capability_bit(Capability::kSetgid) |
                                    capability_bit(Capability::kNetAdmin);
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || ::setgroups(0, nullptr) != 0 ||
        ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      text = "cannot become nobody";
    } else if (auto kept = keep_capabilities_to_self(kKeep); !kept || *kept != kKeep) {
      text = "cannot keep the capabilities: " + kept.status().to_string();
    } else {
      text = body();
    }
    [[maybe_unused]] auto n = ::write(fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return text;
}

TEST_CASE("run_process: a program run as another user dies with its group at the timeout",
          "[process]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "not root: cannot switch users here");
  // The caller may not signal daemon's processes (EPERM): the group is killed all the same.
  const std::string text = as_unprivileged_agent([] {
    auto daemon = find_user("daemon");
    if (!daemon) return daemon.status().to_string();
    ProcessOptions options;
    options.run_as = *daemon;
    options.timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    auto r = run_process({"sh", "-c", "trap '' TERM; sleep 600 & echo $!; wait"}, options);
    const auto took = std::chrono::steady_clock::now() - start;
    if (!r) return r.status().to_string();
    return std::string(r->ending == Ending::kTimedOut ? "timed out" : "not timed out") +
           (took < 2s ? " in time " : " late ") + r->out;
  });
  INFO(text);
  REQUIRE_THAT(text, Catch::StartsWith("timed out in time "));
  const pid_t grandchild = std::stoi(text.substr(18));
  CHECK(gone_within(grandchild, 2s));
  if (running(grandchild)) ::kill(grandchild, SIGKILL);
}

TEST_CASE("run_process: a program gets no capability of the caller's but those it is given",
          "[process]") {
  if (::geteuid() != 0)
    VIGIE_SKIP_TEST(testing::Absent::kRefusal, "not root: cannot switch users here");
  const std::string text = as_unprivileged_agent([] {
    const std::vector<std::string> caps = {
        "sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/$$/status | tr -d '\\t' | tr '\\n' ' '"};
    std::string out;
    for (const auto& given : std::vector<std::vector<Capability>>{
             {}, {Capability::kNetAdmin}, {Capability::kNetRaw}, {Capability::kSetuid}}) {
      ProcessOptions options;
      options.capabilities = given;
      auto r = run_process(caps, options);
      out += (r ? r->out : r.status().to_string()) + "| ";
    }
    return out;
  });
  // CAP_NET_ADMIN (bit 12) is held and given when asked for; CAP_NET_RAW is not held;
  // CAP_SETUID is never given.
  CHECK(text ==
        "CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 "
        "CapAmb:0000000000000000 | "
        "CapInh:0000000000001000 CapPrm:0000000000001000 CapEff:0000000000001000 "
        "CapAmb:0000000000001000 | "
        "CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 "
        "CapAmb:0000000000000000 | "
        "invalid argument: CAP_SETUID and CAP_SETGID are never given to a program| ");
}

TEST_CASE("run_process: finds a bare program name in PATH", "[process]") {
  const auto result = run_ok({"echo", "hello"});
  CHECK(result.out == "hello\n");
}

TEST_CASE("run_process: a missing program is kNotFound", "[process]") {
  testing::TempDir dir;
  auto result = run_process({(dir / "nope").string()}, {});
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kNotFound);
  CHECK_THAT(result.status().message(), Catch::Contains((dir / "nope").string()));

  result = run_process({"vigie-no-such-program"}, {});
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kNotFound);
  CHECK_THAT(result.status().message(), Catch::Contains("not found in PATH"));
}

TEST_CASE("run_process: a file that cannot be executed is kPermissionDenied", "[process]") {
  testing::TempDir dir;
  const auto plain = dir.write("plain.sh", "#!/bin/sh\necho hi\n");  // mode 0644
  auto result = run_process({plain.string()}, {});
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kPermissionDenied);
  CHECK_THAT(result.status().message(), Catch::Contains(plain.string()));

  const auto garbage = dir.write("garbage", "not a program\n", true);
  result = run_process({garbage.string()}, {});
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kPermissionDenied);

  result = run_process({dir.path().string()}, {});
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kPermissionDenied);
}

TEST_CASE("run_process: says so when SIGCHLD is ignored and the child is lost", "[process]") {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  REQUIRE(::sigaction(SIGCHLD, &ignore, &previous) == 0);
  const auto result = run_process({"/bin/true"}, {});
  ::sigaction(SIGCHLD, &previous, nullptr);
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == Code::kInternal);
  CHECK_THAT(result.status().message(), Catch::Contains("SIGCHLD"));
}

TEST_CASE("run_process: refuses an empty command and NUL bytes", "[process]") {
  CHECK(run_process({}, {}).status().code() == Code::kInvalidArgument);
  CHECK(run_process({""}, {}).status().code() == Code::kInvalidArgument);
  CHECK(run_process({"/bin/echo", std::string("a\0b", 3)}, {}).status().code() ==
        Code::kInvalidArgument);
  ProcessOptions options;
  options.environment = {"NOEQUALS"};
  CHECK(run_process({"/bin/true"}, options).status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace vigie::plugins
