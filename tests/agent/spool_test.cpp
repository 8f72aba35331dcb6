#include "agent/spool.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/report_encoding.hpp"
#include "common/protocol.hpp"
#include "common/time.hpp"
#include "plugins/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::agent {
namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

// Results are recent (max_age would drop older ones), a whole second apart from now.
const std::int64_t kBase = wall_ms() / 1000 * 1000;

CheckResult result(int n, std::int64_t ts_ms = kBase) {
  CheckResult r;
  r.name = "c" + std::to_string(n);
  r.check = "test/fake";
  r.status = State::kOk;
  r.summary = "#" + std::to_string(n);
  r.ts_ms = ts_ms + n;
  r.interval_s = 60;
  r.metrics = {{"value", static_cast<double>(n), "", {}, {}, {}, {}}};
  return r;
}

std::unique_ptr<Spool> open(const fs::path& file, SpoolOptions options = {}) {
  auto spool = open_spool(file, options);
  INFO(spool.status().message());
  REQUIRE(spool.is_ok());
  return std::move(*spool);
}

Batch next(Spool& spool, std::size_t max_results) {
  auto batch = spool.next_batch(max_results);
  REQUIRE(batch.is_ok());
  REQUIRE(batch->has_value());
  return **batch;
}

// A result of a batch, read back as the collector reads it.
CheckResult decoded(const std::string& text) {
  auto result = protocol::result_from_json(nlohmann::json::parse(text), "result");
  INFO(text);
  REQUIRE(result.is_ok());
  return *result;
}

std::vector<std::string> summaries(const Batch& batch) {
  std::vector<std::string> out;
  for (const auto& r : batch.results) out.push_back(decoded(r).summary);
  return out;
}

// The files next to `file` whose name starts with its name and ".corrupt-".
std::vector<fs::path> moved_aside(const fs::path& file) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(file.parent_path())) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(file.filename().string() + ".corrupt-") && !name.ends_with("-wal") &&
        !name.ends_with("-shm")) {
      out.push_back(entry.path());
    }
  }
  return out;
}

std::int64_t pinned_now = kBase;
std::int64_t pinned_clock() { return pinned_now; }

TEST_CASE("Spool: a new sequence starts at the current time", "[spool]") {
  testing::TempDir dir;
  const std::int64_t before = wall_ms();
  auto spool = open(dir / "spool.db");
  CHECK(fs::exists(dir / "spool.db"));
  spool->add(result(1));
  const Batch batch = next(*spool, 10);
  CHECK(batch.seq >= static_cast<std::uint64_t>(before));
  CHECK(batch.seq <= static_cast<std::uint64_t>(wall_ms()));
}

TEST_CASE("Spool: hands out the same batch until it is removed", "[spool]") {
  testing::TempDir dir;
  auto spool = open(dir / "spool.db");
  auto empty = spool->next_batch(10);
  REQUIRE(empty.is_ok());
  CHECK_FALSE(empty->has_value());
  CHECK(spool->oldest_ms() == 0);

  for (int i = 0; i < 5; ++i) spool->add(result(i));
  CHECK(spool->oldest_ms() == kBase);
  const Batch first = next(*spool, 3);
  CHECK(summaries(first) == std::vector<std::string>{"#0", "#1", "#2"});
  CHECK(first.results[1] == encode_result(result(1)));  // as it was encoded, once
  CHECK(decoded(first.results[1]) == result(1));        // every field survives
  CHECK(first.oldest_ms == kBase);
  CHECK(spool->size() == 5);

  spool->add(result(5));
  const Batch again = next(*spool, 3);  // a retry: same seq, same results
  CHECK(again.seq == first.seq);
  CHECK(again.results == first.results);

  spool->remove(first.seq + 7);  // not the head: ignored
  CHECK(spool->size() == 6);
  spool->remove(first.seq);
  CHECK(spool->size() == 3);
  CHECK(spool->oldest_ms() == kBase + 3);
  const Batch second = next(*spool, 3);
  CHECK(second.seq == first.seq + 1);
  CHECK(summaries(second) == std::vector<std::string>{"#3", "#4", "#5"});
  spool->remove(second.seq);
  CHECK(spool->size() == 0);
  auto none = spool->next_batch(3);
  REQUIRE(none.is_ok());
  CHECK_FALSE(none->has_value());
  CHECK(spool->dropped() == 0);
}

