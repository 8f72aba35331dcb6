#pragma once
// `vigie-collector db copy`: a SQLite collector's database moved into PostgreSQL.
//
// The source is read in one SQLite read transaction (one snapshot), opened read-only;
// its schema must be this collector's (an older one is refused: `db migrate` it first,
// a copy of it if it must stay as it is; a newer one is refused: upgrade). The target is
// migrated to this collector's PostgreSQL schema, then filled in ONE transaction, under
// an advisory lock, only when it holds nothing a collector wrote: a copy that fails or
// is killed leaves it empty (migrated, no row of the copy), and is simply run again.
//
// Rows keep their ids (agents, checks, series, events, downtimes, tokens...), so that
// the sample blocks' series ids, the events' cursor and the agents' last seq mean the
// same; every sequence of a table filled is set past the largest id copied. Raw sample
// blocks are copied as they are (every encoding reads on both backends), each into the
// daily partition of its day (made for the days the blocks span); those the source had
// not rolled up yet are queued for PostgreSQL's rollups. The tiers, a blob per series
// and span in SQLite, become a row per bucket (read through RollupReader, so that a
// database still moving its schema 9 rows reads whole).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace vigie::collector {

struct CopySummary {
  struct Table {
    std::string name;
    std::int64_t rows = 0;
    double seconds = 0;  // reading, converting and sending them
  };
  std::vector<Table> tables;  // in the order they were copied
  double seconds = 0;         // from start to end (ANALYZE included)
};

// Copies `from` (a SQLite collector database) into `to` (a PostgreSQL connection
// string without a password). `progress` hears a line at each table and every few
// seconds within a large one. kFailedPrecondition for a target that is not empty or a
// source of another schema version; the target is then untouched.
Result<CopySummary> copy_sqlite_to_postgres(
    const std::filesystem::path& from, const std::string& to,
    const std::function<void(const std::string&)>& progress);

}  // namespace vigie::collector
