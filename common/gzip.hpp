#pragma once
// gzip (RFC 1952) for request bodies, with a bound on what decompression may produce
// so that a small "gzip bomb" cannot take the memory of the process that reads it.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace vigie {

std::string gzip_compress(std::string_view data);

// kTooLarge when the output would exceed `max_output` bytes (decompression stops
// there); kInvalidArgument for data that is not a complete gzip stream.
Result<std::string> gzip_decompress(std::string_view data, std::size_t max_output);

}  // namespace vigie
