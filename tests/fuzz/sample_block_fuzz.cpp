// libFuzzer target: the sample block decoder (collector/sample_block.hpp), which reads
// what the database holds. Whatever the bytes: no crash, no undefined behaviour, no
// endless read; what decodes re-encodes (encoding 3) to a block that decodes to the same
// samples bit for bit, one series at a time too.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "collector/sample_block.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

bool same(const vigie::collector::Sample& a, const vigie::collector::Sample& b) {
  return a.series == b.series && a.ts_ms == b.ts_ms &&
         std::bit_cast<std::uint64_t>(a.value) == std::bit_cast<std::uint64_t>(b.value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace c = vigie::collector;
  // The first 8 bytes are the block's base time, the rest the block.
  std::int64_t base = 0;
  if (size >= sizeof base) {
    std::memcpy(&base, data, sizeof base);
    data += sizeof base;
    size -= sizeof base;
  }
  const std::string_view block(reinterpret_cast<const char*>(data), size);
  std::vector<c::Sample> samples;
  if (!c::decode_samples(block, base, samples)) return 0;
  // A series sharing another's timestamps (encoding 3) takes a bit a sample at least.
  VIGIE_FUZZ_CHECK(samples.size() <= size * 8 + 8);

  std::vector<c::Sample> sorted = samples;
  const std::string again = c::encode_series_block(sorted, base);
  std::vector<c::Sample> decoded;
  VIGIE_FUZZ_CHECK(c::decode_samples(again, base, decoded));
  VIGIE_FUZZ_CHECK(decoded.size() == sorted.size());
  for (std::size_t i = 0; i < decoded.size(); ++i) VIGIE_FUZZ_CHECK(same(decoded[i], sorted[i]));
  if (!sorted.empty()) {
    const std::int64_t series = sorted.front().series;
    std::vector<c::Sample> one;
    VIGIE_FUZZ_CHECK(c::decode_series(again, base, series, one));
    const auto n = static_cast<std::size_t>(std::count_if(
        sorted.begin(), sorted.end(), [&](const c::Sample& s) { return s.series == series; }));
    VIGIE_FUZZ_CHECK(one.size() == n);
    for (std::size_t i = 0; i < n; ++i) VIGIE_FUZZ_CHECK(same(one[i], sorted[i]));
  }
  return 0;
}
