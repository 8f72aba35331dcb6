#include "bench/storage/information.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace vigie::bench::storage {
namespace {

// How far under the true entropy the empirical entropy of n samples of a source uniform
// over K values may fall: K - Ĥ is then the G statistic over 2 n ln 2, about chi-squared
// with K - 1 degrees of freedom, which exceeds v + 2 sqrt(v x) + 2 x with probability
// under e^-x (Laurent and Massart); x = 20, one chance in 500 million.
double shortfall(double values, double n) {
  const double v = values - 1;
  const double x = 20;
  return (v + 2 * std::sqrt(v * x) + 2 * x) / (2 * n * std::log(2.0));
}

// n values, each drawn uniformly among the integers 0 to `values` - 1, over 10^decimals
// (so that each is the double nearest its decimal, as the benchmark rounds them).
std::vector<double> uniform_draws(int values, int n, int decimals, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double scale = std::pow(10.0, decimals);
  std::vector<double> out;
  for (int i = 0; i < n; ++i)
    out.push_back(static_cast<double>(rng() % static_cast<std::uint64_t>(values)) / scale);
  return out;
}

TEST_CASE("Information floor: a constant series holds no bit", "[information]") {
  const std::vector<double> constant(5000, 42.17);
  CHECK(series_empirical_bits(constant) == 0);
  CHECK(empirical_bits(std::vector<std::int64_t>(100, 7)) == 0);
  // A range that rounds to one value, as the random workload's 0 to 0.4 with no decimal.
  CHECK(rounded_uniform_bits(0, 0.4, 0) == 0);
  CHECK(rounded_uniform_bits(5, 5, 2) == 0);
  CHECK(bucket_floor_bits(0.4, 5) == 0);

  InformationFloor floor;
  const int s = floor.add_series(0, 0.4);
  for (int i = 0; i < 600; ++i) floor.add_sample(s, i * 60'000, 0);
  const std::int64_t widths[] = {300'000};
  const InformationFloor::Figures f = floor.figures(widths);
  CHECK(f.samples == 600);
  CHECK(f.value_bits == 0);
  CHECK(f.empirical_bits == 0);
  CHECK(f.tier_bits[0] == 0);
}

TEST_CASE("Information floor: two values at random, as likely, hold about 1 bit a sample",
          "[information]") {
  // Exactly, from the model: x uniform in [0, 1] rounds to 0 or 1 with 1/2 each, and
  // [0.2, 1.2] to 0 with 0.3 and 1 with 0.7.
  CHECK(rounded_uniform_bits(0, 1, 0) == Approx(1).margin(1e-12));
  const double uneven[] = {0.3, 0.7};
  CHECK(rounded_uniform_bits(0.2, 1.2, 0) == Approx(choice_bits(uneven)).margin(1e-12));
  CHECK(choice_bits(uneven) == Approx(0.881290899).margin(1e-9));

  // From the samples: 20,000 of 0.25 and 3.5 at random; their changes hold 1.5 bits (0
  // half the time), so the values' 1 bit is the floor.
  const int n = 20'000;
  std::vector<double> values = uniform_draws(2, n, 0, 7);
  for (double& v : values) v = v == 0 ? 0.25 : 3.5;
  const double per_sample = series_empirical_bits(values) / n;
  INFO("empirical bits a sample " << per_sample);
  CHECK(per_sample <= 1.0 + 1e-12);
  CHECK(per_sample >= 1.0 - shortfall(2, n));
}

TEST_CASE("Information floor: uniform over 2^k values holds about k bits a sample",
          "[information]") {
  for (const int k : {4, 8, 10}) {
    const int values = 1 << k;
    INFO("k = " << k);
    // The model, exactly: each integer from 0 to 2^k - 1 takes a unit of the range.
    CHECK(rounded_uniform_bits(-0.5, values - 0.5, 0) == Approx(k).margin(1e-9));
    // With decimals: the same grid in hundredths.
    CHECK(rounded_uniform_bits(-0.005, (values - 0.5) / 100, 2) == Approx(k).margin(1e-6));

    // The samples: 400 per value, on a grid of three decimals.
    const int n = 400 * values;
    const std::vector<double> draws = uniform_draws(values, n, 3, static_cast<std::uint64_t>(k));
    const double per_sample = series_empirical_bits(draws) / n;
    INFO("empirical bits a sample " << per_sample << ", allowed shortfall "
                                    << shortfall(values, n));
    CHECK(per_sample <= k + 1e-9);
    CHECK(per_sample >= k - shortfall(values, n));
  }
}

TEST_CASE("Information floor: a counter's changes cost what its increments hold", "[information]") {
  // Increments of 10 or 11 at random: the values are all distinct (log2 n bits each), the
  // changes hold 1 bit, and the lower is kept.
  const int n = 10'000;
  const std::vector<double> steps = uniform_draws(2, n, 0, 11);
  std::vector<double> counter;
  double total = 1e9;
  for (const double s : steps) counter.push_back(total += 10 + s);
  const double per_sample = series_empirical_bits(counter) / n;
  CHECK(per_sample <= 1.0);
  CHECK(per_sample >= (1.0 - shortfall(2, n - 1)) * (n - 1) / n);
}

TEST_CASE("Information floor: a bucket's floor is under its (min, max)'s entropy",
          "[information]") {
  // Every draw of n samples among 16 equally likely values, counted exactly.
  for (const int n : {1, 2, 3, 5}) {
    INFO("n = " << n);
    std::map<std::pair<int, int>, double> p;
    int draws = 1;
    for (int i = 0; i < n; ++i) draws *= 16;
    for (int code = 0; code < draws; ++code) {
      int lo = 16;
      int hi = -1;
      for (int i = 0, c = code; i < n; ++i, c /= 16) {
        lo = std::min(lo, c % 16);
        hi = std::max(hi, c % 16);
      }
      p[{lo, hi}] += 1.0 / draws;
    }
    std::vector<double> probabilities;
    for (const auto& [bucket, q] : p) probabilities.push_back(q);
    const double exact = choice_bits(probabilities);
    INFO("exact " << exact << ", floor " << bucket_floor_bits(16, n));
    CHECK(bucket_floor_bits(16, n) <= exact + 1e-12);
    CHECK(bucket_floor_bits(16, n) > 0);
  }
  CHECK(bucket_floor_bits(16, 1) == Approx(4));

  // The figures add buckets of the series whose samples are independent, per tier.
  InformationFloor floor;
  const int iid = floor.add_series(4, 16);
  const int walk = floor.add_series(0.9);
  for (int i = 0; i < 10; ++i) {
    floor.add_sample(iid, i * 60'000, i % 16);
    floor.add_sample(walk, i * 60'000, i);
  }
  floor.add_timestamp_bits(3);
  const std::int64_t widths[] = {300'000, 3'600'000};
  const InformationFloor::Figures f = floor.figures(widths);
  CHECK(f.samples == 20);
  CHECK(f.value_bits == Approx(4 * 10 + 0.9 * 10));
  CHECK(f.timestamp_bits == 3);
  CHECK(f.tier_bits[0] == Approx(2 * bucket_floor_bits(16, 5)));
  CHECK(f.tier_bits[1] == Approx(bucket_floor_bits(16, 10)));
}

}  // namespace
}  // namespace vigie::bench::storage
