#pragma once
// A net-snmp variable's name and value as ours, for the two files that include net-snmp
// (session.cpp, which defines these, and trap_receiver.cpp). net-snmp's headers are not
// included here: its struct is only named.

#include "plugins/snmp/session.hpp"

struct variable_list;  // net-snmp's netsnmp_variable_list

namespace vigie::plugins::snmp::detail {

Oid name_of(const ::variable_list& var);
Value value_of(const ::variable_list& var);

}  // namespace vigie::plugins::snmp::detail
