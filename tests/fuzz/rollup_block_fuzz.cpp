// libFuzzer target: the rollup block decoder (collector/rollup_block.hpp), which reads
// the tiers the database holds. Whatever the bytes: no crash, no undefined behaviour, no
// endless read; what decodes re-encodes to a block that decodes to the same buckets,
// every value bit for bit.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "collector/rollup_block.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

bool same(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace c = vigie::collector;
  // The first 8 bytes are the span's start, the next one the tier, the rest the block.
  std::int64_t start = 0;
  if (size >= sizeof start) {
    std::memcpy(&start, data, sizeof start);
    data += sizeof start;
    size -= sizeof start;
  }
  constexpr std::int64_t kWidths[] = {300'000, 3'600'000, 86'400'000, 1};
  std::int64_t width = kWidths[0];
  if (size >= 1) {
    width = kWidths[data[0] % 4];
    ++data;
    --size;
  }
  const std::string_view block(reinterpret_cast<const char*>(data), size);
  std::vector<c::RollupBucket> buckets;
  if (!c::decode_rollups(block, start, width, buckets)) {
    VIGIE_FUZZ_CHECK(buckets.empty());
    return 0;
  }
  VIGIE_FUZZ_CHECK(!buckets.empty() && buckets.size() <= size * 8 + 8);
  const std::string again = c::encode_rollups(buckets, start, width);
  std::vector<c::RollupBucket> decoded;
  VIGIE_FUZZ_CHECK(c::decode_rollups(again, start, width, decoded));
  VIGIE_FUZZ_CHECK(decoded.size() == buckets.size());
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    VIGIE_FUZZ_CHECK(decoded[i].ts_ms == buckets[i].ts_ms && decoded[i].n == buckets[i].n);
    VIGIE_FUZZ_CHECK(same(decoded[i].min, buckets[i].min) && same(decoded[i].max, buckets[i].max) &&
                     same(decoded[i].sum, buckets[i].sum));
  }
  return 0;
}
