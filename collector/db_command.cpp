#include "collector/db_command.hpp"

#include <cstdio>
#include <iostream>
#include <string>

#include "collector/db_copy.hpp"

#include "collector/storage.hpp"
#include "common/log.hpp"

namespace vigie::collector {

const CommandHelp kDbHelp = {
    .synopsis =
        "vigie-collector db migrate --db PATH|CONNINFO\n"
        "vigie-collector db copy --from PATH --to CONNINFO",
    .about =
        R"(migrate: brings the database's schema to this collector's version, each step in one
transaction, and stops there: a collector run as a service may then be started with a
schema it knows. SQLite databases are migrated by the collector itself when it starts;
PostgreSQL ones too, and this command does it ahead (one collector of several, or a
deployment step). A schema newer than this collector knows is refused.

copy: moves a SQLite collector to PostgreSQL. Stop the collector first: the file is
read as it is when the copy starts. The target is migrated, then filled in one
transaction, only when it holds nothing yet: a copy that fails or is stopped leaves
it migrated and empty; run it again. The file must have this collector's schema (an older one:
db migrate it first). Progress and a summary (rows per table, seconds) on stderr.
)",
    .options =
        R"(  --db PATH|CONNINFO    the database: a SQLite file, or a PostgreSQL connection string
                        (postgresql://USER@HOST/DB or "host=... dbname=..."); no password
                        there: libpq reads it from PGPASSFILE or passfile=
  --from PATH           copy: the SQLite collector database to read
  --to CONNINFO         copy: the PostgreSQL database to fill (new, or migrated and
                        empty); no password there either
)",
};

namespace {

int fail(const Status& s, int code) {
  std::cerr << "vigie-collector: db: " << s.message() << "\n";
  return code;
}

int copy_command(const std::string& from, const std::string& to) {
  if (from.empty()) return fail(Status::invalid("copy: which SQLite database? (--from)"), 2);
  if (to.empty() || !is_postgres_database(to))
    return fail(Status::invalid("copy: which PostgreSQL database? (--to postgresql://...)"), 2);
  std::cerr << "db copy: " << from << " -> " << describe_database(to) << "\n";
  auto copied = copy_sqlite_to_postgres(
      from, to, [](const std::string& line) { std::cerr << "db copy: " << line << "\n"; });
  if (!copied) return fail(copied.status().with_context("copy"), 1);
  std::int64_t rows = 0;
  for (const auto& table : copied->tables) rows += table.rows;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", copied->seconds);
  std::cerr << "db copy: done in " << seconds << " s, " << rows << " rows:\n";
  for (const auto& table : copied->tables) {
    std::snprintf(seconds, sizeof seconds, "%.1f", table.seconds);
    std::cerr << "  " << table.name << ": " << table.rows << " (" << seconds << " s)\n";
  }
  return 0;
}

}  // namespace

int db_command(const std::vector<std::string_view>& args) {
  const std::string usage = command_usage(kDbHelp);
  if (args.size() < 2) {
    std::cerr << "vigie-collector: db: missing sub-command\n\n" << usage;
    return 2;
  }
  const std::string_view verb = args[1];
  std::string db, from, to;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) {
      db = std::string(args[++i]);
    } else if (args[i] == "--from" && i + 1 < args.size()) {
      from = std::string(args[++i]);
    } else if (args[i] == "--to" && i + 1 < args.size()) {
      to = std::string(args[++i]);
    } else {
      std::cerr << "vigie-collector: db: unknown option \"" << args[i] << "\"\n\n" << usage;
      return 2;
    }
  }
  if (verb == "copy") return copy_command(from, to);
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
