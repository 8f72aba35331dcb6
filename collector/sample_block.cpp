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
using bits::cheapest_frame;
using bits::cheapest_window;
using bits::Frame;
using bits::get_varint;
using bits::put_varint;
using bits::unzigzag;
using bits::varint_bytes;
using bits::zigzag;
template <int... W>
using Buckets = bits::Buckets<W...>;

constexpr char kPerReport = 1;
constexpr char kPerSeries = 2;
constexpr char kPerSeriesShared = 3;

constexpr int kModeXor = 0;
constexpr int kMaxDecimals = 6;
constexpr double kPow10[kMaxDecimals + 1] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
constexpr double kTwoTo53 = 9007199254740992.0;
// Encoding 3's value modes 15 + 2d and 16 + 2d: decimals in a frame of w bits.
constexpr int kFirstFrameMode = 2 * kMaxDecimals + 3;
constexpr int kLastFrameMode = kFirstFrameMode + 2 * kMaxDecimals + 1;

// Timestamps in milliseconds: jitter of a few ms, a late run, a missed interval.
using TimestampBuckets = Buckets<4, 8, 14, 20>;
// Scaled decimals: a gauge's small steps, a counter's rate changes.
using DecimalBuckets = bits::DecimalBuckets;

void put_timestamp_dod(BitWriter& w, std::uint64_t zz) { TimestampBuckets::put(w, zz); }
bool get_timestamp_dod(BitReader& r, std::uint64_t& zz) { return TimestampBuckets::get(r, zz); }
void put_decimal(BitWriter& w, std::uint64_t zz) { DecimalBuckets::put(w, zz); }
bool get_decimal(BitReader& r, std::uint64_t& zz) { return DecimalBuckets::get(r, zz); }

// How a series' timestamps after the first are written. Encoding 3 numbers the modes
// as below; encoding 2 knew delta-of-delta (0) and the step (1 + step) alone.
enum class TimeMode { kShared = 0, kDeltaOfDelta = 1, kStep = 2, kSchedule = 3 };

// The schedule's residuals: 31 bits at most (wider, the other modes cost less).
constexpr int kMaxScheduleWidth = 31;
// After an escape, how many samples the encoder looks ahead to place the schedule.
constexpr std::size_t kLookahead = 16;

struct TimestampPlan {
  TimeMode mode = TimeMode::kDeltaOfDelta;
  std::uint64_t step = 0;
  std::uint64_t lo = 0;  // schedule: the residual of code 0 (two's complement)
  int width = 0;         // schedule: the bits of a code

  // Encoding 3's timestamp-mode varint.
  std::uint64_t header() const {
    switch (mode) {
      case TimeMode::kShared: return 0;
      case TimeMode::kDeltaOfDelta: return 1;
      case TimeMode::kStep: return 2 + 2 * zigzag(step);
      case TimeMode::kSchedule: return 3 + 2 * zigzag(step);
    }
    return 1;
  }
  // The schedule's lo and w, one varint.
  std::uint64_t schedule_header() const {
    return zigzag(lo) * (kMaxScheduleWidth + 1) + static_cast<std::uint64_t>(width);
  }
};

// Writes a run's timestamps after the first, sample by sample, in order; with no
// BitWriter it only counts their bits.
class TimestampWriter {
 public:
  TimestampWriter(std::span<const Sample> run, const TimestampPlan& plan)
      : run_(run), plan_(plan), anchor_(static_cast<std::uint64_t>(run[0].ts_ms)) {}

  // The timestamp of run[i], i = 1, 2, ... in turn; returns its bits.
  std::size_t put(BitWriter* w, std::size_t i) {
    const auto ts = static_cast<std::uint64_t>(run_[i].ts_ms);
    const auto prev = static_cast<std::uint64_t>(run_[i - 1].ts_ms);
    switch (plan_.mode) {
      case TimeMode::kShared: return 0;
      case TimeMode::kDeltaOfDelta: {
        const std::uint64_t delta = ts - prev;
        const std::uint64_t zz = zigzag(delta - prev_delta_);
        prev_delta_ = delta;
        return bucket(w, zz);
      }
      case TimeMode::kStep: return bucket(w, zigzag(ts - prev - plan_.step));
      case TimeMode::kSchedule: break;
    }
    const std::uint64_t top = (1ULL << plan_.width) - 1;
    const std::uint64_t code = ts - slot(i) - plan_.lo;
    if (code < top) return emit(w, code, plan_.width);
    if (code == top) return emit(w, top, plan_.width) + emit(w, 0, 1);
    // Off the schedule: shift it for the samples after this one, then this sample's
    // residual against the shifted schedule, exact whatever it is.
    const std::uint64_t shift = shift_after(i);
    anchor_ += shift;
    const std::uint64_t residual = ts - slot(i) - plan_.lo;
    return emit(w, top, plan_.width) + emit(w, 1, 1) + bucket(w, zigzag(shift)) +
           bucket(w, zigzag(residual));
  }

