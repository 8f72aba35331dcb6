// The availability report's arithmetic on hand-made histories: stale time is unknown,
// acknowledged and downtime time apart, a family as bad as its worst check.

#include "collector/report/availability.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace vigie::collector {
namespace {

constexpr std::int64_t kHour = 3'600'000;

// Ten hours from T0 (a whole day is not needed: the report takes any period).
constexpr std::int64_t kT0 = 1'798'761'600'000;  // 2027-01-01T00:00:00Z

Period ten_hours() {
  Period p;
  p.days = {Day{2027, 1, 1, 4}};
  p.starts_ms = {kT0, kT0 + 10 * kHour};
  p.time_zone = "UTC";
  return p;
}

Event state(std::int64_t id, std::int64_t hour, State to) {
  return {.id = id,
          .ts_ms = kT0 + hour * kHour,
          .kind = EventKind::kState,
          .to = to,
          .type = StateType::kHard};
}
Event of_kind(std::int64_t id, std::int64_t hour, EventKind kind, std::string summary = {}) {
  return {.id = id, .ts_ms = kT0 + hour * kHour, .kind = kind, .summary = std::move(summary)};
}

CheckHistory check(const std::string& id, std::vector<Event> events,
                   std::vector<Event> silences = {}) {
  CheckHistory h;
  h.state.site = "s1";
  h.state.agent = "a1";
  h.state.last.check = id;
  h.events = std::move(events);
  h.silences = std::move(silences);
  return h;
}

AvailabilityReport make(std::vector<CheckHistory> checks, const Calendar* calendar = nullptr) {
  HistoryData data;
  data.agents.push_back({.id = "a1", .site = "s1"});
  data.checks = std::move(checks);
  return make_availability_report(data, ten_hours(), "test", calendar, calendar ? "c" : "",
                                  kT0 + 11 * kHour, "");
}

const Availability& family(const AvailabilityReport& r, const std::string& name) {
  for (const auto& line : r.sites.at(0).families) {
    if (line.family == name) return line.figures;
  }
  FAIL("no family " << name);
  throw;
}

}  // namespace

TEST_CASE("Availability: stale time is unknown, never OK", "[availability]") {
  // OK from 0, stale from 2 to 5 (still OK by its hard state), fresh again.
  const auto r =
      make({check("firewall/sophos", {state(1, 0, State::kOk), of_kind(2, 2, EventKind::kStale),
                                      of_kind(3, 5, EventKind::kFresh)})});
  const Availability& f = family(r, "firewall");
  CHECK(f.time(Slice::kOk) == 7 * kHour);
  CHECK(f.time(Slice::kUnknown) == 3 * kHour);
  CHECK(f.outages == 1);
  CHECK(f.longest_outage_ms == 3 * kHour);
  CHECK(*f.ratio() == Approx(0.7));
  // No data before the first event; a family without checks has none at all.
  CHECK(family(r, "wifi").time(Slice::kNoData) == 10 * kHour);
  CHECK_FALSE(family(r, "wifi").ratio());
}

TEST_CASE("Availability: acknowledged and downtime time shown apart", "[availability]") {
  // CRITICAL from 1 to 4, acknowledged at 2; a site downtime from 6 to 8 while CRITICAL
  // again from 6 to 9; a check-level notice "downtime over, still ..." is not a downtime.
  const auto r = make(
      {check("backup/restic:/srv",
             {state(1, 0, State::kOk), state(2, 1, State::kCritical), state(5, 4, State::kOk),
              state(7, 6, State::kCritical), state(10, 9, State::kOk)},
             {of_kind(3, 2, EventKind::kAcknowledged), of_kind(6, 4, EventKind::kAckRemoved),
              of_kind(8, 6, EventKind::kDowntimeStart, "downtime 4: firmware"),
              of_kind(9, 8, EventKind::kDowntimeEnd, "downtime ended 4: firmware"),
              of_kind(11, 8, EventKind::kDowntimeEnd, "downtime over, still CRITICAL: broken")})});
  const Availability& b = family(r, "backup");
  CHECK(b.time(Slice::kCritical) == 2 * kHour);  // 1-2 and 8-9
  CHECK(b.time(Slice::kAcknowledged) == 2 * kHour);
  CHECK(b.time(Slice::kDowntime) == 2 * kHour);
  CHECK(b.time(Slice::kOk) == 4 * kHour);
  CHECK(b.counted_ms() == 8 * kHour);
  CHECK(b.outages == 2);  // 1-4 (acknowledged from 2), and 8-9 after the downtime
  CHECK(b.longest_outage_ms == 3 * kHour);
}

