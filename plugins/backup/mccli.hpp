#pragma once
// Reading what Avamar's `mccli` prints, plain or with --xml (docs/checks.md names the
// sources of the layouts):
//
//   plain: "0,23000,CLI command completed successfully."   <return code>,<event>,<summary>
//          a header naming the columns, a line of dashes giving each column's width
//          (cells hold spaces: "Completed w/Exception(s)", "2025-03-02 20:00 CET"),
//          one line per row. Single objects are a two-column Attribute/Value table.
//   --xml: one document whose root holds Results/ReturnCode, Results/EventCode,
//          Results/EventSummary and Data/Row elements, each row's children being the
//          columns with the spaces of their names removed ("ErrorCode", "StartTime").
//
// Columns are named without spaces in both forms ("Error Code" is "ErrorCode"), so a
// reader asks for them the same way. Nothing is guessed: a layout not recognised is an
// error naming what is wrong and where.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace vigie::plugins::backup {

struct MccliRow {
  std::size_t number = 0;  // 1-based, in the table
  std::string text;        // the row as printed (plain), or its cells as "Name=value, ..." (xml)
  std::map<std::string, std::string, std::less<>> cells;  // by column name without spaces

  // The cell of `column`, "" when the row has none.
  std::string_view cell(std::string_view column) const;
  // "row 3 \"9174120000210509 Completed ...\"": the row named for a message.
  std::string where() const;
};

struct MccliOutput {
  bool xml = false;
  long long event_code = 0;
  std::string summary;               // the event summary ("CLI command completed ...")
  std::vector<std::string> columns;  // in order, without spaces (plain: from the header)
  std::vector<MccliRow> rows;

  bool has_column(std::string_view column) const;
};

// Parses `out`, the output of `what` ("mccli activity show"). Errors: kUnavailable
// "mccli failed: <summary> (code N, event M)" when mccli refused the command (a non-zero
// return code); kCorruption "<what>: <why>" for anything else it cannot read (an empty
// output, no status line, no dashed line under the header, a row cut short, XML that
// does not parse or lacks Results...). At most `max_rows` rows.
Result<MccliOutput> parse_mccli(std::string_view out, std::string_view what,
                                std::size_t max_rows = 20'000);

// "1.3 GB", "512 MB", "0 bytes", "2,048 KB", "1.9 TB": bytes, in units of 1024 as Avamar
// counts. nullopt for anything else.
std::optional<double> parse_avamar_bytes(std::string_view text);

// "2025-03-02 20:00 CET", "2026-11-29 01:02:03 UTC": seconds since the epoch. UTC and GMT
// are read as such; other zone abbreviations (ambiguous the world over) as the agent's
// local time. nullopt without a zone or in another layout.
std::optional<std::int64_t> parse_avamar_time(std::string_view text);

std::string_view trim_blank(std::string_view text);

}  // namespace vigie::plugins::backup