TEST_CASE("Spool: results, the batch handed out and the seq survive a restart", "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "spool.db";
  Batch head;
  {
    auto spool = open(file);
    for (int i = 0; i < 7; ++i) spool->add(result(i));
    head = next(*spool, 4);
  }
  {
    auto spool = open(file);
    CHECK(spool->size() == 7);
    const Batch again = next(*spool, 2);  // not yet acknowledged: sent again, unchanged
    CHECK(again.seq == head.seq);
    CHECK(again.results == head.results);
    spool->remove(head.seq);
    spool->add(result(7));
  }
  auto spool = open(file);
  CHECK(spool->size() == 4);
  const Batch rest = next(*spool, 100);
  CHECK(rest.seq == head.seq + 1);
  CHECK(summaries(rest) == std::vector<std::string>{"#4", "#5", "#6", "#7"});
}

TEST_CASE("Spool: a refused result is quarantined alone, the rest of its batch sent again",
          "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "spool.db";
  std::uint64_t refused_seq = 0;
  {
    auto spool = open(file);
    for (int i = 0; i < 4; ++i) spool->add(result(i));
    const Batch refused = next(*spool, 3);
    refused_seq = refused.seq;
    spool->quarantine(refused.seq + 1, 0, "not the batch handed out: ignored");
    spool->quarantine(refused.seq, 3, "no result 3 in it: ignored");
    CHECK(spool->quarantined() == 0);
    spool->quarantine(refused.seq, 1, "HTTP 400: results[1].status: bad");
    CHECK(spool->size() == 3);  // #1 out of the queue, #0 and #2 back in it
    CHECK(spool->quarantined() == 1);
    const auto kept = spool->quarantined_results();
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].seq == refused.seq);
    CHECK(kept[0].reason == "HTTP 400: results[1].status: bad");
    CHECK(nlohmann::json::parse(kept[0].result)["summary"] == "#1");
    // The others go again, in order, under a new seq: the refused one is never reused.
    const Batch rest = next(*spool, 10);
    CHECK(rest.seq == refused.seq + 1);
    CHECK(summaries(rest) == std::vector<std::string>{"#0", "#2", "#3"});
    spool->remove(rest.seq);
  }
  // Kept across restarts, all of them, until cleared.
  auto spool = open(file);
  CHECK(spool->quarantined() == 1);
  for (int i = 0; i < 12; ++i) {
    spool->add(result(10 + i));
    spool->quarantine(next(*spool, 1).seq, 0, "HTTP 422: #" + std::to_string(i));
  }
  CHECK(spool->quarantined() == 13);
  const auto kept = spool->quarantined_results();
  REQUIRE(kept.size() == 13);
  CHECK(kept.front().seq == refused_seq);
  CHECK(kept.back().reason == "HTTP 422: #11");
  CHECK(spool->size() == 0);
  auto cleared = spool->clear_quarantine();
  REQUIRE(cleared.is_ok());
  CHECK(*cleared == 13);
  CHECK(spool->quarantined_results().empty());
  CHECK(spool->quarantined() == 13);  // the count since the spool was created
}

TEST_CASE("Spool: a released batch goes back to the queue whole, its seq never used again",
          "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "spool.db";
  std::uint64_t released = 0;
  {
    auto spool = open(file);
    for (int i = 0; i < 5; ++i) spool->add(result(i));
    const Batch big = next(*spool, 4);
    released = big.seq;
    spool->release(big.seq + 7);  // not the batch handed out: ignored
    CHECK(next(*spool, 2).seq == big.seq);
    spool->release(big.seq);
    CHECK(spool->size() == 5);
    const Batch half = next(*spool, 2);
    CHECK(half.seq == big.seq + 1);
    CHECK(summaries(half) == std::vector<std::string>{"#0", "#1"});
    spool->release(half.seq);  // and again, before a restart
  }
  auto spool = open(file);
  const Batch again = next(*spool, 10);
  CHECK(again.seq == released + 2);
  CHECK(summaries(again) == std::vector<std::string>{"#0", "#1", "#2", "#3", "#4"});
}

