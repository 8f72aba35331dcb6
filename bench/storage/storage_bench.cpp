// vigie-bench-storage: what the collector's SQLite storage takes on disk per sample, and
// how fast a one-hour raw query of one metric answers, on a simulated fleet over
// simulated hours. Reports go through the storage as the collector stores them (its
// writer, its group commits), with a simulated clock; housekeeping (rollups,
// compaction, retention) runs every simulated 5 minutes, as the collector runs it in
// the background, and is timed apart from ingest.
//
// Workloads:
//   realistic  what agents send: constants (sizes, CPU counts), slowly changing gauges
//              with two decimals (disk use), counters (bytes, uptime), noisy gauges
//              (load, latency with three decimals); one result a minute or every 5
//              minutes, a few milliseconds of jitter.
//   random     the ingest benchmark's values (bench/ingest/workload.cpp): each sample
//              uniform in its metric's range, with its decimals.
//
//   vigie-bench-storage [--workload realistic|random] [--agents 100] [--hours 24]
//                       [--queries 200] [--db PATH] [--keep]
//   vigie-bench-storage --upgrade PATH   (a database an earlier version kept: the
//                                         migration to this one's schema, timed)
//   vigie-bench-storage --breakdown PATH (a kept database: where its raw blocks' bytes
//                                         go, per part of the encoding)
//
// Prints the database's size per sample (file, and each table and index from SQLite's
// dbstat), ingest and housekeeping time, and the median and p99 of a one-hour raw query
// of one metric, of a 90-day hourly one and of a day of its 5-minute buckets, and
// where the raw blocks' bytes go (collector::measure_block). Beside the sizes, the
// information the generated samples hold (bench/storage/information.hpp): the floor no
// lossless coding of them goes under, for the raw samples and for the tiers.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "bench/storage/information.hpp"
#include "collector/sample_block.hpp"
#include "collector/storage.hpp"

