// libFuzzer target: the perfdata parser (common/perfdata.hpp), which reads what any
// Nagios plugin prints. Whatever the text: no crash, no undefined behaviour; what it
// accepts is written back as text that parses to the same metrics (the round trip
// docs/protocol.md promises), and the same for one metric and for a range.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/perfdata.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace v = vigie;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto metrics = v::parse_perfdata(text)) {
    const auto again = v::parse_perfdata(v::format_perfdata(*metrics));
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(*again == *metrics);
  }
  if (const auto metric = v::parse_metric(text)) {
    const auto again = v::parse_metric(v::format_metric(*metric));
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(*again == *metric);
  }
  if (const auto range = v::parse_range(text)) {
    const auto again = v::parse_range(v::format_range(*range));
    VIGIE_FUZZ_CHECK(again.is_ok());
    VIGIE_FUZZ_CHECK(*again == *range);
  }
  return 0;
}