 private:
  std::uint64_t slot(std::size_t i) const { return anchor_ + i * plan_.step; }

  // The anchor's shift after an escape at run[i] that keeps the most samples after it
  // on the schedule, the one nearest 0: sample j fits for shifts o_j - top .. o_j, o_j
  // being its code against the schedule as it stands; those ranges are intersected
  // while they meet.
  std::uint64_t shift_after(std::size_t i) const {
    const auto top = static_cast<std::int64_t>((1ULL << plan_.width) - 1);
    constexpr std::int64_t kFar = std::int64_t{1} << 62;  // a jump no schedule keeps
    std::int64_t low = 0;
    std::int64_t high = 0;
    bool any = false;
    for (std::size_t j = i + 1; j < run_.size() && j <= i + kLookahead; ++j) {
      const auto o =
          static_cast<std::int64_t>(static_cast<std::uint64_t>(run_[j].ts_ms) - slot(j) - plan_.lo);
      if (o > kFar || o < -kFar) break;
      const std::int64_t a = any ? std::max(low, o - top) : o - top;
      const std::int64_t b = any ? std::min(high, o) : o;
      if (a > b) break;
      low = a;
      high = b;
      any = true;
    }
    return any ? static_cast<std::uint64_t>(std::clamp<std::int64_t>(0, low, high)) : 0;
  }

  static std::size_t emit(BitWriter* w, std::uint64_t v, int bits) {
    if (w != nullptr) w->put(v, bits);
    return static_cast<std::size_t>(bits);
  }
  static std::size_t bucket(BitWriter* w, std::uint64_t zz) {
    if (w != nullptr) put_timestamp_dod(*w, zz);
    return static_cast<std::size_t>(TimestampBuckets::cost(zz));
  }

  std::span<const Sample> run_;
  TimestampPlan plan_;
  std::uint64_t anchor_;
  std::uint64_t prev_delta_ = 0;
};

// The bits of a run's timestamps under `plan`, its header's bytes included.
std::size_t timestamp_cost(std::span<const Sample> run, const TimestampPlan& plan) {
  std::size_t bits = 8 * varint_bytes(plan.header());
  if (plan.mode == TimeMode::kSchedule) bits += 8 * varint_bytes(plan.schedule_header());
  TimestampWriter writer(run, plan);
  for (std::size_t i = 1; i < run.size(); ++i) bits += writer.put(nullptr, i);
  return bits;
}

// The cheapest schedule for `run` with this step: for each width from 0 up to the one
// that holds every residual, the lo that holds the most residuals, each costed.
TimestampPlan cheapest_schedule(std::span<const Sample> run, std::uint64_t step,
                                std::size_t& best_bits) {
  std::vector<std::int64_t> residuals;
  residuals.reserve(run.size() - 1);
  const auto first = static_cast<std::uint64_t>(run[0].ts_ms);
  for (std::size_t i = 1; i < run.size(); ++i)
    residuals.push_back(
        static_cast<std::int64_t>(static_cast<std::uint64_t>(run[i].ts_ms) - first - i * step));
  std::sort(residuals.begin(), residuals.end());
  const auto [lo, width] = cheapest_window(
      residuals, kMaxScheduleWidth, best_bits, [&](std::uint64_t l, int w) -> std::size_t {
        // lo must fit the header's varint with w.
        if (zigzag(l) >= (1ULL << 58)) return SIZE_MAX;
        return timestamp_cost(run, {TimeMode::kSchedule, step, l, w});
      });
  return {TimeMode::kSchedule, step, lo, width};
}

