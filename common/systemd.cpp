#include "common/systemd.hpp"

#include <systemd/sd-daemon.h>

#include <string>

namespace vigie::systemd {

void notify_ready(std::string_view status) {
  std::string message = "READY=1";
  if (!status.empty()) message += "\nSTATUS=" + std::string(status);
  sd_notify(0, message.c_str());
}

void notify_stopping() { sd_notify(0, "STOPPING=1"); }

void notify_status(std::string_view status) {
  sd_notify(0, ("STATUS=" + std::string(status)).c_str());
}

std::optional<std::chrono::milliseconds> watchdog_period() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::milliseconds(usec / 2000);
}

void notify_watchdog() { sd_notify(0, "WATCHDOG=1"); }

}  // namespace vigie::systemd
