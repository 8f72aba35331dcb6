#pragma once
// The collector's own figures for GET /metrics, in the Prometheus text format
// (version 0.0.4): request latency per route, ingest counters, the writer's queue,
// the database's size, checks by state.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace vigie::collector {

inline constexpr std::array<double, 14> kHistogramBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// What a Histogram counted, copied out (StorageStats carries the writer's).
struct HistogramCounts {
  std::array<std::uint64_t, kHistogramBounds.size() + 1> buckets{};  // each bound's; last: +Inf
  std::uint64_t count = 0;
  double sum = 0;  // seconds
  // Appends the _bucket, _sum and _count lines with `labels` ("route=\"/x\"", or "").
  void render(std::string& out, std::string_view name, std::string_view labels) const;
};

// A latency histogram with fixed buckets (seconds, 1 ms to 30 s), cheap to update from
// any thread.
class Histogram {
 public:
  static constexpr auto kBounds = kHistogramBounds;
  void observe(double seconds);
  HistogramCounts counts() const;
  void render(std::string& out, std::string_view name, std::string_view labels) const {
    counts().render(out, name, labels);
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

// Requests by route and status class.
class RequestMetrics {
 public:
  void observe(std::string_view route, int status, double seconds);
  void render(std::string& out) const;

 private:
  struct Route {
    Histogram latency;
    std::array<std::atomic<std::uint64_t>, 6> by_class{};  // 0: other, 1..5: 1xx..5xx
  };
  Route& route(std::string_view name);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Route>, std::less<>> routes_;
};

// A histogram's "# HELP/# TYPE" header and its lines, without labels.
void append_histogram(std::string& out, std::string_view name, std::string_view help,
                      const HistogramCounts& counts);
// One "# HELP/# TYPE" header and its sample.
void append_metric(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, double value);
// Escapes a label value (backslash, quote, newline).
std::string label_value(std::string_view text);

}  // namespace vigie::collector
