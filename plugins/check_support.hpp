#pragma once
// What several built-in checks share: reading their parameters in configure(),
// running a program under the run's deadline, reading what programs print (JSON,
// timestamps) without trusting it, and writing dates and numbers for people (sizes and
// ages: common/human_text.hpp).
//
// Every function here is thread-safe and never throws.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_fields.hpp"
#include "common/human_text.hpp"
#include "common/status.hpp"
#include "plugins/check.hpp"
#include "plugins/process.hpp"

namespace vigie::plugins {

// --- parameters (configure) -----------------------------------------------------------
// A check reads its parameters with common/config_fields.hpp: a bare `params` converts to
// the Fields of path "", so an error names the parameter ("warn: ...") and the agent puts
// the check's path in front ("checks[3].warn: ..."). Here is what only checks read.

// The keys of a check's object that the agent reads, not the check.
inline constexpr std::string_view kAgentKeys[] = {"name", "type", "interval", "timeout", "splay"};

// Refuses `params` that are not an object, and any key that is neither one of the
// check's (`known`) nor one of kAgentKeys, suggesting the nearest: "colour: unknown key
// (did you mean \"color\"?); known keys: device services". Every check calls it first.
Status check_parameters(const nlohmann::json& params,
                        std::initializer_list<std::string_view> known);

// A size in bytes: a number, or a string with a unit: "500B", "10kB", "10MB", "2GB",
// "1TB" (powers of 1000) or "10KiB", "10MiB", "2GiB", "1TiB" (powers of 1024).
Status read_size(const Fields& params, std::string_view key, double& out);
// A command: a program name or absolute path, or an array of strings (the program and
// leading arguments, e.g. ["ip", "netns", "exec", "lan", "nft"]).
Status read_command(const Fields& params, std::string_view key, std::vector<std::string>& out);
// An object of NAME: "value" strings, added to (or replacing entries of) `environment`.
Status read_environment(const Fields& params, std::string_view key,
                        std::vector<std::string>& environment);
// "warn" and "crit" as percentages 0..100, warn <= crit.
Status read_percent_thresholds(const Fields& params, double& warn, double& crit);
// warn <= crit, else "<warn_path>: 30h is above <crit_key> (26h)" (the path of the first,
// "targets[2].response_warn", and the key of the other, beside it).
Status check_order(std::chrono::milliseconds warn, std::chrono::milliseconds crit,
                   std::string_view warn_path, std::string_view crit_key);

// --- running programs -------------------------------------------------------------------

// Runs `argv` with the time left before `deadline` as its timeout, with `capabilities`
// (ProcessOptions). kTimeout when no time is left, or when the program ran out of it
// ("restic timed out after 10 s"); the errors of run_process otherwise. A program that
// exits, whatever its code, is a value.
Result<ProcessResult> run_until(const std::vector<std::string>& argv,
                                std::chrono::steady_clock::time_point deadline,
                                const std::vector<std::string>& environment, std::size_t max_output,
                                const std::vector<Capability>& capabilities = {});

// The last non-blank line of `text`, trimmed and at most 300 bytes: what a failing
// program says last is usually why.
std::string last_line(std::string_view text);
// The first non-blank line of `text`, trimmed and at most 300 bytes.
std::string first_line(std::string_view text);
// The words of `text`, separated by blanks (spaces, tabs, line ends, form feeds).
std::vector<std::string> split_words(std::string_view text);

// --- reading what programs print ------------------------------------------------------

// Parses JSON that a program printed. kCorruption naming `what` on a syntax error, an
// empty text, or nesting deeper than `max_depth` (deep nesting would cost stack).
Result<nlohmann::json> parse_json_output(std::string_view text, std::string_view what,
                                         int max_depth = 32);

// Seconds since the epoch of an ISO 8601 / RFC 3339 date and time:
// "2026-11-27T10:00:00Z", "2026-11-27T10:00:00.123456789+01:00", and, when
// `local_if_no_zone`, "2026-11-27T10:00:00.000000" read as local time (borg writes
// that). A space may replace the 'T'. nullopt for anything else.
std::optional<std::int64_t> parse_timestamp(std::string_view text, bool local_if_no_zone);

// --- writing for people -----------------------------------------------------------------

// "2026-11-27 10:00 UTC".
std::string utc_text(std::int64_t epoch_seconds);
// Shortest "%g"-like text of a number: 2.5 -> "2.5", 26 -> "26".
std::string number_text(double value);

// The state a value above "warn" / "crit" gives, and " (WARNING > 90%)" or "" to say so.
State above(double value, double warn, double crit, std::string_view unit, std::string& note);

// The state an age (seconds) above "warn" / "crit" gives, and " (WARNING > 2d)" or "" to
// say so.
State older_than(std::int64_t age_seconds, std::chrono::seconds warn, std::chrono::seconds crit,
                 std::string& note);

// An UNKNOWN outcome with `summary`.
Outcome unknown_outcome(std::string summary, std::string details = {});

// A metric with the usual thresholds: warn and crit as "above" ranges (0:threshold).
Metric threshold_metric(std::string label, double value, std::string unit,
                        std::optional<double> warn, std::optional<double> crit,
                        std::optional<double> min = 0, std::optional<double> max = std::nullopt);

}  // namespace vigie::plugins
