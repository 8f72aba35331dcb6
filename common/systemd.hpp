#pragma once
// Talking to systemd when it started us (Type=notify, WatchdogSec=): readiness,
// stopping, and watchdog keep-alives. Every call is a no-op when not run by systemd
// ($NOTIFY_SOCKET unset), so the programs behave the same by hand and in tests.

#include <chrono>
#include <optional>
#include <string_view>

namespace vigie::systemd {

// Sends `message` (newline-separated VAR=VALUE assignments) to $NOTIFY_SOCKET; false
// when it is unset or unusable, or the datagram could not be sent.
bool notify(std::string_view message);
void notify_ready(std::string_view status = {});
void notify_stopping();
void notify_status(std::string_view status);
// How often systemd expects a keep-alive (half the configured WatchdogSec), or
// nullopt when the watchdog is off.
std::optional<std::chrono::milliseconds> watchdog_period();
void notify_watchdog();

}  // namespace vigie::systemd
