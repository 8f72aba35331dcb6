#pragma once
// The bit-level pieces of the packed sample and rollup forms (sample_block.hpp,
// rollup_block.hpp): LEB128 varints, zigzag, a most-significant-first bit stream,
// numbers in prefix buckets, and Gorilla's XORed floats. Internal to those two encoders.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigie::collector::bits {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

inline bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

// Signed differences travel as unsigned (two's complement wrap-around: exact for any
// pair of int64), zigzagged so that small negatives stay small.
inline std::uint64_t zigzag(std::uint64_t v) {
  return (v << 1) ^ static_cast<std::uint64_t>(static_cast<std::int64_t>(v) >> 63);
}
inline std::uint64_t unzigzag(std::uint64_t v) { return (v >> 1) ^ (~(v & 1) + 1); }

class BitWriter {
 public:
  // The low `bits` bits of v, most significant first (bits <= 64).
  void put(std::uint64_t v, int bits) {
    while (bits > 0) {
      const int room = 8 - used_;
      const int take = std::min(room, bits);
      const auto chunk = static_cast<unsigned>((v >> (bits - take)) & ((1u << take) - 1));
      current_ = static_cast<unsigned char>(current_ | (chunk << (room - take)));
      used_ += take;
      bits -= take;
      if (used_ == 8) {
        out_ += static_cast<char>(current_);
        current_ = 0;
        used_ = 0;
      }
    }
  }
  std::string finish() {
    if (used_ > 0) out_ += static_cast<char>(current_);
    used_ = 0;
    current_ = 0;
    return std::move(out_);
  }
  std::size_t bits() const { return out_.size() * 8 + static_cast<std::size_t>(used_); }

 private:
  std::string out_;
  unsigned char current_ = 0;
  int used_ = 0;
};

class BitReader {
 public:
  explicit BitReader(std::string_view data) : data_(data) {}
  bool get(int bits, std::uint64_t& v) {
    if (pos_ + static_cast<std::size_t>(bits) > data_.size() * 8) return false;
    v = 0;
    while (bits > 0) {
      const auto byte = static_cast<unsigned char>(data_[pos_ / 8]);
      const int offset = static_cast<int>(pos_ % 8);
      const int take = std::min(8 - offset, bits);
      const unsigned chunk = (byte >> (8 - offset - take)) & ((1u << take) - 1);
      v = (v << take) | chunk;
      pos_ += static_cast<std::size_t>(take);
      bits -= take;
    }
    return true;
  }
  bool bit(bool& b) {
    std::uint64_t v;
    if (!get(1, v)) return false;
    b = v != 0;
    return true;
  }
  // Bits read so far.
  std::size_t position() const { return pos_; }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

// A zigzagged number in prefix buckets: '0' for zero, then '10', '110', '1110', '11110'
// with W[0..3] bits, '11111' with 64.
template <int... W>
struct Buckets {
  static constexpr int kWidths[] = {W..., 64};
  static constexpr std::array<std::uint8_t, 65> kCosts = [] {
    std::array<std::uint8_t, 65> costs{};
    costs[0] = 1;  // '0'
    for (int bits = 1; bits <= 64; ++bits) {
      int ones = 1;
      for (const int width : kWidths) {
        if (width == 64) {
          costs[bits] = static_cast<std::uint8_t>(ones + width);
          break;
        }
        if (bits <= width) {
          costs[bits] = static_cast<std::uint8_t>(ones + 1 + width);
          break;
        }
        ++ones;
      }
    }
    return costs;
  }();
  static void put(BitWriter& w, std::uint64_t zz) {
    if (zz == 0) {
      w.put(0, 1);
      return;
    }
    int ones = 1;
    for (const int width : kWidths) {
      if (width == 64 || zz < (1ULL << width)) {
        // `ones` ones, then a zero unless this is the last bucket.
        if (width == 64) {
          w.put((1ULL << ones) - 1, ones);
        } else {
          w.put(((1ULL << ones) - 1) << 1, ones + 1);
        }
        w.put(zz, width);
        return;
      }
      ++ones;
    }
  }
  // The bits put() writes for zz: looked up by zz's bit width (the encoders cost every
  // candidate of every value).
  static int cost(std::uint64_t zz) { return kCosts[std::bit_width(zz)]; }
  static bool get(BitReader& r, std::uint64_t& zz) {
    constexpr int kLast = static_cast<int>(std::size(kWidths));
    int ones = 0;
    bool b = true;
    while (ones < kLast) {
      if (!r.bit(b)) return false;
      if (!b) break;
      ++ones;
    }
    if (ones == 0) {
      zz = 0;
      return true;
    }
    return r.get(kWidths[ones - 1], zz);
  }
};

// Gorilla's float encoding (Pelkonen et al., VLDB 2015), a value's bits XORed with the
// previous value's: '0' when equal; '10' then the meaningful bits inside the last
// window; '11', 5 bits of leading zeros, 6 of length - 1, then the bits, opening a
// new window.
class XorWriter {
 public:
  explicit XorWriter(std::uint64_t first) : prev_(first) {}
  void put(BitWriter& w, std::uint64_t bits) {
    const std::uint64_t x = bits ^ prev_;
    prev_ = bits;
    if (x == 0) {
      w.put(0, 1);
      return;
    }
    const int lead = std::min(std::countl_zero(x), 31);
    const int trail = std::countr_zero(x);
    if (lead_window_ >= 0 && lead >= lead_window_ && trail >= trail_window_) {
      w.put(0b10, 2);
      w.put(x >> trail_window_, 64 - lead_window_ - trail_window_);
      return;
    }
    const int length = 64 - lead - trail;
    w.put(0b11, 2);
    w.put(static_cast<std::uint64_t>(lead), 5);
    w.put(static_cast<std::uint64_t>(length - 1), 6);
    w.put(x >> trail, length);
    lead_window_ = lead;
    trail_window_ = trail;
  }

