#include "tests/support/postgres_database.hpp"

#include <catch2/catch.hpp>

#include "tests/support/collector_fixture.hpp"
#include "tests/support/peers.hpp"

namespace vigie::testing {

std::optional<PostgresDatabase> postgres_database(PostgresDatabaseOptions options) {
  auto& server = shared_postgres();
  if (!server.available()) {
    skip_test(Absent::kPackage, server.why());
    return std::nullopt;
  }
  const std::string name = server.create_database();
  {
    INFO(server.why());
    REQUIRE_FALSE(name.empty());
  }
  PostgresDatabase database{server, name, server.conninfo(name)};
  if (options.migrate) {
    auto migrated = run({VIGIE_COLLECTOR_BIN, "db", "migrate", "--db", database.conninfo});
    INFO(migrated.err);
    REQUIRE(migrated.exit_code == 0);
  }
  return database;
}

}  // namespace vigie::testing
