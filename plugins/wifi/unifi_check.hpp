#pragma once
// `wifi/unifi`: a UniFi access point over SNMP (UBNT-UniFi-MIB): each SSID (VAP) up
// or down, stations per SSID and band, radios and their channel utilisation, uplink,
// isolation, uptime. See docs/checks.md for the parameters and states.
//
// Parameters:
//   "device"             required: a device of the "devices" block.
//   "ssid"               judge only this SSID (its absence is CRITICAL); default: all.
//   "hotspots"           SSIDs where no station at all is a WARNING; default: the
//                        SSIDs the AP marks "guest" (unifiVapUsage).
//   "empty_ok"           SSIDs never warned about for having no station.
//   "office_hours"       "Mon-Fri 08:00-18:00": warn about an empty hotspot only then.
//   "channel_util_warn"  / "channel_util_crit": percent, defaults 80 / 95.
// instance() is the device name, or "<device>/<ssid>" with "ssid".

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::wifi {

inline constexpr MetricSpec kUnifiMetrics[] = {
    {"uptime", "s", "time since the access point started (sysUpTime)"},
    {"stations", "", "stations associated, all SSIDs"},
    {"stations_<ssid>", "", "stations associated to one SSID"},
    {"stations_2g", "", "stations on 2.4 GHz radios"},
    {"stations_5g", "", "stations on 5 GHz radios"},
    {"<radio>_cu_pct", "%", "channel utilisation of a radio (unifiRadioCuTotal)"},
    {"<vap>_in_bps", "", "traffic received on a VAP, bits per second (from the second poll)"},
    {"<vap>_out_bps", "", "traffic sent on a VAP, bits per second (from the second poll)"},
};

std::unique_ptr<Check> make_unifi_check();

}  // namespace vigie::plugins::wifi
