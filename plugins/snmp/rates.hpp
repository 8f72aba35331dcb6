#pragma once
// Counters become rates across polls. A check keeps one RateTracker and feeds it, at
// each poll, every counter it reports as a rate.
//
// Between two polls a counter that went down is read as:
// - a reset when the device restarted (its sysUpTime went down) or for a Counter64
//   (2^64 does not wrap in a device's life): no rate this time;
// - one wrap of a Counter32 otherwise (the counter passed 2^32 - 1).
// A key not seen in the previous poll gives no rate (nullopt) this time: rates start
// at the second poll.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace vigie::plugins::snmp {

class RateTracker {
 public:
  // Starts a poll taken at `when`; `uptime_ticks` is the device's sysUpTime (1/100 s),
  // nullopt when unknown.
  void begin(std::chrono::steady_clock::time_point when, std::optional<std::uint64_t> uptime_ticks);
  // The per-second rate of `key` since the previous poll, or nullopt (first poll,
  // reset, or no time elapsed). `bits` is 32 or 64.
  std::optional<double> rate(const std::string& key, std::uint64_t value, int bits);
  // Forgets keys not fed in this poll (an interface that disappeared).
  void end();

 private:
  struct Sample {
    std::uint64_t value = 0;
    std::uint64_t generation = 0;
  };
  std::map<std::string, Sample> samples_;
  std::uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point now_{};
  std::chrono::steady_clock::time_point previous_{};
  bool have_previous_ = false;
  bool restarted_ = false;
  std::optional<std::uint64_t> uptime_;
  std::optional<std::uint64_t> previous_uptime_;
};

}  // namespace vigie::plugins::snmp
