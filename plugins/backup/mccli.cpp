#include "plugins/backup/mccli.hpp"

#include <charconv>
#include <climits>
#include <memory>
#include <utility>

#include <expat.h>

#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

// Deeper is not mccli's output (it nests 3 levels); the bound keeps a hostile document
// from costing stack.
constexpr std::size_t kMaxXmlDepth = 32;

std::string without_spaces(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c != ' ' && c != '\t') out += c;
  }
  return out;
}

Status bad(std::string_view what, const std::string& why) {
  return Status::corruption(std::string(what) + ": " + why);
}

Status refused(std::string_view code, std::string_view event, std::string_view summary) {
  return Status::unavailable("mccli failed: " + std::string(trim_blank(summary)) + " (code " +
                             std::string(trim_blank(code)) + ", event " +
                             std::string(trim_blank(event)) + ")");
}

Result<MccliOutput> parse_plain(std::string_view out, std::string_view what, std::size_t max_rows) {
  std::vector<std::string_view> lines;
  while (!out.empty()) {
    const auto newline = out.find('\n');
    auto line = out.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!trim_blank(line).empty()) lines.push_back(line);
    out.remove_prefix(newline == std::string_view::npos ? out.size() : newline + 1);
    if (lines.size() > max_rows + 3)
      return bad(what, "more than " + std::to_string(max_rows) + " rows");
  }
  if (lines.empty()) return bad(what, "empty output");

  // "0,23000,CLI command completed successfully."
  const auto status_line = lines[0];
  const auto comma = status_line.find(',');
  const auto second = comma == std::string_view::npos ? comma : status_line.find(',', comma + 1);
  if (second == std::string_view::npos)
    return bad(what,
               "the first line " + quote(status_line) + " is not \"<code>,<event>,<message>\"");
  const auto code = trim_blank(status_line.substr(0, comma));
  const auto event = trim_blank(status_line.substr(comma + 1, second - comma - 1));
  MccliOutput output;
  output.summary = std::string(trim_blank(status_line.substr(second + 1)));
  const auto [end, ec] =
      std::from_chars(event.data(), event.data() + event.size(), output.event_code);
  if (code.empty() || code.find_first_not_of("0123456789-") != std::string_view::npos ||
      ec != std::errc() || end != event.data() + event.size())
    return bad(what,
               "the first line " + quote(status_line) + " is not \"<code>,<event>,<message>\"");
  if (code != "0") return refused(code, event, output.summary);
  if (lines.size() < 3) return bad(what, "no table after the status line");
  const auto header = lines[1];
  const auto dashes = lines[2];
  if (dashes.find_first_not_of("- ") != std::string_view::npos ||
      dashes.find('-') == std::string_view::npos)
    return bad(what, "no dashed line under the header " + quote(header));
  // Column i spans from the start of its dashes to the start of the next column's; the
  // last one takes the rest of the line.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < dashes.size(); ++i) {
    if (dashes[i] == '-' && (i == 0 || dashes[i - 1] == ' ')) starts.push_back(i);
  }
  const auto cell = [&](std::string_view line, std::size_t column) {
    const std::size_t from = starts[column];
    if (from >= line.size()) return std::string_view();
    const std::size_t to = column + 1 < starts.size() ? starts[column + 1] : line.size();
    return trim_blank(line.substr(from, to - from));
  };
  for (std::size_t i = 0; i < starts.size(); ++i) {
    output.columns.push_back(without_spaces(cell(header, i)));
  }
  for (std::size_t i = 3; i < lines.size(); ++i) {
    MccliRow row;
    row.number = i - 2;
    row.text = std::string(lines[i]);
    if (lines[i].size() <= starts.back())
      return bad(what, "row " + std::to_string(row.number) + " is cut short: " + quote(lines[i]));
    for (std::size_t c = 0; c < starts.size(); ++c) {
      row.cells.emplace(output.columns[c], std::string(cell(lines[i], c)));
    }
    output.rows.push_back(std::move(row));
  }
  return output;
}