TEST_CASE("Availability: a family is as bad as its worst check, the site adds the families",
          "[availability]") {
  const auto r = make({check("wifi/ap:1", {state(1, 0, State::kOk), state(3, 2, State::kWarning),
                                           state(5, 6, State::kOk)}),
                       check("wifi/ap:2", {state(2, 0, State::kOk), state(4, 4, State::kCritical),
                                           state(6, 5, State::kOk)}),
                       check("net/dns", {state(7, 0, State::kOk), state(8, 8, State::kUnknown)}),
                       check("system/load", {state(9, 0, State::kCritical)})});  // not a family
  const Availability& w = family(r, "wifi");
  CHECK(w.time(Slice::kWarning) == 3 * kHour);  // 2-4 and 5-6
  CHECK(w.time(Slice::kCritical) == kHour);     // 4-5
  CHECK(w.outages == 1);
  CHECK(w.checks == 2);
  const Availability& total = r.sites.at(0).total;
  CHECK(total.checks == 3);
  CHECK(total.time(Slice::kUnknown) == 2 * kHour);
  CHECK(total.time(Slice::kOk) == 4 * kHour);
  CHECK(r.overall.time(Slice::kOk) == 4 * kHour);
}

TEST_CASE(
    "Availability: before its first event a check was as that event found it, since "
    "its agent first reported",
    "[availability]") {
  HistoryData data;
  data.agents.push_back({.id = "a1", .site = "s1", .first_seen_ms = kT0 + kHour});
  data.checks.push_back(check("firewall/sophos", {state(1, 3, State::kCritical)}));
  const auto r = make_availability_report(data, ten_hours(), "test", nullptr, "", kT0, "");
  const Availability& f = r.sites.at(0).families.at(0).figures;
  CHECK(f.time(Slice::kNoData) == kHour);
  CHECK(f.time(Slice::kOk) == 2 * kHour);
  CHECK(f.time(Slice::kCritical) == 7 * kHour);
}

TEST_CASE("Availability: with a calendar, only working time counts", "[availability]") {
  // Working 02:00-06:00 UTC; CRITICAL from 1 to 3 and from 7 to 9: one outage of an hour.
  auto calendar = Calendar::from_json(
      nlohmann::json{{"time_zone", "UTC"}, {"hours", {{"daily", "02:00-06:00"}}}}, "c");
  REQUIRE(calendar.is_ok());
  const auto r =
      make({check("antivirus/clamd",
                  {state(1, 0, State::kOk), state(2, 1, State::kCritical), state(3, 3, State::kOk),
                   state(4, 7, State::kCritical), state(5, 9, State::kOk)})},
           &*calendar);
  CHECK(r.span_ms == 4 * kHour);
  const Availability& a = family(r, "antivirus");
  CHECK(a.time(Slice::kCritical) == kHour);
  CHECK(a.time(Slice::kOk) == 3 * kHour);
  CHECK(a.outages == 1);
  CHECK(a.outage_ms == kHour);
}

TEST_CASE("Availability: CSV cells a spreadsheet would run as formulas are neutralised",
          "[availability][csv]") {
  // A site's name comes from its agents: one that reads as a formula is written as text.
  for (const auto& [site, cell] : std::vector<std::pair<std::string, std::string>>{
           {"=HYPERLINK(\"http://evil.example\",\"x\")", "\"'=HYPERLINK("},
           {"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
           {"@SUM(1+1)", "'@SUM(1+1)"},
           {"-1", "-1"}}) {  // a number keeps its sign
    INFO(site);
    AvailabilityReport r = make({check("antivirus/clamd", {state(1, 0, State::kOk)})});
    REQUIRE(r.sites.size() == 1);
    r.sites[0].site = site;
    const std::string csv = render_availability_csv(r, Locale(), ',');
    CHECK(csv.find("\n" + cell) != std::string::npos);
    if (cell != site) CHECK(csv.find("\n" + site) == std::string::npos);
  }
}

}  // namespace vigie::collector
