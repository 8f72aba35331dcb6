#pragma once
// Which JSON numbers simdjson reads right, shared by the readers that use it (the
// report's fast decoder, common/protocol_fast.cpp, and the console's model,
// console/model_fast.cpp), so that both send the same numbers to their careful path.

#include <string_view>

namespace vigie::protocol::rules {

// Whether simdjson reads the number whose JSON text is `token` right. Some releases
// (3.0, Debian 12's) misread a decimal of more than 19 digits whose integer part is
// zero: the digits overflow the 64-bit accumulator unnoticed (0.95000000000000000000
// reads 0.0277; simdjson issue 2093). Numbers of more than 19 significant digits are
// left to the careful path, which reads them as strtod does.
inline bool digits_fit(std::string_view token) {
  int digits = 0;  // significant: from the first that is not 0
  for (const char c : token) {
    if (c == 'e' || c == 'E') break;
    if ((c >= '1' && c <= '9') || (c == '0' && digits > 0)) ++digits;
  }
  return digits <= 19;
}

}  // namespace vigie::protocol::rules
