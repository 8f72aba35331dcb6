// vigie-bench-backup-report: how long `vigie-collector report backup` takes on a large
// fleet. Seeds a collector database (the real schema, created by the storage; rows
// written with SQL matching it) with SITES sites and DAYS days of backup history,
// then runs the report command RUNS times per format and prints the median.
//
//   vigie-bench-backup-report [--sites 1000] [--days 90] [--runs 5] [--period 7]
//                             [--db PATH] [--keep] [--report backup|availability]
//                             [--series-queries N] [--day-zone Europe/Paris]
//
// The reports run with --tz Europe/Paris. The daily tier is seeded in --day-zone's days
// (as a collector with that --day-zone writes it): Europe/Paris by default, so that the
// report reads whole days from it; --day-zone UTC seeds UTC days, which the report does
// not use (it reads the hours, as before the daily tier had local days).
//
// --report availability runs `report availability --period PERIODd` instead (every
// check of every site, from the events); its database is seeded without the hourly
// rollups, which that report does not read. --series-queries N first times N queries of
// one backup check's hourly `size` over the DAYS days through the storage
// (Storage::series, tier 1h), as the console's history asks for one, then N of its
// daily points (a step of a day: the daily tier).
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "collector/day_zone.hpp"
#include "collector/report/command.hpp"
#include "collector/rollup_block.hpp"
#include "collector/rollup_pack.hpp"
#include "collector/storage.hpp"
#include "common/time.hpp"

