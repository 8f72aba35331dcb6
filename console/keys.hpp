#pragma once
// Keys as Screen::read_key() reports them: a character is its Unicode code point; the
// special keys below lie past the end of Unicode so that they never collide with one.
// What each key does is bound in one table, in key_table.cpp.

namespace vigie::console::key {

inline constexpr int kUp = 0x110000;
inline constexpr int kDown = kUp + 1;
inline constexpr int kPageUp = kUp + 2;
inline constexpr int kPageDown = kUp + 3;
inline constexpr int kHome = kUp + 4;
inline constexpr int kEnd = kUp + 5;
inline constexpr int kResize = kUp + 6;  // the terminal changed size
inline constexpr int kLeft = kUp + 7;
inline constexpr int kRight = kUp + 8;
inline constexpr int kBackTab = kUp + 9;
inline constexpr int kEnter = '\r';
inline constexpr int kEscape = 27;
inline constexpr int kBackspace = 127;
inline constexpr int kTab = '\t';

}  // namespace vigie::console::key
