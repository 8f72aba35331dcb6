// The pages housekeeping frees (raw blocks past retention, compaction's and the
// rollups' rewrites) go back to the file system on a database the collector made, a
// slice at a time, rather than staying in the file as free pages.

#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <string>

#include "collector/storage.hpp"
#include "common/sqlite.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kT0 = 1'780'000'000'000;  // a UTC midnight: 2026-05-29

// A report of 40 checks with 5 metrics each, at `ts`: 200 samples whose values move.
protocol::Report report(std::uint64_t seq, std::int64_t ts) {
  protocol::Report r;
  r.agent = {"vacuum-agent", "site", "host", "0.1"};
  r.seq = seq;
  for (int c = 0; c < 40; ++c) {
    CheckResult result;
    result.name = "check " + std::to_string(c);
    result.check = "external:c" + std::to_string(c);
    result.status = State::kOk;
    result.summary = "ok";
    result.ts_ms = ts;
    result.interval_s = 60;
    for (int m = 0; m < 5; ++m) {
      const double value = static_cast<double>((seq * 7919 + c * 31 + m * 17) % 100'003) / 7.0;
      result.metrics.push_back({.label = "m" + std::to_string(m), .value = value});
    }
    r.results.push_back(std::move(result));
  }
  return r;
}

std::int64_t pragma(const std::filesystem::path& path, const char* name) {
  auto db = sqlite::open(path.string(), SQLITE_OPEN_READONLY);
  REQUIRE(db.is_ok());
  auto stmt = sqlite::Statement::prepare(db->get(), std::string("PRAGMA ") + name);
  REQUIRE(stmt.is_ok());
  REQUIRE(stmt->step() == SQLITE_ROW);
  return stmt->int64(0);
}

TEST_CASE("SQLite: housekeeping gives the pages it frees back to the file system",
          "[storage][housekeeping]") {
  testing::TempDir dir;
  const auto path = dir.path() / "collector.db";
  std::atomic<std::int64_t> now{kT0 + kDay};
  auto opened = open_sqlite_storage({.path = path,
                                     .housekeeping_every = std::chrono::hours(1),
                                     .now_ms = [&] { return now.load(); }});
  REQUIRE(opened.is_ok());
  Storage& storage = **opened;
  // A day of reports a minute apart: about 6 MB of raw blocks and rollups.
  for (std::uint64_t seq = 1; seq <= 1440; ++seq) {
    std::promise<Result<IngestOutcome>> done;
    storage.submit(report(seq, kT0 + static_cast<std::int64_t>(seq) * 60'000), now.load(), {},
                   [&](Result<IngestOutcome> o, std::vector<Event>) { done.set_value(o); });
    REQUIRE(done.get_future().get().is_ok());
  }
  REQUIRE(storage.housekeep().is_ok());
  const std::int64_t page_size = pragma(path, "page_size");
  const std::int64_t pages_before = pragma(path, "page_count");
  CHECK(pragma(path, "auto_vacuum") == 2);  // incremental

  // Nine days on the raw blocks are past retention: housekeeping deletes them, and the
  // file keeps a few free pages for what comes next, not all it freed.
  now = kT0 + 10 * kDay;
  REQUIRE(storage.housekeep().is_ok());
  const std::int64_t free_pages = pragma(path, "freelist_count");
  const std::int64_t pages_after = pragma(path, "page_count");
  INFO(pages_before << " pages before, " << pages_after << " after, " << free_pages << " free, of "
                    << page_size << " bytes");
  // A few kept: a 64th of the pages the file had when they were given back (16 at
  // least), which includes what this housekeeping wrote before deleting: bounded here by
  // a 32nd of the file before.
  CHECK(free_pages <= std::max<std::int64_t>(16, pages_before / 32));
  CHECK(pages_after * 4 < pages_before * 3);  // the raw blocks' pages, most of the file
  storage.close();
}

}  // namespace
}  // namespace vigie::collector
