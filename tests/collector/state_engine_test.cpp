// The state engine with a fake clock: every time is passed in, nothing sleeps.

#include "collector/state_engine.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "collector/downtime.hpp"

#include <nlohmann/json.hpp>

namespace vigie::collector {
namespace {

constexpr std::int64_t kT0 = 1'790'000'000'000;  // 2026-09-21
constexpr std::int64_t kMinute = 60'000;

struct Fake {
  StateEngine engine;
  std::int64_t now = kT0;
  std::uint64_t seq = 0;

  explicit Fake(EngineOptions options = {}) : engine(options) {}

  // One report from `agent` of `site` with one result, received now, run `late_ms` ago.
  StateDelta report(const std::string& check, State status, const std::string& agent = "a1",
                    const std::string& site = "s1", std::int64_t late_ms = 0,
                    int max_attempts = 0) {
    protocol::Report r;
    r.agent = {agent, site, "host", "1.0"};
    r.seq = ++seq;
    CheckResult c;
    c.name = check;
    c.check = check;
    c.status = status;
    c.summary = std::string(state_name(status)) + " summary";
    c.ts_ms = now - late_ms;
    c.interval_s = 60;
    c.max_attempts = max_attempts;
    r.results.push_back(c);
    return engine.apply(r, now);
  }
  // One report from central poller `poller` (of site "centre") with one result per
  // member site, filed under it (results[].site): check "<check>:<member>".
  StateDelta central(const std::string& check, const std::vector<std::string>& members,
                     State status = State::kOk, const std::string& poller = "p1") {
    protocol::Report r;
    r.agent = {poller, "centre", "host", "1.0"};
    r.seq = ++seq;
    for (const auto& member : members) {
      CheckResult c;
      c.name = check;
      c.check = check + ":" + member;
      c.site = member;
      c.status = status;
      c.summary = std::string(state_name(status)) + " for " + member;
      c.ts_ms = now;
      c.interval_s = 60;
      c.max_attempts = 1;
      r.results.push_back(c);
    }
    return engine.apply(r, now);
  }
  // Advances the clock and ticks.
  StateDelta after(std::int64_t ms) {
    now += ms;
    return engine.tick(now);
  }
  CheckState state(const std::string& check, const std::string& agent = "a1") {
    auto c = engine.check(agent, check);
    REQUIRE(c);
    return *c;
  }
};

std::vector<const Event*> of_kind(const StateDelta& d, EventKind kind) {
  std::vector<const Event*> out;
  for (const auto& e : d.events) {
    if (e.kind == kind) out.push_back(&e);
  }
  return out;
}

const Event& only(const StateDelta& d, EventKind kind) {
  const auto found = of_kind(d, kind);
  INFO("events of kind " << event_kind_name(kind));
  REQUIRE(found.size() == 1);
  return *found[0];
}

TEST_CASE("Engine: a failure turns hard after max_attempts results, then recovers hard",
          "[engine]") {
  Fake f;
  CHECK(f.report("backup/restic", State::kOk).events.empty());

  f.now += kMinute;
  auto d = f.report("backup/restic", State::kCritical);
  const Event& soft = only(d, EventKind::kState);
  CHECK(soft.type == StateType::kSoft);
  CHECK(soft.attempt == 1);
  CHECK_FALSE(soft.notify);
  CHECK(f.state("backup/restic").hard_state == State::kOk);

  f.now += kMinute;
  d = f.report("backup/restic", State::kCritical);
  CHECK(d.events.empty());  // attempt 2 of 3: no change to tell
  CHECK(f.state("backup/restic").attempt == 2);
  REQUIRE(d.checks.size() == 1);  // but the attempt is stored

  f.now += kMinute;
  d = f.report("backup/restic", State::kCritical);
  const Event& hard = only(d, EventKind::kState);
  CHECK(hard.type == StateType::kHard);
  CHECK(hard.from == State::kOk);
  CHECK(hard.to == State::kCritical);
  CHECK(hard.notify);
  CHECK(f.state("backup/restic").hard_since_ms == f.now);
  CHECK(f.state("backup/restic").since_ms == f.now - 2 * kMinute);

  f.now += kMinute;
  d = f.report("backup/restic", State::kOk);
  const Event& recovery = only(d, EventKind::kState);
  CHECK(recovery.type == StateType::kHard);
  CHECK(recovery.from == State::kCritical);
  CHECK(recovery.to == State::kOk);
  CHECK(recovery.notify);
}

TEST_CASE("Engine: a soft failure that recovers notifies no one", "[engine]") {
  Fake f;
  f.report("c", State::kOk);
  f.now += kMinute;
  f.report("c", State::kWarning);
  f.now += kMinute;
  auto d = f.report("c", State::kOk);
  const Event& e = only(d, EventKind::kState);
  CHECK(e.type == StateType::kSoft);
  CHECK_FALSE(e.notify);
  CHECK(f.state("c").attempt == 1);
}

TEST_CASE("Engine: a hard failure that changes severity is a hard change at once", "[engine]") {
  Fake f;
  f.report("c", State::kWarning, "a1", "s1", 0, 1);  // max_attempts 1: hard at once
  CHECK(f.state("c").hard_state == State::kWarning);
  f.now += kMinute;
  auto d = f.report("c", State::kCritical, "a1", "s1", 0, 1);
  const Event& e = only(d, EventKind::kState);
  CHECK(e.type == StateType::kHard);
  CHECK(e.from == State::kWarning);
  CHECK(e.to == State::kCritical);
  CHECK(e.notify);
}

TEST_CASE("Engine: flapping starts above the high threshold and stops below the low one",
          "[engine]") {
  Fake f;
  bool started = false;
  int results = 0;
  // Alternating states: the change ratio climbs until it crosses 30 %.
  for (; results < 21 && !started; ++results) {
    f.now += kMinute;
    auto d = f.report("c", results % 2 == 0 ? State::kOk : State::kCritical);
    started = !of_kind(d, EventKind::kFlappingStart).empty();
  }
  REQUIRE(started);
  CHECK(f.state("c").flapping);
  CHECK(f.state("c").flap_percent >= 30);

  // Steady OK: the ratio falls; between 20 % and 30 % it is still flapping (hysteresis).
  bool stopped = false;
  bool seen_in_band = false;
  for (int i = 0; i < 21 && !stopped; ++i) {
    f.now += kMinute;
    auto d = f.report("c", State::kOk);
    const CheckState s = f.state("c");
    if (s.flap_percent < 30 && s.flap_percent >= 20) {
      seen_in_band = true;
      CHECK(s.flapping);
    }
    stopped = !of_kind(d, EventKind::kFlappingStop).empty();
    if (stopped) CHECK(s.flap_percent < 20);
  }
  CHECK(seen_in_band);
  CHECK(stopped);
  CHECK_FALSE(f.state("c").flapping);
}

TEST_CASE("Engine: hard changes while flapping do not notify", "[engine]") {
  Fake f;
  for (int i = 0; i < 12; ++i) {
    f.now += kMinute;
    f.report("c", i % 2 == 0 ? State::kOk : State::kCritical, "a1", "s1", 0, 1);
  }
  REQUIRE(f.state("c").flapping);
  f.now += kMinute;
  auto d = f.report("c", State::kCritical, "a1", "s1", 0, 1);
  for (const auto* e : of_kind(d, EventKind::kState)) CHECK_FALSE(e->notify);
}

TEST_CASE("Engine: a check that alone stops reporting goes stale after 3 intervals", "[engine]") {
  Fake f;
  f.report("quiet", State::kOk);
  f.report("busy", State::kOk);
  for (int i = 0; i < 3; ++i) {
    auto d = f.after(kMinute);
    CHECK(of_kind(d, EventKind::kStale).empty());
    f.report("busy", State::kOk);  // the agent keeps reporting its other check
  }
  auto d = f.after(1000);  // 3 minutes and 1 s since "quiet" last reported
  const Event& stale = only(d, EventKind::kStale);
  CHECK(stale.check == "quiet");
  CHECK(stale.to == State::kUnknown);
  CHECK(stale.notify);
  const CheckState s = f.state("quiet");
  CHECK(s.stale);
  CHECK(s.effective() == State::kUnknown);
  CHECK(s.problem());
  CHECK_THAT(s.stale_reason, Catch::Contains("no result for 3m 01s"));
  CHECK_FALSE(f.state("busy").stale);

  // It reports again: fresh, and OK as before, which is no recovery.
  f.now += 1000;
  d = f.report("quiet", State::kOk);
  CHECK(only(d, EventKind::kFresh).to == State::kOk);
  CHECK(of_kind(d, EventKind::kState).empty());
  CHECK_FALSE(f.state("quiet").stale);
}

TEST_CASE("Engine: a silent agent makes one site-level problem, its checks stale under it",
          "[engine]") {
  Fake g;
  g.report("firewall/sophos", State::kOk);
  g.report("backup/restic", State::kOk);
  g.report("other", State::kOk, "b1", "s2");  // another site keeps reporting
  StateDelta all;
  for (int i = 0; i < 4; ++i) {
    all.append(g.after(kMinute));
    g.report("other", State::kOk, "b1", "s2");
  }
  const Event& site = only(all, EventKind::kSiteUnreachable);
  CHECK(site.site == "s1");
  CHECK(site.notify);
  CHECK_THAT(site.summary, Catch::Contains("site unreachable"));
  const Event& lost = only(all, EventKind::kAgentLost);
  CHECK_FALSE(lost.notify);  // the site's event speaks for it
  for (const auto* e : of_kind(all, EventKind::kStale)) CHECK_FALSE(e->notify);
  CHECK(of_kind(all, EventKind::kStale).size() == 2);

  // Problems: one row for the site, none per check.
  const auto problems = g.engine.checks({.problems_only = true});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].last.check == "vigie/heartbeat");
  CHECK_THAT(problems[0].last.summary, Catch::Contains("site unreachable"));
  const auto sites = g.engine.sites();
  REQUIRE(sites.size() == 2);
  CHECK(sites[0].name == "s1");  // worst first
  CHECK(sites[0].unreachable);
  CHECK(sites[0].worst == State::kCritical);
  CHECK(sites[1].name == "s2");
  CHECK_FALSE(sites[1].unreachable);
}

