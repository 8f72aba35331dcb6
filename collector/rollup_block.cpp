#include "collector/rollup_block.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <span>

#include "collector/bit_codec.hpp"

namespace vigie::collector {
namespace {

using bits::BitReader;
using bits::BitWriter;
using bits::Frame;
using bits::get_varint;
using bits::put_varint;
using bits::unzigzag;
using bits::zigzag;
using DecimalBuckets = bits::DecimalBuckets;

// Encoding 1 wrote each column on its own (decimals in prefix buckets); encoding 2
// writes the k's of decimal buckets as integer columns, in frames, relative to another.
constexpr char kColumnsAlone = 1;
constexpr char kIntegerColumns = 2;
constexpr std::uint64_t kModeXor = 0;
constexpr std::uint64_t kConstant = 64;
constexpr std::uint64_t kSameAsMin = 127;  // max or sum: the min column's values
constexpr int kMaxDecimals = 6;
constexpr double kPow10[kMaxDecimals + 1] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
constexpr double kTwoTo53 = 9007199254740992.0;
constexpr std::int64_t kDayMs = 86'400'000;
// More slots than any span holds (a week of 5-minute buckets is 2,016).
constexpr std::uint64_t kMaxSlots = 1 << 16;

std::uint64_t bits_of(double v) { return std::bit_cast<std::uint64_t>(v); }

// k when v is exactly k / 10^d with |k| < 2^53.
bool decimal_k(double v, int d, std::int64_t& k) {
  const double x = v * kPow10[d];
  if (!(std::fabs(x) < kTwoTo53)) return false;
  k = static_cast<std::int64_t>(std::nearbyint(x));
  return bits_of(static_cast<double>(k) / kPow10[d]) == bits_of(v);
}

int decimals_of(std::span<const double> values) {
  for (int d = 0; d <= kMaxDecimals; ++d) {
    bool all = true;
    for (const double v : values) {
      std::int64_t k = 0;
      if (!decimal_k(v, d, k)) {
        all = false;
        break;
      }
    }
    if (all) return d;
  }
  return -1;
}

std::string xor_column(std::span<const double> values) {
  std::string out;
  put_varint(out, kModeXor);
  std::uint64_t prev = bits_of(values[0]);
  char bytes[sizeof prev];
  std::memcpy(bytes, &prev, sizeof bytes);
  out.append(bytes, sizeof bytes);
  BitWriter w;
  bits::XorWriter xor_writer(prev);
  for (std::size_t i = 1; i < values.size(); ++i) xor_writer.put(w, bits_of(values[i]));
  const std::string stream = w.finish();
  put_varint(out, stream.size());
  out += stream;
  return out;
}

std::string decimal_column(std::span<const double> values, int d, bool delta_of_delta) {
  std::string out;
  put_varint(out, static_cast<std::uint64_t>(1 + 2 * d + (delta_of_delta ? 1 : 0)));
  const auto k_of = [&](double v) {
    std::int64_t k = 0;
    decimal_k(v, d, k);
    return static_cast<std::uint64_t>(k);
  };
  std::uint64_t prev = k_of(values[0]);
  put_varint(out, zigzag(prev));
  BitWriter w;
  std::uint64_t prev_delta = 0;
  for (std::size_t i = 1; i < values.size(); ++i) {
    const std::uint64_t k = k_of(values[i]);
    const std::uint64_t delta = k - prev;
    DecimalBuckets::put(w, zigzag(delta_of_delta ? delta - prev_delta : delta));
    prev_delta = delta;
    prev = k;
  }
  const std::string stream = w.finish();
  put_varint(out, stream.size());
  out += stream;
  return out;
}

void put_column(std::string& out, std::span<const double> values) {
  const int d = decimals_of(values);
  bool constant = true;
  for (const double v : values) constant = constant && bits_of(v) == bits_of(values[0]);
  if (constant) {
    if (d >= 0) {
      std::int64_t k = 0;
      decimal_k(values[0], d, k);
      put_varint(out, kConstant + 1 + 2 * static_cast<std::uint64_t>(d));
      put_varint(out, zigzag(static_cast<std::uint64_t>(k)));
    } else {
      put_varint(out, kConstant + kModeXor);
      char bytes[sizeof(double)];
      std::memcpy(bytes, &values[0], sizeof bytes);
      out.append(bytes, sizeof bytes);
    }
    return;
  }
  std::string best = xor_column(values);
  if (d >= 0) {
    for (bool dod : {false, true}) {
      std::string e = decimal_column(values, d, dod);
      if (e.size() < best.size()) best = std::move(e);
    }
  }
  out += best;
}

// Encoding 2's integer columns: how the x's after the first are written.
enum class Kind : std::uint64_t {
  kConstant = 0,      // every x is the first
  kDelta = 1,         // x's change, in decimal buckets
  kDeltaOfDelta = 2,  // the change's change (counters)
  kFrame = 3,         // x in a frame of reference
  kFrameOfDeltas = 4  // x's change in a frame (a counter whose rate wavers)
};
constexpr std::uint64_t kLastKind = 4;
// Added to the kind: the column is relative to another (below).
constexpr std::uint64_t kRelative = 8;

// The cheapest way to write `xs`, and its bits (header included).
struct IntPlan {
  Kind kind = Kind::kConstant;
  Frame frame;
  std::size_t bits = 0;
};

// A column's cheapest plan, its x's absolute or `relative` (when given): exact costs for
// a constant, deltas and delta-of-delta of both; a frame searched for the one sequence
// (of x's or of their changes) whose middle 90 % is narrowest, as the search is most of
// the encoder's time.
struct Choice {
  IntPlan plan{Kind::kConstant, {}, SIZE_MAX};
  bool relative = false;
};

Choice cheapest_column(const std::vector<std::uint64_t>& absolute,
                       const std::vector<std::uint64_t>* relative) {
  Choice best;
  struct Candidate {
    std::vector<std::int64_t> values;  // x's or changes, as signed numbers
    Kind kind;
    bool relative;
    std::size_t head;
  };
  std::vector<Candidate> frames;
  for (const bool is_relative : {false, true}) {
    const std::vector<std::uint64_t>* xs = is_relative ? relative : &absolute;
    if (xs == nullptr) continue;
    const auto consider = [&](const IntPlan& plan) {
      if (plan.bits < best.plan.bits) best = {plan, is_relative};
    };
    const std::size_t head = 8 * (1 + bits::varint_bytes(zigzag((*xs)[0])));
    if (std::all_of(xs->begin(), xs->end(), [&](std::uint64_t x) { return x == (*xs)[0]; })) {
      consider({Kind::kConstant, {}, head});
      continue;
    }
    // The stream's length: a byte or two.
    const std::size_t stream_head = head + 16;
    std::vector<std::uint64_t> later(xs->begin() + 1, xs->end());
    std::vector<std::uint64_t> deltas(later.size());
    std::size_t delta_bits = stream_head;
    std::size_t dod_bits = stream_head;
    std::uint64_t prev_delta = 0;
    for (std::size_t i = 1; i < xs->size(); ++i) {
      const std::uint64_t delta = (*xs)[i] - (*xs)[i - 1];
      deltas[i - 1] = delta;
      delta_bits += static_cast<std::size_t>(DecimalBuckets::cost(zigzag(delta)));
      dod_bits += static_cast<std::size_t>(DecimalBuckets::cost(zigzag(delta - prev_delta)));
      prev_delta = delta;
    }
    consider({Kind::kDelta, {}, delta_bits});
    consider({Kind::kDeltaOfDelta, {}, dod_bits});
    // A frame takes a bit a value at least, and its header: none can win when the
    // changes cost about as little (a gauge that seldom moves).
    if (std::min(delta_bits, dod_bits) <= stream_head + later.size() + 8) continue;
    const auto as_signed = [](const std::vector<std::uint64_t>& v) {
      return std::vector<std::int64_t>(v.begin(), v.end());
    };
    frames.push_back({as_signed(later), Kind::kFrame, is_relative, stream_head});
    frames.push_back({as_signed(deltas), Kind::kFrameOfDeltas, is_relative, stream_head});
  }
  Candidate* pick = nullptr;
  std::size_t pick_estimate = SIZE_MAX;
  for (Candidate& c : frames) {
    const std::size_t estimate = c.head + bits::frame_estimate(c.values);
    if (estimate < pick_estimate) {
      pick = &c;
      pick_estimate = estimate;
    }
  }
  if (pick != nullptr) {
    std::sort(pick->values.begin(), pick->values.end());
    std::size_t bits = 0;
    const Frame frame = bits::cheapest_frame_of(pick->values, bits);
    if (bits != SIZE_MAX && pick->head + bits < best.plan.bits)
      best = {{pick->kind, frame, pick->head + bits}, pick->relative};
  }
  return best;
}

void put_ints(std::string& out, const std::vector<std::uint64_t>& xs, const IntPlan& plan,
              bool relative) {
  put_varint(out, static_cast<std::uint64_t>(plan.kind) + (relative ? kRelative : 0));
  put_varint(out, zigzag(xs[0]));
  if (plan.kind == Kind::kConstant) return;
  const bool framed = plan.kind == Kind::kFrame || plan.kind == Kind::kFrameOfDeltas;
  if (framed) put_varint(out, plan.frame.header());
  BitWriter w;
  std::uint64_t prev_delta = 0;
  for (std::size_t i = 1; i < xs.size(); ++i) {
    const std::uint64_t delta = xs[i] - xs[i - 1];
    switch (plan.kind) {
      case Kind::kDelta: DecimalBuckets::put(w, zigzag(delta)); break;
      case Kind::kDeltaOfDelta: DecimalBuckets::put(w, zigzag(delta - prev_delta)); break;
      case Kind::kFrame: plan.frame.put(&w, xs[i]); break;
      case Kind::kFrameOfDeltas: plan.frame.put(&w, delta); break;
      case Kind::kConstant: break;
    }
    prev_delta = delta;
  }
  const std::string stream = w.finish();
  put_varint(out, stream.size());
  out += stream;
}

// Writes the cheapest of `absolute` and `relative` (when given).
void put_cheapest(std::string& out, const std::vector<std::uint64_t>& absolute,
                  const std::vector<std::uint64_t>* relative) {
  const Choice choice = cheapest_column(absolute, relative);
  put_ints(out, choice.relative ? *relative : absolute, choice.plan, choice.relative);
}

Status corrupt(const char* what) {
  return {Code::kCorruption, std::string("rollup block: ") + what};
}

// One column of `count` values into values[0..count).
Status get_column(std::string_view& in, std::size_t count, std::vector<double>& values) {
  values.clear();
  std::uint64_t mode = 0;
  if (!get_varint(in, mode)) return corrupt("truncated");
  const bool constant = mode >= kConstant;
  if (constant) mode -= kConstant;
  if (mode > 2 * kMaxDecimals + 2) return corrupt("unknown column mode");
  std::uint64_t first = 0;
  if (mode == kModeXor) {
    if (in.size() < sizeof first) return corrupt("truncated");
    std::memcpy(&first, in.data(), sizeof first);
    in.remove_prefix(sizeof first);
  } else if (!get_varint(in, first)) {
    return corrupt("truncated");
  }
  const int decimals = static_cast<int>((mode - 1) / 2);
  const auto value_of = [&](std::uint64_t k) {
    return static_cast<double>(static_cast<std::int64_t>(k)) / kPow10[decimals];
  };
  if (constant) {
    values.assign(count,
                  mode == kModeXor ? std::bit_cast<double>(first) : value_of(unzigzag(first)));
    return Status::ok();
  }
  std::uint64_t length = 0;
  if (!get_varint(in, length) || length > in.size()) return corrupt("truncated");
  const std::string_view stream = in.substr(0, length);
  in.remove_prefix(length);
  // Each later value takes a bit at least.
  if (count - 1 > length * 8) return corrupt("more values than bits");
  values.reserve(count);
  BitReader r(stream);
  if (mode == kModeXor) {
    bits::XorReader xor_reader(first);
    values.push_back(std::bit_cast<double>(xor_reader.bits()));
    for (std::size_t i = 1; i < count; ++i) {
      if (const char* wrong = xor_reader.next(r)) return corrupt(wrong);
      values.push_back(std::bit_cast<double>(xor_reader.bits()));
    }
    return Status::ok();
  }
  const bool delta_of_delta = (mode - 1) % 2 == 1;
  std::uint64_t k = unzigzag(first);
  values.push_back(value_of(k));
  std::uint64_t delta = 0;
  for (std::size_t i = 1; i < count; ++i) {
    std::uint64_t zz = 0;
    if (!DecimalBuckets::get(r, zz)) return corrupt("truncated values");
    delta = delta_of_delta ? delta + unzigzag(zz) : unzigzag(zz);
    k += delta;
    values.push_back(value_of(k));
  }
  return Status::ok();
}

// One integer column of `count` x's; `relative` says whether it is written relative to
// another column (refused unless `may_be_relative`).
Status get_ints(std::string_view& in, std::size_t count, bool may_be_relative,
                std::vector<std::uint64_t>& xs, bool& relative) {
  xs.clear();
  std::uint64_t mode = 0;
  std::uint64_t first = 0;
  if (!get_varint(in, mode) || !get_varint(in, first)) return corrupt("truncated");
  relative = (mode & kRelative) != 0;
  mode &= ~kRelative;
  if (mode > kLastKind || (relative && !may_be_relative)) return corrupt("unknown column mode");
  const auto kind = static_cast<Kind>(mode);
  std::uint64_t x = unzigzag(first);
  if (kind == Kind::kConstant) {
    xs.assign(count, x);
    return Status::ok();
  }
  Frame frame;
  if (kind == Kind::kFrame || kind == Kind::kFrameOfDeltas) {
    std::uint64_t header = 0;
    if (!get_varint(in, header)) return corrupt("truncated");
    if (!Frame::from_header(header, frame)) return corrupt("bad frame");
  }
  std::uint64_t length = 0;
  if (!get_varint(in, length) || length > in.size()) return corrupt("truncated");
  const std::string_view stream = in.substr(0, length);
  in.remove_prefix(length);
  // Each later x takes a bit at least.
  if (count - 1 > length * 8) return corrupt("more values than bits");
  xs.reserve(count);
  xs.push_back(x);
  BitReader r(stream);
  std::uint64_t delta = 0;
  for (std::size_t i = 1; i < count; ++i) {
    std::uint64_t v = 0;
    const bool read = kind == Kind::kFrame || kind == Kind::kFrameOfDeltas
                          ? frame.get(r, v)
                          : DecimalBuckets::get(r, v);
    if (!read) return corrupt("truncated values");
    switch (kind) {
      case Kind::kDelta: delta = unzigzag(v); break;
      case Kind::kDeltaOfDelta: delta += unzigzag(v); break;
      case Kind::kFrame: delta = v - x; break;
      case Kind::kFrameOfDeltas: delta = v; break;
      case Kind::kConstant: break;
    }
    x += delta;
    xs.push_back(x);
  }
  return Status::ok();
}

}  // namespace

void merge_bucket(RollupBucket& into, const RollupBucket& add) {
  into.min = std::min(into.min, add.min);
  into.max = std::max(into.max, add.max);
  into.sum = sum_exactly(into.sum, add.sum);
  into.n += add.n;
}

void merge_buckets(std::vector<RollupBucket>& into, const std::vector<RollupBucket>& add) {
  if (add.empty()) return;
  std::vector<RollupBucket> out;
  out.reserve(into.size() + add.size());
  auto a = into.begin();
  auto b = add.begin();
  while (a != into.end() || b != add.end()) {
    if (b == add.end() || (a != into.end() && a->ts_ms < b->ts_ms)) {
      out.push_back(*a++);
    } else if (a == into.end() || b->ts_ms < a->ts_ms) {
      out.push_back(*b++);
    } else {
      out.push_back(*a++);
      merge_bucket(out.back(), *b++);
    }
  }
  into = std::move(out);
}

void add_sample(std::map<std::int64_t, RollupBucket>& buckets, std::int64_t width,
                std::int64_t ts_ms, double value) {
  const std::int64_t start = bucket_of(ts_ms, width);
  const RollupBucket one{start, value, value, value, 1};
  auto [it, fresh] = buckets.try_emplace(start, one);
  if (!fresh) merge_bucket(it->second, one);
}

std::int64_t rollup_span(std::int64_t width_ms) {
  if (width_ms == 300'000) return kDayMs;
  if (width_ms == 3'600'000) return 7 * kDayMs;
  if (width_ms == kDayMs) return 128 * kDayMs;
  return 256 * width_ms;
}

std::string encode_rollups(const std::vector<RollupBucket>& buckets, std::int64_t start_ms,
                           std::int64_t width_ms) {
  std::string out;
  out += kIntegerColumns;
  const auto slot_of = [&](const RollupBucket& b) {
    return (static_cast<std::uint64_t>(b.ts_ms) - static_cast<std::uint64_t>(start_ms)) /
           static_cast<std::uint64_t>(width_ms);
  };
  const std::uint64_t first = slot_of(buckets.front());
  const std::uint64_t slots = slot_of(buckets.back()) - first + 1;
  put_varint(out, first);
  put_varint(out, slots);
  put_varint(out, buckets.size());
  if (slots != buckets.size()) {
    std::string bitmap((slots + 7) / 8, '\0');
    for (const RollupBucket& b : buckets) {
      const std::uint64_t i = slot_of(b) - first;
      bitmap[i / 8] = static_cast<char>(bitmap[i / 8] | (1 << (i % 8)));
    }
    out += bitmap;
  }
  const std::size_t count = buckets.size();
  std::vector<double> values;
  values.reserve(3 * count);
  for (const RollupBucket& b : buckets) values.insert(values.end(), {b.min, b.max, b.sum});
  const int d = decimals_of(values);
  if (d < 0) {
    // Not all decimals of one precision: each column on its own, as encoding 1 wrote them.
    put_varint(out, 0);
    std::vector<double> column(count);
    std::vector<double> min(count);
    const auto put = [&](auto field, bool may_be_min) {
      for (std::size_t i = 0; i < count; ++i) column[i] = field(buckets[i]);
      if (may_be_min && std::equal(column.begin(), column.end(), min.begin(),
                                   [](double a, double b) { return bits_of(a) == bits_of(b); })) {
        put_varint(out, kSameAsMin);
        return;
      }
      put_column(out, column);
    };
    for (std::size_t i = 0; i < count; ++i) min[i] = buckets[i].min;
    put([](const RollupBucket& b) { return static_cast<double>(b.n); }, false);
    put_column(out, min);
    // A bucket of one sample, or of equal ones: its max, and its sum when n is 1, are
    // its min (a series polled every 5 minutes in the 5-minute tier).
    put([](const RollupBucket& b) { return b.max; }, true);
    put([](const RollupBucket& b) { return b.sum; }, true);
    return out;
  }
  put_varint(out, static_cast<std::uint64_t>(d) + 1);
  const auto k_of = [&](double v) {
    std::int64_t k = 0;
    decimal_k(v, d, k);
    return static_cast<std::uint64_t>(k);
  };
  std::vector<std::uint64_t> n(count), min(count), max(count), sum(count);
  for (std::size_t i = 0; i < count; ++i) {
    n[i] = static_cast<std::uint64_t>(buckets[i].n);
    min[i] = k_of(buckets[i].min);
    max[i] = k_of(buckets[i].max);
    sum[i] = k_of(buckets[i].sum);
  }
  // Each of min, max and sum also relative to what it is near: a bucket's min to the
  // max before it (a counter: one step on), its max to its min (a bucket's spread),
  // its sum to n times its min. Unsigned arithmetic, exact modulo 2^64 both ways.
  std::vector<std::uint64_t> near(count);
  put_cheapest(out, n, nullptr);
  for (std::size_t i = 0; i < count; ++i) near[i] = i == 0 ? min[0] : min[i] - max[i - 1];
  put_cheapest(out, min, &near);
  for (std::size_t i = 0; i < count; ++i) near[i] = max[i] - min[i];
  put_cheapest(out, max, &near);
  for (std::size_t i = 0; i < count; ++i) near[i] = sum[i] - n[i] * min[i];
  put_cheapest(out, sum, &near);
  return out;
}

namespace {

// Encoding 1's columns, and encoding 2's when not all decimals of one precision.
Status get_columns_alone(std::string_view& in, std::size_t count, std::vector<double>& n,
                         std::vector<double>& min, std::vector<double>& max,
                         std::vector<double>& sum) {
  for (std::vector<double>* column : {&n, &min, &max, &sum}) {
    if ((column == &max || column == &sum) && !in.empty() &&
        static_cast<unsigned char>(in.front()) == kSameAsMin) {
      in.remove_prefix(1);
      *column = min;
      continue;
    }
    if (Status s = get_column(in, count, *column); !s) return s;
  }
  return Status::ok();
}

// Encoding 2's integer columns, the k's of decimals with `d` places.
Status get_integer_columns(std::string_view& in, std::size_t count, int d, std::vector<double>& n,
                           std::vector<double>& min, std::vector<double>& max,
                           std::vector<double>& sum) {
  std::vector<std::uint64_t> xn, xmin, xmax, xsum;
  bool relative[4] = {};
  if (Status s = get_ints(in, count, false, xn, relative[0]); !s) return s;
  if (Status s = get_ints(in, count, true, xmin, relative[1]); !s) return s;
  if (Status s = get_ints(in, count, true, xmax, relative[2]); !s) return s;
  if (Status s = get_ints(in, count, true, xsum, relative[3]); !s) return s;
  const auto value_of = [&](std::uint64_t k) {
    return static_cast<double>(static_cast<std::int64_t>(k)) / kPow10[d];
  };
  n.resize(count);
  min.resize(count);
  max.resize(count);
  sum.resize(count);
  std::uint64_t prev_max = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t k_min = relative[1] && i > 0 ? prev_max + xmin[i] : xmin[i];
    const std::uint64_t k_max = relative[2] ? k_min + xmax[i] : xmax[i];
    const std::uint64_t k_sum = relative[3] ? xn[i] * k_min + xsum[i] : xsum[i];
    prev_max = k_max;
    n[i] = static_cast<double>(static_cast<std::int64_t>(xn[i]));
    min[i] = value_of(k_min);
    max[i] = value_of(k_max);
    sum[i] = value_of(k_sum);
  }
  return Status::ok();
}

}  // namespace

Status decode_rollups(std::string_view in, std::int64_t start_ms, std::int64_t width_ms,
                      std::vector<RollupBucket>& out) {
  if (in.empty() || (in.front() != kColumnsAlone && in.front() != kIntegerColumns))
    return corrupt("unknown encoding");
  const char encoding = in.front();
  in.remove_prefix(1);
  std::uint64_t first = 0;
  std::uint64_t slots = 0;
  std::uint64_t count = 0;
  if (!get_varint(in, first) || !get_varint(in, slots) || !get_varint(in, count))
    return corrupt("truncated");
  if (slots == 0 || slots > kMaxSlots || first > kMaxSlots) return corrupt("bad slot range");
  if (count == 0 || count > slots) return corrupt("bad bucket count");
  std::vector<std::int64_t> times;
  times.reserve(count);
  // Unsigned: wraps instead of overflowing on a start far from any real one.
  const auto time_of = [&](std::uint64_t slot) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(start_ms) +
                                     slot * static_cast<std::uint64_t>(width_ms));
  };
  if (count == slots) {
    for (std::uint64_t i = 0; i < slots; ++i) times.push_back(time_of(first + i));
  } else {
    const std::uint64_t bytes = (slots + 7) / 8;
    if (in.size() < bytes) return corrupt("truncated bitmap");
    for (std::uint64_t i = 0; i < slots; ++i) {
      if (static_cast<unsigned char>(in[i / 8]) & (1u << (i % 8)))
        times.push_back(time_of(first + i));
    }
    in.remove_prefix(bytes);
    if (times.size() != count) return corrupt("bitmap and bucket count differ");
  }
  std::uint64_t layout = 0;  // encoding 2: 0, columns alone; else the decimals + 1
  if (encoding == kIntegerColumns && !get_varint(in, layout)) return corrupt("truncated");
  if (layout > kMaxDecimals + 1) return corrupt("bad decimals");
  std::vector<double> n, min, max, sum;
  if (Status s = layout == 0 ? get_columns_alone(in, count, n, min, max, sum)
                             : get_integer_columns(in, count, static_cast<int>(layout - 1), n, min,
                                                   max, sum);
      !s)
    return s;
  if (!in.empty()) return corrupt("bytes after the last column");
  for (const double c : n) {
    if (!(c >= 1 && c < kTwoTo53) || c != std::floor(c)) return corrupt("bad bucket count n");
  }
  out.reserve(out.size() + count);
  for (std::size_t i = 0; i < count; ++i)
    out.push_back({times[i], min[i], max[i], sum[i], static_cast<std::int64_t>(n[i])});
  return Status::ok();
}

double sum_exactly(double a, double b) {
  std::int64_t ka = 0;
  std::int64_t kb = 0;
  if (decimal_k(a, kMaxDecimals, ka) && decimal_k(b, kMaxDecimals, kb)) {
    const std::int64_t k = ka + kb;  // |ka|, |kb| < 2^53: no overflow
    if (k > -9007199254740992LL && k < 9007199254740992LL)
      return static_cast<double>(k) / kPow10[kMaxDecimals];
  }
  return a + b;
}

}  // namespace vigie::collector
