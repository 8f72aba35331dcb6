// libFuzzer target: the wire format between the agent and its SNMP helper
// (plugins/snmp/wire.hpp): the helper reads a poll request or the trap receiver's
// options from the agent, the agent reads the helper's answer lines and trap lines, and
// either may be broken or hostile. Whatever the text: no crash, no undefined behaviour;
// what decodes encodes to text that decodes the same (the second encoding equals the
// first).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "plugins/snmp/wire.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace snmp = vigie::plugins::snmp;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto request = snmp::decode_request(text)) {
    const std::string once = snmp::encode_request(*request);
    const auto again = snmp::decode_request(once);
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(snmp::encode_request(*again) == once);
  }
  if (const auto line = snmp::decode_result(text)) {
    const std::string once = snmp::encode_result(line->job, line->result);
    const auto again = snmp::decode_result(once);
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(again->job == line->job);
    VIGIE_FUZZ_CHECK(snmp::encode_result(again->job, again->result) == once);
  }
  if (const auto options = snmp::decode_trap_options(text)) {
    const std::string once = snmp::encode_trap_options(*options);
    const auto again = snmp::decode_trap_options(once);
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(snmp::encode_trap_options(*again) == once);
  }
  if (const auto line = snmp::decode_trap_line(text);
      line && line->kind == snmp::TrapLine::Kind::kCounters) {
    const auto again = snmp::decode_trap_line(snmp::encode_counters(line->counters));
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(again->counters == line->counters);
  }
  return 0;
}
