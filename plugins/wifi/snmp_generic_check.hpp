#pragma once
// `wifi/snmp-generic`: any access point through IF-MIB. Its 802.11 interfaces (ifType
// ieee80211(71), or a name starting wlan, ath, wifi, wl or ra) are judged by their
// admin and oper status: one disabled on purpose (admin down) is not a problem, one
// enabled but not up (or dormant) is CRITICAL. Traffic rates per interface. IF-MIB has
// no station count: the "stations" metric is reported as unavailable ("U"), never 0.
//
// Parameters:
//   "device"      required: a device of the "devices" block.
//   "interfaces"  the interface names to judge (ifName, else ifDescr); default: the
//                 802.11 ones found as above.
// instance() is the device name.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::wifi {

inline constexpr MetricSpec kGenericMetrics[] = {
    {"uptime", "s", "time since the device's SNMP agent started (sysUpTime)"},
    {"radios_up", "", "802.11 interfaces up"},
    {"stations", "", "always U (unavailable): IF-MIB does not count stations"},
    {"<interface>_in_bps", "", "traffic received, bits per second (from the second poll)"},
    {"<interface>_out_bps", "", "traffic sent, bits per second (from the second poll)"},
};

std::unique_ptr<Check> make_snmp_generic_check();

}  // namespace vigie::plugins::wifi
