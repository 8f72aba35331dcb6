// Which backend a --db value names (storage.hpp).

#include "collector/storage.hpp"

#include "collector/postgres/pq.hpp"

namespace vigie::collector {

Result<std::unique_ptr<Storage>> open_storage(const std::string& db, SqliteOptions tuning) {
  if (is_postgres_database(db)) {
    return open_postgres_storage({.conninfo = db,
                                  .max_batch_reports = tuning.max_batch_reports,
                                  .max_queued_reports = tuning.max_queued_reports,
                                  .retention = tuning.retention,
                                  .housekeeping_every = tuning.housekeeping_every,
                                  .housekeeping_budget = tuning.housekeeping_budget,
                                  .now_ms = tuning.now_ms,
                                  .max_series_per_agent = tuning.max_series_per_agent,
                                  .day_zone = tuning.day_zone});
  }
  tuning.path = db;
  return open_sqlite_storage(tuning);
}

Result<std::unique_ptr<HistoryReader>> open_reader(const std::string& db) {
  if (is_postgres_database(db)) return open_postgres_reader(db);
  return open_sqlite_reader(db);
}

std::string describe_database(const std::string& db) {
  return is_postgres_database(db) ? pq::describe(db) : db;
}

}  // namespace vigie::collector