TEST_CASE("Engine: missing data never counts as a recovery", "[engine]") {
  Fake f;
  f.report("c", State::kCritical, "a1", "s1", 0, 1);
  REQUIRE(f.state("c").hard_state == State::kCritical);
  StateDelta d;
  for (int i = 0; i < 5; ++i) d.append(f.after(kMinute));
  REQUIRE(f.state("c").stale);
  CHECK(of_kind(d, EventKind::kState).empty());
  CHECK(f.state("c").hard_state == State::kCritical);  // kept underneath

  // Back, still CRITICAL: reachable again, fresh, and no state change at all.
  f.now += kMinute;
  d = f.report("c", State::kCritical, "a1", "s1", 0, 1);
  CHECK(of_kind(d, EventKind::kState).empty());
  CHECK(only(d, EventKind::kSiteReachable).notify);
  CHECK(only(d, EventKind::kFresh).to == State::kCritical);
  CHECK_FALSE(f.state("c").stale);
}

TEST_CASE("Engine: one lost agent of a site with two is an agent problem, not a site one",
          "[engine]") {
  Fake f;
  f.report("c", State::kOk, "a1", "s1");
  f.report("c", State::kOk, "a2", "s1");
  StateDelta d;
  for (int i = 0; i < 4; ++i) {
    d.append(f.after(kMinute));
    f.report("c", State::kOk, "a2", "s1");
  }
  const Event& lost = only(d, EventKind::kAgentLost);
  CHECK(lost.agent == "a1");
  CHECK(lost.notify);
  CHECK(of_kind(d, EventKind::kSiteUnreachable).empty());
  const auto problems = f.engine.checks({.problems_only = true});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].agent == "a1");
  CHECK(problems[0].last.check == "vigie/heartbeat");
}

