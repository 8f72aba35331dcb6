#include "common/json_parse.hpp"

#include <string>

namespace vigie {
namespace {

// Thrown by the parser's callback past the bound; nlohmann lets it through.
struct TooDeep {};

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, JsonText options) {
  const int max_depth = options.max_depth;
  const nlohmann::json::parser_callback_t guard =
      [max_depth](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        // The root's depth is 0: a container that starts at max_depth is one too many.
        using Event = nlohmann::json::parse_event_t;
        if ((event == Event::object_start || event == Event::array_start) && depth >= max_depth)
          throw TooDeep();
        return true;
      };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), guard, /*allow_exceptions=*/true,
                                 options.comments);
  } catch (const TooDeep&) {
    return Status::invalid("nested deeper than " + std::to_string(max_depth) + " levels");
  } catch (const nlohmann::json::exception& e) {
    if (const auto* syntax = dynamic_cast<const nlohmann::json::parse_error*>(&e);
        syntax != nullptr && options.error_byte != nullptr)
      *options.error_byte = syntax->byte;
    // what(): "[json.exception.parse_error.101] parse error at line 1, column 2: <why>"
    std::string why = e.what();
    if (why.starts_with("[json.exception.")) why.erase(0, why.find(']') + 2);
    return Status::invalid(why);
  }
}

nlohmann::json parse_json_or_discarded(std::string_view text, JsonText options) {
  auto parsed = parse_json(text, options);
  if (!parsed) return nlohmann::json(nlohmann::json::value_t::discarded);
  return std::move(*parsed);
}

}  // namespace vigie
