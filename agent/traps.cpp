#include "agent/traps.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/duration.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "plugins/process.hpp"
#include "plugins/snmp/devices.hpp"
#include "plugins/snmp/wire.hpp"

namespace vigie::agent {
namespace {

namespace asio = boost::asio;
namespace snmp = plugins::snmp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kBootsFile = "snmp-engine-boots";
// A line of the helper is an event of at most 64 variables of 1 KB, and some.
constexpr std::size_t kMaxLine = 256 * 1024;
// Drops are logged at most this often, with what they were.
constexpr milliseconds kDropLogPeriod{60'000};
// How long a stopping helper may take to exit once its stdin is closed.
constexpr milliseconds kStopGrace{1000};

std::string errno_text(int error) { return std::generic_category().message(error); }

std::string seconds_text(milliseconds d) { return format_duration(d); }

// The next snmpEngineBoots: the file's number plus one, written back (RFC 3414: an engine
// that restarts with the same id counts its boots). 1 when there is no file; when it
// cannot be written, the count of this run's starts, and a warning.
std::uint32_t next_boots(const std::filesystem::path& state_dir, std::uint32_t starts) {
  const auto path = state_dir / kBootsFile;
  std::uint32_t boots = 0;
  if (auto text = read_file(path.string(), 64)) {
    try {
      boots = static_cast<std::uint32_t>(std::stoul(*text));
    } catch (const std::exception&) {
      boots = 0;
    }
  }
  boots = boots >= 2'147'483'646u ? 2'147'483'647u : boots + 1;  // RFC 3414's ceiling
  const std::string text = std::to_string(boots) + "\n";
  const auto temporary = path.string() + ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const bool written = fd >= 0 &&
                       ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (written && ::rename(temporary.c_str(), path.c_str()) == 0) return boots;
  log::warning("traps: cannot keep the SNMP engine's boot count in " + path.string() + " (" +
               errno_text(errno) + "); counting this run's starts instead");
  return std::max<std::uint32_t>(starts, 1);
}

}  // namespace

struct TrapListener::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& context, const Config& configuration, TrapListenerOptions opts,
       std::function<void(const protocol::Event&)> on_event,
       std::function<void(const std::string&)> on_poll)
      : io(context),
        config(configuration),
        options(std::move(opts)),
        event(std::move(on_event)),
        poll(std::move(on_poll)),
        out(context),
        restart(context),
        backoff(options.restart_min) {
    for (const ConfiguredCheck& check : config.checks) {
      if (!check.device.empty()) checks_by_device[check.device].push_back(&check);
    }
  }

  // The helper's options: the devices with their secrets (read now, from their files).
  std::string options_line() {
    snmp::TrapListenOptions o;
    const TrapsConfig& traps = *config.traps;
    o.listen = traps.listen;
    o.engine_id = traps.engine_id;
    o.boots = next_boots(options.state_dir, starts);
    o.rate = traps.rate;
    o.burst = traps.burst;
    for (const std::string& name : config.snmp_devices->names()) {
      const snmp::DeviceOptions* device = config.snmp_devices->options(name);
      auto target = snmp::with_secrets(*device);
      if (!target) {
        log::error("traps: device " + name + ": " + target.status().message() +
                   "; its traps are dropped");
        continue;
      }
      o.devices.push_back({name, std::move(*target), device->engine_id});
    }
    return snmp::encode_trap_options(o) + "\n";
  }