// The cheapest way to write a run's timestamps: delta-of-delta, the delta's difference
// from the usual step, or the residual against the schedule.
TimestampPlan cheapest_timestamps(std::span<const Sample> run) {
  const TimestampPlan dod{};
  if (run.size() < 2) return dod;
  std::vector<std::uint64_t> deltas;
  deltas.reserve(run.size() - 1);
  for (std::size_t i = 1; i < run.size(); ++i)
    deltas.push_back(static_cast<std::uint64_t>(run[i].ts_ms) -
                     static_cast<std::uint64_t>(run[i - 1].ts_ms));
  std::nth_element(deltas.begin(), deltas.begin() + static_cast<std::ptrdiff_t>(deltas.size() / 2),
                   deltas.end());
  const std::uint64_t step = deltas[deltas.size() / 2];
  TimestampPlan best = dod;
  std::size_t best_bits = timestamp_cost(run, dod);
  // 2 * zigzag(step) must fit the header's varint.
  if (zigzag(step) >= (1ULL << 62)) return best;
  const TimestampPlan by_step{TimeMode::kStep, step, 0, 0};
  if (const std::size_t bits = timestamp_cost(run, by_step); bits < best_bits) {
    best_bits = bits;
    best = by_step;
  }
  // The median delta is off the schedule's period by some jitter, and a schedule with
  // the wrong period drifts: try the period a straight line through the first and last
  // samples gives, and the median rounded to a second (agents' intervals are seconds).
  const auto last = static_cast<std::uint64_t>(run.back().ts_ms);
  const auto first = static_cast<std::uint64_t>(run.front().ts_ms);
  const auto slots = static_cast<std::int64_t>(run.size() - 1);
  const std::uint64_t steps[] = {
      step, static_cast<std::uint64_t>(static_cast<std::int64_t>(last - first) / slots),
      (step + 500) / 1000 * 1000};
  for (std::size_t i = 0; i < std::size(steps); ++i) {
    if (zigzag(steps[i]) >= (1ULL << 62) || std::find(steps, steps + i, steps[i]) != steps + i)
      continue;
    std::size_t schedule_bits = 0;
    const TimestampPlan schedule = cheapest_schedule(run, steps[i], schedule_bits);
    if (schedule_bits < best_bits) {
      best_bits = schedule_bits;
      best = schedule;
    }
  }
  return best;
}

// Reads a run's timestamps after the first, in order.
class TimestampReader {
 public:
  TimestampReader(const TimestampPlan& plan, std::uint64_t first,
                  const std::vector<std::int64_t>* shared)
      : plan_(plan), ts_(first), anchor_(first), shared_(shared) {}

  // The timestamp of sample i, i = 1, 2, ... in turn; false when the stream ends.
  bool next(BitReader& r, std::uint64_t i, std::uint64_t& ts) {
    std::uint64_t zz = 0;
    switch (plan_.mode) {
      case TimeMode::kShared: ts_ = static_cast<std::uint64_t>((*shared_)[i]); break;
      case TimeMode::kDeltaOfDelta:
        if (!get_timestamp_dod(r, zz)) return false;
        delta_ += unzigzag(zz);
        ts_ += delta_;
        break;
      case TimeMode::kStep:
        if (!get_timestamp_dod(r, zz)) return false;
        ts_ += plan_.step + unzigzag(zz);
        break;
      case TimeMode::kSchedule: {
        const std::uint64_t top = (1ULL << plan_.width) - 1;
        std::uint64_t code = 0;
        bool escape = false;
        if (!r.get(plan_.width, code)) return false;
        if (code == top && !r.bit(escape)) return false;
        if (escape) {
          std::uint64_t shift = 0;
          if (!get_timestamp_dod(r, shift) || !get_timestamp_dod(r, zz)) return false;
          anchor_ += unzigzag(shift);
          code = unzigzag(zz);
        }
        ts_ = anchor_ + i * plan_.step + plan_.lo + code;
        break;
      }
    }
    ts = ts_;
    return true;
  }

 private:
  TimestampPlan plan_;
  std::uint64_t ts_;
  std::uint64_t delta_ = 0;
  std::uint64_t anchor_;
  const std::vector<std::int64_t>* shared_;
};

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
  TimestampWriter times(run, plan);
  bits::XorWriter values(prev);
  for (std::size_t i = 1; i < run.size(); ++i) {
    times.put(&w, i);
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
  TimestampWriter times(run, plan);
  std::uint64_t prev_delta = 0;
  for (std::size_t i = 1; i < run.size(); ++i) {
    times.put(&w, i);
    const std::uint64_t k = k_of(run[i].value);
    const std::uint64_t delta = k - prev;
    put_decimal(w, zigzag(delta_of_delta ? delta - prev_delta : delta));
    prev_delta = delta;
    prev = k;
  }
  e.stream = w.finish();
  return e;
}