namespace {

using namespace vigie;
using Clock = std::chrono::steady_clock;
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;

enum class Kind { kConstant, kSlowGauge, kCounter, kNoisyGauge, kLatency };

struct SeriesModel {
  Kind kind;
  double value;
  double rate;  // counters: per minute; gauges: spread
  int decimals;
  double lo, hi;  // random workload: the range
};

struct CheckModel {
  std::string id;
  int interval_min;
  std::vector<std::string> metrics;
};

// 30 checks of 3 metrics, like bench/ingest's catalogue: 21 every minute, 9 every 5.
std::vector<CheckModel> catalogue() {
  std::vector<CheckModel> checks;
  for (int i = 0; i < 30; ++i) {
    checks.push_back({"family/check:" + std::to_string(i), i % 10 < 7 ? 1 : 5, {"m0", "m1", "m2"}});
  }
  return checks;
}

double round_to(double v, int decimals) {
  const double p = std::pow(10.0, decimals);
  return std::round(v * p) / p;
}

class Agent {
 public:
  Agent(int index, bool random, std::mt19937_64& rng, bench::storage::InformationFloor& floor)
      : id_("agent-" + std::to_string(index)), floor_(&floor) {
    std::uniform_real_distribution<double> u(0, 1);
    for (std::size_t c = 0; c < checks_.size(); ++c) {
      for (std::size_t m = 0; m < 3; ++m) {
        SeriesModel s{};
        const int pick = static_cast<int>((c * 3 + m) % 10);
        if (random) {
          // The ingest benchmark's kinds: range and decimals.
          static constexpr struct {
            double lo, hi;
            int decimals;
          } kKinds[] = {{3, 78, 2},  {12, 900, 2},   {0.01, 3.5, 2}, {0.2, 60, 3},  {0, 0.4, 0},
                        {0, 400, 0}, {0.5, 2000, 2}, {1e3, 5e8, 0},  {600, 3e7, 0}, {-0.1, 0.1, 4}};
          s = {Kind::kNoisyGauge, 0, 0, kKinds[pick].decimals, kKinds[pick].lo, kKinds[pick].hi};
        } else if (pick < 2) {
          s = {Kind::kConstant, std::round(u(rng) * 64) * 4, 0, 0, 0, 0};
        } else if (pick < 5) {
          s = {Kind::kSlowGauge, round_to(20 + u(rng) * 60, 2), 0.01, 2, 0, 100};
        } else if (pick < 7) {
          s = {Kind::kCounter, std::round(u(rng) * 1e9), std::round(1e5 + u(rng) * 1e7), 0, 0, 0};
        } else if (pick < 9) {
          s = {Kind::kNoisyGauge, 0.5 + u(rng) * 2, 0.3, 2, 0, 0};
        } else {
          s = {Kind::kLatency, 5 + u(rng) * 40, 2, 3, 0, 0};
        }
        series_.push_back(s);
        add_to_floor(s);
      }
    }
    offset_ms_ = static_cast<std::int64_t>(rng() % 60'000);
  }

  // The report of simulated minute `minute` (the checks due then).
  protocol::Report report(std::int64_t t0, std::int64_t minute, std::mt19937_64& rng) {
    protocol::Report r;
    r.agent = {id_, "site-" + id_, id_, "bench"};
    r.seq = static_cast<std::uint64_t>(minute + 1);
    std::uniform_real_distribution<double> u(0, 1);
    for (std::size_t c = 0; c < checks_.size(); ++c) {
      if (minute % checks_[c].interval_min != 0) continue;
      CheckResult result;
      result.check = checks_[c].id;
      result.name = checks_[c].id;
      result.status = State::kOk;
      result.ts_ms = t0 + minute * kMinute + offset_ms_ + static_cast<std::int64_t>(rng() % 8);
      // The schedule and the agent's offset say the rest: the jitter's 8 equally likely
      // values, once a result (its metrics share its timestamp).
      floor_->add_timestamp_bits(3);
      result.interval_s = checks_[c].interval_min * 60;
      for (std::size_t m = 0; m < 3; ++m) {
        SeriesModel& s = series_[c * 3 + m];
        double v = s.value;
        switch (s.kind) {
          case Kind::kConstant: break;
          case Kind::kSlowGauge:
            if (u(rng) < 0.2) s.value = round_to(s.value + (u(rng) < 0.5 ? -1 : 1) * s.rate, 2);
            v = s.value;
            break;
          case Kind::kCounter:
            s.value += std::round(s.rate * (0.9 + 0.2 * u(rng)));
            v = s.value;
            break;
          case Kind::kNoisyGauge:
            v = s.lo != s.hi ? round_to(s.lo + (s.hi - s.lo) * u(rng), s.decimals)
                             : round_to(std::max(0.0, s.value + s.rate * (u(rng) - 0.5)), 2);
            break;
          case Kind::kLatency: v = round_to(s.value + s.rate * u(rng), 3); break;
        }
        floor_->add_sample(floor_series_[c * 3 + m], result.ts_ms, v);
        result.metrics.push_back(Metric{.label = checks_[c].metrics[m], .value = v});
      }
      r.results.push_back(std::move(result));
    }
    return r;
  }
  const std::string& id() const { return id_; }

 private:
  // What each sample of `s` holds given the one before it and the series' parameters
  // (its range, centre or rate, drawn once and left out, which only lowers the floor),
  // as report() draws it; and, for samples drawn independently, how many equally likely
  // values their range holds, for the floor of the tiers' buckets.
  void add_to_floor(const SeriesModel& s) {
    using bench::storage::rounded_uniform_bits;
    double bits = 0;
    double iid_values = 0;
    switch (s.kind) {
      case Kind::kConstant: break;
      case Kind::kSlowGauge: {
        // Unchanged with probability 0.8, else 0.01 down or up, as likely.
        static constexpr double kStep[] = {0.8, 0.1, 0.1};
        bits = bench::storage::choice_bits(kStep);
        break;
      }
      case Kind::kCounter:
        // The increment, uniform in 0.9 to 1.1 times the rate, rounded to an integer.
        bits = rounded_uniform_bits(0.9 * s.rate, 1.1 * s.rate, 0);
        break;
      case Kind::kNoisyGauge:
        if (s.lo != s.hi) {
          bits = rounded_uniform_bits(s.lo, s.hi, s.decimals);
          iid_values = (s.hi - s.lo) * std::pow(10.0, s.decimals);
        } else {
          // value + rate (u - 0.5), never under 0 (value >= 0.5), two decimals.
          bits = rounded_uniform_bits(s.value - s.rate / 2, s.value + s.rate / 2, 2);
          iid_values = s.rate * 100;
        }
        break;
      case Kind::kLatency:
        bits = rounded_uniform_bits(s.value, s.value + s.rate, 3);
        iid_values = s.rate * 1000;
        break;
    }
    floor_series_.push_back(floor_->add_series(bits, iid_values));
  }

  std::string id_;
  std::vector<CheckModel> checks_ = catalogue();
  std::vector<SeriesModel> series_;
  bench::storage::InformationFloor* floor_;
  std::vector<int> floor_series_;  // series_[i]'s index in *floor_
  std::int64_t offset_ms_ = 0;
};

void fail(const std::string& what) {
  std::fprintf(stderr, "vigie-bench-storage: %s\n", what.c_str());
  std::exit(1);
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

namespace {

// Pages in use by the tables and indexes whose names start with `prefix`, after a
// checkpoint (the database closed by everyone else).
std::int64_t pages_of(const std::filesystem::path& db, const char* prefix) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK) fail("open " + db.string());
  sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(raw, "SELECT sum(pgsize) FROM dbstat WHERE name LIKE ?1 || '%'", -1, &stmt,
                         nullptr) != SQLITE_OK)
    fail(sqlite3_errmsg(raw));
  sqlite3_bind_text(stmt, 1, prefix, -1, SQLITE_STATIC);
  const std::int64_t bytes = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  return bytes;
}

// --upgrade PATH: opens a database an earlier version wrote (this benchmark's, kept with
// --keep) with this one's storage, as a collector upgraded in place does, its clock just
// after the last sample, and times the schema migration (the open) and housekeeping
// until nothing is left (the rollups moved into the packed tiers, in slices).
int upgrade_database(const std::filesystem::path& db) {
  std::int64_t last = 0;
  {
    sqlite3* raw = nullptr;
    if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK) fail("open " + db.string());
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(raw, "SELECT max(t_max) FROM sample_blocks", -1, &stmt, nullptr) !=
        SQLITE_OK)
      fail(sqlite3_errmsg(raw));
    if (sqlite3_step(stmt) == SQLITE_ROW) last = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
  }
  const std::int64_t before = pages_of(db, "rollup");
  collector::SqliteOptions options{.path = db};
  options.now_ms = [&] { return last + 2 * kHour; };
  options.housekeeping_every = std::chrono::hours(24 * 365);
  auto start = Clock::now();
  auto opened = collector::open_sqlite_storage(options);
  if (!opened) fail(opened.status().message());
  const double open_s = seconds(Clock::now() - start);
  start = Clock::now();
  if (Status s = (*opened)->housekeep(); !s) fail("housekeeping: " + s.message());
  const double housekeeping_s = seconds(Clock::now() - start);
  (*opened)->close();
  const std::int64_t after = pages_of(db, "rollup");
  std::printf(
      "upgrade: open (schema migration) %.3f s; housekeeping until done %.1f s;"
      " rollups and their indexes %.1f MiB before, %.1f MiB after\n",
      open_s, housekeeping_s, static_cast<double>(before) / 1048576,
      static_cast<double>(after) / 1048576);
  return 0;
}

}  // namespace

