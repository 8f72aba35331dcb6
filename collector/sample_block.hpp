#pragma once
// The packed form of raw samples: all the samples of one stored report in one BLOB,
// so that ingest writes one row per report instead of one row per sample.
//
// Layout: a version byte (1), then per sample: series id (LEB128), timestamp minus the
// block's base (LEB128, ms), value (IEEE-754 double, 8 bytes little-endian). Samples
// keep the order they were added in.

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

// Encodes `samples`, whose timestamps must all be >= base_ms.
std::string encode_samples(const std::vector<Sample>& samples, std::int64_t base_ms);

// Decodes a block; kCorruption when the bytes are not a block of this layout.
// Appends to `out` (so callers can gather many blocks into one vector).
Status decode_samples(std::string_view block, std::int64_t base_ms, std::vector<Sample>& out);

}  // namespace vigie::collector
