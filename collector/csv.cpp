#include "collector/csv.hpp"

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

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      out += f;
      continue;
    }
    out += '"';
    for (const char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out + "\r\n";
}

}  // namespace vigie::collector