// Where the raw blocks' bytes go: each header field, the timestamps per mode and the
// values per mode, in bytes per sample of the blocks (what `samples` counts).
void print_breakdown(sqlite3* raw) {
  collector::BlockBreakdown m;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(raw, "SELECT samples FROM sample_blocks", -1, &stmt, nullptr) != SQLITE_OK)
    fail(sqlite3_errmsg(raw));
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const std::string_view block(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                                 static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
    if (Status s = collector::measure_block(block, m); !s) fail("a block: " + s.message());
  }
  sqlite3_finalize(stmt);
  if (m.samples == 0) return;
  const auto n = static_cast<double>(m.samples);
  const auto per = [&](std::int64_t bytes) { return static_cast<double>(bytes) / n; };
  const auto bits = [&](std::int64_t b) { return static_cast<double>(b) / 8 / n; };
  std::printf(
      "raw blocks (%lld per-series blocks, %lld series, %lld samples): %.3f bytes"
      " per sample; per-report blocks left: %lld (%lld bytes)\n",
      static_cast<long long>(m.blocks), static_cast<long long>(m.series),
      static_cast<long long>(m.samples), per(m.block_bytes), static_cast<long long>(m.other_blocks),
      static_cast<long long>(m.other_bytes));
  std::printf(
      "  headers: block %.3f, id %.3f, count %.3f, first ts %.3f, ts mode %.3f, value"
      " mode %.3f, first value %.3f, stream length %.3f; stream padding %.3f\n",
      per(m.block_head_bytes), per(m.id_bytes), per(m.count_bytes), per(m.first_ts_bytes),
      per(m.ts_mode_bytes), per(m.value_mode_bytes), per(m.first_value_bytes), per(m.length_bytes),
      bits(m.padding_bits));
  static constexpr const char* kTimeModes[] = {"shared", "delta-of-delta", "step", "schedule"};
  std::int64_t ts_bits = 0;
  for (int t = 0; t < collector::BlockBreakdown::kTimestampModes; ++t) ts_bits += m.ts_bits[t];
  std::printf("  timestamps %.3f:", bits(ts_bits));
  for (int t = 0; t < collector::BlockBreakdown::kTimestampModes; ++t)
    if (m.ts_series[t] > 0)
      std::printf(" %s %.3f (%lld series, %lld samples, %.2f bits a sample)", kTimeModes[t],
                  bits(m.ts_bits[t]), static_cast<long long>(m.ts_series[t]),
                  static_cast<long long>(m.ts_samples[t]),
                  static_cast<double>(m.ts_bits[t]) / static_cast<double>(m.ts_samples[t]));
  std::printf("\n");
  std::int64_t value_bits = 0;
  for (int v = 0; v < collector::BlockBreakdown::kValueModes; ++v) value_bits += m.value_bits[v];
  std::printf("  values %.3f:", bits(value_bits));
  for (int v = 0; v < collector::BlockBreakdown::kValueModes; ++v) {
    if (m.value_series[v] == 0) continue;
    const bool frame = v >= 15;
    const int k = frame ? v - 15 : v - 1;
    const std::string name = v == 0 ? "xor"
                                    : std::string(frame ? (k % 2 ? "frame-delta" : "frame")
                                                        : (k % 2 ? "dod" : "delta")) +
                                          "/" + std::to_string(k / 2) + "dec";
    std::printf(" %s %.3f (%lld series, %lld samples, %.2f bits a sample)", name.c_str(),
                bits(m.value_bits[v]), static_cast<long long>(m.value_series[v]),
                static_cast<long long>(m.value_samples[v]),
                static_cast<double>(m.value_bits[v]) / static_cast<double>(m.value_samples[v]));
  }
  std::printf("\n");
}

