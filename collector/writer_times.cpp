#include "collector/writer_times.hpp"

#include <cstdio>
#include <vector>

#include "common/log.hpp"

namespace vigie::collector {
namespace {

using Duration = std::chrono::steady_clock::duration;

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::string seconds_text(Duration d) {
  char buffer[32];
  const double s = seconds(d);
  if (s < 1) std::snprintf(buffer, sizeof buffer, "%.0f ms", s * 1000);
  else std::snprintf(buffer, sizeof buffer, "%.1f s", s);
  return buffer;
}

std::string counted(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string SliceWork::describe() const {
  std::vector<std::string> parts;
  if (blocks_rolled_up > 0 || rollup_picks > 0) {
    std::string p = "rolled up " + counted(blocks_rolled_up, "block", "blocks");
    if (rollup_picks > 0) {
      p += " of " + counted(rollup_agents, "agent", "agents") + " in " +
           counted(rollup_picks, "pick", "picks") + " (" + seconds_text(rollup) +
           ", the longest pick " + seconds_text(longest_pick) + ")";
    } else {
      p += " (" + seconds_text(rollup) + ")";
    }
    parts.push_back(std::move(p));
  }
  if (blocks_compacted > 0)
    parts.push_back("compacted " + counted(blocks_compacted, "block", "blocks") + " (" +
                    seconds_text(compaction) + ")");
  if (packs_moved > 0)
    parts.push_back("moved " + counted(packs_moved, "pack", "packs") + " of older rollups (" +
                    seconds_text(move) + ")");
  if (partitions_made > 0 || partitions_dropped > 0)
    parts.push_back("made " + std::to_string(partitions_made) + " and dropped " +
                    counted(partitions_dropped, "partition", "partitions") + " (" +
                    seconds_text(partitions) + ")");
  if (rows_deleted > 0)
    parts.push_back("deleted " + counted(rows_deleted, "row", "rows") + " (" +
                    seconds_text(retention) + ")");
  if (parts.empty()) return "nothing to do";
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

void WriterTimes::committed(Duration took, std::size_t jobs) {
  commits_.observe(seconds(took));
  if (took >= kSlow)
    log::notice("storage: a commit of " + counted(static_cast<std::int64_t>(jobs), "job", "jobs") +
                " took " + seconds_text(took));
}

void WriterTimes::housekept(Duration took, const SliceWork& work) {
  housekeeping_.observe(seconds(took));
  if (took >= kSlow)
    log::notice("storage: housekeeping slice took " + seconds_text(took) + ": " + work.describe());
}

}  // namespace vigie::collector
