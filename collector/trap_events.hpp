#pragma once
// What the collector keeps of the SNMP traps agents send (a report's `events`, kind
// "trap"), and how much of a storm it keeps.
//
// A trap is kept as an event of kind "trap" (state.hpp) in the check's history and the
// events feed, beside the state changes, written in the transaction of the report that
// carried it. Each is bounded: its summary to kMaxTrapSummary bytes, its detail (the
// JSON text in Event::trap) to kMaxTrapText bytes: each variable's name, type and value
// cut to kMaxTrapValue bytes, and the variables that do not fit left out and counted.
//
// A storm is bounded by TrapGate: per agent and per (device, check), a token bucket of
// `burst` traps refilled at one per `refill`; a trap past it is not kept, counted, and
// the next kept trap of that bucket says how many were not ("not_kept_before"). The
// agent bounds each device's rate before this (its "traps" block); this bound holds
// whatever an agent sends.

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "collector/state.hpp"
#include "common/protocol.hpp"

namespace vigie::collector {

inline constexpr std::size_t kMaxTrapSummary = 1024;
inline constexpr std::size_t kMaxTrapText = 4096;
inline constexpr std::size_t kMaxTrapValue = 256;

// The detail of `trap` as Event::trap keeps it, at most kMaxTrapText bytes.
std::string trap_text(const protocol::Event& trap, std::int64_t not_kept_before = 0);

struct TrapGateOptions {
  int burst = 20;                     // traps kept at once per bucket
  std::int64_t refill_ms = 60'000;    // one more kept per this, up to burst
  std::size_t max_buckets = 100'000;  // buckets held; past it full ones are forgotten
};

// The storm bound. Not thread-safe: the state engine calls it under its lock.
class TrapGate {
 public:
  explicit TrapGate(TrapGateOptions options = {}) : options_(options) {}

  // Whether to keep a trap of `agent`'s (device, check) received at `now_ms`. When it
  // is kept, *not_kept_before is the count of that bucket's traps not kept since the
  // last one kept.
  bool admit(const std::string& agent, const std::string& device, const std::string& check,
             std::int64_t now_ms, std::int64_t* not_kept_before);

  std::int64_t kept() const { return kept_; }
  std::int64_t not_kept() const { return not_kept_; }

 private:
  struct Bucket {
    std::int64_t credit_ms = 0;  // traps it may keep, times refill_ms: exact arithmetic
    std::int64_t at_ms = 0;
    std::int64_t not_kept = 0;
  };
  std::int64_t full() const { return options_.burst * options_.refill_ms; }
  void refill(Bucket& b, std::int64_t now_ms) const;
  void forget_full(std::int64_t now_ms);

  TrapGateOptions options_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::int64_t kept_ = 0;
  std::int64_t not_kept_ = 0;
};

}  // namespace vigie::collector