namespace {

// What the database takes, in bytes, as split above.
struct Taken {
  std::int64_t file = 0;
  std::int64_t blocks = 0;   // the raw samples' blocks and their indexes
  std::int64_t rollups = 0;  // the tiers, rows and indexes
};

// The information the generated samples hold, beside what the database takes for them,
// in bytes a sample. Each floor is what no lossless coding of those figures goes under
// (bench/storage/information.hpp says why); the tiers' are each on its own. A coarser
// tier is a function of a finer one, and every tier of the raw samples, so the raw
// samples' floor is the floor of the whole database: a coding may store each tier
// against the coarser one and the raw samples against their 5-minute buckets, each
// still readable once what it is coded against outlives it. When the raw samples are
// coded apart from the tiers instead (as vigie codes them), each readable alone, the
// 5-minute tier's floor comes on top (the coarser tiers add nothing while it is kept).
void print_floor(const bench::storage::InformationFloor& floor, std::int64_t samples,
                 const Taken& taken) {
  static constexpr std::int64_t kWidths[] = {5 * kMinute, kHour, 24 * kHour};
  const bench::storage::InformationFloor::Figures f = floor.figures(kWidths);
  if (f.samples != samples) fail("the floor saw another number of samples");
  const auto n = static_cast<double>(samples);
  const auto bits = [&](double b) { return b / n; };
  const auto bytes = [&](double b) { return b / 8 / n; };
  const auto per = [&](std::int64_t b) { return static_cast<double>(b) / n; };
  const double raw = f.value_bits + f.timestamp_bits;
  std::printf(
      "information (floors of any lossless coding, bytes a sample unless bits are said):\n"
      "  raw samples: floor %.3f (values %.2f bits, the generator's model; timestamps %.2f"
      " bits); model-free values %.2f bits (each series' own frequencies); vigie %.3f\n",
      bytes(raw), bits(f.value_bits), bits(f.timestamp_bits), bits(f.empirical_bits),
      per(taken.blocks));
  std::printf(
      "  tiers, each coded apart from the raw samples, (min, max) of independent samples'"
      " buckets only: 5-minute %.3f, hourly %.3f, daily %.3f; vigie (all three) %.3f\n",
      bytes(f.tier_bits[0]), bytes(f.tier_bits[1]), bytes(f.tier_bits[2]), per(taken.rollups));
  std::printf("  rest (replay guard, states, free pages): floor 0; vigie %.3f\n",
              per(taken.file - taken.blocks - taken.rollups));
  std::printf(
      "  in all: floor %.3f (the tiers derive from the raw samples), %.3f with the raw samples"
      " and the 5-minute tier coded apart; vigie %.3f\n",
      bytes(raw), bytes(raw + f.tier_bits[0]), per(taken.file));
}

}  // namespace

