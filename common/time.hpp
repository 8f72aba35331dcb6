#pragma once
// Wall-clock time as the protocol counts it: milliseconds since the Unix epoch.

#include <chrono>
#include <cstdint>

namespace vigie {

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vigie
