#include "collector/command_help.hpp"

#include <string_view>

namespace vigie::collector {

std::string command_usage(const CommandHelp& help) {
  std::string text = "usage: ";
  for (const char c : std::string_view(help.synopsis)) {
    text += c;
    if (c == '\n') text += "       ";
  }
  text += "\n\n";
  text += help.about;
  if (*help.options) {
    text += "\noptions:\n";
    text += help.options;
  }
  return text;
}

}  // namespace vigie::collector
