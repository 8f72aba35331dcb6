#include "plugins/snmp/trap_names.hpp"

#include <catch2/catch.hpp>

namespace vigie::plugins::snmp {
namespace {

Value integer(std::int64_t n) {
  Value v;
  v.type = Type::kInteger;
  v.integer = n;
  return v;
}

Value text(std::string bytes) {
  Value v;
  v.type = Type::kOctetString;
  v.bytes = std::move(bytes);
  return v;
}

TEST_CASE("Trap names: the standard, Net-SNMP and SFOS notifications by name", "[snmp][traps]") {
  CHECK(trap_name(oid("1.3.6.1.6.3.1.1.5.1")) == "coldStart");
  CHECK(trap_name(oid("1.3.6.1.6.3.1.1.5.2")) == "warmStart");
  CHECK(trap_name(oid("1.3.6.1.6.3.1.1.5.3")) == "linkDown");
  CHECK(trap_name(oid("1.3.6.1.6.3.1.1.5.4")) == "linkUp");
  CHECK(trap_name(oid("1.3.6.1.6.3.1.1.5.5")) == "authenticationFailure");
  CHECK(trap_name(oid("1.3.6.1.4.1.8072.4.0.2")) == "nsNotifyShutdown");
  CHECK(trap_name(oid("1.3.6.1.4.1.2604.5.1.8.1.1")) == "sfosNotification");
  CHECK(trap_name(oid("1.3.6.1.4.1.99.0.1")).empty());
  CHECK(trap_name(oid("1.3.6.1.6.3.1.1.5")).empty());  // a prefix is not a trap
}

TEST_CASE("Trap names: variables with their instance, values as text", "[snmp][traps]") {
  CHECK(variable_name(oid("1.3.6.1.2.1.2.2.1.8.3")) == "ifOperStatus.3");
  CHECK(variable_name(oid("1.3.6.1.2.1.1.3.0")) == "sysUpTime.0");
  CHECK(variable_name(oid("1.3.6.1.4.1.2604.5.1.8.1.2")) == "sfosTrapMessage");
  CHECK(variable_name(oid("1.3.6.1.4.1.99.1")).empty());

  CHECK(value_text(oid("1.3.6.1.2.1.2.2.1.8.3"), integer(2)) == "down(2)");
  CHECK(value_text(oid("1.3.6.1.2.1.2.2.1.7.3"), integer(1)) == "up(1)");
  CHECK(value_text(oid("1.3.6.1.2.1.2.2.1.8.3"), integer(99)) == "99");
  CHECK(value_text(oid("1.3.6.1.2.1.2.2.1.1.3"), integer(3)) == "3");
  CHECK(value_text(oid("1.3.6.1.4.1.99.1"), text("Port3 é")) == "Port3 é");
  CHECK(value_text(oid("1.3.6.1.4.1.99.1"), text(std::string("\x00\xff\x10", 3))) == "0x00ff10");
  CHECK(value_text(oid("1.3.6.1.4.1.99.1"), text("line\nbreak")) == "0x6c696e650a627265616b");
  Value trap;
  trap.type = Type::kObjectId;
  trap.object = oid("1.3.6.1.6.3.1.1.5.3");
  CHECK(value_text(oid("1.3.6.1.6.3.1.1.4.1.0"), trap) == "1.3.6.1.6.3.1.1.5.3 (linkDown)");
  // Cut at a character boundary.
  CHECK(value_text(oid("1.3.6.1.4.1.99.1"), text("ééé"), 5) == "éé");
  CHECK(value_text(oid("1.3.6.1.4.1.99.1"), text(std::string(5000, 'x'))).size() == 1024);
}

TEST_CASE("Trap names: a summary a technician reads", "[snmp][traps]") {
  protocol::Event e;
  e.device = "fw";
  e.trap_oid = "1.3.6.1.6.3.1.1.5.3";
  e.trap_name = "linkDown";
  e.varbinds = {
      {"1.3.6.1.2.1.1.3.0", "sysUpTime.0", "TimeTicks", "12345"},
      {"1.3.6.1.6.3.1.1.4.1.0", "snmpTrapOID.0", "OBJECT IDENTIFIER", "1.3.6.1.6.3.1.1.5.3"},
      {"1.3.6.1.2.1.2.2.1.1.3", "ifIndex.3", "INTEGER", "3"},
      {"1.3.6.1.4.1.99.1", "", "INTEGER", "7"}};
  CHECK(trap_summary(e) == "linkDown from fw: ifIndex.3=3, 1.3.6.1.4.1.99.1=7");
  e.inform = true;
  e.trap_name.clear();
  e.varbinds.resize(2);
  CHECK(trap_summary(e) == "1.3.6.1.6.3.1.1.5.3 (inform) from fw");
  e.inform = false;
  e.trap_name = "sfosNotification";
  e.varbinds.push_back(
      {"1.3.6.1.4.1.2604.5.1.8.1.2", "sfosTrapMessage", "OCTET STRING", "IPsec tunnel HQ down"});
  CHECK(trap_summary(e) == "sfosNotification from fw: IPsec tunnel HQ down");
  e.varbinds.back().value = std::string(2000, 'x');
  const std::string long_one = trap_summary(e, 100);
  CHECK(long_one.size() <= 100);
  CHECK(long_one.ends_with("..."));
}

}  // namespace
}  // namespace vigie::plugins::snmp