TEST_CASE("Spool: a batch stops before the result that would pass its bytes or values", "[spool]") {
  testing::TempDir dir;
  auto spool = open(dir / "spool.db");
  // Results of 40 metrics: some 1,400 bytes of JSON and 133 values each.
  CheckResult wide = result(0);
  wide.metrics.clear();
  for (int m = 0; m < 40; ++m) {
    wide.metrics.push_back({"metric-" + std::to_string(m), 1.0, "", {}, {}, {}, {}});
  }
  const auto json = protocol::result_to_json(wide);
  const std::size_t bytes = json.dump().size();
  INFO(bytes);
  REQUIRE(bytes > 1250);
  REQUIRE(bytes < 1650);
  for (int i = 0; i < 10; ++i) {
    CheckResult r = wide;
    r.summary = "#" + std::to_string(i);
    spool->add(r);
  }
  auto by_bytes = spool->next_batch(BatchLimits{.max_results = 10, .max_bytes = 5'000});
  REQUIRE(by_bytes.is_ok());
  REQUIRE(by_bytes->has_value());
  CHECK((*by_bytes)->results.size() == 3);
  spool->remove((*by_bytes)->seq);
  // 3 (the result, its metrics array, name...) + 40 metrics of 3 values (object, name,
  // value) + the other members: 2 results hold under 300 values, not 3.
  auto by_values = spool->next_batch(BatchLimits{.max_results = 10, .max_values = 300});
  REQUIRE(by_values.is_ok());
  REQUIRE(by_values->has_value());
  CHECK((*by_values)->results.size() == 2);
  spool->remove((*by_values)->seq);
  auto by_count = spool->next_batch(BatchLimits{.max_results = 4});
  REQUIRE(by_count.is_ok());
  REQUIRE(by_count->has_value());
  CHECK((*by_count)->results.size() == 4);
  spool->remove((*by_count)->seq);
  // One result always goes, whatever its size.
  auto tiny = spool->next_batch(BatchLimits{.max_results = 10, .max_bytes = 10, .max_values = 1});
  REQUIRE(tiny.is_ok());
  REQUIRE(tiny->has_value());
  CHECK(summaries(**tiny) == std::vector<std::string>{"#9"});
}

TEST_CASE("Spool: past max_quarantine_bytes a refused result is dropped and counted", "[spool]") {
  testing::TempDir dir;
  const std::uint64_t one = protocol::result_to_json(result(10)).dump().size();
  auto spool = open(dir / "spool.db", {.max_quarantine_bytes = 2 * one});
  for (int i = 0; i < 3; ++i) {
    spool->add(result(10 + i));
    spool->quarantine(next(*spool, 1).seq, 0, "HTTP 400: #" + std::to_string(i));
  }
  CHECK(spool->quarantined() == 2);
  CHECK(spool->dropped() == 1);
  const auto kept = spool->quarantined_results();
  REQUIRE(kept.size() == 2);  // the first ones: the evidence
  CHECK(kept.back().reason == "HTTP 400: #1");
  CHECK(spool->size() == 0);
}

TEST_CASE("Spool: a version 1 file is upgraded in place, its results kept", "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "spool.db";
  // A spool as version 1 wrote it: no quarantine table.
  const std::string v1 =
      "CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,"
      " stored_ms INTEGER NOT NULL, result TEXT NOT NULL);"
      "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
      "PRAGMA application_id=1986619219; PRAGMA user_version=1;"
      "INSERT INTO state VALUES ('next_seq', 500), ('dropped', 4), ('head_seq', 0),"
      " ('head_last_id', 0);"
      "INSERT INTO results (ts_ms, stored_ms, result) VALUES (" +
      std::to_string(kBase) + ", " + std::to_string(kBase) + ", '" +
      protocol::result_to_json(result(1)).dump() + "');";
  const auto made = plugins::run_process({"/usr/bin/sqlite3", file.string(), v1},
                                         {.timeout = std::chrono::seconds(10)});
  REQUIRE(made.is_ok());
  INFO(made->err);
  REQUIRE(made->exit_code == 0);
  auto spool = open(file);
  CHECK(spool->size() == 1);
  CHECK(spool->dropped() == 4);
  CHECK(spool->quarantined() == 0);
  const Batch batch = next(*spool, 10);
  CHECK(batch.seq == 500);
  CHECK(summaries(batch) == std::vector<std::string>{"#1"});
  spool->quarantine(batch.seq, 0, "HTTP 400: refused");
  CHECK(spool->quarantined_results().size() == 1);
  CHECK(moved_aside(file).empty());
}

TEST_CASE("Spool: a version 2 file is upgraded in place, its quarantined batches kept", "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "spool.db";
  // A spool as version 2 wrote it: whole batches quarantined, a JSON array each.
  const std::string v2 =
      "CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,"
      " stored_ms INTEGER NOT NULL, result TEXT NOT NULL);"
      "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE quarantine (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,"
      " reason TEXT NOT NULL, results TEXT NOT NULL);"
      "PRAGMA application_id=1986619219; PRAGMA user_version=2;"
      "INSERT INTO state VALUES ('next_seq', 500), ('dropped', 0), ('head_seq', 0),"
      " ('head_last_id', 0), ('quarantined', 2);"
      "INSERT INTO quarantine VALUES (7, 1000, 'HTTP 413: too large', '[" +
      protocol::result_to_json(result(1)).dump() + "," +
      protocol::result_to_json(result(2)).dump() + "]'), (9, 2000, 'HTTP 400: bad', '[" +
      protocol::result_to_json(result(3)).dump() + "]'), (11, 3000, 'damaged', 'not JSON');" +
      "INSERT INTO results (ts_ms, stored_ms, result) VALUES (" + std::to_string(kBase) + ", " +
      std::to_string(kBase) + ", '" + protocol::result_to_json(result(4)).dump() + "');";
  const auto made = plugins::run_process({"/usr/bin/sqlite3", file.string(), v2},
                                         {.timeout = std::chrono::seconds(10)});
  REQUIRE(made.is_ok());
  INFO(made->err);
  REQUIRE(made->exit_code == 0);
  auto spool = open(file);
  CHECK(spool->size() == 1);
  CHECK(spool->quarantined() == 2);
  const auto kept = spool->quarantined_results();
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].seq == 7);
  CHECK(nlohmann::json::parse(kept[0].result)["summary"] == "#1");
  CHECK(nlohmann::json::parse(kept[1].result)["summary"] == "#2");
  CHECK(kept[1].reason == "HTTP 413: too large");
  CHECK(kept[2].seq == 9);
  CHECK(moved_aside(file).empty());
}

