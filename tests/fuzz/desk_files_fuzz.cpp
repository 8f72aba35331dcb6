// libFuzzer target: the files the desk writes for the collector, read when it starts or
// reloads: the calendars file (collector/calendar.hpp) and the alerts file
// (collector/alert_config.hpp), whose rules and reminders name those calendars. Two
// instants taken from the input's first bytes are then asked of every calendar read, as
// alert routes, reminders, downtimes and the availability report ask. Whatever the
// input: no crash, no undefined behaviour (time arithmetic at the ends of int64), and:
// - a refusal says why;
// - the working time between two instants is neither negative nor longer than the
//   period, nor than the 20 years it is cut at;
// - the next change of working time is later than the instant asked about, and it does
//   change working_at();
// - a calendar's holidays of a year are in that year, in date order.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collector/alert_config.hpp"
#include "collector/calendar.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace c = vigie::collector;

constexpr std::int64_t kTwentyYearsMs = 20LL * 366 * 86'400'000;

void ask(const c::Calendar& calendar, std::int64_t a, std::int64_t b) {
  const bool working = calendar.working_at(a);
  if (const auto next = calendar.next_change(a)) {
    VIGIE_FUZZ_CHECK(*next > a);
    VIGIE_FUZZ_CHECK(calendar.working_at(*next) != working);
  }
  const std::int64_t worked = calendar.working_ms_between(a, b);
  VIGIE_FUZZ_CHECK(worked >= 0);
  VIGIE_FUZZ_CHECK(worked <= kTwentyYearsMs);
  if (a >= b) VIGIE_FUZZ_CHECK(worked == 0);
  std::int64_t period = 0;
  if (a < b && !__builtin_sub_overflow(b, a, &period)) VIGIE_FUZZ_CHECK(worked <= period);
  const c::Date date = calendar.date_at(a);
  (void)calendar.day_off(date);
  (void)calendar.public_holiday_at(a);
  const auto holidays = calendar.holidays(date.year);
  for (std::size_t i = 0; i < holidays.size(); ++i) {
    VIGIE_FUZZ_CHECK(holidays[i].date.year == date.year);
    if (i > 0) VIGIE_FUZZ_CHECK(holidays[i - 1].date <= holidays[i].date);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const auto a = input.ConsumeIntegral<std::int64_t>();
  const auto b = input.ConsumeIntegral<std::int64_t>();
  const std::string text = input.ConsumeRemainingBytesAsString();

  c::CalendarSet calendars;
  if (auto parsed = c::CalendarSet::parse(text, "calendars.json")) {
    calendars = std::move(*parsed);
    const std::string all = calendars.names();
    std::string_view names = all;
    while (!names.empty() && names != "none") {
      const std::size_t comma = names.find(", ");
      const std::string_view name = names.substr(0, comma);
      // A name holding ", " is cut here and not found: skipped.
      if (const c::Calendar* calendar = calendars.find(name)) ask(*calendar, a, b);
      names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 2);
    }
  } else {
    VIGIE_FUZZ_CHECK(!parsed.status().message().empty());
  }
  auto alerts = c::parse_alert_config(text, "alerts.json", calendars);
  if (alerts) {
    if (alerts->renotify_calendar) ask(*alerts->renotify_calendar, a, b);
  } else {
    VIGIE_FUZZ_CHECK(!alerts.status().message().empty());
  }
  return 0;
}
