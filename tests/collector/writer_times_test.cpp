#include "collector/writer_times.hpp"

#include <catch2/catch.hpp>

namespace vigie::collector {
namespace {

using std::chrono::milliseconds;

TEST_CASE("WriterTimes: a slice says what it did and how long each part took", "[writer]") {
  SliceWork work;
  CHECK(work.describe() == "nothing to do");
  work.blocks_rolled_up = 768;
  work.rollup_agents = 64;
  work.rollup_picks = 1;
  work.rollup = milliseconds(1700);
  work.longest_pick = milliseconds(1700);
  work.rows_deleted = 2000;
  work.retention = milliseconds(120);
  CHECK(work.describe() ==
        "rolled up 768 blocks of 64 agents in 1 pick (1.7 s, the longest pick 1.7 s), "
        "deleted 2000 rows (120 ms)");
  SliceWork sqlite;
  sqlite.blocks_rolled_up = 256;
  sqlite.rollup = milliseconds(30);
  sqlite.blocks_compacted = 16;
  sqlite.compaction = milliseconds(4);
  CHECK(sqlite.describe() == "rolled up 256 blocks (30 ms), compacted 16 blocks (4 ms)");
}

TEST_CASE("WriterTimes: commits and slices land in their histograms", "[writer]") {
  WriterTimes times;
  times.committed(milliseconds(3), 12);
  times.committed(milliseconds(40), 64);
  times.housekept(milliseconds(1500), SliceWork{});
  const HistogramCounts commits = times.commits();
  CHECK(commits.count == 2);
  CHECK(commits.buckets[2] == 1);  // (2.5 ms, 5 ms]
  CHECK(commits.buckets[5] == 1);  // (25 ms, 50 ms]
  CHECK(commits.sum == Approx(0.043));
  const HistogramCounts slices = times.housekeeping();
  CHECK(slices.count == 1);
  CHECK(slices.buckets[10] == 1);  // (1 s, 2.5 s]
  std::string out;
  append_histogram(out, "vigie_housekeeping_seconds", "Slices.", slices);
  CHECK_THAT(out, Catch::Contains("# TYPE vigie_housekeeping_seconds histogram\n"));
  CHECK_THAT(out, Catch::Contains("vigie_housekeeping_seconds_bucket{le=\"1\"} 0\n"));
  CHECK_THAT(out, Catch::Contains("vigie_housekeeping_seconds_bucket{le=\"2.5\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("vigie_housekeeping_seconds_count 1\n"));
}

}  // namespace
}  // namespace vigie::collector