// The cost of one result(n) against max_bytes: the smallest bound that holds two of
// them, halved (every result(n) with n of two digits encodes to the same length).
std::uint64_t cost_of_one_result() {
  std::uint64_t lo = 1, hi = 100'000;
  while (lo + 1 < hi) {
    const std::uint64_t mid = (lo + hi) / 2;
    testing::TempDir probe;
    auto spool = open(probe / "spool.db", {.max_bytes = mid});
    spool->add(result(11));
    spool->add(result(12));
    (spool->dropped() == 0 ? hi : lo) = mid;
  }
  return hi / 2;
}

TEST_CASE("Spool: past max_bytes the oldest waiting results are dropped, counted exactly",
          "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "spool.db";
  {
    // The newest result is always kept.
    auto spool = open(dir / "tiny.db", {.max_bytes = 1});
    spool->add(result(10));
    spool->add(result(11));
    CHECK(spool->dropped() == 1);
    CHECK(spool->size() == 1);
  }
  const std::uint64_t one = cost_of_one_result();
  REQUIRE(one > 0);
  const SpoolOptions options{.max_bytes = one * 10};
  {
    auto spool = open(file, options);
    spool->add(result(10));
    spool->add(result(11));
    const Batch head = next(*spool, 2);  // in flight: never dropped
    for (int i = 12; i < 35; ++i) spool->add(result(i));
    // 25 results, room for 10: 15 dropped, the 2 in flight and the 8 newest kept.
    CHECK(spool->dropped() == 15);
    CHECK(spool->size() == 10);
    CHECK(next(*spool, 100).results == head.results);
    spool->remove(head.seq);
  }
  auto spool = open(file, options);
  CHECK(spool->dropped() == 15);  // the count is stored
  const Batch rest = next(*spool, 100);
  CHECK(summaries(rest) ==
        std::vector<std::string>{"#27", "#28", "#29", "#30", "#31", "#32", "#33", "#34"});
}

TEST_CASE("Spool: results spooled longer than max_age ago are dropped and counted", "[spool]") {
  testing::TempDir dir;
  SpoolOptions options;
  options.max_age = std::chrono::hours(1);
  options.now_ms = &pinned_clock;
  pinned_now = kBase;
  auto spool = open(dir / "spool.db", options);
  spool->add(result(0));
  spool->add(result(1));
  pinned_now = kBase + 20;
  spool->add(result(2));
  spool->add(result(3));
  pinned_now = kBase + 3'600'010;  // #0 and #1 are now past the hour, #2 and #3 not yet
  spool->add(result(4));
  CHECK(spool->dropped() == 2);
  CHECK(spool->size() == 3);
  CHECK(summaries(next(*spool, 10)) == std::vector<std::string>{"#2", "#3", "#4"});
  // A result whose own time is long past (a wrong clock) is kept all the same.
  spool->add(result(5, kBase - 30LL * 86'400'000));
  CHECK(spool->size() == 4);
}

