#include "bench/storage/information.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>

namespace vigie::bench::storage {
namespace {

// -q log2 q, 0 for q = 0.
double surprise(double q) { return q > 0 ? -q * std::log2(q) : 0; }

// The integers k such that values[i] == k[i] / 10^d, with the fewest decimals d (0 to
// 9) that write every value exactly; empty when none does.
std::vector<std::int64_t> on_decimal_grid(std::span<const double> values) {
  constexpr double kExact = 9007199254740992.0;  // 2^53: beyond, integers are not exact
  double scale = 1;
  for (int d = 0; d <= 9; ++d, scale *= 10) {
    const bool fits = std::all_of(values.begin(), values.end(), [&](double v) {
      const double k = std::round(v * scale);
      return std::fabs(k) < kExact && k / scale == v;
    });
    if (!fits) continue;
    std::vector<std::int64_t> grid;
    grid.reserve(values.size());
    for (const double v : values) grid.push_back(std::llround(v * scale));
    return grid;
  }
  return {};
}

}  // namespace

double rounded_uniform_bits(double lo, double hi, int decimals) {
  const double scale = std::pow(10.0, decimals);
  const double a = lo * scale;
  const double b = hi * scale;
  const double width = b - a;
  const double first = std::round(a);
  const double last = std::round(b);
  if (!(width > 0) || first == last) return 0;
  // x * scale is uniform in [a, b]; the grid value k takes [k - 0.5, k + 0.5) of it: a
  // whole unit for each one strictly between the ends, what is left for the two ends.
  const double inner = last - first - 1;
  return inner * surprise(1 / width) + surprise((first + 0.5 - a) / width) +
         surprise((b - (last - 0.5)) / width);
}

double choice_bits(std::span<const double> probabilities) {
  double bits = 0;
  for (const double p : probabilities) bits += surprise(p);
  return bits;
}

double empirical_bits(std::vector<std::int64_t> symbols) {
  if (symbols.size() < 2) return 0;
  std::sort(symbols.begin(), symbols.end());
  const auto n = static_cast<double>(symbols.size());
  double bits = 0;
  for (std::size_t i = 0; i < symbols.size();) {
    std::size_t j = i;
    while (j < symbols.size() && symbols[j] == symbols[i]) ++j;
    bits += surprise(static_cast<double>(j - i) / n);
    i = j;
  }
  return bits;
}

double series_empirical_bits(std::span<const double> values) {
  const auto n = static_cast<double>(values.size());
  std::vector<std::int64_t> grid = on_decimal_grid(values);
  if (grid.empty() && !values.empty()) {
    std::vector<std::int64_t> raw;
    raw.reserve(values.size());
    for (const double v : values) raw.push_back(std::bit_cast<std::int64_t>(v));
    return n * empirical_bits(std::move(raw));
  }
  std::vector<std::int64_t> changes;
  changes.reserve(grid.size());
  for (std::size_t i = 1; i < grid.size(); ++i) changes.push_back(grid[i] - grid[i - 1]);
  const double of_values = n * empirical_bits(std::move(grid));
  const double of_changes =
      static_cast<double>(changes.size()) * empirical_bits(std::move(changes));
  return std::min(of_values, of_changes);
}

double bucket_floor_bits(double values, std::int64_t n) {
  if (!(values > 1) || n < 1) return 0;
  if (n == 1) return std::log2(values);
  const auto count = static_cast<double>(n);
  const double of_max = std::log2(values / count);
  const double of_min_and_max = 2 * std::log2(values) - std::log2(count * (count - 1));
  return std::max({0.0, of_max, of_min_and_max});
}

int InformationFloor::add_series(double bits, double iid_values) {
  series_.push_back({.bits = bits, .iid_values = iid_values, .ts_ms = {}, .values = {}});
  return static_cast<int>(series_.size()) - 1;
}

void InformationFloor::add_sample(int series, std::int64_t ts_ms, double value) {
  Series& s = series_[static_cast<std::size_t>(series)];
  s.ts_ms.push_back(ts_ms);
  s.values.push_back(value);
}

InformationFloor::Figures InformationFloor::figures(
    std::span<const std::int64_t> tier_widths_ms) const {
  Figures f;
  f.timestamp_bits = timestamp_bits_;
  f.tier_bits.assign(tier_widths_ms.size(), 0);
  for (const Series& s : series_) {
    const auto n = static_cast<std::int64_t>(s.values.size());
    f.samples += n;
    f.value_bits += s.bits * static_cast<double>(n);
    f.empirical_bits += series_empirical_bits(s.values);
    if (s.iid_values <= 0) continue;
    for (std::size_t t = 0; t < tier_widths_ms.size(); ++t) {
      const std::int64_t width = tier_widths_ms[t];
      for (std::size_t i = 0; i < s.ts_ms.size();) {
        const std::int64_t bucket = s.ts_ms[i] / width;
        std::size_t j = i;
        while (j < s.ts_ms.size() && s.ts_ms[j] / width == bucket) ++j;
        f.tier_bits[t] += bucket_floor_bits(s.iid_values, static_cast<std::int64_t>(j - i));
        i = j;
      }
    }
  }
  return f;
}

}  // namespace vigie::bench::storage
