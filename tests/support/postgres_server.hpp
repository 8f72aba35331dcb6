#pragma once
// A real PostgreSQL server for tests: a fresh cluster (initdb) in a temporary folder,
// its postmaster from `pg_config --bindir` run as a child of the test program (it dies
// with it, even when the test is killed) as an unprivileged user (the postgres account
// when the tests run as root: PostgreSQL refuses root), on a free loopback port and a
// Unix socket in the folder, fsync on. Tests connect as the
// superuser "vigie": trusted over the socket, by password (SCRAM) over TCP.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace vigie::testing {

class PostgresServer {
 public:
  // Starts a server; when PostgreSQL is not installed, or it fails to start,
  // available() is false and why() says why.
  PostgresServer();
  // A streaming standby of `primary`, made with pg_basebackup -R and started on a
  // port of its own; it replays what the primary commits, read-only. `settings`:
  // more server settings ("max_standby_streaming_delay=0"), each passed as -c.
  explicit PostgresServer(const PostgresServer& primary, std::vector<std::string> settings = {});
  ~PostgresServer();  // stops the server (immediate shutdown) and removes its files
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool available() const { return why_.empty(); }
  const std::string& why() const { return why_; }

  // A new, empty database; returns its name ("" on failure, with why()).
  std::string create_database();
  // A connection string to `database` over the socket (no password needed).
  std::string conninfo(const std::string& database) const;
  // The same over TCP on 127.0.0.1, which needs the password (password()).
  std::string tcp_conninfo(const std::string& database) const;
  static std::string password() { return "vigie-test-password"; }
  int port() const { return port_; }
  int postmaster_pid() const { return postmaster_; }
  const std::filesystem::path& folder() const { return dir_.path(); }
  // The server's log (stderr of the postmaster and its processes).
  std::string log() const;

  // Stops (fast shutdown) and starts the server again on the same port.
  bool restart();
  // Stops it (fast shutdown): connections are cut, and refused until start().
  bool stop();
  // Starts it again after stop(), on the same port and socket.
  bool start();
  // Runs a psql command on `database` as the superuser; returns its output (trimmed,
  // unaligned, tuples only), or nullopt with why() set when psql fails.
  std::optional<std::string> psql(const std::string& database, const std::string& sql);

 private:
  bool find_binaries_and_own_folder();
  bool run_as_server_user(const std::string& what, std::vector<std::string> argv);
  // Sends the postmaster `signal` and reaps it; true when it exited 0.
  bool signal_and_wait(int signal);

  TempDir dir_;
  std::filesystem::path bindir_;
  std::string why_;
  int port_ = 0;
  int databases_ = 0;
  bool started_ = false;
  int postmaster_ = 0;                 // its pid while it runs
  std::vector<std::string> settings_;  // more -c settings
};

// One server for the whole test program, started on first use.
PostgresServer& shared_postgres();

}  // namespace vigie::testing
