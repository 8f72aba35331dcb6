#pragma once
// What the agent sends, checked once and encoded once. A result is made to fit the
// protocol when its check returns it (fit_to_protocol), encoded to its protocol JSON
// (encode_result), spooled as that text, and spliced as it is into the report that
// carries it (assemble_report): nothing is decoded back on the way, and the bytes the
// collector gets are byte for byte what protocol::encode_report() writes for the same
// report (docs/protocol.md is the reference).
//
// Every function here is thread-safe and never throws but bad_alloc.

#include <cstddef>
#include <span>
#include <string>

#include "common/check_result.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::agent {

// Makes a result acceptable to the collector, so that one bad result cannot get a
// whole batch refused: bytes that are not UTF-8 become U+FFFD (common/utf8.hpp),
// summary and details are cut (at a UTF-8 boundary) to the limits,
// metrics past the limit are dropped; a result that still fails validate_result()
// becomes UNKNOWN with the reason and no metrics.
CheckResult fit_to_protocol(CheckResult result, const protocol::Limits& limits = {});

// Why the collector would refuse `result`, the field named by its path
// ("result.metrics[0].unit: unknown unit ..."), or OK: the rules of
// protocol::result_from_json(), applied to the result itself. Strings are taken as
// they are (fit_to_protocol() makes them UTF-8 first).
Status validate_result(const CheckResult& result, const protocol::Limits& limits = {});

// The result's protocol JSON, one line: protocol::result_to_json(), dumped.
std::string encode_result(const CheckResult& result);

// The event's protocol JSON, one line: protocol::event_to_json(), dumped.
std::string encode_event(const protocol::Event& event);

// A report body: the fields of `head` (its results and events ignored), `results`, each
// as encode_result() wrote it, and `events`, each as encode_event() wrote it (the member
// left out when there is none), in this order.
std::string assemble_report(const protocol::Report& head, std::span<const std::string> results,
                            std::span<const std::string> events = {});

// A report's HTTP body: the JSON, gzipped when longer than `gzip_above` bytes.
struct Body {
  std::string data;
  bool gzipped = false;
};
Body encode_body(std::string json, std::size_t gzip_above);

}  // namespace vigie::agent
