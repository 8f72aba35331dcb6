#include "agent/spool.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/time.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::agent {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

CheckResult result(int n) {
  CheckResult r;
  r.name = "c" + std::to_string(n);
  r.check = "test/fake";
  r.status = State::kOk;
  r.summary = "#" + std::to_string(n);
  r.ts_ms = 1'700'000'000'000 + n;
  r.interval_s = 60;
  return r;
}

std::string read(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<Spool> open(const std::filesystem::path& file, MemorySpoolOptions options = {}) {
  auto spool = open_memory_spool(file, options);
  REQUIRE(spool.is_ok());
  return std::move(*spool);
}

Batch next(Spool& spool, std::size_t max_results) {
  auto batch = spool.next_batch(max_results);
  REQUIRE(batch.is_ok());
  REQUIRE(batch->has_value());
  return **batch;
}

TEST_CASE("MemorySpool: a new sequence starts at the current time, and survives a restart",
          "[spool]") {
  testing::TempDir dir;
  const auto file = dir / "report.seq";
  const std::int64_t before = wall_ms();
  std::uint64_t first = 0;
  {
    auto spool = open(file);
    CHECK(std::filesystem::exists(file));  // written at once
    spool->add(result(1));
    const Batch batch = next(*spool, 10);
    first = batch.seq;
    CHECK(first >= static_cast<std::uint64_t>(before));
    CHECK(first <= static_cast<std::uint64_t>(wall_ms()));
    // The next seq is on disk before the batch is handed out.
    CHECK(read(file) == std::to_string(first + 1) + "\n");
    CHECK_FALSE(std::filesystem::exists(dir / "report.seq.tmp"));
    // Not removed: a restart loses it (memory), but never reuses its seq.
  }
  auto spool = open(file);
  spool->add(result(2));
  CHECK(next(*spool, 10).seq == first + 1);
}

TEST_CASE("MemorySpool: hands out the same batch until it is removed", "[spool]") {
  testing::TempDir dir;
  auto spool = open(dir / "report.seq");
  auto empty = spool->next_batch(10);
  REQUIRE(empty.is_ok());
  CHECK_FALSE(empty->has_value());

  for (int i = 0; i < 5; ++i) spool->add(result(i));
  const Batch first = next(*spool, 3);
  CHECK(first.results.size() == 3);
  CHECK(first.results[0].summary == "#0");
  CHECK(first.results[2].summary == "#2");
  CHECK(spool->size() == 5);

  spool->add(result(5));
  const Batch again = next(*spool, 3);  // a retry: same seq, same results
  CHECK(again.seq == first.seq);
  CHECK(again.results == first.results);

  spool->remove(first.seq + 7);  // not the head: ignored
  CHECK(spool->size() == 6);
  spool->remove(first.seq);
  CHECK(spool->size() == 3);
  const Batch second = next(*spool, 3);
  CHECK(second.seq == first.seq + 1);
  REQUIRE(second.results.size() == 3);
  CHECK(second.results[0].summary == "#3");
  CHECK(second.results[2].summary == "#5");
  spool->remove(second.seq);
  CHECK(spool->size() == 0);
  auto none = spool->next_batch(3);
  REQUIRE(none.is_ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("MemorySpool: when full, drops the oldest waiting results and counts them", "[spool]") {
  testing::TempDir dir;
  auto spool = open(dir / "report.seq", {.max_results = 3});
  spool->add(result(0));
  spool->add(result(1));
  const Batch head = next(*spool, 2);  // #0 and #1 are in a batch: never dropped
  for (int i = 2; i < 8; ++i) spool->add(result(i));
  CHECK(spool->dropped() == 3);
  CHECK(spool->size() == 5);
  CHECK(next(*spool, 2).results == head.results);
  spool->remove(head.seq);
  const Batch rest = next(*spool, 10);
  REQUIRE(rest.results.size() == 3);
  CHECK(rest.results[0].summary == "#5");
  CHECK(rest.results[2].summary == "#7");
}

TEST_CASE("MemorySpool: a corrupt sequence file is refused, naming the file", "[spool]") {
  testing::TempDir dir;
  for (const std::string text :
       {"", "abc\n", "12x\n", "0\n", "-5\n", "99999999999999999999999\n"}) {
    INFO(text);
    const auto file = dir.write("report.seq", text);
    auto spool = open_memory_spool(file);
    REQUIRE_FALSE(spool.is_ok());
    CHECK(spool.status().code() == Code::kCorruption);
    CHECK_THAT(spool.status().message(), StartsWith(file.string() + ": "));
    CHECK_THAT(spool.status().message(), Contains("remove the file"));
  }
  dir.write("report.seq", "41\n");
  auto spool = open(dir / "report.seq");
  spool->add(result(1));
  CHECK(next(*spool, 1).seq == 41);
}

TEST_CASE("MemorySpool: a state folder that cannot be written is an I/O error", "[spool]") {
  testing::TempDir dir;
  auto spool = open_memory_spool(dir / "missing" / "report.seq");
  REQUIRE_FALSE(spool.is_ok());
  CHECK(spool.status().code() == Code::kIoError);
  CHECK_THAT(spool.status().message(), Contains((dir / "missing").string()));
}

}  // namespace
}  // namespace vigie::agent