// An element of an XML document: its name, its text (blanks trimmed, runs of them made
// one space), its child elements.
struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;

  // The first child named `child_name`, or nullptr.
  const XmlElement* child(std::string_view child_name) const {
    for (const auto& c : children) {
      if (c.name == child_name) return &c;
    }
    return nullptr;
  }
};

std::string normalize_blank(std::string_view text) {
  std::string out;
  for (const char c : trim_blank(text)) {
    const bool blank = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (!blank) out += c;
    else if (!out.empty() && out.back() != ' ') out += ' ';
  }
  return out;
}

// Builds the element tree from expat's calls: each element is read in `open` and moves
// into its parent's children when it ends.
struct XmlReader {
  XML_Parser parser = nullptr;
  std::vector<XmlElement> open;  // from the root to the element being read
  XmlElement root;
  std::string error;  // why the reader stopped the parser, if it did

  static void on_start(void* data, const XML_Char* name, const XML_Char** /*attributes*/) {
    auto& reader = *static_cast<XmlReader*>(data);
    if (reader.open.size() >= kMaxXmlDepth) {
      reader.error = "elements nested deeper than " + std::to_string(kMaxXmlDepth);
      XML_StopParser(reader.parser, XML_FALSE);
      return;
    }
    reader.open.push_back(XmlElement{name, {}, {}});
  }
  static void on_end(void* data, const XML_Char* /*name*/) {
    auto& reader = *static_cast<XmlReader*>(data);
    if (!reader.error.empty()) return;  // expat may still end the element it stopped on
    XmlElement element = std::move(reader.open.back());
    reader.open.pop_back();
    element.text = normalize_blank(element.text);
    if (reader.open.empty()) {
      reader.root = std::move(element);
    } else {
      reader.open.back().children.push_back(std::move(element));
    }
  }
  static void on_text(void* data, const XML_Char* text, int size) {
    auto& reader = *static_cast<XmlReader*>(data);
    if (!reader.open.empty()) reader.open.back().text.append(text, static_cast<std::size_t>(size));
  }
};

// The root element of the XML document `text` (expat: well-formedness, entities,
// encodings), or why it cannot be read.
Result<XmlElement> read_xml(std::string_view text) {
  if (text.size() > INT_MAX) return Status::too_large("larger than 2 GiB");
  const std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(
      XML_ParserCreate(nullptr), &XML_ParserFree);
  if (!parser) return Status::io_error("no memory for the XML parser");
  XmlReader reader;
  reader.parser = parser.get();
  XML_SetUserData(parser.get(), &reader);
  XML_SetElementHandler(parser.get(), &XmlReader::on_start, &XmlReader::on_end);
  XML_SetCharacterDataHandler(parser.get(), &XmlReader::on_text);
  if (XML_Parse(parser.get(), text.data(), static_cast<int>(text.size()), XML_TRUE) ==
      XML_STATUS_OK)
    return std::move(reader.root);
  const std::string why =
      reader.error.empty() ? XML_ErrorString(XML_GetErrorCode(parser.get())) : reader.error;
  return Status::corruption(why + " (line " +
                            std::to_string(XML_GetCurrentLineNumber(parser.get())) + ")");
}

