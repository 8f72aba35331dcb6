#pragma once
// What the agent knows of SNMP traps without MIB files: the names of the standard traps
// (SNMPv2-MIB's coldStart... authenticationFailure, IF-MIB's linkDown and linkUp), of
// Net-SNMP's agent notifications (which Net-SNMP based devices, SFOS among them, send),
// of Sophos Firewall's (SFOS-FIREWALL-MIB's sfosNotification), and of the variables
// they carry, so that a technician reads "linkDown from fw: ifIndex.3=3,
// ifOperStatus.3=down(2)" rather than OIDs. Anything else keeps its numeric OID.

#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.hpp"
#include "plugins/snmp/session.hpp"

namespace vigie::plugins::snmp {

// snmpTrapOID.0 and sysUpTime.0: the first two variables of every v2c/v3 notification.
inline const Oid kSnmpTrapOid = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};
inline const Oid kSysUpTime = {1, 3, 6, 1, 2, 1, 1, 3, 0};

// "linkDown" for 1.3.6.1.6.3.1.1.5.3; "" when unknown.
std::string_view trap_name(const Oid& trap);

// A variable's name with its instance: "ifOperStatus.3", "sysUpTime.0"; "" when unknown.
std::string variable_name(const Oid& name);

// A variable's value as text: numbers in decimal, the enumerations it knows by name
// ("down(2)" for ifOperStatus), OIDs dotted, strings as they are when they are printable
// UTF-8 or else in hexadecimal ("0x00ff"), cut to `max_bytes` at a character boundary.
std::string value_text(const Oid& name, const Value& value, std::size_t max_bytes = 1024);

// One line for a human: "<trap name or OID> from <device>: name=value, ..." (the trap's
// own first two variables left out; for sfosNotification, its message), at most
// `max_bytes`.
std::string trap_summary(const protocol::Event& trap, std::size_t max_bytes = 400);

}  // namespace vigie::plugins::snmp
