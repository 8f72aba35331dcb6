#pragma once
// The tokens table of the collector database (TokenStore's SQLite side). Reads run on
// any connection; writes on the writer's, inside its transaction.

#include <cstdint>
#include <string>
#include <vector>

#include "collector/token_store.hpp"
#include "common/status.hpp"

struct sqlite3;

namespace vigie::collector {

// Stores a new token under `hash`; returns its id.
Result<std::int64_t> insert_token_row(sqlite3* db, const TokenRecord& token,
                                      const std::string& hash);
// kNotFound "no such token".
Result<TokenRecord> read_token(sqlite3* db, const std::string& hash);
// Every token, by id.
Result<std::vector<TokenRecord>> read_tokens(sqlite3* db);
// kNotFound for an unknown id; a token revoked already keeps its first time.
Status revoke_token_row(sqlite3* db, std::int64_t id, std::int64_t now_ms);
// The writes of TokenStore::enroll, with its checks and errors.
Result<TokenRecord> enroll_agent(sqlite3* db, const Enrollment& enrollment);

}  // namespace vigie::collector
