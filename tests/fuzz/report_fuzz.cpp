// libFuzzer target: the report decoder (common/protocol.hpp), the collector's first
// contact with an agent's bytes. Whatever the body: no crash, no undefined behaviour;
// the fast decoder never accepts what the careful one refuses, nor reads it otherwise;
// an accepted report encodes to a body that decodes to the same report. Each input is
// decoded under the default limits and under small ones, which inputs of a few
// kilobytes reach.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/protocol.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using vigie::protocol::Limits;

constexpr Limits kSmall{.max_results = 4,
                        .max_metrics = 3,
                        .max_string = 16,
                        .max_summary = 32,
                        .max_details = 64,
                        .max_depth = 6,
                        .max_values = 64};

void decode(std::string_view body, const Limits& limits) {
  namespace protocol = vigie::protocol;
  const auto careful = protocol::detail::decode_report_careful(body, limits);
  const auto fast = protocol::detail::decode_report_fast(body, limits);
  if (fast) {
    VIGIE_FUZZ_CHECK(careful.is_ok());
    VIGIE_FUZZ_CHECK(*fast == *careful);
  }
  const auto decoded = protocol::decode_report(body, limits);
  VIGIE_FUZZ_CHECK(decoded.is_ok() == careful.is_ok());
  if (!decoded) {
    VIGIE_FUZZ_CHECK(!decoded.status().message().empty());
    (void)protocol::error_field(decoded.status());
    return;
  }
  VIGIE_FUZZ_CHECK(*decoded == *careful);
  // The encoder writes members the input may have left out ("state", "metrics": []):
  // read back under the default limits.
  const auto again = protocol::decode_report(protocol::encode_report(*decoded));
  VIGIE_FUZZ_CHECK(again.is_ok());
  VIGIE_FUZZ_CHECK(*again == *decoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  decode(body, Limits{});
  decode(body, kSmall);
  return 0;
}