Encoded encode_frame(std::span<const Sample> run, const TimestampPlan& plan, int decimals,
                     bool on_deltas) {
  Encoded e;
  e.mode = kFirstFrameMode + 2 * decimals + (on_deltas ? 1 : 0);
  std::vector<std::uint64_t> ks;
  ks.reserve(run.size());
  for (const Sample& s : run)
    ks.push_back(static_cast<std::uint64_t>(
        static_cast<std::int64_t>(std::nearbyint(s.value * kPow10[decimals]))));
  std::vector<std::uint64_t> xs;
  xs.reserve(run.size() - 1);
  for (std::size_t i = 1; i < ks.size(); ++i) xs.push_back(on_deltas ? ks[i] - ks[i - 1] : ks[i]);
  std::size_t bits = 0;
  const Frame frame = cheapest_frame(xs, bits);
  put_varint(e.first, zigzag(ks[0]));
  put_varint(e.first, frame.header());
  BitWriter w;
  TimestampWriter times(run, plan);
  for (std::size_t i = 1; i < run.size(); ++i) {
    times.put(&w, i);
    frame.put(&w, xs[i - 1]);
  }
  e.stream = w.finish();
  return e;
}

static_assert(kLastFrameMode + 1 == BlockBreakdown::kValueModes);

// What encoding 3 carries from one series to the next: the last series with timestamps
// of its own.
struct Previous {
  std::span<const Sample> owner;
  std::uint64_t first_ts = 0;  // the base before the first
};

bool same_timestamps(std::span<const Sample> a, std::span<const Sample> b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](const Sample& x, const Sample& y) { return x.ts_ms == y.ts_ms; });
}

void encode_run(std::string& out, std::span<const Sample> run, Previous& previous) {
  TimestampPlan plan;
  if (same_timestamps(run, previous.owner)) {
    plan.mode = TimeMode::kShared;
  } else {
    plan = cheapest_timestamps(run);
  }
  // The value modes are compared on their values alone (the timestamps take the same
  // bits in each), then the cheapest is written with the timestamps.
  const TimestampPlan values_only{TimeMode::kShared};
  Encoded best = encode_xor(run, values_only);
  const int d = decimals_of(run);
  if (d >= 0) {
    for (bool dod : {false, true}) {
      Encoded e = encode_decimal(run, values_only, d, dod);
      if (e.size() < best.size()) best = std::move(e);
    }
    if (run.size() > 2) {
      for (bool on_deltas : {false, true}) {
        Encoded e = encode_frame(run, values_only, d, on_deltas);
        if (e.size() < best.size()) best = std::move(e);
      }
    }
  }
  if (plan.mode != TimeMode::kShared) {
    if (best.mode == kModeXor) {
      best = encode_xor(run, plan);
    } else if (best.mode < kFirstFrameMode) {
      best = encode_decimal(run, plan, d, (best.mode - 1) % 2 == 1);
    } else {
      best = encode_frame(run, plan, d, (best.mode - kFirstFrameMode) % 2 == 1);
    }
  }
  put_varint(out, plan.header());
  if (plan.mode != TimeMode::kShared) {
    const auto first_ts = static_cast<std::uint64_t>(run[0].ts_ms);
    put_varint(out, run.size());
    put_varint(out, zigzag(first_ts - previous.first_ts));
    if (plan.mode == TimeMode::kSchedule) put_varint(out, plan.schedule_header());
    previous.owner = run;
    previous.first_ts = first_ts;
  }
  put_varint(out, static_cast<std::uint64_t>(best.mode));
  out += best.first;
  put_varint(out, best.stream.size());
  out += best.stream;
}

Status corrupt(const char* what) {
  return {Code::kCorruption, std::string("sample block: ") + what};
}

// A series of a per-series block, its header read.
struct Run {
  std::uint64_t count = 0;
  std::uint64_t first_ts = 0;
  TimestampPlan times;
  std::uint64_t mode = 0;
  std::uint64_t first_value = 0;
  Frame frame;  // value modes 15 and up
  std::string_view stream;
};

// Reads a varint, counting its bytes into `bytes` when measuring.
bool get_counted(std::string_view& in, std::uint64_t& v, std::int64_t* bytes) {
  const std::size_t before = in.size();
  const bool ok = get_varint(in, v);
  if (bytes != nullptr) *bytes += static_cast<std::int64_t>(before - in.size());
  return ok;
}

