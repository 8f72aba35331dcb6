#pragma once
// The console's model: what the collector's query API says about the checks, parsed
// strictly into an immutable Snapshot that the views render.
//
//   GET /api/v1/checks, GET /api/v1/problems  ->
//   { "now": <collector ms>,
//     "checks": [ { "agent", "site", "name", "check", "status", "state", "summary",
//                   "details", "metrics", "ts", "received", "since", "interval_s",
//                   "duration_ms" } ] }

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.hpp"
#include "common/status.hpp"

namespace vigie::console {

// One check as the query API lists it: the agent's last result plus what the
// collector knows about it. Times are ms since the epoch.
struct CheckRow {
  std::string agent;  // the agent's id
  std::string site;   // the member site the agent watches
  // The last result: name, check id, status, summary, details, metrics, ts (agent
  // clock), duration_ms, interval_s.
  CheckResult result;
  std::int64_t received_ms = 0;  // when the collector received the result (its clock)
  std::int64_t since_ms = 0;     // the last state change (collector clock)
  bool operator==(const CheckRow&) const = default;
};

// True when the last result is older than three intervals at `now_ms` (collector clock):
// the agent, or the path to it, stopped reporting and the state is no longer current.
// A row without an interval is never stale.
bool is_stale(const CheckRow& row, std::int64_t now_ms);

// The console's order: most severe first (vigie::severity), then the oldest state
// change, then site, name, agent and check id, so that the order is total.
bool row_before(const CheckRow& a, const CheckRow& b);
void sort_rows(std::vector<CheckRow>& rows);

struct ChecksReply {
  std::int64_t now_ms = 0;     // the collector's clock when it answered
  std::vector<CheckRow> rows;  // sorted by sort_rows()
};

// Parses the body of a 200 reply. Strict: every field is present with the right type
// and range, or the whole reply is refused with kInvalidArgument naming the field by its
// path, e.g. `checks[3].status: expected an integer 0..3, got "warn"`. "details" and
// "metrics" may be absent; "state" is derived from "status"; unknown fields are ignored.
Result<ChecksReply> parse_checks_reply(std::string_view body);

// The JSON array that `vigie-console --once --json` prints: one object per row with
// the query API's fields, in the order given.
std::string rows_to_json(const std::vector<CheckRow>& rows);

// What the console knows at one moment. Immutable once published: the fetcher thread
// builds a new one after every fetch and the UI thread only reads it.
struct Snapshot {
  std::vector<CheckRow> rows;         // sorted by sort_rows()
  std::int64_t fetched_at_ms = 0;     // local clock of the last good fetch; 0: none yet
  std::int64_t collector_now_ms = 0;  // the collector's clock at that fetch
  Status error;  // why the latest fetch failed, OK if it succeeded; after a failure the
                 // rows are those of the last good fetch

  // The collector's clock at local time `local_now_ms`, carried forward from the last
  // good fetch so that ages keep growing while the collector cannot be reached.
  std::int64_t collector_time(std::int64_t local_now_ms) const;
};

// The snapshot after one fetch made at `local_now_ms`: the reply's rows if `body`
// holds a valid reply, else `previous`'s rows with the error of the fetch or the parse.
Snapshot next_snapshot(const Snapshot& previous, const Result<std::string>& body,
                       std::int64_t local_now_ms);

}  // namespace vigie::console
