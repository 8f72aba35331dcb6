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

// One field: as it is, or quoted when it holds `separator`, a quote or a line break, or
// starts or ends with a space (which a reader could trim).
std::string csv_field(std::string_view field, char separator = ',');

// One line of CSV (ending with CRLF, as RFC 4180 says), each field quoted when it must
// be.
std::string csv_line(const std::vector<std::string>& fields);

// A field of a report that a spreadsheet opens: text it would run as a formula (starting
// with =, +, -, @, a tab or a carriage return) starts with an apostrophe instead, so that
// text from agents is never run; numbers as the reports write them ("-3", "1,5") keep
// their sign. Then quoted as csv_field.
std::string spreadsheet_field(std::string_view text, char separator);

// `v` with `decimals` places, with a decimal comma when the separator is ';' (the
// spreadsheets of locales that write 1,5).
std::string spreadsheet_number(double v, int decimals, char separator);

}  // namespace vigie::collector
