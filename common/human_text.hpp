#pragma once
// Sizes and ages written for people, the same way in a check's summary, the agent's
// own check and the console. (A duration in two units, "2h 05m", is human_duration()
// in common/duration.hpp; a date is the caller's, as its time zone is.)
//
// Every function here is thread-safe and never throws.

#include <chrono>
#include <string>

namespace vigie {

// Powers of 1024, one decimal below 10: "512 B", "3.4 GiB", "120 GiB", "-2.0 KiB".
std::string bytes_text(double bytes);

// An age or a wait in at most two units, hours up to three days as backup schedules and
// thresholds are written: "45s", "12m", "3h12m", "30h", "4d3h", "41d". Negative: "-12m".
std::string age_text(std::chrono::milliseconds age);

// For a narrow column: the largest whole unit, "12s", "3m", "2h", "4d". A negative age
// (the clocks disagree) reads "0s".
std::string short_age_text(std::chrono::milliseconds age);

}  // namespace vigie