Result<MccliOutput> parse_xml(std::string_view out, std::string_view what, std::size_t max_rows) {
  auto document = read_xml(out);
  if (!document) return bad(what, "unreadable XML: " + document.status().message());
  // The root's name is not documented: what matters is under it.
  const XmlElement& root = *document;
  const XmlElement* results = root.child("Results");
  if (results == nullptr) return bad(what, "no Results element");
  const XmlElement* code = results->child("ReturnCode");
  const XmlElement* event = results->child("EventCode");
  if (code == nullptr || event == nullptr)
    return bad(what, "no ReturnCode or EventCode in Results");
  MccliOutput output;
  output.xml = true;
  const XmlElement* summary = results->child("EventSummary");
  if (summary != nullptr) output.summary = summary->text;
  const std::string_view event_text = event->text;
  const auto [end, ec] =
      std::from_chars(event_text.data(), event_text.data() + event_text.size(), output.event_code);
  if (ec != std::errc() || end != event_text.data() + event_text.size())
    return bad(what, "EventCode " + quote(event->text) + " is not a number");
  if (code->text != "0") return refused(code->text, event->text, output.summary);
  const XmlElement* data = root.child("Data");
  if (data == nullptr) return output;  // nothing listed
  for (const XmlElement& row_element : data->children) {
    if (row_element.name != "Row")
      return bad(what, "unexpected element <" + row_element.name + "> in Data");
    if (output.rows.size() >= max_rows)
      return bad(what, "more than " + std::to_string(max_rows) + " rows");
    MccliRow row;
    row.number = output.rows.size() + 1;
    for (const XmlElement& cell : row_element.children) {
      const std::string& column = cell.name;
      if (!cell.children.empty())
        return bad(what, "row " + std::to_string(row.number) + ": <" + column + "> holds elements");
      if (!row.text.empty()) row.text += ", ";
      row.text += column + "=" + cell.text;
      bool known = false;
      for (const auto& c : output.columns) known = known || c == column;
      if (!known) output.columns.push_back(column);
      // Attribute/Value rows and table rows alike: each child is a column. A repeated
      // child (a client in several groups) keeps its values, comma-separated.
      auto [it, fresh] = row.cells.emplace(column, cell.text);
      if (!fresh) it->second += ", " + cell.text;
    }
    output.rows.push_back(std::move(row));
  }
  return output;
}

}  // namespace

std::string_view trim_blank(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string_view MccliRow::cell(std::string_view column) const {
  const auto it = cells.find(column);
  return it == cells.end() ? std::string_view() : std::string_view(it->second);
}

std::string MccliRow::where() const { return "row " + std::to_string(number) + " " + quote(text); }

bool MccliOutput::has_column(std::string_view column) const {
  for (const auto& c : columns) {
    if (c == column) return true;
  }
  return false;
}

Result<MccliOutput> parse_mccli(std::string_view out, std::string_view what, std::size_t max_rows) {
  const auto start = trim_blank(out);
  if (start.starts_with('<')) return parse_xml(out, what, max_rows);
  return parse_plain(out, what, max_rows);
}

std::optional<double> parse_avamar_bytes(std::string_view text) {
  text = trim_blank(text);
  std::string digits;
  std::size_t i = 0;
  for (;
       i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.' || text[i] == ',');
       ++i) {
    if (text[i] != ',') digits += text[i];
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return std::nullopt;
  const std::string_view unit = trim_blank(text.substr(i));
  static constexpr std::pair<std::string_view, double> kUnits[] = {{"", 1},
                                                                   {"B", 1},
                                                                   {"bytes", 1},
                                                                   {"Bytes", 1},
                                                                   {"KB", 1024.0},
                                                                   {"MB", 1048576.0},
                                                                   {"GB", 1073741824.0},
                                                                   {"TB", 1099511627776.0},
                                                                   {"PB", 1125899906842624.0}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return value * factor;
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_avamar_time(std::string_view text) {
  text = trim_blank(text);
  const std::string_view clock = text.substr(0, std::min(text.find(' ', 11), text.size()));
  const std::string_view zone = trim_blank(text.substr(clock.size()));
  std::string iso(clock);
  if (iso.size() == 16) iso += ":00";
  if (iso.size() != 19) return std::nullopt;
  // mccli writes a zone: a time without one is not its layout (or a cut line).
  if (zone.empty() || zone.find(' ') != std::string_view::npos) return std::nullopt;
  const bool utc = zone == "UTC" || zone == "GMT" || zone == "Z";
  return parse_timestamp(utc ? iso + "Z" : iso, !utc);
}

}  // namespace vigie::plugins::backup
