#include "plugins/backup/mccli.hpp"

#include <charconv>
#include <exception>
#include <sstream>
#include <utility>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

namespace pt = boost::property_tree;

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

Result<MccliOutput> parse_xml(std::string_view out, std::string_view what, std::size_t max_rows) {
  pt::ptree document;
  try {
    std::istringstream in{std::string(out)};
    pt::read_xml(in, document, pt::xml_parser::trim_whitespace);
  } catch (const pt::xml_parser_error& e) {  // third-party code: Boost.PropertyTree
    return bad(what, "unreadable XML: " + e.message() + " (line " + std::to_string(e.line()) + ")");
  } catch (const std::exception& e) {
    return bad(what, std::string("unreadable XML: ") + e.what());
  }
  // The root's name is not documented: the one element at the top.
  const pt::ptree* root = nullptr;
  for (const auto& [name, child] : document) {
    if (name.starts_with('<')) continue;  // <xmlcomment>, <xmlattr>
    if (root != nullptr) return bad(what, "more than one XML root element");
    root = &child;
  }
  if (root == nullptr) return bad(what, "no XML element");
  const auto results = root->get_child_optional("Results");
  if (!results) return bad(what, "no Results element");
  const auto code = results->get_optional<std::string>("ReturnCode");
  const auto event = results->get_optional<std::string>("EventCode");
  if (!code || !event) return bad(what, "no ReturnCode or EventCode in Results");
  MccliOutput output;
  output.xml = true;
  output.summary = results->get<std::string>("EventSummary", "");
  const auto event_text = trim_blank(*event);
  const auto [end, ec] =
      std::from_chars(event_text.data(), event_text.data() + event_text.size(), output.event_code);
  if (ec != std::errc() || end != event_text.data() + event_text.size())
    return bad(what, "EventCode " + quote(*event) + " is not a number");
  if (trim_blank(*code) != "0") return refused(*code, *event, output.summary);
  const auto data = root->get_child_optional("Data");
  if (!data) return output;  // nothing listed
  for (const auto& [name, row_tree] : *data) {
    if (name.starts_with('<')) continue;
    if (name != "Row") return bad(what, "unexpected element <" + name + "> in Data");
    if (output.rows.size() >= max_rows)
      return bad(what, "more than " + std::to_string(max_rows) + " rows");
    MccliRow row;
    row.number = output.rows.size() + 1;
    for (const auto& [column, value] : row_tree) {
      if (column.starts_with('<')) continue;
      if (!value.empty())
        return bad(what, "row " + std::to_string(row.number) + ": <" + column + "> holds elements");
      const std::string text(trim_blank(value.data()));
      if (!row.text.empty()) row.text += ", ";
      row.text += column + "=" + text;
      bool known = false;
      for (const auto& c : output.columns) known = known || c == column;
      if (!known) output.columns.push_back(column);
      // Attribute/Value rows and table rows alike: each child is a column. A repeated
      // child (a client in several groups) keeps its values, comma-separated.
      auto [it, fresh] = row.cells.emplace(column, text);
      if (!fresh) it->second += ", " + text;
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
