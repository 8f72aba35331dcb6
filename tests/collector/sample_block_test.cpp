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

// What decoding a per-series block must give: the samples sorted by (series, time),
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
  std::vector<std::int64_t> ids;
  for (const Sample& x : want)
    if (ids.empty() || ids.back() != x.series) ids.push_back(x.series);
  if (ids.size() > 40) ids = {ids.front(), ids[ids.size() / 2], ids.back()};
  for (const std::int64_t series : ids) {
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

TEST_CASE("SampleBlock: encoding 3 round-trips random series", "[sample_block]") {
  std::mt19937_64 rng(20261204);
  BlockBreakdown used;
  for (int round = 0; round < 300; ++round) {
    INFO("round " << round);
    const int series = 1 + static_cast<int>(rng() % 12);
    const int per_series = 1 + static_cast<int>(rng() % 200);
    const std::int64_t base = 1'800'000'000'000 + static_cast<std::int64_t>(rng() % 1'000'000);
    std::vector<Sample> samples;
    std::vector<std::int64_t> shared_times;
    std::int64_t previous_id = 0;
    for (int s = 0; s < series; ++s) {
      std::int64_t id = 1 + static_cast<std::int64_t>(rng() % 1'000'000);
      const int shape = static_cast<int>(rng() % 6);
      const int decimals = static_cast<int>(rng() % 8);
      const std::int64_t interval = static_cast<std::int64_t>(rng() % 3) == 0
                                        ? 60'000
                                        : 1 + static_cast<std::int64_t>(rng() % 400'000);
      std::int64_t ts = base + static_cast<std::int64_t>(rng() % 10'000);
      double gauge = std::round(std::uniform_real_distribution<double>(-1e6, 1e6)(rng));
      // Half the series keep to a schedule with 0-7 ms of jitter (missed polls,
      // restarts, now and then a sample from the past or a repeated time); a third of
      // those share their timestamps with the series before (a check's metrics).
      const bool scheduled = rng() % 2 == 0;
      const bool shares = scheduled && s > 0 && rng() % 3 == 0;
      if (shares) id = previous_id + 1;
      previous_id = id;
      std::vector<std::int64_t> times;
      for (int i = 0; i < per_series; ++i) {
        std::int64_t at = 0;
        if (shares) {
          at = shared_times[static_cast<std::size_t>(i) % shared_times.size()];
        } else if (scheduled) {
          const auto kind = rng() % 40;
          if (kind == 0) ts += interval * static_cast<std::int64_t>(1 + rng() % 5);  // missed
          if (kind == 1) ts += static_cast<std::int64_t>(rng() % 100'000) - 50'000;  // restart
          if (kind == 2) ts += 1LL << (20 + rng() % 30);                             // a gap
          ts += interval;
          at = ts + static_cast<std::int64_t>(rng() % 8);
          if (kind == 3) at = ts - interval * 3;  // from the past
          if (kind == 4 && !times.empty()) at = times.back();
        } else {
          // Jitter, equal timestamps, and now and then a sample from the past.
          const auto jitter = static_cast<std::int64_t>(rng() % 41) - 20;
          ts += rng() % 10 == 0 ? 0 : interval + jitter;
          at = rng() % 25 == 0 ? ts - static_cast<std::int64_t>(rng() % 900'000) : ts;
        }
        times.push_back(at);
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
      shared_times = times;
    }
    std::shuffle(samples.begin(), samples.end(), rng);
    check_round_trip(samples, base);
    std::vector<Sample> input = samples;
    REQUIRE(measure_block(encode_series_block(input, base), used).is_ok());
  }
  // Every timestamp mode was tried, and frames.
  for (int t = 0; t < BlockBreakdown::kTimestampModes; ++t) CHECK(used.ts_series[t] > 0);
  CHECK(used.value_series[15 + 2 * 0] + used.value_series[15 + 2 * 0 + 1] > 0);
}

TEST_CASE("SampleBlock: encoding 3 round-trips adversarial series", "[sample_block]") {
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

TEST_CASE("SampleBlock: a damaged encoding 3 block is corruption, never a crash",
          "[sample_block]") {
  std::vector<Sample> samples;
  std::mt19937_64 jitter(5);
  for (int i = 0; i < 40; ++i) {
    // On a schedule with jitter and a missed poll; a second series with the same times
    // and a wavering counter (in a frame); floats on times of their own.
    if (i == 20) continue;
    const std::int64_t at = 1000 + i * 60'000 + static_cast<std::int64_t>(jitter() % 8);
    samples.push_back({1, at, 0.5 * i});
    samples.push_back({2, at, 1e9 + i * 1'000 + (i * 7919) % 300});
    samples.push_back({9, 1000 + i * 61'000, std::sin(i)});
  }
  const std::string block = encode_series_block(samples, 1000);
  CHECK(block_encoding(block) == 3);
  BlockBreakdown m;
  REQUIRE(measure_block(block, m).is_ok());
  CHECK(m.ts_series[0] == 1);      // shared
  CHECK(m.ts_series[3] >= 1);      // schedule
  CHECK(m.value_series[16] == 1);  // a frame of deltas, no decimals
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
    // A series sharing the timestamps of another takes a bit a sample at least.
    CHECK(out.size() <= damaged.size() * 8 + 8);
  }
}

// Blocks of encoding 2 as compaction wrote them before encoding 3 (kept in databases
// until their retention ends), and the samples they were made from, base t - 5 s.
std::vector<Sample> fixture_samples(int which) {
  const std::int64_t t = 1'800'000'000'000;
  std::vector<Sample> s;
  if (which == 0) {  // on a schedule with jitter: a constant, a counter, a gauge
    for (int i = 0; i < 20; ++i) {
      const std::int64_t at = t + i * 60'000 + (i * 5) % 8;
      s.push_back({11, at, 42.0});
      s.push_back({12, at, 1e9 + i * 5'000.0 + (i % 3) * 100});
      s.push_back({14, at + 2, 63.25 + (i % 7) * 0.01});
    }
  } else if (which == 1) {  // irregular times, floats, equal times, out of order
    for (int i = 0; i < 25; ++i) {
      const std::int64_t at = t + i * i * 1'000 + (i % 4 == 0 ? 0 : 17 * i);
      s.push_back({3, at, std::sin(i) * 1e3});
      s.push_back({3, at, -0.0});
    }
    s.push_back({3, t - 5'000, 1e-300});
    s.push_back({900, t + 7, std::numeric_limits<double>::infinity()});
    s.push_back({900, t + 3, -2.5});
  } else {  // one sample per series, ends of int64
    s.push_back({1, t, 1.5});
    s.push_back({2, std::numeric_limits<std::int64_t>::max(), -0.0});
    s.push_back({2, std::numeric_limits<std::int64_t>::min(), 0.1});
    s.push_back({1LL << 40, t + 1, std::numeric_limits<double>::max()});
  }
  return s;
}

const char* const kEncoding2Blocks[] = {
    "02030b14904ebba90701540fc20308030803080c200c200c2030800114904ebba9070280a8d6b90727c21c04fb0610"
    "c4"
    "aec4b0610c4aec4b0610c4aec4b1840c4aec4b1840c4aec4b1840c4af84312c00214944ebba90706ea6214c2104610"
    "06"
    "102351d84061006108d47184061000",
    "0202033300f30f0059f3f8c21f6ea5019804e7c7b3f1a56e1fc2f8f359e1fc700160eb02292f124ebb5af0fe360452"
    "5e"
    "249d76b5e3e8307b8118d4c242a1941f0fe36046353090a86507cfa060ff01868f5c6c92316f87f1b01868f5c6c923"
    "16"
    "fae589021e99ae0aa3d7db87f19021e99ae0aa3d7dbbf0890237dd93a875567387f190237dd93a8755673c09c41203"
    "8b"
    "b52f0b83f7870fe32038bb52f0b83f787817702c08487e48dde7bcce1fc6c08487e48dde7bccf036285811dd5bb60c"
    "fb"
    "53dc3f8d811dd5bb60cfb53de07e10b01e70795431f99d387f1b01e70795431f99d3c11941204080159e17cdbb70fe"
    "32"
    "04080159e17cdbb7827102408f3febf1697c73e1fc6408f3febf1697c73f0552448101892aac10b287c3f8c8101892"
    "aa"
    "c10b287e0bd18b01e90ab0bb3ae9a387f1b01e90ab0bb3ae9a3c1964160477a6deea6ba07f0fe360477a6deea6ba07"
    "f8"
    "36b02c084524d7f23ea57e1fc6c084524d7f23ea57f07420480e3fce7f859cc65c3f8c80e3fce7f859cc65e0fc2090"
    "23"
    "82cb840e3e3eb87f1902382cb840e3e3ebc213412043bbf2f0d155b8f0fe32043bbf2f0d155b8f846502c062bc1219"
    "ff"
    "c3b2e1fc6c062bc1219ffc3b2f0931c581190f1fbf3a1ae7c3f8d81190f1fbf3a1ae7e13b28b022894fafdaacb7787"
    "f1"
    "b022894fafdaacb77c290412010d9ef67d910cc70fe32010d9ef67d910cc7855f02408a71c36343a214e1fc6408a71"
    "c3"
    "6343a214f0b218481189940f884fb2fc3f8c81189940f884fb2e810702964e000000000000000004c005a301b7fe8"
    "0",
    "02030101904e00031e000102908e9efa9c97ffffff0100009a9999999999b93f0b8707d7f733333333333340feffff"
    "ff"
    "ff1f01924e0000ffffffffffffef7f00",
};

std::string from_hex(std::string_view hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return bytes;
}

TEST_CASE("SampleBlock: blocks of encoding 2 still decode", "[sample_block]") {
  const std::int64_t base = 1'800'000'000'000 - 5'000;
  for (int which = 0; which < 3; ++which) {
    INFO("fixture " << which);
    const std::string block = from_hex(kEncoding2Blocks[which]);
    REQUIRE(block_encoding(block) == 2);
    const std::vector<Sample> want = expected_order(fixture_samples(which));
    std::vector<Sample> decoded;
    REQUIRE(decode_samples(block, base, decoded).is_ok());
    REQUIRE(decoded.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      CHECK(decoded[i].series == want[i].series);
      CHECK(decoded[i].ts_ms == want[i].ts_ms);
      CHECK(std::bit_cast<std::uint64_t>(decoded[i].value) ==
            std::bit_cast<std::uint64_t>(want[i].value));
    }
    std::vector<Sample> one;
    REQUIRE(decode_series(block, base, want.back().series, one).is_ok());
    CHECK(one.back() == want.back());
    // And they round-trip through encoding 3.
    check_round_trip(fixture_samples(which), base);
  }
}

// A series polled every `step` ms from `t` with 0-7 ms of jitter, `n` samples.
std::vector<Sample> polled(std::int64_t series, std::int64_t t, std::int64_t step, int n,
                           std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Sample> samples;
  for (int i = 0; i < n; ++i)
    samples.push_back({series, t + i * step + static_cast<std::int64_t>(rng() % 8), 1.0 * i});
  return samples;
}

BlockBreakdown measured(const std::vector<Sample>& samples, std::int64_t base) {
  std::vector<Sample> input = samples;
  const std::string block = encode_series_block(input, base);
  BlockBreakdown m;
  REQUIRE(measure_block(block, m).is_ok());
  CHECK(m.samples == static_cast<std::int64_t>(samples.size()));
  CHECK(m.block_bytes == static_cast<std::int64_t>(block.size()));
  return m;
}

constexpr int kStep = 2;
constexpr int kSchedule = 3;
constexpr int kShared = 0;

TEST_CASE("SampleBlock: timestamps against the schedule, off it and back", "[sample_block]") {
  const std::int64_t t = 1'800'000'000'000;
  std::vector<Sample> samples = polled(1, t, 60'000, 60, 1);
  SECTION("on the schedule: 3 bits of jitter a sample, and a bit for the all-ones code") {
    const BlockBreakdown m = measured(samples, t);
    CHECK(m.ts_series[kSchedule] == 1);
    CHECK(m.ts_bits[kSchedule] <= 59 * 3 + 59);
    check_round_trip(samples, t);
  }
  SECTION("no jitter: a bit a sample") {
    for (Sample& s : samples) s.ts_ms = t + (s.ts_ms - t) / 60'000 * 60'000;
    const BlockBreakdown m = measured(samples, t);
    CHECK(m.ts_bits[kStep] + m.ts_bits[kSchedule] == 59);  // the step's header is shorter
    check_round_trip(samples, t);
  }
  SECTION("missed polls") {
    samples.erase(samples.begin() + 20, samples.begin() + 23);
    samples.erase(samples.begin() + 40);
    const BlockBreakdown m = measured(samples, t);
    CHECK(m.ts_series[kSchedule] == 1);
    // Two escapes, and the schedule kept after each.
    CHECK(m.ts_bits[kSchedule] <= 56 * 4 + 2 * 40);
    check_round_trip(samples, t);
  }
  SECTION("a restart: the schedule moves by a random offset") {
    for (std::size_t i = 30; i < samples.size(); ++i) samples[i].ts_ms += 17'345;
    CHECK(measured(samples, t).ts_bits[kSchedule] <= 59 * 4 + 40);
    check_round_trip(samples, t);
  }
  SECTION("negative residuals: the first sample late, the others early") {
    samples[0].ts_ms += 500;
    check_round_trip(samples, t);
    CHECK(measured(samples, t).ts_bits[kSchedule] <= 59 * 4);
  }
  SECTION("equal timestamps, out of order, a sample from the past") {
    samples.insert(samples.begin() + 10, samples[9]);
    samples.insert(samples.begin() + 30, Sample{1, samples[29].ts_ms - 1, 7.0});
    samples.push_back({1, t - 3'600'000, -1.0});
    check_round_trip(samples, t - 3'600'000);
  }
  SECTION("huge gaps and the ends of int64") {
    for (std::size_t i = 20; i < samples.size(); ++i) samples[i].ts_ms += 1LL << 50;
    samples.push_back({1, Ts::max(), 1});
    samples.push_back({1, Ts::max() - 60'000, 2});
    samples.push_back({1, Ts::min(), 3});
    samples.push_back({1, Ts::min() + 60'001, 4});
    check_round_trip(samples, t);
    check_round_trip(samples, Ts::min());
  }
  SECTION("two samples, and steps at the ends of int64") {
    check_round_trip({{1, t, 1}, {1, t + 60'000, 2}}, t);
    check_round_trip({{1, Ts::min(), 1}, {1, Ts::max(), 2}, {1, Ts::min(), 3}}, 0);
    check_round_trip({{1, 0, 1}, {1, Ts::max(), 2}, {1, Ts::max() - 1, 3}, {1, Ts::max(), 4}}, 0);
  }
}

TEST_CASE("SampleBlock: a check's metrics share their timestamps", "[sample_block]") {
  const std::int64_t t = 1'800'000'000'000;
  std::vector<Sample> samples;
  for (std::int64_t check = 0; check < 4; ++check) {
    const std::vector<Sample> times = polled(0, t + check * 1'000, 60'000, 60, 9 + check);
    for (std::int64_t metric = 0; metric < 3; ++metric)
      for (const Sample& s : times)
        samples.push_back({10 + check * 3 + metric, s.ts_ms, s.value * (metric + 1)});
  }
  // A series with one sample less, and one more, between them: their own times.
  samples.push_back({13, t + 9'999'999, 1});
  const BlockBreakdown m = measured(samples, t);
  CHECK(m.ts_series[kShared] == 7);
  CHECK(m.ts_bits[kShared] == 0);
  check_round_trip(samples, t);
  // One series alone, its timestamps read from the series before.
  for (const std::int64_t series : {11, 12, 15, 20}) {
    std::vector<Sample> one;
    REQUIRE(decode_series(encode_series_block(samples, t), t, series, one).is_ok());
    CHECK(one.size() == 60);
  }
  SECTION("a block that shares before any series has times is corruption") {
    // Encoding 3, one series: id 1, shared, value mode 1, first value 0, empty stream.
    std::vector<Sample> out;
    CHECK(decode_samples(std::string("\x03\x01\x01\x00\x01\x00\x00", 7), t, out).code() ==
          Code::kCorruption);
  }
}

TEST_CASE("SampleBlock: decimals in a frame of w bits, escapes for the rest", "[sample_block]") {
  const std::int64_t t = 1'800'000'000'000;
  std::mt19937_64 rng(11);
  std::vector<Sample> samples;
  double bytes = 1e9;
  for (int i = 0; i < 60; ++i) {
    // A byte counter, 1 MB a minute +-10 %: its changes in a frame of 18 bits.
    bytes += std::round(1e6 * (0.9 + 0.2 * std::uniform_real_distribution<double>(0, 1)(rng)));
    if (i == 40) bytes = 12;  // a restart
    samples.push_back({1, t + i * 60'000, bytes});
    // A latency with three decimals, 5 to 7 ms: its values in a frame of 11 bits.
    samples.push_back(
        {2, t + i * 60'000, std::round(5'000 + 2'000 * (rng() % 1000) / 1000.0) / 1e3});
  }
  samples.push_back({2, t + 61 * 60'000, 1e9});  // far out of the frame
  const BlockBreakdown m = measured(samples, t);
  CHECK(m.value_series[15 + 2 * 0 + 1] == 1);
  CHECK(m.value_series[15 + 2 * 3] == 1);
  CHECK(m.value_bits[16] <= 59 * 20 + 80);
  CHECK(m.value_bits[21] <= 60 * 12 + 80);
  check_round_trip(samples, t);
  SECTION("at the ends of the decimals' range") {
    check_round_trip({{1, t, 9007199254740991.0},
                      {1, t + 1, -9007199254740991.0},
                      {1, t + 2, 9007199254740991.0},
                      {1, t + 3, 0},
                      {1, t + 4, -0.0},
                      {1, t + 5, 1}},
                     t);
  }
}

}  // namespace
}  // namespace vigie::collector
