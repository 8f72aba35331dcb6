#include "collector/sample_block.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <span>

#include "collector/bit_codec.hpp"

namespace vigie::collector {
namespace {

using bits::BitReader;
using bits::BitWriter;
using bits::get_varint;
using bits::put_varint;
using bits::unzigzag;
using bits::zigzag;
template <int... W>
using Buckets = bits::Buckets<W...>;

constexpr char kPerReport = 1;
constexpr char kPerSeries = 2;

constexpr int kModeXor = 0;
constexpr int kMaxDecimals = 6;
constexpr double kPow10[kMaxDecimals + 1] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
constexpr double kTwoTo53 = 9007199254740992.0;

// Timestamps in milliseconds: jitter of a few ms, a late run, a missed interval.
using TimestampBuckets = Buckets<4, 8, 14, 20>;
// Scaled decimals: a gauge's small steps, a counter's rate changes.
using DecimalBuckets = Buckets<6, 12, 20, 32>;

void put_timestamp_dod(BitWriter& w, std::uint64_t zz) { TimestampBuckets::put(w, zz); }
bool get_timestamp_dod(BitReader& r, std::uint64_t& zz) { return TimestampBuckets::get(r, zz); }
void put_decimal(BitWriter& w, std::uint64_t zz) { DecimalBuckets::put(w, zz); }
bool get_decimal(BitReader& r, std::uint64_t& zz) { return DecimalBuckets::get(r, zz); }

// How a run's timestamps after the first are written: each delta's change from the
// previous delta (Gorilla's delta-of-delta), or, when the run keeps to a schedule with
// jitter, each delta's difference from the run's usual step (half the range).
struct TimestampPlan {
  bool grid = false;
  std::uint64_t step = 0;

  // The header's varint: 0 for delta-of-delta, else 1 + the step (zigzag).
  std::uint64_t header() const { return grid ? 1 + zigzag(step) : 0; }