  void start() {
    if (stopped) return;
    ++starts;
    auto program =
        options.helper.empty() ? snmp::helper_path() : Result<std::string>(options.helper);
    if (!program) return failed("traps: " + program.status().message());
    int in[2];
    int from[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return failed("traps: pipe: " + errno_text(errno));
    if (::pipe2(from, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return failed("traps: pipe: " + errno_text(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    std::vector<std::string> argv = {*program, "--traps"};
    std::vector<char*> args = {argv[0].data(), argv[1].data(), nullptr};
    std::vector<std::string> env = plugins::default_environment();
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t child = -1;
    const int rc =
        ::posix_spawn(&child, argv[0].c_str(), &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(from[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(from[0]);
      return failed("traps: cannot run " + *program + ": " + errno_text(rc));
    }
    pid = child;
    to_helper = in[1];
    started_at = Clock::now();
    out.assign(from[0]);
    // Written whole before anything is read: the helper reads it first thing.
    const std::string line = options_line();
    for (std::size_t done = 0; done < line.size();) {
      const ssize_t n = ::write(to_helper, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;  // it died: read() says so
      done += static_cast<std::size_t>(n);
    }
    read_line();
  }

  void read_line() {
    asio::async_read_until(
        out, asio::dynamic_buffer(pending, kMaxLine), '\n',
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t size) {
          if (ec) return self->ended(ec);
          std::string line = self->pending.substr(0, size - 1);
          self->pending.erase(0, size);
          self->handle(line);
          self->read_line();
        });
  }

  void handle(const std::string& text) {
    auto line = snmp::decode_trap_line(text);
    if (!line) {
      log::warning("traps: " + line.status().message());
      return;
    }
    switch (line->kind) {
      case snmp::TrapLine::Kind::kReady:
        listening = true;
        log::notice("traps: receiving SNMP traps and informs on " + line->listen +
                    " (UDP; SNMPv3 engine id 0x" + snmp::engine_id_hex(line->engine_id) + ")");
        break;
      case snmp::TrapLine::Kind::kWarning: log::warning("traps: " + line->message); break;
      case snmp::TrapLine::Kind::kCounters: counted(line->counters); break;
      case snmp::TrapLine::Kind::kEvent: received(std::move(line->event)); break;
    }
  }

  void received(protocol::Event trap) {
    log::debug("traps: " + trap.summary);
    const auto it = checks_by_device.find(trap.device);
    if (it == checks_by_device.end()) {
      event(trap);
    } else {
      for (const ConfiguredCheck* check : it->second) {
        protocol::Event copy = trap;
        copy.name = check->name;
        copy.check = check->id;
        event(copy);
      }
    }
    poll(trap.device);
  }

  void counted(const snmp::TrapCounters& now) {
    helper_counters = now;
    accepted.store(base_accepted + now.accepted, std::memory_order_relaxed);
    dropped.store(base_dropped + now.dropped(), std::memory_order_relaxed);
    const Clock::time_point t = Clock::now();
    if (now.dropped() == logged.dropped() || t - logged_at < kDropLogPeriod) return;
    std::string what;
    const auto part = [&](std::uint64_t n, std::uint64_t before, const char* why) {
      if (n <= before) return;
      what += (what.empty() ? "" : ", ") + std::to_string(n - before) + " " + why;
    };
    for (const auto& [device, n] : now.rate_limited_by_device) {
      const auto before = logged.rate_limited_by_device.find(device);
      part(n, before == logged.rate_limited_by_device.end() ? 0 : before->second,
           ("over device " + device + "'s rate").c_str());
    }
    part(now.unknown_source, logged.unknown_source, "from no device's address");
    part(now.bad_community, logged.bad_community, "with a wrong community");
    part(now.bad_user, logged.bad_user, "of another user or a lower security level");
    part(now.auth_failed, logged.auth_failed, "refused by SNMPv3 security");
    part(now.malformed, logged.malformed, "not SNMP notifications");
    log::warning("traps: dropped " + what);
    logged = now;
    logged_at = t;
  }

  void ended(const boost::system::error_code& ec) {
    if (pid < 0) return;
    listening = false;
    boost::system::error_code ignored;
    out.close(ignored);
    pending.clear();
    if (to_helper >= 0) ::close(to_helper);
    to_helper = -1;
    const std::string why = ec == asio::error::eof ? std::string()
                            : ec == asio::error::not_found
                                ? " (a line longer than " + std::to_string(kMaxLine) + " bytes)"
                                : " (" + ec.message() + ")";
    const int status = reap(stopped ? kStopGrace : milliseconds(0));
    base_accepted += helper_counters.accepted;
    base_dropped += helper_counters.dropped();
    helper_counters = {};
    logged = {};
    if (stopped) return;
    const milliseconds ran = std::chrono::duration_cast<milliseconds>(Clock::now() - started_at);
    if (ran > options.restart_max) backoff = options.restart_min;
    std::string how =
        WIFEXITED(status)     ? "exited with status " + std::to_string(WEXITSTATUS(status))
        : WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                              : "ended";
    failed("traps: the receiver (vigie-snmp --traps) " + how + why + " after " + seconds_text(ran));
  }

  // Logs `message` and starts the helper again after the pause, which doubles.
  void failed(const std::string& message) {
    listening = false;
    if (stopped) return;
    log::error(message + "; starting it again in " + seconds_text(backoff));
    restart.expires_after(backoff);
    backoff = std::min(backoff * 2, options.restart_max);
    restart.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->start();
    });
  }

  // Waits up to `grace` for the helper to exit, then kills it; returns its wait status.
  int reap(milliseconds grace) {
    int status = 0;
    const Clock::time_point deadline = Clock::now() + grace;
    while (true) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno != EINTR)) break;
      if (Clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    pid = -1;
    return status;
  }

  void stop() {
    stopped = true;
    restart.cancel();
    if (pid < 0) return;
    if (to_helper >= 0) ::close(to_helper);  // its signal to exit
    to_helper = -1;
    reap(kStopGrace);
    boost::system::error_code ignored;
    out.close(ignored);
    listening = false;
  }

  asio::io_context& io;
  const Config& config;
  TrapListenerOptions options;
  std::function<void(const protocol::Event&)> event;
  std::function<void(const std::string&)> poll;
  std::map<std::string, std::vector<const ConfiguredCheck*>, std::less<>> checks_by_device;
  asio::posix::stream_descriptor out;
  // The helper's output not read yet: a string, not an asio::streambuf, whose
  // std::streambuf would link the C++ locales into the static agent (docs/performance.md,
  // "Agent footprint").
  std::string pending;
  asio::steady_timer restart;
  milliseconds backoff;
  pid_t pid = -1;
  int to_helper = -1;
  bool stopped = false;
  std::uint32_t starts = 0;
  Clock::time_point started_at;
  snmp::TrapCounters helper_counters;  // of the helper running now
  std::uint64_t base_accepted = 0;     // of the helpers before it
  std::uint64_t base_dropped = 0;
  snmp::TrapCounters logged;  // when drops were last logged
  Clock::time_point logged_at{};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<bool> listening{false};
};

TrapListener::TrapListener(asio::io_context& io, const Config& config, TrapListenerOptions options,
                           std::function<void(const protocol::Event&)> event,
                           std::function<void(const std::string&)> poll)
    : impl_(std::make_shared<Impl>(io, config, std::move(options), std::move(event),
                                   std::move(poll))) {}

TrapListener::~TrapListener() { stop(); }

void TrapListener::start() { impl_->start(); }

void TrapListener::stop() { impl_->stop(); }

TrapStats TrapListener::stats() const {
  return {impl_->accepted.load(std::memory_order_relaxed),
          impl_->dropped.load(std::memory_order_relaxed),
          impl_->listening.load(std::memory_order_relaxed)};
}

}  // namespace vigie::agent
