#include "collector/csv.hpp"

#include <algorithm>
#include <cstdio>

namespace vigie::collector {

Result<std::vector<CsvRecord>> parse_csv(std::string_view text) {
  std::vector<CsvRecord> records;
  std::size_t line = 1;
  std::size_t i = 0;
  if (text.starts_with("\xEF\xBB\xBF")) i = 3;  // a spreadsheet's byte order mark
  while (i < text.size()) {
    CsvRecord record{.line = line, .fields = {}};
    std::string field;
    bool blank = true;  // nothing but spaces so far on this record
    while (true) {
      if (i < text.size() && text[i] == '"') {
        blank = false;
        ++i;
        while (true) {
          if (i >= text.size())
            return Status::invalid("line " + std::to_string(record.line) +
                                   ": a quoted field is never closed");
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          return Status::invalid("line " + std::to_string(line) +
                                 ": text after the closing quote of a field");
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] != ' ' && text[i] != '\t') blank = false;
          field += text[i++];
        }
      }
      record.fields.push_back(std::move(field));
      field.clear();
      if (i < text.size() && text[i] == ',') {
        blank = false;
        ++i;
        continue;
      }
      break;  // end of line or of text
    }
    if (i < text.size() && text[i] == '\r') ++i;
    if (i < text.size() && text[i] == '\n') ++i;
    ++line;
    if (!blank) records.push_back(std::move(record));
  }
  return records;
}

std::string csv_field(std::string_view field, char separator) {
  const bool quote =
      field.find_first_of(std::string("\"\r\n") + separator) != std::string_view::npos ||
      (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!quote) return std::string(field);
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\r\n";
}

namespace {

// Whether `v` is a number as the reports write them ("-3", "1.5", "1,5").
bool is_number_text(std::string_view v) {
  std::size_t i = v.starts_with('-') || v.starts_with('+') ? 1 : 0;
  if (i == v.size()) return false;
  bool digits = false;
  for (; i < v.size(); ++i) {
    if (v[i] >= '0' && v[i] <= '9') digits = true;
    else if (v[i] != '.' && v[i] != ',') return false;
  }
  return digits;
}

}  // namespace

std::string spreadsheet_field(std::string_view text, char separator) {
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos &&
      !is_number_text(text)) {
    return csv_field("'" + std::string(text), separator);
  }
  return csv_field(text, separator);
}

std::string spreadsheet_number(double v, int decimals, char separator) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (separator == ';') std::replace(s.begin(), s.end(), '.', ',');
  return s;
}

}  // namespace vigie::collector
