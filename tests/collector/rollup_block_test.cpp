#include "collector/rollup_block.hpp"

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

namespace vigie::collector {
namespace {

using Limits = std::numeric_limits<double>;
constexpr std::int64_t kFive = 300'000;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 86'400'000;

bool same(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// Encodes and decodes `buckets`: every bucket back, its time, count and values bit for bit.
void check_round_trip(const std::vector<RollupBucket>& buckets, std::int64_t start,
                      std::int64_t width) {
  const std::string block = encode_rollups(buckets, start, width);
  std::vector<RollupBucket> decoded;
  const Status s = decode_rollups(block, start, width, decoded);
  INFO(s.message());
  REQUIRE(s.is_ok());
  REQUIRE(decoded.size() == buckets.size());
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    INFO("bucket " << i << " at " << buckets[i].ts_ms << ": min " << buckets[i].min << " max "
                   << buckets[i].max << " sum " << buckets[i].sum << " n " << buckets[i].n);
    CHECK(decoded[i].ts_ms == buckets[i].ts_ms);
    CHECK(decoded[i].n == buckets[i].n);
    CHECK(same(decoded[i].min, buckets[i].min));
    CHECK(same(decoded[i].max, buckets[i].max));
    CHECK(same(decoded[i].sum, buckets[i].sum));
  }
}

// Random buckets of one span: each slot kept with probability `fill`.
std::vector<RollupBucket> random_buckets(std::mt19937_64& rng, std::int64_t start,
                                         std::int64_t width, double fill,
                                         const std::function<double()>& value) {
  std::vector<RollupBucket> out;
  const std::int64_t slots = rollup_span(width) / width;
  std::uniform_real_distribution<double> coin(0, 1);
  for (std::int64_t i = 0; i < slots; ++i) {
    if (coin(rng) >= fill) continue;
    const double a = value();
    const double b = value();
    out.push_back({start + i * width, std::min(a, b), std::max(a, b), value(),
                   static_cast<std::int64_t>(1 + rng() % 12)});
  }
  if (out.empty()) out.push_back({start, 1, 1, 1, 1});
  return out;
}

TEST_CASE("Rollup blocks: random buckets read back bit for bit", "[rollups][encoding]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3, 4, 5));
  const std::int64_t width = GENERATE(kFive, kHour, kDay);
  const std::int64_t start = 20'000 * kDay - rollup_span(width) * 3;
  std::uniform_int_distribution<std::int64_t> digits(-5'000'000, 5'000'000);
  const int decimals = static_cast<int>(rng() % 4);
  const double scale = std::pow(10.0, decimals);
  const std::vector<std::pair<const char*, std::function<double()>>> kinds = {
      {"decimals", [&] { return static_cast<double>(digits(rng)) / scale; }},
      {"any bits but NaN",
       [&] {
         for (;;) {
           const double v = std::bit_cast<double>(rng());
           if (!std::isnan(v)) return v;
         }
       }},
      {"constant", [] { return 42.5; }},
      {"counter", [&, k = 1e9]() mutable { return k += static_cast<double>(rng() % 10'000'000); }},
  };
  for (const auto& [name, value] : kinds) {
    INFO(name);
    for (const double fill : {1.0, 0.9, 0.3, 0.01})
      check_round_trip(random_buckets(rng, start, width, fill, value), start, width);
  }
}

TEST_CASE("Rollup blocks: adversarial values and shapes read back bit for bit",
          "[rollups][encoding]") {
  const std::int64_t start = 19'999 * kDay;
  const double specials[] = {0.0,
                             -0.0,
                             Limits::max(),
                             -Limits::max(),
                             Limits::min(),
                             Limits::denorm_min(),
                             -Limits::denorm_min(),
                             Limits::infinity(),
                             -Limits::infinity(),
                             1e300,
                             -1e-300,
                             9007199254740992.0,
                             9007199254740993.0 * 1000,
                             0.1,
                             0.000001,
                             0.0000001,
                             123456.789012};
  SECTION("each special value alone, a one-bucket block at either end of the span") {
    for (const double v : specials) {
      INFO(v);
      check_round_trip({{start, v, v, v, 1}}, start, kFive);
      check_round_trip({{start + kDay - kFive, v, v, v, 1}}, start, kFive);
    }
  }
  SECTION("all of them in a row, with -0 beside +0 and n from 1 to 2^53 - 1") {
    std::vector<RollupBucket> buckets;
    std::int64_t n = 1;
    for (std::size_t i = 0; i < std::size(specials); ++i) {
      const double v = specials[i];
      const double w = specials[(i + 1) % std::size(specials)];
      buckets.push_back(
          {start + static_cast<std::int64_t>(i) * kHour, std::min(v, w), std::max(v, w), v, n});
      n = n * 7 % 9007199254740991LL + 1;
    }
    buckets.back().n = 9007199254740991LL;
    check_round_trip(buckets, start, kHour);
  }
  SECTION("missing buckets: first and last slot only, every other, one gap") {
    check_round_trip({{start, 1, 2, 3, 2}, {start + kDay - kFive, 1, 2, 3, 2}}, start, kFive);
    std::vector<RollupBucket> every_other, one_gap;
    for (std::int64_t i = 0; i < 288; ++i) {
      const double v = static_cast<double>(i) / 100;
      if (i % 2 == 0) every_other.push_back({start + i * kFive, v, v, v * 5, 5});
      if (i != 100) one_gap.push_back({start + i * kFive, v, v + 1, v * 5 + 2, 5});
    }
    check_round_trip(every_other, start, kFive);
    check_round_trip(one_gap, start, kFive);
  }
  SECTION("decimals that only look like decimals stay exact") {
    // 0.1 + 0.2 is not 0.3: stored as it is, not as the nearest decimal.
    const double s = 0.1 + 0.2;
    check_round_trip({{start, 0.1, 0.2, s, 2}, {start + kFive, 0.1, 0.3, 0.4, 2}}, start, kFive);
  }
}

TEST_CASE("Rollup blocks: a constant or decimal series costs bits, not bytes, per bucket",
          "[rollups][encoding]") {
  const std::int64_t start = 20'000 * kDay;
  std::vector<RollupBucket> constant, gauge;
  for (std::int64_t i = 0; i < 288; ++i) {
    constant.push_back({start + i * kFive, 8, 8, 40, 5});
    const double use = static_cast<double>(4137 + i / 7) / 100;  // as parsed from perfdata
    const double top = static_cast<double>(4138 + i / 7) / 100;
    double sum = top;
    for (int k = 0; k < 4; ++k) sum = sum_exactly(sum, use);
    gauge.push_back({start + i * kFive, use, top, sum, 5});
  }
  CHECK(encode_rollups(constant, start, kFive).size() < 16);
  // min, max and sum in decimal deltas: a few bits each a bucket.
  CHECK(encode_rollups(gauge, start, kFive).size() < 288);
  check_round_trip(gauge, start, kFive);
  // A series polled every 5 minutes: a sample a bucket, so max and sum are its min and
  // cost a byte each for the whole block.
  std::vector<RollupBucket> single;
  for (std::int64_t i = 0; i < 288; ++i) {
    const double v = static_cast<double>((i * 7919) % 1000) / 100;
    single.push_back({start + i * kFive, v, v, v, 1});
  }
  std::vector<RollupBucket> min_only = single;
  for (auto& b : min_only) b.max = b.sum = 0;  // one column's cost, and a constant's
  const std::string packed = encode_rollups(single, start, kFive);
  CHECK(packed.size() <= encode_rollups(min_only, start, kFive).size());
  check_round_trip(single, start, kFive);
  // Equal max, a different sum (n = 2): the sum stands on its own.
  for (auto& b : single) {
    b.sum = sum_exactly(b.min, b.min);
    b.n = 2;
  }
  check_round_trip(single, start, kFive);
}

TEST_CASE("Rollup blocks: a counter, a noisy gauge and a latency cost a few bytes per bucket",
          "[rollups][encoding]") {
  // A day of the 5-minute tier of series sampled every minute (five samples a bucket):
  // min, max and sum each relative to what they are near, in frames.
  const std::int64_t start = 20'000 * kDay;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> waver(0.9, 1.1);
  std::uniform_int_distribution<int> load(0, 400);
  std::uniform_int_distribution<int> rtt(200, 4'200);
  std::vector<RollupBucket> counter, gauge, latency;
  double bytes = 7e11;
  const auto bucket_of = [&](std::int64_t i, const std::function<double()>& sample) {
    RollupBucket b{start + i * kFive, 0, 0, 0, 5};
    for (int j = 0; j < 5; ++j) {
      const double v = sample();
      b.min = j == 0 ? v : std::min(b.min, v);
      b.max = j == 0 ? v : std::max(b.max, v);
      b.sum = j == 0 ? v : sum_exactly(b.sum, v);
    }
    return b;
  };
  for (std::int64_t i = 0; i < 288; ++i) {
    counter.push_back(bucket_of(i, [&] { return bytes += std::floor(2e6 * waver(rng)); }));
    gauge.push_back(bucket_of(i, [&] { return load(rng) / 100.0; }));
    latency.push_back(bucket_of(i, [&] { return rtt(rng) / 1000.0; }));
  }
  for (const auto* buckets : {&counter, &gauge, &latency}) check_round_trip(*buckets, start, kFive);
  // A step wavers over 400,000 (19 bits): min, max and sum a step or a few each.
  CHECK(encode_rollups(counter, start, kFive).size() < 288 * 8);
  // 401 values (9 bits): min and max 9 bits, the sum 11.
  CHECK(encode_rollups(gauge, start, kFive).size() < 288 * 4);
  CHECK(encode_rollups(latency, start, kFive).size() < 288 * 5);
}

TEST_CASE("Rollup blocks: blocks of encoding 1 read as they were written", "[rollups][encoding]") {
  // Written by the encoder of encoding 1: twelve 5-minute buckets but the sixth, of a
  // gauge with two decimals, a counter, and floats with -0 sums.
  const auto bytes = [](std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    return out;
  };
  const std::string gauge = bytes("01000c0bdf0f410a05d24004209044107f059ac3020422914450");
  const std::string counter = bytes(
      "01000c0bdf0f410a0280a8d6b90716f002218c767d0cfa19f433e86fa0cfa19f433e867d00028e82edba0716f002"
      "21caf67d0cfa19f437d067d0cfa19f433e867d0002aad6f3a32520f00aa879b701388701388701388701f40701b5"
      "87013887013887013887013880");
  const std::string floats = bytes(
      "01000c0bdf0f0202088242c341c221618000555555555555d53f4cdb95555555555555d79e666666666666eccf33"
      "3333333333e71c71c71c71c7d3afe38e38e38e38f05e85e85e85e870edc48edc48eddbb1842108421084f6e5b91b"
      "91b91b9063f03f03f03f0c00555555555555e53f4cdb95555555555555d5a73333333333337667999999999999f3"
      "8e38e38e38e3ebcfc71c71c71c71e2f42f42f42f439db891db891dbb763084210842109edcb723723723720c7e07"
      "e07e07e180400000000000000080");
  const std::int64_t start = 20'000 * kDay;
  std::vector<RollupBucket> want_gauge, want_counter, want_floats;
  double k = 1e9;
  for (std::int64_t i = 0; i < 12; ++i) {
    if (i == 5) continue;
    const double use = static_cast<double>(4137 + i / 3) / 100;
    double sum = use;
    for (int j = 0; j < 4; ++j) sum = sum_exactly(sum, use);
    want_gauge.push_back({start + i * kFive, use, use, sum, 5});
    const double lo = k;
    k += 1234567 + static_cast<double>(i) * 1000;
    const double hi = k;
    k += 1000000;
    want_counter.push_back({start + i * kFive, lo, hi, lo * 2 + hi * 3, 5});
    want_floats.push_back({start + i * kFive, 1.0 / static_cast<double>(i + 3),
                           2.0 / static_cast<double>(i + 3), -0.0, 1 + i % 3});
  }
  for (const auto& [block, want] :
       {std::pair{&gauge, &want_gauge}, std::pair{&counter, &want_counter},
        std::pair{&floats, &want_floats}}) {
    std::vector<RollupBucket> got;
    REQUIRE(decode_rollups(*block, start, kFive, got).is_ok());
    REQUIRE(got.size() == want->size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("bucket " << i);
      CHECK(got[i].ts_ms == (*want)[i].ts_ms);
      CHECK(got[i].n == (*want)[i].n);
      CHECK(same(got[i].min, (*want)[i].min));
      CHECK(same(got[i].max, (*want)[i].max));
      CHECK(same(got[i].sum, (*want)[i].sum));
    }
  }
}

TEST_CASE("Rollup blocks: damaged bytes are refused, never read past", "[rollups][encoding]") {
  const std::int64_t start = 20'000 * kDay;
  std::vector<RollupBucket> buckets;
  for (std::int64_t i = 0; i < 40; i += 3)
    buckets.push_back({start + i * kHour, 1.5 * static_cast<double>(i), 2e9, 0.1, i + 1});
  const std::string block = encode_rollups(buckets, start, kHour);
  std::vector<RollupBucket> out;
  for (std::size_t cut = 0; cut < block.size(); ++cut) {
    INFO("cut at " << cut);
    out.clear();
    const Status s = decode_rollups(std::string_view(block).substr(0, cut), start, kHour, out);
    CHECK(s.code() == Code::kCorruption);
    CHECK(out.empty());
  }
  CHECK(decode_rollups(block + "x", start, kHour, out).code() == Code::kCorruption);
  std::string wrong = block;
  wrong[0] = 9;
  CHECK(decode_rollups(wrong, start, kHour, out).code() == Code::kCorruption);
  // A count of 0 samples in a bucket is no bucket.
  std::string no_samples = encode_rollups({{start, 1, 1, 1, 1}}, start, kHour);
  // Encoding, first slot, slots, count, decimals + 1, n's mode (constant), n: zigzag(1) = 2.
  REQUIRE(no_samples.substr(0, 7) == std::string("\x02\x00\x01\x01\x01\x00\x02", 7));
  no_samples[6] = 0;  // n becomes 0
  CHECK(decode_rollups(no_samples, start, kHour, out).code() == Code::kCorruption);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string noise = block;
    noise[rng() % noise.size()] = static_cast<char>(rng());
    out.clear();
    (void)decode_rollups(noise, start, kHour, out);  // any answer, no crash
  }
}

TEST_CASE("Rollup blocks: sums of decimals stay the decimal nearest the true sum",
          "[rollups][encoding]") {
  CHECK(same(sum_exactly(0.1, 0.2), 0.3));
  CHECK(same(sum_exactly(41.37, 41.38), 82.75));
  CHECK(same(sum_exactly(-0.01, 0.01), 0.0));
  CHECK(same(sum_exactly(1e20, 1.0), 1e20 + 1.0));        // beyond 2^53 millionths: plain
  CHECK(same(sum_exactly(0.1234567, 1), 0.1234567 + 1));  // 7 places: plain
  CHECK(same(sum_exactly(-0.0, -0.0), -0.0));
  double s = 0;
  for (int i = 0; i < 1000; ++i) s = sum_exactly(s, 0.01);
  CHECK(same(s, 10.0));
}

}  // namespace
}  // namespace vigie::collector
