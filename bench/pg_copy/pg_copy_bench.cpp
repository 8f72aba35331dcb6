// vigie-bench-pg-copy: the ceiling of the PostgreSQL backend's ingest. Writes the rows
// a collector writes for raw samples (sample_blocks: one block per report, encoded as
// the collector encodes it) with nothing else: no HTTP, no state engine, no replay
// guard, no series lookup; binary COPY, many reports per transaction, one connection
// per thread. bench/ingest/run --postgresql sets it beside a collector on the same
// database schema and workload.

#include <postgresql/libpq-fe.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "collector/sample_block.hpp"

namespace {

constexpr const char* kUsage = R"(usage: vigie-bench-pg-copy --db CONNINFO [options]

Writes raw sample blocks into the sample_blocks table of a vigie database (migrated by
vigie-collector db migrate) as fast as PostgreSQL takes them, by binary COPY, and prints
the samples committed per second.

  --db CONNINFO           libpq connection string of the database
  --agents N              simulated agents (default 1000)
  --checks N              checks per agent (default 30)
  --metrics N             metrics per check (default 3)
  --results-per-report N  results in one report, one block each (default: --checks)
  --reports-per-copy N    reports (blocks) in one COPY, one transaction (default 100)
  --connections N         threads, one connection each (default 8)
  --duration SECONDS      measured time (default 60)
  --warmup SECONDS        time before it, written but not counted (default 10)
  --start MS              the first reports' time (default now); each round of every
                          agent's report is a minute later
  --minutes N             stop after N minutes of reports (default: at --duration)
)";

struct Options {
  std::string db;
  int agents = 1000;
  int checks = 30;
  int metrics = 3;
  int results_per_report = 0;
  int reports_per_copy = 100;
  int connections = 8;
  int duration_s = 60;
  int warmup_s = 10;
  std::int64_t start_ms = 0;  // 0: now
  int minutes = 0;            // 0: no limit
};

void put_int16(std::string& out, std::int16_t v) {
  const std::uint16_t n = htons(static_cast<std::uint16_t>(v));
  out.append(reinterpret_cast<const char*>(&n), 2);
}
void put_int32(std::string& out, std::int32_t v) {
  const std::uint32_t n = htonl(static_cast<std::uint32_t>(v));
  out.append(reinterpret_cast<const char*>(&n), 4);
}
void put_int64(std::string& out, std::int64_t v) {
  put_int32(out, static_cast<std::int32_t>(static_cast<std::uint64_t>(v) >> 32));
  put_int32(out, static_cast<std::int32_t>(static_cast<std::uint64_t>(v) & 0xffffffffu));
}
void put_bigint_field(std::string& out, std::int64_t v) {
  put_int32(out, 8);
  put_int64(out, v);
}

bool ok(PGresult* result, PGconn* conn, const char* what) {
  const auto status = PQresultStatus(result);
  const bool good =
      status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN;
  if (!good) std::cerr << "vigie-bench-pg-copy: " << what << ": " << PQerrorMessage(conn);
  PQclear(result);
  return good;
}

