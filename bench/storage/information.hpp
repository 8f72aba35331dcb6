#pragma once
// The information a benchmark's samples hold: the floor, in bits, under which no lossless
// coding of them goes, to set beside what the storage takes for them
// (vigie-bench-storage prints both).
//
// Two floors, each a lower bound for its own reason:
// - the generator's model: each sample's entropy given what came before it and the
//   series' fixed parameters (its range, its centre, its rate), as the generator draws
//   it. The entropy of the whole sequence is at least the sum of these (conditioning
//   never adds entropy), and no lossless code of a source averages fewer bits than its
//   entropy (Shannon). Parameters drawn once per series are left out, which only lowers
//   the floor. The generator's pseudo-random numbers are taken as truly random: that
//   is the model the benchmark stands for.
// - model-free: the empirical entropy of what each series holds (the frequencies of its
//   values, or of their changes, whichever is lower). n samples times it is the length
//   that the best memoryless code fitted to that very series would take, the table of
//   frequencies not counted (maximum likelihood: no other distribution of symbols gives
//   the series a higher probability). It is also biased low as an estimate of the
//   source's entropy, and never above log2(n): a check of the model's floor, not a bound
//   on codes that use more context.
//
// Threading: an InformationFloor belongs to one thread.

#include <cstdint>
#include <span>
#include <vector>

namespace vigie::bench::storage {

// The entropy in bits of round(x, decimals) for x uniform in [lo, hi] (rounding half
// away from zero, as std::round): the grid's values inside the range are equally
// likely, the two at its ends less so. 0 when the range holds a single value.
double rounded_uniform_bits(double lo, double hi, int decimals);

// The entropy in bits of a choice among outcomes of these probabilities (summing to 1).
double choice_bits(std::span<const double> probabilities);

// The empirical entropy, in bits per symbol, of `symbols`: of the frequency distribution
// of the values they take. 0 for fewer than two symbols.
double empirical_bits(std::vector<std::int64_t> symbols);

// A series' model-free floor in bits, for all its samples: n times the empirical entropy
// of its values or (n - 1) times that of their changes, whichever is lower. Values are
// read on their decimal grid (the fewest decimals, up to 9, that write each exactly), so
// that changes are exact; values on no such grid are compared bit for bit, without
// changes.
double series_empirical_bits(std::span<const double> values);

// A floor in bits for a rollup bucket's (min, max) over n samples drawn independently,
// none more likely than 1 / values (a range that holds `values` equally likely values):
// P(max = k) <= n / values, and P(min = a, max = b) <= n (n - 1) / values^2, so the
// bucket's min-entropy, and its Shannon entropy above it, is at least the larger of
// log2(values / n) and log2(values^2 / (n (n - 1))); log2(values) when n = 1.
double bucket_floor_bits(double values, std::int64_t n);

// Collects what a benchmark generates, series by series, and tells the floors above.
class InformationFloor {
 public:
  // A series whose every sample holds `bits` given the one before (its model) and, when
  // `iid_values` > 0, whose samples are drawn independently from a range of that many
  // equally likely values (its rollup buckets then have a floor too). Returns its index.
  int add_series(double bits, double iid_values = 0);
  // A sample of series `series`, in ascending time per series.
  void add_sample(int series, std::int64_t ts_ms, double value);
  // Bits that timestamps hold, as the model says: for instance the jitter of a result's
  // timestamp, shared by its metrics, once a result.
  void add_timestamp_bits(double bits) { timestamp_bits_ += bits; }

  struct Figures {
    std::int64_t samples = 0;
    double value_bits = 0;      // the model's floor for the values, in all
    double timestamp_bits = 0;  // the model's floor for the timestamps, in all
    double empirical_bits = 0;  // the model-free floor for the values, in all
    // For each tier width asked: the floor of its buckets' (min, max), series whose
    // samples are independent only (others count 0), each tier on its own.
    std::vector<double> tier_bits;
  };
  // Buckets are [k * width, (k + 1) * width) in the samples' time.
  Figures figures(std::span<const std::int64_t> tier_widths_ms) const;

 private:
  struct Series {
    double bits = 0;
    double iid_values = 0;
    std::vector<std::int64_t> ts_ms;
    std::vector<double> values;
  };
  std::vector<Series> series_;
  double timestamp_bits_ = 0;
};

}  // namespace vigie::bench::storage
