#include "console/text.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "console/language.hpp"

namespace vigie::console {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decodes the code point at text[i] and advances i past it. On an invalid sequence
// (truncated, overlong, surrogate, past U+10FFFF) returns kInvalid and advances one byte.
char32_t decode(std::string_view text, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  std::size_t length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
    min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
    min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
    min = 0x10000;
  } else {
    ++i;
    return kInvalid;
  }
  if (i + length > text.size()) {
    ++i;
    return kInvalid;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return kInvalid;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kInvalid;
  }
  i += length;
  return cp;
}

bool is_control(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// The ranges follow Unicode's East Asian Width (W, F) and the general category Mn,
// reduced to the blocks a check summary may plausibly contain.
int width_of(char32_t cp) {
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
      (cp >= 0xFE00 && cp <= 0xFE0F)) {
    return 0;
  }
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
      (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
      (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

}  // namespace

std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    const char32_t cp = decode(text, i);
    if (cp == kInvalid) {
      out += '?';
    } else if (is_control(cp)) {
      out += ' ';
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

std::size_t columns(std::string_view text) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < text.size();) {
    const char32_t cp = decode(text, i);
    total += cp == kInvalid ? 1 : static_cast<std::size_t>(width_of(cp));
  }
  return total;
}

std::string_view cut(std::string_view text, std::size_t width) {
  std::size_t used = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    const char32_t cp = decode(text, i);
    used += cp == kInvalid ? 1 : static_cast<std::size_t>(width_of(cp));
    if (used > width) return text.substr(0, start);
  }
  return text;
}

std::vector<std::string_view> characters(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    decode(text, i);
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::string_view ascii_fold(std::string_view character) {
  if (character.size() == 1 && static_cast<unsigned char>(character[0]) < 0x80) return character;
  std::size_t i = 0;
  const char32_t cp = decode(character, i);
  // U+00C0..U+00FF, by code point: the letter without its mark.
  static constexpr std::string_view kLatin1 =
      "AAAAAAACEEEEIIII"   // C0..CF (C6 AE: A)
      "DNOOOOO*OUUUUYTs"   // D0..DF
      "aaaaaaaceeeeiiii"   // E0..EF
      "dnooooo/ouuuuyty";  // F0..FF
  if (cp >= 0xC0 && cp <= 0xFF) return kLatin1.substr(cp - 0xC0, 1);
  switch (cp) {
    case 0x00A0:  // no-break space
    case 0x202F:  // narrow no-break space
      return " ";
    case 0x00AB:
    case 0x00BB:
    case 0x201C:
    case 0x201D: return "\"";
    case 0x2018:
    case 0x2019: return "'";
    case 0x2013:
    case 0x2014: return "-";
    case 0x0152: return "O";
    case 0x0153: return "o";
    case 0x2026: return ".";
    case 0x2192: return ">";
    case 0x2191: return "^";
    case 0x2193: return "v";
    default: return "?";
  }
}

std::string pad(std::string_view text, std::size_t width) {
  const std::string_view fitted = cut(text, width);
  std::string out(fitted);
  out.append(width - columns(fitted), ' ');
  return out;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void pop_character(std::string& text) {
  const auto chars = characters(text);
  if (!chars.empty()) text.resize(text.size() - chars.back().size());
}

std::string_view trim(std::string_view text) {
  const std::size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) return {};
  const std::size_t end = text.find_last_not_of(" \t");
  return text.substr(start, end - start + 1);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool contains_folded(std::string_view haystack, std::string_view needle_lower) {
  if (needle_lower.empty()) return true;
  if (haystack.size() < needle_lower.size()) return false;
  for (std::size_t i = 0; i + needle_lower.size() <= haystack.size(); ++i) {
    std::size_t k = 0;
    for (; k < needle_lower.size(); ++k) {
      char c = haystack[i + k];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != needle_lower[k]) break;
    }
    if (k == needle_lower.size()) return true;
  }
  return false;
}

namespace {

std::string local_time_text(std::int64_t ms, const char* format) {
  const auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return "?";
  std::array<char, 32> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), format, &local);
  return std::string(text.data(), n);
}

}  // namespace

std::string clock_text(std::int64_t ms) { return local_time_text(ms, "%H:%M:%S"); }

std::string date_text(std::int64_t ms) {
  // TRANSLATORS: a date in the Check view's history: month, day, time (24-hour).
  return format(N_("{month}-{day} {time}"), {{"month", local_time_text(ms, "%m")},
                                             {"day", local_time_text(ms, "%d")},
                                             {"time", local_time_text(ms, "%H:%M")}});
}

std::string number_text(double value, std::string_view unit) {
  if (unit == "B") return bytes(value);
  if (unit == "s")
    return short_age(std::chrono::milliseconds(static_cast<std::int64_t>(value * 1000)));
  std::string out = decimal(value);
  if (!unit.empty() && unit != "-") out += unit == "%" ? "%" : " " + std::string(unit);
  return out;
}

}  // namespace vigie::console