TEST_CASE("Engine: late results go to history without notifying, older ones change nothing",
          "[engine]") {
  // A replayed spool: results that ran two hours and one hour ago arrive now.
  Fake g;
  g.now = kT0 + 2 * 3'600'000;
  g.report("c", State::kOk, "a1", "s1", 2 * 3'600'000);                // ran at kT0
  auto d = g.report("c", State::kCritical, "a1", "s1", 3'600'000, 1);  // an hour later
  const Event& e = only(d, EventKind::kState);
  CHECK(e.backfill);
  CHECK_FALSE(e.notify);
  CHECK(e.ts_ms == kT0 + 3'600'000);
  CHECK(g.state("c").hard_state == State::kCritical);

  // Older than what is shown: ignored by the state, counted.
  d = g.report("c", State::kOk, "a1", "s1", 2 * 3'600'000 - 1);
  CHECK(d.events.empty());
  CHECK(g.state("c").last.status == State::kCritical);
  CHECK(g.engine.late_results() == 1);
}

TEST_CASE("Engine: acknowledgements: cleared on recovery, sticky kept, expiry notifies",
          "[engine]") {
  Fake f;
  f.report("c", State::kCritical, "a1", "s1", 0, 1);
  CHECK(
      f.engine.acknowledge("a1", "nope", {.author = "x", .comment = "y"}, f.now).status().code() ==
      Code::kNotFound);

  SECTION("plain: cleared by the recovery") {
    auto d = f.engine.acknowledge("a1", "c", {.author = "alice", .comment = "on it"}, f.now);
    REQUIRE(d.is_ok());
    CHECK(only(*d, EventKind::kAcknowledged).author == "alice");
    REQUIRE(f.state("c").ack);
    f.now += kMinute;
    auto r = f.report("c", State::kOk, "a1", "s1", 0, 1);
    CHECK(only(r, EventKind::kAckRemoved).summary.find("cleared") != std::string::npos);
    CHECK_FALSE(f.state("c").ack);
  }
  SECTION("plain: silences the check while it holds") {
    REQUIRE(
        f.engine
            .acknowledge("a1", "c", {.author = "alice", .comment = "on it", .sticky = true}, f.now)
            .is_ok());
    f.now += kMinute;
    auto r = f.report("c", State::kWarning, "a1", "s1", 0, 1);
    CHECK_FALSE(only(r, EventKind::kState).notify);
  }
  SECTION("sticky: kept through the recovery") {
    REQUIRE(
        f.engine
            .acknowledge("a1", "c", {.author = "bob", .comment = "known", .sticky = true}, f.now)
            .is_ok());
    f.now += kMinute;
    auto r = f.report("c", State::kOk, "a1", "s1", 0, 1);
    CHECK(of_kind(r, EventKind::kAckRemoved).empty());
    CHECK(f.state("c").ack);
  }
  SECTION("expiry: the check still fails, so it notifies again") {
    REQUIRE(
        f.engine
            .acknowledge("a1", "c",
                         {.author = "carol", .comment = "later", .expires_ms = f.now + 5 * kMinute},
                         f.now)
            .is_ok());
    for (int i = 0; i < 4; ++i) {
      CHECK(of_kind(f.after(kMinute), EventKind::kAckExpired).empty());
      f.report("c", State::kCritical, "a1", "s1", 0, 1);
    }
    auto d = f.after(kMinute);
    const Event& expired = only(d, EventKind::kAckExpired);
    CHECK(expired.notify);
    CHECK_FALSE(f.state("c").ack);
  }
  SECTION("an OK check cannot be acknowledged") {
    f.report("ok", State::kOk);
    CHECK(
        f.engine.acknowledge("a1", "ok", {.author = "x", .comment = "y"}, f.now).status().code() ==
        Code::kFailedPrecondition);
  }
}

