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
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "collector/rollup_block.hpp"
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

// One series' part of a pack's rewrite: its buckets in the span, ascending, or when
// `block` is not empty, them encoded (a rollup block of the span, as an older row held
// it).
struct PackPart {
  std::int64_t series = 0;
  std::vector<RollupBucket> buckets;
  std::string_view block;
};

// The packs a rewrite touches, (tier, agent, span start), each with its parts in
// ascending series.
using PackKey = std::tuple<std::int64_t, std::int64_t, std::int64_t>;
using PackParts = std::map<PackKey, std::vector<PackPart>>;

// Adds a series' buckets (ascending, of one tier) to the parts of the packs of their
// spans. Series must be added in ascending order within each pack.
void add_to_packs(PackParts& packs, std::int64_t tier, std::int64_t agent, std::int64_t series,
                  const std::vector<RollupBucket>& buckets);

// Rewrites packs, whatever stores them: what a pack of (tier, span) holds with parts
// merged into it or replacing what it held of their series. A damaged stored pack or
// part is logged with `where` (the agent, tier and span) and left out: what it held is
// lost either way, and the rest is written.
class PackMerger {
 public:
  enum class Mode {
    kMerge,    // a part's buckets join those the pack holds (late samples add up)
    kReplace,  // a part's buckets are the series' buckets in the span (none: removed)
  };
  // The new pack from `stored` (a pack's bytes, empty when there is none) and `parts`
  // (ascending, distinct series): empty when no series has buckets left.
  std::string merge(std::string_view stored, std::int64_t tier, std::int64_t span_start,
                    const std::vector<PackPart>& parts, Mode mode, std::string_view where);

 private:
  // The part's buckets into added_, decoded from its block if it has one.
  Status take_part(const PackPart& part, std::int64_t tier, std::int64_t span_start);
  std::string encoded_;
  std::vector<PackEntry> entries_;
  std::vector<RollupBucket> stored_, added_;
  PackBuilder builder_;
};

}  // namespace vigie::collector
