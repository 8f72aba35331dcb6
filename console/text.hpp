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

// One character for a terminal that shows ASCII only: itself when ASCII, a Latin letter
// without its accent ("é" -> "e", "Ç" -> "C"), a space for a no-break space, the
// nearest quote or dash for typographic ones, else "?". One column, as the character
// took, so that the columns still line up (a ligature such as "œ" gives "o").
std::string_view ascii_fold(std::string_view character);

// `text` cut to `width` columns, then padded with spaces to exactly `width` columns.
std::string pad(std::string_view text, std::size_t width);

// --- editing what is typed -------------------------------------------------------------

// Appends code point `cp` to `out` in UTF-8.
void append_utf8(char32_t cp, std::string& out);
// Removes the last character of `text` (all of its bytes).
void pop_character(std::string& text);
// `text` without the spaces and tabs around it.
std::string_view trim(std::string_view text);

// --- searching ---------------------------------------------------------------------------

// `text` with A-Z lowered (the rest, UTF-8 included, as it is).
std::string lower(std::string_view text);
// True when `haystack`, A-Z lowered, holds `needle_lower` (already lowered).
bool contains_folded(std::string_view haystack, std::string_view needle_lower);

// --- numbers and times for people --------------------------------------------------------

// In the console's language (language.hpp).
// "14:03:12", in the local time zone, of `ms` since the epoch.
std::string clock_text(std::int64_t ms);
// "11-27 14:03" / "27/11 14:03", in the local time zone.
std::string date_text(std::int64_t ms);
// A metric's value with its unit: bytes as bytes(), seconds as an age, "%" glued, other
// units after a space: "3.4 GiB", "2m", "85%", "12.5 ms" / "3,4 Gio", "2min", "12,5 ms".
std::string number_text(double value, std::string_view unit);

}  // namespace vigie::console