TEST_CASE("Engine: a downtime silences what breaks in it and notifies what still fails after",
          "[engine]") {
  Fake f;
  f.report("c", State::kOk, "a1", "s1", 0, 1);
  f.report("other", State::kOk, "a9", "s9", 0, 1);
  auto added = f.engine.add_downtime({.site = "s1",
                                      .start_ms = f.now,
                                      .end_ms = f.now + 30 * kMinute,
                                      .comment = "firmware upgrade",
                                      .author = "dave"},
                                     f.now);
  REQUIRE(added.is_ok());
  const std::int64_t id = added->downtimes.at(0).id;
  auto d = f.after(1000);
  CHECK(only(d, EventKind::kDowntimeStart).author == "dave");
  CHECK(f.state("c").in_downtime);
  CHECK_FALSE(f.state("other", "a9").in_downtime);

  f.now += kMinute;
  d = f.report("c", State::kCritical, "a1", "s1", 0, 1);
  CHECK_FALSE(only(d, EventKind::kState).notify);
  d = f.report("other", State::kCritical, "a9", "s9", 0, 1);
  CHECK(only(d, EventKind::kState).notify);

  // Past its end, still CRITICAL: a notification.
  StateDelta all;
  for (int i = 0; i < 30; ++i) {
    all.append(f.after(kMinute));
    f.report("c", State::kCritical, "a1", "s1", 0, 1);
    f.report("other", State::kCritical, "a9", "s9", 0, 1);
  }
  const auto ends = of_kind(all, EventKind::kDowntimeEnd);
  REQUIRE(ends.size() == 2);  // the downtime's own, and the check's "still CRITICAL"
  bool notified = false;
  for (const auto* e : ends) notified |= e->check == "c" && e->notify;
  CHECK(notified);
  CHECK_FALSE(f.state("c").in_downtime);
  CHECK_FALSE(f.engine.downtime(id));  // over: no longer listed
}

TEST_CASE("Downtime: a weekly window follows Europe/Paris across daylight-saving changes",
          "[engine][downtime]") {
  // Every Sunday 01:00-04:00 local time, in Paris.
  Downtime d{.site = "s1",
             .start_ms = 0,
             .end_ms = 0,
             .comment = "backup window",
             .weekdays = 1 << 6,
             .start_minute = 60,
             .duration_minutes = 180,
             .time_zone = "Europe/Paris"};
  REQUIRE(validate_downtime(d).is_ok());
  // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST. 01:00 CET = 00:00 UTC,
  // 04:00 CEST = 02:00 UTC: a window of two real hours.
  constexpr std::int64_t kMar29 = 1'774'742'400'000;  // 2026-03-29T00:00:00Z
  constexpr std::int64_t kHour = 3'600'000;
  CHECK_FALSE(downtime_active(d, kMar29 - 1));
  CHECK(downtime_active(d, kMar29));
  CHECK(downtime_active(d, kMar29 + 2 * kHour - 1));
  CHECK_FALSE(downtime_active(d, kMar29 + 2 * kHour));
  // 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET. 01:00 CEST = 23:00 UTC
  // the day before, 04:00 CET = 03:00 UTC: four real hours.
  constexpr std::int64_t kOct25 = 1'792'886'400'000;  // 2026-10-25T00:00:00Z
  CHECK_FALSE(downtime_active(d, kOct25 - kHour - 1));
  CHECK(downtime_active(d, kOct25 - kHour));
  CHECK(downtime_active(d, kOct25 + 3 * kHour - 1));
  CHECK_FALSE(downtime_active(d, kOct25 + 3 * kHour));
  // An ordinary Sunday in winter: 01:00 CET = 00:00 UTC to 03:00 UTC; Monday never.
  constexpr std::int64_t kNov29 = 1'795'910'400'000;  // 2026-11-29T00:00:00Z, a Sunday
  CHECK(downtime_active(d, kNov29 + kHour));
  CHECK_FALSE(downtime_active(d, kNov29 + 3 * kHour));
  CHECK_FALSE(downtime_active(d, kNov29 + 24 * kHour + kHour));
}

