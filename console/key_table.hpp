#pragma once
// The console's keys, bound in one table (key_table.cpp), and the prompts they open:
// search, acknowledgement (comment, expiry), downtime (duration, comment). A key's
// handler changes the Ui and says what the main loop does next (a Reaction); what must
// reach the collector becomes a Request, its path and body from api_client.hpp.

#include <string_view>
#include <vector>

namespace vigie::console {

// One line of the help: the keys as it shows them, and what they do.
struct KeyHelp {
  std::string_view keys;
  std::string_view help;
};
// The help's lines, in the table's order.
std::vector<KeyHelp> key_help();

}  // namespace vigie::console
