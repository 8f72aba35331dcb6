#pragma once
// A collector database with a known week of backups, for the report's tests: stored
// through the real storage and state engine, as a running collector would.
//
// The period is the 7 days before today (UTC); D is the start of its first day.
//   site-failing  backup/borg:/backup   OK days 0-2, CRITICAL from day 3 (acknowledged)
//   site-risk     backup/file-age:/dumps WARNING a few hours on day 2, OK otherwise
//   site-healthy  backup/restic:/srv    OK all along, size 1.0 GB growing to 1.1 GB
//                 backup/avamar:srv     OK all along
//   site-nodata   system/load only: no backup check
//   site-silent   backup/restic:/old    last result before the period, then stale

#include <future>
#include <string>

#include "collector/state_engine.hpp"
#include "collector/storage.hpp"
#include "common/time.hpp"

namespace vigie::collector::seed {

inline constexpr std::int64_t kHour = 3'600'000;
inline constexpr std::int64_t kDay = 24 * kHour;

// The start of the report's first day for a 7-day period ending today, UTC.
inline std::int64_t first_day_ms(std::int64_t now_ms) { return (now_ms / kDay) * kDay - 7 * kDay; }

inline CheckResult backup_result(const std::string& check, State status, std::int64_t ts,
                                 double age_s, double size, const std::string& summary) {
  CheckResult r;
  r.name = check.substr(check.find('/') + 1, check.find(':') - check.find('/') - 1);
  r.check = check;
  r.status = status;
  r.summary = summary;
  r.ts_ms = ts;
  r.interval_s = 3600;
  r.max_attempts = 1;  // hard at once: the scenario's days are exact
  r.metrics.push_back(Metric{.label = "age", .value = age_s, .unit = "s"});
  r.metrics.push_back(Metric{.label = "size", .value = size, .unit = "B"});
  return r;
}

class Seeder {
 public:
  Seeder(Storage& storage, StateEngine& engine) : storage_(storage), engine_(engine) {}

  void submit(const std::string& agent, const std::string& site, std::vector<CheckResult> results,
              std::int64_t received_ms) {
    protocol::Report r;
    r.agent = {agent, site, agent + ".local", "0.1.0"};
    r.seq = ++seq_[agent];
    r.results = std::move(results);
    std::promise<Result<IngestOutcome>> done;
    auto f = done.get_future();
    storage_.submit(
        std::move(r), received_ms,
        [this](protocol::Report&& stored, std::int64_t at, const Storage::StoredAgent&)
            -> Result<StateDelta> { return engine_.apply(std::move(stored), at); },
        [&](Result<IngestOutcome> o, std::vector<Event>) { done.set_value(std::move(o)); });
    auto outcome = f.get();
    if (!outcome) throw std::runtime_error("seed: " + outcome.status().message());
  }

  void change(std::function<Result<StateDelta>()> make) {
    std::promise<Result<StateDelta>> done;
    auto f = done.get_future();
    storage_.change(std::move(make), [&](Result<StateDelta> d) { done.set_value(std::move(d)); });
    auto delta = f.get();
    if (!delta) throw std::runtime_error("seed: " + delta.status().message());
  }

 private:
  Storage& storage_;
  StateEngine& engine_;
  std::map<std::string, std::uint64_t> seq_;
};

// Fills `storage` with the scenario above; `now_ms` is the report's "now".
inline void seed_week(Storage& storage, std::int64_t now_ms) {
  StateEngine engine;
  Seeder s(storage, engine);
  const std::int64_t d = first_day_ms(now_ms);
  // Results every 3 hours from a day before the period to now. Backups at 01:00.
  for (std::int64_t t = d - kDay; t <= now_ms; t += 3 * kHour) {
    const std::int64_t backup = (t - kHour) / kDay * kDay + kHour;  // last 01:00 before t
    const double age = static_cast<double>(t >= backup ? t - backup : t - backup + kDay) / 1000.0;
    const int day = static_cast<int>((t - d) / kDay);
    // site-healthy: grows from 1.0 GB to 1.1 GB over the period.
    const double grown = 1e9 + 1e8 * static_cast<double>(std::max<std::int64_t>(0, t - d)) /
                                   static_cast<double>(7 * kDay);
    s.submit(
        "a-healthy", "site-healthy",
        {backup_result("backup/restic:/srv", State::kOk, t, age, grown, "last snapshot recent"),
         backup_result("backup/avamar:srv", State::kOk, t, age, 5e9, "last backup completed")},
        t + 1000);
    // site-failing: no backup since day 3, 01:00: CRITICAL from day 3, 03:00.
    const std::int64_t stop = d + 3 * kDay + kHour;
    const bool failing = t >= d + 3 * kDay + 3 * kHour;
    const double failing_age =
        static_cast<double>(t >= stop ? t - stop : (t > backup ? t - backup : 0)) / 1000.0;
    s.submit("a-failing", "site-failing",
             {backup_result("backup/borg:/backup", failing ? State::kCritical : State::kOk, t,
                            failing ? failing_age : age, 2e9,
                            failing ? "last archive too old; \"borg\" said: lock timeout"
                                    : "last archive recent")},
             t + 1000);
    // site-risk: WARNING on day 2 between 03:00 and 09:00.
    const bool warning = day == 2 && t >= d + 2 * kDay + 3 * kHour && t < d + 2 * kDay + 9 * kHour;
    s.submit(
        "a-risk", "site-risk",
        {backup_result("backup/file-age:/dumps", warning ? State::kWarning : State::kOk, t, age,
                       3e8, warning ? "last file 30h ago (WARNING > 26h)" : "last file recent")},
        t + 1000);
    // site-nodata: an agent, no backup check.
    CheckResult load;
    load.name = "load";
    load.check = "system/load";
    load.status = State::kOk;
    load.summary = "load fine";
    load.ts_ms = t;
    load.interval_s = 3600;
    s.submit("a-nodata", "site-nodata", {load}, t + 1000);
    // site-silent: reports until a day before the period, then nothing.
    if (t <= d - 20 * kHour) {
      s.submit(
          "a-silent", "site-silent",
          {backup_result("backup/restic:/old", State::kOk, t, age, 7e8, "last snapshot recent")},
          t + 1000);
    }
    // The collector's clock: staleness is decided on ticks.
    s.change([&engine, t] { return Result<StateDelta>(engine.tick(t + 2000)); });
  }
  s.change([&] {
    return engine.acknowledge("a-failing", "backup/borg:/backup",
                              {.author = "alice",
                               .comment = "disk replaced on Thursday; \"new\" one",
                               .sticky = true,
                               .created_ms = now_ms - kHour},
                              now_ms - kHour);
  });
  // Results that changed no state are written by checkpoints.
  s.change([&engine] { return Result<StateDelta>(engine.checkpoint()); });
  if (Status h = storage.housekeep(); !h) throw std::runtime_error("seed: " + h.message());
}

}  // namespace vigie::collector::seed
