#include "collector/sample_block.hpp"

#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

namespace vigie::collector {
namespace {

using Limits = std::numeric_limits<double>;
using Ts = std::numeric_limits<std::int64_t>;

// What decoding an encoding-2 block must give: the samples sorted by (series, time),
// equal times in the order they came, every value bit for bit (+0 is not -0).
std::vector<Sample> expected_order(std::vector<Sample> samples) {
  std::stable_sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
    return a.series != b.series ? a.series < b.series : a.ts_ms < b.ts_ms;
  });
  return samples;
}

void check_round_trip(const std::vector<Sample>& samples, std::int64_t base) {
  std::vector<Sample> input = samples;
  const std::string block = encode_series_block(input, base);
  std::vector<Sample> decoded;
  const Status s = decode_samples(block, base, decoded);
  INFO(s.message());
  REQUIRE(s.is_ok());
  const std::vector<Sample> want = expected_order(samples);
  REQUIRE(decoded.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("sample " << i << ": series " << want[i].series << " at " << want[i].ts_ms << " value "
                   << want[i].value << " read back " << decoded[i].value);
    CHECK(decoded[i].series == want[i].series);
    CHECK(decoded[i].ts_ms == want[i].ts_ms);
    CHECK(std::bit_cast<std::uint64_t>(decoded[i].value) ==
          std::bit_cast<std::uint64_t>(want[i].value));
  }
  // One series at a time gives that series' samples only, in the same order.
  for (const std::int64_t series : {want.front().series, want.back().series}) {
    std::vector<Sample> one;
    REQUIRE(decode_series(block, base, series, one).is_ok());
    std::vector<Sample> want_one;
    std::copy_if(want.begin(), want.end(), std::back_inserter(want_one),
                 [&](const Sample& x) { return x.series == series; });
    REQUIRE(one.size() == want_one.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
      CHECK(one[i].ts_ms == want_one[i].ts_ms);
      CHECK(std::bit_cast<std::uint64_t>(one[i].value) ==
            std::bit_cast<std::uint64_t>(want_one[i].value));
    }
  }
}

double any_double(std::mt19937_64& rng) {
  for (;;) {
    const double d = std::bit_cast<double>(rng());
    if (!std::isnan(d)) return d;  // the protocol refuses NaN
  }
}