 private:
  std::uint64_t prev_;
  int lead_window_ = -1;
  int trail_window_ = 0;
};

class XorReader {
 public:
  explicit XorReader(std::uint64_t first) : bits_(first) {}
  // Reads the next value's bits into bits(); nullptr, or what is wrong with the stream.
  const char* next(BitReader& r) {
    bool changed = false;
    if (!r.bit(changed)) return "truncated values";
    if (!changed) return nullptr;
    bool new_window = false;
    if (!r.bit(new_window)) return "truncated values";
    if (new_window) {
      std::uint64_t lead = 0;
      std::uint64_t length_minus_one = 0;
      if (!r.get(5, lead) || !r.get(6, length_minus_one)) return "truncated values";
      if (lead + length_minus_one + 1 > 64) return "bad value window";
      lead_ = static_cast<int>(lead);
      trail_ = 64 - lead_ - static_cast<int>(length_minus_one + 1);
    } else if (lead_ < 0) {
      return "value window before any";
    }
    std::uint64_t x = 0;
    if (!r.get(64 - lead_ - trail_, x)) return "truncated values";
    bits_ ^= x << trail_;
    return nullptr;
  }
  std::uint64_t bits() const { return bits_; }

 private:
  std::uint64_t bits_;
  int lead_ = -1;
  int trail_ = 0;
};

// The bytes put_varint writes for v.
inline std::size_t varint_bytes(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Scaled decimals k (a value times 10^d) and their changes: a gauge's small steps, a
// counter's rate changes.
using DecimalBuckets = Buckets<6, 12, 20, 32>;

// The cheapest window [lo, lo + 2^w - 1] for a frame or a schedule, of `sorted` values:
// the width that holds them all, then widths from a few bits above the one that holds
// the middle 90 % down, each with the lo that holds the most, until a width costs a bit
// a value more than the best (narrower ones escape more). Between the two, a width
// holds at most a tenth more values for a bit more each of all of them: not looked at.
// cost(lo, w) gives the bits, SIZE_MAX when the window cannot be written.
template <typename Cost>
std::pair<std::uint64_t, int> cheapest_window(const std::vector<std::int64_t>& sorted,
                                              int max_width, std::size_t& best_bits, Cost cost) {
  std::pair<std::uint64_t, int> best{0, 0};
  best_bits = SIZE_MAX;
  if (sorted.empty()) return best;
  const auto spread = [&](std::size_t a, std::size_t b) {
    return static_cast<std::uint64_t>(sorted[b]) - static_cast<std::uint64_t>(sorted[a]);
  };
  const std::size_t n = sorted.size();
  const int all = std::min(max_width, static_cast<int>(std::bit_width(spread(0, n - 1))));
  const int middle = static_cast<int>(std::bit_width(spread(n / 20, n - 1 - n / 20)));
  const auto consider = [&](std::uint64_t lo, int width) {
    const std::size_t bits = cost(lo, width);
    if (bits < best_bits) {
      best_bits = bits;
      best = {lo, width};
    }
    return bits;
  };
  consider(static_cast<std::uint64_t>(sorted.front()), all);
  for (int width = std::min(all - 1, middle + 3); width >= 0; --width) {
    const std::uint64_t span = (1ULL << width) - 1;
    std::size_t best_a = 0;
    std::size_t best_count = 0;
    for (std::size_t a = 0, b = 0; a < n; ++a) {
      b = std::max(b, a);
      while (b + 1 < n && spread(a, b + 1) <= span) ++b;
      if (b - a + 1 > best_count) {
        best_count = b - a + 1;
        best_a = a;
      }
    }
    const std::size_t bits = consider(static_cast<std::uint64_t>(sorted[best_a]), width);
    if (best_bits != SIZE_MAX && bits != SIZE_MAX && bits > best_bits + n + 64) break;
  }
  return best;
}

// The widest frame.
inline constexpr int kMaxFrameWidth = 56;

// A frame of reference for integers (scaled decimals, their changes): each x as x - lo
// in `width` bits; the all-ones code is followed by a bit, 0 for lo + 2^w - 1, 1 for an
// escape and x - lo in full (zigzag, decimal buckets). Its header, one varint, holds lo
// and the width.
struct Frame {
  std::uint64_t lo = 0;
  int width = 0;

  std::uint64_t header() const {
    return zigzag(lo) * (kMaxFrameWidth + 8) + static_cast<std::uint64_t>(width);
  }
  // The frame of `header`; false when its width is out of range.
  static bool from_header(std::uint64_t header, Frame& frame) {
    frame.width = static_cast<int>(header % (kMaxFrameWidth + 8));
    frame.lo = unzigzag(header / (kMaxFrameWidth + 8));
    return frame.width <= kMaxFrameWidth;
  }
  // Writes x, when w is not null; returns its bits.
  std::size_t put(BitWriter* w, std::uint64_t x) const {
    const std::uint64_t top = (1ULL << width) - 1;
    const std::uint64_t code = x - lo;
    const auto bits = static_cast<std::size_t>(width);
    if (code < top) {
      if (w != nullptr) w->put(code, width);
      return bits;
    }
    if (w != nullptr) {
      w->put(top, width);
      w->put(code == top ? 0 : 1, 1);
      if (code != top) DecimalBuckets::put(*w, zigzag(code));
    }
    return bits + 1 +
           (code == top ? 0 : static_cast<std::size_t>(DecimalBuckets::cost(zigzag(code))));
  }
  bool get(BitReader& r, std::uint64_t& x) const {
    const std::uint64_t top = (1ULL << width) - 1;
    std::uint64_t code = 0;
    bool escape = false;
    if (!r.get(width, code)) return false;
    if (code == top && !r.bit(escape)) return false;
    if (escape) {
      std::uint64_t zz = 0;
      if (!DecimalBuckets::get(r, zz)) return false;
      code = unzigzag(zz);
    }
    x = lo + code;
    return true;
  }
};

// The bits Frame{lo, w}.put counts for all of `sorted` (ascending, as signed), from a
// few binary searches instead of a pass over them: the values in the frame cost w bits,
// lo + 2^w - 1 one more, an escape one more and its zigzagged distance from lo in
// decimal buckets (8, 15, 24, 37 or 69 bits as that distance passes 2^5, 2^11, 2^19,
// 2^31 above lo, or those plus one below). Exact when the values span less than 2^62.
inline std::size_t frame_bits(const std::vector<std::int64_t>& sorted, std::int64_t lo, int w) {
  __extension__ typedef __int128 Wide;  // lo + 2^w and lo - 2^31 without overflow
  const auto n = sorted.size();
  // How many values are below `bound`.
  const auto below = [&](Wide bound) -> std::size_t {
    if (bound <= sorted.front()) return 0;
    if (bound > sorted.back()) return n;
    return static_cast<std::size_t>(
        std::lower_bound(sorted.begin(), sorted.end(), static_cast<std::int64_t>(bound)) -
        sorted.begin());
  };
  const Wide top = (Wide{1} << w) - 1;
  const Wide base = lo;
  const std::size_t under = below(base);
  const std::size_t in_frame = below(base + top) - under;
  std::size_t bits = n * static_cast<std::size_t>(w) + (n - in_frame);
  const std::size_t over = n - below(base + top + 1);
  bits += 8 * (under + over);
  // Each threshold passed adds the next bucket's extra bits.
  constexpr struct {
    Wide distance;
    std::size_t extra;
  } kSteps[] = {{Wide{1} << 5, 7}, {Wide{1} << 11, 9}, {Wide{1} << 19, 13}, {Wide{1} << 31, 32}};
  for (const auto& step : kSteps) {
    bits += step.extra * (n - below(base + std::max(step.distance, top + 1)));
    bits += step.extra * below(base - step.distance);
  }
  return bits;
}

// `xs` as signed numbers, ascending: what the frame searches read.
inline std::vector<std::int64_t> ascending(const std::vector<std::uint64_t>& xs) {
  std::vector<std::int64_t> sorted(xs.size());
  std::transform(xs.begin(), xs.end(), sorted.begin(),
                 [](std::uint64_t x) { return static_cast<std::int64_t>(x); });
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

// About the bits of the cheapest frame of `xs` (not empty), for choosing where to
// search: each value in the width that holds the middle 90 %. Reorders `xs`, in linear
// time (no sort).
inline std::size_t frame_estimate(std::vector<std::int64_t>& xs) {
  const std::size_t n = xs.size();
  const auto low = xs.begin() + static_cast<std::ptrdiff_t>(n / 20);
  const auto high = xs.begin() + static_cast<std::ptrdiff_t>(n - 1 - n / 20);
  std::nth_element(xs.begin(), low, xs.end());
  // Past low only: what follows it is no smaller, and low keeps its value.
  if (high > low) std::nth_element(low + 1, high, xs.end());
  const auto middle = static_cast<std::uint64_t>(*high) - static_cast<std::uint64_t>(*low);
  return n * static_cast<std::size_t>(std::bit_width(middle));
}

// The cheapest frame for the values `sorted` (ascending(xs)): for each width looked at
// (cheapest_window), the lo that holds the most, each costed; best_bits its bits,
// header included, SIZE_MAX when none can be written.
inline Frame cheapest_frame_of(const std::vector<std::int64_t>& sorted, std::size_t& best_bits) {
  const bool narrow = !sorted.empty() && static_cast<std::uint64_t>(sorted.back()) -
                                                 static_cast<std::uint64_t>(sorted.front()) <
                                             (1ULL << 62);
  const auto [lo, width] =
      cheapest_window(sorted, kMaxFrameWidth, best_bits, [&](std::uint64_t l, int w) {
        const Frame frame{l, w};
        if (zigzag(l) >= (1ULL << 57)) return SIZE_MAX;  // lo must fit the header with w
        std::size_t bits = 8 * varint_bytes(frame.header());
        if (narrow) return bits + frame_bits(sorted, static_cast<std::int64_t>(l), w);
        for (const std::int64_t x : sorted)
          bits += frame.put(nullptr, static_cast<std::uint64_t>(x));
        return bits;
      });
  return {lo, width};
}

inline Frame cheapest_frame(const std::vector<std::uint64_t>& xs, std::size_t& best_bits) {
  return cheapest_frame_of(ascending(xs), best_bits);
}

}  // namespace vigie::collector::bits
