#include "collector/bit_codec.hpp"

#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <random>

namespace vigie::collector::bits {
namespace {

// What Frame::put counts, value by value.
std::size_t counted(const std::vector<std::int64_t>& values, std::int64_t lo, int w) {
  const Frame frame{static_cast<std::uint64_t>(lo), w};
  std::size_t bits = 0;
  for (const std::int64_t v : values) bits += frame.put(nullptr, static_cast<std::uint64_t>(v));
  return bits;
}

TEST_CASE("Frames: the bits of a frame, from binary searches, are those put counts", "[encoding]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3, 4));
  // Spreads around each bucket's threshold (2^5, 2^11, 2^19, 2^31) and beyond.
  for (const std::int64_t spread : {1LL, 40LL, 3'000LL, 600'000LL, 3'000'000'000LL, 1LL << 61}) {
    for (int round = 0; round < 20; ++round) {
      std::vector<std::int64_t> values(1 + rng() % 300);
      const auto centre = static_cast<std::int64_t>(rng() % 2'000'000) - 1'000'000;
      for (auto& v : values) {
        const auto offset = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(spread));
        v = centre + (rng() % 2 ? offset : -offset);
      }
      std::sort(values.begin(), values.end());
      for (int w = 0; w <= 40; w += 1 + static_cast<int>(rng() % 5)) {
        // lo at a value, between values, and beyond both ends.
        const std::int64_t los[] = {values[rng() % values.size()], values.front() - 1 - w,
                                    values.back() + 7, centre};
        for (const std::int64_t lo : los) {
          INFO("spread " << spread << " w " << w << " lo " << lo << " n " << values.size());
          CHECK(frame_bits(values, lo, w) == counted(values, lo, w));
        }
      }
    }
  }
  // Exactly at the thresholds, both sides of lo.
  for (const std::int64_t d : {31LL, 32LL, 33LL, 2047LL, 2048LL, 2049LL, (1LL << 19) - 1, 1LL << 19,
                               (1LL << 31) - 1, 1LL << 31, (1LL << 31) + 1}) {
    const std::vector<std::int64_t> values = {-d, 0, 1, d};
    for (int w = 0; w <= 3; ++w) {
      INFO("distance " << d << " w " << w);
      CHECK(frame_bits(values, 0, w) == counted(values, 0, w));
    }
  }
}

TEST_CASE("Frames: the estimate reads the middle 90 % of the values, in any order", "[encoding]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3));
  for (std::size_t n : {1, 2, 3, 19, 20, 21, 40, 288, 1000}) {
    std::vector<std::int64_t> values(n);
    for (auto& v : values) v = static_cast<std::int64_t>(rng() % 100'000) - 50'000;
    std::vector<std::int64_t> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    const auto middle = static_cast<std::uint64_t>(sorted[n - 1 - n / 20] - sorted[n / 20]);
    INFO("n " << n);
    CHECK(frame_estimate(values) == n * static_cast<std::size_t>(std::bit_width(middle)));
  }
}

}  // namespace
}  // namespace vigie::collector::bits
