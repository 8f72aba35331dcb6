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
  REQUIRE(no_samples.size() > 5);
  no_samples[5] = 0;  // n's value: zigzag(1) = 2 becomes 0
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