TEST_CASE("Spool: a corrupt or truncated file is moved aside and a new spool starts", "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "spool.db";

  SECTION("garbage") { std::ofstream(file) << std::string(5000, 'x'); }
  SECTION("truncated") {
    {
      auto spool = open(file);
      // Enough for several pages, with a batch handed out.
      for (int i = 0; i < 400; ++i) spool->add(result(i));
      next(*spool, 50);
    }
    const auto size = fs::file_size(file);
    REQUIRE(size > 8192);
    fs::resize_file(file, size / 2);
  }
  SECTION("another SQLite database") {
    const auto made = plugins::run_process(
        {"/usr/bin/sqlite3", file.string(), "CREATE TABLE t(x); INSERT INTO t VALUES (1);"},
        {.timeout = std::chrono::seconds(10)});
    REQUIRE(made.is_ok());
    REQUIRE(made->exit_code == 0);
  }
  const std::int64_t before = wall_ms();
  auto spool = open(file);
  const auto aside = moved_aside(file);
  REQUIRE(aside.size() == 1);
  CHECK_THAT(aside[0].filename().string(), Contains("spool.db.corrupt-20"));
  CHECK(spool->size() == 0);
  spool->add(result(1));
  const Batch batch = next(*spool, 10);
  CHECK(batch.seq >= static_cast<std::uint64_t>(before));  // a new sequence, above the old
  spool->remove(batch.seq);
  CHECK(spool->size() == 0);
}

TEST_CASE("Spool: a folder that cannot be written is an I/O error naming the file", "[spool]") {
  testing::TempDir dir;
  auto missing = open_spool(dir / "missing" / "spool.db");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == Code::kIoError);
  CHECK_THAT(missing.status().message(), Contains((dir / "missing" / "spool.db").string()));
}

}  // namespace
}  // namespace vigie::agent

namespace vigie::agent {
namespace {

protocol::Event trap_event(int n) {
  protocol::Event e;
  e.ts_ms = kBase + n;
  e.name = "fw";
  e.check = "firewall/sophos:fw";
  e.summary = "linkDown #" + std::to_string(n);
  e.device = "fw";
  e.version = "2c";
  e.trap_oid = "1.3.6.1.6.3.1.1.5.3";
  e.varbinds = {{"1.3.6.1.2.1.2.2.1.1.3", "ifIndex.3", "INTEGER", "3"}};
  return e;
}

TEST_CASE("Spool: events wait with the results, survive a restart and leave in batches",
          "[spool]") {
  testing::TempDir dir;
  const auto file = dir.path() / "spool.db";
  {
    auto spool = open(file);
    spool->add(result(1));
    spool->add(trap_event(2));
    spool->add(result(3));
    CHECK(spool->size() == 3);
  }
  auto spool = open(file);
  CHECK(spool->size() == 3);
  const Batch batch = next(*spool, 10);
  CHECK(summaries(batch) == std::vector<std::string>{"#1", "#3"});
  REQUIRE(batch.events.size() == 1);
  CHECK(batch.events[0] == encode_event(trap_event(2)));
  CHECK(batch.oldest_ms == kBase + 1);
  spool->remove(batch.seq);
  CHECK(spool->size() == 0);
  auto empty = spool->next_batch(10);
  REQUIRE(empty);
  CHECK_FALSE(empty->has_value());
}

TEST_CASE("Spool: a batch holds at most the protocol's events, the rest wait their turn",
          "[spool]") {
  testing::TempDir dir;
  auto spool = open(dir.path() / "spool.db");
  const std::size_t max = protocol::Limits{}.max_events;
  for (std::size_t i = 0; i < max + 10; ++i) spool->add(trap_event(static_cast<int>(i)));
  const Batch first = next(*spool, 5000);
  CHECK(first.events.size() == max);
  spool->remove(first.seq);
  const Batch second = next(*spool, 5000);
  CHECK(second.events.size() == 10);
  CHECK(second.events.front() == encode_event(trap_event(static_cast<int>(max))));
}

}  // namespace
}  // namespace vigie::agent