TEST_CASE("Downtime: every public holiday, and outside working hours, of a calendar",
          "[engine][downtime][calendar]") {
  auto desk = Calendar::from_json(nlohmann::json{{"time_zone", "Europe/Paris"},
                                                 {"hours", {{"mon-fri", "08:30-17:30"}}},
                                                 {"holidays", "fr"}},
                                  "calendars.desk");
  REQUIRE(desk.is_ok());
  CalendarSet calendars;
  calendars.add("desk", *desk);
  constexpr std::int64_t kHour = 3'600'000;
  constexpr std::int64_t kChristmas = 1'798'153'200'000;  // 2026-12-25 00:00 Paris
  constexpr std::int64_t kTuesday10 = 1'796'115'600'000;  // 2026-12-01 10:00 Paris

  Downtime holidays{.site = "s1",
                    .comment = "closed on holidays",
                    .every = "public-holidays",
                    .calendar = "desk"};
  REQUIRE(validate_downtime(holidays, &calendars).is_ok());
  CHECK_FALSE(downtime_active(holidays, kChristmas - 1, &calendars));
  CHECK(downtime_active(holidays, kChristmas, &calendars));
  CHECK(downtime_active(holidays, kChristmas + 24 * kHour - 1, &calendars));
  CHECK_FALSE(downtime_active(holidays, kChristmas + 24 * kHour, &calendars));
  CHECK_FALSE(downtime_active(holidays, kTuesday10, &calendars));
  CHECK_FALSE(downtime_active(holidays, kChristmas, nullptr));  // the calendar is gone

  Downtime closed{.site = "s1",
                  .comment = "nobody there",
                  .every = "outside-working-hours",
                  .calendar = "desk"};
  REQUIRE(validate_downtime(closed, &calendars).is_ok());
  CHECK_FALSE(downtime_active(closed, kTuesday10, &calendars));
  CHECK(downtime_active(closed, kTuesday10 + 8 * kHour, &calendars));  // 18:00
  CHECK(downtime_active(closed, kChristmas + 10 * kHour, &calendars));
  // Bounded by end, when given.
  closed.start_ms = kTuesday10;
  closed.end_ms = kTuesday10 + 24 * kHour;
  CHECK_FALSE(downtime_active(closed, kChristmas + 10 * kHour, &calendars));

  // The engine puts a check in downtime on a public holiday, and out of it after.
  EngineOptions options{.max_attempts = 1};
  options.calendars = std::make_shared<const CalendarSet>(calendars);
  StateEngine engine(options);
  REQUIRE(engine.add_downtime(holidays, kChristmas - kHour).is_ok());
  CHECK(engine.tick(kChristmas + kHour).events.size() == 1);  // kDowntimeStart
  CHECK(engine.downtimes().front().every == "public-holidays");

  const auto refused = [&](Downtime d) { return validate_downtime(d, &calendars).message(); };
  CHECK(refused({.site = "s1", .comment = "x", .every = "sundays", .calendar = "desk"}) ==
        "every: expected \"public-holidays\" or \"outside-working-hours\", got \"sundays\"");
  CHECK(refused({.site = "s1", .comment = "x", .every = "public-holidays"}) ==
        "calendar: required with every");
  CHECK(refused({.site = "s1", .comment = "x", .every = "public-holidays", .calendar = "dsk"}) ==
        "calendar: no calendar named \"dsk\" (calendars: desk)");
  CHECK(refused({.site = "s1",
                 .comment = "x",
                 .weekdays = 1,
                 .start_minute = 0,
                 .duration_minutes = 60,
                 .time_zone = "Europe/Paris",
                 .every = "public-holidays",
                 .calendar = "desk"}) == "every and weekly: give one or the other");
}

TEST_CASE("Downtime: bad ones are refused with the reason", "[engine][downtime]") {
  Downtime d{.site = "s1", .start_ms = 10, .end_ms = 5, .comment = "x"};
  CHECK_THAT(validate_downtime(d).message(), Catch::Contains("end"));
  d.end_ms = 20;
  d.comment.clear();
  CHECK_THAT(validate_downtime(d).message(), Catch::Contains("comment"));
  d.comment = "x";
  d.weekdays = 1;
  d.duration_minutes = 60;
  d.time_zone = "Mars/Olympus_Mons";
  CHECK_THAT(validate_downtime(d).message(), Catch::Contains("unknown time zone"));
  CHECK_THAT(parse_weekdays("mon,funday").status().message(), Catch::Contains("funday"));
  CHECK(*parse_weekdays("mon,sun") == 0x41);
  CHECK(weekdays_text(0x41) == "mon,sun");
}