TEST_CASE("SampleBlock: encoding 1 samples round-trip exactly", "[sample_block]") {
  const std::vector<Sample> samples = {
      {1, 1'700'000'000'000, 0.5},
      {300'000, 1'700'000'060'000, -12.25},
      {7, 1'700'000'000'000, std::numeric_limits<double>::max()},
      {1LL << 40, 1'700'003'600'000, 0},
  };
  const std::string block = encode_samples(samples, 1'700'000'000'000);
  CHECK(block_encoding(block) == 1);
  std::vector<Sample> decoded;
  REQUIRE(decode_samples(block, 1'700'000'000'000, decoded).is_ok());
  CHECK(decoded == samples);
  std::vector<Sample> one;
  REQUIRE(decode_series(block, 1'700'000'000'000, 7, one).is_ok());
  REQUIRE(one.size() == 1);
  CHECK(one[0] == samples[2]);
}

TEST_CASE("SampleBlock: a damaged encoding 1 block is corruption, never a crash",
          "[sample_block]") {
  const std::string block = encode_samples({{1, 10, 1.0}, {2, 20, 2.0}}, 0);
  std::vector<Sample> out;
  CHECK(decode_samples("", 0, out).code() == Code::kCorruption);
  CHECK(decode_samples("\x03", 0, out).code() == Code::kCorruption);
  for (std::size_t cut = 2; cut < block.size(); ++cut) {
    // Cut right after the first sample, the bytes are a valid one-sample block: SQLite
    // never stores half a blob, so the layout carries no length of its own.
    if (cut == 11) continue;
    out.clear();
    INFO("cut at " << cut);
    CHECK(decode_samples(std::string_view(block).substr(0, cut), 0, out).code() ==
          Code::kCorruption);
  }
  // A varint that never ends.
  CHECK(decode_samples(std::string("\x01") + std::string(20, '\xff'), 0, out).code() ==
        Code::kCorruption);
}

TEST_CASE("SampleBlock: encoding 2 round-trips random series", "[sample_block]") {
  std::mt19937_64 rng(20261204);
  for (int round = 0; round < 300; ++round) {
    INFO("round " << round);
    const int series = 1 + static_cast<int>(rng() % 12);
    const int per_series = 1 + static_cast<int>(rng() % 200);
    const std::int64_t base = 1'800'000'000'000 + static_cast<std::int64_t>(rng() % 1'000'000);
    std::vector<Sample> samples;
    for (int s = 0; s < series; ++s) {
      const std::int64_t id = 1 + static_cast<std::int64_t>(rng() % 1'000'000);
      const int shape = static_cast<int>(rng() % 6);
      const int decimals = static_cast<int>(rng() % 8);
      const std::int64_t interval = static_cast<std::int64_t>(rng() % 3) == 0
                                        ? 60'000
                                        : 1 + static_cast<std::int64_t>(rng() % 400'000);
      std::int64_t ts = base + static_cast<std::int64_t>(rng() % 10'000);
      double gauge = std::round(std::uniform_real_distribution<double>(-1e6, 1e6)(rng));
      for (int i = 0; i < per_series; ++i) {
        // Jitter, equal timestamps, and now and then a sample from the past.
        const auto jitter = static_cast<std::int64_t>(rng() % 41) - 20;
        ts += rng() % 10 == 0 ? 0 : interval + jitter;
        const std::int64_t at =
            rng() % 25 == 0 ? ts - static_cast<std::int64_t>(rng() % 900'000) : ts;
        double v = 0;
        switch (shape) {
          case 0: v = any_double(rng); break;
          case 1:  // a gauge with `decimals` decimals, slowly moving
            gauge += static_cast<double>(static_cast<std::int64_t>(rng() % 21) - 10);
            v = gauge / std::pow(10.0, decimals);
            break;
          case 2: v = static_cast<double>(i) * 1'234.0 + static_cast<double>(rng() % 3); break;
          case 3: v = 42.5; break;
          case 4: v = std::uniform_real_distribution<double>(-1, 1)(rng); break;
          default:
            v = std::ldexp(std::uniform_real_distribution<double>(0.5, 1)(rng),
                           static_cast<int>(rng() % 2000) - 1000);
        }
        samples.push_back({id, at, v});
      }
    }
    std::shuffle(samples.begin(), samples.end(), rng);
    check_round_trip(samples, base);
  }
}

TEST_CASE("SampleBlock: encoding 2 round-trips adversarial series", "[sample_block]") {
  const std::int64_t t = 1'800'000'000'000;
  SECTION("one sample") { check_round_trip({{5, t, 1.5}}, t); }
  SECTION("one sample per series, many series") {
    std::vector<Sample> samples;
    for (std::int64_t s = 1; s <= 500; ++s) samples.push_back({s * 7919, t + s, -0.25 * s});
    check_round_trip(samples, t);
  }
  SECTION("plus and minus zero") {
    check_round_trip({{1, t, 0.0},
                      {1, t + 1, -0.0},
                      {1, t + 2, 0.0},
                      {1, t + 3, -0.0},
                      {2, t, -0.0},
                      {2, t + 1, -0.0},
                      {3, t, -0.0}},
                     t);
  }
  SECTION("huge, tiny and infinite values") {
    check_round_trip({{1, t, Limits::max()},
                      {1, t + 1, Limits::lowest()},
                      {1, t + 2, Limits::min()},
                      {1, t + 3, Limits::denorm_min()},
                      {1, t + 4, -Limits::denorm_min()},
                      {1, t + 5, Limits::infinity()},
                      {1, t + 6, -Limits::infinity()},
                      {1, t + 7, 9007199254740993.0},
                      {1, t + 8, -9007199254740992.0},
                      {1, t + 9, 1e-300},
                      {1, t + 10, 0.1},
                      {1, t + 11, 1e6 + 0.000001}},
                     t);
  }
  SECTION("decimals that do not read back are kept as bits") {
    check_round_trip({{1, t, 0.1 + 0.2}, {1, t + 1, 0.3}, {1, t + 2, 1.0 / 3}}, t);
  }
  SECTION("equal timestamps") {
    check_round_trip({{1, t, 3}, {1, t, 1}, {1, t, 2}, {1, t, 3}, {1, t + 60'000, 4}}, t);
  }
  SECTION("out of order") {
    check_round_trip(
        {{1, t + 300, 3}, {1, t + 100, 1}, {2, t + 5, 9}, {1, t + 200, 2}, {2, t - 50'000, 8}},
        t - 50'000);
  }
  SECTION("timestamps and deltas at the ends of int64") {
    check_round_trip({{1, Ts::max(), 1},
                      {1, Ts::min(), 2},
                      {1, 0, 3},
                      {1, Ts::max(), 4},
                      {1, Ts::min() + 1, 5},
                      {2, -1, 6}},
                     0);
    check_round_trip({{1, Ts::min(), 1}, {1, Ts::max(), 2}}, Ts::max());
  }
  SECTION("series ids at the ends of int64") {
    check_round_trip({{Ts::max(), t, 1}, {Ts::min(), t, 2}, {0, t, 3}, {-1, t, 4}}, t);
  }
  SECTION("counters wrapping and resetting") {
    std::vector<Sample> samples;
    double c = 4.2e15;
    for (int i = 0; i < 100; ++i) {
      samples.push_back({1, t + i * 60'000, c});
      c = i == 50 ? 0 : c + 1000 * i;
    }
    check_round_trip(samples, t);
  }
}

TEST_CASE("SampleBlock: series that change slowly take a few bits a sample", "[sample_block]") {
  const std::int64_t t = 1'800'000'000'000;
  std::vector<Sample> samples;
  for (int i = 0; i < 60; ++i) {
    const std::int64_t at = t + i * 60'000 + (i % 3);    // a millisecond or two of jitter
    samples.push_back({1, at, 42.0});                    // a constant
    samples.push_back({2, at, 1e9 + i * 5'000.0});       // a counter
    samples.push_back({3, at, 63.25 + (i % 7) * 0.01});  // a gauge, two decimals
  }
  const std::size_t n = samples.size();
  const std::string block = encode_series_block(samples, t);
  CHECK(block.size() < n * 2);
}

TEST_CASE("SampleBlock: a damaged encoding 2 block is corruption, never a crash",
          "[sample_block]") {
  std::vector<Sample> samples;
  for (int i = 0; i < 40; ++i) {
    samples.push_back({1, 1000 + i * 60'000, 0.5 * i});
    samples.push_back({9, 1000 + i * 61'000, std::sin(i)});
  }
  const std::string block = encode_series_block(samples, 1000);
  CHECK(block_encoding(block) == 2);
  std::vector<Sample> out;
  for (std::size_t cut = 1; cut < block.size(); ++cut) {
    out.clear();
    INFO("cut at " << cut);
    CHECK(decode_samples(std::string_view(block).substr(0, cut), 1000, out).code() ==
          Code::kCorruption);
  }
  CHECK(decode_samples(block + "x", 1000, out).code() == Code::kCorruption);
  // Any byte changed: an error or samples, never a crash nor an endless read.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = block;
    damaged[1 + rng() % (damaged.size() - 1)] ^= static_cast<char>(1 + rng() % 255);
    out.clear();
    (void)decode_samples(damaged, 1000, out);
    CHECK(out.size() <= damaged.size() * 5 + 8);
  }
}

}  // namespace
}  // namespace vigie::collector
