#pragma once
// Text for a terminal. What the collector sends is data: it must never move the
// cursor, switch the terminal's modes or break the alignment of a table.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::console {

// A copy of `text` that is safe to print: control characters (C0, DEL, C1, and the
// bidirectional overrides) become a space, each byte of an invalid UTF-8 sequence a '?'.
std::string sanitize(std::string_view text);

// Terminal columns that `text` (valid UTF-8, as sanitize() returns) takes: two for
// East Asian wide characters and emoji, none for combining marks, one otherwise.
std::size_t columns(std::string_view text);

// The longest prefix of `text` that fits in `width` columns, never cutting a character.
std::string_view cut(std::string_view text, std::size_t width);

// The characters (code points, or single bytes of an invalid sequence) of `text`.
std::vector<std::string_view> characters(std::string_view text);

// `text` cut to `width` columns, then padded with spaces to exactly `width` columns.
std::string pad(std::string_view text, std::size_t width);

}  // namespace vigie::console
