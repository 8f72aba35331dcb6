#pragma once
// The packed forms of raw samples. A block's first byte names its encoding, so that
// blocks of every encoding live side by side in one table:
//
// 1, per report (what ingest writes: cheap to encode, one row per report): per sample,
//    series id (LEB128), timestamp minus the block's base (LEB128, ms), value (IEEE-754
//    double, 8 bytes little-endian). Samples keep the order they were added in.
//
// 2, per series (what compaction wrote, from many blocks of one agent): the series
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
//    Samples of a series with equal timestamps keep their order; the series' order is by
//    id. Compaction wrote this encoding until encoding 3 replaced it; it still decodes.
//
// 3, per series (what compaction writes): as 2, but each series' header is its id
//    minus the previous one, then its timestamp mode (LEB128):
//    - 0, shared: the same sample count and timestamps as the last series before it in
//      the block that has timestamps of its own (a check's metrics share its result's
//      time); nothing more in the header, no timestamps in the stream;
//    - 1, delta-of-delta; 2 + 2 * step (zigzag), delta minus the step: as in 2;
//    - 3 + 2 * step (zigzag), schedule: every timestamp against its slot on the series'
//      schedule, the first timestamp + i * step for the i-th sample (plus the shifts of
//      the escapes before it), as residual - lo
//      in w bits (a jitter of 0-7 ms: 3 bits), lo and w in the header; the all-ones
//      code is followed by a bit: 0, the residual lo + 2^w - 1; 1, an escape for a
//      sample off the schedule (a missed poll, a restart, equal or earlier timestamps):
//      the schedule's shift from then on (zigzag, in the timestamp buckets) and the
//      sample's residual - lo against the shifted schedule (zigzag, same buckets);
//    then, unless shared, the sample count, its first timestamp minus the first
//    timestamp of the last series with timestamps of its own (the first one: minus the
//    base; zigzag), for a schedule zigzag(lo) * 32 + w, all LEB128; then, as in 2, the
//    value mode, the first value, the stream's byte length and the stream. The value
//    modes are those of 2 and two more, decimals k / 10^d in a frame of reference:
//    - mode 15 + 2d, frame: each k after the first as k - lo in w bits, the all-ones
//      code followed by a bit as for the schedule (0: lo + 2^w - 1; 1: an escape and
//      k - lo in full, zigzag, in the decimal buckets);
//    - mode 16 + 2d, frame of deltas: the same with k's delta from the previous k (a
//      counter whose rate wavers);
//    their first value is the first k (zigzag) then zigzag(lo) * 64 + w (LEB128 both).
//    For each series the encoder keeps the cheapest timestamp mode (shared whenever
//    the times are the same) and the cheapest value mode.

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

// Encoding 3: `samples` in any order, any timestamps (base_ms is usually the smallest).
// Sorts `samples` by (series, timestamp), stably: decoding gives them in that order.
std::string encode_series_block(std::vector<Sample>& samples, std::int64_t base_ms);

// Decodes a block of any encoding; kCorruption when the bytes are not a block.
// Appends to `out` (so callers can gather many blocks into one vector).
Status decode_samples(std::string_view block, std::int64_t base_ms, std::vector<Sample>& out);
// The same, keeping only the samples of `series` (encodings 2 and 3 skip the others
// unread, but for the series whose timestamps a shared series reads).
Status decode_series(std::string_view block, std::int64_t base_ms, std::int64_t series,
                     std::vector<Sample>& out);

// Where the bits of per-series blocks (encodings 2 and 3) go, summed over blocks by
// measure_block: header fields in bytes, stream parts in bits. For measurements.
struct BlockBreakdown {
  // 0: XOR; 1 + 2d, 2 + 2d: decimal delta, delta-of-delta; 15 + 2d, 16 + 2d: frames.
  static constexpr int kValueModes = 29;
  static constexpr int kTimestampModes = 4;  // shared, delta-of-delta, step, schedule
  std::int64_t blocks = 0, block_bytes = 0, series = 0, samples = 0;
  std::int64_t block_head_bytes = 0;  // encoding byte and series count
  std::int64_t id_bytes = 0, count_bytes = 0, first_ts_bytes = 0, ts_mode_bytes = 0;
  std::int64_t value_mode_bytes = 0, first_value_bytes = 0, length_bytes = 0;
  std::int64_t padding_bits = 0;  // the end of each stream's last byte
  std::int64_t ts_series[kTimestampModes] = {}, ts_samples[kTimestampModes] = {};
  std::int64_t ts_bits[kTimestampModes] = {};
  std::int64_t value_series[kValueModes] = {}, value_samples[kValueModes] = {};
  std::int64_t value_bits[kValueModes] = {};
  std::int64_t other_blocks = 0, other_bytes = 0;  // encoding 1
};
// Adds `block`'s parts to `into`, decoding it.
Status measure_block(std::string_view block, BlockBreakdown& into);

// The encoding byte of a block (0 when empty).
inline int block_encoding(std::string_view block) {
  return block.empty() ? 0 : static_cast<unsigned char>(block.front());
}

}  // namespace vigie::collector
