#include "agent/json_lines.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

namespace vigie::agent {
namespace {

using Step = std::variant<std::string, std::size_t>;  // a member name, or an index

// "checks[2].interval" -> checks, 2, interval. nullopt-like: false when it is not a path.
bool split_path(std::string_view path, std::vector<Step>& steps) {
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string_view::npos) return false;
      std::size_t index = 0;
      const auto [end, ec] = std::from_chars(path.data() + i + 1, path.data() + close, index);
      if (ec != std::errc() || end != path.data() + close) return false;
      steps.emplace_back(index);
      i = close + 1;
      if (i < path.size() && path[i] == '.') ++i;
    } else {
      const auto stop = path.find_first_of(".[", i);
      const auto name = path.substr(i, stop == std::string_view::npos ? stop : stop - i);
      if (name.empty()) return false;
      steps.emplace_back(std::string(name));
      i = stop == std::string_view::npos ? path.size() : stop;
      if (i < path.size() && path[i] == '.') ++i;
    }
  }
  return true;
}

// A cursor over the document that counts lines as it goes. The document is valid (it
// was parsed before), so this only needs to find its way, not to check.
class Walker {
 public:
  explicit Walker(std::string_view text) : text_(text) {}

  std::size_t line() const { return line_; }
  char peek() { return at_ < text_.size() ? text_[at_] : '\0'; }

  void skip_blanks() {
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c == '\n') {
        ++line_;
        ++at_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++at_;
      } else if (c == '/' && at_ + 1 < text_.size() && text_[at_ + 1] == '/') {
        while (at_ < text_.size() && text_[at_] != '\n') ++at_;
      } else if (c == '/' && at_ + 1 < text_.size() && text_[at_ + 1] == '*') {
        at_ += 2;
        while (at_ < text_.size() &&
               !(text_[at_] == '*' && at_ + 1 < text_.size() && text_[at_ + 1] == '/')) {
          if (text_[at_] == '\n') ++line_;
          ++at_;
        }
        at_ = std::min(at_ + 2, text_.size());
      } else {
        return;
      }
    }
  }

  // A string token, its escapes decoded for the simple cases (\" \\ \/ \n \t ...);
  // \u escapes are kept as written, which is enough to tell member names apart.
  std::string string() {
    std::string out;
    ++at_;  // the opening quote
    while (at_ < text_.size() && text_[at_] != '"') {
      char c = text_[at_++];
      if (c == '\\' && at_ < text_.size()) {
        c = text_[at_++];
        switch (c) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': out += "\\u"; continue;
          default: break;  // '"', '\\', '/'
        }
      }
      out += c;
    }
    ++at_;  // the closing quote
    return out;
  }

  void skip_value(int depth = 0) {
    skip_blanks();
    const char c = peek();
    if (c == '"') {
      string();
    } else if ((c == '{' || c == '[') && depth < 1000) {
      const char close = c == '{' ? '}' : ']';
      ++at_;
      skip_blanks();
      while (at_ < text_.size() && peek() != close) {
        const std::size_t before = at_;
        if (c == '{') {
          string();
          skip_blanks();
          ++at_;  // ':'
        }
        skip_value(depth + 1);
        skip_blanks();
        if (peek() == ',') ++at_;
        skip_blanks();
        if (at_ == before) ++at_;  // not JSON after all: never stand still
      }
      ++at_;
    } else {
      while (at_ < text_.size() && !std::strchr(",]}/ \t\r\n", text_[at_])) ++at_;
    }
  }

  // From the '{' of an object: onto the value of member `name`; false if it has none.
  bool enter_member(const std::string& name) {
    ++at_;
    for (;;) {
      skip_blanks();
      if (peek() != '"') return false;  // '}' or the end
      const std::string key = string();
      skip_blanks();
      ++at_;  // ':'
      skip_blanks();
      if (key == name) return true;
      skip_value();
      skip_blanks();
      if (peek() != ',') return false;
      ++at_;
    }
  }

  // From the '[' of an array: onto element `index`; false if it has fewer.
  bool enter_element(std::size_t index) {
    ++at_;
    for (std::size_t i = 0;; ++i) {
      skip_blanks();
      if (peek() == ']' || peek() == '\0') return false;
      if (i == index) return true;
      skip_value();
      skip_blanks();
      if (peek() != ',') return false;
      ++at_;
    }
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
  std::size_t line_ = 1;
};

}  // namespace

std::size_t line_of(std::string_view text, std::string_view path) {
  std::vector<Step> steps;
  if (!split_path(path, steps)) return 0;
  Walker walker(text);
  walker.skip_blanks();
  if (walker.peek() == '\0') return 0;
  std::size_t found = walker.line();
  for (const Step& step : steps) {
    bool entered = false;
    if (const auto* name = std::get_if<std::string>(&step)) {
      entered = walker.peek() == '{' && walker.enter_member(*name);
    } else {
      entered = walker.peek() == '[' && walker.enter_element(std::get<std::size_t>(step));
    }
    if (!entered) break;
    walker.skip_blanks();
    found = walker.line();
  }
  return found;
}

}  // namespace vigie::agent