// The value mode, first value and stream of a run, as in encoding 2, the frames (value
// modes 15 and up) in encoding 3 only.
Status read_values_and_stream(std::string_view& in, int encoding, Run& run, BlockBreakdown* m) {
  if (!get_counted(in, run.mode, m ? &m->value_mode_bytes : nullptr)) return corrupt("truncated");
  const std::uint64_t last = encoding == kPerSeries ? 2 * kMaxDecimals + 2 : kLastFrameMode;
  if (run.mode > last) return corrupt("unknown value mode");
  if (run.mode == kModeXor) {
    if (in.size() < sizeof run.first_value) return corrupt("truncated");
    std::memcpy(&run.first_value, in.data(), sizeof run.first_value);
    in.remove_prefix(sizeof run.first_value);
    if (m != nullptr) m->first_value_bytes += sizeof run.first_value;
  } else if (!get_counted(in, run.first_value, m ? &m->first_value_bytes : nullptr)) {
    return corrupt("truncated");
  }
  if (run.mode >= kFirstFrameMode) {
    std::uint64_t header = 0;
    if (!get_counted(in, header, m ? &m->first_value_bytes : nullptr)) return corrupt("truncated");
    if (!Frame::from_header(header, run.frame)) return corrupt("bad value frame");
  }
  std::uint64_t length = 0;
  if (!get_counted(in, length, m ? &m->length_bytes : nullptr) || length > in.size())
    return corrupt("truncated");
  run.stream = in.substr(0, length);
  in.remove_prefix(length);
  // Each later sample takes two bits at least, one when its timestamps are shared: a
  // count past that is damage.
  const std::uint64_t per_byte = run.times.mode == TimeMode::kShared ? 8 : 4;
  if (run.count - 1 > length * per_byte) return corrupt("more samples than bits");
  return Status::ok();
}

// A series' header in encoding 2, its id already read.
Status read_run_2(std::string_view& in, std::int64_t base_ms, Run& run, BlockBreakdown* m) {
  std::uint64_t first_ts = 0;
  std::uint64_t ts_header = 0;
  if (!get_counted(in, run.count, m ? &m->count_bytes : nullptr) ||
      !get_counted(in, first_ts, m ? &m->first_ts_bytes : nullptr) ||
      !get_counted(in, ts_header, m ? &m->ts_mode_bytes : nullptr))
    return corrupt("truncated");
  if (run.count == 0) return corrupt("empty series");
  run.first_ts = static_cast<std::uint64_t>(base_ms) + unzigzag(first_ts);
  if (ts_header != 0) run.times = {TimeMode::kStep, unzigzag(ts_header - 1), 0, 0};
  return read_values_and_stream(in, kPerSeries, run, m);
}

// A series' header in encoding 3, its id already read; `previous_first` is the first
// timestamp of the last series with timestamps of its own (the base before any).
Status read_run_3(std::string_view& in, std::uint64_t& previous_first, const Run* owner, Run& run,
                  BlockBreakdown* m) {
  std::uint64_t header = 0;
  if (!get_counted(in, header, m ? &m->ts_mode_bytes : nullptr)) return corrupt("truncated");
  if (header == 0) {
    if (owner == nullptr) return corrupt("shared timestamps without a series before");
    run.times.mode = TimeMode::kShared;
    run.count = owner->count;
    run.first_ts = owner->first_ts;
    return read_values_and_stream(in, kPerSeriesShared, run, m);
  }
  if (header >= 2) {
    run.times.mode = header % 2 == 0 ? TimeMode::kStep : TimeMode::kSchedule;
    run.times.step = unzigzag((header - 2) / 2);
  }
  std::uint64_t first_ts = 0;
  if (!get_counted(in, run.count, m ? &m->count_bytes : nullptr) ||
      !get_counted(in, first_ts, m ? &m->first_ts_bytes : nullptr))
    return corrupt("truncated");
  if (run.count == 0) return corrupt("empty series");
  run.first_ts = previous_first + unzigzag(first_ts);
  previous_first = run.first_ts;
  if (run.times.mode == TimeMode::kSchedule) {
    std::uint64_t schedule = 0;
    if (!get_counted(in, schedule, m ? &m->ts_mode_bytes : nullptr)) return corrupt("truncated");
    run.times.width = static_cast<int>(schedule % (kMaxScheduleWidth + 1));
    run.times.lo = unzigzag(schedule / (kMaxScheduleWidth + 1));
  }
  return read_values_and_stream(in, kPerSeriesShared, run, m);
}