TEST_CASE("Engine: restore brings back states, acknowledgements and lost agents", "[engine]") {
  Fake f;
  f.report("c", State::kCritical, "a1", "s1", 0, 1);
  REQUIRE(f.engine.acknowledge("a1", "c", {.author = "e", .comment = "f"}, f.now).is_ok());
  StateSnapshot snapshot;
  snapshot.agents = f.engine.agents();
  for (const auto& c : f.engine.checks({})) {
    if (c.last.check != "vigie/heartbeat") snapshot.checks.push_back(c);
  }
  snapshot.last_event_id = f.engine.last_event_id();
  StateEngine again;
  again.restore(snapshot, f.now);
  auto c = again.check("a1", "c");
  REQUIRE(c);
  CHECK(c->hard_state == State::kCritical);
  REQUIRE(c->ack);
  CHECK(c->ack->author == "e");
  CHECK(again.last_event_id() == f.engine.last_event_id());
}

TEST_CASE("Engine: an acknowledgement of a soft failure holds when it turns hard", "[engine]") {
  Fake f;
  f.report("c", State::kWarning, "a1", "s1", 0, 3);
  REQUIRE(f.engine.acknowledge("a1", "c", {.author = "alice", .comment = "known"}, f.now).is_ok());
  StateDelta all;
  for (int i = 0; i < 2; ++i) {
    f.now += kMinute;
    all.append(f.report("c", State::kWarning, "a1", "s1", 0, 3));
  }
  const Event& hard = only(all, EventKind::kState);
  CHECK(hard.type == StateType::kHard);
  CHECK_FALSE(hard.notify);  // acknowledged: quiet
  CHECK(of_kind(all, EventKind::kAckRemoved).empty());
  REQUIRE(f.state("c").ack);
  // WARNING turning CRITICAL is another problem: the plain acknowledgement ends.
  f.now += kMinute;
  auto d = f.report("c", State::kCritical, "a1", "s1", 0, 3);
  CHECK(only(d, EventKind::kState).notify);
  CHECK_FALSE(f.state("c").ack);
}

TEST_CASE("Engine: checks of a silent agent go stale without notifying, before it is lost",
          "[engine]") {
  // Checks every 20 s are stale after 1 minute; the agent is lost after 3.
  Fake f;
  for (const char* check : {"a", "b", "c"}) {
    protocol::Report r;
    r.agent = {"a1", "s1", "host", "1.0"};
    r.seq = ++f.seq;
    r.results = {{.name = check,
                  .check = check,
                  .status = State::kOk,
                  .summary = "ok",
                  .ts_ms = f.now,
                  .interval_s = 20}};
    f.engine.apply(r, f.now);
  }
  StateDelta all;
  for (int i = 0; i < 4; ++i) all.append(f.after(kMinute));
  CHECK(of_kind(all, EventKind::kStale).size() == 3);
  for (const auto* e : of_kind(all, EventKind::kStale)) CHECK_FALSE(e->notify);
  CHECK(only(all, EventKind::kSiteUnreachable).notify);  // the one alert
}

TEST_CASE("Engine: a site downtime that ends while the site is unreachable says so once",
          "[engine]") {
  Fake f;
  f.report("c", State::kOk, "a1", "s1");
  REQUIRE(f.engine
              .add_downtime({.site = "s1",
                             .start_ms = f.now,
                             .end_ms = f.now + 10 * kMinute,
                             .comment = "power cut",
                             .author = "dave"},
                            f.now)
              .is_ok());
  StateDelta all;
  for (int i = 0; i < 5; ++i) all.append(f.after(kMinute));
  CHECK_FALSE(only(all, EventKind::kSiteUnreachable).notify);
  all = {};
  for (int i = 0; i < 6; ++i) all.append(f.after(kMinute));
  int notified = 0;
  for (const auto* e : of_kind(all, EventKind::kDowntimeEnd)) {
    if (!e->notify) continue;
    ++notified;
    CHECK(e->site == "s1");
    CHECK(e->check.empty());
    CHECK(e->to == State::kCritical);
    CHECK_THAT(e->summary, Catch::Contains("site still unreachable"));
  }
  CHECK(notified == 1);
}

TEST_CASE("Engine: after a restart, agents get a full timeout before they are lost", "[engine]") {
  Fake f;
  f.report("c", State::kOk);
  StateSnapshot snapshot;
  snapshot.agents = f.engine.agents();
  for (const auto& c : f.engine.checks({})) {
    if (c.last.check != "vigie/heartbeat") snapshot.checks.push_back(c);
  }
  // The collector was down 10 minutes: longer than the agent timeout.
  const std::int64_t restart = f.now + 10 * kMinute;
  StateEngine again;
  again.restore(snapshot, restart);
  auto d = again.tick(restart + 1000);
  CHECK(d.events.empty());
  d = again.tick(restart + 3 * kMinute + 1000);
  CHECK(of_kind(d, EventKind::kSiteUnreachable).size() == 1);
}

