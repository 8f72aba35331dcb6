// libFuzzer target: the console's model (console/model.hpp), which reads the query
// API's replies. The first byte picks the reply, the rest is its body. Whatever the
// body: no crash, no undefined behaviour; the rows of a checks reply sort (a comparator
// that is not a strict weak order is undefined behaviour in std::sort).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "console/model.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace console = vigie::console;
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 10) {
    case 0:
      if (auto reply = console::parse_checks_reply(body)) {
        for (const auto& row : reply->rows) {
          VIGIE_FUZZ_CHECK(!console::problem_before(row, row));
          VIGIE_FUZZ_CHECK(!console::row_before(row, row));
        }
        console::sort_rows(reply->rows);
      }
      break;
    case 1: (void)console::parse_check_reply(body); break;
    case 2: (void)console::parse_sites_reply(body); break;
    case 3: (void)console::parse_agents_reply(body); break;
    case 4: (void)console::parse_site_reply(body); break;
    case 5: (void)console::parse_overview_reply(body); break;
    case 6: (void)console::parse_series_reply(body); break;
    case 7: (void)console::parse_notifications_reply(body); break;
    default: (void)console::parse_events_reply(body); break;
  }
  return 0;
}
