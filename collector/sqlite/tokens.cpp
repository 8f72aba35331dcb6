#include "collector/sqlite/tokens.hpp"

#include <sqlite3.h>

#include "common/sqlite.hpp"

namespace vigie::collector {
namespace {

using sqlite::Statement;

constexpr const char* kTokenColumns =
    "SELECT id, role, agent, site, label, created_ms, expires_ms, used_ms, revoked_ms,"
    " report_for"
    " FROM tokens";

TokenRecord token_from_row(const Statement& row) {
  TokenRecord t;
  t.id = row.int64(0);
  t.role = role_from_name(row.text(1)).value_or(Role::kViewer);
  t.agent = row.text(2);
  t.site = row.text(3);
  t.label = row.text(4);
  t.created_ms = row.int64(5);
  t.expires_ms = row.int64(6);
  t.used_ms = row.int64(7);
  t.revoked_ms = row.int64(8);
  t.report_for = row.text(9);
  return t;
}

// Runs kTokenColumns + `where` with `bind` applied and collects every row as a token.
Result<std::vector<TokenRecord>> select_tokens(sqlite3* db, const char* where,
                                               const std::function<void(Statement&)>& bind) {
  auto stmt = Statement::prepare(db, std::string(kTokenColumns) + where);
  if (!stmt) return stmt.status();
  bind(*stmt);
  std::vector<TokenRecord> tokens;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) tokens.push_back(token_from_row(*stmt));
  if (rc != SQLITE_DONE) return sqlite::error(db, "read tokens");
  return tokens;
}

// The enrollment token of `e`, if it may still be exchanged for site `e.site`.
Result<TokenRecord> usable_enrollment_token(sqlite3* db, const Enrollment& e) {
  auto found = select_tokens(db, " WHERE hash = ?1 AND role = 'enroll'",
                             [&](Statement& st) { st.bind(1, e.enroll_hash); });
  if (!found) return found.status();
  if (found->empty()) return Status(Code::kUnauthenticated, "unknown enrollment token");
  const TokenRecord& token = found->front();
  if (token.revoked_ms != 0) return Status(Code::kPermissionDenied, "enrollment token revoked");
  if (token.used_ms != 0)
    return Status(Code::kPermissionDenied,
                  "enrollment token already used (by agent \"" + token.agent + "\")");
  if (token.expires_ms != 0 && token.expires_ms <= e.now_ms)
    return Status(Code::kPermissionDenied, "enrollment token expired");
  if (!token.agent.empty() && token.agent != e.agent)
    return Status(Code::kPermissionDenied,
                  "enrollment token is for agent \"" + token.agent + "\", not \"" + e.agent + "\"");
  if (!e.site.empty() && e.site != token.site)
    return Status(Code::kPermissionDenied,
                  "enrollment token is for site \"" + token.site + "\", not \"" + e.site + "\"");
  return token;
}

}  // namespace

Result<std::int64_t> insert_token_row(sqlite3* db, const TokenRecord& t, const std::string& hash) {
  auto stmt = Statement::prepare(
      db,
      "INSERT INTO tokens (hash, role, agent, site, label, created_ms, expires_ms, report_for)"
      " VALUES (?1,?2,?3,?4,?5,?6,?7,?8) RETURNING id");
  if (!stmt) return stmt.status();
  stmt->bind(1, hash)
      .bind(2, role_name(t.role))
      .bind(3, t.agent)
      .bind(4, t.site)
      .bind(5, t.label)
      .bind(6, t.created_ms)
      .bind(7, t.expires_ms)
      .bind(8, t.report_for);
  if (stmt->step() != SQLITE_ROW) return sqlite::error(db, "store token");
  return stmt->int64(0);
}

Result<TokenRecord> read_token(sqlite3* db, const std::string& hash) {
  auto tokens = select_tokens(db, " WHERE hash = ?1", [&](Statement& st) { st.bind(1, hash); });
  if (!tokens) return tokens.status();
  if (tokens->empty()) return Status::not_found("no such token");
  return tokens->front();
}

Result<std::vector<TokenRecord>> read_tokens(sqlite3* db) {
  return select_tokens(db, " ORDER BY id", [](Statement&) {});
}

Status revoke_token_row(sqlite3* db, std::int64_t id, std::int64_t now_ms) {
  auto found = select_tokens(db, " WHERE id = ?1", [&](Statement& st) { st.bind(1, id); });
  if (!found) return found.status();
  if (found->empty()) return Status::not_found("no token with id " + std::to_string(id));
  return sqlite::exec(db, "UPDATE tokens SET revoked_ms = ?1 WHERE id = ?2 AND revoked_ms = 0",
                      [&](Statement& st) { st.bind(1, now_ms).bind(2, id); });
}

Result<TokenRecord> enroll_agent(sqlite3* db, const Enrollment& e) {
  auto token = usable_enrollment_token(db, e);
  if (!token) return token.status();
  // An agent id belongs to one site: a token for site A cannot take over B's agent.
  auto owner = select_tokens(db, " WHERE role = 'agent' AND agent = ?1 AND site != ?2",
                             [&](Statement& st) { st.bind(1, e.agent).bind(2, token->site); });
  if (!owner) return owner.status();
  if (!owner->empty())
    return Status(Code::kAlreadyExists,
                  "agent id \"" + e.agent + "\" belongs to site \"" + owner->front().site + "\"");

  Status u = sqlite::exec(
      db, "UPDATE tokens SET used_ms = ?1, agent = ?2 WHERE id = ?3",
      [&](Statement& st) { st.bind(1, e.now_ms).bind(2, e.agent).bind(3, token->id); });
  if (!u) return u;
  // A re-installed agent enrolls again: its older tokens stop working.
  u = sqlite::exec(db,
                   "UPDATE tokens SET revoked_ms = ?1"
                   " WHERE role = 'agent' AND agent = ?2 AND revoked_ms = 0",
                   [&](Statement& st) { st.bind(1, e.now_ms).bind(2, e.agent); });
  if (!u) return u;
  TokenRecord issued;
  issued.role = Role::kAgent;
  issued.agent = e.agent;
  issued.site = token->site;
  issued.label = "enrolled with token " + std::to_string(token->id);
  issued.report_for = token->report_for;  // a central poller's right goes with it
  issued.created_ms = e.now_ms;
  auto id = insert_token_row(db, issued, e.agent_token_hash);
  if (!id) return id.status();
  issued.id = *id;
  return issued;
}

}  // namespace vigie::collector
