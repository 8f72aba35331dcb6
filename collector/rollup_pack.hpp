#pragma once
// A tier's buckets of one agent over one span of time: the rollup blocks
// (rollup_block.hpp) of every series of the agent that has buckets in the span, in one
// blob, so that a tier costs a row per agent and span rather than per series and span
// (a row's key, its index entries and its page's free space cost more than a day of a
// series' hourly buckets).
//
// Layout: a byte naming the format (1), the number of series, then for each series in
// ascending id the id's step from the previous one (the first: the id) and its block's
// length, then the blocks in the same order; numbers are LEB128. The directory comes
// first so that a reader finds one series' block from the pack's first bytes and then
// reads only that block (sqlite::BlobReader): a report reading a few series of an agent
// does not read every series' buckets.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace vigie::collector {

// One series' place in a pack: its block is pack.substr(offset, length).
struct PackEntry {
  std::int64_t series = 0;
  std::size_t offset = 0;
  std::size_t length = 0;
};

// The directory of a pack of `size` bytes, from its first bytes (`head`: the whole
// pack, or as many as pack_directory_bytes says hold its directory). kCorruption when
// they are no pack's: an unknown format, series not ascending, blocks that do not end
// exactly at `size`, a directory longer than `head`.
Status parse_pack(std::string_view head, std::size_t size, std::vector<PackEntry>& out);

// How many of a pack's first bytes to read so that they hold its directory, given its
// first `head` bytes (at least the format byte and the series count; 11 is enough):
// nullopt when those are no pack's.
std::optional<std::size_t> pack_directory_bytes(std::string_view head, std::size_t size);

// The entry of `series` in `entries` (ascending), or nullptr.
const PackEntry* find_in_pack(const std::vector<PackEntry>& entries, std::int64_t series);

// Builds packs: add() blocks in ascending series order, then take().
class PackBuilder {
 public:
  // A series' block, its bytes copied. Series ids must ascend and be >= 0; empty
  // blocks are not added.
  void add(std::int64_t series, std::string_view block);
  bool empty() const { return series_.empty(); }
  // The pack; the builder is empty afterwards.
  std::string take();

 private:
  std::vector<std::int64_t> series_;
  std::vector<std::size_t> lengths_;
  std::string blocks_;
};

}  // namespace vigie::collector
