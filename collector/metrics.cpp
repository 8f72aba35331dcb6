#include "collector/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <memory>

namespace vigie::collector {
namespace {

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

}  // namespace

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::max(0.0, seconds) * 1e6),
                        std::memory_order_relaxed);
}

HistogramCounts Histogram::counts() const {
  HistogramCounts c;
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    c.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  c.count = count_.load(std::memory_order_relaxed);
  c.sum = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  return c;
}

void HistogramCounts::render(std::string& out, std::string_view name,
                             std::string_view labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= kHistogramBounds.size(); ++i) {
    cumulative += buckets[i];
    const std::string le = i < kHistogramBounds.size() ? number(kHistogramBounds[i]) : "+Inf";
    out += std::string(name) + "_bucket{" + std::string(labels) + sep + "le=\"" + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out += std::string(name) + "_sum" + braces + " " + number(sum) + "\n";
  out += std::string(name) + "_count" + braces + " " + std::to_string(count) + "\n";
}

RequestMetrics::Route& RequestMetrics::route(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = routes_.find(name);
  if (it == routes_.end()) it = routes_.emplace(std::string(name), std::make_unique<Route>()).first;
  return *it->second;
}

void RequestMetrics::observe(std::string_view name, int status, double seconds) {
  Route& r = route(name);
  r.latency.observe(seconds);
  const int cls = status >= 100 && status < 600 ? status / 100 : 0;
  r.by_class[static_cast<std::size_t>(cls)].fetch_add(1, std::memory_order_relaxed);
}

void RequestMetrics::render(std::string& out) const {
  std::lock_guard lock(mu_);
  out +=
      "# HELP vigie_http_request_duration_seconds Time from a request's arrival at a route "
      "to its answer (ingest: after the commit).\n"
      "# TYPE vigie_http_request_duration_seconds histogram\n";
  for (const auto& [name, r] : routes_) {
    r->latency.render(out, "vigie_http_request_duration_seconds",
                      "route=\"" + label_value(name) + "\"");
  }
  out +=
      "# HELP vigie_http_requests_total Requests answered, by route and status class.\n"
      "# TYPE vigie_http_requests_total counter\n";
  static constexpr const char* kClasses[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (const auto& [name, r] : routes_) {
    for (std::size_t c = 0; c < r->by_class.size(); ++c) {
      const auto n = r->by_class[c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += "vigie_http_requests_total{route=\"" + label_value(name) + "\",code=\"" + kClasses[c] +
             "\"} " + std::to_string(n) + "\n";
    }
  }
}

void append_histogram(std::string& out, std::string_view name, std::string_view help,
                      const HistogramCounts& counts) {
  out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " + std::string(name) +
         " histogram\n";
  counts.render(out, name, "");
}

void append_metric(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, double value) {
  out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " + std::string(name) +
         " " + std::string(type) + "\n" + std::string(name) + " " + number(value) + "\n";
}

std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace vigie::collector
