#pragma once
// Where a member of a JSON document is, by line: for error messages that point into a
// configuration file ("agent.json:14: checks[2].interval: ..."), since the parser
// keeps no positions once it has built the tree.

#include <cstddef>
#include <string_view>

namespace vigie::agent {

// The 1-based line where the value at `path` starts in `text`, a valid JSON document
// (// and /* */ comments allowed). `path` is written as in error messages: members
// joined by '.', array elements as [i] ("checks[2].interval"; "" is the whole
// document). When the path goes further than the document (a missing member), the
// line of the deepest part that exists. 0 when `text` does not hold even the first.
std::size_t line_of(std::string_view text, std::string_view path);

}  // namespace vigie::agent
