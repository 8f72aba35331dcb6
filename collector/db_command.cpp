#include "collector/db_command.hpp"

#include <iostream>
#include <string>

#include "collector/storage.hpp"
#include "common/log.hpp"

namespace vigie::collector {

const CommandHelp kDbHelp = {
    .synopsis = "vigie-collector db migrate --db PATH|CONNINFO",
    .about =
        R"(migrate: brings the database's schema to this collector's version, each step in one
transaction, and stops there: a collector run as a service may then be started with a
schema it knows. SQLite databases are migrated by the collector itself when it starts;
PostgreSQL ones too, and this command does it ahead (one collector of several, or a
deployment step). A schema newer than this collector knows is refused.
)",
    .options =
        R"(  --db PATH|CONNINFO    the database: a SQLite file, or a PostgreSQL connection string
                        (postgresql://USER@HOST/DB or "host=... dbname=..."); no password
                        there: libpq reads it from PGPASSFILE or passfile=
)",
};

namespace {

int fail(const Status& s, int code) {
  std::cerr << "vigie-collector: db: " << s.message() << "\n";
  return code;
}

}  // namespace

int db_command(const std::vector<std::string_view>& args) {
  const std::string usage = command_usage(kDbHelp);
  if (args.size() < 2) {
    std::cerr << "vigie-collector: db: missing sub-command\n\n" << usage;
    return 2;
  }
  const std::string_view verb = args[1];
  std::string db;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) {
      db = std::string(args[++i]);
    } else {
      std::cerr << "vigie-collector: db: unknown option \"" << args[i] << "\"\n\n" << usage;
      return 2;
    }
  }
  if (verb != "migrate") {
    std::cerr << "vigie-collector: db: unknown sub-command \"" << verb << "\"\n\n" << usage;
    return 2;
  }
  if (db.empty()) return fail(Status::invalid("migrate: which database? (--db)"), 2);
  if (is_postgres_database(db)) {
    if (Status s = migrate_postgres(db); !s) return fail(s, 1);
  } else {
    // Opening a SQLite database migrates it; nothing else runs.
    auto storage = open_sqlite_storage({.path = db});
    if (!storage) return fail(storage.status(), 1);
  }
  std::cerr << "database " << describe_database(db) << ": schema up to date\n";
  return 0;
}

}  // namespace vigie::collector
