#include "tests/support/postgres_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace vigie::testing {
namespace {

// Output of a shell-free command line, or "" when it fails.
std::string output_of(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  if (::pclose(pipe) != 0) return {};
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Runs argv, its output appended to `log`; true when it exits 0.
bool run(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

bool PostgresServer::find_binaries_and_own_folder() {
  bindir_ = output_of("pg_config --bindir 2>/dev/null");
  if (bindir_.empty() || !std::filesystem::exists(bindir_ / "initdb") ||
      !std::filesystem::exists(bindir_ / "postgres") ||
      !std::filesystem::exists(bindir_ / "pg_isready")) {
    why_ =
        "PostgreSQL is not installed (pg_config --bindir has no initdb, postgres and "
        "pg_isready): "
        "scripts/bootstrap installs postgresql-15 and libpq-dev";
    return false;
  }
  // The server runs as an unprivileged user: as root, the postgres account owns the
  // folder.
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) {
      why_ = "running as root and there is no postgres account to run PostgreSQL as";
      return false;
    }
    if (::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      why_ = "cannot give " + dir_.path().string() + " to the postgres account";
      return false;
    }
  }
  return true;
}

PostgresServer::PostgresServer(const PostgresServer& primary, std::vector<std::string> settings)
    : settings_(std::move(settings)) {
  if (!primary.available()) {
    why_ = primary.why();
    return;
  }
  if (!find_binaries_and_own_folder()) return;
  // -R writes primary_conninfo and standby.signal: it starts as a streaming standby.
  if (!run_as_server_user(
          "pg_basebackup",
          {(bindir_ / "pg_basebackup").string(), "-D", (dir_.path() / "data").string(), "-R", "-X",
           "stream", "--checkpoint=fast", "-h", primary.folder().string(), "-p",
           std::to_string(primary.port()), "-U", "vigie", "--no-sync"}))
    return;
  port_ = free_port();
  start();
}

PostgresServer::PostgresServer() {
  if (!find_binaries_and_own_folder()) return;
  const auto pwfile = dir_.path() / "pwfile";
  {
    std::ofstream out(pwfile);
    out << password() << "\n";
  }
  std::filesystem::permissions(pwfile, std::filesystem::perms(0644));
  if (!run_as_server_user(
          "initdb", {(bindir_ / "initdb").string(), "-D", (dir_.path() / "data").string(), "-U",
                     "vigie", "--pwfile", pwfile.string(), "--auth-local=trust",
                     "--auth-host=scram-sha-256", "--locale=C", "-E", "UTF8", "--no-sync"}))
    return;
  port_ = free_port();
  if (!start()) return;
}

PostgresServer::~PostgresServer() { (void)signal_and_wait(SIGQUIT); }

bool PostgresServer::run_as_server_user(const std::string& what, std::vector<std::string> argv) {
  if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  const auto log = dir_.path() / "commands.log";
  if (run(argv, log)) return true;
  why_ = what + " failed: " + read_file(log);
  return false;
}

// The postmaster runs in the foreground as a child of the test program (not daemonised
// by pg_ctl), with a parent-death signal: when the test program dies, even by SIGKILL
// (a ctest timeout), the kernel sends it SIGQUIT, an immediate shutdown, and no server
// is left behind.
bool PostgresServer::start() {
  std::vector<std::string> argv = {
      (bindir_ / "postgres").string(), "-D", (dir_.path() / "data").string(), "-c",
      "listen_addresses=127.0.0.1", "-c", "port=" + std::to_string(port_), "-c",
      "unix_socket_directories=" + dir_.path().string(),
      // fsync on: what is committed is on disk, as in production.
      "-c", "fsync=on", "-c", "shared_buffers=32MB", "-c", "max_connections=150", "-c",
      "max_wal_senders=4", "-c", "wal_level=replica"};
  for (const auto& setting : settings_) argv.insert(argv.end(), {"-c", setting});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const passwd* pw = ::geteuid() == 0 ? ::getpwnam("postgres") : nullptr;
  const uid_t uid = pw ? pw->pw_uid : ::geteuid();
  const gid_t gid = pw ? pw->pw_gid : ::getegid();
  const std::string log = (dir_.path() / "server.log").string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    why_ = "cannot fork the postmaster";
    return false;
  }
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::setsid();  // a signal to the test's process group does not reach the server
    if (pw && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0))
      ::_exit(126);
    // Set after the change of user, which clears it; a parent already gone is seen too.
    if (::prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || ::getppid() != parent) ::_exit(125);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  postmaster_ = pid;
  // Ready when it accepts connections on its socket (pg_isready), within 60 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const auto probe_log = dir_.path() / "commands.log";
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      postmaster_ = 0;
      why_ = "postgres exited at start: " + read_file(dir_.path() / "server.log");
      return false;
    }
    if (run({(bindir_ / "pg_isready").string(), "-q", "-h", dir_.path().string(), "-p",
             std::to_string(port_)},
            probe_log)) {
      started_ = true;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  why_ =
      "postgres did not accept connections within 60 s: " + read_file(dir_.path() / "server.log");
  (void)signal_and_wait(SIGQUIT);
  return false;
}

bool PostgresServer::signal_and_wait(int signal) {
  if (postmaster_ <= 0) return false;
  ::kill(postmaster_, signal);
  int status = 0;
  while (::waitpid(postmaster_, &status, 0) < 0 && errno == EINTR) {
  }
  postmaster_ = 0;
  started_ = false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// SIGINT is PostgreSQL's fast shutdown: transactions rolled back, a checkpoint, exit 0.
bool PostgresServer::stop() { return signal_and_wait(SIGINT); }

bool PostgresServer::restart() { return stop() && start(); }

std::string PostgresServer::log() const { return read_file(dir_.path() / "server.log"); }

std::string PostgresServer::conninfo(const std::string& database) const {
  return "host=" + dir_.path().string() + " port=" + std::to_string(port_) +
         " user=vigie dbname=" + database;
}

std::string PostgresServer::tcp_conninfo(const std::string& database) const {
  return "postgresql://vigie@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::optional<std::string> PostgresServer::psql(const std::string& database,
                                                const std::string& sql) {
  const auto out = dir_.path() / ("psql-" + std::to_string(::getpid()) + ".out");
  std::filesystem::remove(out);
  if (!run({(bindir_ / "psql").string(), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d",
            conninfo(database), "-c", sql},
           out)) {
    why_ = "psql failed: " + read_file(out);
    return std::nullopt;
  }
  std::string text = read_file(out);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string PostgresServer::create_database() {
  const std::string name =
      "test_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  if (!psql("postgres", "CREATE DATABASE " + name)) return {};
  return name;
}

PostgresServer& shared_postgres() {
  static PostgresServer server;
  return server;
}

}  // namespace vigie::testing
