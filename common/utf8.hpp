#pragma once
// UTF-8 as it travels: what programs print may be any bytes (Latin-1 is common on French
// systems, and an output cap may cut a character in two), while results travel as JSON
// strings, which must be UTF-8.
//
// Every function here is thread-safe and never throws but bad_alloc.

#include <cstddef>
#include <string>
#include <string_view>

namespace vigie {

// The length of the well-formed UTF-8 sequence that starts `text` (RFC 3629: no overlong
// form, no surrogate, nothing past U+10FFFF), 0 if there is none.
std::size_t utf8_length(std::string_view text);

// True when all of `text` is well-formed UTF-8.
bool is_utf8(std::string_view text);

// `text` with each byte that starts no well-formed sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// `text` cut to at most `max` bytes, never inside a character.
std::string cut_utf8(std::string text, std::size_t max);

}  // namespace vigie
