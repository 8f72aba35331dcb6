#pragma once
// Where tokens are kept: only their hash (tokens.hpp), with what each one allows.
// Storage is a TokenStore (storage.hpp): the SQLite backend keeps tokens in the
// collector's database (sqlite/tokens.cpp).
//
// Threading: any thread. Writes go through the storage's writer and wait for their
// commit: call them from a worker or a command-line thread, never from an I/O thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collector/tokens.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// A stored token, without its secret.
struct TokenRecord {
  std::int64_t id = 0;
  Role role = Role::kViewer;
  // Agent tokens: the agent id it may report for. Enrollment tokens: the agent id it
  // may enroll ("" any agent of its site), and once used, the agent that used it.
  std::string agent;
  std::string site;   // agent and enrollment tokens: the site
  std::string label;  // free text: who or what holds it
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;  // 0: never
  std::int64_t used_ms = 0;     // enrollment tokens: when exchanged, 0 if not yet
  std::int64_t revoked_ms = 0;  // 0: valid
  // Agent and enrollment tokens: the other sites whose results the agent may file
  // (`results[].site`): "" none (the agent's own site only), "*" any site, else a comma
  // list of site names. An agent token inherits its enrollment token's.
  std::string report_for;
};

// An agent asking to exchange an enrollment token for its own token.
struct Enrollment {
  std::string enroll_hash;       // hash_secret() of the enrollment token
  std::string agent;             // the agent id it will report as
  std::string site;              // "" or the site the agent believes it is on
  std::string agent_token_hash;  // hash of the new agent token
  std::int64_t now_ms = 0;
};

// Whether an agent holding `token` may file a result under `site` (its own site
// always).
bool may_report_for(const TokenRecord& token, std::string_view site);
// Checks a --report-for value: "*" or a comma list of site names (same rules as
// agent.site); returns it normalised (no blanks, no repeats, in the order given).
Result<std::string> parse_report_for(std::string_view text);

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // Stores a new token under `hash`; returns its id.
  virtual Result<std::int64_t> add_token(const TokenRecord& record, const std::string& hash) = 0;
  // Stores every token of `tokens` (a record and the hash of its secret) in one
  // transaction: all of them or, on an error, none. Returns their ids, in order.
  virtual Result<std::vector<std::int64_t>> add_tokens(
      const std::vector<std::pair<TokenRecord, std::string>>& tokens) = 0;
  // The token whose secret hashes to `hash` (revoked ones included); kNotFound if none.
  virtual Result<TokenRecord> find_token(const std::string& hash) = 0;
  virtual Result<std::vector<TokenRecord>> list_tokens() = 0;
  // kNotFound for an unknown id. Revoking twice keeps the first time.
  virtual Status revoke_token(std::int64_t id, std::int64_t now_ms) = 0;
  // Checks the enrollment token (exists, not used, not expired, not revoked, same
  // site, and the same agent id when the token names one), marks it used, revokes the agent's
  // earlier tokens and stores the new agent token, all in one transaction. Returns the agent
  // token's record. kUnauthenticated: unknown token; kPermissionDenied: used, expired, revoked, or
  // for another site; kAlreadyExists: the agent id belongs to another site.
  virtual Result<TokenRecord> enroll(const Enrollment& enrollment) = 0;
};

}  // namespace vigie::collector
