// libFuzzer target: what the central pollers read from peers that may be broken,
// misconfigured or hostile: a Sophos Central API body (plugins/antivirus/
// sophos_central_api.hpp, read item by item so that a page of a thousand endpoints is
// never held whole) and Avamar's mccli output, plain or --xml (plugins/backup/mccli.hpp),
// with its sizes and times. Whatever the text: no crash, no undefined behaviour, and:
// - the items read one at a time are the "items" array a whole parse of the same body
//   gives, and the rest of the object is the same;
// - mccli's rows are numbered 1, 2, ... and name only the columns of the table.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/antivirus/sophos_central_api.hpp"
#include "plugins/backup/mccli.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using nlohmann::json;
namespace central = vigie::plugins::antivirus::central;

void central_body(std::string_view text) {
  std::vector<json> items;
  const auto rest = central::read_items(text, "endpoints", [&](json& item) {
    items.push_back(std::move(item));
    return true;
  });
  if (!rest) return;
  VIGIE_FUZZ_CHECK(rest->is_object());
  json whole;
  try {
    whole = json::parse(text);
  } catch (const json::exception&) {
    VIGIE_FUZZ_CHECK(false);  // read item by item, but not whole
  }
  VIGIE_FUZZ_CHECK(whole.is_object());
  if (whole.contains("items") && whole["items"].is_array()) {
    VIGIE_FUZZ_CHECK(json(items) == whole["items"]);
    whole["items"] = json::array();
  }
  VIGIE_FUZZ_CHECK(*rest == whole);

  // Stopped after the first item: what was read so far, without error.
  int seen = 0;
  const auto first = central::read_items(text, "endpoints", [&](json&) {
    ++seen;
    return false;
  });
  VIGIE_FUZZ_CHECK(first.is_ok());
  VIGIE_FUZZ_CHECK(seen == (items.empty() ? 0 : 1));
}

void mccli(std::string_view text) {
  namespace backup = vigie::plugins::backup;
  const auto out = backup::parse_mccli(text, "mccli activity show", 50);
  if (out) {
    VIGIE_FUZZ_CHECK(out->rows.size() <= 50);
    for (std::size_t i = 0; i < out->rows.size(); ++i) {
      const backup::MccliRow& row = out->rows[i];
      VIGIE_FUZZ_CHECK(row.number == i + 1);
      for (const auto& [column, value] : row.cells) {
        VIGIE_FUZZ_CHECK(out->has_column(column));
        VIGIE_FUZZ_CHECK(row.cell(column) == value);
      }
      (void)row.where();
    }
  }
  if (const auto bytes = backup::parse_avamar_bytes(text)) VIGIE_FUZZ_CHECK(*bytes >= 0);
  (void)backup::parse_avamar_time(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  central_body(text);
  mccli(text);
  return 0;
}
