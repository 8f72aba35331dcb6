// libFuzzer target: the console's model (console/model.hpp), which reads the query
// API's replies. The first byte picks the reply, the rest is its body. Whatever the
// body: no crash, no undefined behaviour; the fast reader (simdjson) never accepts what
// the careful one (nlohmann::json) refuses, nor reads it otherwise, and the public
// function answers as the careful reader does; the rows of a checks reply sort (a
// comparator that is not a strict weak order is undefined behaviour in std::sort).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "console/model.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace console = vigie::console;

// The fast reader against the careful one, and the public function against both.
template <class Fast, class Careful, class Public>
void agree(std::string_view body, Fast fast, Careful careful, Public read) {
  const auto quick = fast(body);
  const auto sure = careful(body);
  if (quick) {
    VIGIE_FUZZ_CHECK(sure.is_ok());
    VIGIE_FUZZ_CHECK(*quick == *sure);
  }
  const auto answer = read(body);
  VIGIE_FUZZ_CHECK(answer.is_ok() == sure.is_ok());
  if (!answer) {
    VIGIE_FUZZ_CHECK(answer.status().message() == sure.status().message());
  } else if constexpr (requires { answer->rows; }) {
    VIGIE_FUZZ_CHECK(answer->rows.size() == sure->rows.size());
  } else {
    VIGIE_FUZZ_CHECK(*answer == *sure);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace detail = console::detail;
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 10) {
    case 0:
      agree(body, detail::parse_checks_fast, detail::parse_checks_careful,
            console::parse_checks_reply);
      agree(body, detail::parse_checks_fast, detail::parse_checks_careful,
            console::parse_problems_reply);
      if (auto reply = console::parse_checks_reply(body)) {
        for (const auto& row : reply->rows) {
          VIGIE_FUZZ_CHECK(!console::problem_before(row, row));
          VIGIE_FUZZ_CHECK(!console::row_before(row, row));
        }
        console::sort_problems(reply->rows);
      }
      break;
    case 1:
      agree(body, detail::parse_check_fast, detail::parse_check_careful,
            console::parse_check_reply);
      break;
    case 2:
      agree(body, detail::parse_sites_fast, detail::parse_sites_careful,
            console::parse_sites_reply);
      break;
    case 3:
      agree(body, detail::parse_agents_fast, detail::parse_agents_careful,
            console::parse_agents_reply);
      break;
    case 4:
      agree(body, detail::parse_site_fast, detail::parse_site_careful, console::parse_site_reply);
      break;
    case 5:
      agree(body, detail::parse_overview_fast, detail::parse_overview_careful,
            console::parse_overview_reply);
      break;
    case 6:
      agree(body, detail::parse_series_fast, detail::parse_series_careful,
            console::parse_series_reply);
      break;
    case 7:
      agree(body, detail::parse_notifications_fast, detail::parse_notifications_careful,
            console::parse_notifications_reply);
      break;
    default:
      agree(body, detail::parse_events_fast, detail::parse_events_careful,
            console::parse_events_reply);
      break;
  }
  return 0;
}
