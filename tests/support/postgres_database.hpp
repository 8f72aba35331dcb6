#pragma once
// The opening of a test on PostgreSQL: a fresh database of the test program's server
// (shared_postgres()), or a skip with the reason when PostgreSQL cannot run here.
//
//   auto postgres = testing::postgres_database({.migrate = true});
//   if (!postgres) return;  // skipped, with a warning that says why (tests/support/peers.hpp)
//   auto& [server, db, conninfo] = *postgres;

#include <optional>
#include <string>

#include "tests/support/postgres_server.hpp"

namespace vigie::testing {

struct PostgresDatabase {
  PostgresServer& server;  // shared_postgres()
  std::string name;        // the database's name, as server.psql() takes it
  std::string conninfo;    // server.conninfo(name): over the Unix socket, no password
};

struct PostgresDatabaseOptions {
  // Migrate it first with `vigie-collector db migrate --db <conninfo>`, as an
  // administrator would (default: left empty).
  bool migrate = false;
};

// When the server is not available (PostgreSQL not installed, or it did not start),
// warns "skipped: <why>" and returns nullopt: the test then returns; under
// VIGIE_REQUIRE_PEERS=1 the test fails there instead (skip_test, a package: scripts/bootstrap
// installs PostgreSQL and a server that does not start is a broken machine). Otherwise creates
// a database; the test fails (REQUIRE) when it cannot be created, or, with `migrate`,
// when `db migrate` does not exit 0 (its standard error shown).
std::optional<PostgresDatabase> postgres_database(PostgresDatabaseOptions options = {});

}  // namespace vigie::testing