  static TimestampPlan cheapest(std::span<const Sample> run) {
    if (run.size() < 3) return {};
    std::vector<std::uint64_t> deltas;
    deltas.reserve(run.size() - 1);
    for (std::size_t i = 1; i < run.size(); ++i)
      deltas.push_back(static_cast<std::uint64_t>(run[i].ts_ms) -
                       static_cast<std::uint64_t>(run[i - 1].ts_ms));
    std::vector<std::uint64_t> sorted = deltas;
    std::nth_element(sorted.begin(),
                     sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
    const TimestampPlan grid{true, sorted[sorted.size() / 2]};
    std::size_t dod_bits = 0;
    std::size_t grid_bits = 0;
    std::uint64_t previous = 0;
    for (const std::uint64_t d : deltas) {
      dod_bits += static_cast<std::size_t>(TimestampBuckets::cost(zigzag(d - previous)));
      grid_bits += static_cast<std::size_t>(TimestampBuckets::cost(zigzag(d - grid.step)));
      previous = d;
    }
    return grid_bits + 16 < dod_bits ? grid : TimestampPlan{};
  }
};

// The timestamp of a run's sample after the first.
void put_timestamps(BitWriter& w, const TimestampPlan& plan, std::uint64_t prev,
                    std::uint64_t& prev_delta, std::uint64_t ts) {
  const std::uint64_t delta = ts - prev;
  put_timestamp_dod(w, zigzag(delta - (plan.grid ? plan.step : prev_delta)));
  prev_delta = delta;
}

// The smallest d (0..6) for which every value is k / 10^d exactly, -1 if none.
int decimals_of(std::span<const Sample> run) {
  for (int d = 0; d <= kMaxDecimals; ++d) {
    bool all = true;
    for (const Sample& s : run) {
      const double x = s.value * kPow10[d];
      if (!(std::fabs(x) < kTwoTo53)) {
        all = false;
        break;
      }
      const auto k = static_cast<std::int64_t>(std::nearbyint(x));
      const double back = static_cast<double>(k) / kPow10[d];
      if (std::bit_cast<std::uint64_t>(back) != std::bit_cast<std::uint64_t>(s.value)) {
        all = false;
        break;
      }
    }
    if (all) return d;
  }
  return -1;
}

// One series' stream (every sample after the first) and its first value's bytes.
struct Encoded {
  int mode = kModeXor;
  std::string first;
  std::string stream;
  std::size_t size() const { return first.size() + stream.size(); }
};

Encoded encode_xor(std::span<const Sample> run, const TimestampPlan& plan) {
  Encoded e;
  e.mode = kModeXor;
  std::uint64_t prev = std::bit_cast<std::uint64_t>(run[0].value);
  char bytes[sizeof prev];
  std::memcpy(bytes, &prev, sizeof bytes);
  e.first.assign(bytes, sizeof bytes);
  BitWriter w;
  auto prev_ts = static_cast<std::uint64_t>(run[0].ts_ms);
  std::uint64_t prev_delta = 0;
  bits::XorWriter values(prev);
  for (std::size_t i = 1; i < run.size(); ++i) {
    put_timestamps(w, plan, prev_ts, prev_delta, static_cast<std::uint64_t>(run[i].ts_ms));
    prev_ts = static_cast<std::uint64_t>(run[i].ts_ms);
    values.put(w, std::bit_cast<std::uint64_t>(run[i].value));
  }
  e.stream = w.finish();
  return e;
}

Encoded encode_decimal(std::span<const Sample> run, const TimestampPlan& plan, int decimals,
                       bool delta_of_delta) {
  Encoded e;
  e.mode = 1 + 2 * decimals + (delta_of_delta ? 1 : 0);
  const auto k_of = [&](double v) {
    return static_cast<std::uint64_t>(
        static_cast<std::int64_t>(std::nearbyint(v * kPow10[decimals])));
  };
  std::uint64_t prev = k_of(run[0].value);
  put_varint(e.first, zigzag(prev));
  BitWriter w;
  auto prev_ts = static_cast<std::uint64_t>(run[0].ts_ms);
  std::uint64_t prev_ts_delta = 0;
  std::uint64_t prev_delta = 0;
  for (std::size_t i = 1; i < run.size(); ++i) {
    put_timestamps(w, plan, prev_ts, prev_ts_delta, static_cast<std::uint64_t>(run[i].ts_ms));
    prev_ts = static_cast<std::uint64_t>(run[i].ts_ms);
    const std::uint64_t k = k_of(run[i].value);
    const std::uint64_t delta = k - prev;
    put_decimal(w, zigzag(delta_of_delta ? delta - prev_delta : delta));
    prev_delta = delta;
    prev = k;
  }
  e.stream = w.finish();
  return e;
}

void encode_run(std::string& out, std::span<const Sample> run, std::int64_t base_ms) {
  const TimestampPlan plan = TimestampPlan::cheapest(run);
  Encoded best = encode_xor(run, plan);
  if (const int d = decimals_of(run); d >= 0) {
    for (bool dod : {false, true}) {
      Encoded e = encode_decimal(run, plan, d, dod);
      if (e.size() < best.size()) best = std::move(e);
    }
  }
  put_varint(out, run.size());
  put_varint(
      out, zigzag(static_cast<std::uint64_t>(run[0].ts_ms) - static_cast<std::uint64_t>(base_ms)));
  put_varint(out, plan.header());
  put_varint(out, static_cast<std::uint64_t>(best.mode));
  out += best.first;
  put_varint(out, best.stream.size());
  out += best.stream;
}

Status corrupt(const char* what) {
  return {Code::kCorruption, std::string("sample block: ") + what};
}

// One series of an encoding-2 block, its id already read: appends its samples to `out`
// when `keep`, else skips its bytes.
Status decode_run(std::string_view& in, std::int64_t base_ms, std::int64_t series, bool keep,
                  std::vector<Sample>& out) {
  std::uint64_t count = 0;
  std::uint64_t first_ts = 0;
  std::uint64_t ts_header = 0;
  std::uint64_t mode = 0;
  if (!get_varint(in, count) || !get_varint(in, first_ts) || !get_varint(in, ts_header) ||
      !get_varint(in, mode))
    return corrupt("truncated");
  const bool grid = ts_header != 0;
  const std::uint64_t step = grid ? unzigzag(ts_header - 1) : 0;
  if (count == 0) return corrupt("empty series");
  if (mode > 2 * kMaxDecimals + 2) return corrupt("unknown value mode");
  std::uint64_t first_value = 0;
  if (mode == kModeXor) {
    if (in.size() < sizeof first_value) return corrupt("truncated");
    std::memcpy(&first_value, in.data(), sizeof first_value);
    in.remove_prefix(sizeof first_value);
  } else if (!get_varint(in, first_value)) {
    return corrupt("truncated");
  }
  std::uint64_t length = 0;
  if (!get_varint(in, length) || length > in.size()) return corrupt("truncated");
  const std::string_view stream = in.substr(0, length);
  in.remove_prefix(length);
  // Each later sample takes two bits at least: a count past that is damage.
  if (count - 1 > length * 4) return corrupt("more samples than bits");
  if (!keep) return Status::ok();

  out.reserve(out.size() + count);
  BitReader r(stream);
  auto ts = static_cast<std::uint64_t>(base_ms) + unzigzag(first_ts);
  std::uint64_t ts_delta = 0;
  if (mode == kModeXor) {
    bits::XorReader values(first_value);
    out.push_back({series, static_cast<std::int64_t>(ts), std::bit_cast<double>(values.bits())});
    for (std::uint64_t i = 1; i < count; ++i) {
      std::uint64_t dod = 0;
      if (!get_timestamp_dod(r, dod)) return corrupt("truncated timestamps");
      ts_delta = (grid ? step : ts_delta) + unzigzag(dod);
      ts += ts_delta;
      if (const char* wrong = values.next(r)) return corrupt(wrong);
      out.push_back({series, static_cast<std::int64_t>(ts), std::bit_cast<double>(values.bits())});
    }
    return Status::ok();
  }
  const int decimals = static_cast<int>((mode - 1) / 2);
  const bool delta_of_delta = (mode - 1) % 2 == 1;
  std::uint64_t k = unzigzag(first_value);
  const auto value_of = [&](std::uint64_t kk) {
    return static_cast<double>(static_cast<std::int64_t>(kk)) / kPow10[decimals];
  };
  out.push_back({series, static_cast<std::int64_t>(ts), value_of(k)});
  std::uint64_t delta = 0;
  for (std::uint64_t i = 1; i < count; ++i) {
    std::uint64_t dod = 0;
    if (!get_timestamp_dod(r, dod)) return corrupt("truncated timestamps");
    ts_delta = (grid ? step : ts_delta) + unzigzag(dod);
    ts += ts_delta;
    std::uint64_t zz = 0;
    if (!get_decimal(r, zz)) return corrupt("truncated values");
    delta = delta_of_delta ? delta + unzigzag(zz) : unzigzag(zz);
    k += delta;
    out.push_back({series, static_cast<std::int64_t>(ts), value_of(k)});
  }
  return Status::ok();
}

Status decode_per_series(std::string_view in, std::int64_t base_ms, bool one, std::int64_t wanted,
                         std::vector<Sample>& out) {
  std::uint64_t series_count = 0;
  if (!get_varint(in, series_count)) return corrupt("truncated");
  if (series_count > in.size()) return corrupt("more series than bytes");
  std::uint64_t series = 0;
  for (std::uint64_t i = 0; i < series_count; ++i) {
    std::uint64_t delta = 0;
    if (!get_varint(in, delta)) return corrupt("truncated");
    series += delta;
    const auto id = static_cast<std::int64_t>(series);
    if (Status s = decode_run(in, base_ms, id, !one || id == wanted, out); !s) return s;
  }
  if (!in.empty()) return corrupt("bytes after the last series");
  return Status::ok();
}

Status decode_per_report(std::string_view block, std::int64_t base_ms, bool one,
                         std::int64_t wanted, std::vector<Sample>& out) {
  while (!block.empty()) {
    std::uint64_t series = 0;
    std::uint64_t delta = 0;
    if (!get_varint(block, series) || !get_varint(block, delta) || block.size() < sizeof(double))
      return corrupt("truncated");
    Sample s;
    s.series = static_cast<std::int64_t>(series);
    s.ts_ms = static_cast<std::int64_t>(static_cast<std::uint64_t>(base_ms) + delta);
    std::memcpy(&s.value, block.data(), sizeof(double));
    block.remove_prefix(sizeof(double));
    if (!one || s.series == wanted) out.push_back(s);
  }
  return Status::ok();
}

Status decode(std::string_view block, std::int64_t base_ms, bool one, std::int64_t wanted,
              std::vector<Sample>& out) {
  if (block.empty()) return corrupt("unknown version");
  const char version = block.front();
  block.remove_prefix(1);
  if (version == kPerReport) return decode_per_report(block, base_ms, one, wanted, out);
  if (version == kPerSeries) return decode_per_series(block, base_ms, one, wanted, out);
  return corrupt("unknown version");
}

}  // namespace

std::string encode_samples(const std::vector<Sample>& samples, std::int64_t base_ms) {
  static_assert(std::endian::native == std::endian::little, "blocks are little-endian");
  std::string out;
  out.reserve(1 + samples.size() * 14);
  out += kPerReport;
  for (const auto& s : samples) {
    put_varint(out, static_cast<std::uint64_t>(s.series));
    put_varint(out, static_cast<std::uint64_t>(s.ts_ms) - static_cast<std::uint64_t>(base_ms));
    char bytes[sizeof(double)];
    std::memcpy(bytes, &s.value, sizeof bytes);
    out.append(bytes, sizeof bytes);
  }
  return out;
}

std::string encode_series_block(std::vector<Sample>& samples, std::int64_t base_ms) {
  std::stable_sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
    return a.series != b.series ? a.series < b.series : a.ts_ms < b.ts_ms;
  });
  std::string out;
  out += kPerSeries;
  std::uint64_t series_count = 0;
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (i == 0 || samples[i].series != samples[i - 1].series) ++series_count;
  put_varint(out, series_count);
  std::uint64_t previous = 0;
  for (std::size_t start = 0; start < samples.size();) {
    std::size_t end = start + 1;
    while (end < samples.size() && samples[end].series == samples[start].series) ++end;
    const auto id = static_cast<std::uint64_t>(samples[start].series);
    put_varint(out, id - previous);
    previous = id;
    encode_run(out, std::span<const Sample>(samples).subspan(start, end - start), base_ms);
    start = end;
  }
  return out;
}

Status decode_samples(std::string_view block, std::int64_t base_ms, std::vector<Sample>& out) {
  return decode(block, base_ms, false, 0, out);
}

Status decode_series(std::string_view block, std::int64_t base_ms, std::int64_t series,
                     std::vector<Sample>& out) {
  return decode(block, base_ms, true, series, out);
}

}  // namespace vigie::collector