// Appends a run's samples to `out`; `shared` holds the timestamps of a shared run.
Status decode_run(const Run& run, std::int64_t series, const std::vector<std::int64_t>* shared,
                  std::vector<Sample>& out, BlockBreakdown* m) {
  if (run.times.mode == TimeMode::kShared && (shared == nullptr || shared->size() != run.count))
    return corrupt("shared timestamps missing");
  // Room for the run, growing geometrically: `out` gathers many runs (a day's block, or
  // the blocks a compaction merges), and room for exactly one more run each time would
  // copy everything before it again for every run.
  if (out.capacity() < out.size() + run.count)
    out.reserve(std::max<std::size_t>(out.size() + run.count, 2 * out.capacity()));
  BitReader r(run.stream);
  TimestampReader times(run.times, run.first_ts, shared);
  std::uint64_t ts = run.first_ts;
  std::size_t ts_bits = 0;
  const auto next_ts = [&](std::uint64_t i) {
    const std::size_t before = r.position();
    const bool ok = times.next(r, i, ts);
    ts_bits += r.position() - before;
    return ok;
  };
  if (run.mode == kModeXor) {
    bits::XorReader values(run.first_value);
    out.push_back({series, static_cast<std::int64_t>(ts), std::bit_cast<double>(values.bits())});
    for (std::uint64_t i = 1; i < run.count; ++i) {
      if (!next_ts(i)) return corrupt("truncated timestamps");
      if (const char* wrong = values.next(r)) return corrupt(wrong);
      out.push_back({series, static_cast<std::int64_t>(ts), std::bit_cast<double>(values.bits())});
    }
  } else if (run.mode >= kFirstFrameMode) {
    const int decimals = static_cast<int>((run.mode - kFirstFrameMode) / 2);
    const bool on_deltas = (run.mode - kFirstFrameMode) % 2 == 1;
    std::uint64_t k = unzigzag(run.first_value);
    const auto value_of = [&](std::uint64_t kk) {
      return static_cast<double>(static_cast<std::int64_t>(kk)) / kPow10[decimals];
    };
    out.push_back({series, static_cast<std::int64_t>(ts), value_of(k)});
    for (std::uint64_t i = 1; i < run.count; ++i) {
      if (!next_ts(i)) return corrupt("truncated timestamps");
      std::uint64_t x = 0;
      if (!run.frame.get(r, x)) return corrupt("truncated values");
      k = on_deltas ? k + x : x;
      out.push_back({series, static_cast<std::int64_t>(ts), value_of(k)});
    }
  } else {
    const int decimals = static_cast<int>((run.mode - 1) / 2);
    const bool delta_of_delta = (run.mode - 1) % 2 == 1;
    std::uint64_t k = unzigzag(run.first_value);
    const auto value_of = [&](std::uint64_t kk) {
      return static_cast<double>(static_cast<std::int64_t>(kk)) / kPow10[decimals];
    };
    out.push_back({series, static_cast<std::int64_t>(ts), value_of(k)});
    std::uint64_t delta = 0;
    for (std::uint64_t i = 1; i < run.count; ++i) {
      if (!next_ts(i)) return corrupt("truncated timestamps");
      std::uint64_t zz = 0;
      if (!get_decimal(r, zz)) return corrupt("truncated values");
      delta = delta_of_delta ? delta + unzigzag(zz) : unzigzag(zz);
      k += delta;
      out.push_back({series, static_cast<std::int64_t>(ts), value_of(k)});
    }
  }
  if (m != nullptr) {
    const auto t = static_cast<std::size_t>(run.times.mode);
    const auto v = static_cast<std::size_t>(run.mode);
    const auto n = static_cast<std::int64_t>(run.count);
    const auto stream_bits = static_cast<std::int64_t>(r.position());
    ++m->series;
    m->samples += n;
    ++m->ts_series[t];
    m->ts_samples[t] += n;
    m->ts_bits[t] += static_cast<std::int64_t>(ts_bits);
    ++m->value_series[v];
    m->value_samples[v] += n;
    m->value_bits[v] += stream_bits - static_cast<std::int64_t>(ts_bits);
    m->padding_bits += static_cast<std::int64_t>(run.stream.size() * 8) - stream_bits;
  }
  return Status::ok();
}

