#pragma once
// snmpsim (Debian's snmpsimd) serving SNMP recordings on 127.0.0.1, for the tests of
// the SNMP checks. Each recording is one simulated device, reached with its community.
// Starting it takes about a second: a test file builds every recording it needs and
// starts one simulator for all of them.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::testing {

struct Recording {
  std::string community;
  std::string text;  // .snmprec lines: OID|TAG|VALUE
};

// The text of tests/fixtures/snmp/<name>.snmprec.
std::string fixture_recording(const std::string& name);

// `text` with some objects changed: edits map an OID ("1.3.6.1.2.1.1.5.0") to its new
// "TAG|VALUE", or to "" to remove it. An OID not in the text is added (in order).
std::string edit_recording(const std::string& text,
                           const std::map<std::string, std::string>& edits);

class SnmpSim {
 public:
  // Starts snmpsimd on a free UDP port of 127.0.0.1 and waits (up to 15 s) until
  // every recording answers. Throws std::runtime_error when it cannot.
  explicit SnmpSim(const std::vector<Recording>& recordings);
  ~SnmpSim();

  int port() const { return port_; }
  std::string log() const;

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Child> child_;
};

// A UDP port of 127.0.0.1 free at the time of the call.
int free_udp_port();

}  // namespace vigie::testing