int main(int argc, char** argv) {
  std::string workload = "realistic";
  int agents = 100;
  int hours = 24;
  int queries = 200;
  std::filesystem::path db = std::filesystem::temp_directory_path() / "vigie-bench-storage.db";
  bool keep = false;
  std::filesystem::path upgrade;
  std::filesystem::path breakdown;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--workload") {
      workload = value();
    } else if (a == "--agents") {
      agents = std::stoi(value());
    } else if (a == "--hours") {
      hours = std::stoi(value());
    } else if (a == "--queries") {
      queries = std::stoi(value());
    } else if (a == "--db") {
      db = value();
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--upgrade") {
      upgrade = value();
    } else if (a == "--breakdown") {
      breakdown = value();
    } else {
      fail("unknown option " + a);
    }
  }
  if (!upgrade.empty()) return upgrade_database(upgrade);
  if (!breakdown.empty()) {
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(breakdown.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      fail("open " + breakdown.string());
    print_breakdown(raw);
    sqlite3_close(raw);
    return 0;
  }
  if (workload != "realistic" && workload != "random") fail("--workload: realistic or random");
  if (agents < 1 || hours < 2 || queries < 1) fail("--agents, --queries >= 1, --hours >= 2");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);

  // A day-aligned start, in the past so that every hour is over at the end.
  const std::int64_t t0 = 20'000LL * 24 * kHour;
  std::atomic<std::int64_t> now{t0};
  collector::SqliteOptions options{.path = db};
  options.now_ms = [&] { return now.load(); };
  options.housekeeping_every = std::chrono::hours(24 * 365);  // run below, timed
  auto opened = collector::open_sqlite_storage(options);
  if (!opened) fail(opened.status().message());
  collector::Storage& storage = **opened;

  std::mt19937_64 rng(42);
  bench::storage::InformationFloor floor;
  std::vector<Agent> fleet;
  for (int i = 0; i < agents; ++i) fleet.emplace_back(i, workload == "random", rng, floor);

  std::mutex mu;
  std::condition_variable cv;
  std::int64_t pending = 0;
  std::int64_t samples = 0;
  Clock::duration ingest{};
  Clock::duration housekeeping{};
  for (std::int64_t minute = 0; minute < hours * 60; ++minute) {
    now = t0 + (minute + 1) * kMinute;
    std::vector<protocol::Report> reports;
    for (Agent& agent : fleet) reports.push_back(agent.report(t0, minute, rng));
    const auto start = Clock::now();
    for (protocol::Report& r : reports) {
      for (const auto& result : r.results)
        samples += static_cast<std::int64_t>(result.metrics.size());
      {
        std::lock_guard lock(mu);
        ++pending;
      }
      storage.submit(std::move(r), now.load(), {},
                     [&](Result<collector::IngestOutcome> o, std::vector<collector::Event>) {
                       if (!o) fail("store: " + o.status().message());
                       std::lock_guard lock(mu);
                       if (--pending == 0) cv.notify_all();
                     });
    }
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return pending == 0; });
    }
    ingest += Clock::now() - start;
    if ((minute + 1) % 5 == 0) {
      const auto hk = Clock::now();
      if (Status s = storage.housekeep(); !s) fail("housekeeping: " + s.message());
      housekeeping += Clock::now() - hk;
    }
  }
  // Every hour over and rolled up: what the database holds in its steady state.
  now = t0 + (hours + 1) * kHour + 10 * kMinute;
  {
    const auto hk = Clock::now();
    if (Status s = storage.housekeep(); !s) fail("housekeeping: " + s.message());
    housekeeping += Clock::now() - hk;
  }

  // One hour of one metric, raw, from the middle of the run.
  std::vector<double> query_ms;
  std::size_t points = 0;
  for (int q = 0; q < queries; ++q) {
    const Agent& agent = fleet[rng() % fleet.size()];
    const std::int64_t from =
        t0 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hours - 1)) * kHour;
    collector::SeriesQuery query{.agent = agent.id(),
                                 .check = "family/check:" + std::to_string(rng() % 7),
                                 .metric = "m" + std::to_string(rng() % 3),
                                 .from_ms = from,
                                 .to_ms = from + kHour - 1,
                                 .tier = "raw"};
    const auto start = Clock::now();
    auto data = storage.series(query);
    query_ms.push_back(seconds(Clock::now() - start) * 1000);
    if (!data) fail("query: " + data.status().message());
    points += data->points.size();
  }
  // 90 days of one metric's hourly rollups, ending with the run (which holds `hours` of
  // them), and a day of its 5-minute ones.
  std::vector<double> hourly_ms, five_ms;
  std::size_t hourly_points = 0;
  for (int q = 0; q < queries; ++q) {
    const Agent& agent = fleet[rng() % fleet.size()];
    collector::SeriesQuery query{.agent = agent.id(),
                                 .check = "family/check:" + std::to_string(rng() % 7),
                                 .metric = "m" + std::to_string(rng() % 3),
                                 .from_ms = t0 + (hours + 1) * kHour - 90 * 24 * kHour,
                                 .to_ms = t0 + (hours + 1) * kHour,
                                 .step_ms = kHour,
                                 .tier = "1h"};
    auto start = Clock::now();
    auto data = storage.series(query);
    hourly_ms.push_back(seconds(Clock::now() - start) * 1000);
    if (!data) fail("query: " + data.status().message());
    hourly_points += data->points.size();
    query.from_ms = t0;
    query.to_ms = t0 + std::min(hours, 24) * kHour - 1;
    query.step_ms = 0;
    query.tier = "5m";
    start = Clock::now();
    data = storage.series(query);
    five_ms.push_back(seconds(Clock::now() - start) * 1000);
    if (!data) fail("query: " + data.status().message());
  }
  storage.close();

  // Sizes: the file after a checkpoint, and what each table and index takes in it.
  sqlite3* raw = nullptr;
  if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK) fail("open the database again");
  sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  std::map<std::string, std::int64_t> by_name;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(raw, "SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name", -1,
                         &stmt, nullptr) != SQLITE_OK)
    fail(sqlite3_errmsg(raw));
  std::int64_t used = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    by_name[name] = sqlite3_column_int64(stmt, 1);
    used += sqlite3_column_int64(stmt, 1);
  }
  sqlite3_finalize(stmt);
  const auto file = static_cast<std::int64_t>(std::filesystem::file_size(db));

  const auto per = [&](std::int64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(samples);
  };
  std::printf("workload %s: %d agents x 90 series, %d hours, %lld samples\n", workload.c_str(),
              agents, hours, static_cast<long long>(samples));
  std::printf("ingest: %.1f s (%.0f samples/s); housekeeping: %.1f s (%.1f %% of ingest)\n",
              seconds(ingest), static_cast<double>(samples) / seconds(ingest),
              seconds(housekeeping), 100 * seconds(housekeeping) / seconds(ingest));
  std::printf("database file: %.1f MiB, %.2f bytes per sample (pages in use %.2f)\n",
              static_cast<double>(file) / 1048576, per(file), per(used));
  std::int64_t rollups = 0;
  std::int64_t blocks = 0;
  std::int64_t guard = 0;
  for (const auto& [name, bytes] : by_name) {
    if (per(bytes) < 0.005) continue;
    std::printf("  %-28s %.2f bytes per sample\n", name.c_str(), per(bytes));
    // rollups (schema 9 and before), rollup_blocks (10 to 12), rollup_packs and their
    // indexes.
    if (name.rfind("rollup", 0) == 0 || name.rfind("sqlite_autoindex_rollup", 0) == 0)
      rollups += bytes;
    if (name.rfind("sample_blocks", 0) == 0) blocks += bytes;
    // batches and batch_ranges (schema 11) and their indexes.
    if (name.rfind("batch", 0) == 0) guard += bytes;
  }
  std::printf(
      "raw samples (blocks and their indexes): %.2f bytes per sample; rollups: %.2f; replay guard:"
      " %.2f\n",
      per(blocks), per(rollups), per(guard));
  // Each tier's blobs alone (their rows' keys and the indexes come on top).
  if (sqlite3_prepare_v2(raw,
                         "SELECT tier, count(*), sum(length(buckets)) FROM rollup_packs"
                         " GROUP BY tier ORDER BY tier",
                         -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::printf("  tier of %lld s: %lld rows, their blobs %.3f bytes per sample\n",
                  static_cast<long long>(sqlite3_column_int64(stmt, 0) / 1000),
                  static_cast<long long>(sqlite3_column_int64(stmt, 1)),
                  per(sqlite3_column_int64(stmt, 2)));
    }
  }
  sqlite3_finalize(stmt);
  print_floor(floor, samples, {.file = file, .blocks = blocks, .rollups = rollups});
  std::printf(
      "one-hour raw query of one metric: median %.3f ms, p99 %.3f ms (%d queries, %.1f points)\n",
      percentile(query_ms, 0.5), percentile(query_ms, 0.99), queries,
      static_cast<double>(points) / queries);
  std::printf(
      "90-day hourly query of one metric: median %.3f ms, p99 %.3f ms (%.1f points); a day of"
      " 5-minute buckets: median %.3f ms, p99 %.3f ms\n",
      percentile(hourly_ms, 0.5), percentile(hourly_ms, 0.99),
      static_cast<double>(hourly_points) / queries, percentile(five_ms, 0.5),
      percentile(five_ms, 0.99));
  print_breakdown(raw);
  sqlite3_close(raw);
  if (!keep)
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
  return 0;
}
