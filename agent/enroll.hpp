#pragma once
// `vigie-agent enroll`: exchanges a one-time enrollment token for the agent's own
// token at the collector (POST /api/v1/enroll, docs/protocol.md) and writes it to the
// token file, mode 0600, atomically (a half-written token never exists on disk).

#include <span>
#include <string>

#include "common/status.hpp"

namespace vigie::agent {

struct EnrollOptions {
  std::string url;           // collector base URL
  std::string ca_file;       // CA the collector's certificate must chain to; "": system
  std::string client_cert;   // PEM client certificate and key, when the collector asks
  std::string client_key;    // for one (from the configuration only)
  std::string token_file;    // where the agent token goes
  std::string enroll_token;  // the one-time secret ("vge_...")
  std::string agent_id;
  std::string site;
};

// Enrolls and writes the token; the message of an error says what the collector
// answered or which file could not be written.
Status enroll(const EnrollOptions& options);

// The command line: `enroll [--config F] [--collector URL] [--ca-file F]
// [--token-file F] [--agent-id ID] [--site S] (--enroll-token T | --enroll-token-file F)`.
// Values missing from the command line come from the configuration file when it is
// given (or exists at the default path). Returns the exit code.
int enroll_command(std::span<char* const> args);

}  // namespace vigie::agent
