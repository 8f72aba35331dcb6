#pragma once
// The packed forms of raw samples. A block's first byte names its encoding, so that
// blocks of every encoding live side by side in one table:
//
// 1, per report (what ingest writes: cheap to encode, one row per report): per sample,
//    series id (LEB128), timestamp minus the block's base (LEB128, ms), value (IEEE-754
//    double, 8 bytes little-endian). Samples keep the order they were added in.
//
// 2, per series (what compaction writes, from many blocks of one agent): the series
//    count (LEB128), then for each series in ascending id order its id minus the
//    previous one, its sample count, its first timestamp minus the base (zigzag), the
//    timestamp mode (0: delta-of-delta; else 1 + a step, zigzag), the value mode
//    (below), the first value, and the byte length of a bit stream (all LEB128)
//    followed by that stream. The stream holds every later sample in time order: its
//    timestamp's delta minus the previous delta (delta-of-delta, as in Gorilla) or
//    minus the step (a series that keeps to its schedule with some jitter), zigzag, in
//    buckets widened for milliseconds ('0'; '10' + 4 bits; '110' + 8; '1110' + 14;
//    '11110' + 20; '11111' + 64), then its value:
//    - mode 0, XOR: the value's bits XOR the previous value's, as in Facebook's Gorilla
//      paper ('0' same; '10' + the meaningful bits in the previous window; '11' + 5 bits
//      of leading zeros, 6 bits of length - 1, the bits); the first value is 8 bytes.
//    - mode 1 + 2d (d = 0..6), decimal delta: every value of the series is k / 10^d
//      for an integer k (|k| < 2^53) and reads back exactly so; k's delta from the
//      previous k (zigzag) in the buckets '0'; '10' + 6 bits; '110' + 12; '1110' + 20;
//      '11110' + 32; '11111' + 64; the first k is a zigzag LEB128.
//    - mode 2 + 2d, decimal delta-of-delta: the same with the delta's change (counters).
//    The encoder tries the modes that apply and keeps the shortest. Samples of a series
//    with equal timestamps keep their order; the series' order is by id.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace vigie::collector {

struct Sample {
  std::int64_t series = 0;
  std::int64_t ts_ms = 0;
  double value = 0;
  bool operator==(const Sample&) const = default;
};

// Encoding 1: `samples`, whose timestamps must all be >= base_ms.
std::string encode_samples(const std::vector<Sample>& samples, std::int64_t base_ms);

// Encoding 2: `samples` in any order, any timestamps (base_ms is usually the smallest).
// Sorts `samples` by (series, timestamp), stably: decoding gives them in that order.
std::string encode_series_block(std::vector<Sample>& samples, std::int64_t base_ms);

// Decodes a block of any encoding; kCorruption when the bytes are not a block.
// Appends to `out` (so callers can gather many blocks into one vector).
Status decode_samples(std::string_view block, std::int64_t base_ms, std::vector<Sample>& out);
// The same, keeping only the samples of `series` (encoding 2 skips the others unread).
Status decode_series(std::string_view block, std::int64_t base_ms, std::int64_t series,
                     std::vector<Sample>& out);

// The encoding byte of a block (0 when empty).
inline int block_encoding(std::string_view block) {
  return block.empty() ? 0 : static_cast<unsigned char>(block.front());
}

}  // namespace vigie::collector