// One thread: reports of agents first..first+count, round after round, as long as
// `running`; counts what committed while `counting`.
void load(const Options& o, int thread, std::atomic<bool>& running, std::atomic<bool>& counting,
          std::atomic<std::int64_t>& samples, std::atomic<bool>& failed,
          std::atomic<int>& finished) {
  PGconn* conn = PQconnectdb(o.db.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::cerr << "vigie-bench-pg-copy: " << PQerrorMessage(conn);
    failed = true;
    PQfinish(conn);
    return;
  }
  const int per_report = o.results_per_report * o.metrics;
  // From now on (or --start), a minute a round, as a collector's samples.
  std::int64_t ts = o.start_ms;
  const std::int64_t end_ms = o.minutes > 0 ? ts + std::int64_t{o.minutes} * 60'000 : INT64_MAX;
  int agent = thread;
  std::vector<vigie::collector::Sample> block;
  std::string copy;
  while (running && !failed && ts < end_ms) {
    std::int64_t copied = 0;
    copy.assign("PGCOPY\n\377\r\n\0", 11);
    put_int32(copy, 0);  // flags
    put_int32(copy, 0);  // header extension
    for (int r = 0; r < o.reports_per_copy && ts < end_ms; ++r) {
      block.clear();
      const std::int64_t series0 = static_cast<std::int64_t>(agent) * o.checks * o.metrics;
      for (int i = 0; i < per_report; ++i)
        block.push_back({.series = series0 + i % (o.checks * o.metrics),
                         .ts_ms = ts,
                         .value = static_cast<double>((ts / 60'000 + i) % 100) / 4});
      const std::string encoded = vigie::collector::encode_samples(block, ts);
      ++copied;
      put_int16(copy, 4);
      put_bigint_field(copy, agent + 1);
      put_bigint_field(copy, ts);
      put_bigint_field(copy, ts);
      put_int32(copy, static_cast<std::int32_t>(encoded.size()));
      copy += encoded;
      agent += o.connections;
      if (agent >= o.agents) {
        agent = thread;
        ts += 60'000;
      }
    }
    put_int16(copy, -1);
    if (!ok(PQexec(conn, "BEGIN"), conn, "BEGIN") ||
        !ok(PQexec(conn, "COPY sample_blocks (agent_id, t_min, t_max, samples) FROM STDIN BINARY"),
            conn, "COPY") ||
        PQputCopyData(conn, copy.data(), static_cast<int>(copy.size())) != 1 ||
        PQputCopyEnd(conn, nullptr) != 1 || !ok(PQgetResult(conn), conn, "COPY data") ||
        !ok(PQexec(conn, "COMMIT"), conn, "COMMIT")) {
      failed = true;
      break;
    }
    while (PGresult* rest = PQgetResult(conn)) PQclear(rest);
    if (counting) samples += copied * per_report;
  }
  PQfinish(conn);
  ++finished;
}

bool parse_int(std::string_view text, int& out) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(std::string(text), &used);
    if (used != text.size() || v < 0) return false;
    out = v;
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "vigie-bench-pg-copy: " << a << ": a value is expected\n" << kUsage;
      return 2;
    }
    const std::string_view v = argv[++i];
    bool good = true;
    if (a == "--db") o.db = v;
    else if (a == "--agents") good = parse_int(v, o.agents) && o.agents > 0;
    else if (a == "--checks") good = parse_int(v, o.checks) && o.checks > 0;
    else if (a == "--metrics") good = parse_int(v, o.metrics) && o.metrics > 0;
    else if (a == "--results-per-report") good = parse_int(v, o.results_per_report);
    else if (a == "--reports-per-copy")
      good = parse_int(v, o.reports_per_copy) && o.reports_per_copy > 0;
    else if (a == "--connections") good = parse_int(v, o.connections) && o.connections > 0;
    else if (a == "--duration") good = parse_int(v, o.duration_s) && o.duration_s > 0;
    else if (a == "--warmup") good = parse_int(v, o.warmup_s);
    else if (a == "--minutes") good = parse_int(v, o.minutes);
    else if (a == "--start") {
      try {
        std::size_t used = 0;
        o.start_ms = std::stoll(std::string(v), &used);
        good = used == v.size() && o.start_ms > 0;
      } catch (...) {
        good = false;
      }
    } else {
      std::cerr << "vigie-bench-pg-copy: unknown option " << a << "\n" << kUsage;
      return 2;
    }
    if (!good) {
      std::cerr << "vigie-bench-pg-copy: " << a << ": bad value \"" << v << "\"\n";
      return 2;
    }
  }
  if (o.db.empty()) {
    std::cerr << "vigie-bench-pg-copy: --db: required\n" << kUsage;
    return 2;
  }
  if (o.results_per_report == 0) o.results_per_report = o.checks;
  if (o.start_ms == 0)
    o.start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  if (o.connections > o.agents) o.connections = o.agents;

  std::atomic<bool> running{true}, counting{false}, failed{false};
  std::atomic<std::int64_t> samples{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < o.connections; ++t)
    threads.emplace_back(load, std::cref(o), t, std::ref(running), std::ref(counting),
                         std::ref(samples), std::ref(failed), std::ref(finished));
  std::this_thread::sleep_for(std::chrono::seconds(o.warmup_s));
  counting = true;
  const auto start = std::chrono::steady_clock::now();
  // The measured time, or less when every thread wrote its --minutes.
  const auto deadline = start + std::chrono::seconds(o.duration_s);
  while (std::chrono::steady_clock::now() < deadline && finished < o.connections && !failed)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  counting = false;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  running = false;
  for (auto& t : threads) t.join();
  if (failed) return 1;
  std::printf("samples committed: %lld\n", static_cast<long long>(samples.load()));
  std::printf("samples/s committed: %.0f\n", static_cast<double>(samples.load()) / seconds);
  return 0;
}
