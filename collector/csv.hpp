#pragma once
// CSV as RFC 4180 writes it (fields separated by commas, quoted with '"' when they hold
// a comma, a quote or a line break, a quote inside doubled; lines end with CRLF or
// LF), for the lists an administrator prepares in a spreadsheet and the files a
// mail-merge reads.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace vigie::collector {

// One record of a CSV text and the line it starts on (from 1).
struct CsvRecord {
  std::size_t line = 0;
  std::vector<std::string> fields;
};

// The records of `text`. Lines that are empty or hold only spaces are skipped. A quote
// that is never closed, or text after a closing quote, is kInvalidArgument naming the
// line.
Result<std::vector<CsvRecord>> parse_csv(std::string_view text);

// One line of CSV (ending with CRLF, as RFC 4180 says), each field quoted when it must
// be.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace vigie::collector
