#pragma once
// A real vigie-collector for integration tests: HTTPS on 127.0.0.1 with a free port,
// its own test CA (scripts/make-certs) and its database in a test's folder. It hands
// out tokens the way an administrator would, with the command line.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "plugins/process.hpp"
#include "tests/support/child.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::testing {

// Runs a program to completion (20 s at most) and returns what it printed.
plugins::ProcessResult run(std::vector<std::string> argv);
// `s` without trailing newlines and spaces.
std::string trim(std::string s);

class Collector {
 public:
  // Starts the collector with `extra` arguments added to its command line, on `db`
  // (a PostgreSQL connection string) or, when empty, on collector.db in `dir`.
  explicit Collector(const TempDir& dir, std::vector<std::string> extra = {}, std::string db = {});

  const std::string& url() const { return url_; }
  std::string db() const { return db_.empty() ? (dir_ / "collector.db").string() : db_; }
  std::string ca() const { return (dir_ / "tls/ca.crt").string(); }
  Child& child() { return *child_; }
  // Stops the collector (SIGKILL when `kill`, else SIGTERM) and starts it again on
  // the same port and database.
  void restart(bool kill);
  // The two halves of restart(): stop (SIGKILL when `kill`), later start again on the
  // same port and database.
  void stop(bool kill);
  void start();

  // `vigie-collector token create --role ROLE`: the secret.
  std::string token(const std::string& role);
  // `token(role)` written to a 0600 file in the test's folder.
  std::filesystem::path token_file(const std::string& role);
  // `vigie-collector enroll-token create --site SITE [--report-for SITES]`: the secret.
  std::string enroll_token(const std::string& site, const std::string& report_for = {});
  // Enrolls `agent` of `site` as an agent does: an enrollment token exchanged at
  // /api/v1/enroll. Returns the agent token.
  std::string enroll(const std::string& agent, const std::string& site);

  HttpReply get(const std::string& path, const std::string& token);
  // Any method, a JSON body (may be empty).
  HttpReply call(const std::string& method, const std::string& path, const std::string& token,
                 const std::string& body = {});
  HttpReply post(const std::string& path, const std::string& body, const std::string& token,
                 const std::vector<std::string>& headers = {"Content-Type: application/json"});

 private:
  const TempDir& dir_;
  std::vector<std::string> extra_;
  std::string db_;
  std::optional<Child> child_;
  int port_ = 0;
  std::string url_;
};

}  // namespace vigie::testing
