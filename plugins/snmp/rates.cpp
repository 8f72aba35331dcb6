#include "plugins/snmp/rates.hpp"

#include <iterator>

namespace vigie::plugins::snmp {

void RateTracker::begin(std::chrono::steady_clock::time_point when,
                        std::optional<std::uint64_t> uptime_ticks) {
  have_previous_ = generation_ > 0;
  previous_ = now_;
  now_ = when;
  previous_uptime_ = uptime_;
  uptime_ = uptime_ticks;
  // sysUpTime is a TimeTicks that wraps after 497 days: a decrease larger than a day
  // of ticks is a restart, a tiny one next to the wrap point is not.
  restarted_ = previous_uptime_ && uptime_ && *uptime_ < *previous_uptime_ &&
               !(*previous_uptime_ > 0xFFFFFFFFULL - 8'640'000ULL && *uptime_ < 8'640'000ULL);
  ++generation_;
}

std::optional<double> RateTracker::rate(const std::string& key, std::uint64_t value, int bits) {
  const auto it = samples_.find(key);
  std::optional<double> out;
  if (it != samples_.end() && have_previous_ && it->second.generation + 1 == generation_ &&
      !restarted_) {
    const double seconds = std::chrono::duration<double>(now_ - previous_).count();
    const std::uint64_t old = it->second.value;
    std::optional<std::uint64_t> delta;
    if (value >= old) {
      delta = value - old;
    } else if (bits == 32 && old <= 0xFFFFFFFFULL) {
      delta = (0x100000000ULL - old) + value;
    }
    if (delta && seconds > 0) out = static_cast<double>(*delta) / seconds;
  }
  samples_[key] = Sample{value, generation_};
  return out;
}

void RateTracker::end() {
  for (auto it = samples_.begin(); it != samples_.end();) {
    it = it->second.generation == generation_ ? std::next(it) : samples_.erase(it);
  }
}

}  // namespace vigie::plugins::snmp
