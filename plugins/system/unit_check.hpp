#pragma once
// `system/unit`: the state of one systemd unit, from `systemctl show`.
//
// Parameters:
//   "unit"       required: the unit's name; without a suffix, ".service" is added.
//   "expect"     "active" (default): the unit must be running; "inactive": the unit
//                (a oneshot service started by a timer) must not be failed.
//   "systemctl"  the program or a prefix array. Default "systemctl".
// instance() is the unit's full name.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::system {

inline constexpr MetricSpec kUnitMetrics[] = {
    {"restarts", "c", "times systemd restarted the service (NRestarts) since it was started"},
};

std::unique_ptr<Check> make_unit_check();

}  // namespace vigie::plugins::system