// The timestamps of a run, for the shared runs after it.
Status timestamps_of(const Run& run, std::vector<std::int64_t>& ts) {
  std::vector<Sample> samples;
  if (Status s = decode_run(run, 0, nullptr, samples, nullptr); !s) return s;
  ts.clear();
  for (const Sample& x : samples) ts.push_back(x.ts_ms);
  return Status::ok();
}

Status decode_per_series(std::string_view in, std::int64_t base_ms, int encoding, bool one,
                         std::int64_t wanted, std::vector<Sample>& out, BlockBreakdown* m) {
  std::uint64_t series_count = 0;
  if (!get_counted(in, series_count, m ? &m->block_head_bytes : nullptr))
    return corrupt("truncated");
  if (series_count > in.size()) return corrupt("more series than bytes");
  std::uint64_t series = 0;
  auto previous_first = static_cast<std::uint64_t>(base_ms);
  Run owner;  // encoding 3: the last run with timestamps of its own
  bool has_owner = false;
  std::vector<std::int64_t> owner_ts;  // its timestamps, once read
  bool owner_ts_read = false;
  for (std::uint64_t i = 0; i < series_count; ++i) {
    std::uint64_t delta = 0;
    if (!get_counted(in, delta, m ? &m->id_bytes : nullptr)) return corrupt("truncated");
    series += delta;
    const auto id = static_cast<std::int64_t>(series);
    Run run;
    if (encoding == kPerSeries) {
      if (Status s = read_run_2(in, base_ms, run, m); !s) return s;
    } else if (Status s = read_run_3(in, previous_first, has_owner ? &owner : nullptr, run, m);
               !s) {
      return s;
    }
    const bool shared = run.times.mode == TimeMode::kShared;
    if (!shared) {
      owner = run;
      has_owner = true;
      owner_ts_read = false;
    }
    if (one && id != wanted) continue;
    if (shared && !owner_ts_read) {
      if (Status s = timestamps_of(owner, owner_ts); !s) return s;
      owner_ts_read = true;
    }
    if (Status s = decode_run(run, id, shared ? &owner_ts : nullptr, out, m); !s) return s;
    if (!shared && !one && encoding == kPerSeriesShared) {
      // Its timestamps, for the shared runs that may follow, without decoding it again.
      owner_ts.clear();
      const auto n = static_cast<std::ptrdiff_t>(run.count);
      for (auto it = out.end() - n; it != out.end(); ++it) owner_ts.push_back(it->ts_ms);
      owner_ts_read = true;
    }
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
              std::vector<Sample>& out, BlockBreakdown* m = nullptr) {
  if (block.empty()) return corrupt("unknown version");
  const char version = block.front();
  block.remove_prefix(1);
  if (version == kPerReport) return decode_per_report(block, base_ms, one, wanted, out);
  if (version == kPerSeries || version == kPerSeriesShared)
    return decode_per_series(block, base_ms, version, one, wanted, out, m);
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
  out += kPerSeriesShared;
  std::uint64_t series_count = 0;
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (i == 0 || samples[i].series != samples[i - 1].series) ++series_count;
  put_varint(out, series_count);
  std::uint64_t previous_id = 0;
  Previous previous{{}, static_cast<std::uint64_t>(base_ms)};
  for (std::size_t start = 0; start < samples.size();) {
    std::size_t end = start + 1;
    while (end < samples.size() && samples[end].series == samples[start].series) ++end;
    const auto id = static_cast<std::uint64_t>(samples[start].series);
    put_varint(out, id - previous_id);
    previous_id = id;
    encode_run(out, std::span<const Sample>(samples).subspan(start, end - start), previous);
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

namespace vigie::collector {

Status measure_block(std::string_view block, BlockBreakdown& into) {
  std::vector<Sample> samples;
  const int encoding = block_encoding(block);
  if (encoding != kPerSeries && encoding != kPerSeriesShared) {
    ++into.other_blocks;
    into.other_bytes += static_cast<std::int64_t>(block.size());
    return decode_samples(block, 0, samples);
  }
  BlockBreakdown m = into;
  ++m.blocks;
  m.block_bytes += static_cast<std::int64_t>(block.size());
  ++m.block_head_bytes;  // the encoding byte
  if (Status s = decode(block, 0, false, 0, samples, &m); !s) return s;
  into = m;
  return Status::ok();
}

}  // namespace vigie::collector
