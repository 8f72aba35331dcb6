#include "plugins/snmp/trap_names.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>

namespace vigie::plugins::snmp {
namespace {

struct Named {
  const char* oid;
  const char* name;
};

// Notifications, by their exact OID.
constexpr Named kTraps[] = {
    {"1.3.6.1.6.3.1.1.5.1", "coldStart"},                     // SNMPv2-MIB
    {"1.3.6.1.6.3.1.1.5.2", "warmStart"},                     // SNMPv2-MIB
    {"1.3.6.1.6.3.1.1.5.3", "linkDown"},                      // IF-MIB
    {"1.3.6.1.6.3.1.1.5.4", "linkUp"},                        // IF-MIB
    {"1.3.6.1.6.3.1.1.5.5", "authenticationFailure"},         // SNMPv2-MIB
    {"1.3.6.1.6.3.1.1.5.6", "egpNeighborLoss"},               // RFC 1213
    {"1.3.6.1.4.1.8072.4.0.1", "nsNotifyStart"},              // NET-SNMP-AGENT-MIB
    {"1.3.6.1.4.1.8072.4.0.2", "nsNotifyShutdown"},           // NET-SNMP-AGENT-MIB
    {"1.3.6.1.4.1.8072.4.0.3", "nsNotifyRestart"},            // NET-SNMP-AGENT-MIB
    {"1.3.6.1.4.1.2604.5.1.8.1.1", "sfosNotification"},       // SFOS-FIREWALL-MIB
    {"1.3.6.1.2.1.17.0.1", "newRoot"},                        // BRIDGE-MIB
    {"1.3.6.1.2.1.17.0.2", "topologyChange"},                 // BRIDGE-MIB
    {"1.3.6.1.2.1.47.2.0.1", "entConfigChange"},              // ENTITY-MIB
    {"1.3.6.1.2.1.105.0.1", "pethPsePortOnOffNotification"},  // POWER-ETHERNET-MIB
};

// Objects, by the OID their instances are under.
constexpr Named kObjects[] = {
    {"1.3.6.1.2.1.1.1", "sysDescr"},
    {"1.3.6.1.2.1.1.3", "sysUpTime"},
    {"1.3.6.1.2.1.1.5", "sysName"},
    {"1.3.6.1.2.1.2.2.1.1", "ifIndex"},
    {"1.3.6.1.2.1.2.2.1.2", "ifDescr"},
    {"1.3.6.1.2.1.2.2.1.3", "ifType"},
    {"1.3.6.1.2.1.2.2.1.7", "ifAdminStatus"},
    {"1.3.6.1.2.1.2.2.1.8", "ifOperStatus"},
    {"1.3.6.1.2.1.31.1.1.1.1", "ifName"},
    {"1.3.6.1.2.1.31.1.1.1.18", "ifAlias"},
    {"1.3.6.1.6.3.1.1.4.1", "snmpTrapOID"},
    {"1.3.6.1.6.3.1.1.4.3", "snmpTrapEnterprise"},
    {"1.3.6.1.6.3.18.1.3", "snmpTrapAddress"},
    {"1.3.6.1.6.3.18.1.4", "snmpTrapCommunity"},
    {"1.3.6.1.4.1.2604.5.1.1.1", "sfosDeviceName"},
    {"1.3.6.1.4.1.2604.5.1.8.1.2", "sfosTrapMessage"},
};

// IF-MIB's ifAdminStatus and ifOperStatus.
constexpr const char* kIfStatus[] = {"up",      "down",       "testing",       "unknown",
                                     "dormant", "notPresent", "lowerLayerDown"};

using Table = std::vector<std::pair<Oid, const char*>>;

Table parsed(std::span<const Named> named) {
  Table out;
  for (const Named& n : named) out.emplace_back(oid(n.oid), n.name);
  return out;
}

const Table& traps() {
  static const Table t = parsed(kTraps);
  return t;
}
const Table& objects() {
  static const Table t = parsed(kObjects);
  return t;
}

// The object `name` is an instance of, and the instance suffix; nullptr when unknown.
const char* object_of(const Oid& name, Oid* suffix) {
  for (const auto& [prefix, object] : objects()) {
    if (name == prefix || oid_under(name, prefix)) {
      if (suffix != nullptr) suffix->assign(name.begin() + prefix.size(), name.end());
      return object;
    }
  }
  return nullptr;
}

// The longest prefix of `text` of at most `max` bytes that ends on a UTF-8 boundary.
std::string cut(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

// Printable UTF-8: no control characters but tab, valid sequences only.
bool printable(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
      ++i;
      continue;
    }
    const std::size_t length = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (length == 0 || (c >= 0xF5) || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (const unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

std::string_view trap_name(const Oid& trap) {
  for (const auto& [known, name] : traps()) {
    if (known == trap) return name;
  }
  return {};
}

std::string variable_name(const Oid& name) {
  Oid suffix;
  const char* object = object_of(name, &suffix);
  if (object == nullptr) return {};
  std::string out = object;
  for (const std::uint32_t arc : suffix) out += "." + std::to_string(arc);
  return out;
}

std::string value_text(const Oid& name, const Value& value, std::size_t max_bytes) {
  std::string text;
  switch (value.type) {
    case Type::kInteger: {
      text = std::to_string(value.integer);
      const char* object = object_of(name, nullptr);
      const bool status = object != nullptr && (std::string_view(object) == "ifAdminStatus" ||
                                                std::string_view(object) == "ifOperStatus");
      if (status && value.integer >= 1 &&
          value.integer <= static_cast<std::int64_t>(std::size(kIfStatus))) {
        text = std::string(kIfStatus[value.integer - 1]) + "(" + text + ")";
      }
      break;
    }
    case Type::kCounter32:
    case Type::kGauge32:
    case Type::kTimeTicks:
    case Type::kCounter64: text = std::to_string(value.number); break;
    case Type::kIpAddress: text = value.bytes; break;
    case Type::kOctetString: text = printable(value.bytes) ? value.bytes : hex(value.bytes); break;
    case Type::kOpaque: text = hex(value.bytes); break;
    case Type::kObjectId: {
      text = oid_text(value.object);
      if (const auto known = trap_name(value.object); !known.empty())
        text += " (" + std::string(known) + ")";
      break;
    }
    default: text = std::string(type_name(value.type)); break;
  }
  return cut(std::move(text), max_bytes);
}

std::string trap_summary(const protocol::Event& trap, std::size_t max_bytes) {
  std::string out = (trap.trap_name.empty() ? trap.trap_oid : trap.trap_name);
  out += (trap.inform ? " (inform) from " : " from ") + trap.device;
  std::string details;
  const std::string snmp_trap_oid = oid_text(kSnmpTrapOid);
  const std::string sys_up_time = oid_text(kSysUpTime);
  for (const auto& v : trap.varbinds) {
    if (v.oid == snmp_trap_oid || v.oid == sys_up_time) continue;
    if (!details.empty()) details += ", ";
    if (v.name.starts_with("sfosTrapMessage")) {
      details += v.value;  // the message says it all
    } else {
      details += (v.name.empty() ? v.oid : v.name) + "=" + v.value;
    }
    if (details.size() > max_bytes) break;
  }
  if (!details.empty()) out += ": " + details;
  if (out.size() > max_bytes) out = cut(std::move(out), max_bytes - 3) + "...";
  return out;
}

}  // namespace vigie::plugins::snmp
