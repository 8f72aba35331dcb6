#pragma once
// Logging to stderr, one line per message, with the journald priority prefix
// ("<3>" error ... "<7>" debug) so that systemd's journal keeps the level.
// Thread-safe: each line is written with one write(2).

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

}  // namespace vigie::log