namespace {

using namespace vigie;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;

void must(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  sqlite3* db;
  Stmt(sqlite3* d, const char* sql) : db(d) {
    must(sqlite3_prepare_v2(d, sql, -1, &s, nullptr), d, sql);
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt& i(int col, std::int64_t v) {
    sqlite3_bind_int64(s, col, v);
    return *this;
  }
  Stmt& r(int col, double v) {
    sqlite3_bind_double(s, col, v);
    return *this;
  }
  Stmt& b(int col, const std::string& v) {
    sqlite3_bind_blob(s, col, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& t(int col, const std::string& v) {
    sqlite3_bind_text(s, col, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  void run(const char* what) {
    must(sqlite3_step(s), db, what);
    sqlite3_reset(s);
  }
};

// An agent's tiers as housekeeping stores them: a pack per tier and span
// (collector/rollup_pack.hpp), its series added in ascending order.
using Packs = std::map<std::pair<std::int64_t, std::int64_t>, collector::PackBuilder>;

// Adds `buckets` (ascending) of a series' tier to the packs of their spans
// (collector/rollup_block.hpp).
void store_tier(Packs& packs, std::int64_t series, std::int64_t tier,
                const std::vector<collector::RollupBucket>& buckets) {
  const std::int64_t span = collector::rollup_span(tier);
  std::size_t first = 0;
  while (first < buckets.size()) {
    const std::int64_t span_start = buckets[first].ts_ms / span * span;
    std::size_t end = first;
    while (end < buckets.size() && buckets[end].ts_ms < span_start + span) ++end;
    const std::vector<collector::RollupBucket> part(
        buckets.begin() + static_cast<std::ptrdiff_t>(first),
        buckets.begin() + static_cast<std::ptrdiff_t>(end));
    const std::string blob = collector::encode_rollups(part, span_start, tier);
    packs[{tier, span_start}].add(series, blob);
    first = end;
  }
}

// One backup check's story: OK, with a failure of a few days now and then.
struct Failure {
  std::int64_t from, to;
  int state;
};

void seed(const std::filesystem::path& path, int sites, int days, std::int64_t now, bool rollups,
          const collector::DayZone& day_zone) {
  {
    auto storage = collector::open_sqlite_storage({.path = path});
    if (!storage) {
      std::fprintf(stderr, "%s\n", storage.status().message().c_str());
      std::exit(1);
    }
  }
  sqlite3* db = nullptr;
  must(sqlite3_open(path.c_str(), &db), db, "open");
  must(sqlite3_exec(db, "PRAGMA synchronous = OFF; BEGIN", nullptr, nullptr, nullptr), db, "begin");
  Stmt agent(db,
             "INSERT INTO agents (id, name, site, hostname, version, last_seen_ms, first_seen_ms,"
             " last_seq) VALUES (?1, ?2, ?3, ?2, '0.1.0', ?4, ?5, 1)");
  Stmt check(
      db,
      "INSERT INTO checks (agent_id, check_id, name, status, summary, details, metrics, ts_ms,"
      " duration_ms, interval_s, received_ms, since_ms, max_attempts, state_type, attempt,"
      " hard_state, hard_since_ms, ack) VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, 40, 3600, ?7,"
      " ?8, 3, 1, 1, ?4, ?8, ?9)");
  Stmt event(db,
             "INSERT INTO events (ts_ms, recorded_ms, kind, site, agent, check_id, from_state,"
             " to_state, state_type, attempt, summary, author, notify, backfill)"
             " VALUES (?1, ?1, 'state', ?2, ?3, ?4, ?5, ?6, 1, 3, ?7, '', 1, 0)");
  Stmt series(
      db, "INSERT INTO series (id, agent_id, check_id, metric, unit) VALUES (?1, ?2, ?3, ?4, ?5)");
  Stmt rollup(db,
              "INSERT INTO rollup_packs (tier, agent_id, start_ms, buckets) VALUES (?1, ?2, ?3,"
              " ?4)");
  std::mt19937_64 rng(42);
  const std::int64_t start = (now / kHour) * kHour - static_cast<std::int64_t>(days) * kDay;
  std::int64_t series_id = 0;
  const char* other_checks[] = {"system/load",        "system/disk:/",
                                "firewall/sophos:fw", "wifi/unifi:Public",
                                "antivirus/clamd",    "system/systemd:backup.timer",
                                "firewall/host",      "external:ping-gw"};
  for (int s = 0; s < sites; ++s) {
    char site[32], name[32];
    std::snprintf(site, sizeof site, "site-%04d", s);
    std::snprintf(name, sizeof name, "agent-%04d", s);
    const std::int64_t agent_id = s + 1;
    agent.i(1, agent_id).t(2, name).t(3, site).i(4, now).i(5, start).run("agent");
    // Checks that are not backups: rows and events the report must not be slowed by.
    for (const char* other : other_checks) {
      check.i(1, agent_id)
          .t(2, other)
          .t(3, other)
          .i(4, 0)
          .t(5, "fine")
          .t(6, "[]")
          .i(7, now)
          .i(8, start)
          .t(9, "")
          .run("check");
      for (int e = 0; e < 10; ++e) {
        const std::int64_t at =
            start + static_cast<std::int64_t>(rng() % (static_cast<std::uint64_t>(days) * kDay));
        event.i(1, at).t(2, site).t(3, name).t(4, other).i(5, 0).i(6, 1).t(7, "blip").run("event");
        event.i(1, at + kHour)
            .t(2, site)
            .t(3, name)
            .t(4, other)
            .i(5, 1)
            .i(6, 0)
            .t(7, "fine")
            .run("event");
      }
    }
    const int backups = (s % 2 == 0) ? 2 : 1;
    Packs packs;
    for (int b = 0; b < backups; ++b) {
      const std::string id =
          b == 0 ? "backup/restic:/srv/restic" : "backup/file-age:/srv/dumps/*.sql.gz";
      // One site in ten fails a few days now and then; one in fifty is failing now.
      std::vector<Failure> failures;
      if (s % 10 == 3) {
        for (int f = 0; f < 3; ++f) {
          const std::int64_t from =
              start +
              static_cast<std::int64_t>(rng() % (static_cast<std::uint64_t>(days - 5) * kDay));
          failures.push_back(
              {from, from + static_cast<std::int64_t>(1 + rng() % 3) * kDay, f == 0 ? 1 : 2});
        }
        std::sort(failures.begin(), failures.end(),
                  [](auto& a, auto& b) { return a.from < b.from; });
      }
      const bool failing_now = s % 50 == 7;
      if (failing_now) failures.push_back({now - 3 * kDay, now + kDay, 2});
      for (const auto& f : failures) {
        event.i(1, f.from)
            .t(2, site)
            .t(3, name)
            .t(4, id)
            .i(5, 0)
            .i(6, f.state)
            .t(7, "last snapshot too old")
            .run("event");
        if (f.to < now)
          event.i(1, f.to)
              .t(2, site)
              .t(3, name)
              .t(4, id)
              .i(5, f.state)
              .i(6, 0)
              .t(7, "recent")
              .run("event");
      }
      const double base = 1e9 * static_cast<double>(1 + rng() % 500);
      const std::string metrics =
          "[{\"name\":\"age\",\"unit\":\"s\",\"value\":" +
          std::to_string(failing_now ? 3 * 86400 + 3600 : 3 * 3600) +
          "},{\"name\":\"size\",\"unit\":\"B\",\"value\":" + std::to_string(base * 1.05) + "}]";
      const std::string ack =
          failing_now
              ? R"({"author":"alice","comment":"disk ordered","sticky":true,"created":0,"expires":0})"
              : "";
      check.i(1, agent_id)
          .t(2, id)
          .t(3, b == 0 ? "backup" : "dumps")
          .i(4, failing_now ? 2 : 0)
          .t(5, failing_now ? "last snapshot 3d ago (CRITICAL > 50h)" : "last snapshot 3h ago")
          .t(6, metrics)
          .i(7, now)
          .i(8, failing_now ? now - 3 * kDay : start)
          .t(9, ack)
          .run("check");
      const std::int64_t size_series = ++series_id;
      const std::int64_t age_series = ++series_id;
      series.i(1, size_series).i(2, agent_id).t(3, id).t(4, "size").t(5, "B").run("series");
      series.i(1, age_series).i(2, agent_id).t(3, id).t(4, "age").t(5, "s").run("series");
      if (!rollups) continue;
      // Hourly buckets of 3 samples each, stored as housekeeping stores them: a pack per
      // agent and span of each tier (hourly, and daily made from the hours).
      std::vector<collector::RollupBucket> size_hours, age_hours;
      for (std::int64_t t = start; t < now; t += kHour) {
        const double size =
            base * (1.0 + 0.05 * static_cast<double>(t - start) / static_cast<double>(now - start));
        size_hours.push_back({t, size, size, 3 * size, 3});
        const double age = static_cast<double>((t % kDay) / 1000);
        age_hours.push_back({t, age, age, 3 * age, 3});
      }
      for (const auto& [id, hours] :
           {std::pair{size_series, &size_hours}, std::pair{age_series, &age_hours}}) {
        store_tier(packs, id, kHour, *hours);
        std::vector<collector::RollupBucket> days;
        for (const auto& h : *hours) {
          const std::int64_t day = day_zone.day_of(h.ts_ms);
          if (days.empty() || days.back().ts_ms != day) {
            days.push_back({day, h.min, h.max, h.sum, h.n});
            continue;
          }
          collector::RollupBucket& d = days.back();
          d.min = std::min(d.min, h.min);
          d.max = std::max(d.max, h.max);
          d.sum = collector::sum_exactly(d.sum, h.sum);
          d.n += h.n;
        }
        store_tier(packs, id, kDay, days);
      }
    }
    for (auto& [key, pack] : packs)
      rollup.i(1, key.first).i(2, agent_id).i(3, key.second).b(4, pack.take()).run("rollup");
  }
  // The zone the daily tier's days are in (collector/sqlite/rollups.hpp).
  Stmt zone(db, "INSERT OR REPLACE INTO housekeeping (key, value) VALUES ('day_zone', ?1)");
  zone.t(1, day_zone.name()).run("day zone");
  must(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  sqlite3_close(db);
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int sites = 1000, days = 90, runs = 5, period = 7;
  std::filesystem::path db =
      std::filesystem::temp_directory_path() / "vigie-bench-backup-report.db";
  bool keep = false;
  int series_queries = 0;
  std::string report = "backup";
  std::string day_zone = "Europe/Paris";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: missing value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sites") sites = std::stoi(next());
    else if (a == "--days") days = std::stoi(next());
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--period") period = std::stoi(next());
    else if (a == "--db") db = next();
    else if (a == "--keep") keep = true;
    else if (a == "--report") report = next();
    else if (a == "--series-queries") series_queries = std::stoi(next());
    else if (a == "--day-zone") day_zone = next();
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (report != "backup" && report != "availability") {
    std::fprintf(stderr, "--report: expected backup or availability\n");
    return 2;
  }
  auto zone = vigie::collector::DayZone::named(day_zone);
  if (!zone) {
    std::fprintf(stderr, "--day-zone: %s\n", zone.status().message().c_str());
    return 2;
  }
  const std::int64_t now = wall_ms();
  if (!keep || !std::filesystem::exists(db)) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
    const auto t0 = std::chrono::steady_clock::now();
    seed(db, sites, days, now, report == "backup", *zone);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("seeded %d sites, %d days in %.1f s: %.0f MB\n", sites, days, s,
                static_cast<double>(std::filesystem::file_size(db)) / 1e6);
  }
  if (series_queries > 0) {
    // The hourly `size` series of random backup checks over the whole period, through
    // the storage (Storage::series, tier 1h, step 1h), as the console's history asks.
    auto storage = vigie::collector::open_sqlite_storage({.path = db, .day_zone = day_zone});
    if (!storage) {
      std::fprintf(stderr, "%s\n", storage.status().message().c_str());
      return 1;
    }
    std::mt19937_64 rng(7);
    std::vector<double> ms;
    std::size_t points = 0;
    for (int q = 0; q < series_queries; ++q) {
      char name[32];
      std::snprintf(name, sizeof name, "agent-%04d", static_cast<int>(rng() % sites));
      const auto t0 = std::chrono::steady_clock::now();
      auto data = (*storage)->series({.agent = name,
                                      .check = "backup/restic:/srv/restic",
                                      .metric = "size",
                                      .from_ms = now - static_cast<std::int64_t>(days) * kDay,
                                      .to_ms = now,
                                      .step_ms = kHour,
                                      .tier = "1h"});
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!data) {
        std::fprintf(stderr, "series: %s\n", data.status().message().c_str());
        return 1;
      }
      points += data->points.size();
    }
    std::printf(
        "%d-day hourly series query of one metric: median %.3f ms, max %.3f ms (%d queries,"
        " %.0f points each)\n",
        days, median(ms), *std::max_element(ms.begin(), ms.end()), series_queries,
        static_cast<double>(points) / series_queries);
    // The same series a point a day (the daily tier).
    ms.clear();
    points = 0;
    std::string tier;
    for (int q = 0; q < series_queries; ++q) {
      char name[32];
      std::snprintf(name, sizeof name, "agent-%04d", static_cast<int>(rng() % sites));
      const auto t0 = std::chrono::steady_clock::now();
      auto data = (*storage)->series({.agent = name,
                                      .check = "backup/restic:/srv/restic",
                                      .metric = "size",
                                      .from_ms = now - static_cast<std::int64_t>(days) * kDay,
                                      .to_ms = now,
                                      .step_ms = kDay});
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!data) {
        std::fprintf(stderr, "series: %s\n", data.status().message().c_str());
        return 1;
      }
      points += data->points.size();
      tier = data->tier;
    }
    (*storage)->close();
    std::printf(
        "%d-day daily series query of one metric (tier %s): median %.3f ms, max %.3f ms"
        " (%d queries, %.0f points each)\n",
        days, tier.c_str(), median(ms), *std::max_element(ms.begin(), ms.end()), series_queries,
        static_cast<double>(points) / series_queries);
  }
  const std::string out_dir = std::filesystem::temp_directory_path().string();
  for (const char* format : {"html", "csv", "json", "md"}) {
    std::vector<double> times, cpu;
    for (int r = 0; r < runs; ++r) {
      const std::string out = out_dir + "/vigie-bench-report." + format;
      const std::string period_arg = std::to_string(period) + "d";
      const std::vector<std::string_view> args = {
          "report",   report, "--db",  db.c_str(), "--period", period_arg,
          "--format", format, "--out", out,        "--tz",     "Europe/Paris"};
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      const int code = vigie::collector::report_command(args);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      cpu.push_back(cpu_seconds() - c0);
      if (code != 0) {
        std::fprintf(stderr, "report failed (%d)\n", code);
        return 1;
      }
      if (r == 0) {
        std::printf("%s: %.1f MB\n", format,
                    static_cast<double>(std::filesystem::file_size(out)) / 1e6);
      }
    }
    std::printf(
        "report %s --period %dd --format %s: median %.3f s over %d runs (min %.3f, max %.3f),"
        " CPU median %.3f s\n",
        report.c_str(), period, format, median(times), runs,
        *std::min_element(times.begin(), times.end()),
        *std::max_element(times.begin(), times.end()), median(cpu));
  }
  return 0;
}
