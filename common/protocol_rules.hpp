#pragma once
// The protocol's rules for fields, shared by the report decoders of protocol.cpp (the
// careful one) and protocol_fast.cpp (simdjson's, which only the collector links).

#include <cstdint>
#include <limits>
#include <string_view>

#include "common/status.hpp"

namespace vigie::protocol::rules {

inline constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
// 9999-12-31T23:59:59.999Z: far enough, and ts + intervals cannot overflow.
inline constexpr std::int64_t kMaxTsMs = 253'402'300'799'999;
// 366 days: a check runs at least yearly, and staleness arithmetic stays small.
inline constexpr std::int64_t kMaxIntervalS = 366 * 86'400;

// Each returns the reason a string is refused; the caller adds the field's path.
Status is_name(std::string_view text);
Status is_identifier(std::string_view id);
Status is_check_id(std::string_view id);
Status is_label(std::string_view label);
Status is_unit(std::string_view unit);

}  // namespace vigie::protocol::rules
