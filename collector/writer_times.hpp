#pragma once
// What a database writer spends its time on, for /metrics and the log: the length of
// its group commits and of the housekeeping slices it runs between them (reports wait
// while either runs), and what a slice did. A slice or a commit that takes kSlow or
// more is logged at notice with what it did, so that a stall of ingest can be set
// beside its cause.
//
// Threading: committed() and housekept() from the writer thread; the counts from any.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "collector/metrics.hpp"

namespace vigie::collector {

// What one housekeeping slice did and how long each part took (parts a backend does
// not have stay 0).
struct SliceWork {
  using Duration = std::chrono::steady_clock::duration;
  // Raw sample blocks rolled up into the tiers; on PostgreSQL, in picks of a few
  // agents' blocks each (rollup_agents in all, the longest pick longest_pick).
  std::int64_t blocks_rolled_up = 0;
  std::int64_t rollup_agents = 0;
  std::int64_t rollup_picks = 0;
  Duration longest_pick{};
  Duration rollup{};
  std::int64_t blocks_compacted = 0;  // SQLite
  Duration compaction{};
  std::int64_t packs_moved = 0;  // older tables' rollups moved into packs
  Duration move{};
  std::int64_t partitions_made = 0;  // PostgreSQL's daily partitions
  std::int64_t partitions_dropped = 0;
  Duration partitions{};
  std::int64_t rows_deleted = 0;  // retention's deletes (and replay guard folds)
  Duration retention{};

  // "rolled up 768 blocks of 64 agents in 1 pick (1.7 s, the longest pick 1.7 s),
  // deleted 2000 rows (0.1 s)", or "nothing to do".
  std::string describe() const;
};

class WriterTimes {
 public:
  static constexpr std::chrono::seconds kSlow{1};

  // A group of `jobs` committed (or failed) in `took`, from BEGIN to the end of COMMIT.
  void committed(std::chrono::steady_clock::duration took, std::size_t jobs);
  // A housekeeping slice ran in `took`, its transaction's BEGIN and COMMIT included.
  void housekept(std::chrono::steady_clock::duration took, const SliceWork& work);

  HistogramCounts commits() const { return commits_.counts(); }
  HistogramCounts housekeeping() const { return housekeeping_.counts(); }

 private:
  Histogram commits_;
  Histogram housekeeping_;
};

}  // namespace vigie::collector
