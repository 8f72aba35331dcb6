#pragma once
// Logging to stderr, one line per message, with the journald priority prefix
// ("<3>" error ... "<7>" debug) so that systemd's journal keeps the level.
// Thread-safe: each line is written with one write(2).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vigie::log {

enum class Level { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// Messages above this level are dropped. Default kInfo.
void set_level(Level level);
Level level();

void write(Level level, std::string_view message);
inline void error(std::string_view m) { write(Level::kError, m); }
inline void warning(std::string_view m) { write(Level::kWarning, m); }
inline void notice(std::string_view m) { write(Level::kNotice, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void debug(std::string_view m) { write(Level::kDebug, m); }

// Lets a line through once every `interval` at most, and counts the ones held back
// meanwhile: a fault that fails every request must not flood the journal, nor hide how
// often it struck. Thread-safe.
class Throttle {
 public:
  explicit Throttle(std::chrono::milliseconds interval) : interval_(interval) {}

  // At `now`: the number of lines held back since the last one let through, when this
  // one may be written; nullopt when it is held back (and counted).
  std::optional<std::int64_t> pass(std::chrono::steady_clock::time_point now);

 private:
  const std::chrono::milliseconds interval_;
  std::atomic<std::int64_t> last_ms_{kNever};
  std::atomic<std::int64_t> held_{0};
  static constexpr std::int64_t kNever = INT64_MIN;
};

}  // namespace vigie::log
