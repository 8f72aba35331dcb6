#pragma once
// Wire protocol v1, agent -> collector (docs/protocol.md is the reference):
//
//   POST /api/v1/reports   Authorization: Bearer <agent token>
//   { "protocol": 1,
//     "agent":   { "id", "site", "hostname", "version" },
//     "seq":     N,                 // +1 per batch and per agent
//     "sent":    ms,                // optional: agent clock when sent
//     "spool":   { "depth", "oldest", "dropped" },   // optional
//     "results": [ CheckResult... ],
//     "events":  [ Event... ] }    // optional: what devices told between polls
//
// Decoding is strict: every required field is present and of the right type and
// range, or the whole report is refused with a message that names the field by its
// path (e.g. "results[3].status: expected an integer 0..3, got \"warn\"").
// Unknown fields are ignored, so that a newer agent can talk to an older collector.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/check_result.hpp"
#include "common/status.hpp"

namespace vigie::protocol {

inline constexpr int kVersion = 1;

struct AgentInfo {
  std::string id;    // unique per agent, e.g. "onesse-mairie-01"
  std::string site;  // the member site it watches, e.g. "onesse-et-laharie"
  std::string hostname;
  std::string version;  // the agent's software version
  bool operator==(const AgentInfo&) const = default;
};

// The agent's store-and-forward queue when it sent the report (optional).
struct SpoolInfo {
  std::int64_t depth = 0;      // results waiting, this report's included
  std::int64_t oldest_ms = 0;  // agent time of the oldest waiting result; 0 none
  std::int64_t dropped = 0;    // results dropped past the spool's bound, since start
  bool operator==(const SpoolInfo&) const = default;
};

// One variable of an SNMP trap, as the agent decoded it.
struct TrapVarbind {
  std::string oid;    // numeric, "1.3.6.1.2.1.2.2.1.1.3"
  std::string name;   // "ifIndex.3" when the agent knows it, else ""
  std::string type;   // "INTEGER", "OCTET STRING", "OBJECT IDENTIFIER"...
  std::string value;  // as text: a number, an OID, a string (hex "0x..." when not text)
  bool operator==(const TrapVarbind&) const = default;
};

// Something a device told the agent between two runs of a check: for now an SNMP trap
// or inform (kind "trap"). An addition to protocol v1 (a report's optional `events`):
// a collector that does not know it ignores it, and this one ignores kinds it does not
// know.
struct Event {
  std::string kind = "trap";
  std::int64_t ts_ms = 0;  // when the agent received it, ms since the epoch, agent clock
  std::string name;        // the check's name in the agent config; "" when none reads the device
  std::string check;       // that check's id; "" likewise
  std::string site;        // as CheckResult::site; "": the agent's
  std::string summary;     // one line for a human: "linkDown from fw: ifIndex.3=3, ..."
  // kind "trap":
  std::string device;     // the device's name in the agent's "devices"
  std::string source;     // the address it came from, "192.0.2.1:1024"
  std::string version;    // "2c" or "3"
  bool inform = false;    // an inform (acknowledged) rather than a trap
  std::string trap_oid;   // snmpTrapOID.0
  std::string trap_name;  // "linkDown", "sfosNotification"...; "" when unknown
  std::vector<TrapVarbind> varbinds;
  bool operator==(const Event&) const = default;
};

struct Report {
  int protocol = kVersion;
  AgentInfo agent;
  std::uint64_t seq = 0;
  std::int64_t sent_ms = 0;  // agent clock when sent (optional, 0: unknown): clock skew
  std::optional<SpoolInfo> spool;
  std::vector<CheckResult> results;
  std::vector<Event> events;  // optional on the wire
  bool operator==(const Report&) const = default;
};

// Bounds a decoder enforces; a report past one is refused as kTooLarge.
struct Limits {
  std::size_t max_results = 5000;       // results in one report
  std::size_t max_metrics = 256;        // metrics in one result
  std::size_t max_string = 1024;        // ids, names, labels, units (bytes)
  std::size_t max_summary = 4096;       // bytes
  std::size_t max_details = 64 * 1024;  // bytes
  std::size_t max_events = 1000;        // events in one report
  std::size_t max_varbinds = 64;        // variables of one trap
  std::size_t max_depth = 16;           // JSON nesting
  // JSON values in the whole document (each string, number, object... counts one):
  // bounds the memory a report can cost while it is parsed. 5,000 results of 3
  // metrics are about 160,000 values.
  std::size_t max_values = 500'000;
};

std::string encode_report(const Report& report);
// Parses and validates a report body (already decompressed).
// kInvalidArgument: malformed JSON, a missing or mistyped field, an unknown protocol
// version; kTooLarge: a limit is exceeded. The message names the field.
Result<Report> decode_report(std::string_view body, const Limits& limits = {});

namespace detail {
// The two decoders behind decode_report(), for tests that compare them: the fast one
// (simdjson, no document built) gives nullopt whenever it is not sure, and the careful
// one (a bounded nlohmann document) then decides, with the error message.
std::optional<Report> decode_report_fast(std::string_view body, const Limits& limits = {});
Result<Report> decode_report_careful(std::string_view body, const Limits& limits = {});
}  // namespace detail

// The field path at the start of an error from decode_report() or *_from_json()
// ("results[3].status" for "results[3].status: expected an integer 0..3, got ..."), or
// "" when the error is not about one field (malformed JSON, nesting too deep) or OK.
// The collector sends it as the "field" member of its error reply.
std::string error_field(const Status& status);

// The JSON form of one result, as in a report (also used by the query API).
nlohmann::json result_to_json(const CheckResult& result);
// Validates one result object; `path` prefixes every error ("results[3]").
Result<CheckResult> result_from_json(const nlohmann::json& json, std::string_view path,
                                     const Limits& limits = {});
nlohmann::json metric_to_json(const Metric& metric);
// The JSON form of one event, as in a report (and in the agent's spool).
nlohmann::json event_to_json(const Event& event);
// Validates one event object. kNotFound (not an error for a report: the event is
// skipped) for a kind this decoder does not know.
Result<Event> event_from_json(const nlohmann::json& json, std::string_view path,
                              const Limits& limits = {});
Result<Metric> metric_from_json(const nlohmann::json& json, std::string_view path,
                                const Limits& limits = {});

}  // namespace vigie::protocol
