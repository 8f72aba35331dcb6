#pragma once
// The packed form of a tier's buckets: one blob holds the buckets of one series over one
// span of time (rollup_span), so that a tier costs a row per series and span instead of
// a row per bucket. Its first byte names its encoding (1 or 2), then, all LEB128:
//
// - the first bucket's slot (its start minus the span's, in bucket widths), the number
//   of slots from the first bucket to the last, and the number of buckets; when buckets
//   are missing in between, a bitmap of the slots follows (1: a bucket), ceil(slots / 8)
//   bytes, least significant bit first. Bucket times are thus implied by the width.
// - encoding 2 only: 0 when the columns follow as in encoding 1; else d + 1, when every
//   min, max and sum is k / 10^d for an integer k (|k| < 2^53, d = 0..6), and the four
//   columns are integers (below).
// - encoding 1 (and 2 with 0): four columns, in this order: each bucket's count n, min,
//   max and sum. A column is a mode, then its values:
//   - 127 (max and sum only): the same values as the min column; nothing follows.
//   - + 64 (constant): every value is the first; nothing follows it.
//   - 0, XOR: the first value's 8 bytes (IEEE-754, little-endian), then a bit stream
//     (its byte length, then the bytes) of every later value XORed with the previous one,
//     as in Facebook's Gorilla paper ('0' same; '10' + the meaningful bits in the
//     previous window; '11' + 5 bits of leading zeros, 6 bits of length - 1, the bits).
//   - 1 + 2d (d = 0..6), decimal delta: every value is k / 10^d for an integer k
//     (|k| < 2^53) and reads back exactly so: the first k (zigzag), then a bit stream of
//     each k's change from the previous (zigzag) in the buckets '0'; '10' + 6 bits;
//     '110' + 12; '1110' + 20; '11110' + 32; '11111' + 64.
//   - 2 + 2d, decimal delta-of-delta: the same with the change's change (counters).
//   The encoder tries those that apply and keeps the shortest.
// - encoding 2's integer columns, n then the k's of min, max and sum: a mode, + 8 when
//   the column is relative (not n), the first x (zigzag), then for modes 3 and 4 a frame
//   (zigzag(lo) * 64 + w), then, unless constant, a bit stream (its byte length, then the
//   bytes) of every later x: 0, constant; 1, x's change (zigzag, in the buckets above);
//   2, the change's change; 3, x in the frame: x - lo in w bits, the all-ones code
//   followed by a bit (0: lo + 2^w - 1; 1: an escape and x - lo, zigzag, in the
//   buckets); 4, x's change in the frame. A relative column's x is, for a bucket's min,
//   its k minus the k of the previous bucket's max (the first bucket's: its k; a
//   counter's min is one step on from the max before it); for its max, minus its min's
//   k (the bucket's spread); for its sum, minus n times its min's k (all modulo 2^64).
//   The encoder computes each column's cost absolute and relative for constant, deltas
//   and delta-of-delta, and searches a frame for the one sequence (of x's or of their
//   changes) whose middle 90 % is narrowest; it keeps the cheapest.
//
// Every value reads back bit for bit: a sum stored as a decimal is one that is exactly
// k / 10^d (sum_exactly keeps the sums of decimals so).

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace vigie::collector {

struct RollupBucket {
  std::int64_t ts_ms = 0;  // the bucket's start
  double min = 0;
  double max = 0;
  double sum = 0;
  std::int64_t n = 0;  // samples in the bucket, >= 1
  bool operator==(const RollupBucket&) const = default;
};

// The start of the bucket of `width` ms that holds `ts`: floor, also before 1970.
inline std::int64_t bucket_of(std::int64_t ts, std::int64_t width) {
  const std::int64_t b = ts / width * width;
  return ts < 0 && b != ts ? b - width : b;
}

// a + b, exactly when both are decimals of at most 6 places (k / 10^6 with |k| < 2^53)
// and so is their sum: the double nearest the true sum, so that sums of decimal samples
// stay decimals (which the encoding above stores in a few bits). Otherwise a + b.
double sum_exactly(double a, double b);

// What a bucket keeps of its samples while they are gathered.
struct Aggregate {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  std::int64_t n = 0;
  void add(double v, std::int64_t count = 1) {
    min = std::min(min, v);
    max = std::max(max, v);
    sum = sum_exactly(sum, v * static_cast<double>(count));
    n += count;
  }
};

// Adds a bucket's aggregate into `into` (min, max, n added, the sum exactly).
void merge_bucket(RollupBucket& into, const RollupBucket& add);
// Merges `add` into `into`, both ascending with each bucket once: a bucket of both
// becomes one (merge_bucket), the others keep their order.
void merge_buckets(std::vector<RollupBucket>& into, const std::vector<RollupBucket>& add);
// Adds one sample to the bucket of `width` that holds it, in `buckets` by start.
void add_sample(std::map<std::int64_t, RollupBucket>& buckets, std::int64_t width,
                std::int64_t ts_ms, double value);

// The span of time one blob of a tier covers: a day of 5-minute buckets, a week of
// hourly ones, 128 days of daily ones (a tier of another width: 256 buckets).
std::int64_t rollup_span(std::int64_t width_ms);

// `buckets` in ascending time, each at start_ms + i * width_ms for a distinct i in
// [0, span / width), n >= 1; at least one.
std::string encode_rollups(const std::vector<RollupBucket>& buckets, std::int64_t start_ms,
                           std::int64_t width_ms);

// Appends the buckets of `block` to `out` in ascending time; kCorruption when the bytes
// are not such a block (nothing appended then).
Status decode_rollups(std::string_view block, std::int64_t start_ms, std::int64_t width_ms,
                      std::vector<RollupBucket>& out);

}  // namespace vigie::collector
