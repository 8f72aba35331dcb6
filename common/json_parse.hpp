#pragma once
// JSON that comes from outside the program (a request's body, a peer's answer, a file
// an operator wrote), parsed with a bound on its nesting. nlohmann's parser is
// iterative, but copying, comparing, dumping or walking what it built recurses once a
// level: 20,000 nested brackets (40 KB) overflow a thread's stack. The bound stops the
// parse as soon as it is passed, before anything is built that deep.
//
// The report protocol has its own bounded builder (protocol.cpp), which also bounds
// the number of values.

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.hpp"

namespace vigie {

// Deeper than any document vigie reads or writes (an agent's configuration nests
// about six levels).
inline constexpr int kMaxJsonDepth = 64;

struct JsonText {
  bool comments = false;  // "//" and "/* */" allowed (files people write)
  int max_depth = kMaxJsonDepth;
  // On a syntax error, set to the byte the parser stopped at (from 1), for callers that
  // place the error themselves; left alone otherwise.
  std::size_t* error_byte = nullptr;
};

// The document, or kInvalidArgument: "nested deeper than 64 levels", or the parser's
// reason ("syntax error while parsing value - invalid literal; last read: 'x'") with
// where it stopped ("at line 1, column 2").
Result<nlohmann::json> parse_json(std::string_view text, JsonText options = {});

// As parse_json(), for the callers that only tell valid from not (a discarded value,
// as nlohmann::json::parse(text, nullptr, false) gives, for any error).
nlohmann::json parse_json_or_discarded(std::string_view text, JsonText options = {});

}  // namespace vigie