TEST_CASE("Engine: a central poller's results are filed under their member sites",
          "[engine][central]") {
  Fake f;
  f.report("system/load", State::kOk, "m1", "s1");  // s1 has an agent of its own
  f.central("antivirus/sophos-central", {"s1", "s2", "s3"}, State::kCritical);
  const CheckState c = f.state("antivirus/sophos-central:s2", "p1");
  CHECK(c.site == "s2");
  CHECK(c.central);
  CHECK(c.agent == "p1");

  // s2 and s3 exist as sites with only central results; the poller's site too.
  const auto sites = f.engine.sites();
  std::map<std::string, SiteSummary> by_name;
  for (const auto& s : sites) by_name[s.name] = s;
  REQUIRE(by_name.count("s2") == 1);
  CHECK(by_name["s2"].agents == 0);
  CHECK(by_name["s2"].central == 1);
  CHECK(by_name["s2"].worst == State::kCritical);
  CHECK(by_name["s2"].families.at("antivirus") == State::kCritical);
  CHECK(by_name["s1"].agents == 1);
  CHECK(by_name["s1"].counts[static_cast<int>(State::kCritical)] == 1);
  CHECK(by_name["centre"].agents == 1);
  CHECK(by_name["centre"].counts[static_cast<int>(State::kCritical)] == 0);

  // A site's checks: its own and the central ones, with their source.
  const auto s1 = f.engine.checks({.site = "s1"});
  std::set<std::string> ids;
  for (const auto& row : s1) ids.insert(row.agent + " " + row.last.check);
  CHECK(ids == std::set<std::string>{"m1 vigie/heartbeat", "m1 system/load",
                                     "p1 antivirus/sophos-central:s1"});
  // The poller's own site lists its heartbeat, not its members' results.
  const auto centre = f.engine.checks({.site = "centre"});
  REQUIRE(centre.size() == 1);
  CHECK(centre[0].last.check == "vigie/heartbeat");
  CHECK_THAT(centre[0].last.summary, Catch::Contains("poller for 3 sites"));
  const auto agents = f.engine.agents("centre");
  REQUIRE(agents.size() == 1);
  CHECK(agents[0].member_sites == 3);
  // Events and so alerts are about the member site.
  const auto problems = f.engine.checks({.problems_only = true});
  CHECK(problems.size() == 3);
  for (const auto& p : problems) CHECK(p.site == p.last.check.substr(p.last.check.size() - 2));
}

TEST_CASE("Engine: a silent poller is one problem, and no member site goes unreachable",
          "[engine][central]") {
  Fake f;
  StateDelta all;
  std::vector<std::string> members;
  for (int i = 0; i < 20; ++i) members.push_back("member-" + std::to_string(i));
  f.central("antivirus/sophos-central", members);
  f.report("system/load", State::kOk, "m1", "member-0");
  for (int i = 0; i < 4; ++i) {
    all.append(f.after(kMinute));
    f.report("system/load", State::kOk, "m1", "member-0");
  }
  CHECK(of_kind(all, EventKind::kSiteUnreachable).empty());
  const Event& lost = only(all, EventKind::kAgentLost);
  CHECK(lost.agent == "p1");
  CHECK(lost.notify);
  CHECK(lost.summary.rfind("poller p1 lost, 20 sites not watched", 0) == 0);
  for (const auto* e : of_kind(all, EventKind::kStale)) CHECK_FALSE(e->notify);

  const auto problems = f.engine.checks({.problems_only = true});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].agent == "p1");
  CHECK(problems[0].last.check == "vigie/heartbeat");
  CHECK_THAT(problems[0].last.summary, Catch::StartsWith("poller p1 lost, 20 sites not watched"));
  for (const auto& s : f.engine.sites()) {
    INFO(s.name);
    CHECK_FALSE(s.unreachable);
    if (s.name.rfind("member-", 0) == 0) {
      CHECK(s.worst == State::kOk);  // not the member's problem
      CHECK(s.problems == 0);
    }
  }
  // Its results read as stale, saying why.
  const CheckState c = f.state("antivirus/sophos-central:member-3", "p1");
  CHECK(c.stale);
  CHECK(c.stale_reason == "poller p1 lost");

  // Back: its member sites are watched again; one event, no site event.
  f.now += kMinute;
  const auto back = f.central("antivirus/sophos-central", members);
  CHECK(of_kind(back, EventKind::kAgentBack).size() == 1);
  CHECK(of_kind(back, EventKind::kSiteReachable).empty());
  CHECK(f.engine.checks({.problems_only = true}).empty());
}

TEST_CASE("Engine: a member's own agent going silent still makes its site unreachable",
          "[engine][central]") {
  Fake f;
  f.report("system/load", State::kOk, "m1", "s1");
  f.central("antivirus/sophos-central", {"s1", "s2"});
  StateDelta all;
  for (int i = 0; i < 4; ++i) {
    all.append(f.after(kMinute));
    f.central("antivirus/sophos-central", {"s1", "s2"});  // the poller keeps reporting
  }
  const Event& site = only(all, EventKind::kSiteUnreachable);
  CHECK(site.site == "s1");
  CHECK(site.notify);
  CHECK_THAT(site.summary, Catch::StartsWith("site unreachable: no report from its agent"));
  const auto problems = f.engine.checks({.problems_only = true});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].agent == "m1");
  for (const auto& s : f.engine.sites()) CHECK(s.unreachable == (s.name == "s1"));
}

