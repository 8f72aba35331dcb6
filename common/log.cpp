#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

namespace vigie::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
}

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level lvl, std::string_view message) {
  if (static_cast<int>(lvl) > static_cast<int>(level())) return;
  std::string line;
  line.reserve(message.size() + 5);
  line += '<';
  line += static_cast<char>('0' + static_cast<int>(lvl));
  line += '>';
  // One message, one line: a newline inside would start a line without a prefix.
  for (char c : message) line += (c == '\n' ? ' ' : c);
  line += '\n';
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;  // nowhere else to report it
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::optional<std::int64_t> Throttle::pass(std::chrono::steady_clock::time_point now) {
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::int64_t last = last_ms_.load();
  // One caller among those arriving together wins the slot; the others are counted.
  if ((last == kNever || now_ms - last >= interval_.count()) &&
      last_ms_.compare_exchange_strong(last, now_ms))
    return held_.exchange(0);
  held_.fetch_add(1);
  return std::nullopt;
}

}  // namespace vigie::log