TEST_CASE("Engine: line down or agent down, from the centre's probes of the site",
          "[engine][central]") {
  Fake f;
  f.report("system/load", State::kOk, "m1", "s1");
  f.report("system/load", State::kOk, "m2", "s2");
  f.central("net/ping", {"s1", "s2"});
  StateDelta all;
  for (int i = 0; i < 4; ++i) {
    all.append(f.after(kMinute));
    // s1's WAN address stops answering; s2's still does.
    f.central("net/ping", {"s1"}, State::kCritical);
    f.central("net/ping", {"s2"}, State::kOk);
  }
  const auto unreachable = of_kind(all, EventKind::kSiteUnreachable);
  REQUIRE(unreachable.size() == 2);
  for (const auto* e : unreachable) {
    INFO(e->summary);
    CHECK(e->summary.rfind(e->site == "s1" ? "site line down (no answer from the centre)"
                                           : "agent silent, the site answers",
                           0) == 0);
  }
  // One row per site, the centre's failing probe folded into it.
  const auto problems = f.engine.checks({.problems_only = true});
  REQUIRE(problems.size() == 2);
  std::map<std::string, std::string> rows;
  for (const auto& p : problems) rows[p.site] = p.last.summary;
  CHECK_THAT(rows["s1"], Catch::StartsWith("site line down (no answer from the centre)"));
  CHECK_THAT(rows["s2"], Catch::StartsWith("agent silent, the site answers"));
  for (const auto& s : f.engine.sites()) {
    if (s.name == "s1") CHECK(s.line == LineVerdict::kDown);
    if (s.name == "s2") CHECK(s.line == LineVerdict::kAnswers);
  }
  // The row follows what the centre sees now.
  f.now += 1000;
  f.central("net/ping", {"s1"}, State::kOk);
  for (const auto& p : f.engine.checks({.problems_only = true})) {
    if (p.site == "s1") CHECK_THAT(p.last.summary, Catch::StartsWith("agent silent"));
  }
  // A site without a central probe stays plain "site unreachable".
  Fake g;
  g.report("system/load", State::kOk, "m1", "s1");
  g.after(4 * kMinute);
  const auto plain = g.engine.checks({.problems_only = true});
  REQUIRE(plain.size() == 1);
  CHECK_THAT(plain[0].last.summary, Catch::StartsWith("site unreachable"));
}

TEST_CASE("Engine: a downtime of the poller covers its results about members, a member's its own",
          "[engine][central]") {
  Fake f;
  f.central("antivirus/sophos-central", {"s1", "s2"});
  Downtime poller{.site = "centre",
                  .agent = "p1",
                  .start_ms = f.now,
                  .end_ms = f.now + kMinute,
                  .comment = "centre maintenance",
                  .author = "alice"};
  REQUIRE(f.engine.add_downtime(poller, f.now).is_ok());
  Downtime member{.site = "s2",
                  .start_ms = f.now,
                  .end_ms = f.now + 3 * kMinute,
                  .comment = "s2 moves",
                  .author = "alice"};
  REQUIRE(f.engine.add_downtime(member, f.now).is_ok());
  f.after(1000);
  CHECK(f.state("antivirus/sophos-central:s1", "p1").in_downtime);
  CHECK(f.state("antivirus/sophos-central:s2", "p1").in_downtime);
  f.after(2 * kMinute);
  f.central("antivirus/sophos-central", {"s1", "s2"});
  CHECK_FALSE(f.state("antivirus/sophos-central:s1", "p1").in_downtime);
  CHECK(f.state("antivirus/sophos-central:s2", "p1").in_downtime);
  // A failure in the member's downtime notifies no one.
  f.now += 1000;
  const auto d = f.central("antivirus/sophos-central", {"s2"}, State::kCritical);
  CHECK_FALSE(only(d, EventKind::kState).notify);
}

TEST_CASE("Engine: restore keeps central results under their member sites", "[engine][central]") {
  Fake f;
  f.report("system/load", State::kOk, "m1", "s1");
  f.central("antivirus/sophos-central", {"s1", "s2"});
  StateSnapshot snapshot;
  snapshot.agents = f.engine.agents();
  for (const auto& c : f.engine.checks({})) {
    if (c.last.check != "vigie/heartbeat") snapshot.checks.push_back(c);
  }
  StateEngine again;
  again.restore(snapshot, f.now);
  const auto c = again.check("p1", "antivirus/sophos-central:s2");
  REQUIRE(c);
  CHECK(c->site == "s2");
  CHECK(c->central);
  CHECK(again.agents("centre")[0].member_sites == 2);
  // The poller is not s1's agent: s1 goes unreachable when m1 is lost, the poller aside.
  again.tick(f.now + 4 * kMinute);
  bool s1_unreachable = false;
  for (const auto& s : again.sites()) {
    if (s.name == "s1") s1_unreachable = s.unreachable;
    if (s.name == "centre") CHECK_FALSE(s.unreachable);
  }
  CHECK(s1_unreachable);
}

}  // namespace
}  // namespace vigie::collector
